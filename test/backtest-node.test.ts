// The backtest (test/support/backtest.ts) as a test: the targets the model and the anomaly rules
// are held to. `npm run backtest` prints its table.
import { expect, it } from "vitest";
import { backtest, backtestTable, HORIZON_H } from "./support/backtest";

it("forecasts within 10 % of a 72-hour horizon at the median, and finds anomalies with precision and recall of 0.9 or more", () => {
  const result = backtest();
  console.log(backtestTable(result));
  expect(result.forecastSamples).toBeGreaterThan(200);
  expect(result.errorHours.p50).toBeLessThan(0.1 * HORIZON_H);
  expect(result.precision).toBeGreaterThanOrEqual(0.9);
  expect(result.recall).toBeGreaterThanOrEqual(0.9);
});
