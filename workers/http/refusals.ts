// Device keys refused for their rate: counted here, per isolate, and handed to the MetricsDO at most
// once per FLUSH_MS (for the monitor's rateLimited rule and GET /metrics). A device that floods is
// refused many times a second; an object call per refusal would make the flood cost what its limit
// is there to save.
import type { DeviceKeyKind } from "../../domain/monitor";
import { reportError } from "../../platform/error-report";
import { metricsObject } from "../stubs";

const FLUSH_MS = 2_000;

interface Pending {
  counts: Map<string, { keyId: string; kind: DeviceKeyKind; count: number }>;
  flushing: boolean;
}
const pending: Pending = { counts: new Map(), flushing: false };

/**
 * Count one refusal of `keyId`. The first refusal after a flush starts the next one in its own
 * request's context (kept alive by `waitUntil`); the refusals until then join it. Only plain data
 * is shared between requests.
 */
export function noteRefusal(
  env: Env,
  ctx: { waitUntil(promise: Promise<unknown>): void },
  keyId: string,
  kind: DeviceKeyKind,
): void {
  const entry = pending.counts.get(keyId);
  if (entry) entry.count++;
  else pending.counts.set(keyId, { keyId, kind, count: 1 });
  if (pending.flushing) return;
  pending.flushing = true;
  ctx.waitUntil(flush(env));
}

async function flush(env: Env): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, FLUSH_MS));
  const refusals = [...pending.counts.values()];
  pending.counts.clear();
  pending.flushing = false;
  try {
    await metricsObject(env).countRefusals(refusals, Date.now());
  } catch (error) {
    await reportError(env, error, "worker", "rate-limit refusals", { keys: refusals.length });
  }
}
