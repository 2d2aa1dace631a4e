// The fleet on a map (MapLibre GL JS): the containers the table shows, each a point coloured by its
// fill against its threshold, clustered when zoomed out with their count and a colour by the share
// below threshold. A click (or a tap) opens a popup with the container's fill, order and a link.
// The base map is Natural Earth (world-atlas, bundled) with its country names, so it works offline;
// text is drawn from the browser's own fonts (the style names no glyph server). MAP_STYLE_URL, when
// set, replaces the base map with a tile style for production.
import {
  LngLatBounds,
  Map as MapLibreMap,
  NavigationControl,
  Popup,
  setWorkerUrl,
  type GeoJSONSource,
  type MapLayerMouseEvent,
  type StyleSpecification,
} from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import workerUrl from "maplibre-gl/dist/maplibre-gl-worker.mjs?url";
import { feature } from "topojson-client";
import type { Topology, GeometryCollection } from "topojson-specification";
import countriesTopology from "world-atlas/countries-110m.json";
import { useEffect, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { useLocation } from "wouter";
import { api, data } from "../api";
import type { Fleet, FleetContainer } from "../fleet-model";
import { formatAgo, formatCount, formatPercent, formatQuantity, plural } from "../format";
import { COLOURS, SHARE_STOPS, inViewOf, mapPointsOf, placeLabelsOf, shareTone, type InView } from "../map-model";
import { reportFailure } from "../client-errors";

setWorkerUrl(workerUrl);

const FONT = ["sans-serif"];
const LABEL_COLOUR = "#57606a";

function offlineStyle(): StyleSpecification {
  const topology = countriesTopology as unknown as Topology<{ countries: GeometryCollection }>;
  const countries = feature(topology, topology.objects.countries) as GeoJSON.FeatureCollection<
    GeoJSON.Geometry,
    { name?: string }
  >;
  return {
    version: 8,
    sources: {
      land: { type: "geojson", data: countries },
      places: { type: "geojson", data: placeLabelsOf(countries) },
    },
    layers: [
      { id: "sea", type: "background", paint: { "background-color": "#dbe7f3" } },
      { id: "land", type: "fill", source: "land", paint: { "fill-color": "#f6f8fa" } },
      { id: "borders", type: "line", source: "land", paint: { "line-color": "#b6c2cf", "line-width": 0.6 } },
      {
        id: "place-labels",
        type: "symbol",
        source: "places",
        layout: {
          "text-field": ["get", "name"],
          "text-font": FONT,
          "text-size": ["interpolate", ["linear"], ["zoom"], 1, 10, 5, 13],
          // Where two would overlap, the larger country keeps its name.
          "symbol-sort-key": ["-", ["get", "area"]],
          "text-max-width": 7,
        },
        paint: { "text-color": "#8c959f", "text-halo-color": "#f6f8fa", "text-halo-width": 1.2 },
      },
    ],
  };
}

/** The popup's content, built as nodes (names come from sensors and people: never parsed as HTML). */
function popupContent(c: FleetContainer, now: number, open: () => void): HTMLElement {
  const root = document.createElement("div");
  root.className = "map-popup";
  const line = (text: string, className?: string) => {
    const p = document.createElement("p");
    p.textContent = text;
    if (className) p.className = className;
    root.appendChild(p);
    return p;
  };
  const title = document.createElement("strong");
  title.textContent = c.name ?? c.containerId;
  root.appendChild(title);
  if (c.name) line(c.containerId, "mono muted");
  const left =
    c.capacity !== null && c.fillPercent !== null
      ? ` · ${formatQuantity(Math.round((c.capacity * c.fillPercent) / 100), c.unit)} left`
      : "";
  line(`Fill ${formatPercent(c.fillPercent)} (threshold ${formatPercent(c.threshold)})${left}`);
  if (c.contents) line(`Contents: ${c.contents}`);
  line(c.activeOrder ? `Order: ${c.activeOrder.fulfilment}` : "No active order");
  line(c.lastSeenAt ? `Last seen ${formatAgo(c.lastSeenAt, now)}` : "Never heard from");
  const link = document.createElement("a");
  link.href = `/containers/${encodeURIComponent(c.containerId)}`;
  link.textContent = "Open container";
  link.addEventListener("click", (event) => {
    // A plain click stays in the app; a modified one opens a tab as any link does.
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    open();
  });
  root.appendChild(link);
  return root;
}

export default function FleetMap({
  rows,
  fleet,
  fitKey,
}: {
  /** The containers the table shows (search and filters applied): the map shows the same. */
  rows: readonly FleetContainer[];
  /** The whole fleet, for the popup's latest state. */
  fleet: Fleet;
  /** Changes when the search or filters change: the map then frames what they leave. */
  fitKey: string;
}) {
  const element = useRef<HTMLDivElement>(null);
  const map = useRef<MapLibreMap | null>(null);
  const ready = useRef(false);
  const latestRows = useRef(rows);
  const latestFleet = useRef(fleet);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const framed = useRef(fitKey);
  const latestKey = useRef(fitKey);
  const [inView, setInView] = useState<InView[]>([]);
  const [, navigate] = useLocation();
  // The map is made once; its handlers navigate with the router's current function.
  const navigateTo = useRef(navigate);
  useEffect(() => {
    navigateTo.current = navigate;
  }, [navigate]);
  const config = useQuery({
    queryKey: ["dashboard-config"],
    queryFn: () => data(api.v1.dashboard.config.$get()),
    staleTime: Infinity,
  });
  latestRows.current = rows;
  latestFleet.current = fleet;
  latestKey.current = fitKey;

  useEffect(() => {
    if (!element.current || !config.data) return;
    const m = new MapLibreMap({
      container: element.current,
      style: config.data.mapStyleUrl ?? offlineStyle(),
      center: [10, 30],
      zoom: 1,
      attributionControl: { compact: true, customAttribution: config.data.mapStyleUrl ? undefined : "Natural Earth" },
      renderWorldCopies: false,
    });
    map.current = m;
    m.addControl(new NavigationControl({ showCompass: false }), "top-right");
    const popup = new Popup({ closeButton: true, closeOnClick: true, offset: 10, maxWidth: "260px" });

    /** The list in words of what is in view, kept with each settled frame. */
    const listInView = () => setInView(inViewOf(m.queryRenderedFeatures({ layers: ["clusters", "points"] })));

    m.on("load", () => {
      const initial = mapPointsOf(latestRows.current);
      element.current?.setAttribute("data-shown", String(initial.features.length));
      m.addSource("containers", {
        type: "geojson",
        data: initial,
        cluster: true,
        clusterRadius: 44,
        clusterMaxZoom: 11,
        clusterProperties: { below: ["+", ["get", "below"]] },
      });
      m.addLayer({
        id: "clusters",
        type: "circle",
        source: "containers",
        filter: ["has", "point_count"],
        paint: {
          "circle-color": [
            "interpolate",
            ["linear"],
            ["/", ["get", "below"], ["get", "point_count"]],
            ...SHARE_STOPS.flat(),
          ],
          "circle-opacity": 0.85,
          "circle-stroke-color": "#fff",
          "circle-stroke-width": 2,
          "circle-radius": ["step", ["get", "point_count"], 14, 10, 18, 100, 24, 1000, 32],
        },
      });
      m.addLayer({
        id: "cluster-counts",
        type: "symbol",
        source: "containers",
        filter: ["has", "point_count"],
        layout: {
          "text-field": ["get", "point_count_abbreviated"],
          "text-font": FONT,
          "text-size": 12,
          "text-allow-overlap": true,
        },
        paint: { "text-color": "#fff", "text-halo-color": "rgba(0,0,0,0.35)", "text-halo-width": 0.8 },
      });
      m.addLayer({
        id: "points",
        type: "circle",
        source: "containers",
        filter: ["!", ["has", "point_count"]],
        paint: {
          "circle-color": [
            "match",
            ["get", "standing"],
            "below",
            COLOURS.below,
            "near",
            COLOURS.near,
            "ok",
            COLOURS.ok,
            COLOURS.unknown,
          ],
          "circle-radius": 7,
          "circle-stroke-color": "#fff",
          "circle-stroke-width": 1.5,
        },
      });
      m.addLayer({
        id: "point-labels",
        type: "symbol",
        source: "containers",
        filter: ["!", ["has", "point_count"]],
        minzoom: 6,
        layout: {
          "text-field": ["get", "label"],
          "text-font": FONT,
          "text-size": 12,
          "text-offset": [0, 1.1],
          "text-anchor": "top",
          "text-max-width": 10,
        },
        paint: { "text-color": LABEL_COLOUR, "text-halo-color": "#fff", "text-halo-width": 1.2 },
      });
      frame(m, initial, false);
      ready.current = true;
      element.current?.setAttribute("data-ready", "true");
    });
    m.on("idle", listInView);
    m.on("click", "clusters", (e: MapLayerMouseEvent) => {
      const cluster = e.features?.[0];
      if (!cluster) return;
      const source = m.getSource<GeoJSONSource>("containers")!;
      source
        .getClusterExpansionZoom(cluster.properties.cluster_id as number)
        .then((zoom) => m.easeTo({ center: (cluster.geometry as GeoJSON.Point).coordinates as [number, number], zoom }))
        .catch((error: unknown) => reportFailure(error, "rejection"));
    });
    m.on("click", "points", (e: MapLayerMouseEvent) => {
      const p = e.features?.[0];
      const c = p && latestFleet.current.get(p.properties.id as string);
      if (!c) return;
      const open = () => {
        popup.remove();
        navigateTo.current(`/containers/${encodeURIComponent(c.containerId)}`);
      };
      popup
        .setLngLat((p.geometry as GeoJSON.Point).coordinates as [number, number])
        .setDOMContent(popupContent(c, Date.now(), open))
        .addTo(m);
    });
    for (const layer of ["clusters", "points"]) {
      m.on("mouseenter", layer, () => (m.getCanvas().style.cursor = "pointer"));
      m.on("mouseleave", layer, () => (m.getCanvas().style.cursor = ""));
    }
    return () => {
      ready.current = false;
      popup.remove();
      m.remove();
      map.current = null;
    };
  }, [config.data]);

  // Changes: at most one new point set per half second, however fast live changes come; a new
  // search or filter frames what it leaves.
  useEffect(() => {
    if (!ready.current || pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      const m = map.current;
      if (!m) return;
      const points = mapPointsOf(latestRows.current);
      const refit = framed.current !== latestKey.current;
      framed.current = latestKey.current;
      m.getSource<GeoJSONSource>("containers")
        ?.setData(points)
        .then(() => {
          // How many points the map holds now, for whoever checks what it shows.
          element.current?.setAttribute("data-shown", String(points.features.length));
          if (refit) frame(m, points, true);
        })
        .catch((error: unknown) => reportFailure(error, "rejection"));
    }, 500);
  }, [rows]);
  useEffect(() => () => clearTimeout(pending.current), []);

  const below = rows.filter((c) => c.fillPercent !== null && c.fillPercent < c.threshold).length;
  const located = mapPointsOf(rows).features.length;
  return (
    <div className="map-wrap">
      <div
        ref={element}
        className="map"
        role="region"
        aria-label={`Map of ${plural(located, "located container")}, ${formatCount(below)} below threshold`}
        aria-describedby="map-in-view"
        data-points={located}
      />
      <ul className="legend" aria-label="Legend">
        <li>
          <span className="swatch" style={{ background: COLOURS.below }} /> below threshold
        </li>
        <li>
          <span className="swatch" style={{ background: COLOURS.near }} /> within 10 points
        </li>
        <li>
          <span className="swatch" style={{ background: COLOURS.ok }} /> above
        </li>
        <li title="A group's colour: green when none is below threshold, amber at a quarter, red at half or more">
          <span className="swatch share" /> group: share below
        </li>
      </ul>
      <ul id="map-in-view" className="sr-only" aria-label="In view on the map">
        {inView.map((v) => (
          <li key={v.key} data-in-view={v.containerId ?? "cluster"} data-count={v.count} data-below={v.below}>
            {v.containerId
              ? `${v.label}: ${v.below ? "below threshold" : "not below threshold"}`
              : `A group of ${plural(v.count, "container")}, ${formatCount(v.below)} below threshold (${
                  { ok: "none", some: "some", many: "half or more" }[shareTone(v.below, v.count)]
                })`}
          </li>
        ))}
      </ul>
      {config.isError ? <p className="map-note">The map's settings could not be loaded.</p> : null}
    </div>
  );
}

/** Frames the points (a world view when there are none), no closer than a region. */
function frame(m: MapLibreMap, points: GeoJSON.FeatureCollection<GeoJSON.Point>, animate: boolean) {
  if (points.features.length === 0) return;
  if (points.features.length === 1) {
    // One container: in the middle, at a region's scale.
    const center = points.features[0]!.geometry.coordinates as [number, number];
    return animate ? m.easeTo({ center, zoom: 6, duration: 400 }) : m.jumpTo({ center, zoom: 6 });
  }
  const bounds = new LngLatBounds();
  for (const f of points.features) bounds.extend(f.geometry.coordinates as [number, number]);
  // The legend overlays the top left, the zoom buttons the top right.
  m.fitBounds(bounds, {
    padding: { top: 72, bottom: 40, left: 40, right: 56 },
    maxZoom: 6,
    duration: animate ? 400 : 0,
  });
}
