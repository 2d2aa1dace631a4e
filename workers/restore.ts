// A system rebuilt from its backup (docs/operations.md, "Restore"): every container from its events
// up to a moment (ContainerDO.restoreEvents, into empty objects only), the directory and the other
// objects from the newest snapshot taken by then, and Postgres from the containers — their outboxes
// send the restored events on to the projection, as any commit's — with the rows no event makes
// (prices, sales documents) from the snapshot.
import { sql } from "drizzle-orm";
import { restoreParts } from "../domain/backups";
import type { ContainerEvent } from "../domain/events";
import type { DeviceKeyRecord } from "../durable-objects/device-key";
import type { AlertRules } from "../domain/monitor";
import type { NotificationSettings } from "../domain/notifications";
import { gunzip, unseal, type Snapshot } from "./backups";
import { withDatabase } from "./db/client";
import { ApiError } from "./http/errors";
import { alertsObject, container, deviceKeyObject, directory, documentCounter } from "./stubs";

/** Events a restore hands a container at once (a part ends where a commit ended). */
const PART_EVENTS = 500;

/** A container's events as a backup holds them: by seq, each once. */
export type BackupEvents = Map<string, Map<number, ContainerEvent>>;

/** What a backup holds up to a moment: the newest snapshot taken by then, and the events committed by then. */
export interface BackupContents {
  snapshot: Snapshot | null;
  events: BackupEvents;
  objects: number;
}

/** Every event object and the snapshots of the bucket, read up to `at` (ms; none: everything). */
export async function readBackup(bucket: R2Bucket, at: number | null): Promise<BackupContents> {
  const events: BackupEvents = new Map();
  let objects = 0;
  for await (const object of listAll(bucket, "events/")) {
    const body = await bucket.get(object.key);
    if (!body) continue;
    objects++;
    for (const line of (await gunzip(await body.arrayBuffer())).split("\n")) {
      if (!line) continue;
      const e = JSON.parse(line) as ContainerEvent;
      if (at !== null && Date.parse(e.at) > at) continue;
      let log = events.get(e.containerId);
      if (!log) events.set(e.containerId, (log = new Map()));
      log.set(e.seq, e);
    }
  }
  let newest: { key: string; takenAt: number } | null = null;
  for await (const object of listAll(bucket, "snapshots/", ["customMetadata"])) {
    const takenAt = Date.parse(object.customMetadata?.takenAt ?? "");
    if (Number.isNaN(takenAt) || (at !== null && takenAt > at)) continue;
    if (!newest || takenAt > newest.takenAt) newest = { key: object.key, takenAt };
  }
  const body = newest ? await bucket.get(newest.key) : null;
  const snapshot = body ? (JSON.parse(await gunzip(await body.arrayBuffer())) as Snapshot) : null;
  return { snapshot, events, objects };
}

async function* listAll(bucket: R2Bucket, prefix: string, include: ("customMetadata" | "httpMetadata")[] = []) {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, include });
    yield* page.objects;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

export interface RestoreSummary {
  snapshot: { takenAt: string; people: number; deviceKeys: number; partners: number } | null;
  containers: number;
  events: number;
  documents: number;
  /** Containers that took nothing, and why (one that holds a log already, or a backup with a hole). */
  refused: { containerId: string; reason: string }[];
}

/** What no container holds, from the snapshot, into objects and tables that hold nothing yet. */
export async function restoreSnapshot(env: Env, snapshot: Snapshot): Promise<RestoreSummary["snapshot"]> {
  const dir = structuredClone(snapshot.directory);
  const partners = dir.partners;
  if (partners) {
    const sealed = ["secret", "previous_secret"].map((c) => partners.columns.indexOf(c));
    for (const row of partners.rows)
      for (const i of sealed) if (i >= 0 && typeof row[i] === "string") row[i] = await unseal(env, row[i]);
  }
  const restored = await directory(env).restoreBackup(dir);
  if (!restored.ok) throw new ApiError(409, "conflict", `the directory was not restored: ${restored.reason}`);
  for (const key of snapshot.deviceKeys) {
    const keyObject = deviceKeyObject(env, key.id);
    if (!(await keyObject.lookup())) await keyObject.issue(key.record as DeviceKeyRecord, key.secretHash);
  }
  const alerts = alertsObject(env);
  await alerts.setRules(snapshot.alertRules as AlertRules);
  await alerts.setSettings(snapshot.notificationSettings as NotificationSettings);
  for (const counter of snapshot.documentCounters) {
    const [partnerId, year] = [
      counter.name.slice(0, counter.name.lastIndexOf(":")),
      counter.name.slice(counter.name.lastIndexOf(":") + 1),
    ];
    if (!(await documentCounter(env, partnerId, Number(year)).restoreBackup(counter.tables)))
      throw new ApiError(409, "conflict", `document counter ${counter.name} has given numbers already: not restored`);
  }
  await withDatabase(env, async (db) => {
    await db.execute(
      sql`insert into prices select * from jsonb_populate_recordset(null::prices, ${JSON.stringify(snapshot.postgres.prices)}::jsonb) on conflict do nothing`,
    );
    await db.execute(
      sql`insert into sales_documents select * from jsonb_populate_recordset(null::sales_documents, ${JSON.stringify(snapshot.postgres.salesDocuments)}::jsonb) on conflict do nothing`,
    );
  });
  const rowsOf = (table: string) => snapshot.directory[table]?.rows.length ?? 0;
  return {
    takenAt: snapshot.takenAt,
    people: rowsOf("users"),
    deviceKeys: snapshot.deviceKeys.length,
    partners: rowsOf("partners"),
  };
}

/** Each container's log into its (empty) object, in parts; a log with a hole is not restored. */
export async function restoreContainers(
  env: Env,
  events: BackupEvents,
): Promise<Omit<RestoreSummary, "snapshot" | "documents">> {
  const refused: RestoreSummary["refused"] = [];
  let containers = 0;
  let restored = 0;
  for (const [containerId, bySeq] of events) {
    const log = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    const hole = log.findIndex((e, i) => e.seq !== i + 1);
    if (hole >= 0) {
      refused.push({ containerId, reason: `the backup lacks event ${hole + 1} (it holds ${log.length} events)` });
      continue;
    }
    const lastSeq = log.at(-1)!.seq;
    const stub = container(env, containerId);
    let failed: string | null = null;
    try {
      for (const part of restoreParts(log, PART_EVENTS)) {
        const answer = await stub.restoreEvents(part, lastSeq);
        if (!answer.ok) {
          failed = answer.reason;
          break;
        }
      }
    } catch (error) {
      // One container's failure is that container's: listed, and the restore goes on with the rest.
      failed = `failed: ${(error as Error).message}`;
    }
    if (failed) refused.push({ containerId, reason: failed });
    else {
      containers++;
      restored += log.length;
    }
  }
  return { containers, events: restored, refused };
}

/**
 * The sales documents' files the documents bucket lacks, from the backup: those of the documents
 * the restored snapshot holds (issued after it, they are left out with their rows).
 */
export async function restoreDocumentFiles(env: Env, issued: ReadonlySet<string>): Promise<number> {
  let put = 0;
  for await (const object of listAll(env.BACKUPS, "documents/", ["httpMetadata"])) {
    if (!issued.has(object.key) || (await env.DOCUMENTS.head(object.key))) continue;
    const body = await env.BACKUPS.get(object.key);
    if (!body) continue;
    await env.DOCUMENTS.put(object.key, await body.arrayBuffer(), {
      ...(object.httpMetadata ? { httpMetadata: object.httpMetadata } : {}),
    });
    put++;
  }
  return put;
}

/** The whole restore from the backup bucket, to the latest or to a moment. */
export async function restoreFromBucket(env: Env, at: number | null): Promise<RestoreSummary> {
  const backup = await readBackup(env.BACKUPS, at);
  const snapshot = backup.snapshot ? await restoreSnapshot(env, backup.snapshot) : null;
  const issued = new Set(
    (backup.snapshot?.postgres.salesDocuments ?? []).flatMap((d) => [String(d.csv_key), String(d.html_key)]),
  );
  const documents = await restoreDocumentFiles(env, issued);
  return { snapshot, documents, ...(await restoreContainers(env, backup.events)) };
}
