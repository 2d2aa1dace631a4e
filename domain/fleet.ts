import type { z } from "zod";
import type { ContainerState } from "./container";
import { summaryOf } from "./forecast";
import type { fleetContainerSchema } from "./schemas";

/** A container as the fleet shows it: what GET /v1/containers lists and the fleet stream pushes. */
export type FleetContainer = z.infer<typeof fleetContainerSchema>;

export function fleetContainerOf(state: ContainerState): FleetContainer {
  const { lastReadingId: _lastReadingId, forecast, ...fleet } = state;
  return { ...fleet, forecast: summaryOf(forecast) };
}

/** The newest state of each container among `states` (by version), for one push per batch. */
export function latestPerContainer(states: Iterable<ContainerState>): ContainerState[] {
  const latest = new Map<string, ContainerState>();
  for (const s of states) {
    const known = latest.get(s.containerId);
    if (!known || known.version < s.version) latest.set(s.containerId, s);
  }
  return [...latest.values()];
}

/** One committed projection batch, as dashboards get it: the latest state of each container in it. */
export interface FleetChange {
  seq: number;
  type: "fleet.changed";
  containers: FleetContainer[];
}

export const FLEET_CSV_COLUMNS = [
  "containerId",
  "name",
  "contents",
  "fillPercent",
  "threshold",
  "capacity",
  "unit",
  "remaining",
  "battery",
  "measuredAt",
  "lastSeenAt",
  "lat",
  "lon",
  "activeOrderId",
  "fulfilment",
  "thresholdAt",
  "runsOutAt",
] as const;

/** The fleet as CSV rows: what is left in the unit, where it stands, its order and its forecast. */
export function fleetCsvRows(list: readonly FleetContainer[]) {
  return list.map((c) => ({
    containerId: c.containerId,
    name: c.name,
    contents: c.contents,
    fillPercent: c.fillPercent,
    threshold: c.threshold,
    capacity: c.capacity,
    unit: c.unit,
    remaining: c.capacity !== null && c.fillPercent !== null ? Math.round((c.capacity * c.fillPercent) / 100) : null,
    battery: c.battery,
    measuredAt: c.measuredAt,
    lastSeenAt: c.lastSeenAt,
    lat: c.location?.lat ?? null,
    lon: c.location?.lon ?? null,
    activeOrderId: c.activeOrder?.id ?? null,
    fulfilment: c.activeOrder?.fulfilment ?? null,
    thresholdAt: c.forecast?.thresholdAt ?? null,
    runsOutAt: c.forecast?.emptyAt ?? null,
  }));
}
