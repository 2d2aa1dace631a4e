// A client for the MongoDB Atlas Data API wire contract (POST <base>/action/<name>), so any
// compatible endpoint can serve as the error store. Bodies are EJSON (relaxed): dates travel as
// {"$date": "<RFC 3339>"}.

export interface DataApiConfig {
  url: string;
  apiKey: string;
  dataSource: string;
  database: string;
  collection: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export type Document = Record<string, unknown>;

export class DataApiError extends Error {
  constructor(
    readonly action: string,
    readonly status: number,
    message: string,
  ) {
    super(`Data API ${action} failed (${status}): ${message}`);
    this.name = "DataApiError";
  }
}

/** Dates to `{"$date": …}`, recursively; everything else as JSON has it. */
export function toEjson(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(toEjson);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toEjson(v)]));
  }
  return value;
}

/** `{"$date": …}` (relaxed or canonical) to a Date; `$numberLong`/`$numberInt`/`$numberDouble` to numbers. */
export function fromEjson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromEjson);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      if (keys[0] === "$date") {
        const d = o.$date;
        if (typeof d === "string") return new Date(d);
        if (d && typeof d === "object" && "$numberLong" in d) return new Date(Number((d as { $numberLong: string }).$numberLong));
        if (typeof d === "number") return new Date(d);
      }
      if (keys[0] === "$numberLong" || keys[0] === "$numberInt" || keys[0] === "$numberDouble") return Number(o[keys[0]]);
      if (keys[0] === "$oid") return o.$oid;
    }
    return Object.fromEntries(keys.map((k) => [k, fromEjson(o[k])]));
  }
  return value;
}

export class DataApiClient {
  constructor(private readonly config: DataApiConfig) {}

  private async call<T>(action: string, body: Document): Promise<T> {
    const { url, apiKey, dataSource, database, collection, timeoutMs = 5000 } = this.config;
    const doFetch = this.config.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(`${url.replace(/\/$/, "")}/action/${action}`, {
        method: "POST",
        headers: { "Content-Type": "application/ejson", Accept: "application/ejson", apiKey },
        body: JSON.stringify(toEjson({ dataSource, database, collection, ...body })),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const reason = (error as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (error as Error).message;
      throw new DataApiError(action, 0, reason);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        const parsed = JSON.parse(text) as { error?: string };
        if (parsed.error) message = parsed.error;
      } catch {
        // not JSON; keep the text
      }
      throw new DataApiError(action, res.status, message.slice(0, 500));
    }
    return fromEjson(JSON.parse(text)) as T;
  }

  async findOne(filter: Document, projection?: Document): Promise<Document | null> {
    const out = await this.call<{ document: Document | null }>("findOne", { filter, ...(projection ? { projection } : {}) });
    return out.document;
  }

  async find(filter: Document, options: { sort?: Document; limit?: number; skip?: number } = {}): Promise<Document[]> {
    const out = await this.call<{ documents: Document[] }>("find", { filter, ...options });
    return out.documents;
  }

  async insertOne(document: Document): Promise<{ insertedId: unknown }> {
    return this.call("insertOne", { document });
  }

  async updateOne(filter: Document, update: Document, upsert = false): Promise<{ matchedCount: number; modifiedCount: number; upsertedId?: unknown }> {
    return this.call("updateOne", { filter, update, upsert });
  }

  async aggregate(pipeline: Document[]): Promise<Document[]> {
    const out = await this.call<{ documents: Document[] }>("aggregate", { pipeline });
    return out.documents;
  }
}
