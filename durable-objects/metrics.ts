import { DurableObject } from "cloudflare:workers";
import { emptyHistogram, observe, type HistogramState } from "../domain/metrics";
import type { DeviceKeyKind, RefusedKey } from "../domain/monitor";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

const SCHEMA = [
  `CREATE TABLE histograms (name TEXT NOT NULL, labels TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (name, labels));`,
  // Device keys refused for their rate, per minute (kept an hour), and in all by kind of key.
  `CREATE TABLE refusals (key_id TEXT NOT NULL, minute INTEGER NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (key_id, minute)) WITHOUT ROWID;
   CREATE TABLE refusal_totals (kind TEXT PRIMARY KEY, n INTEGER NOT NULL);`,
];

const REFUSALS_KEPT_MINUTES = 60;

/**
 * What only the code that ran can measure, kept in one place for every isolate: durations (a
 * consumer's batch) and device keys refused for their rate. GET /metrics and the monitor read them
 * here, so they are the same whichever isolate is asked.
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
        const row = this.ctx.storage.sql
          .exec<{ state: string }>("SELECT state FROM histograms WHERE name = ? AND labels = ?", name, key)
          .toArray()[0];
        const next = observe(row ? (JSON.parse(row.state) as HistogramState) : emptyHistogram(), seconds);
        this.ctx.storage.sql.exec(
          "INSERT INTO histograms (name, labels, state) VALUES (?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET state = excluded.state",
          name,
          key,
          JSON.stringify(next),
        );
      }
    });
  }

  histograms(): { name: string; labels: Record<string, string>; state: HistogramState }[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ name: string; labels: string; state: string }>(
        "SELECT name, labels, state FROM histograms ORDER BY name, labels",
      )
      .toArray()
      .map((r) => ({
        name: r.name,
        labels: JSON.parse(r.labels) as Record<string, string>,
        state: JSON.parse(r.state) as HistogramState,
      }));
  }

  /** Refusals counted by an isolate since its last hand-over, as of `at` (ms). */
  countRefusals(refusals: { keyId: string; kind: DeviceKeyKind; count: number }[], at: number): void {
    this.startup.check();
    const minute = Math.floor(at / 60_000);
    this.ctx.storage.transactionSync(() => {
      for (const r of refusals) {
        this.ctx.storage.sql.exec(
          "INSERT INTO refusals (key_id, minute, kind, n) VALUES (?, ?, ?, ?) ON CONFLICT (key_id, minute) DO UPDATE SET n = n + excluded.n",
          r.keyId,
          minute,
          r.kind,
          r.count,
        );
        this.ctx.storage.sql.exec(
          "INSERT INTO refusal_totals (kind, n) VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET n = n + excluded.n",
          r.kind,
          r.count,
        );
      }
      this.ctx.storage.sql.exec("DELETE FROM refusals WHERE minute < ?", minute - REFUSALS_KEPT_MINUTES);
    });
  }

  /** Each key refused in the `minutes` minutes up to `at`: in how many of them, and how often. */
  refusedKeys(at: number, minutes: number): RefusedKey[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ key_id: string; kind: DeviceKeyKind; minutes: number; refused: number }>(
        "SELECT key_id, kind, count(*) AS minutes, sum(n) AS refused FROM refusals WHERE minute > ? GROUP BY key_id, kind ORDER BY key_id",
        Math.floor(at / 60_000) - minutes,
      )
      .toArray()
      .map((r) => ({ keyId: r.key_id, kind: r.kind, minutes: r.minutes, refused: r.refused }));
  }

  /** Refusals since the start, by kind of key. */
  refusalTotals(): Record<DeviceKeyKind, number> {
    this.startup.check();
    const totals: Record<DeviceKeyKind, number> = { sensor: 0, gateway: 0 };
    for (const r of this.ctx.storage.sql.exec<{ kind: DeviceKeyKind; n: number }>("SELECT kind, n FROM refusal_totals"))
      totals[r.kind] = r.n;
    return totals;
  }
}
