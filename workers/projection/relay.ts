import { packRanges } from "../../domain/change-message";
import type { RelayedRanges } from "../../durable-objects/container";
import { reportError } from "../../platform/error-report";
import { count, queueUnits } from "../../platform/usage";
import { container } from "../stubs";

/** A queue's sendBatch takes at most 100 messages and 256 KB in all; a little is left for framing. */
const SEND_BATCH_MESSAGES = 100;
const SEND_BATCH_MAX_BYTES = 250 * 1024;

/**
 * Send the ranges the containers of one request handed back (ContainerDO.ingestRelayed) to the
 * projection queue, many containers to a message: a request of 100 readings across 100 containers
 * is one message instead of 100. Awaited before the request is answered. Whatever could not be
 * sent goes back to its containers, which send it themselves (with their alarm's retries); if even
 * that fails, the projection's gap check and reconciliation find the events missing and ask again.
 */
export async function relayRanges(env: Env, relayed: ReadonlyArray<{ containerId: string; relayed: RelayedRanges }>): Promise<void> {
  if (relayed.length === 0) return;
  const owner = new Map(relayed.flatMap(({ containerId, relayed: r }) => r.ranges.map(({ range }) => [range, { containerId, fromSeq: r.fromSeq }] as const)));
  const messages = packRanges(relayed.flatMap(({ relayed: r }) => r.ranges));
  // Messages into sendBatch calls within the queue's limits, the calls made together.
  const calls: (typeof messages)[] = [];
  let call: typeof messages = [];
  let bytes = 0;
  for (const m of messages) {
    if (call.length > 0 && (call.length === SEND_BATCH_MESSAGES || bytes + m.bytes > SEND_BATCH_MAX_BYTES)) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(m);
    bytes += m.bytes;
  }
  if (call.length > 0) calls.push(call);

  const failed = new Map<string, number>();
  await Promise.all(
    calls.map(async (batch) => {
      try {
        await env.PROJECTION_QUEUE.sendBatch(batch.map((m) => ({ body: m.batch, contentType: "json" as const })));
        count("queueMessagesSent", batch.length);
        count("queueMessageUnits", batch.reduce((n, m) => n + queueUnits(m.bytes), 0));
      } catch (error) {
        for (const m of batch) {
          for (const range of m.batch.ranges) {
            const { containerId, fromSeq } = owner.get(range)!;
            failed.set(containerId, Math.min(failed.get(containerId) ?? fromSeq, fromSeq));
          }
        }
        await reportError(env, error, "worker", "projection relay", { messages: batch.length, containers: failed.size });
      }
    }),
  );
  await Promise.all(
    [...failed].map(async ([containerId, fromSeq]) => {
      try {
        await container(env, containerId).relayFailed(fromSeq);
      } catch (error) {
        await reportError(env, error, "worker", "projection relay", { containerId, fromSeq });
      }
    }),
  );
}
