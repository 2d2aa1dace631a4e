// What the level says besides when it runs out: theft or a leak (a sudden drop), a sensor stuck on
// one value or far noisier than a sensor should be, a refill nobody delivered, a delivery whose
// quantity the level does not show. Pure: the consumption model (forecast.ts) measures the signals
// as each reading applies; these rules turn them into anomalies, at most one open per kind and
// container, each an event in the container's log until an operator dismisses it (a stuck sensor's
// closes by itself when the sensor moves again).
import { z } from "zod";
import { instantText, nullableInstantText } from "./validation";

export const ANOMALY_KINDS = [
  "sudden_drop",
  "stuck_sensor",
  "unexpected_refill",
  "delivery_mismatch",
  "noisy_sensor",
] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** A fall this many points more than the consumption explains, held over two readings within two hours (setting `suddenDrop`). */
export const DEFAULT_SUDDEN_DROP = 8;
/** Within this long of a refill, a delivery is taken to be what refilled it. */
export const DELIVERY_WINDOW_MS = 24 * 3_600_000;
/** A refill within this long of an order's dispatch is that delivery. */
export const DISPATCH_WINDOW_MS = 3 * 24 * 3_600_000;
/** A delivered quantity further than this share from what the level rose by is a mismatch. */
export const DELIVERY_TOLERANCE = 0.1;
/** Stuck: the same value this many readings in a row, over at least a day, while the model expects a fall of STUCK_FALL points. */
export const STUCK_READINGS = 12;
export const STUCK_MS = 24 * 3_600_000;
export const STUCK_FALL = 2;
/**
 * Noisy: a reading's noise (from the steps between hourly means over the last two weeks, the trend
 * taken out) far beyond the fleet's usual — NOISY_FACTOR times the median of the fleet's sensors
 * (`fleetNoise`, carried to each container by workers/fleet-noise.ts) — and never below NOISY_FLOOR
 * points, which any level sensor may scatter. Until the fleet has FLEET_NOISE_MIN sensors whose noise
 * is known, NOISY_SPREAD points: a level sensor reads to a point or two.
 */
export const NOISY_FACTOR = 3;
export const NOISY_FLOOR = 3;
export const NOISY_SPREAD = 4;
export const FLEET_NOISE_MIN = 10;

/** The spread above which a sensor is noisy, given the fleet's usual noise (null: not known yet). */
export function noisyAbove(fleetNoise: number | null): number {
  return fleetNoise === null ? NOISY_SPREAD : Math.max(NOISY_FLOOR, NOISY_FACTOR * fleetNoise);
}

/**
 * The fleet's usual noise: the median of its sensors' (each forecast's `noise`), rounded to a tenth
 * of a point; null with fewer than FLEET_NOISE_MIN known.
 */
export function fleetNoiseOf(noises: readonly number[]): number | null {
  const known = noises.filter((n) => Number.isFinite(n) && n >= 0).sort((a, b) => a - b);
  if (known.length < FLEET_NOISE_MIN) return null;
  const mid = known.length >> 1;
  const median = known.length % 2 === 1 ? known[mid]! : (known[mid - 1]! + known[mid]!) / 2;
  return Math.round(median * 10) / 10;
}

/**
 * Whether a container holding `held` should be told `wanted`: when it holds none, or the two differ
 * by more than a tenth of the larger (so a median that wavers does not rewrite the fleet's settings
 * every ten minutes).
 */
export function fleetNoiseStale(held: number | null, wanted: number | null): boolean {
  if (held === null || wanted === null) return held !== wanted;
  return Math.abs(held - wanted) > 0.1 * Math.max(held, wanted);
}

export const anomalySchema = z
  .object({
    id: z.string(),
    kind: z.enum(ANOMALY_KINDS),
    status: z.enum(["open", "dismissed", "resolved"]),
    raisedAt: instantText,
    measuredAt: nullableInstantText.meta({ description: "The reading that raised it, when one did" }),
    message: z.string().meta({ description: "What was seen, in words" }),
    details: z.record(z.string(), z.union([z.number(), z.string(), z.null()])),
    closedAt: nullableInstantText,
    closedBy: z.string().nullable(),
  })
  .meta({ id: "Anomaly", description: "Something the level shows that consumption does not explain" });
export type Anomaly = z.infer<typeof anomalySchema>;

/** What the model measured as a reading applied (forecast.ts `observe`). */
export interface Signals {
  /**
   * The model knew this container's consumption before the reading (a fit over a day or more of its
   * segment): without that, nothing it measures says anything unusual, and no anomaly is raised.
   */
  established: boolean;
  /** The reading is a refill: it rose this many points above the level before it. */
  refillRise: number | null;
  /** Two readings in a row this many points below what the consumption explains, the first at `since`. */
  drop: { points: number; since: number } | null;
  /** The sensor has repeated one value this many readings since `since`, while the model expected `expectedFall` points. */
  stuck: { count: number; since: number; expectedFall: number } | null;
  /** A reading's noise (points), once the fit spans two days. */
  spread: number | null;
}

/** What the rules need of the container. */
export interface AnomalyContext {
  open: readonly Anomaly[];
  capacity: number | null;
  unit: string | null;
  suddenDrop: number;
  /** The fleet's usual reading noise (points), when known. */
  fleetNoise: number | null;
  activeFulfilment: string | null;
  lastDelivery: { orderId: string; at: string; quantity: number } | null;
  /** When an order of this container was last dispatched. */
  lastDispatchAt: string | null;
}

export interface Finding {
  kind: AnomalyKind;
  message: string;
  details: Anomaly["details"];
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/** The anomalies a reading raises (none of a kind already open). */
export function findingsOf(ctx: AnomalyContext, signals: Signals, measuredAt: number): Finding[] {
  const open = new Set(ctx.open.map((a) => a.kind));
  const found: Finding[] = [];
  // Noise is measured over two days of the fit, established or not (a noisy sensor may never be).
  const noisy = noisyAbove(ctx.fleetNoise);
  if (signals.spread !== null && signals.spread > noisy && !open.has("noisy_sensor"))
    found.push({
      kind: "noisy_sensor",
      message:
        ctx.fleetNoise === null
          ? `The sensor's readings scatter ${round1(signals.spread)} points around the trend (a sensor reads to a point or two)`
          : `The sensor's readings scatter ${round1(signals.spread)} points around the trend, ${round1(signals.spread / Math.max(ctx.fleetNoise, 0.1))} times the fleet's usual ${round1(ctx.fleetNoise)}`,
      details: { spread: round1(signals.spread), fleetNoise: ctx.fleetNoise, above: round1(noisy) },
    });
  if (!signals.established) return found;
  if (signals.drop && signals.drop.points >= ctx.suddenDrop)
    found.push({
      kind: "sudden_drop",
      message: `The level fell ${round1(signals.drop.points)} points more than its consumption explains: a theft or a leak?`,
      details: { points: round1(signals.drop.points), since: new Date(signals.drop.since).toISOString() },
    });
  if (signals.stuck && signals.stuck.count >= STUCK_READINGS && measuredAt - signals.stuck.since >= STUCK_MS)
    if (signals.stuck.expectedFall >= STUCK_FALL)
      found.push({
        kind: "stuck_sensor",
        message: `The sensor has read the same value ${signals.stuck.count} times since ${new Date(signals.stuck.since).toISOString()}, while the level should have fallen about ${round1(signals.stuck.expectedFall)} points`,
        details: {
          readings: signals.stuck.count,
          since: new Date(signals.stuck.since).toISOString(),
          expectedFall: round1(signals.stuck.expectedFall),
        },
      });
  if (signals.refillRise !== null) {
    const delivered = ctx.lastDelivery && measuredAt - Date.parse(ctx.lastDelivery.at) <= DELIVERY_WINDOW_MS;
    // A dispatched order may have been closed by a reading above the threshold before the truck
    // came, and another opened since: a dispatch in the last days still explains a refill.
    const dispatched = ctx.lastDispatchAt !== null && measuredAt - Date.parse(ctx.lastDispatchAt) <= DISPATCH_WINDOW_MS;
    if (!delivered && !dispatched && ctx.activeFulfilment !== "dispatched" && ctx.activeFulfilment !== "delivered")
      found.push({
        kind: "unexpected_refill",
        message: `The level rose ${round1(signals.refillRise)} points with no order dispatched or delivered`,
        details: { rise: round1(signals.refillRise), fulfilment: ctx.activeFulfilment },
      });
    else if (delivered) {
      const mismatch = deliveryMismatch(ctx, ctx.lastDelivery!, signals.refillRise);
      if (mismatch) found.push(mismatch);
    }
  }
  return found.filter((f) => !open.has(f.kind));
}

/**
 * A delivery whose quantity differs from the rise the level shows (× capacity) by more than
 * DELIVERY_TOLERANCE of it; null when they agree or the container has no capacity to compare with.
 */
export function deliveryMismatch(
  ctx: Pick<AnomalyContext, "capacity" | "unit">,
  delivery: { orderId: string; quantity: number },
  risePoints: number,
): Finding | null {
  if (ctx.capacity === null || !(delivery.quantity > 0)) return null;
  const measured = (risePoints * ctx.capacity) / 100;
  if (Math.abs(delivery.quantity - measured) <= DELIVERY_TOLERANCE * delivery.quantity) return null;
  const unit = ctx.unit ?? "units";
  return {
    kind: "delivery_mismatch",
    message: `Order ${delivery.orderId} was reported delivered with ${round1(delivery.quantity)} ${unit}; the level rose by ${round1(measured)} ${unit}`,
    details: {
      orderId: delivery.orderId,
      delivered: round1(delivery.quantity),
      measured: round1(measured),
      unit,
    },
  };
}
