import { DurableObject } from "cloudflare:workers";
import { emptyHistogram, observe, type HistogramState } from "../domain/metrics";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

const SCHEMA = [`CREATE TABLE histograms (name TEXT NOT NULL, labels TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (name, labels));`];

/**
 * Durations that only the code that ran can measure (a consumer's batch), kept in one place for
 * every isolate: each batch adds its observation here, and GET /metrics reads them all, so the
 * histograms are the same whichever isolate is scraped.
 */
export class MetricsDO extends DurableObject<Env> {
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "MetricsDO", () => ensureSchema(ctx.storage, SCHEMA));
  }

  observe(observations: { name: string; labels: Record<string, string>; seconds: number }[]): void {
    this.startup.check();
    this.ctx.storage.transactionSync(() => {
      for (const { name, labels, seconds } of observations) {
        const key = JSON.stringify(labels);
        const row = this.ctx.storage.sql.exec<{ state: string }>("SELECT state FROM histograms WHERE name = ? AND labels = ?", name, key).toArray()[0];
        const next = observe(row ? (JSON.parse(row.state) as HistogramState) : emptyHistogram(), seconds);
        this.ctx.storage.sql.exec("INSERT INTO histograms (name, labels, state) VALUES (?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET state = excluded.state", name, key, JSON.stringify(next));
      }
    });
  }

  histograms(): { name: string; labels: Record<string, string>; state: HistogramState }[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ name: string; labels: string; state: string }>("SELECT name, labels, state FROM histograms ORDER BY name, labels")
      .toArray()
      .map((r) => ({ name: r.name, labels: JSON.parse(r.labels) as Record<string, string>, state: JSON.parse(r.state) as HistogramState }));
  }
}
