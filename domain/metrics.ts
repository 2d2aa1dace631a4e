// The Prometheus text exposition format (version 0.0.4), written here rather than with prom-client:
// every value is read at scrape time from Postgres and from Durable Objects (so it is the same
// whichever isolate answers), not counted by in-process instruments, which is what prom-client's
// registry models. The format is small: HELP and TYPE lines per family, then one sample per line.

export type MetricType = "counter" | "gauge" | "histogram";
export type Labels = Record<string, string>;

export interface Sample {
  labels?: Labels;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** Bucket bounds (seconds) of every duration histogram. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** A histogram as kept between scrapes: the count in each bucket (not cumulative), the sum, the count. */
export interface HistogramState {
  buckets: number[];
  sum: number;
  count: number;
}

export const emptyHistogram = (): HistogramState => ({ buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 });

export function observe(h: HistogramState, value: number): HistogramState {
  const buckets = [...h.buckets];
  const i = DURATION_BUCKETS.findIndex((le) => value <= le);
  if (i >= 0) buckets[i]! += 1;
  return { buckets, sum: h.sum + value, count: h.count + 1 };
}

/** The samples of one histogram: cumulative `_bucket` lines up to `+Inf`, then `_sum` and `_count`. */
export function histogramSamples(
  name: string,
  labels: Labels,
  h: HistogramState,
): { name: string; labels: Labels; value: number }[] {
  let running = 0;
  const out: { name: string; labels: Labels; value: number }[] = DURATION_BUCKETS.map((le, i) => {
    running += h.buckets[i] ?? 0;
    return { name: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: running };
  });
  out.push({ name: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: h.count });
  out.push({ name: `${name}_sum`, labels, value: h.sum });
  out.push({ name: `${name}_count`, labels, value: h.count });
  return out;
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function labelText(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Families as one exposition; histograms' samples are expected already expanded (see histogramSamples). */
export type HistogramFamily = {
  name: string;
  help: string;
  type: "histogram";
  lines: { name: string; labels: Labels; value: number }[];
};

export function exposition(families: readonly (Family | HistogramFamily)[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    if ("lines" in f) for (const l of f.lines) out.push(`${l.name}${labelText(l.labels)} ${valueText(l.value)}`);
    else for (const s of f.samples) out.push(`${f.name}${labelText(s.labels)} ${valueText(s.value)}`);
  }
  return out.join("\n") + "\n";
}
