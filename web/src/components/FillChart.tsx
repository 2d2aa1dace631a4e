// Fill over time (uPlot): the readings, or the server's buckets (mean, with the min–max band) for
// long ranges; the threshold as a stepped line; order opened (red) and closed (green) as marks; the
// forecast from the newest reading to the threshold and to empty (orange), with its p10–p90 band.
import { useEffect, useRef } from "react";
import uPlot, { type AlignedData, type Options } from "uplot";
import "uplot/dist/uPlot.min.css";

export interface History {
  from: string;
  to: string;
  bucketSeconds: number | null;
  threshold: number | null;
  thresholdChanges: { at: string; threshold: number }[];
  points: { at: string; fillPercent: number; min: number; max: number; count: number }[];
  orders: { id: string; openedAt: string; closedAt: string | null }[];
}

/** What the chart draws of a forecast (the container's, when it has one). */
export interface ChartForecast {
  asOf: string;
  level: number | null;
  thresholdAt: string | null;
  thresholdAtP10: string | null;
  thresholdAtP90: string | null;
  emptyAt: string | null;
  emptyAtP10: string | null;
  emptyAtP90: string | null;
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

/**
 * The forecast's line and band as (time, fill) corners: from the newest reading's level through the
 * threshold to empty; the band through the early and late ends. Straight between the corners (the
 * weekday profile's bends are left out), which is exact at the dates the page states.
 */
export function forecastShape(f: ChartForecast, threshold: number) {
  if (f.level === null) return null;
  const corner = (at: string | null, fill: number) => (at ? ([seconds(at), fill] as const) : null);
  const start = [seconds(f.asOf), f.level] as const;
  const path = (t: string | null, e: string | null) =>
    [start, corner(t, threshold), corner(e, 0)].filter((p): p is readonly [number, number] => p !== null);
  return {
    line: path(f.thresholdAt, f.emptyAt),
    early: path(f.thresholdAtP10, f.emptyAtP10),
    late: path(f.thresholdAtP90, f.emptyAtP90),
  };
}

function forecastMarks(shape: NonNullable<ReturnType<typeof forecastShape>>): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          const xy = ([t, fill]: readonly [number, number]) =>
            [u.valToPos(t, "x", true), u.valToPos(fill, "y", true)] as const;
          ctx.save();
          ctx.beginPath();
          ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
          ctx.clip();
          // The band: the early path out, the late path back.
          const ring = [...shape.early, ...[...shape.late].reverse()].map(xy);
          if (ring.length > 2) {
            ctx.fillStyle = "rgba(219,109,40,.15)";
            ctx.beginPath();
            ring.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
            ctx.closePath();
            ctx.fill();
          }
          ctx.strokeStyle = "#db6d28";
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          shape.line.map(xy).forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
          ctx.stroke();
          ctx.restore();
        },
      ],
    },
  };
}

/** The threshold in force at each point: the last change at or before it, else the current one. */
function thresholdAt(h: History, at: number): number | null {
  let value: number | null = null;
  for (const c of h.thresholdChanges) if (seconds(c.at) <= at) value = c.threshold;
  if (value !== null) return value;
  // Before the first change in the range: what that change replaced is not in the answer, so the
  // first change's value is the best known; with no change at all, the threshold now.
  return h.thresholdChanges[0]?.threshold ?? h.threshold;
}

/** The series uPlot draws; the range's ends carry only the threshold, so its line spans the chart. */
export function chartData(h: History): AlignedData {
  const start = seconds(h.from);
  const end = seconds(h.to);
  const xs: number[] = [];
  const fill: (number | null)[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  const add = (x: number, p: History["points"][number] | null) => {
    xs.push(x);
    fill.push(p?.fillPercent ?? null);
    min.push(p?.min ?? null);
    max.push(p?.max ?? null);
  };
  const first = h.points[0];
  const last = h.points[h.points.length - 1];
  if (!first || seconds(first.at) > start) add(start, null);
  for (const p of h.points) add(seconds(p.at), p);
  if (!last || seconds(last.at) < end) add(end, null);
  return [xs, fill, min, max, xs.map((x) => thresholdAt(h, x))];
}

function orderMarks(h: History): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
          for (const o of h.orders) {
            for (const [at, colour] of [
              [o.openedAt, "#d1242f"],
              [o.closedAt, "#1a7f37"],
            ] as const) {
              if (!at) continue;
              const x = u.valToPos(seconds(at), "x", true);
              if (x < bbox.left || x > bbox.left + bbox.width) continue;
              ctx.strokeStyle = colour;
              ctx.beginPath();
              ctx.moveTo(x, bbox.top);
              ctx.lineTo(x, bbox.top + bbox.height);
              ctx.stroke();
            }
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** Open anomalies as purple marks with their names at the top of the chart. */
function anomalyMarks(marks: { at: string; label: string }[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          ctx.strokeStyle = "#8250df";
          ctx.fillStyle = "#8250df";
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
          for (const m of marks) {
            const x = u.valToPos(seconds(m.at), "x", true);
            if (x < bbox.left || x > bbox.left + bbox.width) continue;
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
            ctx.fillText(m.label, x + 4 * devicePixelRatio, bbox.top + 12 * devicePixelRatio);
          }
          ctx.restore();
        },
      ],
    },
  };
}

export function FillChart({
  history,
  forecast = null,
  anomalies = [],
}: {
  history: History;
  forecast?: ChartForecast | null;
  anomalies?: { at: string; label: string }[];
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bucketed = history.bucketSeconds !== null;
    const from = seconds(history.from);
    const to = seconds(history.to);
    const shape = forecast ? forecastShape(forecast, history.threshold ?? 0) : null;
    // The forecast gets room after now: up to half the range again, or to empty if that is sooner.
    const ahead = shape ? Math.min(Math.max(...shape.line.map(([t]) => t)), to + (to - from) / 2) : to;
    const options: Options = {
      width: el.clientWidth,
      height: 260,
      scales: { x: { time: true, range: [from, Math.max(to, ahead)] }, y: { range: [0, 100] } },
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => `${t} %`), size: 56 }],
      series: [
        {},
        {
          label: bucketed ? "Fill (mean)" : "Fill",
          stroke: "#1f6feb",
          width: 2,
          points: { show: !bucketed && history.points.length < 200 },
          value: (_u, v) => (v === null ? "—" : `${v.toFixed(1)} %`),
        },
        {
          label: "Min",
          stroke: "rgba(31,111,235,.35)",
          width: 1,
          show: bucketed,
          value: (_u, v) => (v === null ? "—" : `${v.toFixed(1)} %`),
        },
        {
          label: "Max",
          stroke: "rgba(31,111,235,.35)",
          width: 1,
          show: bucketed,
          value: (_u, v) => (v === null ? "—" : `${v.toFixed(1)} %`),
        },
        {
          label: "Threshold",
          stroke: "#d1242f",
          width: 1,
          dash: [6, 4],
          paths: uPlot.paths.stepped!({ align: 1 }),
          points: { show: false },
          value: (_u, v) => (v === null ? "—" : `${v} %`),
        },
      ],
      bands: bucketed ? [{ series: [3, 2], fill: "rgba(31,111,235,.12)" }] : [],
      legend: { live: true },
      plugins: [orderMarks(history), ...(shape ? [forecastMarks(shape)] : []), anomalyMarks(anomalies)],
    };
    const plot = new uPlot(options, chartData(history), el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 260 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [history, forecast, anomalies]);
  return (
    <div
      ref={box}
      className="chart"
      data-forecast={forecast ? "shown" : ""}
      data-anomalies={anomalies.length}
      data-points={history.points.length}
      data-bucket-seconds={history.bucketSeconds ?? ""}
    />
  );
}
