// Backups to R2 (domain/backups.ts has the rules). Three parts:
//   - the projection consumer passes every batch of range messages on to the backup queue;
//   - its consumer writes the events not yet in the bucket as one gzip NDJSON object per batch,
//     named by the hour of its first event and a hash of its lines (a batch that comes again writes
//     the same name with the same bytes), and records it in the BackupLedger;
//   - every hour, a snapshot of what no container holds and a manifest of the objects written since
//     the last one, with their SHA-256, each container's covered seq, and whether it is complete.
import { sql } from "drizzle-orm";
import {
  backupEventsMessages,
  completeness,
  eventLines,
  eventsKey,
  hourOf,
  HOUR_MS,
  manifestKey,
  snapshotKey,
  objectCreatedSchema,
  type BackupSummary,
  type Manifest,
  type ObjectCreated,
} from "../domain/backups";
import { sendBatchesOf } from "../domain/change-message";
import type { ContainerEvent } from "../domain/events";
import type { TableDump } from "../durable-objects/sql-dump";
import { hex, sha256Hex } from "../platform/crypto";
import { reportError } from "../platform/error-report";
import { count, queueUnits } from "../platform/usage";
import { log } from "../platform/logging";
import { withDatabase } from "./db/client";
import { parseBackupMessage } from "./projection/message";
import { alertsObject, backupLedger, container, deviceKeyObject, directory, documentCounter } from "./stubs";

/**
 * The events of the projection consumer's batch passed on to be backed up: as event messages
 * (domain/backups.ts), in as few sends as the queue's limits allow (100 messages and 256 KB a send).
 */
export async function passToBackup(env: Env, events: readonly ContainerEvent[]): Promise<void> {
  await Promise.all(
    sendBatchesOf(backupEventsMessages(events)).map(async (call) => {
      await env.BACKUP_QUEUE.sendBatch(call.map((m) => ({ body: m.body, contentType: "text" as const })));
      count("queueMessagesSent", call.length);
      count(
        "queueMessageUnits",
        call.reduce((n, m) => n + queueUnits(m.bytes), 0),
      );
    }),
  );
}

/**
 * An object into the backup bucket, owed to the replica: the ledger waits for its copy, and where R2
 * sends no event notifications (BACKUP_NOTIFY_SELF), the replication queue gets the same message R2
 * would send.
 */
export async function putBackupObject(
  env: Env,
  key: string,
  body: string | Uint8Array<ArrayBuffer>,
  options: R2PutOptions,
): Promise<R2Object> {
  const written = await env.BACKUPS.put(key, body, options);
  await backupLedger(env).awaitReplica(key);
  if (env.BACKUP_NOTIFY_SELF !== "off") {
    const notice: ObjectCreated = {
      account: "local",
      action: "PutObject",
      bucket: "fillgrid-backups",
      object: { key, size: written.size, eTag: written.etag },
      eventTime: written.uploaded.toISOString(),
    };
    await env.BACKUP_REPLICATION_QUEUE.send(notice, { contentType: "json" });
  }
  return written;
}

/**
 * The replication queue's consumer: each object written to the backup bucket copied to the replica
 * and checked there by its SHA-256 (R2 refuses a put whose bytes do not match it, and the copy is
 * read back). A copy that fails is retried, and after 10 tries is a dead letter (an error record,
 * the monitor's deadLetters alert), to be replayed once the replica is reachable.
 */
export async function replicateBackupObjects(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    const notice = objectCreatedSchema.safeParse(msg.body);
    if (!notice.success) {
      msg.retry();
      await reportError(
        env,
        new TypeError(`not an object-created notification: ${notice.error.message}`),
        "consumer",
        batch.queue,
        { messageId: msg.id },
      );
      continue;
    }
    const key = notice.data.object.key;
    try {
      await copyToReplica(env, key);
      msg.ack();
    } catch (error) {
      msg.retry();
      await reportError(env, error, "consumer", batch.queue, { key, attempts: msg.attempts });
    }
  }
}

async function copyToReplica(env: Env, key: string): Promise<void> {
  const object = await env.BACKUPS.get(key);
  // Deleted since it was written (a backup object is not, but a bucket may be cleaned by hand): there
  // is nothing to copy, and it is said, not left waiting in the replication count forever.
  if (!object) {
    await backupLedger(env).replicated(key);
    await reportError(
      env,
      new Error(`backup object ${key} is gone from the bucket: nothing to copy`),
      "consumer",
      "backup replication",
      { key },
    );
    return;
  }
  const bytes = new Uint8Array(await object.arrayBuffer());
  const sha256 = await sha256Hex(bytes);
  const stored = object.checksums.sha256 ? hex(object.checksums.sha256) : null;
  if (stored !== null && stored !== sha256) throw new Error(`backup object ${key} does not match its own SHA-256`);
  const there = await env.BACKUP_REPLICA.head(key);
  const thereSum = there?.checksums.sha256 ? hex(there.checksums.sha256) : null;
  if (thereSum !== sha256) {
    await env.BACKUP_REPLICA.put(key, bytes, {
      sha256,
      ...(object.httpMetadata ? { httpMetadata: object.httpMetadata } : {}),
      ...(object.customMetadata ? { customMetadata: object.customMetadata } : {}),
    });
    const copy = await env.BACKUP_REPLICA.get(key);
    const copySum = copy ? await sha256Hex(new Uint8Array(await copy.arrayBuffer())) : null;
    if (copySum !== sha256) throw new Error(`the replica's copy of ${key} does not match its SHA-256`);
  }
  await backupLedger(env).replicated(key);
}

/** gzip through the runtime's CompressionStream: the same input gives the same bytes. */
export async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function gunzip(bytes: ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<string> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text();
}

/** Whether the ledger already counts this event as backed up. */
function covered(
  coverage: Record<string, { contiguous: number; beyond: { fromSeq: number; toSeq: number }[] }>,
  e: ContainerEvent,
) {
  const c = coverage[e.containerId];
  return c !== undefined && (e.seq <= c.contiguous || c.beyond.some((r) => r.fromSeq <= e.seq && e.seq <= r.toSeq));
}

/**
 * The backup queue's consumer: the batch's events that the bucket does not hold yet, as one object.
 * Everything is acked or nothing: a failure retries the whole batch, and what was written stays
 * written (the ledger records it once, the same name holds the same bytes).
 */
export async function backUpEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const events: ContainerEvent[] = [];
  const readable = new Set<Message<unknown>>();
  for (const msg of batch.messages) {
    const parsed = parseBackupMessage(msg.body);
    if (!parsed.ok) {
      // Cannot be backed up as it is; the error record names it, and it ends with the dead letters.
      msg.retry();
      await reportError(env, new TypeError(parsed.error), "consumer", batch.queue, { messageId: msg.id });
      continue;
    }
    readable.add(msg);
    for (const event of parsed.events) events.push(event);
  }
  try {
    const ledger = backupLedger(env);
    const coverage = await ledger.coverageOf([...new Set(events.map((e) => e.containerId))]);
    const fresh = events.filter((e) => !covered(coverage, e));
    if (fresh.length > 0) {
      const { lines, ranges, count, firstAt } = eventLines(fresh);
      const body = await gzip(lines);
      const key = eventsKey(firstAt, (await sha256Hex(lines)).slice(0, 32));
      const sha256 = await sha256Hex(body);
      await putBackupObject(env, key, body, {
        httpMetadata: { contentType: "application/x-ndjson", contentEncoding: "gzip" },
        customMetadata: { events: String(count), containers: String(new Set(ranges.map((r) => r.containerId)).size) },
        sha256,
      });
      await ledger.record({ key, bytes: body.byteLength, sha256, events: count, ranges });
    }
    for (const msg of readable) msg.ack();
  } catch (error) {
    for (const msg of batch.messages) msg.retry();
    await reportError(env, error, "consumer", batch.queue, { messages: batch.messages.length });
  }
}

// --- The hourly snapshot -------------------------------------------------------------------------

/** The AES-256-GCM key the snapshot seals partners' signing secrets with (BACKUP_ENCRYPTION_KEY, base64). */
async function sealingKey(env: Env): Promise<CryptoKey> {
  const text = env.BACKUP_ENCRYPTION_KEY;
  if (!text) throw new Error("BACKUP_ENCRYPTION_KEY is not set: the snapshot cannot seal partners' secrets");
  const raw = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  if (raw.byteLength !== 32) throw new Error("BACKUP_ENCRYPTION_KEY must be 32 bytes, base64");
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** `aes-256-gcm:<iv>:<ciphertext>` (base64). */
export async function seal(env: Env, text: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await sealingKey(env),
    new TextEncoder().encode(text),
  );
  return `aes-256-gcm:${b64(iv)}:${b64(new Uint8Array(sealed))}`;
}

export async function unseal(env: Env, sealed: string): Promise<string> {
  const [scheme, iv, data] = sealed.split(":");
  if (scheme !== "aes-256-gcm" || !iv || !data) throw new Error("not a sealed value");
  const bytes = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes(iv) }, await sealingKey(env), bytes(data));
  return new TextDecoder().decode(plain);
}

/** What no container holds, as the snapshot has it. */
export interface Snapshot {
  format: 1;
  takenAt: string;
  /** People (password hashes as stored), the device keys' index, partners (secrets sealed), the audit list. */
  directory: Record<string, TableDump>;
  /** Each device key's own record and secret hash (DeviceKeyDO). */
  deviceKeys: { id: string; record: unknown; secretHash: string }[];
  alertRules: unknown;
  notificationSettings: unknown;
  /** Sales-document numbers given, per partner and year. */
  documentCounters: { name: string; tables: Record<string, TableDump> }[];
  /** Postgres tables no container's events make: prices and the sales documents issued. */
  postgres: { prices: Record<string, unknown>[]; salesDocuments: Record<string, unknown>[] };
}

export async function takeSnapshot(env: Env, now: number): Promise<Snapshot> {
  const dir = await directory(env).backupDump();
  const partners = dir.partners!;
  const secretColumns = ["secret", "previous_secret"].map((c) => partners.columns.indexOf(c));
  for (const row of partners.rows)
    for (const i of secretColumns) if (i >= 0 && typeof row[i] === "string") row[i] = await seal(env, row[i]);
  const keyIds = dir.device_keys!.rows.map((r) => String(r[dir.device_keys!.columns.indexOf("id")]));
  const deviceKeys = [];
  for (const id of keyIds) {
    const found = await deviceKeyObject(env, id).lookup();
    if (found) deviceKeys.push({ id, record: found.record, secretHash: found.secretHash });
  }
  const alerts = alertsObject(env);
  const [alertRules, notificationSettings] = await Promise.all([alerts.rules(), alerts.settings()]);
  const { prices, salesDocuments, counters } = await withDatabase(env, async (db) => ({
    prices: (await db.execute<Record<string, unknown>>(sql`select * from prices order by 1, 2, 3`)).rows,
    salesDocuments: (await db.execute<Record<string, unknown>>(sql`select * from sales_documents order by id`)).rows,
    counters: (
      await db.execute<{ partner_id: string; year: number }>(
        sql`select distinct partner_id, year from sales_documents order by 1, 2`,
      )
    ).rows,
  }));
  const documentCounters = [];
  for (const c of counters)
    documentCounters.push({
      name: `${c.partner_id}:${c.year}`,
      tables: await documentCounter(env, c.partner_id, Number(c.year)).backupDump(),
    });
  return {
    format: 1,
    takenAt: new Date(now).toISOString(),
    directory: dir,
    deviceKeys,
    alertRules,
    notificationSettings,
    documentCounters,
    postgres: { prices, salesDocuments },
  };
}

/**
 * The events each container had committed when the hour closed, as Postgres knows them: its version
 * if nothing was projected since, else its last event before then (a few index rows each).
 */
async function expectedVersions(env: Env, hourEnd: number): Promise<{ containerId: string; version: number }[]> {
  const end = new Date(hourEnd).toISOString();
  return withDatabase(env, async (db) =>
    (
      await db.execute<{ id: string; version: number }>(sql`
        select c.id, case when c.projected_at < ${end}::timestamptz then c.version else coalesce((
          select e.seq from container_events e where e.container_id = c.id and e.at < ${end}::timestamptz
          order by e.seq desc limit 1), 0) end as version
        from containers c`)
    ).rows.map((r) => ({ containerId: r.id, version: Number(r.version) })),
  );
}

/** How many containers behind the backup one hourly run asks to send their events again. */
const RESEND_PER_RUN = 500;

/**
 * The hour's backup: the snapshot, then the manifest of every event object written since the last
 * manifest, each container's covered seq, and whether it is complete. Run at 5 past every hour; run
 * again within the hour it writes the hour's manifest again with whatever came since.
 */
export async function takeHourlyBackup(
  env: Env,
  now = Date.now(),
  upTo = Math.floor(now / HOUR_MS) * HOUR_MS,
): Promise<BackupSummary> {
  const ledger = backupLedger(env);
  // The hour it closes: at 5 past 14:00, the hour from 13:00 to 14:00, judged complete against the
  // events committed by 14:00; a backup taken by hand (POST /v1/backups/run), against now.
  const hour = hourOf(upTo - 1);
  let snapshot: Manifest["snapshot"] = null;
  try {
    const taken = await takeSnapshot(env, now);
    const body = await gzip(JSON.stringify(taken));
    const key = snapshotKey(upTo - 1, now);
    const sha256 = await sha256Hex(body);
    await putBackupObject(env, key, body, {
      httpMetadata: { contentType: "application/json", contentEncoding: "gzip" },
      customMetadata: { takenAt: taken.takenAt },
      sha256,
    });
    snapshot = { key, bytes: body.byteLength, sha256 };
  } catch (error) {
    await reportError(env, error, "cron", "backup snapshot");
  }
  const objects = await ledger.unlisted();
  const contiguous = await ledger.contiguous();
  let expected: { containerId: string; version: number }[] | null = null;
  try {
    expected = await expectedVersions(env, upTo);
  } catch (error) {
    await reportError(env, error, "cron", "backup completeness");
  }
  const coverage = new Map(Object.entries(contiguous));
  const judged = expected === null ? null : completeness(coverage, expected, snapshot !== null);
  // A container behind (its events from before the backups began, or a batch lost on the way) is
  // asked for them again: they come back through the projection, which passes them on.
  if (judged)
    for (const m of judged.missing.slice(0, RESEND_PER_RUN))
      await container(env, m.containerId)
        .resend(m.backedUp + 1, m.version, true)
        .catch((error: unknown) => reportError(env, error, "cron", "backup resend", { containerId: m.containerId }));
  const manifest: Manifest = {
    format: 1,
    hour,
    writtenAt: new Date(now).toISOString(),
    complete: judged?.complete ?? false,
    missing: judged?.missing.slice(0, 100) ?? [],
    missingCount: judged?.missing.length ?? -1,
    snapshot,
    objects,
    events: objects.reduce((n, o) => n + o.events, 0),
    containers: contiguous,
  };
  const key = manifestKey(upTo - 1, now);
  const text = JSON.stringify(manifest);
  await putBackupObject(env, key, text, {
    httpMetadata: { contentType: "application/json" },
    sha256: await sha256Hex(text),
  });
  const summary: BackupSummary = {
    hour,
    key,
    writtenAt: manifest.writtenAt,
    complete: manifest.complete,
    missingCount: manifest.missingCount,
    objects: objects.length,
    events: manifest.events,
    bytes: objects.reduce((n, o) => n + o.bytes, 0) + (snapshot?.bytes ?? 0),
    containers: coverage.size,
  };
  await ledger.recordManifest(
    summary,
    objects.map((o) => o.key),
  );
  log(manifest.complete ? "info" : "warn", "backup manifest written", { ...summary });
  return summary;
}
