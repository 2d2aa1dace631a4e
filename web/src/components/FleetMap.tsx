// The fleet on a map (MapLibre GL JS): every located container a point coloured by its fill against
// its threshold, clustered when zoomed out. The base map is Natural Earth (world-atlas, bundled), so
// it works offline; MAP_STYLE_URL, when set, replaces it with a tile style for production.
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
import { useEffect, useRef } from "react";
import { useQuery } from "@tanstack/react-query";
import { useLocation } from "wouter";
import { api, data } from "../api";
import { positionOf, standingOf, type Fleet } from "../fleet-model";
import { reportFailure } from "../client-errors";

setWorkerUrl(workerUrl);

const COLOURS = { below: "#d1242f", near: "#bf8700", ok: "#1a7f37", unknown: "#8c959f" };

function offlineStyle(): StyleSpecification {
  const topology = countriesTopology as unknown as Topology<{ countries: GeometryCollection }>;
  return {
    version: 8,
    sources: { land: { type: "geojson", data: feature(topology, topology.objects.countries) } },
    layers: [
      { id: "sea", type: "background", paint: { "background-color": "#dbe7f3" } },
      { id: "land", type: "fill", source: "land", paint: { "fill-color": "#f6f8fa" } },
      { id: "borders", type: "line", source: "land", paint: { "line-color": "#b6c2cf", "line-width": 0.6 } },
    ],
  };
}

function pointsOf(fleet: Fleet): GeoJSON.FeatureCollection<GeoJSON.Point> {
  const features: GeoJSON.Feature<GeoJSON.Point>[] = [];
  for (const c of fleet.values()) {
    const at = positionOf(c);
    if (!at) continue;
    const standing = standingOf(c);
    features.push({
      type: "Feature",
      geometry: { type: "Point", coordinates: [at.lon, at.lat] },
      properties: { id: c.containerId, standing, below: standing === "below" ? 1 : 0 },
    });
  }
  return { type: "FeatureCollection", features };
}

export default function FleetMap({ fleet }: { fleet: Fleet }) {
  const element = useRef<HTMLDivElement>(null);
  const map = useRef<MapLibreMap | null>(null);
  const ready = useRef(false);
  const latest = useRef(fleet);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const [, navigate] = useLocation();
  // The map is made once; its click handler navigates with the router's current function.
  const navigateTo = useRef(navigate);
  useEffect(() => {
    navigateTo.current = navigate;
  }, [navigate]);
  const config = useQuery({
    queryKey: ["dashboard-config"],
    queryFn: () => data(api.v1.dashboard.config.$get()),
    staleTime: Infinity,
  });
  latest.current = fleet;

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
    m.on("load", () => {
      const initial = pointsOf(latest.current);
      element.current?.setAttribute("data-shown", String(initial.features.length));
      m.addSource("containers", {
        type: "geojson",
        data: initial,
        cluster: true,
        clusterRadius: 40,
        clusterMaxZoom: 11,
        // Clusters that hold a container below its threshold are shown red.
        clusterProperties: { below: ["+", ["get", "below"]] },
      });
      m.addLayer({
        id: "clusters",
        type: "circle",
        source: "containers",
        filter: ["has", "point_count"],
        paint: {
          "circle-color": ["case", [">", ["get", "below"], 0], COLOURS.below, "#1f6feb"],
          "circle-opacity": 0.8,
          "circle-stroke-color": "#fff",
          "circle-stroke-width": 2,
          "circle-radius": ["step", ["get", "point_count"], 12, 10, 16, 100, 22, 1000, 30],
        },
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
          "circle-radius": 6,
          "circle-stroke-color": "#fff",
          "circle-stroke-width": 1.5,
        },
      });
      const located = initial.features;
      if (located.length > 0) {
        const bounds = new LngLatBounds();
        for (const f of located) bounds.extend(f.geometry.coordinates as [number, number]);
        m.fitBounds(bounds, { padding: 40, maxZoom: 5, duration: 0 });
      }
      ready.current = true;
      element.current?.setAttribute("data-ready", "true");
    });
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
      const id = e.features?.[0]?.properties.id as string | undefined;
      if (id) navigateTo.current(`/containers/${encodeURIComponent(id)}`);
    });
    for (const layer of ["clusters", "points"]) {
      m.on("mouseenter", layer, () => (m.getCanvas().style.cursor = "pointer"));
      m.on("mouseleave", layer, () => (m.getCanvas().style.cursor = ""));
    }
    const popup = new Popup({ closeButton: false, closeOnClick: false, offset: 8 });
    m.on("mousemove", "points", (e: MapLayerMouseEvent) => {
      const p = e.features?.[0];
      const c = p && latest.current.get(p.properties.id as string);
      if (!c) return;
      popup
        .setLngLat((p.geometry as GeoJSON.Point).coordinates as [number, number])
        .setText(`${c.name ?? c.containerId}: ${c.fillPercent ?? "—"} % (threshold ${c.threshold} %)`)
        .addTo(m);
    });
    m.on("mouseleave", "points", () => popup.remove());
    return () => {
      ready.current = false;
      m.remove();
      map.current = null;
    };
  }, [config.data]);

  // Live changes: at most one new point set per half second, however fast changes come.
  useEffect(() => {
    if (!ready.current || pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      const points = pointsOf(latest.current);
      map.current
        ?.getSource<GeoJSONSource>("containers")
        ?.setData(points)
        // How many points the map holds now, for whoever checks what it shows.
        .then(() => element.current?.setAttribute("data-shown", String(points.features.length)))
        .catch((error: unknown) => reportFailure(error, "rejection"));
    }, 500);
  }, [fleet]);
  useEffect(() => () => clearTimeout(pending.current), []);

  const located = [...fleet.values()].filter((c) => positionOf(c)).length;
  return (
    <div className="map-wrap">
      <div
        ref={element}
        className="map"
        role="region"
        aria-label={`Map of ${located} located containers`}
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
        <li>
          <span className="swatch" style={{ background: "#1f6feb" }} /> cluster
        </li>
      </ul>
      {config.isError ? <p className="map-note">The map's settings could not be loaded.</p> : null}
    </div>
  );
}
