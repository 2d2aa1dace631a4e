// The monitor's alert rules and who is told, as an admin reads and edits them on the Admin page's
// "Alert rules" tab, and the Alerts page's list of messages sent saying in words what a message for
// many alerts was: in a real headless Chromium against the whole system started as `npm run dev`
// starts it. Screenshots at desktop and phone width go to test-results/screenshots.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser/chromium";
import {
  adminToken,
  call,
  eventually,
  fleetKey,
  newContainerId,
  openPage,
  pageProblems,
  person,
  postReadings,
  shot,
  signIn,
  system,
} from "./browser/helpers";

type Rules = Record<string, Record<string, unknown>>;
type Settings = {
  telegram: Record<string, { primary: string | null; escalation: string | null }>;
  email: { alerts: Record<string, string[]>; newErrors: string[] };
};

let browser: Browser;
let admin: string;

beforeAll(async () => {
  browser = await launchChromium();
  admin = await adminToken();
});

afterAll(async () => {
  await browser?.close();
});

const rulesNow = async () => (await call<{ rules: Rules }>("/v1/alert-rules", { token: admin })).rules;
const settingsNow = async () =>
  (await call<{ settings: Settings }>("/v1/notification-settings", { token: admin })).settings;

/** On a phone nothing reaches past the screen's edge, and the page does not scroll sideways. */
async function fitsPhone(page: Page) {
  const wide = await page.evaluate(() =>
    [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > 391)
      .slice(0, 5)
      .map((e) => `${e.tagName}.${e.className}`),
  );
  expect(wide).toEqual([]);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
}

describe("alert rules", () => {
  it("an admin reads each rule in words, changes a setting and a severity, and the API answers the new values; a bad value shows the API's message at its rule and changes nothing", async () => {
    const before = await rulesNow();
    const page = await openPage(browser);
    try {
      await signIn(page, system().adminEmail, system().adminPassword, "/admin/alert-rules");
      const card = (rule: string) => page.locator(`.rule-card[data-rule="${rule}"]`);
      await card("notAccepted").waitFor();
      expect(await page.getByRole("link", { name: "Alert rules" }).getAttribute("aria-current")).toBe("page");
      // Every rule, with what it watches in words and its setting filled in, and what the setting is for.
      expect(await page.locator(".rule-card").count()).toBe(Object.keys(before).length);
      expect(await card("battery").locator(".rule-watches").textContent()).toBe(
        `Alerts on a sensor's battery below ${before.battery!.belowPercent} %.`,
      );
      expect(await card("notAccepted").locator(".hint").textContent()).toMatch(/^How long the partner has to accept/);
      expect(await card("silent").locator(".hint").textContent()).toMatch(/report interval decides/);
      // What a severity means: how often it comes back and when it escalates.
      expect(await page.locator(".severity-legend").textContent()).toContain(
        "repeated every 10 min until someone acknowledges it; after 3 repeats (30 min) it goes to the escalation chat",
      );
      await shot(page, "admin-rules", true);

      const minutes = Number(before.notAccepted!.minutes) + 30;
      await page.getByLabel("Not accepted after (minutes)").fill(String(minutes));
      await page.getByLabel("Orders not accepted: severity").selectOption("critical");
      await page.getByLabel("Low sensor batteries: on").uncheck();
      expect(await card("notAccepted").locator(".rule-watches").textContent()).toBe(
        `Alerts on an order its partner has not accepted ${minutes} minutes after it opened.`,
      );
      expect(await card("battery").locator(".tag-closed").textContent()).toBe("off");
      expect(await page.getByTestId("rules-changed").textContent()).toBe("2 rules changed, not saved yet");
      await page.getByRole("button", { name: "Save rules" }).click();
      await page.getByText("Saved: the next run uses these rules.").waitFor();
      const after = await rulesNow();
      expect(after.notAccepted).toEqual({ enabled: true, severity: "critical", minutes });
      expect(after.battery).toEqual({ ...before.battery, enabled: false });
      expect({ ...after, notAccepted: before.notAccepted, battery: before.battery }).toEqual(before);
      expect(await card("notAccepted").getAttribute("class")).toContain("sev-critical");

      // A bad value: the API's message at its rule and in the save bar, and the rules stay as they are.
      await page.getByLabel("Battery below (%)").fill("150");
      await page.getByRole("button", { name: "Save rules" }).click();
      const problem = card("battery").locator(".field-problem");
      await problem.waitFor();
      expect(await problem.textContent()).toBe("must be at most 100");
      expect(await page.getByLabel("Battery below (%)").getAttribute("aria-invalid")).toBe("true");
      expect(await page.locator(".save-bar .form-problem").textContent()).toBe(
        "rules.battery.belowPercent must be at most 100",
      );
      expect((await rulesNow()).battery).toEqual(after.battery);
      await card("battery").scrollIntoViewIfNeeded();
      await shot(page, "admin-rules-invalid");
      // Undone, the form holds what is saved again.
      await page.getByRole("button", { name: "Undo changes" }).click();
      expect(await page.getByLabel("Battery below (%)").inputValue()).toBe(String(before.battery!.belowPercent));
      expect(await problem.count()).toBe(0);

      await page.setViewportSize({ width: 390, height: 844 });
      await card("notAccepted").scrollIntoViewIfNeeded();
      await shot(page, "admin-rules-phone");
      await fitsPhone(page);
      expect(pageProblems(page)).toEqual([]);
    } finally {
      await page.context().close();
      await call("/v1/alert-rules", { method: "PUT", token: admin, json: { rules: before } });
    }
  });
});

describe("who is told", () => {
  it("an admin sets who hears of each severity, each field explained; a bad address shows the API's message at its field; the settings save", async () => {
    const before = await settingsNow();
    const page = await openPage(browser);
    try {
      await signIn(page, system().adminEmail, system().adminPassword, "/admin/alert-rules");
      const told = page.getByRole("region", { name: "Who is told" });
      await told.getByLabel("warning: email").waitFor();
      expect(
        await told.locator(".told-field", { has: page.getByLabel("critical: Telegram chat") }).textContent(),
      ).toContain("Gets each critical alert when it fires, repeated every 10 min until someone acknowledges it");
      expect(
        await told.locator(".told-field", { has: page.getByLabel("info: escalation chat") }).textContent(),
      ).toContain("info alerts do not escalate");

      await told.getByLabel("warning: email").fill("dispatch@fillgrid.test, not an address");
      await told.getByLabel("warning: escalation chat").fill("@fillgrid_oncall");
      await told.getByRole("button", { name: "Save who is told" }).click();
      const field = told.locator(".told-field", { has: page.getByLabel("warning: email") });
      await field.locator(".field-problem").waitFor();
      expect(await field.locator(".field-problem").textContent()).toBe("is not an email address");
      expect(await settingsNow()).toEqual(before);
      await field.scrollIntoViewIfNeeded();
      await shot(page, "admin-told-invalid");

      await told.getByLabel("warning: email").fill("dispatch@fillgrid.test, lead@fillgrid.test");
      await told.getByRole("button", { name: "Save who is told" }).click();
      await told.getByText("Saved: the next message goes by these settings.").waitFor();
      const saved = await settingsNow();
      expect(saved.email.alerts.warning).toEqual(["dispatch@fillgrid.test", "lead@fillgrid.test"]);
      expect(saved.telegram.warning).toEqual({
        primary: before.telegram.warning!.primary,
        escalation: "@fillgrid_oncall",
      });
      expect({ ...saved, telegram: before.telegram, email: before.email }).toEqual(before);
      expect(saved.telegram.critical).toEqual(before.telegram.critical);
      await told.scrollIntoViewIfNeeded();
      await shot(page, "admin-told", true);

      await page.setViewportSize({ width: 390, height: 844 });
      await told.getByLabel("warning: email").scrollIntoViewIfNeeded();
      await shot(page, "admin-told-phone");
      await fitsPhone(page);
      expect(pageProblems(page)).toEqual([]);
    } finally {
      await page.context().close();
      await call("/v1/notification-settings", { method: "PUT", token: admin, json: { settings: before } });
    }
  });
});

describe("messages sent", () => {
  it("a message for many alerts of one rule says in words what it was: so many alerts of which rule, acknowledged by whom", async () => {
    const key = await fleetKey(admin);
    const prefix = newContainerId("told");
    const ids = Array.from({ length: 4 }, (_, i) => `${prefix}-${i}`);
    await postReadings(
      key,
      ids.map((containerId) => ({ containerId, fillPercent: 70, battery: 5, contents: "water" })),
    );
    // The monitor runs each minute; here it is asked to now, until Postgres has the four readings.
    const firing = await eventually(async () => {
      await call("/v1/monitor/run", { method: "POST", token: admin });
      const { alerts } = await call<{ alerts: { id: string; rule: string }[] }>(
        `/v1/alerts?q=${prefix}&state=firing&limit=50`,
        { token: admin },
      );
      return alerts.length === 4 ? alerts : undefined;
    }, "the four batteries' alerts");
    expect(firing.map((a) => a.rule)).toEqual(["battery", "battery", "battery", "battery"]);
    // All four at once: the chat hears of them in one line.
    await call("/v1/alerts/ack", { token: admin, json: { ids: firing.map((a) => a.id) } });

    // An operator on call reads the list.
    const operator = await person("operator", admin);
    const page = await openPage(browser);
    await signIn(page, operator.email, operator.password, "/alerts");
    const messages = page.getByRole("table", { name: "Messages sent" });
    const row = messages.locator("tbody tr", { hasText: "acknowledged 4 alerts of Low sensor batteries" });
    await row.waitFor({ timeout: 40_000 });
    expect(await row.locator('[data-cell="about"]').textContent()).toBe(
      `acknowledged 4 alerts of Low sensor batteries · by ${system().adminEmail}`,
    );
    expect(await row.textContent()).toContain("Telegram");
    expect(await row.getAttribute("data-status")).toBe("sent");
    await messages.scrollIntoViewIfNeeded();
    await shot(page, "alerts-messages");

    await page.setViewportSize({ width: 390, height: 844 });
    await row.scrollIntoViewIfNeeded();
    await shot(page, "alerts-messages-phone");
    await fitsPhone(page);
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});
