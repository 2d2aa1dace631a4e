// What a container's page says in words, worked out apart from the page so it can be tested alone.

interface HintedContainer {
  threshold: number;
  fillPercent: number | null;
  activeOrder: { fillAtOpen: number | null; thresholdAtOpen: number | null } | null;
}

/**
 * What a new threshold will do, before it is saved: an active order that opened below the
 * threshold of its time closes with the next reading above the new one; with no order, a threshold
 * above today's fill opens one with the next reading.
 */
export function thresholdHint(c: HintedContainer, next: number): string {
  if (!Number.isFinite(next) || next === c.threshold || c.fillPercent === null)
    return "An order opens when the fill falls below it, and closes when the fill is back above it.";
  const order = c.activeOrder;
  const closesOnLevel =
    order !== null &&
    order.fillAtOpen !== null &&
    order.thresholdAtOpen !== null &&
    order.fillAtOpen < order.thresholdAtOpen;
  if (next < c.fillPercent && closesOnLevel)
    return `Below today's fill (${c.fillPercent} %): the active order closes with the next reading above ${next} %.`;
  if (next > c.fillPercent && order === null)
    return `Above today's fill (${c.fillPercent} %): an order opens with the next reading below ${next} %.`;
  return "The next reading is judged against it.";
}

/**
 * Who opened or closed an order, in words: a reading (the container decided on it), the system, a
 * partner, or a person.
 */
export function whoActed(by: string): string {
  if (by.startsWith("reading:")) return "by the container, on a reading";
  if (by.startsWith("system:") || by === "system") return "by the system";
  if (by.startsWith("partner:")) return `by partner ${by.slice("partner:".length)}`;
  return by ? `by ${by}` : "";
}
