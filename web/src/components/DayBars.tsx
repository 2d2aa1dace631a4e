// Figures per UTC day as stacked bars (uPlot): one bar a day, each series a coloured part of it,
// in the order given from the bottom up. The legend follows the cursor with each part's own figure
// (not the stacked height), and each series' total over the range while the cursor is away; the
// days are labelled in UTC, as the analytics count them.
import { useEffect, useRef } from "react";
import uPlot, { type Options } from "uplot";
import "uplot/dist/uPlot.min.css";
import type { DaySeries } from "../analytics-model";
import { formatDay, formatFigure } from "../format";

const DAY_S = 86_400;
const secondsOf = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;
const dayAt = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);

/** Each series' top: its own figure on the ones below it. */
export function stacked(series: readonly DaySeries[]): number[][] {
  const tops: number[][] = [];
  series.forEach((s, k) => tops.push(s.values.map((v, i) => v + (k === 0 ? 0 : tops[k - 1]![i]!))));
  return tops;
}

/** Draws each series' part of the bar: from the top of the one below to its own top. */
const parts: uPlot.Series.PathBuilder = (u, seriesIdx, idx0, idx1) => {
  const xs = u.data[0];
  const tops = u.data[seriesIdx]!;
  const below = seriesIdx > 1 ? u.data[seriesIdx - 1]! : null;
  const dayPx = Math.abs(u.valToPos(DAY_S, "x", true) - u.valToPos(0, "x", true));
  const width = Math.max(2, Math.min(dayPx * 0.72, 64 * devicePixelRatio));
  const path = new Path2D();
  for (let i = idx0; i <= idx1; i++) {
    const top = tops[i];
    const bottom = below?.[i] ?? 0;
    if (top === null || top === undefined || top <= bottom) continue;
    const x = u.valToPos(xs[i]!, "x", true);
    const yTop = u.valToPos(top, "y", true);
    const yBottom = u.valToPos(bottom, "y", true);
    path.rect(x - width / 2, yTop, width, yBottom - yTop);
  }
  return { fill: path, stroke: path };
};

export function DayBars({
  days,
  series,
  format,
  label,
}: {
  days: readonly string[];
  series: readonly DaySeries[];
  /** A figure with its unit, for the legend ("120 l"). */
  format: (value: number) => string;
  /** What the chart shows, for screen readers. */
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || days.length === 0) return;
    const xs = days.map(secondsOf);
    const tops = stacked(series);
    const highest = Math.max(0, ...tops.flatMap((t) => t));
    const options: Options = {
      width: el.clientWidth,
      height: 260,
      // The days are UTC days: ticks and the legend in UTC, so a bar is labelled with its own day.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: {
        x: { time: true, range: [xs[0]! - DAY_S / 2, xs[xs.length - 1]! + DAY_S / 2] },
        y: { range: [0, highest > 0 ? highest * 1.08 : 1] },
      },
      axes: [
        {
          space: 56,
          incrs: [1, 2, 7, 14, 28, 56].map((d) => d * DAY_S),
          values: (_u, ticks) => ticks.map((t) => formatDay(dayAt(t), "short")),
        },
        { values: (_u, ticks) => ticks.map((t) => formatFigure(t)), size: 64 },
      ],
      series: [
        // Away from the bars, the legend gives each series' total over the range.
        { label: "Day", value: (_u, v) => (v === null ? "All days" : formatDay(dayAt(v))) },
        ...series.map((s, k): uPlot.Series => ({
          label: s.label,
          fill: s.colour,
          stroke: "#fff",
          width: 1,
          paths: parts,
          points: { show: false },
          value: (_u, _v, _s, i) =>
            format(i === null ? series[k]!.values.reduce((a, b) => a + b, 0) : (series[k]!.values[i] ?? 0)),
        })),
      ],
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      legend: { live: true },
    };
    const plot = new uPlot(options, [xs, ...tops], el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 260 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [days, series, format]);
  return (
    <div
      ref={box}
      className="chart day-bars"
      role="group"
      aria-label={label}
      data-days={days.length}
      data-series={JSON.stringify(series.map((s) => s.label))}
    />
  );
}
