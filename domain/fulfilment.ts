// Where an order's delivery stands, and what may move it: the partner (accepted, rejected,
// dispatched, delivered, cancelled), assemblers (lines, assembling, dispatched), and the container's
// own rules (a delivery or a cancellation closes a still-active order). Pure: the ContainerDO feeds
// each command through these and logs the changes they return.
import type { DeliveryCorrected, FulfilmentChanged, FulfilmentDetails, LinesSet } from "./events";
import { FULFILMENT_CHAIN, type Fulfilment, type Order, type OrderLine } from "./order";

export { FULFILMENT_CHAIN, FULFILMENT_ENDS, FULFILMENTS } from "./order";
export type { DeliveryCorrected, FulfilmentChanged, FulfilmentDetails, LinesSet } from "./events";

/** What the fulfilment rules read of a container. */
export interface ContainerView {
  activeOrder: Order | null;
  fillPercent: number | null;
  capacity: number | null;
  contents: string | null;
  unit: string | null;
}

const rank = (f: Fulfilment) => (FULFILMENT_CHAIN as readonly Fulfilment[]).indexOf(f);

export function isFinal(f: Fulfilment): boolean {
  return f === "delivered" || f === "rejected" || f === "cancelled";
}

/** Whether `to` may follow `from` (a repeat of the same step is not a move; callers answer it as done). */
export function mayMove(from: Fulfilment, to: Fulfilment): boolean {
  if (isFinal(from)) return false;
  if (to === "rejected" || to === "cancelled") return true;
  return rank(to) > rank(from);
}

/** Lines may change until the goods leave. */
export const linesEditable = (f: Fulfilment) => f === "pending" || f === "accepted" || f === "assembling";

/**
 * The goods a new order proposes: what fills the container back up, `capacity × (1 − fill/100)` of
 * its contents, in its unit. Nothing to propose without a capacity, a fill or contents.
 */
export function proposedLines(
  state: Pick<ContainerView, "capacity" | "fillPercent" | "contents" | "unit">,
): OrderLine[] {
  if (state.capacity === null || state.fillPercent === null || !state.contents) return [];
  const quantity = Math.round(state.capacity * (1 - state.fillPercent / 100) * 100) / 100;
  return quantity > 0 ? [{ product: state.contents, quantity, unit: state.unit ?? "units" }] : [];
}

export type FulfilmentDecision =
  | { ok: true; changes: (FulfilmentChanged | OrderClosedByFulfilment)[] }
  | { ok: false; reason: "not_found" | "illegal" | "other_partner"; order?: Order }
  | { ok: false; reason: "differs"; order: Order; what: string };

/**
 * What differs between a step the order has taken and the same step asked again, in words, or
 * null when it is the same step (a retry, answered as done). A second delivery with another
 * quantity or a dispatch with another vehicle is not silently taken as a repeat.
 */
export function repeatDiffers(known: Order, command: FulfilmentDetails & { to: Fulfilment }): string | null {
  const differs: string[] = [];
  const { eta = null, vehicle = null, deliveryNote = null, delivered = [], fulfilmentReason = null } = known;
  if (typeof command.eta === "string" && eta !== null && Date.parse(command.eta) !== Date.parse(eta))
    differs.push(`eta ${eta}`);
  if (command.vehicle !== undefined && vehicle !== null && command.vehicle !== vehicle)
    differs.push(`vehicle ${vehicle}`);
  if (command.deliveryNote !== undefined && deliveryNote !== null && command.deliveryNote !== deliveryNote)
    differs.push(`delivery note ${deliveryNote}`);
  if (
    command.delivered !== undefined &&
    delivered.length > 0 &&
    JSON.stringify(command.delivered) !== JSON.stringify(delivered)
  )
    differs.push(`lines ${delivered.map((l) => `${l.quantity} ${l.unit} of ${l.product}`).join(", ")}`);
  if (command.reason !== undefined && fulfilmentReason !== null && command.reason !== fulfilmentReason)
    differs.push(`reason “${fulfilmentReason}”`);
  return differs.length === 0 ? null : `order ${known.id} is already ${known.fulfilment} with ${differs.join("; ")}`;
}

/** The close a delivery or an end causes, in the shape of the container's own order.closed. */
export interface OrderClosedByFulfilment {
  type: "order.closed";
  orderId: string;
  closedAt: string;
  closedBy: string;
  closeReason: "delivered" | "cancelled";
  fillAtClose: number | null;
}

export interface FulfilmentCommand extends FulfilmentDetails {
  to: Fulfilment;
  /** The partner asking, or null for people (assemblers, operators). */
  partnerId: string | null;
  by: string;
  now: number;
}

/**
 * Move `known` (the order as stored) to `command.to`. A repeat of the step it is at changes nothing
 * and succeeds; a move the chain does not allow, or by a partner that is not the order's, is refused
 * with the order as it is. `delivered` closes a still-active order (reason `delivered`);
 * `rejected` / `cancelled` close it with reason `cancelled`, and auto-open stays armed.
 */
export function decideFulfilment(
  state: Pick<ContainerView, "activeOrder" | "fillPercent">,
  known: Order | null,
  command: FulfilmentCommand,
): FulfilmentDecision {
  if (known === null) return { ok: false, reason: "not_found" };
  if (command.partnerId !== null && known.partnerId !== null && known.partnerId !== command.partnerId)
    return { ok: false, reason: "other_partner", order: known };
  if (known.fulfilment === command.to) {
    const what = repeatDiffers(known, command);
    return what === null ? { ok: true, changes: [] } : { ok: false, reason: "differs", order: known, what };
  }
  if (!mayMove(known.fulfilment, command.to)) return { ok: false, reason: "illegal", order: known };
  const at = new Date(command.now).toISOString();
  const changed: FulfilmentChanged = {
    type: "order.fulfilment_changed",
    orderId: known.id,
    from: known.fulfilment,
    to: command.to,
    changedAt: at,
    partnerId: command.partnerId,
    ...(command.eta !== undefined ? { eta: command.eta } : {}),
    ...(command.vehicle !== undefined ? { vehicle: command.vehicle } : {}),
    ...(command.deliveryNote !== undefined ? { deliveryNote: command.deliveryNote } : {}),
    ...(command.delivered !== undefined ? { delivered: command.delivered } : {}),
    ...(command.reason !== undefined ? { reason: command.reason } : {}),
  };
  const changes: (FulfilmentChanged | OrderClosedByFulfilment)[] = [changed];
  const closes =
    command.to === "delivered"
      ? "delivered"
      : command.to === "rejected" || command.to === "cancelled"
        ? "cancelled"
        : null;
  if (closes && state.activeOrder?.id === known.id) {
    changes.push({
      type: "order.closed",
      orderId: known.id,
      closedAt: at,
      closedBy: command.by,
      closeReason: closes,
      fillAtClose: state.fillPercent,
    });
  }
  return { ok: true, changes };
}

export type LinesDecision =
  { ok: true; change: LinesSet | null } | { ok: false; reason: "not_found" | "illegal"; order?: Order };

export function decideLines(known: Order | null, lines: OrderLine[]): LinesDecision {
  if (known === null) return { ok: false, reason: "not_found" };
  if (!linesEditable(known.fulfilment)) return { ok: false, reason: "illegal", order: known };
  if (JSON.stringify(known.lines) === JSON.stringify(lines)) return { ok: true, change: null };
  return { ok: true, change: { type: "order.lines_set", orderId: known.id, lines, previous: known.lines } };
}

export interface DeliveryCorrection {
  partnerId: string;
  lines: OrderLine[];
  deliveryNote: string;
  reason: string;
  now: number;
}

export type CorrectionDecision =
  | { ok: true; change: DeliveryCorrected | null }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "illegal" | "other_partner"; order: Order };

/**
 * A partner corrects what it delivered (another quantity, another note): only a delivered order,
 * only by its partner. The same lines and note again change nothing; anything else is a new
 * revision, which reissues the sales document.
 */
export function decideDeliveryCorrection(known: Order | null, c: DeliveryCorrection): CorrectionDecision {
  if (known === null) return { ok: false, reason: "not_found" };
  if (known.partnerId !== c.partnerId) return { ok: false, reason: "other_partner", order: known };
  if (known.fulfilment !== "delivered") return { ok: false, reason: "illegal", order: known };
  const delivered = known.delivered ?? [];
  if (JSON.stringify(delivered) === JSON.stringify(c.lines) && known.deliveryNote === c.deliveryNote)
    return { ok: true, change: null };
  return {
    ok: true,
    change: {
      type: "order.delivery_corrected",
      orderId: known.id,
      correctedAt: new Date(c.now).toISOString(),
      partnerId: c.partnerId,
      lines: c.lines,
      previous: delivered,
      deliveryNote: c.deliveryNote,
      previousNote: known.deliveryNote ?? null,
      reason: c.reason,
      revision: (known.deliveryRevision ?? 0) + 1,
    },
  };
}

/** An order after one of its fulfilment, lines or delivery changes. */
export function applyToOrder(order: Order, change: FulfilmentChanged | LinesSet | DeliveryCorrected): Order {
  if (change.type === "order.lines_set") return { ...order, lines: change.lines };
  if (change.type === "order.delivery_corrected")
    return { ...order, delivered: change.lines, deliveryNote: change.deliveryNote, deliveryRevision: change.revision };
  return {
    ...order,
    fulfilment: change.to,
    fulfilmentAt: change.changedAt,
    ...(change.to === "accepted" && !order.acceptedAt ? { acceptedAt: change.changedAt } : {}),
    ...(change.to === "dispatched" && !order.dispatchedAt ? { dispatchedAt: change.changedAt } : {}),
    partnerId: order.partnerId ?? change.partnerId,
    ...(change.eta !== undefined ? { eta: change.eta } : {}),
    ...(change.vehicle !== undefined ? { vehicle: change.vehicle } : {}),
    ...(change.deliveryNote !== undefined ? { deliveryNote: change.deliveryNote } : {}),
    ...(change.delivered !== undefined ? { delivered: change.delivered, deliveredAt: change.changedAt } : {}),
    ...(change.to === "delivered" && change.delivered === undefined ? { deliveredAt: change.changedAt } : {}),
    ...(change.reason !== undefined ? { fulfilmentReason: change.reason } : {}),
  };
}

/** An order as stored before lines and partners were kept, with their defaults. */
export function withOrderDefaults(order: Order): Order {
  return {
    ...order,
    partnerId: order.partnerId ?? null,
    lines: order.lines ?? [],
    eta: order.eta ?? null,
    vehicle: order.vehicle ?? null,
    deliveryNote: order.deliveryNote ?? null,
    delivered: order.delivered ?? [],
    deliveredAt: order.deliveredAt ?? null,
    fulfilmentReason: order.fulfilmentReason ?? null,
    fulfilmentAt: order.fulfilmentAt ?? null,
    acceptedAt: order.acceptedAt ?? null,
    dispatchedAt: order.dispatchedAt ?? null,
  };
}
