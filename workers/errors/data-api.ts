// A client for the MongoDB Atlas Data API wire contract (POST <base>/action/<name>), so any
// compatible endpoint can serve as the error store. Bodies are relaxed EJSON, written and read by
// the bson package's EJSON: dates travel as {"$date": "<RFC 3339>"}.
import { EJSON } from "bson";

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
        body: EJSON.stringify({ dataSource, database, collection, ...body }, { relaxed: true }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const reason =
        (error as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (error as Error).message;
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
    return EJSON.parse(text, { relaxed: true }) as T;
  }

  async findOne(filter: Document, projection?: Document): Promise<Document | null> {
    const out = await this.call<{ document: Document | null }>("findOne", {
      filter,
      ...(projection ? { projection } : {}),
    });
    return out.document;
  }

  async find(filter: Document, options: { sort?: Document; limit?: number; skip?: number } = {}): Promise<Document[]> {
    const out = await this.call<{ documents: Document[] }>("find", { filter, ...options });
    return out.documents;
  }

  async insertOne(document: Document): Promise<{ insertedId: unknown }> {
    return this.call("insertOne", { document });
  }

  async updateOne(
    filter: Document,
    update: Document,
    upsert = false,
  ): Promise<{ matchedCount: number; modifiedCount: number; upsertedId?: unknown }> {
    return this.call("updateOne", { filter, update, upsert });
  }

  async aggregate(pipeline: Document[]): Promise<Document[]> {
    const out = await this.call<{ documents: Document[] }>("aggregate", { pipeline });
    return out.documents;
  }
}
