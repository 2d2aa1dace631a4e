// The exposition format as written: families, label escaping, cumulative histogram buckets.
import { describe, expect, it } from "vitest";
import { emptyHistogram, exposition, histogramSamples, observe } from "../domain/metrics";

describe("the Prometheus text format", () => {
  it("writes HELP and TYPE per family and escapes label values", () => {
    const text = exposition([
      {
        name: "fillgrid_x_total",
        help: "a\\nb",
        type: "counter",
        samples: [{ labels: { queue: 'q"1\\\\' }, value: 3 }, { value: 0.5 }],
      },
    ]);
    expect(text).toBe(
      '# HELP fillgrid_x_total a\\\\nb\n# TYPE fillgrid_x_total counter\nfillgrid_x_total{queue="q\\"1\\\\\\\\"} 3\nfillgrid_x_total 0.5\n',
    );
  });

  it("histogram buckets are cumulative, +Inf equals the count, and the sum adds up", () => {
    let h = emptyHistogram();
    for (const v of [0.003, 0.2, 0.2, 3, 60]) h = observe(h, v);
    const lines = histogramSamples("fillgrid_d_seconds", { queue: "q" }, h);
    const bucket = (le: string) => lines.find((l) => l.labels.le === le)!.value;
    expect([bucket("0.005"), bucket("0.25"), bucket("5"), bucket("10"), bucket("+Inf")]).toEqual([1, 3, 4, 4, 5]);
    expect(lines.find((l) => l.name === "fillgrid_d_seconds_count")!.value).toBe(5);
    expect(lines.find((l) => l.name === "fillgrid_d_seconds_sum")!.value).toBeCloseTo(63.403);
  });
});
