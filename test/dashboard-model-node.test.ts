// The dashboard's own logic, without a browser: how it merges the snapshot with live changes, what
// the figures count, what the table shows, and how error records merge.
import { describe, expect, it } from "vitest";
import type { ErrorRecord } from "../domain/errors";
import { byLastSeen, mergeRecords } from "../web/src/errors-model";
import {
  alertsToShow,
  firingSummary,
  groupAlerts,
  mergeAlerts,
  type Alert,
  type AlertFilter,
} from "../web/src/alerts-model";
import { anAlert } from "./support/alerts";
import { thresholdHint, whoActed } from "../web/src/container-model";
import { COLOURS, SHARE_STOPS, inViewOf, mapPointsOf, placeLabelsOf, shareTone } from "../web/src/map-model";
import {
  ANY_QUERY,
  figuresOf,
  fleetOf,
  isSilent,
  merge,
  rowsOf,
  standingOf,
  type FleetContainer,
} from "../web/src/fleet-model";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const minutesAgo = (m: number) => new Date(NOW - m * 60_000).toISOString();

function container(id: string, patch: Partial<FleetContainer> = {}): FleetContainer {
  return {
    containerId: id,
    name: null,
    threshold: 50,
    capacity: null,
    unit: null,
    registeredLocation: null,
    reportIntervalSeconds: null,
    fillPercent: 70,
    contents: "diesel",
    location: { lat: 47, lon: 8 },
    battery: 90,
    measuredAt: minutesAgo(5),
    lastSeenAt: minutesAgo(5),
    autoOpenArmed: true,
    activeOrder: null,
    leadTimeHours: null,
    partnerLeadTimeHours: null,
    fleetNoise: null,
    refillRise: 10,
    forecastArmed: true,
    suddenDrop: 8,
    anomalies: [],
    forecast: null,
    version: 1,
    ...patch,
  };
}

describe("the fleet's merge", () => {
  it("keeps the higher version whatever the order of arrival, and answers the same map when nothing is newer", () => {
    const fleet = fleetOf([container("a", { version: 3, fillPercent: 30 })]);
    expect(merge(fleet, [container("a", { version: 2, fillPercent: 90 })])).toBe(fleet);
    expect(merge(fleet, [container("a", { version: 3, fillPercent: 90 })])).toBe(fleet);
    const next = merge(fleet, [container("a", { version: 4, fillPercent: 90 }), container("b")]);
    expect(next.get("a")!.fillPercent).toBe(90);
    expect(next.size).toBe(2);
    expect(fleet.get("a")!.fillPercent).toBe(30);
  });

  it("within one change, a later copy of the same container wins only when newer", () => {
    const next = merge(new Map(), [
      container("a", { version: 5, fillPercent: 10 }),
      container("a", { version: 4, fillPercent: 99 }),
    ]);
    expect(next.get("a")!.fillPercent).toBe(10);
  });
});

describe("figures and standing", () => {
  it("count below threshold, active orders and silent sensors (past the container's own interval, default 1 h, or never heard)", () => {
    const order = {
      id: "ord_1",
      containerId: "b",
      status: "active" as const,
      source: "auto" as const,
      openedAt: minutesAgo(1),
      openedBy: "x",
      fillAtOpen: 20,
      thresholdAtOpen: 50,
      closedAt: null,
      closedBy: null,
      closeReason: null,
      fillAtClose: null,
      fulfilment: "pending" as const,
      partnerId: null,
      lines: [],
      eta: null,
      vehicle: null,
      deliveryNote: null,
      delivered: [],
      deliveredAt: null,
      fulfilmentReason: null,
      fulfilmentAt: null,
      acceptedAt: null,
      dispatchedAt: null,
    };
    const fleet = fleetOf([
      container("a"),
      container("b", { fillPercent: 20, activeOrder: order }),
      container("c", { lastSeenAt: minutesAgo(61) }),
      container("d", { lastSeenAt: minutesAgo(11), reportIntervalSeconds: 600 }),
      container("e", { lastSeenAt: null, fillPercent: null }),
    ]);
    expect(figuresOf(fleet, NOW)).toEqual({ containers: 5, belowThreshold: 1, activeOrders: 1, silent: 3 });
    expect(isSilent(container("f", { lastSeenAt: minutesAgo(59) }), NOW)).toBe(false);
  });

  it("colours by fill against the threshold: below, within 10 points, above, unknown", () => {
    expect(standingOf({ fillPercent: 49.9, threshold: 50 })).toBe("below");
    expect(standingOf({ fillPercent: 50, threshold: 50 })).toBe("near");
    expect(standingOf({ fillPercent: 59.9, threshold: 50 })).toBe("near");
    expect(standingOf({ fillPercent: 60, threshold: 50 })).toBe("ok");
    expect(standingOf({ fillPercent: null, threshold: 50 })).toBe("unknown");
  });
});

describe("the table's rows", () => {
  const fleet = fleetOf([
    container("tank-2", { name: "North depot", fillPercent: 40, contents: "pellets" }),
    container("tank-1", { fillPercent: 80 }),
    container("silo-9", { name: "Harbour", fillPercent: 40, lastSeenAt: null }),
  ]);
  const ids = (rows: FleetContainer[]) => rows.map((r) => r.containerId);

  it("search matches id or name, in any case", () => {
    expect(ids(rowsOf(fleet, { ...ANY_QUERY, search: "TANK" }, NOW))).toEqual(["tank-1", "tank-2"]);
    expect(ids(rowsOf(fleet, { ...ANY_QUERY, search: "depot" }, NOW))).toEqual(["tank-2"]);
  });

  it("filters combine", () => {
    expect(ids(rowsOf(fleet, { ...ANY_QUERY, belowThreshold: true }, NOW))).toEqual(["silo-9", "tank-2"]);
    expect(ids(rowsOf(fleet, { ...ANY_QUERY, belowThreshold: true, contents: "pellets" }, NOW))).toEqual(["tank-2"]);
    expect(ids(rowsOf(fleet, { ...ANY_QUERY, silent: true }, NOW))).toEqual(["silo-9"]);
  });

  it("sorts by fill with ties broken by id, either way", () => {
    expect(ids(rowsOf(fleet, { ...ANY_QUERY, sort: "fillPercent" }, NOW))).toEqual(["silo-9", "tank-2", "tank-1"]);
    expect(ids(rowsOf(fleet, { ...ANY_QUERY, sort: "fillPercent", descending: true }, NOW))).toEqual([
      "tank-1",
      "tank-2",
      "silo-9",
    ]);
  });

  it("sorts by name as the table shows it (the id where there is none), by threshold and by battery (unknown first)", () => {
    expect(ids(rowsOf(fleet, { ...ANY_QUERY, sort: "name" }, NOW))).toEqual(["silo-9", "tank-2", "tank-1"]);
    const more = fleetOf([
      container("a", { threshold: 30, battery: 12 }),
      container("b", { threshold: 20, battery: null }),
      container("c", { threshold: 40, battery: 80 }),
    ]);
    expect(ids(rowsOf(more, { ...ANY_QUERY, sort: "threshold" }, NOW))).toEqual(["b", "a", "c"]);
    expect(ids(rowsOf(more, { ...ANY_QUERY, sort: "battery" }, NOW))).toEqual(["b", "a", "c"]);
    expect(ids(rowsOf(more, { ...ANY_QUERY, sort: "battery", descending: true }, NOW))).toEqual(["c", "a", "b"]);
  });
});

describe("the map", () => {
  it("shows the containers it is given that have a position, the registered one when none was reported", () => {
    const points = mapPointsOf([
      container("a", { name: "Dijon depot", fillPercent: 20 }),
      container("b", { location: null, registeredLocation: { lat: 45, lon: 5 } }),
      container("c", { location: null, registeredLocation: null }),
    ]);
    expect(points.features.map((f) => [f.properties.id, f.properties.label, f.properties.below])).toEqual([
      ["a", "Dijon depot", 1],
      ["b", "b", 0],
    ]);
    expect(points.features[1]!.geometry.coordinates).toEqual([5, 45]);
  });

  it("colours a group by the share below threshold, not red for one among many", () => {
    expect(shareTone(0, 40)).toBe("ok");
    expect(shareTone(1, 40)).toBe("some");
    expect(shareTone(19, 40)).toBe("some");
    expect(shareTone(20, 40)).toBe("many");
    // The map's own colour stops agree: none is green, half or more red.
    expect(SHARE_STOPS[0]).toEqual([0, COLOURS.ok]);
    expect(SHARE_STOPS.at(-1)).toEqual([0.5, COLOURS.below]);
  });

  it("labels each country at its largest part, not between its parts", () => {
    const square = (x: number, y: number, size: number) => [
      [
        [x, y],
        [x + size, y],
        [x + size, y + size],
        [x, y + size],
        [x, y],
      ],
    ];
    const labels = placeLabelsOf({
      type: "FeatureCollection",
      features: [
        {
          type: "Feature",
          properties: { name: "Mainland" },
          geometry: { type: "MultiPolygon", coordinates: [square(100, 0, 1), square(0, 0, 10)] },
        },
        {
          type: "Feature",
          properties: { name: "Isle" },
          geometry: { type: "Polygon", coordinates: square(20, 20, 2) },
        },
        { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: square(30, 30, 2) } },
      ],
    });
    expect(labels.features.map((f) => [f.properties.name, f.geometry.coordinates, f.properties.area])).toEqual([
      ["Mainland", [5, 5], 100],
      ["Isle", [21, 21], 4],
    ]);
  });

  it("lists what is in view once each, largest groups first, from features drawn on several tiles", () => {
    const cluster = { properties: { cluster_id: 7, point_count: 12, below: 3 } };
    const single = { properties: { id: "tank-1", label: "Dijon depot", below: 1 } };
    expect(inViewOf([single, cluster, cluster, single])).toEqual([
      { key: "cluster:7", count: 12, below: 3, containerId: null, label: "12 containers" },
      { key: "container:tank-1", count: 1, below: 1, containerId: "tank-1", label: "Dijon depot" },
    ]);
  });
});

describe("error records", () => {
  const record = (patch: Partial<ErrorRecord>): ErrorRecord => ({
    id: "err_1",
    fingerprint: "f",
    name: "Error",
    message: "m",
    stack: null,
    source: "worker",
    context: {},
    count: 1,
    firstSeen: minutesAgo(10),
    lastSeen: minutesAgo(10),
    status: "open",
    resolvedAt: null,
    resolvedBy: null,
    ...patch,
  });

  it("a copy that has come further (seen again, or resolved) replaces the one held; an older one never does", () => {
    const held = mergeRecords(new Map(), [record({ count: 3, lastSeen: minutesAgo(1) })]);
    expect(mergeRecords(held, [record({ count: 2, lastSeen: minutesAgo(2) })])).toBe(held);
    const resolved = mergeRecords(held, [
      record({ count: 3, lastSeen: minutesAgo(1), status: "resolved", resolvedAt: minutesAgo(0) }),
    ]);
    expect(resolved.get("err_1")!.status).toBe("resolved");
    const again = mergeRecords(resolved, [record({ count: 4, lastSeen: minutesAgo(0) })]);
    expect(again.get("err_1")).toMatchObject({ count: 4, status: "open" });
  });

  it("lists latest seen first", () => {
    const records = mergeRecords(new Map(), [
      record({ id: "a", lastSeen: minutesAgo(5) }),
      record({ id: "b", lastSeen: minutesAgo(1) }),
    ]);
    expect(byLastSeen(records).map((r) => r.id)).toEqual(["b", "a"]);
  });
});

describe("alerts", () => {
  const alert = (id: string, over: Partial<Alert> = {}) =>
    anAlert({ id, key: `battery:${id}`, subject: id, message: `${id} battery low`, ...over });

  it("an older copy never replaces a newer one: taken or resolved stays, more repeats win", () => {
    let held = mergeAlerts(new Map(), [alert("a", { state: "acknowledged", acknowledgedBy: "x" })]);
    held = mergeAlerts(held, [alert("a")]);
    expect(held.get("a")!.state).toBe("acknowledged");
    held = mergeAlerts(held, [
      alert("b", { repeats: 2, lastSentAt: "2026-12-01T10:20:00.000Z" }),
      alert("b", { repeats: 1 }),
    ]);
    expect(held.get("b")!.repeats).toBe(2);
    const same = mergeAlerts(held, [alert("b", { repeats: 2, lastSentAt: "2026-12-01T10:20:00.000Z" })]);
    expect(same).toBe(held);
  });

  it("lists open ones firing first, worst severity first, and counts what fires for the badge", () => {
    const held = mergeAlerts(new Map(), [
      alert("w", { firedAt: "2026-12-01T11:00:00.000Z" }),
      alert("c", { severity: "critical" }),
      alert("t", { state: "acknowledged", severity: "critical" }),
      alert("r", { state: "resolved", severity: "critical" }),
    ]);
    expect(alertsToShow(held, { view: "open", severity: "all" }).map((a) => a.id)).toEqual(["c", "w", "t"]);
    expect(alertsToShow(held, { view: "resolved", severity: "all" }).map((a) => a.id)).toEqual(["r"]);
    expect(alertsToShow(held, { view: "all", severity: "warning" }).map((a) => a.id)).toEqual(["w"]);
    expect(firingSummary(held)).toEqual({ count: 2, worst: "critical" });
    expect(firingSummary(new Map())).toEqual({ count: 0, worst: null });
  });

  it("groups by rule, one card each with its count and worst severity; finds by words, rule and container", () => {
    const order = (id: string, container: string, over: Partial<Alert> = {}) =>
      alert(id, {
        key: `noPartner:${id}`,
        rule: "noPartner",
        subject: id,
        containerId: container,
        message: `Order for ${container} has no partner to deliver it`,
        ...over,
      });
    const held = mergeAlerts(new Map(), [
      order("o1", "tank-00012"),
      order("o2", "silo-7", { state: "acknowledged" }),
      order("o3", "tank-00013", { severity: "critical" }),
      alert("b", { containerId: "tank-00012", message: "tank-00012 battery at 9 %" }),
    ]);
    const groups = groupAlerts(alertsToShow(held, { view: "open", severity: "all" }));
    expect(groups.map((g) => [g.title, g.alerts.length, g.firing, g.open, g.severity])).toEqual([
      ["Orders with no partner", 3, 2, 3, "critical"],
      ["Low sensor batteries", 1, 1, 1, "warning"],
    ]);
    const find = (f: Partial<AlertFilter>) =>
      alertsToShow(held, { view: "open", severity: "all", ...f }).map((a) => a.id);
    expect(find({ text: "TANK-00012" })).toEqual(["o1", "b"]);
    expect(find({ text: "no partner silo" })).toEqual(["o2"]);
    expect(find({ text: "low batteries" })).toEqual(["b"]);
    expect(find({ rule: "noPartner", containerId: "tank-00012" })).toEqual(["o1"]);
    expect(find({ text: "nothing like this" })).toEqual([]);
  });
});

describe("a new threshold, in words", () => {
  const order = { fillAtOpen: 20, thresholdAtOpen: 30 };
  it("says the active order closes with the next reading when the threshold goes below today's fill", () => {
    expect(thresholdHint({ threshold: 50, fillPercent: 40, activeOrder: order }, 35)).toBe(
      "Below today's fill (40 %): the active order closes with the next reading above 35 %.",
    );
    // An order opened above the threshold of its time (by hand, or ahead by the forecast) stays.
    expect(
      thresholdHint({ threshold: 50, fillPercent: 40, activeOrder: { fillAtOpen: 60, thresholdAtOpen: 50 } }, 35),
    ).toBe("The next reading is judged against it.");
  });
  it("says an order opens when the threshold goes above today's fill with none active", () => {
    expect(thresholdHint({ threshold: 20, fillPercent: 40, activeOrder: null }, 45)).toBe(
      "Above today's fill (40 %): an order opens with the next reading below 45 %.",
    );
    expect(thresholdHint({ threshold: 20, fillPercent: 40, activeOrder: null }, 20)).toMatch(/^An order opens when/);
  });
});

describe("who acted on an order, in words", () => {
  it("says a reading, a partner or a person rather than their ids", () => {
    expect(whoActed("reading:seed-1795416105")).toBe("by the container, on a reading");
    expect(whoActed("partner:p-fuel")).toBe("by partner p-fuel");
    expect(whoActed("ops@fillgrid.test")).toBe("by ops@fillgrid.test");
  });
});
