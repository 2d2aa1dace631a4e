// The cron triggers run on their own under `npm run dev` (scripts/lib/local-cron.mjs): with nothing
// run by hand, the minute monitor finds a condition and an operator with the alerts page open sees
// the alert arrive.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser/chromium";
import { adminToken, call, fleetKey, newContainerId, openPage, pageProblems, person, postReadings, shot, signIn } from "./browser/helpers";

let browser: Browser;
let admin: string;
let key: string;

beforeAll(async () => {
  browser = await launchChromium();
  admin = await adminToken();
  key = await fleetKey(admin);
});

afterAll(async () => {
  await browser?.close();
});

describe("scheduled jobs under npm run dev", () => {
  it("the minute monitor raises an alert on its own schedule, and the open alerts page shows it", { timeout: 180_000 }, async () => {
    const operator = await person("operator", admin);
    const page = await openPage(browser);
    await signIn(page, operator.email, operator.password, "/alerts");
    const containerId = newContainerId("leak");
    const now = Date.now();
    // A drop of 50 points with no delivery between: the monitor's fillDrop rule (30 points).
    await postReadings(key, [
      { containerId, fillPercent: 90, contents: "diesel", measuredAt: new Date(now - 60_000).toISOString() },
      { containerId, fillPercent: 40, contents: "diesel", measuredAt: new Date(now - 1_000).toISOString() },
    ]);
    const item = page.locator(".alert-item", { hasText: `${containerId} dropped from 90 % to 40 %` });
    // The next minute's run, or the one after if Postgres had the readings only after it looked.
    await item.waitFor({ timeout: 150_000 });
    const { alerts } = await call<{ alerts: { rule: string; subject: string; firedAt: string }[] }>("/v1/alerts?limit=500", { token: admin });
    const alert = alerts.find((a) => a.rule === "fillDrop" && a.subject === containerId);
    expect(alert).toBeDefined();
    // Fired by the trigger, at its scheduled time (the start of a minute), not by a run asked for by hand.
    expect(Date.parse(alert!.firedAt) % 60_000).toBe(0);
    expect(Date.parse(alert!.firedAt)).toBeGreaterThan(now - 60_000);
    await shot(page, "alerts-from-the-schedule");
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});
