// What the fleet map draws, free of MapLibre and the DOM (unit-tested on its own): the points of the
// containers the table shows, the colour of a cluster by the share of its containers below their
// threshold, the place labels of the bundled base map, and what is in view in words.
import type { Feature, FeatureCollection, Geometry, Point, Position } from "geojson";
import { positionOf, standingOf, type FleetContainer } from "./fleet-model";

export const COLOURS = { below: "#d1242f", near: "#bf8700", ok: "#1a7f37", unknown: "#8c959f" };

export interface PointProperties {
  id: string;
  /** The container's name, or its id when it has none: the label drawn beside the point up close. */
  label: string;
  standing: ReturnType<typeof standingOf>;
  /** 1 when below the threshold: clusters add these up. */
  below: 0 | 1;
}

/** The containers with a position, as map points; those without one are left out (the table holds them). */
export function mapPointsOf(rows: Iterable<FleetContainer>): FeatureCollection<Point, PointProperties> {
  const features: Feature<Point, PointProperties>[] = [];
  for (const c of rows) {
    const at = positionOf(c);
    if (!at) continue;
    const standing = standingOf(c);
    features.push({
      type: "Feature",
      geometry: { type: "Point", coordinates: [at.lon, at.lat] },
      properties: { id: c.containerId, label: c.name ?? c.containerId, standing, below: standing === "below" ? 1 : 0 },
    });
  }
  return { type: "FeatureCollection", features };
}

/**
 * A cluster's colour by the share of its containers below their threshold: green when none is,
 * through amber at a quarter, to red when half or more are. One container below among fifty does
 * not turn a region red; the count says how many there are.
 */
export const SHARE_STOPS = [
  [0, COLOURS.ok],
  [0.25, COLOURS.near],
  [0.5, COLOURS.below],
] as const;

/** The same colour as the map computes it, for the list in words and the tests. */
export function shareTone(below: number, count: number): "ok" | "some" | "many" {
  const share = count > 0 ? below / count : 0;
  return share === 0 ? "ok" : share < 0.5 ? "some" : "many";
}

/** A polygon ring's area (signed, in square degrees) and centroid, by the shoelace formula. */
function ringCentroid(ring: Position[]): { area: number; at: [number, number] } {
  let twiceArea = 0;
  let x = 0;
  let y = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [x0, y0] = ring[j]! as [number, number];
    const [x1, y1] = ring[i]! as [number, number];
    const cross = x0 * y1 - x1 * y0;
    twiceArea += cross;
    x += (x0 + x1) * cross;
    y += (y0 + y1) * cross;
  }
  if (twiceArea === 0) return { area: 0, at: ring[0] as [number, number] };
  return { area: Math.abs(twiceArea / 2), at: [x / (3 * twiceArea), y / (3 * twiceArea)] };
}

export interface PlaceLabel {
  name: string;
  /** Square degrees of its largest part: larger places win where labels would overlap. */
  area: number;
}

/**
 * A label point for each named country of the bundled base map: the centroid of its largest part
 * (a country's islands and exclaves would pull a centroid of the whole into the sea).
 */
export function placeLabelsOf(
  countries: FeatureCollection<Geometry | null, { name?: string } | null>,
): FeatureCollection<Point, PlaceLabel> {
  const features: Feature<Point, PlaceLabel>[] = [];
  for (const country of countries.features) {
    const name = country.properties?.name;
    const g = country.geometry;
    if (!name || !g) continue;
    const outer =
      g.type === "Polygon" ? [g.coordinates[0]!] : g.type === "MultiPolygon" ? g.coordinates.map((p) => p[0]!) : [];
    let best: { area: number; at: [number, number] } | null = null;
    for (const ring of outer) {
      const c = ringCentroid(ring);
      if (!best || c.area > best.area) best = c;
    }
    if (!best || best.area === 0) continue;
    features.push({
      type: "Feature",
      geometry: { type: "Point", coordinates: best.at },
      properties: { name, area: Math.round(best.area * 100) / 100 },
    });
  }
  return { type: "FeatureCollection", features };
}

/** A cluster or a single container in view, as the list beside the map says it. */
export interface InView {
  key: string;
  count: number;
  below: number;
  /** The container's id for a single one; null for a cluster. */
  containerId: string | null;
  label: string;
}

interface RenderedFeature {
  properties: Record<string, unknown>;
}

/**
 * What is in view, from the features the map rendered: each cluster and each single container once
 * (a feature on a tile's edge is rendered on both tiles), the largest groups first.
 */
export function inViewOf(rendered: readonly RenderedFeature[]): InView[] {
  const seen = new Map<string, InView>();
  for (const f of rendered) {
    const p = f.properties;
    if (typeof p.cluster_id === "number") {
      const key = `cluster:${p.cluster_id}`;
      const count = Number(p.point_count);
      const below = Number(p.below);
      seen.set(key, { key, count, below, containerId: null, label: `${count} containers` });
    } else if (typeof p.id === "string") {
      const key = `container:${p.id}`;
      const below = Number(p.below);
      seen.set(key, { key, count: 1, below, containerId: p.id, label: String(p.label ?? p.id) });
    }
  }
  return [...seen.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key, "en"));
}
