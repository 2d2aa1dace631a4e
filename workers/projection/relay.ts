import { packRanges, sendBatchesOf, textMessage, type RelayedRanges } from "../../domain/change-message";
import { reportError } from "../../platform/error-report";
import { count, queueUnits } from "../../platform/usage";
import { container } from "../stubs";

/** How long one request's context goes on sending what later requests hand over, before the next takes over. */
const SENDER_SPELL_MS = 1_000;

/** A container's ranges as its commit handed them back. */
export interface Handed {
  containerId: string;
  relayed: RelayedRanges;
}

/** What this isolate's requests handed over and not yet sent, per queue, and whose context sends it. */
interface Relay {
  pending: Handed[];
  sender: object | null;
}
const relays = new WeakMap<Queue, Relay>();

/**
 * Hand the ranges the containers of one request committed (ContainerDO.ingestRelayed) to the
 * isolate's relay and return at once: the request is answered without waiting for the queue (its
 * readings are committed; the containers' logs are the outbox). When no send is under way, this
 * request's context sends (kept alive by `waitUntil`); while one is, the ranges wait for it, and
 * the sender takes everything handed over meanwhile in its next round — so under load one queue
 * send carries many requests' readings, and a quiet system sends each request's at once.
 *
 * Only plain data crosses between requests here (the pending list and a token saying whether a
 * sender is active); every send, and every call back to a container, is made in the sending
 * request's own context. A sender hands over after SENDER_SPELL_MS, so no context lives on
 * forever under steady load. Should the isolate die with ranges pending, they are what a worker
 * dying before its send leaves: the projection's gap check and reconciliation ask for them again.
 */
export function relay(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, handed: readonly Handed[]): void {
  if (handed.length === 0) return;
  let r = relays.get(env.PROJECTION_QUEUE);
  if (!r) relays.set(env.PROJECTION_QUEUE, (r = { pending: [], sender: null }));
  r.pending.push(...handed);
  if (r.sender !== null) return;
  const me = {};
  r.sender = me;
  ctx.waitUntil(sendPending(env, r, me));
}

async function sendPending(env: Env, r: Relay, me: object): Promise<void> {
  const began = Date.now();
  let taken: Handed[] = [];
  try {
    while (r.pending.length > 0 && r.sender === me) {
      taken = r.pending.splice(0);
      // The spell is over: requests from now on start a sender of their own, this one finishes its round.
      if (Date.now() - began >= SENDER_SPELL_MS) r.sender = null;
      await relayRanges(env, taken);
    }
  } catch (error) {
    // relayRanges meets a failed send itself; anything else leaves the round's ranges to the gap check.
    await reportError(env, error, "worker", "projection relay", { containers: taken.length });
  } finally {
    if (r.sender === me) r.sender = null;
  }
}

/**
 * Send ranges that containers handed back to the projection queue, many containers to a message:
 * a request of 100 readings across 100 containers is one message instead of 100. Whatever could not
 * be sent goes back to its containers, which send it themselves (with their alarm's retries); if
 * even that fails, the projection's gap check and reconciliation find the events missing and ask again.
 */
export async function relayRanges(env: Env, relayed: readonly Handed[]): Promise<void> {
  if (relayed.length === 0) return;
  const owner = new Map(
    relayed.flatMap(({ containerId, relayed: r }) =>
      r.ranges.map((range) => [range, { containerId, fromSeq: r.fromSeq }]),
    ),
  );
  // The ranges' text joined into messages, the messages into sendBatch calls within the queue's
  // limits, the calls made together.
  const calls = sendBatchesOf(packRanges(relayed.flatMap(({ relayed: r }) => r.ranges)));

  const failed = new Map<string, number>();
  await Promise.all(
    calls.map(async (batch) => {
      try {
        await env.PROJECTION_QUEUE.sendBatch(batch.map((m) => textMessage(m.body)));
        count("queueMessagesSent", batch.length);
        count(
          "queueMessageUnits",
          batch.reduce((n, m) => n + queueUnits(m.bytes), 0),
        );
      } catch (error) {
        for (const m of batch) {
          for (const range of m.ranges) {
            const { containerId, fromSeq } = owner.get(range)!;
            failed.set(containerId, Math.min(failed.get(containerId) ?? fromSeq, fromSeq));
          }
        }
        await reportError(env, error, "worker", "projection relay", {
          messages: batch.length,
          containers: failed.size,
        });
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
