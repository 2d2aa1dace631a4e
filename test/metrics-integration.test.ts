// GET /metrics as Prometheus scrapes it: the text format parses, and what it counts is what was done
// and what Postgres holds, whichever request (or isolate) answers.
import { env } from "cloudflare:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { withDatabase } from "../workers/db/client";
import { readingOutcomes } from "../workers/db/queries";
import { adminToken, api, deviceKey, eventually, json, postReadings, reading, uniqueContainer } from "./helpers";

type Parsed = {
  name: string;
  type: string;
  metrics: {
    labels?: Record<string, string>;
    value?: string;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}[];

let key: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
});

async function scrapeText(): Promise<string> {
  const res = await api("/metrics", { headers: { Authorization: "Bearer test-metrics-token" } });
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toContain("text/plain; version=0.0.4");
  return res.text();
}

const scrape = async (): Promise<Parsed> => parsePrometheusTextFormat(await scrapeText()) as Parsed;

/**
 * One labelled histogram series, parsed on its own: the parser keeps labels on counters and gauges
 * but flattens histograms, so the series' lines are taken out with their label and parsed alone.
 */
function histogramSeries(text: string, name: string, label: string) {
  const lines = text.split("\n").filter((l) => l.startsWith(`${name}_`) && l.includes(label));
  const alone =
    [
      `# HELP ${name} one series`,
      `# TYPE ${name} histogram`,
      ...lines.map((l) => l.replace(`${label},`, "").replace(`{${label}}`, "")),
    ].join("\n") + "\n";
  return (parsePrometheusTextFormat(alone) as Parsed)[0]!;
}

const value = (families: Parsed, name: string, labels: Record<string, string> = {}) => {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? 0 : Number(sample.value);
};

/** Applied readings stored: Postgres's and the archive's (a month may be archived meanwhile). */
const applied = async () =>
  (await withDatabase(env, (db) => readingOutcomes(db))).find((r) => r.label === "applied")?.n ?? 0;

describe("GET /metrics", () => {
  it("wants the metrics token", async () => {
    expect((await api("/metrics")).status).toBe(401);
    expect((await api("/metrics", { headers: { Authorization: "Bearer wrong" } })).status).toBe(401);
  });

  it("parses as the Prometheus text format, with conventional names and types", async () => {
    const families = await scrape();
    const types = Object.fromEntries(families.map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      fillgrid_readings_total: "COUNTER",
      fillgrid_orders_opened_total: "COUNTER",
      fillgrid_orders_closed_total: "COUNTER",
      fillgrid_orders_active: "GAUGE",
      fillgrid_containers_below_threshold: "GAUGE",
      fillgrid_containers_silent: "GAUGE",
      fillgrid_projection_lag_seconds: "GAUGE",
      fillgrid_error_records_open: "GAUGE",
      fillgrid_dead_letters_waiting: "GAUGE",
      fillgrid_partner_deliveries: "GAUGE",
      fillgrid_alerts_firing: "GAUGE",
      fillgrid_notifications_total: "COUNTER",
      fillgrid_notifications_waiting: "GAUGE",
    });
    for (const f of families) expect(f.name).toMatch(/^fillgrid_[a-z_]+$/);
  });

  it("counts the readings and orders taken, the same on every request; batches show in the consumer histogram", async () => {
    const containerId = uniqueContainer("metered");
    const before = await scrape();
    const low = await json<{ results: { orderOpened?: unknown }[] }>(
      await postReadings(key, {
        readings: [reading(containerId, 70), reading(containerId, 40), reading(containerId, 90)],
      }),
      200,
    );
    expect(low.results[1]!.orderOpened).toBeDefined();
    await eventually(
      async () => {
        const r = await withDatabase(env, (db) =>
          db.execute<{ n: string }>(sql`select count(*) as n from readings where container_id = ${containerId}`),
        );
        return Number(r.rows[0]!.n) === 3 ? true : undefined;
      },
      20_000,
      "the readings in Postgres",
    );
    const lower = await applied();
    const first = await scrape();
    const secondText = await scrapeText();
    const second = parsePrometheusTextFormat(secondText) as Parsed;
    const upper = await applied();
    // Whatever other tests do meanwhile, each answer lies between what Postgres held just before and just after it.
    for (const families of [first, second]) {
      const n = value(families, "fillgrid_readings_total", { outcome: "applied" });
      expect(n).toBeGreaterThanOrEqual(lower);
      expect(n).toBeLessThanOrEqual(upper);
    }
    expect(
      value(first, "fillgrid_readings_total", { outcome: "applied" }) -
        value(before, "fillgrid_readings_total", { outcome: "applied" }),
    ).toBeGreaterThanOrEqual(3);
    expect(value(second, "fillgrid_readings_total", { outcome: "applied" })).toBeGreaterThanOrEqual(
      value(first, "fillgrid_readings_total", { outcome: "applied" }),
    );
    expect(
      value(first, "fillgrid_orders_opened_total", { source: "auto" }) -
        value(before, "fillgrid_orders_opened_total", { source: "auto" }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(first, "fillgrid_orders_closed_total", { reason: "fill_above_threshold" }) -
        value(before, "fillgrid_orders_closed_total", { reason: "fill_above_threshold" }),
    ).toBeGreaterThanOrEqual(1);

    expect(second.find((f) => f.name === "fillgrid_consumer_batch_duration_seconds")!.type).toBe("HISTOGRAM");
    const series = histogramSeries(
      secondText,
      "fillgrid_consumer_batch_duration_seconds",
      'queue="fillgrid-projection"',
    );
    const projection = series.metrics[0]!;
    const buckets = Object.entries(projection.buckets!)
      .map(([le, n]) => [Number(le), Number(n)] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]![1]).toBeGreaterThanOrEqual(buckets[i - 1]![1]);
    expect(Number(projection.count)).toBeGreaterThan(0);
    expect(buckets[buckets.length - 1]![1]).toBe(Number(projection.count));
  });

  it("counts alerts firing by severity as the alerts list has them, and messages sent and failed as the sender did them", async () => {
    const standIn = inject("telegram").url;
    const ok = `-8${String(Math.floor(Math.random() * 1e12)).padStart(12, "0")}`;
    const blocked = `-8${String(Math.floor(Math.random() * 1e12)).padStart(12, "0")}`;
    await fetch(`${standIn}/__control`, { method: "POST", body: JSON.stringify({ chatId: blocked, mode: "blocked" }) });
    const sent = (f: Parsed) => value(f, "fillgrid_notifications_total", { channel: "telegram", result: "sent" });
    const failed = (f: Parsed) => value(f, "fillgrid_notifications_total", { channel: "telegram", result: "failed" });
    const before = await scrape();
    const message = (id: string, target: string) => ({
      id: `tg_metrics_${crypto.randomUUID()}_${id}`,
      channel: "telegram" as const,
      target,
      alertId: null,
      kind: "fired" as const,
      text: `metrics ${id}`,
      acks: [],
    });
    await env.NOTIFIER.getByName("notifier").accept([message("a", ok), message("b", blocked)]);
    const after = await eventually(
      async () => {
        const f = await scrape();
        return sent(f) >= sent(before) + 1 && failed(f) >= failed(before) + 1 ? f : undefined;
      },
      20_000,
      "the sent and failed messages counted",
    );
    // Counters never go back, whichever request answers.
    const again = await scrape();
    expect(sent(again)).toBeGreaterThanOrEqual(sent(after));
    expect(failed(again)).toBeGreaterThanOrEqual(failed(after));

    // The gauge is the firing alerts by severity (compared when no monitor run falls between the two reads).
    const admin = await adminToken();
    await eventually(
      async () => {
        const { alerts } = await json<{ alerts: { state: string; severity: string }[] }>(
          await api("/v1/alerts?state=firing&limit=500", { token: admin }),
          200,
        );
        const f = await scrape();
        const counted = ["critical", "warning", "info"].map((severity) =>
          value(f, "fillgrid_alerts_firing", { severity }),
        );
        const listed = ["critical", "warning", "info"].map(
          (severity) => alerts.filter((a) => a.severity === severity).length,
        );
        return counted.join() === listed.join() ? true : undefined;
      },
      20_000,
      "the firing gauge to match the list",
    );
  });
});
