// The container rules, free of any platform API. A ContainerDO feeds every command through one of
// the `decide*` functions, which return the events the command causes; `evolve` folds an event into
// the state. The same `evolve` rebuilds a container from its event log (`replay`), so the log is the
// audit trail and the source of truth at once.

import type {
  ContainerChange,
  ContainerEvent,
  ContainerState,
  Location,
  OrderClosed,
  OrderOpened,
  ReadingOutcome,
  ReadingRecorded,
  SettingsChanged,
} from "./events";
import { DEFAULT_SUDDEN_DROP, deliveryMismatch, findingsOf, type Anomaly, type Finding } from "./anomalies";
import {
  DEFAULT_REFILL_RISE,
  emptyWindow,
  estimate,
  HOUR_MS,
  observe,
  type ConsumptionWindow,
  type Forecast,
  type Observed,
} from "./forecast";
import { applyToOrder, proposedLines } from "./fulfilment";
import type { Order, OrderLine } from "./order";

export const DEFAULT_THRESHOLD = 50;
/** How often a sensor is expected to report when its container's settings say nothing. */
export const DEFAULT_REPORT_INTERVAL_SECONDS = 3600;

/**
 * A reading as validated at the edge; times are epoch milliseconds. `readingId` is always set: the
 * sensor's own, else derived from `measuredAt` (`at:<UTC time>`), else made up at the edge (such a
 * reading cannot be deduplicated). `measuredAt` is the time the rules use: the sensor's, or the time
 * received when the sensor sent none or one ahead of the receiving clock (`clockSkewMs` says how far).
 */
export interface Reading {
  readingId: string;
  containerId: string;
  fillPercent: number;
  contents?: string | undefined;
  /** Omitted: the container's registered location stands in. */
  location?: Location | undefined;
  battery?: number | undefined;
  measuredAt: number;
  /** How far ahead of the receiving clock the sensor's `measuredAt` was; 0 when it was not. */
  clockSkewMs: number;
  /** What the sensor sent, to tell a retry from a different reading under the same key. */
  fingerprint: string;
}

export type { CloseReason, Fulfilment, Order, OrderLine, OrderSource, OrderStatus } from "./order";
export type {
  Actor,
  ContainerChange,
  ContainerEvent,
  ContainerState,
  Location,
  OrderClosed,
  OrderOpened,
  ReadingOutcome,
  ReadingRecorded,
  RecordedReading,
  SettingsChanged,
} from "./events";

/** What an admin sets on a container (`PUT /v1/containers/{id}`). */
export interface Settings {
  threshold: number;
  capacity: number | null;
  unit: string | null;
  name: string | null;
  location: Location | null;
  reportIntervalSeconds: number | null;
  leadTimeHours: number | null;
  /** Set by the partner defaults' sync (workers/lead-times.ts), not through the API. */
  partnerLeadTimeHours: number | null;
  /** Set by the fleet noise sync (workers/fleet-noise.ts), not through the API. */
  fleetNoise: number | null;
  refillRise: number;
  suddenDrop: number;
}

/** Where each setting lives in the state. */
const SETTING_FIELDS = {
  threshold: "threshold",
  capacity: "capacity",
  unit: "unit",
  name: "name",
  location: "registeredLocation",
  reportIntervalSeconds: "reportIntervalSeconds",
  leadTimeHours: "leadTimeHours",
  partnerLeadTimeHours: "partnerLeadTimeHours",
  fleetNoise: "fleetNoise",
  refillRise: "refillRise",
  suddenDrop: "suddenDrop",
} as const satisfies Record<keyof Settings, keyof ContainerState>;

export function settingsOf(state: ContainerState): Settings {
  return {
    threshold: state.threshold,
    capacity: state.capacity,
    unit: state.unit,
    name: state.name,
    location: state.registeredLocation,
    reportIntervalSeconds: state.reportIntervalSeconds,
    leadTimeHours: state.leadTimeHours,
    partnerLeadTimeHours: state.partnerLeadTimeHours,
    fleetNoise: state.fleetNoise,
    refillRise: state.refillRise,
    suddenDrop: state.suddenDrop,
  };
}

export function emptyContainer(containerId: string): ContainerState {
  return {
    containerId,
    name: null,
    threshold: DEFAULT_THRESHOLD,
    capacity: null,
    unit: null,
    registeredLocation: null,
    reportIntervalSeconds: null,
    fillPercent: null,
    contents: null,
    location: null,
    battery: null,
    measuredAt: null,
    lastReadingId: null,
    lastSeenAt: null,
    autoOpenArmed: true,
    activeOrder: null,
    leadTimeHours: null,
    partnerLeadTimeHours: null,
    fleetNoise: null,
    refillRise: DEFAULT_REFILL_RISE,
    forecastArmed: true,
    suddenDrop: DEFAULT_SUDDEN_DROP,
    anomalies: [],
    lastRefill: null,
    lastDelivery: null,
    lastDispatchAt: null,
    forecast: null,
    version: 0,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What every new order starts with besides who opened it and when. */
const NEW_ORDER_FIELDS = {
  partnerId: null,
  eta: null,
  vehicle: null,
  deliveryNote: null,
  delivered: [],
  deliveredAt: null,
  fulfilmentReason: null,
  fulfilmentAt: null,
  acceptedAt: null,
  dispatchedAt: null,
} satisfies Partial<Order>;

export interface ReadingContext {
  /** When the worker received the reading; kept on it. */
  receivedAt: number;
  /** The container's clock at commit: the time of the events and orders the reading causes. */
  now: number;
  newOrderId: () => string;
  /** What the consumption model makes of the reading (see `modelSees`); absent for a stale one. */
  model?: ModelView | undefined;
  /** Ids for the anomalies the reading raises. */
  newAnomalyId?: () => string;
}

/** What the consumption model says once it has seen a reading. */
export interface ModelView {
  forecast: Forecast | null;
  refill: boolean;
  signals?: Observed["signals"] | undefined;
}

/** A reading older than the newest applied one changes nothing but the history. */
export function isStale(state: ContainerState, measuredAt: number): boolean {
  return state.measuredAt !== null && measuredAt < Date.parse(state.measuredAt);
}

/** What one reading does to a container. */
export function decideReading(state: ContainerState, reading: Reading, ctx: ReadingContext): ContainerChange[] {
  const outcome: ReadingOutcome = isStale(state, reading.measuredAt) ? "stale" : "applied";
  const refill = outcome === "applied" && ctx.model?.refill === true;
  const rise = ctx.model?.signals?.refillRise ?? null;
  const recorded: ReadingRecorded = {
    type: "reading.recorded",
    outcome,
    ...(refill ? { refill: { rise: Math.round((rise ?? 0) * 10) / 10 } } : {}),
    reading: {
      readingId: reading.readingId,
      fillPercent: reading.fillPercent,
      contents: reading.contents,
      location: reading.location ?? state.registeredLocation,
      battery: reading.battery,
      measuredAt: iso(reading.measuredAt),
      receivedAt: iso(ctx.receivedAt),
      clockSkewMs: reading.clockSkewMs,
    },
    fingerprint: reading.fingerprint,
  };
  if (outcome === "stale") return [recorded];
  return [recorded, ...orderChanges(state, reading, ctx, refill), ...anomalyChanges(state, reading, ctx)];
}

/** The order a reading opens or closes, if any (the rules above, in the README's table). */
function orderChanges(
  state: ContainerState,
  reading: Reading,
  ctx: ReadingContext,
  refill: boolean,
): ContainerChange[] {
  const fill = reading.fillPercent;
  const threshold = state.threshold;
  const active = state.activeOrder;
  const by = `reading:${reading.readingId}`;
  /** An order the reading opens, at its fill and the threshold in force. */
  const opened = (source: "auto" | "forecast", forecast?: Forecast): ContainerChange => ({
    type: "order.opened",
    order: {
      id: ctx.newOrderId(),
      containerId: state.containerId,
      status: "active",
      source,
      openedAt: iso(ctx.now),
      openedBy: by,
      fillAtOpen: fill,
      thresholdAtOpen: threshold,
      closedAt: null,
      closedBy: null,
      closeReason: null,
      fillAtClose: null,
      fulfilment: "pending",
      ...NEW_ORDER_FIELDS,
      lines: proposedLines({ ...state, fillPercent: fill, contents: reading.contents ?? state.contents }),
      ...(forecast ? { forecast } : {}),
    },
  });
  const closed = (closeReason: "fill_above_threshold" | "refilled"): ContainerChange => ({
    type: "order.closed",
    orderId: active!.id,
    closedAt: iso(ctx.now),
    closedBy: by,
    closeReason,
    fillAtClose: fill,
  });
  if (fill < threshold && active === null && state.autoOpenArmed) return [opened("auto")];
  if (fill > threshold && active !== null && openedBelowThreshold(active, threshold))
    return [closed("fill_above_threshold")];
  // An order the forecast opened was opened above the threshold: a refill closes it.
  if (refill && active?.source === "forecast") return [closed("refilled")];
  const forecast = ctx.model?.forecast ?? null;
  if (active === null && forecast !== null && forecastDue(state, forecast, ctx.now, refill))
    return [opened("forecast", forecast)];
  return [];
}

/**
 * The anomalies a reading raises (anomalies.ts), and the stuck-sensor anomaly it resolves by
 * reading another value.
 */
function anomalyChanges(state: ContainerState, reading: Reading, ctx: ReadingContext): ContainerChange[] {
  const signals = ctx.model?.signals;
  if (!signals || !ctx.newAnomalyId) return [];
  const changes: ContainerChange[] = [];
  const stuck = state.anomalies.find((a) => a.kind === "stuck_sensor");
  if (stuck && signals.stuck === null)
    changes.push({
      type: "anomaly.closed",
      anomaly: { ...stuck, status: "resolved", closedAt: iso(ctx.now), closedBy: `reading:${reading.readingId}` },
    });
  const findings = findingsOf(
    {
      open: state.anomalies,
      capacity: state.capacity,
      unit: state.unit,
      suddenDrop: state.suddenDrop,
      fleetNoise: state.fleetNoise ?? null,
      activeFulfilment: state.activeOrder?.fulfilment ?? null,
      lastDelivery: state.lastDelivery,
      lastDispatchAt: state.lastDispatchAt,
    },
    signals,
    reading.measuredAt,
  );
  for (const f of findings) changes.push(raised(f, ctx.newAnomalyId(), ctx.now, reading.measuredAt));
  return changes;
}

function raised(f: Finding, id: string, now: number, measuredAt: number | null): ContainerChange {
  const anomaly: Anomaly = {
    id,
    kind: f.kind,
    status: "open",
    raisedAt: iso(now),
    measuredAt: measuredAt === null ? null : iso(measuredAt),
    message: f.message,
    details: f.details,
    closedAt: null,
    closedBy: null,
  };
  return { type: "anomaly.raised", anomaly };
}

/**
 * When a delivery is reported after the level already rose (within a day): whether the quantity
 * matches the rise (× capacity). The other order, a refill after the delivery, is the reading's.
 */
export function decideDeliveryCheck(
  state: ContainerState,
  order: Order,
  ctx: { now: number; newAnomalyId: () => string },
): ContainerChange[] {
  const refill = state.lastRefill;
  if (!refill || ctx.now - Date.parse(refill.at) > DELIVERY_CHECK_MS) return [];
  if (state.anomalies.some((a) => a.kind === "delivery_mismatch")) return [];
  const quantity = order.delivered.reduce((sum, line) => sum + line.quantity, 0);
  const finding = deliveryMismatch(state, { orderId: order.id, quantity }, refill.rise);
  return finding ? [raised(finding, ctx.newAnomalyId(), ctx.now, null)] : [];
}
const DELIVERY_CHECK_MS = 24 * 3_600_000;

export type DismissDecision = { ok: true; change: ContainerChange } | { ok: false };

/** An operator dismisses an open anomaly. */
export function decideDismiss(state: ContainerState, anomalyId: string, by: string, now: number): DismissDecision {
  const open = state.anomalies.find((a) => a.id === anomalyId);
  if (!open) return { ok: false };
  return {
    ok: true,
    change: { type: "anomaly.closed", anomaly: { ...open, status: "dismissed", closedAt: iso(now), closedBy: by } },
  };
}

/**
 * The forecast rule: with a lead time set, auto-open armed, no order closed by hand since the last
 * refill (this reading's included), and a forecast that puts the threshold within the lead time.
 */
function forecastDue(state: ContainerState, forecast: Forecast | null, now: number, refill: boolean): boolean {
  const lead = leadTimeOf(state);
  if (lead <= 0 || !state.autoOpenArmed || !(state.forecastArmed || refill)) return false;
  if (forecast?.status !== "ok" || forecast.thresholdAt === null) return false;
  return Date.parse(forecast.thresholdAt) - now <= lead * HOUR_MS;
}

/** The lead time in force: the container's own, else its partner's default, else none. */
export function leadTimeOf(state: Pick<ContainerState, "leadTimeHours" | "partnerLeadTimeHours">): number {
  return state.leadTimeHours ?? state.partnerLeadTimeHours ?? 0;
}

/**
 * Only an order opened below the threshold in force when it opened closes by itself; one opened by
 * hand above it (or before any reading) waits for a person. Orders logged before `thresholdAtOpen`
 * was kept are judged against the current threshold.
 */
function openedBelowThreshold(order: Order, threshold: number): boolean {
  return order.fillAtOpen !== null && order.fillAtOpen < (order.thresholdAtOpen ?? threshold);
}

export type ManualOpenDecision = { ok: true; change: OrderOpened } | { ok: false; conflict: Order };

export function decideManualOpen(
  state: ContainerState,
  by: string,
  ctx: { now: number; newOrderId: () => string },
): ManualOpenDecision {
  if (state.activeOrder) return { ok: false, conflict: state.activeOrder };
  return {
    ok: true,
    change: {
      type: "order.opened",
      order: {
        id: ctx.newOrderId(),
        containerId: state.containerId,
        status: "active",
        source: "manual",
        openedAt: iso(ctx.now),
        openedBy: by,
        fillAtOpen: state.fillPercent,
        thresholdAtOpen: state.threshold,
        closedAt: null,
        closedBy: null,
        closeReason: null,
        fillAtClose: null,
        fulfilment: "pending",
        ...NEW_ORDER_FIELDS,
        lines: proposedLines(state),
      },
    },
  };
}

/** A partner opens an order (`order.created`): lines as it sends them, else the proposal. */
export function decidePartnerOpen(
  state: ContainerState,
  partnerId: string,
  lines: OrderLine[] | null,
  ctx: { now: number; newOrderId: () => string },
): ManualOpenDecision {
  const opened = decideManualOpen(state, `partner:${partnerId}`, ctx);
  if (!opened.ok) return opened;
  const order: Order = {
    ...opened.change.order,
    source: "partner",
    partnerId,
    lines: lines ?? opened.change.order.lines,
  };
  return { ok: true, change: { type: "order.opened", order } };
}

export type ManualCloseDecision =
  { ok: true; change: OrderClosed } | { ok: false; reason: "not_found" | "not_active"; order?: Order };

/** `known` is the order as stored, or null when the container never had an order with that id. */
export function decideManualClose(
  state: ContainerState,
  orderId: string,
  known: Order | null,
  by: string,
  now: number,
  note?: string,
): ManualCloseDecision {
  if (known === null) return { ok: false, reason: "not_found" };
  if (state.activeOrder?.id !== orderId) return { ok: false, reason: "not_active", order: known };
  return {
    ok: true,
    change: {
      type: "order.closed",
      orderId,
      closedAt: iso(now),
      closedBy: by,
      closeReason: "manual",
      fillAtClose: state.fillPercent,
      ...(note ? { note } : {}),
    },
  };
}

/** Settings changes only move settings; orders follow the next reading against the new threshold. */
export function decideSettings(state: ContainerState, patch: Partial<Settings>): SettingsChanged[] {
  const current = settingsOf(state);
  const changes: Record<string, unknown> = {};
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(SETTING_FIELDS) as (keyof Settings)[]) {
    const value = patch[key];
    if (value === undefined || sameValue(value, current[key])) continue;
    changes[key] = value;
    previous[key] = current[key];
  }
  return Object.keys(changes).length === 0 ? [] : [{ type: "settings.changed", changes, previous }];
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Fold one logged change into the state. Never throws for an event that `decide*` produced. */
export function evolve(state: ContainerState, event: ContainerChange & { seq: number }): ContainerState {
  const next: ContainerState = { ...state, version: event.seq };
  switch (event.type) {
    case "reading.recorded": {
      const r = event.reading;
      next.lastSeenAt = laterOf(state.lastSeenAt, r.receivedAt);
      if (event.outcome === "applied") {
        next.fillPercent = r.fillPercent;
        next.contents = r.contents ?? state.contents;
        if (r.location) next.location = r.location;
        next.battery = r.battery ?? state.battery;
        next.measuredAt = r.measuredAt;
        next.lastReadingId = r.readingId;
        if (r.fillPercent > state.threshold) next.autoOpenArmed = true;
        if (event.refill) {
          next.forecastArmed = true;
          next.lastRefill = { at: r.measuredAt, rise: event.refill.rise };
        }
      }
      return next;
    }
    case "order.opened":
      next.activeOrder = event.order;
      return next;
    case "order.closed":
      if (state.activeOrder?.id === event.orderId) {
        next.activeOrder = null;
        if (event.closeReason === "delivered")
          next.lastDelivery = {
            orderId: event.orderId,
            at: event.closedAt,
            quantity: state.activeOrder.delivered.reduce((sum, line) => sum + line.quantity, 0),
          };
      }
      if (event.closeReason === "manual") {
        next.autoOpenArmed = false;
        // Closed by hand: the forecast orders nothing again before the container is refilled.
        next.forecastArmed = false;
      }
      // A rejected or cancelled order leaves the container needing goods: the next low reading orders again.
      if (event.closeReason === "cancelled") next.autoOpenArmed = true;
      return next;
    case "order.fulfilment_changed":
      if (event.to === "dispatched") next.lastDispatchAt = event.changedAt;
      if (state.activeOrder?.id === event.orderId) next.activeOrder = applyToOrder(state.activeOrder, event);
      return next;
    case "order.lines_set":
    case "order.delivery_corrected":
      if (state.activeOrder?.id === event.orderId) next.activeOrder = applyToOrder(state.activeOrder, event);
      return next;
    case "anomaly.raised":
      next.anomalies = [...state.anomalies, event.anomaly];
      return next;
    case "anomaly.closed":
      next.anomalies = state.anomalies.filter((a) => a.id !== event.anomaly.id);
      return next;
    case "settings.changed": {
      const moved: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(event.changes)) moved[SETTING_FIELDS[key as keyof Settings]] = value;
      const changed = { ...next, ...moved } as ContainerState;
      // A container that never reported a position stands where it is registered.
      if (event.changes.location !== undefined && state.location === null) changed.location = event.changes.location;
      return changed;
    }
  }
}

/** Apply a closing event to the order it closes. */
export function closeOrder(order: Order, event: OrderClosed): Order {
  return {
    ...order,
    status: "closed",
    closedAt: event.closedAt,
    closedBy: event.closedBy,
    closeReason: event.closeReason,
    fillAtClose: event.fillAtClose,
  };
}

/**
 * The consumption model's view of an applied reading, for `decideReading`: the window it leaves
 * and the forecast from it, with the state's settings as they are before the reading.
 */
export function modelSees(
  window: ConsumptionWindow,
  state: ContainerState,
  measuredAt: number,
  fill: number,
): Observed & { forecast: Forecast | null } {
  const seen = observe(window, measuredAt, fill, state.refillRise);
  return { ...seen, forecast: estimate(seen.window, state) };
}

/**
 * Rebuild a container from its log alone: every event folded by `evolve`, and the consumption
 * model fed each applied reading, its forecast made again after each and after a settings change,
 * as the live container does.
 */
export function replay(containerId: string, events: Iterable<ContainerEvent>): ContainerState {
  let state = emptyContainer(containerId);
  let window = emptyWindow();
  for (const event of events) {
    if (event.type === "reading.recorded" && event.outcome === "applied") {
      const seen = modelSees(window, state, Date.parse(event.reading.measuredAt), event.reading.fillPercent);
      window = seen.window;
      state = { ...evolve(state, event), forecast: seen.forecast };
    } else if (event.type === "settings.changed") {
      const next = evolve(state, event);
      state = { ...next, forecast: estimate(window, next) };
    } else state = evolve(state, event);
  }
  return state;
}

function laterOf(a: string | null, b: string): string {
  return a === null || Date.parse(b) > Date.parse(a) ? b : a;
}
