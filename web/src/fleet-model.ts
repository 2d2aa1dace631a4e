// The fleet as the dashboard holds it, free of React and the DOM (unit-tested on its own): the
// snapshot from GET /v1/fleet, changes from the fleet stream merged by version, the figures, and
// what the table shows under a search, filters and a sort.
import { DEFAULT_REPORT_INTERVAL_SECONDS } from "../../domain/container";
import type { FleetContainer } from "../../domain/fleet";

export type { FleetContainer };

/** Containers by id. Replaced, never mutated, so React sees each change. */
export type Fleet = ReadonlyMap<string, FleetContainer>;

/**
 * The fleet with `incoming` applied: a container replaces the one held only when its version is
 * higher (a change can arrive twice, or after a snapshot that already holds it). Returns the same
 * map when nothing was newer.
 */
export function merge(fleet: Fleet, incoming: readonly FleetContainer[]): Fleet {
  let next: Map<string, FleetContainer> | null = null;
  for (const c of incoming) {
    const held = (next ?? fleet).get(c.containerId);
    if (held && held.version >= c.version) continue;
    next ??= new Map(fleet);
    next.set(c.containerId, c);
  }
  return next ?? fleet;
}

export function fleetOf(list: readonly FleetContainer[]): Fleet {
  return merge(new Map(), list);
}

export const isBelow = (c: FleetContainer) => c.fillPercent !== null && c.fillPercent < c.threshold;

/** Nothing heard for longer than the container's expected report interval (default 1 hour), or never. */
export function isSilent(c: FleetContainer, now: number): boolean {
  if (c.lastSeenAt === null) return true;
  return now - Date.parse(c.lastSeenAt) > (c.reportIntervalSeconds ?? DEFAULT_REPORT_INTERVAL_SECONDS) * 1000;
}

export interface Figures {
  containers: number;
  belowThreshold: number;
  activeOrders: number;
  silent: number;
}

export function figuresOf(fleet: Fleet, now: number): Figures {
  const f: Figures = { containers: 0, belowThreshold: 0, activeOrders: 0, silent: 0 };
  for (const c of fleet.values()) {
    f.containers++;
    if (isBelow(c)) f.belowThreshold++;
    if (c.activeOrder) f.activeOrders++;
    if (isSilent(c, now)) f.silent++;
  }
  return f;
}

/** How a container's fill stands against its threshold: the colour of its point and its row. */
export type FillStanding = "below" | "near" | "ok" | "unknown";
/** Points above the threshold within which a container is shown as near it. */
export const NEAR_POINTS = 10;

export function standingOf(c: Pick<FleetContainer, "fillPercent" | "threshold">): FillStanding {
  if (c.fillPercent === null) return "unknown";
  if (c.fillPercent < c.threshold) return "below";
  if (c.fillPercent < c.threshold + NEAR_POINTS) return "near";
  return "ok";
}

export interface FleetQuery {
  search: string;
  belowThreshold: boolean;
  activeOrder: boolean;
  silent: boolean;
  /** "" for any */
  contents: string;
  /** Only those forecast to reach their threshold within this many days (or that have); null for any. */
  runsOutWithinDays: number | null;
  sort: "containerId" | "name" | "fillPercent" | "threshold" | "battery" | "thresholdAt" | "lastSeenAt";
  descending: boolean;
}

export const ANY_QUERY: FleetQuery = {
  search: "",
  belowThreshold: false,
  activeOrder: false,
  silent: false,
  contents: "",
  runsOutWithinDays: null,
  sort: "containerId",
  descending: false,
};

function compare(a: FleetContainer, b: FleetContainer, sort: FleetQuery["sort"]): number {
  switch (sort) {
    case "fillPercent":
      return (a.fillPercent ?? -1) - (b.fillPercent ?? -1);
    case "lastSeenAt":
      return (a.lastSeenAt ? Date.parse(a.lastSeenAt) : 0) - (b.lastSeenAt ? Date.parse(b.lastSeenAt) : 0);
    case "thresholdAt":
      return runsOutAt(a) - runsOutAt(b);
    case "threshold":
      return a.threshold - b.threshold;
    case "battery":
      // Unknown batteries sort with the emptiest: a sensor that never said is worth a look.
      return (a.battery ?? -1) - (b.battery ?? -1);
    case "name":
      // As the table shows it: the name, or the id of a container that has none.
      return (a.name ?? a.containerId).localeCompare(b.name ?? b.containerId, "en");
    case "containerId":
      return 0;
  }
}

/** When the container's forecast reaches its threshold (epoch ms); without one, never (sorts last). */
export function runsOutAt(c: FleetContainer): number {
  const at = c.forecast?.status === "ok" ? c.forecast.thresholdAt : null;
  return at ? Date.parse(at) : Infinity;
}

/** The rows the table shows: matching the search (id or name, any case) and every filter, sorted (ties by id). */
export function rowsOf(fleet: Fleet, q: FleetQuery, now: number): FleetContainer[] {
  const needle = q.search.trim().toLowerCase();
  const rows: FleetContainer[] = [];
  for (const c of fleet.values()) {
    if (needle && !c.containerId.toLowerCase().includes(needle) && !(c.name ?? "").toLowerCase().includes(needle))
      continue;
    if (q.belowThreshold && !isBelow(c)) continue;
    if (q.activeOrder && !c.activeOrder) continue;
    if (q.silent && !isSilent(c, now)) continue;
    if (q.contents && c.contents !== q.contents) continue;
    if (q.runsOutWithinDays !== null && !(runsOutAt(c) <= now + q.runsOutWithinDays * 86_400_000)) continue;
    rows.push(c);
  }
  const sign = q.descending ? -1 : 1;
  rows.sort(
    (a, b) =>
      sign * (compare(a, b, q.sort) || (a.containerId < b.containerId ? -1 : a.containerId > b.containerId ? 1 : 0)),
  );
  return rows;
}

/** Every kind of contents in the fleet, for the filter's choices. */
export function contentsOf(fleet: Fleet): string[] {
  const kinds = new Set<string>();
  for (const c of fleet.values()) if (c.contents) kinds.add(c.contents);
  return [...kinds].sort();
}

/** Where a container is shown on the map: where it last reported from, else where it is registered. */
export function positionOf(c: FleetContainer): { lat: number; lon: number } | null {
  return c.location ?? c.registeredLocation;
}
