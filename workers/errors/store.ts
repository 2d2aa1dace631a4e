import { groupReports, type ErrorChange, type ErrorRecord, type ErrorReport } from "../../domain/errors";
import { monotonicIds } from "../../domain/ids";
import type { ErrorFilters, ResolveResult } from "../../durable-objects/error-hub";
import { errorHub } from "../stubs";
import { DataApiClient, type Document } from "./data-api";

export type ErrorPage = { items: ErrorRecord[]; next: { lastSeen: string; id: string } | null };

/** Where error records live. Every change is also published through the ErrorHub to dashboards. */
export interface ErrorStore {
  record(reports: ErrorReport[]): Promise<ErrorChange[]>;
  list(filters: ErrorFilters): Promise<ErrorPage>;
  get(id: string): Promise<ErrorRecord | null>;
  resolve(id: string, by: string): Promise<ResolveResult>;
  /** How many records are open. */
  countOpen(): Promise<number>;
}

/** The embedded default: the ErrorHub object keeps the records itself. */
class HubErrorStore implements ErrorStore {
  constructor(private readonly env: Env) {}
  async record(reports: ErrorReport[]) {
    return errorHub(this.env).record(reports);
  }
  async list(filters: ErrorFilters) {
    return errorHub(this.env).list(filters);
  }
  async get(id: string) {
    return errorHub(this.env).get(id);
  }
  async countOpen() {
    return errorHub(this.env).countOpen();
  }
  async resolve(id: string, by: string) {
    return errorHub(this.env).resolve(id, by);
  }
}

const newId = monotonicIds();

function asDocument(record: ErrorRecord): Document {
  const { id, firstSeen, lastSeen, resolvedAt, ...rest } = record;
  return {
    _id: id,
    ...rest,
    firstSeen: new Date(firstSeen),
    lastSeen: new Date(lastSeen),
    resolvedAt: resolvedAt === null ? null : new Date(resolvedAt),
  };
}

function asRecord(doc: Document): ErrorRecord {
  const { _id, firstSeen, lastSeen, resolvedAt, ...rest } = doc;
  const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : String(d));
  return {
    ...(rest as Omit<ErrorRecord, "id" | "firstSeen" | "lastSeen" | "resolvedAt">),
    id: String(_id),
    firstSeen: iso(firstSeen),
    lastSeen: iso(lastSeen),
    resolvedAt: resolvedAt === null || resolvedAt === undefined ? null : iso(resolvedAt),
  };
}

/** A MongoDB Data API–compatible endpoint keeps the records; the ErrorHub only numbers and pushes. */
class DataApiErrorStore implements ErrorStore {
  private readonly api: DataApiClient;
  constructor(
    private readonly env: Env,
    api: DataApiClient,
  ) {
    this.api = api;
  }

  async record(reports: ErrorReport[]): Promise<ErrorChange[]> {
    const byFingerprint = new Map<string, ErrorReport[]>();
    for (const r of reports) byFingerprint.set(r.fingerprint, [...(byFingerprint.get(r.fingerprint) ?? []), r]);
    const changes: ErrorChange[] = [];
    for (const [fingerprint, group] of byFingerprint) {
      const existingDoc = await this.api.findOne({ fingerprint });
      const existing = existingDoc ? asRecord(existingDoc) : null;
      const { kind, record } = groupReports(existing, group, () => newId("err_"));
      if (!existing) {
        await this.api.insertOne(asDocument(record));
      } else {
        // Counted with $inc and bounded with $min/$max, so two consumers at once cannot lose a count.
        const latest = group.reduce((a, b) => (b.at > a.at ? b : a));
        const earliest = group.reduce((a, b) => (b.at < a.at ? b : a));
        await this.api.updateOne(
          { _id: existing.id },
          {
            $inc: { count: group.length },
            $min: { firstSeen: new Date(earliest.at) },
            $max: { lastSeen: new Date(latest.at) },
            $set: {
              status: "open",
              resolvedAt: null,
              resolvedBy: null,
              ...(latest.at >= existing.lastSeen
                ? { name: latest.name, message: latest.message, stack: latest.stack, context: latest.context }
                : {}),
            },
          },
        );
      }
      changes.push(await errorHub(this.env).publish(kind, record));
    }
    return changes;
  }

  async list(f: ErrorFilters): Promise<ErrorPage> {
    const filter: Document = {};
    if (f.status) filter.status = f.status;
    if (f.source) filter.source = f.source;
    const lastSeen: Document = {};
    if (f.lastSeenFrom) lastSeen.$gte = new Date(f.lastSeenFrom);
    if (f.lastSeenTo) lastSeen.$lt = new Date(f.lastSeenTo);
    if (Object.keys(lastSeen).length > 0) filter.lastSeen = lastSeen;
    if (f.before) {
      const at = new Date(f.before.lastSeen);
      filter.$or = [{ lastSeen: { $lt: at } }, { lastSeen: at, _id: { $lt: f.before.id } }];
    }
    const docs = await this.api.find(filter, { sort: { lastSeen: -1, _id: -1 }, limit: f.limit + 1 });
    const items = docs.slice(0, f.limit).map(asRecord);
    const last = items[items.length - 1];
    return { items, next: docs.length > f.limit && last ? { lastSeen: last.lastSeen, id: last.id } : null };
  }

  async get(id: string): Promise<ErrorRecord | null> {
    const doc = await this.api.findOne({ _id: id });
    return doc ? asRecord(doc) : null;
  }

  async countOpen(): Promise<number> {
    const [counted] = await this.api.aggregate([{ $match: { status: "open" } }, { $count: "n" }]);
    return Number(counted?.n ?? 0);
  }

  async resolve(id: string, by: string): Promise<ResolveResult> {
    const doc = await this.api.findOne({ _id: id });
    if (!doc) return { ok: false, reason: "not_found" };
    const record = asRecord(doc);
    const resolvedAt = new Date();
    const result = await this.api.updateOne(
      { _id: id, status: "open" },
      { $set: { status: "resolved", resolvedAt, resolvedBy: by } },
    );
    if (result.matchedCount === 0) return { ok: false, reason: "not_open", record };
    const resolved: ErrorRecord = {
      ...record,
      status: "resolved",
      resolvedAt: resolvedAt.toISOString(),
      resolvedBy: by,
    };
    await errorHub(this.env).publish("error.updated", resolved);
    return { ok: true, record: resolved };
  }
}

/** The configured store: the Data API endpoint when ERROR_STORE_URL is set, else the ErrorHub. */
export function errorStore(env: Env): ErrorStore {
  if (!env.ERROR_STORE_URL) return new HubErrorStore(env);
  return new DataApiErrorStore(
    env,
    new DataApiClient({
      url: env.ERROR_STORE_URL,
      apiKey: env.ERROR_STORE_API_KEY,
      dataSource: env.ERROR_STORE_DATA_SOURCE || "mongodb-atlas",
      database: env.ERROR_STORE_DATABASE || "fillgrid",
      collection: env.ERROR_STORE_COLLECTION || "errors",
      timeoutMs: Number(env.ERROR_STORE_TIMEOUT_MS) || 5000,
    }),
  );
}
