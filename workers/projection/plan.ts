import type { ChangeMessage } from "../../domain/change-message";
import { DEFAULT_SUDDEN_DROP } from "../../domain/anomalies";
import { DEFAULT_REFILL_RISE } from "../../domain/forecast";
import { withOrderDefaults } from "../../domain/fulfilment";
import { getTableColumns } from "drizzle-orm";
import type { ContainerEvent } from "../../domain/events";
import { containers, orders, type anomalies } from "../db/schema";

export interface ProjectionPlan {
  containers: (typeof containers.$inferInsert)[];
  orders: (typeof orders.$inferInsert)[];
  anomalies: (typeof anomalies.$inferInsert)[];
  /** The events, once each, as they are: their rows, and each recorded reading's, are read from them (writer.ts). */
  events: ContainerEvent[];
}

/**
 * A delivery of the ingest worker's messages can hold a thousand containers, and a container that
 * took a hundred readings dozens of orders. The writer sends a delivery as one SQL text (writer.ts),
 * its parts each a statement of at most this many container and order values: a statement's JSON
 * and its plan stay of a bounded size however large the delivery (this was also the bound that
 * kept a statement under Postgres' 65,535 bound parameters when the values were parameters).
 */
export const PARAMETERS_PER_PLAN = 30_000;
const CONTAINER_PARAMETERS = Object.keys(getTableColumns(containers)).length;
const ORDER_PARAMETERS = Object.keys(getTableColumns(orders)).length;

/**
 * The changes split into parts whose container and order rows bind at most `max` values, every
 * container's changes in one part (so a part may exceed it only for a single container).
 */
export function byContainers(messages: readonly ChangeMessage[], max = PARAMETERS_PER_PLAN): ChangeMessage[][] {
  const groups = new Map<string, { changes: ChangeMessage[]; orders: Set<string> }>();
  for (const m of messages) {
    const id = m.event.containerId;
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { changes: [], orders: new Set() }));
    group.changes.push(m);
    if (m.order) group.orders.add(m.order.id);
  }
  const parts: ChangeMessage[][] = [];
  let part: ChangeMessage[] = [];
  let weight = 0;
  for (const group of groups.values()) {
    const w = CONTAINER_PARAMETERS + group.orders.size * ORDER_PARAMETERS;
    if (part.length > 0 && weight + w > max) {
      parts.push(part);
      part = [];
      weight = 0;
    }
    part.push(...group.changes);
    weight += w;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** The rows of each part (`byContainers`), written one after the other in the caller's transaction. */
export function planProjections(messages: readonly ChangeMessage[]): ProjectionPlan[] {
  return byContainers(messages).map(planProjection);
}

/**
 * The rows a batch of change messages leads to. Within a batch only the newest version of each
 * container and order is kept; the database keeps the newest across batches (see the writer).
 */
export function planProjection(messages: readonly ChangeMessage[]): ProjectionPlan {
  const latestContainers = new Map<string, ProjectionPlan["containers"][number]>();
  const latestOrders = new Map<string, ProjectionPlan["orders"][number]>();
  const latestAnomalies = new Map<string, ProjectionPlan["anomalies"][number]>();
  const events = new Map<string, ContainerEvent>();

  for (const { event, state, order, orderVersion } of messages) {
    events.set(event.id, event);

    const current = latestContainers.get(state.containerId);
    if (!current || current.version < state.version) {
      latestContainers.set(state.containerId, {
        id: state.containerId,
        name: state.name,
        threshold: state.threshold,
        capacity: state.capacity,
        unit: state.unit ?? null,
        registeredLat: state.registeredLocation?.lat ?? null,
        registeredLon: state.registeredLocation?.lon ?? null,
        reportIntervalSeconds: state.reportIntervalSeconds,
        fillPercent: state.fillPercent,
        contents: state.contents,
        lat: state.location?.lat ?? null,
        lon: state.location?.lon ?? null,
        battery: state.battery,
        measuredAt: state.measuredAt,
        lastSeenAt: state.lastSeenAt,
        autoOpenArmed: state.autoOpenArmed,
        activeOrderId: state.activeOrder?.id ?? null,
        leadTimeHours: state.leadTimeHours ?? null,
        partnerLeadTimeHours: state.partnerLeadTimeHours ?? null,
        fleetNoise: state.fleetNoise ?? null,
        refillRise: state.refillRise ?? DEFAULT_REFILL_RISE,
        forecastArmed: state.forecastArmed ?? true,
        suddenDrop: state.suddenDrop ?? DEFAULT_SUDDEN_DROP,
        anomalies: state.anomalies ?? [],
        forecast: state.forecast ?? null,
        thresholdAt: state.forecast?.thresholdAt ?? null,
        emptyAt: state.forecast?.emptyAt ?? null,
        version: state.version,
      });
    }

    if (order) {
      // An event sent again carries the order as it is now, current as of `orderVersion`.
      const version = orderVersion ?? event.seq;
      const known = latestOrders.get(order.id);
      if (!known || known.version < version) {
        latestOrders.set(order.id, {
          ...withOrderDefaults(order),
          // Every row has it: the writer makes one column list for a batch's rows.
          deliveryRevision: order.deliveryRevision ?? 0,
          thresholdAtOpen: order.thresholdAtOpen ?? null,
          forecast: order.forecast ?? null,
          version,
        });
      }
    }

    if (event.type === "anomaly.raised" || event.type === "anomaly.closed") {
      // Each event carries the anomaly whole, as of its seq: the newest wins.
      const a = event.anomaly;
      const known = latestAnomalies.get(a.id);
      if (!known || known.version < event.seq)
        latestAnomalies.set(a.id, { ...a, containerId: event.containerId, version: event.seq });
    }
  }

  return {
    containers: [...latestContainers.values()],
    orders: [...latestOrders.values()],
    anomalies: [...latestAnomalies.values()],
    events: [...events.values()],
  };
}
