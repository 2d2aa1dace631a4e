// Where an order's delivery stands and what may move it (DESIGN: "Orders: status and fulfilment").
import { describe, expect, it } from "vitest";
import {
  decideReading,
  emptyContainer,
  evolve,
  type ContainerChange,
  type ContainerState,
  type Fulfilment,
  type Order,
} from "../domain/container";
import {
  applyToOrder,
  decideFulfilment,
  decideLines,
  FULFILMENTS,
  mayMove,
  proposedLines,
  repeatDiffers,
} from "../domain/fulfilment";

const T0 = Date.parse("2026-03-01T00:00:00Z");
let ids = 0;

function apply(state: ContainerState, changes: ContainerChange[]): ContainerState {
  return changes.reduce((s, change) => evolve(s, { ...change, seq: s.version + 1 }), state);
}

/** A container whose fill just dropped to `fill` (threshold 50, capacity 10,000 l of diesel): an order is open. */
function withOpenOrder(fill = 30): { state: ContainerState; order: Order } {
  let state = apply(emptyContainer("tank-1"), [
    { type: "settings.changed", changes: { capacity: 10_000, unit: "l" }, previous: {} },
  ]);
  const changes = decideReading(
    state,
    {
      readingId: `r${++ids}`,
      containerId: "tank-1",
      fillPercent: fill,
      contents: "diesel",
      measuredAt: T0,
      clockSkewMs: 0,
      fingerprint: "x",
    },
    { receivedAt: T0, now: T0, newOrderId: () => `ord_${++ids}` },
  );
  state = apply(state, changes);
  return { state, order: state.activeOrder! };
}

const move = (state: ContainerState, order: Order, to: Fulfilment, partnerId: string | null = "acme") =>
  decideFulfilment(state, order, { to, partnerId, by: partnerId ? `partner:${partnerId}` : "ann@x", now: T0 + 60_000 });

describe("the fulfilment chain", () => {
  it("moves only forward, and ends (rejected, cancelled) only before delivered", () => {
    const allowed = FULFILMENTS.flatMap((from) =>
      FULFILMENTS.filter((to) => to !== from && mayMove(from, to)).map((to) => `${from}→${to}`),
    );
    expect(allowed).toEqual([
      "pending→accepted",
      "pending→assembling",
      "pending→dispatched",
      "pending→delivered",
      "pending→rejected",
      "pending→cancelled",
      "accepted→assembling",
      "accepted→dispatched",
      "accepted→delivered",
      "accepted→rejected",
      "accepted→cancelled",
      "assembling→dispatched",
      "assembling→delivered",
      "assembling→rejected",
      "assembling→cancelled",
      "dispatched→delivered",
      "dispatched→rejected",
      "dispatched→cancelled",
    ]);
  });

  it("a repeated step changes nothing and succeeds; an illegal one is refused with the order as it is", () => {
    const { state, order } = withOpenOrder();
    expect(move(state, { ...order, fulfilment: "accepted" }, "accepted")).toEqual({ ok: true, changes: [] });
    expect(move(state, { ...order, fulfilment: "delivered" }, "assembling")).toMatchObject({
      ok: false,
      reason: "illegal",
      order: { fulfilment: "delivered" },
    });
    expect(move(state, { ...order, fulfilment: "cancelled" }, "accepted")).toMatchObject({
      ok: false,
      reason: "illegal",
    });
  });

  it("a partner may not move another partner's order", () => {
    const { state, order } = withOpenOrder();
    expect(move(state, { ...order, partnerId: "other" }, "accepted", "acme")).toMatchObject({
      ok: false,
      reason: "other_partner",
    });
  });

  it("delivered closes a still-active order (reason delivered); cancelled closes it (reason cancelled) and leaves auto-open armed", () => {
    const { state, order } = withOpenOrder();
    const delivered = move(state, order, "delivered");
    expect(delivered.ok && delivered.changes.map((c) => c.type)).toEqual(["order.fulfilment_changed", "order.closed"]);
    expect(delivered.ok && delivered.changes[1]).toMatchObject({ closeReason: "delivered", fillAtClose: 30 });

    const cancelled = move(state, order, "cancelled");
    expect(cancelled.ok && cancelled.changes[1]).toMatchObject({ closeReason: "cancelled" });
    const after = apply(state, cancelled.ok ? cancelled.changes : []);
    expect(after.activeOrder).toBeNull();
    expect(after.autoOpenArmed).toBe(true);
    // The next low reading orders again.
    const next = decideReading(
      after,
      {
        readingId: "again",
        containerId: "tank-1",
        fillPercent: 29,
        measuredAt: T0 + 120_000,
        clockSkewMs: 0,
        fingerprint: "y",
      },
      { receivedAt: T0 + 120_000, now: T0 + 120_000, newOrderId: () => "ord_next" },
    );
    expect(next.map((c) => c.type)).toEqual(["reading.recorded", "order.opened"]);
  });

  it("an order closed by a high reading can still be delivered, closing nothing more", () => {
    const { state, order } = withOpenOrder();
    const closedState = { ...state, activeOrder: null };
    const delivered = move(
      closedState,
      { ...order, status: "closed", closeReason: "fill_above_threshold" },
      "delivered",
    );
    expect(delivered.ok && delivered.changes.map((c) => c.type)).toEqual(["order.fulfilment_changed"]);
  });

  it("the first partner to move an order becomes its partner; dispatch and delivery details are kept", () => {
    const { state, order } = withOpenOrder();
    const accepted = move(state, order, "accepted");
    const afterAccept = applyToOrder(order, accepted.ok ? (accepted.changes[0] as never) : (null as never));
    expect(afterAccept).toMatchObject({ fulfilment: "accepted", partnerId: "acme" });
    const dispatched = decideFulfilment(state, afterAccept, {
      to: "dispatched",
      partnerId: "acme",
      by: "partner:acme",
      now: T0,
      eta: "2026-03-01T08:00:00.000Z",
      vehicle: "ZH 123",
    });
    const afterDispatch = applyToOrder(afterAccept, dispatched.ok ? (dispatched.changes[0] as never) : (null as never));
    expect(afterDispatch).toMatchObject({
      fulfilment: "dispatched",
      eta: "2026-03-01T08:00:00.000Z",
      vehicle: "ZH 123",
    });

    // The same step again: as before it is done already; with other details it is refused, saying what it was.
    const again = (details: object) =>
      decideFulfilment(state, afterDispatch, {
        to: "dispatched",
        partnerId: "acme",
        by: "partner:acme",
        now: T0,
        ...details,
      });
    expect(again({ eta: "2026-03-01T08:00:00Z", vehicle: "ZH 123" })).toEqual({ ok: true, changes: [] });
    expect(again({ eta: "2026-03-01T08:00:00.000Z", vehicle: "ZH 999" })).toEqual({
      ok: false,
      reason: "differs",
      order: afterDispatch,
      what: `order ${order.id} is already dispatched with vehicle ZH 123`,
    });
    expect(repeatDiffers(afterDispatch, { to: "dispatched", eta: "2026-03-02T08:00:00Z", vehicle: "ZH 9" })).toBe(
      `order ${order.id} is already dispatched with eta 2026-03-01T08:00:00.000Z; vehicle ZH 123`,
    );
  });
});

describe("lines", () => {
  it("a new order proposes capacity × (1 − fill/100) of the contents, in the container's unit", () => {
    expect(withOpenOrder(30).order.lines).toEqual([{ product: "diesel", quantity: 7000, unit: "l" }]);
    expect(proposedLines({ capacity: null, fillPercent: 30, contents: "diesel", unit: null })).toEqual([]);
    expect(proposedLines({ capacity: 12, fillPercent: 33.3, contents: "pellets", unit: null })).toEqual([
      { product: "pellets", quantity: 8, unit: "units" },
    ]);
  });

  it("are set until dispatched, and a set of the same lines changes nothing", () => {
    const { order } = withOpenOrder();
    const lines = [{ product: "diesel", quantity: 6500, unit: "l" }];
    expect(decideLines({ ...order, fulfilment: "assembling" }, lines)).toMatchObject({
      ok: true,
      change: { type: "order.lines_set", lines, previous: order.lines },
    });
    expect(decideLines(order, order.lines)).toEqual({ ok: true, change: null });
    expect(decideLines({ ...order, fulfilment: "dispatched" }, lines)).toMatchObject({ ok: false, reason: "illegal" });
  });
});
