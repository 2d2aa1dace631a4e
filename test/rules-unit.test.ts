import { describe, expect, it } from "vitest";
import {
  decideManualClose,
  decideManualOpen,
  decideReading,
  decideSettings,
  emptyContainer,
  evolve,
  replay,
  type ContainerChange,
  type ContainerEvent,
  type ContainerState,
  type Reading,
} from "../domain/container";

const T0 = Date.parse("2026-03-01T00:00:00Z");

function reading(fill: number, secondsAfter: number, id = `r${secondsAfter}`): Reading {
  return {
    readingId: id,
    containerId: "tank-1",
    fillPercent: fill,
    location: { lat: 1, lon: 2 },
    measuredAt: T0 + secondsAfter * 1000,
    clockSkewMs: 0,
    fingerprint: `${fill}`,
  };
}

let orderSeq = 0;
const ctx = () => ({ receivedAt: T0 + 3_600_000, now: T0 + 3_600_000, newOrderId: () => `ord_${++orderSeq}` });

function apply(state: ContainerState, changes: ContainerChange[]): ContainerState {
  return changes.reduce((s, change) => evolve(s, { ...change, seq: s.version + 1 }), state);
}

/** Feed readings (fill, second) and manual commands through the rules; return the final state and every change. */
function run(
  steps: Array<number | [number, number] | "open" | "close" | { threshold: number }>,
  start = emptyContainer("tank-1"),
) {
  let state = start;
  let second = 0;
  const changes: ContainerChange[] = [];
  for (const step of steps) {
    let next: ContainerChange[] = [];
    if (step === "open") {
      const d = decideManualOpen(state, "op@x", { now: T0, newOrderId: () => `ord_${++orderSeq}` });
      if (d.ok) next = [d.change];
    } else if (step === "close") {
      const active = state.activeOrder;
      const d = decideManualClose(state, active?.id ?? "ord_none", active, "op@x", T0);
      if (d.ok) next = [d.change];
    } else if (typeof step === "object" && !Array.isArray(step)) {
      next = decideSettings(state, step);
    } else {
      const [fill, at] = Array.isArray(step) ? step : [step, ++second];
      second = Math.max(second, at);
      next = decideReading(state, reading(fill, at, `r${changes.length}-${at}`), ctx());
    }
    changes.push(...next);
    state = apply(state, next);
  }
  return { state, types: changes.map((c) => c.type + (c.type === "reading.recorded" ? `:${c.outcome}` : "")) };
}

describe("one reading against the threshold (T = 50)", () => {
  const cases: Array<{ name: string; steps: Parameters<typeof run>[0]; active: boolean; last: string[] }> = [
    { name: "below opens an order", steps: [49.9], active: true, last: ["reading.recorded:applied", "order.opened"] },
    { name: "equal changes nothing", steps: [50], active: false, last: ["reading.recorded:applied"] },
    { name: "above with no order changes nothing", steps: [80], active: false, last: ["reading.recorded:applied"] },
    { name: "below again keeps the one order", steps: [30, 20], active: true, last: ["reading.recorded:applied"] },
    { name: "equal leaves an open order open", steps: [30, 50], active: true, last: ["reading.recorded:applied"] },
    {
      name: "above closes an order opened below",
      steps: [30, 50.1],
      active: false,
      last: ["reading.recorded:applied", "order.closed"],
    },
    { name: "0 opens, 100 closes", steps: [0, 100], active: false, last: ["reading.recorded:applied", "order.closed"] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { state, types } = run(c.steps);
      expect(state.activeOrder !== null).toBe(c.active);
      expect(types.slice(-c.last.length)).toEqual(c.last);
    });
  }

  it("records the fill at open and at close", () => {
    const { state } = run([42]);
    expect(state.activeOrder).toMatchObject({
      source: "auto",
      fillAtOpen: 42,
      status: "active",
      fulfilment: "pending",
    });
  });
});

describe("ordering and staleness", () => {
  it("a reading older than the newest applied one is stale and moves nothing", () => {
    const { state, types } = run([
      [80, 10],
      [10, 5],
    ]);
    expect(types.at(-1)).toBe("reading.recorded:stale");
    expect(state.fillPercent).toBe(80);
    expect(state.activeOrder).toBeNull();
  });

  it("a stale reading cannot close an order", () => {
    const { state } = run([
      [30, 10],
      [90, 5],
    ]);
    expect(state.activeOrder).not.toBeNull();
    expect(state.fillPercent).toBe(30);
  });

  it("a reading with the same measuredAt as the newest applies", () => {
    const { state, types } = run([
      [80, 10],
      [30, 10],
    ]);
    expect(types.slice(-2)).toEqual(["reading.recorded:applied", "order.opened"]);
    expect(state.fillPercent).toBe(30);
  });

  it("a stale reading still counts as seen", () => {
    let state = emptyContainer("tank-1");
    state = apply(
      state,
      decideReading(state, reading(80, 10), { receivedAt: T0 + 10_000, now: T0 + 10_000, newOrderId: () => "o" }),
    );
    state = apply(
      state,
      decideReading(state, reading(80, 5, "late"), {
        receivedAt: T0 + 20_000,
        now: T0 + 20_000,
        newOrderId: () => "o",
      }),
    );
    expect(state.lastSeenAt).toBe(new Date(T0 + 20_000).toISOString());
    expect(state.measuredAt).toBe(new Date(T0 + 10_000).toISOString());
  });
});

describe("manual orders", () => {
  it("a manual create is refused while an order is active, with that order", () => {
    const { state } = run([30]);
    const d = decideManualOpen(state, "op@x", { now: T0, newOrderId: () => "ord_new" });
    expect(d).toEqual({ ok: false, conflict: state.activeOrder });
  });

  it("a manual order opened above the threshold is not closed by readings above it", () => {
    const { state } = run([70, "open", 80, 95]);
    expect(state.activeOrder).toMatchObject({ source: "manual", fillAtOpen: 70 });
  });

  it("a manual order opened below the threshold closes when the fill rises above it", () => {
    const { state, types } = run([50, 40, "close", "open", 60]);
    expect(types.at(-1)).toBe("order.closed");
    expect(state.activeOrder).toBeNull();
  });

  it("a manual order on a container that never reported has no fill at open and waits for a person", () => {
    const { state } = run(["open", 90]);
    expect(state.activeOrder).toMatchObject({ fillAtOpen: null });
  });

  it("closing an order that is not active is refused; an unknown one is not found", () => {
    const { state } = run([30, 60]);
    const closed = { ...state, activeOrder: null };
    const knownClosed = { id: "ord_x", status: "closed" } as never;
    expect(decideManualClose(closed, "ord_x", knownClosed, "op", T0)).toMatchObject({
      ok: false,
      reason: "not_active",
    });
    expect(decideManualClose(closed, "ord_y", null, "op", T0)).toEqual({ ok: false, reason: "not_found" });
  });
});

describe("the latch after a manual close", () => {
  it("readings below the threshold do not reopen until one reads above it", () => {
    const { state, types } = run([30, "close", 20, 10, 50]);
    expect(state.activeOrder).toBeNull();
    expect(state.autoOpenArmed).toBe(false);
    expect(types.filter((t) => t === "order.opened")).toHaveLength(1);
  });

  it("a reading above the threshold re-arms, and the next one below opens again", () => {
    const { state, types } = run([30, "close", 20, 60, 40]);
    expect(state.activeOrder).toMatchObject({ source: "auto", fillAtOpen: 40 });
    expect(types.filter((t) => t === "order.opened")).toHaveLength(2);
  });

  it("a stale reading above the threshold does not re-arm", () => {
    const { state } = run([[30, 10], "close", [90, 5], [20, 11]]);
    expect(state.autoOpenArmed).toBe(false);
    expect(state.activeOrder).toBeNull();
  });

  it("an automatic close does not disarm", () => {
    const { state } = run([30, 70, 20]);
    expect(state.activeOrder).toMatchObject({ fillAtOpen: 20 });
  });
});

describe("threshold changes", () => {
  it("the new threshold decides the next reading", () => {
    const { state } = run([{ threshold: 20 }, 30]);
    expect(state.activeOrder).toBeNull();
    const lowered = run([{ threshold: 80 }, 70]);
    expect(lowered.state.activeOrder).toMatchObject({ fillAtOpen: 70 });
  });

  it("a change alone opens and closes nothing", () => {
    const { state, types } = run([60, { threshold: 70 }]);
    expect(types.at(-1)).toBe("settings.changed");
    expect(state.activeOrder).toBeNull();
  });

  // Auto-close judges an order by the threshold in force when it opened (thresholdAtOpen), and the
  // fill against the threshold now: a threshold change never strands an order.
  const closing: Array<{ name: string; steps: Parameters<typeof run>[0]; active: boolean }> = [
    {
      name: "T 70, fill 65 opens; T lowered to 20; fill 80 closes it",
      steps: [{ threshold: 70 }, 65, { threshold: 20 }, 80],
      active: false,
    },
    {
      name: "T 70, fill 65 opens; T lowered to 20; fill 50 (above 20) closes it",
      steps: [{ threshold: 70 }, 65, { threshold: 20 }, 50],
      active: false,
    },
    {
      name: "T 70, fill 65 opens; T lowered to 20; fill 15 leaves it open",
      steps: [{ threshold: 70 }, 65, { threshold: 20 }, 15],
      active: true,
    },
    {
      name: "T 50, fill 40 opens; T raised to 70; fill 60 does not close it",
      steps: [40, { threshold: 70 }, 60],
      active: true,
    },
    {
      name: "T 50, fill 40 opens; T raised to 70; fill 75 closes it",
      steps: [40, { threshold: 70 }, 60, 75],
      active: false,
    },
    {
      name: "T 50, fill 40 opens; T raised to 70; fill 70 (equal) leaves it",
      steps: [40, { threshold: 70 }, 70],
      active: true,
    },
    { name: "a manual order opened above T is never auto-closed", steps: [70, "open", 90, 100], active: true },
    {
      name: "a manual order opened above T, then T raised above its fill, is still not auto-closed",
      steps: [70, "open", { threshold: 80 }, 90],
      active: true,
    },
    {
      name: "a manual order opened below T closes like an automatic one",
      steps: [30, "close", 20, "open", 60],
      active: false,
    },
  ];
  for (const c of closing) {
    it(c.name, () => {
      const { state } = run(c.steps);
      expect(state.activeOrder !== null).toBe(c.active);
    });
  }

  it("an order keeps the threshold it opened under", () => {
    const { state } = run([{ threshold: 70 }, 65, { threshold: 20 }]);
    expect(state.activeOrder).toMatchObject({ fillAtOpen: 65, thresholdAtOpen: 70 });
    expect(state.threshold).toBe(20);
  });

  it("setting the same values again records nothing", () => {
    expect(decideSettings(emptyContainer("t"), { threshold: 50, name: null })).toEqual([]);
  });
});

describe("replay", () => {
  it("rebuilds the same state from the log", () => {
    let state = emptyContainer("tank-1");
    const log: ContainerEvent[] = [];
    const steps: Array<() => ContainerChange[]> = [
      () => decideReading(state, reading(30, 1), ctx()),
      () => decideSettings(state, { threshold: 40, name: "North silo" }),
      () => decideReading(state, reading(60, 2), ctx()),
      () => decideReading(state, reading(20, 3), ctx()),
      () => {
        const d = decideManualClose(state, state.activeOrder!.id, state.activeOrder, "op", T0);
        return d.ok ? [d.change] : [];
      },
      () => decideReading(state, reading(10, 1, "late"), ctx()),
    ];
    for (const step of steps) {
      for (const change of step()) {
        const event = {
          ...change,
          seq: state.version + 1,
          id: `e${state.version}`,
          containerId: "tank-1",
          at: "",
          actor: { kind: "system", id: "t" },
          readingId: null,
        } as ContainerEvent;
        log.push(event);
        state = evolve(state, event);
      }
    }
    // The live container's forecast is the model's over the applied readings ("late" is stale): 30
    // to 60 is a refill, so two since.
    expect(replay("tank-1", log)).toEqual({
      ...state,
      forecast: expect.objectContaining({ status: "too_few_readings", readings: 2 }),
    });
    expect(state).toMatchObject({
      threshold: 40,
      name: "North silo",
      fillPercent: 20,
      autoOpenArmed: false,
      activeOrder: null,
    });
  });
});
