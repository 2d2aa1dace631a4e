// Fill over time (uPlot): the readings, or the server's buckets (mean, with the min–max band) for
// long ranges; the threshold as a stepped line; order opened (red) and closed (green) as marks.
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

const seconds = (iso: string) => Date.parse(iso) / 1000;

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

export function FillChart({ history }: { history: History }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bucketed = history.bucketSeconds !== null;
    const options: Options = {
      width: el.clientWidth,
      height: 260,
      scales: { x: { time: true, range: [seconds(history.from), seconds(history.to)] }, y: { range: [0, 100] } },
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
      plugins: [orderMarks(history)],
    };
    const plot = new uPlot(options, chartData(history), el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 260 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [history]);
  return (
    <div
      ref={box}
      className="chart"
      data-points={history.points.length}
      data-bucket-seconds={history.bucketSeconds ?? ""}
    />
  );
}
