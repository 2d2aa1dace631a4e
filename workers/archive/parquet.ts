// Readings as Parquet, written with hyparquet-writer and read with hyparquet: pure JavaScript, so
// they run in the Workers runtime as they are (no native code, no file system). Columns as in
// Postgres's readings table; times as TIMESTAMP (ms, UTC). Row groups of 10,000 readings with exact
// min/max statistics, so a reader looking for one container reads only the groups that hold it.
import { parquetReadObjects, type AsyncBuffer } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import type { ArchivedReading } from "../../domain/archive";

export type { ArchivedReading };

/** The columns as `select`ed for the export, in this order (workers/archive/job.ts). */
export const EXPORT_COLUMNS = `container_id, reading_id,
  (date_part('epoch', measured_at) * 1000)::float8 as measured_at, (date_part('epoch', received_at) * 1000)::float8 as received_at,
  fill_percent, contents, lat, lon, battery, clock_skew_ms, status, refill_rise, event_id, seq`;

const ROW_GROUP = 10_000;

/** Rows of EXPORT_COLUMNS (as arrays) to one Parquet file. */
export function readingsToParquet(rows: readonly unknown[][]): Uint8Array<ArrayBuffer> {
  const column = (i: number) => rows.map((r) => r[i]);
  const millis = (i: number) => rows.map((r) => Math.round(r[i] as number));
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "container_id", data: column(0), type: "STRING", nullable: false },
      { name: "reading_id", data: column(1), type: "STRING", nullable: false },
      { name: "measured_at", data: millis(2), type: "TIMESTAMP", nullable: false },
      { name: "received_at", data: millis(3), type: "TIMESTAMP", nullable: false },
      { name: "fill_percent", data: column(4), type: "DOUBLE", nullable: false },
      { name: "contents", data: column(5), type: "STRING" },
      { name: "lat", data: column(6), type: "DOUBLE" },
      { name: "lon", data: column(7), type: "DOUBLE" },
      { name: "battery", data: column(8), type: "DOUBLE" },
      { name: "clock_skew_ms", data: column(9), type: "INT32", nullable: false },
      { name: "status", data: column(10), type: "STRING", nullable: false },
      { name: "refill_rise", data: column(11), type: "DOUBLE" },
      { name: "event_id", data: column(12), type: "STRING", nullable: false },
      { name: "seq", data: column(13), type: "INT32" },
    ],
    rowGroupSize: ROW_GROUP,
    statisticsTruncateLength: Infinity,
    createdBy: "fillgrid archive",
  });
  return new Uint8Array(buffer);
}

const time = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));

/** Every reading of a Parquet file, or only one container's (row groups without it are not read). */
export async function readingsFromParquet(
  file: AsyncBuffer | ArrayBuffer,
  containerId?: string,
): Promise<ArchivedReading[]> {
  const rows = await parquetReadObjects({
    file,
    ...(containerId === undefined ? {} : { filter: { container_id: { $eq: containerId } } }),
  });
  return rows.map((r) => ({
    containerId: r.container_id as string,
    readingId: r.reading_id as string,
    measuredAt: time(r.measured_at),
    receivedAt: time(r.received_at),
    fillPercent: r.fill_percent as number,
    contents: (r.contents as string | null) ?? null,
    lat: (r.lat as number | null) ?? null,
    lon: (r.lon as number | null) ?? null,
    battery: (r.battery as number | null) ?? null,
    clockSkewMs: r.clock_skew_ms as number,
    status: r.status as string,
    refillRise: (r.refill_rise as number | null) ?? null,
    eventId: r.event_id as string,
    seq: (r.seq as number | null) ?? null,
  }));
}

/** An R2 object as hyparquet reads it: ranged reads, so only the footer and the groups it needs travel. */
export function r2File(bucket: R2Bucket, key: string, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number) {
      const length = (end ?? size) - start;
      const object = await bucket.get(key, { range: { offset: start, length } });
      if (!object) throw new Error(`archive object ${key} is missing`);
      return object.arrayBuffer();
    },
  };
}

export const READING_CSV_COLUMNS = [
  "readingId",
  "measuredAt",
  "receivedAt",
  "fillPercent",
  "status",
  "contents",
  "battery",
  "lat",
  "lon",
  "refillRise",
] as const;

/** Readings as CSV rows: times in RFC 3339. */
export function readingCsvRows(rows: readonly ArchivedReading[]) {
  return rows.map((r) => ({
    ...r,
    measuredAt: new Date(r.measuredAt).toISOString(),
    receivedAt: new Date(r.receivedAt).toISOString(),
  }));
}
