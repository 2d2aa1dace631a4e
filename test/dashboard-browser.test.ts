// The dashboard as its users meet it: in a real headless Chromium, against the whole system started
// as `npm run dev` starts it. Screenshots of every view go to test-results/screenshots.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvColumns } from "../domain/analytics";
import type { ErrorRecord } from "../domain/errors";
import { chromiumOnPosixLocale, launchChromium } from "./browser/chromium";
import {
  adminToken,
  call,
  downloaded,
  eventually,
  fleetKey,
  newContainerId,
  openPage,
  pageProblems,
  partnerEvent,
  person,
  postReadings,
  shot,
  signIn,
  system,
} from "./browser/helpers";

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

/** The dashboard's error records, as an operator lists them. */
const dashboardRecords = async () =>
  (await call<{ errors: ErrorRecord[] }>("/v1/errors?source=dashboard&limit=500", { token: admin })).errors;

/** What `find` picks from the dashboard's records once it picks something (the queue takes a moment). */
async function dashboardRecord<T>(
  find: (records: ErrorRecord[]) => T | undefined,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find(await dashboardRecords());
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no dashboard record: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A figure and a UTC day as the pages say them in English (openPage's en-GB). */
const format = (n: number) => new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 }).format(n);
const dayInWords = (day: string) =>
  new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" }).format(
    Date.parse(`${day}T00:00:00Z`),
  );

const figure = (page: Page, label: string) => page.locator(`[data-figure="${label}"]`);
const figureValue = async (page: Page, label: string) =>
  Number((await figure(page, label).textContent())!.replace(/\D/g, ""));

describe("fleet", () => {
  it("after sign-in shows the containers that exist, and a reading to a new container appears on the open page without reload", async () => {
    const existing = newContainerId("zurich");
    await postReadings(key, [
      { containerId: existing, fillPercent: 80, contents: "diesel", location: { lat: 47.37, lon: 8.54 } },
    ]);
    const page = await openPage(browser);
    await page.goto(system().url + "/");
    await shot(page, "sign-in");
    await signIn(page, system().adminEmail, system().adminPassword);
    // The existing container: in the table once Postgres has it (the projection follows the ack).
    await page.getByLabel("Search by id or name").fill(existing.slice(0, -2));
    await page.locator(`[data-container="${existing}"]`).waitFor({ timeout: 20_000 });
    await page.locator(".map[data-ready=true]").waitFor({ timeout: 30_000 });
    const before = { containers: await figureValue(page, "Containers") };

    // The map shows what the table shows: nothing yet under a search for the new one.
    const fresh = newContainerId("zurich");
    await page.getByLabel("Search by id or name").fill(fresh);
    await expect.poll(() => page.locator(".fleet-table .empty").isVisible()).toBe(true);
    await expect.poll(async () => Number(await page.locator(".map").getAttribute("data-shown"))).toBe(0);
    await postReadings(key, [
      { containerId: fresh, fillPercent: 64, contents: "pellets", location: { lat: 47.4, lon: 8.6 } },
    ]);
    const row = page.locator(`[data-container="${fresh}"]`);
    await row.waitFor({ timeout: 20_000 });
    await expect.poll(() => row.textContent()).toContain("64 %");
    await expect.poll(() => figureValue(page, "Containers"), { timeout: 10_000 }).toBe(before.containers + 1);
    await expect
      .poll(async () => Number(await page.locator(".map").getAttribute("data-shown")), { timeout: 10_000 })
      .toBe(1);
    expect(await page.locator(".live").getAttribute("data-status")).toBe("live");
    await page.getByLabel("Search by id or name").fill("");
    await shot(page, "fleet");

    // A row opens its container.
    await page.getByLabel("Search by id or name").fill(fresh);
    await row.click();
    await page.getByRole("heading", { name: fresh }).waitFor();
    expect(page.url()).toBe(`${system().url}/containers/${fresh}`);
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });

  it("the map shows what the table shows, in groups with their counts and the share below threshold; a tap opens a container's popup and its link", async () => {
    // Six containers around Lyon (one below the default threshold, 50 %) and four around Hamburg (three below).
    const contents = `mapfuel-${newContainerId("m")}`;
    const near = (lat: number, lon: number, i: number) => ({ lat: lat + i * 0.01, lon: lon + i * 0.01 });
    const lyon = Array.from({ length: 6 }, (_, i) => ({
      containerId: newContainerId("lyon"),
      fillPercent: i === 0 ? 20 : 70,
      location: near(45.75, 4.85, i),
    }));
    const hamburg = Array.from({ length: 4 }, (_, i) => ({
      containerId: newContainerId("hamburg"),
      fillPercent: i < 3 ? 15 : 90,
      location: near(53.55, 10.0, i),
    }));
    await postReadings(
      key,
      [...lyon, ...hamburg].map((r) => ({ ...r, contents })),
    );
    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword);
    await page.getByLabel("Contents").selectOption(contents, { timeout: 20_000 });
    const map = page.locator(".map[data-ready=true]");
    await map.waitFor({ timeout: 30_000 });
    await expect.poll(() => map.getAttribute("data-shown"), { timeout: 10_000 }).toBe("10");
    /** What the map says is in view: each group or container with its count and how many are below. */
    const inView = async () =>
      (
        await page
          .locator("#map-in-view li")
          .evaluateAll((items) => items.map((li) => [Number(li.dataset.count), Number(li.dataset.below)]))
      ).sort((a, b) => b[0]! - a[0]!);
    await expect.poll(inView, { timeout: 10_000 }).toEqual([
      [6, 1],
      [4, 3],
    ]);
    expect(await page.locator("#map-in-view li").allTextContents()).toEqual([
      "A group of 6 containers, 1 below threshold (some)",
      "A group of 4 containers, 3 below threshold (half or more)",
    ]);
    await shot(page, "fleet-map-groups");

    // Below threshold only: the map follows the filter.
    await page.getByRole("checkbox", { name: "Below threshold" }).check();
    await expect.poll(() => map.getAttribute("data-shown"), { timeout: 10_000 }).toBe("4");
    await expect.poll(inView, { timeout: 10_000 }).toEqual([
      [3, 3],
      [1, 1],
    ]);
    await page.context().close();

    // On a phone: a search leaves one, the map frames it, and a tap on it opens its popup.
    const phone = await openPage(browser, { width: 390, height: 844 }, { touch: true });
    await signIn(phone, system().adminEmail, system().adminPassword);
    const one = hamburg[0]!.containerId;
    await phone.getByLabel("Search by id or name").fill(one);
    const phoneMap = phone.locator(".map[data-ready=true]");
    await phoneMap.waitFor({ timeout: 30_000 });
    await phone.locator(`#map-in-view li[data-in-view="${one}"]`).waitFor({ state: "attached", timeout: 10_000 });
    await expect.poll(() => phone.locator("#map-in-view li").count()).toBe(1);
    const box = (await phoneMap.boundingBox())!;
    await phone.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
    const popup = phone.locator(".map-popup");
    await popup.waitFor({ timeout: 5_000 });
    expect(await popup.textContent()).toContain("Fill 15 % (threshold 50 %)");
    await phoneMap.scrollIntoViewIfNeeded();
    await shot(phone, "fleet-map-popup-phone");
    await popup.getByRole("link", { name: "Open container" }).tap();
    await phone.getByRole("heading", { name: one }).waitFor();
    expect(phone.url()).toBe(`${system().url}/containers/${one}`);
    expect(pageProblems(phone)).toEqual([]);
    await phone.context().close();
  });

  it("is readable on a phone", async () => {
    const page = await openPage(browser, { width: 390, height: 844 });
    await signIn(page, system().adminEmail, system().adminPassword);
    await page.locator(".fleet-table .row[data-container]").first().waitFor({ timeout: 20_000 });
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, "fleet-phone", true);
    await page.context().close();
  });

  it("downloads the fleet as the table shows it, filtered, as the API answers the same question", async () => {
    const contents = `csvfuel-${newContainerId("c")}`;
    const ids = [newContainerId("csv"), newContainerId("csv"), newContainerId("csv")];
    await postReadings(
      key,
      ids.map((containerId, i) => ({ containerId, fillPercent: 30 + i * 20, battery: 80, contents })),
    );
    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword);
    await page.getByLabel("Contents").selectOption(contents, { timeout: 20_000 });
    const button = page.getByRole("button", { name: "Download CSV (3)" });
    await button.waitFor({ timeout: 20_000 });
    await shot(page, "fleet-filtered");
    const csv = await downloaded(page, () => button.click());
    expect(csv.name).toBe("fleet.csv");
    const api = await (
      await fetch(`${system().url}/v1/containers?contents=${contents}&format=csv`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).text();
    const rows = (text: string) => text.trim().split(/\r?\n/);
    expect(rows(csv.text)[0]).toBe(rows(api)[0]);
    expect(rows(csv.text).slice(1).sort()).toEqual(rows(api).slice(1).sort());
    expect(rows(api)).toHaveLength(4);
    await page.context().close();
  });
});

describe("orders", () => {
  it("a reading below the threshold shows the new order; an operator closes it; a viewer sees no button and is refused when forcing it", async () => {
    const operator = await person("operator", admin);
    const viewer = await person("viewer", admin);
    const id = newContainerId("silo");
    const page = await openPage(browser);
    await signIn(page, operator.email, operator.password, `/containers/${id}`);
    await page.getByText(`No container is called ${id}`).waitFor();
    await shot(page, "container-unknown");

    const viewerPage = await openPage(browser);
    await signIn(viewerPage, viewer.email, viewer.password);

    await postReadings(key, [{ containerId: id, fillPercent: 22, location: { lat: 46.2, lon: 6.15 } }]);
    await page.reload();
    const card = page.locator(".order-card");
    await expect.poll(() => card.textContent(), { timeout: 20_000 }).toContain("Active order");
    await shot(page, "container-order-open", true);

    // The viewer: the same page without an action.
    await viewerPage.goto(`${system().url}/containers/${id}`);
    await viewerPage.locator(".order-card.active").waitFor();
    expect(await viewerPage.getByRole("button", { name: /close order|open order/i }).count()).toBe(0);
    const forced = await viewerPage.evaluate(async (path) => {
      const token = (JSON.parse(sessionStorage.getItem("fillgrid.session")!) as { token: string }).token;
      const res = await fetch(path, { method: "POST", headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    }, `/v1/containers/${id}/orders`);
    expect(forced.status).toBe(403);

    // Closing asks first, with an optional reason; keeping it open changes nothing.
    await page.getByRole("button", { name: "Close order…" }).click();
    expect(await card.textContent()).toContain(
      "Automatic ordering then waits until the fill is back above the threshold",
    );
    await page.getByRole("button", { name: "Keep it open" }).click();
    expect(await card.textContent()).toContain("Active order");
    await page.getByRole("button", { name: "Close order…" }).click();
    await page.getByLabel("Reason (optional)").fill("the site is closed for the winter");
    await shot(page, "container-close-confirm");
    await page.getByRole("button", { name: "Close order", exact: true }).click();
    await expect.poll(() => card.textContent(), { timeout: 10_000 }).toContain("No active order");
    // What happens next, in words: automatic ordering waits for the fill to rise again.
    expect(await page.getByTestId("auto-order").textContent()).toMatch(
      /^Automatic ordering is paused until the fill rises above the threshold \(\d+ %\)/,
    );
    const orders = await call<{ orders: { status: string; closedBy: string }[] }>(`/v1/containers/${id}/orders`, {
      token: admin,
    });
    expect(orders.orders[0]).toMatchObject({ status: "closed", closedBy: operator.email });
    const { events } = await call<{ events: { type: string; note?: string }[] }>(`/v1/containers/${id}/events`, {
      token: admin,
    });
    expect(events.find((e) => e.type === "order.closed")).toMatchObject({ note: "the site is closed for the winter" });
    await page.getByText("Order closed (manual): “the site is closed for the winter”").waitFor();
    // The viewer's open page follows without reload.
    await expect
      .poll(() => viewerPage.locator(".order-card").textContent(), { timeout: 20_000 })
      .toContain("No active order");
    await shot(viewerPage, "container-viewer", true);
    expect(pageProblems(page)).toEqual([]);
    expect(pageProblems(viewerPage)).toEqual([]);
    await page.context().close();
    await viewerPage.context().close();
  });

  it("the orders page filters by status and closes from the list", async () => {
    const id = newContainerId("bin");
    await postReadings(key, [{ containerId: id, fillPercent: 5 }]);
    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword, "/orders");
    await page.getByLabel("Container").fill(id);
    await page.getByLabel("Status").selectOption("active");
    const row = page.locator("tbody tr", { hasText: id });
    await row.waitFor({ timeout: 20_000 });
    await shot(page, "orders");
    // Closing asks first.
    const asked = new Promise<string>((resolve) =>
      page.once("dialog", (dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      }),
    );
    await row.getByRole("button", { name: "Close" }).click();
    expect(await asked).toMatch(/^Close the order for .*\? Automatic ordering then waits/);
    await expect.poll(() => page.locator("tbody tr", { hasText: id }).count(), { timeout: 10_000 }).toBe(0);
    await page.getByLabel("Status").selectOption("closed");
    const closed = page.locator("tbody tr", { hasText: id });
    await closed.waitFor();
    // Closed before anyone took it: it says so, rather than "pending".
    expect(await closed.locator('[data-cell="fulfilment"]').textContent()).toBe("closed before a partner took it");
    // Part of the id finds it too; the page counts what matches; its CSV is the API's.
    await page.getByLabel("Container").fill(id.slice(2).toUpperCase());
    await expect.poll(() => page.getByTestId("orders-total").textContent()).toBe("(1 order)");
    const csv = await downloaded(page, () => page.getByRole("link", { name: "Download CSV" }).click());
    const api = await fetch(
      `${system().url}/v1/orders?status=closed&container=${encodeURIComponent(id.slice(2).toUpperCase())}&format=csv`,
      { headers: { authorization: `Bearer ${admin}` } },
    );
    expect(csv.text).toBe(await api.text());
    expect(csv.text.split(/\r?\n/)[1]).toContain(`,${id},`);
    await shot(page, "orders-closed");
    // On a phone each order is a card: nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "orders-phone", true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.context().close();
  });

  it("a delivered order shows its partner, lines, delivery and links to its sales document", async () => {
    const id = newContainerId("delivered");
    const partnerId = `dash-${process.pid}`;
    const { secret } = await call<{ secret: string }>(
      "/v1/partners",
      { token: admin, json: { id: partnerId, name: "Dash Fuels", webhookUrl: "https://partner.example/hooks" } },
      201,
    );
    await call(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { capacity: 2000, unit: "l" } });
    const answer = await postReadings(key, [{ containerId: id, fillPercent: 10, contents: "diesel" }]);
    const orderId = answer.results[0]!.orderOpened!.id;
    const partner = { id: partnerId, secret };
    await partnerEvent(partner, { type: "order.accepted", containerId: id, orderId, data: {} });
    await partnerEvent(partner, {
      type: "order.delivered",
      containerId: id,
      orderId,
      data: { lines: [{ product: "diesel", quantity: 1750, unit: "l" }], deliveryNote: "DN-DASH-1" },
    });
    await call(`/v1/partners/${partnerId}/prices`, {
      method: "PUT",
      token: admin,
      json: { currency: "EUR", prices: [{ product: "diesel", unit: "l", unitPrice: 1.5, vatRate: 0.2 }] },
    });
    await expect
      .poll(
        async () =>
          (await call<{ documents: unknown[] }>(`/v1/documents?orderId=${orderId}`, { token: admin })).documents
            .length || (await call<{ issued: number }>("/v1/documents/run", { method: "POST", token: admin })).issued,
        { timeout: 20_000, interval: 500 },
      )
      .toBeGreaterThan(0);

    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword, "/orders");
    await page.getByLabel("Container").fill(id);
    await page.getByRole("button", { name: orderId }).click();
    const detail = page.locator("tr.detail");
    await expect.poll(() => detail.textContent(), { timeout: 10_000 }).toContain(`FG-${partnerId}-`);
    expect(await detail.textContent()).toContain("DN-DASH-1");
    expect(await detail.textContent()).toContain("1750 l diesel");
    expect(await detail.textContent()).toContain("3150.00 EUR");
    await shot(page, "orders-document");
    const popup = page.context().waitForEvent("page");
    await detail.getByRole("link", { name: `FG-${partnerId}-${new Date().getUTCFullYear()}-000001` }).click();
    const doc = await popup;
    await doc.waitForLoadState();
    expect(await doc.content()).toContain("Sales document");
    await doc.screenshot({ path: `${process.cwd()}/test-results/screenshots/sales-document.png` });
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});

describe("errors", () => {
  it("a failure appears on the open errors page at once; after the connection is cut the page catches up, nothing missing, nothing twice", async () => {
    const page = await openPage(browser);
    // The test's own handle on the page's sockets, to cut them as a network would.
    await page.addInitScript(() => {
      const Native = WebSocket;
      const open: WebSocket[] = [];
      (window as unknown as { cutSockets: () => void }).cutSockets = () =>
        open.splice(0).forEach((s) => s.close(4000, "cut"));
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          open.push(this);
        }
      };
    });
    await signIn(page, system().adminEmail, system().adminPassword, "/errors");
    await page.locator(".error-list, .state.empty").first().waitFor();
    const item = page.locator(".error-item", { hasText: "diagnostic failure requested" });
    const countBefore = (await item.count()) ? Number(await item.locator(".count").getAttribute("data-count")) : 0;

    await call("/v1/diagnostics/fail", { method: "POST", token: admin }, 500);
    const failedAt = Date.now();
    await expect
      .poll(async () => (await item.count()) && Number(await item.locator(".count").getAttribute("data-count")), {
        timeout: 10_000,
        interval: 20,
      })
      .toBe(countBefore + 1);
    const seenAfterMs = Date.now() - failedAt;
    expect(seenAfterMs).toBeLessThan(1000);
    await shot(page, "errors");

    // The connection is cut and cannot come back for a while; two more failures happen meanwhile.
    await page.route("**/v1/stream-tickets", (route) => route.abort("internetdisconnected"));
    await page.evaluate(() => (window as unknown as { cutSockets: () => void }).cutSockets());
    await expect.poll(() => page.locator(".live").getAttribute("data-status"), { timeout: 15_000 }).toBe("offline");
    await call("/v1/diagnostics/fail", { method: "POST", token: admin }, 500);
    await call("/v1/diagnostics/fail", { method: "POST", token: admin }, 500);
    await new Promise((r) => setTimeout(r, 500));
    expect(Number(await item.locator(".count").getAttribute("data-count"))).toBe(countBefore + 1);
    await page.unroute("**/v1/stream-tickets");
    await expect.poll(() => page.locator(".live").getAttribute("data-status"), { timeout: 30_000 }).toBe("live");
    await expect
      .poll(async () => Number(await item.locator(".count").getAttribute("data-count")), { timeout: 10_000 })
      .toBe(countBefore + 3);
    const ids = await page
      .locator(".error-item")
      .evaluateAll((items) => items.map((i) => i.getAttribute("data-error-id")));
    expect(new Set(ids).size).toBe(ids.length);
    const stored = await call<{ errors: { id: string; count: number; message: string }[] }>("/v1/errors?status=open", {
      token: admin,
    });
    const record = stored.errors.find((e) => e.message.includes("diagnostic failure requested"))!;
    expect(record.count).toBe(countBefore + 3);
    expect(await item.getAttribute("data-error-id")).toBe(record.id);

    // The record's stack and context, and resolve.
    await item.getByRole("button", { name: /DiagnosticError/ }).click();
    await item.locator(".stack").waitFor();
    await shot(page, "errors-detail", true);
    await item.getByRole("button", { name: "Resolve" }).click();
    await expect.poll(() => page.locator(".error-item", { hasText: "diagnostic failure requested" }).count()).toBe(0);
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});

describe("alerts", () => {
  it(
    "the minute monitor raises an alert on its own schedule under npm run dev, and the open alerts page shows it",
    { timeout: 180_000 },
    async () => {
      const operator = await person("operator", admin);
      const page = await openPage(browser);
      await signIn(page, operator.email, operator.password, "/alerts");
      const containerId = newContainerId("leak");
      await page.getByRole("searchbox", { name: "Find alerts" }).fill(containerId);
      const now = Date.now();
      // A drop of 50 points with no delivery between: the monitor's fillDrop rule (30 points). Nothing
      // asks the monitor to run: npm run dev fires its cron trigger every minute (scripts/lib/local-cron.mjs).
      await postReadings(key, [
        { containerId, fillPercent: 90, contents: "diesel", measuredAt: new Date(now - 60_000).toISOString() },
        { containerId, fillPercent: 40, contents: "diesel", measuredAt: new Date(now - 1_000).toISOString() },
      ]);
      const item = page.locator(".alert-item", {
        hasText: `${containerId} dropped from 90 % to 40 % with no delivery`,
      });
      // The next minute's run, or the one after if Postgres had the readings only after it looked.
      await item.waitFor({ timeout: 150_000 });
      const { alerts } = await call<{ alerts: { rule: string; subject: string; firedAt: string }[] }>(
        "/v1/alerts?limit=500",
        { token: admin },
      );
      const alert = alerts.find((a) => a.rule === "fillDrop" && a.subject === containerId);
      // Fired by the trigger, at its scheduled time (the start of a minute), not by a run asked for by hand.
      expect(Date.parse(alert!.firedAt) % 60_000).toBe(0);
      expect(Date.parse(alert!.firedAt)).toBeGreaterThan(now - 60_000);
      await shot(page, "alerts-from-the-schedule");
      expect(pageProblems(page)).toEqual([]);
      await page.context().close();
    },
  );

  it("alerts come a card per rule; a search narrows them; an operator acknowledges a whole card at once; the CSV is the API's", async () => {
    const operator = await person("operator", admin);
    const prefix = newContainerId("bulkbat");
    const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    await postReadings(
      key,
      ids.map((containerId) => ({ containerId, fillPercent: 70, battery: 6, contents: "diesel" })),
    );
    await expect
      .poll(
        async () => {
          await call("/v1/monitor/run", { method: "POST", token: admin });
          const { alerts } = await call<{ alerts: unknown[] }>(`/v1/alerts?rule=battery&q=${prefix}`, { token: admin });
          return alerts.length;
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(3);
    const page = await openPage(browser);
    await signIn(page, operator.email, operator.password, "/alerts");
    await page.getByRole("searchbox", { name: "Find alerts" }).fill(prefix);
    const card = page.locator('.alert-group[data-rule="battery"]');
    await card.waitFor();
    expect(await page.locator(".alert-group").count()).toBe(1);
    expect(await card.getByTestId("group-count").textContent()).toBe("3 alerts · 3 firing");
    expect(
      await card.getByRole("button", { name: "Low sensor batteries", exact: true }).getAttribute("aria-expanded"),
    ).toBe("true");
    expect(await card.locator(".alert-item").count()).toBe(3);
    // The container and its page are links in each alert.
    expect(await card.locator(".alert-item").first().getByRole("link").first().getAttribute("href")).toMatch(
      new RegExp(`^/containers/${prefix}-`),
    );
    await shot(page, "alerts-grouped", true);

    // The CSV of what the page shows: the same rows the API answers for the same question.
    const csv = await downloaded(page, () => page.getByRole("button", { name: "Download CSV (3)" }).click());
    const api = await (
      await fetch(`${system().url}/v1/alerts?limit=500&q=${prefix}&format=csv`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).text();
    const lines = (text: string) => text.trim().split(/\r?\n/);
    expect(csv.name).toBe("alerts.csv");
    expect(lines(csv.text)[0]).toBe(lines(api)[0]);
    expect(lines(csv.text).slice(1).sort()).toEqual(lines(api).slice(1).sort());
    expect(lines(csv.text)).toHaveLength(4);

    await card.getByRole("button", { name: "Acknowledge all 3: Low sensor batteries" }).click();
    await expect.poll(() => card.locator('.alert-item[data-state="acknowledged"]').count()).toBe(3);
    expect(await card.getByTestId("group-count").textContent()).toBe("3 alerts");
    expect(await card.getByRole("button", { name: /Acknowledge all/ }).count()).toBe(0);

    // On a phone the page does not scroll sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "alerts-grouped-phone", true);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > 391)
        .slice(0, 5)
        .map((e) => `${e.tagName}.${e.className}`),
    );
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });

  it("an alert the monitor fires shows on the open page's badge and list without reload; an operator takes it; the message sent is listed", async () => {
    const operator = await person("operator", admin);
    const page = await openPage(browser);
    await signIn(page, operator.email, operator.password, "/alerts");
    await page.getByRole("heading", { name: /Alerts/ }).waitFor();
    const containerId = newContainerId("battery");
    await postReadings(key, [{ containerId, fillPercent: 77, battery: 7, contents: "diesel" }]);
    await page.getByRole("searchbox", { name: "Find alerts" }).fill(containerId);
    const item = page.locator(".alert-item", { hasText: `${containerId} battery at 7 %` });
    // The monitor runs each minute; here it is asked to now (as an admin can), until Postgres has the reading.
    await expect
      .poll(
        async () => {
          await call("/v1/monitor/run", { method: "POST", token: admin });
          return item.count();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(1);
    await expect
      .poll(async () => Number(await page.getByTestId("alerts-badge").textContent()))
      .toBeGreaterThanOrEqual(1);
    expect(await item.getAttribute("data-state")).toBe("firing");
    await item.getByRole("button", { name: "Acknowledge" }).click();
    await expect.poll(() => item.getAttribute("data-state")).toBe("acknowledged");
    expect(await item.textContent()).toContain(`acknowledged by ${operator.email}`);
    // The fired and the taken messages reach the Telegram chat (the stand-in npm run dev starts).
    await page
      .locator(".panel", { hasText: "Messages sent" })
      .locator("tbody tr", { hasText: "acknowledged" })
      .first()
      .waitFor({ timeout: 30_000 });
    await shot(page, "alerts", true);
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();

    // Admins are pointed to who is told, set with the rules, and change it there.
    const adminPage = await openPage(browser);
    await signIn(adminPage, system().adminEmail, system().adminPassword, "/alerts");
    await adminPage.getByRole("link", { name: "Admin → Alert rules" }).click();
    await adminPage.getByLabel("critical: email").fill("oncall@fillgrid.test, lead@fillgrid.test");
    await adminPage.getByRole("button", { name: "Save who is told" }).click();
    await adminPage.getByText("Saved: the next message goes by these settings.").waitFor();
    const saved = await call<{ settings: { email: { alerts: { critical: string[] } } } }>("/v1/notification-settings", {
      token: admin,
    });
    expect(saved.settings.email.alerts.critical).toEqual(["oncall@fillgrid.test", "lead@fillgrid.test"]);
    await adminPage.getByRole("heading", { name: "Who is told" }).scrollIntoViewIfNeeded();
    await shot(adminPage, "alerts-admin");
    expect(pageProblems(adminPage)).toEqual([]);
    await adminPage.context().close();
  });
});

describe("container", () => {
  it("the chart shows the readings of the chosen range; the settings form saves a threshold and the next reading follows it", async () => {
    const id = newContainerId("tank");
    const ago = (hours: number) => new Date(Date.now() - hours * 3600_000).toISOString();
    await postReadings(key, [
      { containerId: id, fillPercent: 95, measuredAt: ago(24 * 5) },
      { containerId: id, fillPercent: 90, measuredAt: ago(24 * 4) },
      { containerId: id, fillPercent: 88, measuredAt: ago(24 * 3) },
      { containerId: id, fillPercent: 84, measuredAt: ago(5) },
      { containerId: id, fillPercent: 80, measuredAt: ago(1) },
    ]);
    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword, `/containers/${id}`);
    const chart = page.locator(".chart");
    await expect.poll(() => chart.getAttribute("data-points"), { timeout: 20_000 }).toBe("2");
    expect(await chart.locator("canvas").count()).toBe(1);
    await page.getByRole("button", { name: "7 days" }).click();
    await expect.poll(() => chart.getAttribute("data-points")).toBe("5");
    await page.getByRole("button", { name: "All" }).click();
    await expect.poll(() => chart.getAttribute("data-points")).toBe("5");
    // The range's readings as CSV, as the API answers them.
    const csv = await downloaded(page, () =>
      page.getByRole("region", { name: "Fill history" }).getByRole("link", { name: "Download CSV" }).click(),
    );
    const readingsCsv = csv.text.trim().split(/\r?\n/);
    expect(readingsCsv[0]).toBe(
      "readingId,measuredAt,receivedAt,fillPercent,status,contents,battery,lat,lon,refillRise",
    );
    expect(readingsCsv.slice(1).map((l) => Number(l.split(",")[3]))).toEqual([95, 90, 88, 84, 80]);
    await page.getByRole("button", { name: "24 h" }).click();
    await expect.poll(() => chart.getAttribute("data-points")).toBe("2");

    await page.getByLabel("Threshold (%)").fill("85");
    // Before it is saved, the form says what the new threshold will do.
    expect(await page.getByTestId("threshold-hint").textContent()).toBe(
      "Above today's fill (80 %): an order opens with the next reading below 85 %.",
    );
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Saved").waitFor();
    await expect.poll(() => page.locator(".facts").textContent()).toContain("85 %");
    const answer = await postReadings(key, [{ containerId: id, fillPercent: 82 }]);
    expect(answer.results[0]!.orderOpened).toBeDefined();
    await expect.poll(() => page.locator(".order-card").textContent(), { timeout: 20_000 }).toContain("threshold 85 %");
    await expect.poll(() => chart.getAttribute("data-points"), { timeout: 20_000 }).toBe("3");
    await shot(page, "container", true);
    const state = await call<{ container: { threshold: number; activeOrder: { thresholdAtOpen: number } } }>(
      `/v1/containers/${id}`,
      { token: admin },
    );
    expect(state.container).toMatchObject({ threshold: 85, activeOrder: { thresholdAtOpen: 85 } });
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});

describe("forecasts", () => {
  it("the fleet says when each container runs out, sorts and filters by it; the container page says it in words, draws it, and orders ahead once asked to", async () => {
    const prefix = newContainerId("fc");
    const falling = `${prefix}-a`;
    const flat = `${prefix}-b`;
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();
    // Three days hourly: one falling 6 points a day to 54 (4 days above a threshold of 30), one flat.
    const series = (id: string, perDay: number, end: number) =>
      Array.from({ length: 72 }, (_, i) => ({
        containerId: id,
        readingId: `h${i}`,
        fillPercent: Math.round((end + (perDay * (71 - i)) / 24) * 10) / 10,
        measuredAt: hoursAgo(71 - i),
      }));
    for (const id of [falling, flat])
      await call(`/v1/containers/${id}`, {
        method: "PUT",
        token: admin,
        json: { threshold: 30, capacity: 5000, unit: "l" },
      });
    await postReadings(key, series(falling, 6, 54));
    await postReadings(key, series(flat, 0, 80));

    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword);
    await page.getByPlaceholder("Search id or name").fill(prefix);
    const row = (id: string) => page.locator(`[role="row"][data-container="${id}"]`);
    await expect.poll(() => row(falling).locator(".col-runs-out").textContent(), { timeout: 20_000 }).toBe("in 4 days");
    expect(await row(flat).locator(".col-runs-out").textContent()).toBe("—");
    expect(await row(flat).locator(".col-runs-out").getAttribute("title")).toBe("The level is not falling");
    await page.getByRole("button", { name: "Runs out" }).click();
    const order = await page
      .locator('[role="rowgroup"] [role="row"]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-container")));
    expect(order).toEqual([falling, flat]);
    await page.getByLabel("Runs out within").selectOption("7");
    await expect.poll(() => row(flat).count()).toBe(0);
    expect(await row(falling).count()).toBe(1);
    await page.getByLabel("Runs out within").selectOption("3");
    await expect.poll(() => row(falling).count()).toBe(0);
    await page.getByLabel("Runs out within").selectOption("7");
    await shot(page, "fleet-forecast");

    await row(falling).click();
    const outlook = page.locator("[data-outlook]");
    await expect
      .poll(() => outlook.textContent(), { timeout: 20_000 })
      .toMatch(/^Uses 6 points a day \(300 l a day\): about 4 days to the threshold, 9 days to empty/);
    await page.getByRole("button", { name: "7 days" }).click();
    await expect.poll(() => page.locator(".chart").getAttribute("data-forecast")).toBe("shown");
    await page.getByLabel("Order ahead (hours before the threshold)").fill("120");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Saved").waitFor();
    const answer = await postReadings(key, [{ containerId: falling, readingId: "next", fillPercent: 53.9 }]);
    expect(answer.results[0]!.orderOpened).toMatchObject({ source: "forecast" });
    await expect
      .poll(() => page.locator(".order-card").textContent(), { timeout: 20_000 })
      .toContain("the forecast then reached the threshold");
    await shot(page, "container-forecast", true);
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});

describe("anomalies", () => {
  it("a sudden drop shows on the container page, marked on the chart, and an operator dismisses it", async () => {
    const id = newContainerId("anm");
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();
    // Three days hourly falling 3 a day from 90; 20 points gone three hours ago.
    await postReadings(
      key,
      Array.from({ length: 72 }, (_, i) => ({
        containerId: id,
        readingId: `h${i}`,
        fillPercent: Math.round((90 - (3 * i) / 24 - (71 - i < 3 ? 20 : 0)) * 10) / 10,
        measuredAt: hoursAgo(71 - i),
      })),
    );
    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword, `/containers/${id}`);
    const item = page.locator('[data-anomaly="sudden_drop"]');
    await expect.poll(() => item.getAttribute("data-status"), { timeout: 20_000 }).toBe("open");
    expect(await item.textContent()).toMatch(
      /Sudden drop.*The level fell \d+(\.\d)? points more than its consumption explains/,
    );
    await expect.poll(() => page.locator(".chart").getAttribute("data-anomalies")).toBe("1");
    await shot(page, "container-anomaly", true);
    await item.getByRole("button", { name: "Dismiss" }).click();
    await expect.poll(() => item.getAttribute("data-status"), { timeout: 20_000 }).toBe("dismissed");
    await expect.poll(() => page.locator(".chart").getAttribute("data-anomalies")).toBe("0");
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});

describe("analytics", () => {
  it("consumption stacked by contents with its day totals, each partner's demand from orders and forecasts, fulfilment, open anomalies, and every table as CSV", async () => {
    const contents = `lube-${process.pid}`;
    const partnerId = `an-${process.pid}`;
    const prefix = newContainerId("an");
    const steady = `${prefix}-steady`; // falls 6 points a day: consumption, and a forecast (demand)
    const waiting = `${prefix}-waiting`; // an open order the partner has taken (demand)
    const delivered = `${prefix}-delivered`; // an order the partner delivers (fulfilment)
    const dropped = `${prefix}-drop`; // a sudden drop (an open anomaly)
    const { secret } = await call<{ secret: string }>(
      "/v1/partners",
      {
        token: admin,
        json: {
          id: partnerId,
          name: "Analytics Lubes",
          webhookUrl: "https://partner.example/hooks",
          serves: { containerIds: [], contents: [contents] },
        },
      },
      201,
    );
    const partner = { id: partnerId, secret };
    for (const [id, capacity] of [
      [steady, 2000],
      [waiting, 1000],
      [delivered, 2000],
    ] as const)
      await call(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { threshold: 30, capacity, unit: "l" } });

    // Three days hourly, a quarter point an hour (6 a day) down to 54: the threshold (30) in 4 days.
    const now = Date.now();
    const hourly = Array.from({ length: 72 }, (_, i) => ({
      containerId: steady,
      readingId: `h${i}`,
      fillPercent: 54 + 0.25 * (71 - i),
      contents,
      measuredAt: new Date(now - (71 - i) * 3600_000).toISOString(),
    }));
    await postReadings(key, hourly);
    // Each UTC day's consumption: the level it began at (the day before's last reading, else its own
    // first) less its last; in litres at 2000 l (20 l a point). The other two add a day with nothing consumed.
    const byDay = new Map<string, { first: number; last: number }>();
    for (const r of hourly) {
      const day = r.measuredAt.slice(0, 10);
      byDay.set(day, { first: byDay.get(day)?.first ?? r.fillPercent, last: r.fillPercent });
    }
    const expected = [...byDay].map(([day, d], i, all) => ({
      day,
      litres: ((i === 0 ? d.first : all[i - 1]![1].last) - d.last) * 20,
    }));
    expect(expected.reduce((sum, d) => sum + d.litres, 0)).toBe(17.75 * 20);

    const opened = async (id: string, fillPercent: number) =>
      (await postReadings(key, [{ containerId: id, fillPercent, contents }])).results[0]!.orderOpened!.id;
    const waitingOrder = await opened(waiting, 25); // proposes 750 l
    const deliveredOrder = await opened(delivered, 20);
    const step = (containerId: string, orderId: string, type: string, data: object = {}) =>
      partnerEvent(partner, { type, containerId, orderId, data });
    await step(waiting, waitingOrder, "order.accepted");
    await step(delivered, deliveredOrder, "order.accepted");
    await step(delivered, deliveredOrder, "order.dispatched", {
      eta: new Date(now + 86_400_000).toISOString(),
      vehicle: "ZH 7",
    });
    await step(delivered, deliveredOrder, "order.delivered", {
      lines: [{ product: contents, quantity: 1600, unit: "l" }],
      deliveryNote: "DN-AN-1",
    });

    // The sudden drop, as the anomalies test makes one: 20 points gone three hours ago.
    await postReadings(
      key,
      Array.from({ length: 72 }, (_, i) => ({
        containerId: dropped,
        readingId: `h${i}`,
        fillPercent: Math.round((90 - (3 * i) / 24 - (71 - i < 3 ? 20 : 0)) * 10) / 10,
        measuredAt: new Date(now - (71 - i) * 3600_000).toISOString(),
      })),
    );

    // Until Postgres has it all (the projection follows the readings), as the API answers it.
    type DemandRow = { day: string; partnerId: string | null; source: string; containers: number; quantity: number };
    const demand = await eventually(async () => {
      const { rows } = await call<{ rows: DemandRow[] }>(`/v1/analytics/demand?days=7&partnerId=${partnerId}`, {
        token: admin,
      });
      return rows.some((r) => r.source === "forecast") && rows.some((r) => r.source === "order") ? rows : undefined;
    }, "the partner's demand");
    const forecastDay = demand.find((r) => r.source === "forecast")!.day;
    expect(forecastDay).toBe(new Date(now + 4 * 86_400_000).toISOString().slice(0, 10));
    await eventually(async () => {
      const { rows } = await call<{ rows: { partnerId: string | null; delivered: number; open: number }[] }>(
        `/v1/analytics/fulfilment?partnerId=${partnerId}`,
        { token: admin },
      );
      return rows.some((r) => r.partnerId === partnerId && r.delivered === 1 && r.open === 1) ? true : undefined;
    }, "the partner's fulfilment");
    await eventually(async () => {
      const { rows } = await call<{ rows: { key: string | null; readings: number }[] }>(
        `/v1/analytics/consumption?by=contents&contents=${contents}&from=${expected[0]!.day}`,
        { token: admin },
      );
      return rows.reduce((n, r) => n + r.readings, 0) === 72 + 2 ? true : undefined;
    }, "every reading in the rollups");
    await eventually(async () => {
      const { anomalies } = await call<{ anomalies: unknown[] }>(`/v1/anomalies?status=open&containerId=${dropped}`, {
        token: admin,
      });
      return anomalies.length ? true : undefined;
    }, "the open anomaly");

    // A viewer: the page is for every role.
    const viewer = await person("viewer", admin);
    const page = await openPage(browser);
    await signIn(page, viewer.email, viewer.password, "/analytics");
    const menu = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Analytics" });
    expect(await menu.getAttribute("aria-current")).toBe("page");
    await page.getByRole("group", { name: "Range" }).getByRole("button", { name: "7 days" }).click();
    const { from, to } = {
      from: new Date(now - 6 * 86_400_000).toISOString().slice(0, 10),
      to: new Date(now).toISOString().slice(0, 10),
    };

    // 1. Consumption: the contents is a series of the chart; the legend gives its total, and each
    // day's figure under the cursor; the table has each day's litres.
    const consumption = page.getByRole("region", { name: "Consumption per day" });
    const chart = consumption.locator(".day-bars");
    await expect.poll(() => chart.getAttribute("data-days"), { timeout: 20_000 }).toBe("7");
    await expect.poll(() => consumption.getAttribute("aria-busy")).toBe("false");
    expect(JSON.parse((await chart.getAttribute("data-series"))!)).toContain(contents);
    const legendValue = (section: typeof consumption, label: string) =>
      section.locator(".u-legend tr.u-series", { hasText: label }).locator(".u-value").textContent();
    await expect.poll(() => legendValue(consumption, contents)).toBe(`${format(17.75 * 20)} l`);
    const hover = async (section: typeof consumption, index: number, of: number) => {
      const over = (await section.locator(".u-over").boundingBox())!;
      await page.mouse.move(over.x + (over.width * (index + 0.5)) / of, over.y + over.height / 2);
    };
    for (const d of expected) {
      const index = (Date.parse(d.day) - Date.parse(from)) / 86_400_000;
      await expect
        .poll(async () => (await hover(consumption, index, 7), legendValue(consumption, "Day")))
        .toBe(dayInWords(d.day));
      expect(await legendValue(consumption, contents)).toBe(`${format(d.litres)} l`);
      const row = consumption.locator(`tr[data-day="${d.day}"][data-key="${contents}"]`);
      expect(await row.locator('[data-cell="quantity"]').textContent()).toBe(`${format(d.litres)} l`);
      expect(await row.locator('[data-cell="consumption"]').textContent()).toBe(format(d.litres / 20));
    }
    await page.mouse.move(0, 0);
    // Today's row also counts the two containers that each read once.
    expect(
      await consumption
        .locator(`tr[data-day="${to}"][data-key="${contents}"]`)
        .locator('[data-cell="containers"]')
        .textContent(),
    ).toBe("3");
    // By container: the steady one's own days, linking to it.
    await consumption.getByLabel("Group by").selectOption("container");
    const steadyToday = consumption.locator(`tr[data-day="${to}"][data-key="${steady}"]`);
    await expect
      .poll(() => steadyToday.locator('[data-cell="quantity"]').textContent())
      .toBe(`${format(expected.at(-1)!.litres)} l`);
    expect(await steadyToday.getByRole("link", { name: steady }).getAttribute("href")).toBe(`/containers/${steady}`);
    await consumption.getByLabel("Group by").selectOption("contents");
    await consumption.locator(`tr[data-key="${contents}"]`).first().waitFor();

    // 2. Demand for the partner: the open order today, the steady container's forecast in 4 days.
    const demandPanel = page.getByRole("region", { name: "Demand ahead" });
    await demandPanel.getByLabel("Partner").selectOption(partnerId);
    const demandRow = (day: string) => demandPanel.locator(`tr[data-day="${day}"][data-partner="${partnerId}"]`);
    await expect.poll(() => demandRow(to).locator('[data-cell="order"]').textContent()).toBe("750 l 1 container");
    expect(await demandRow(to).locator('[data-cell="forecast"]').textContent()).toBe("—");
    expect(await demandRow(forecastDay).locator('[data-cell="forecast"]').textContent()).toBe("1,400 l 1 container");
    expect(await demandRow(forecastDay).locator("td").nth(2).textContent()).toBe(contents);
    expect(await legendValue(demandPanel, "Open orders")).toBe("750 l");
    expect(await legendValue(demandPanel, "Forecasts")).toBe("1,400 l");

    // 3. Fulfilment: the partner's delivered, open and on-time counts, each step's time.
    const fulfilment = page.locator(`[data-table="fulfilment"] tr[data-partner="${partnerId}"]`);
    await fulfilment.waitFor();
    expect(await fulfilment.locator('[data-cell="delivered"]').textContent()).toBe("1");
    expect(await fulfilment.locator('[data-cell="open"]').textContent()).toBe("1");
    expect(await fulfilment.locator('[data-cell="cancelled"]').textContent()).toBe("0");
    expect(await fulfilment.locator('[data-cell="on-time"]').textContent()).toBe("100 % of 1");
    expect(await fulfilment.locator('[data-cell="openedToDelivered"]').textContent()).toMatch(/^\d+ min · \d+ min$/);

    // 4. The open anomaly, in words, linking to its container.
    const anomaly = page.locator(`li[data-container="${dropped}"][data-anomaly="sudden_drop"]`);
    expect(await anomaly.textContent()).toMatch(/Sudden drop.*The level fell \d+(\.\d)? points more than/);
    await shot(page, "analytics", true);

    // 5. Each table as CSV: the header line its columns, the same filters.
    const consumptionCsv = await downloaded(page, () =>
      consumption.getByRole("link", { name: "Download CSV" }).click(),
    );
    expect(consumptionCsv.name).toBe(`consumption-${from}-${to}.csv`);
    const consumptionLines = consumptionCsv.text.trim().split(/\r?\n/);
    expect(consumptionLines[0]).toBe(csvColumns.consumption.join(","));
    const mine = consumptionLines.filter((l) => l.split(",")[1] === contents);
    expect(mine.map((l) => l.split(",")[0])).toEqual(expected.map((d) => d.day));
    expect(mine.map((l) => Number(l.split(",")[6]))).toEqual(expected.map((d) => d.litres));
    const demandCsv = await downloaded(page, () => demandPanel.getByRole("link", { name: "Download CSV" }).click());
    const demandLines = demandCsv.text.trim().split(/\r?\n/);
    expect(demandLines[0]).toBe(csvColumns.demand.join(","));
    expect(demandLines.length).toBe(3);
    expect(demandLines.slice(1).every((l) => l.split(",")[1] === partnerId)).toBe(true);
    const fulfilmentCsv = await downloaded(page, () =>
      page.getByRole("region", { name: "Fulfilment" }).getByRole("link", { name: "Download CSV" }).click(),
    );
    expect(fulfilmentCsv.name).toBe(`fulfilment-${from}-${to}.csv`);
    expect(fulfilmentCsv.text.split(/\r?\n/)[0]).toBe(csvColumns.fulfilment.join(","));

    await anomaly.getByRole("link", { name: dropped }).click();
    await page.getByRole("heading", { name: dropped }).waitFor();
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();

    // On a phone: nothing scrolls sideways but the tables in their own boxes.
    const phone = await openPage(browser, { width: 390, height: 844 });
    await signIn(phone, viewer.email, viewer.password, "/analytics");
    await phone.locator(`[data-table="fulfilment"] tr[data-partner="${partnerId}"]`).waitFor();
    await phone.locator(".day-bars canvas").first().waitFor();
    const overflow = await phone.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(phone, "analytics-phone", true);
    expect(pageProblems(phone)).toEqual([]);
    await phone.context().close();
  });
});

describe("sign-in and admin", () => {
  it("a person whose session is voided returns to sign-in with a message; sign-out ends the session", async () => {
    const viewer = await person("viewer", admin);
    const page = await openPage(browser);
    await signIn(page, viewer.email, viewer.password);
    expect(await page.getByRole("link", { name: "Admin" }).count()).toBe(0);
    await call(`/v1/users/${encodeURIComponent(viewer.email)}/password`, { token: admin, json: {} });
    // The next call the page makes is refused: back to sign-in, with the reason.
    await page.getByRole("link", { name: "Orders" }).click();
    await page
      .getByRole("alert")
      .filter({ hasText: /^Signed out: .*log in again/ })
      .waitFor({ timeout: 15_000 });
    await shot(page, "sign-in-expired");
    await signIn(page, system().adminEmail, system().adminPassword);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("fillgrid.session"))).toBeNull();
    await page.context().close();
  });

  it("admin: people, a device key shown once, dead letters and the audit list", async () => {
    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword, "/admin/people");
    const email = `added-${process.pid}@fillgrid.test`;
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("a-long-enough-password");
    await page.getByLabel("Role", { exact: true }).selectOption("operator");
    await page.getByRole("button", { name: "Add person" }).click();
    const row = page.locator("tbody tr", { hasText: email });
    await row.waitFor();
    await row.getByLabel(`Role of ${email}`).selectOption("viewer");
    await expect
      .poll(
        async () =>
          (await call<{ users: { email: string; role: string }[] }>("/v1/users", { token: admin })).users.find(
            (u) => u.email === email,
          )?.role,
      )
      .toBe("viewer");
    // Linked to a Telegram user, they can acknowledge alerts from the chat.
    await row.getByLabel(`Telegram user of ${email}`).fill("424242");
    await row.getByLabel(`Telegram user of ${email}`).press("Enter");
    await expect
      .poll(
        async () =>
          (
            await call<{ users: { email: string; telegramUserId: number | null }[] }>("/v1/users", { token: admin })
          ).users.find((u) => u.email === email)?.telegramUserId,
      )
      .toBe(424242);
    await shot(page, "admin-people");

    await page.getByRole("link", { name: "Device keys" }).click();
    await page.getByLabel("Label").fill("north gateway");
    await page.getByRole("button", { name: "Issue a key" }).click();
    const secret = await page.locator("[data-secret=device-key]").textContent();
    expect(secret).toMatch(/^fgk_/);
    await shot(page, "admin-keys");
    // The key works for a sensor; once dismissed it is not shown again.
    await postReadings(secret!, [{ containerId: newContainerId("keyed"), fillPercent: 70 }]);
    await page.getByRole("button", { name: "I have stored it" }).click();
    expect(await page.locator("[data-secret]").count()).toBe(0);
    expect(await page.content()).not.toContain(secret!);

    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.locator(".panel .list, .panel .state.empty").first().waitFor();
    await shot(page, "admin-dead-letters");
    await page.getByRole("link", { name: "Audit" }).click();
    // In words, and narrowed to one kind of action.
    await page.locator("tbody tr", { hasText: `issued device key “north gateway”` }).first().waitFor();
    await page.getByLabel("Action").selectOption("user.role_changed");
    const changed = page.locator("tbody tr", { hasText: email });
    await changed.first().waitFor();
    expect(await changed.first().locator('[data-cell="what"]').textContent()).toBe(
      `${system().adminEmail} made ${email} viewer (was operator)`,
    );
    expect(await page.locator("tbody tr", { hasText: "issued device key" }).count()).toBe(0);
    await shot(page, "admin-audit");

    // On a phone each list is a card per row: nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [tab, name] of [
      ["People", "people"],
      ["Device keys", "keys"],
      ["Dead letters", "dead-letters"],
      ["Audit", "audit"],
    ] as const) {
      await page.getByRole("link", { name: tab, exact: true }).click();
      await page.locator(".panel tbody tr, .panel .list, .panel .state.empty").first().waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), tab).toBeLessThanOrEqual(390);
      await shot(page, `admin-${name}-phone`, true);
    }
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});

describe("the machine's own language", () => {
  it("with the browser's own language tag (en-US@posix on a POSIX locale), the sign-in form renders and signing in reaches the live fleet and a chart", async () => {
    const id = newContainerId("posix");
    await postReadings(key, [
      {
        containerId: id,
        fillPercent: 71.5,
        contents: "diesel",
        location: { lat: 47.05, lon: 8.3 },
        measuredAt: new Date(Date.now() - 3600_000).toISOString(),
      },
      { containerId: id, fillPercent: 1234 / 20, contents: "diesel", location: { lat: 47.05, lon: 8.3 } },
    ]);
    const viewer = await person("viewer", admin);
    const page = await openPage(browser, undefined, { locale: null });
    // The browser's own tag, before the dashboard loads; on a POSIX locale it is one Intl refuses,
    // so this test exercises the fallback rather than a tag that would have worked anyway.
    const own = await page.evaluate(() => navigator.language);
    const refused = await page.evaluate((tag) => {
      try {
        new Intl.NumberFormat(tag);
        return false;
      } catch {
        return true;
      }
    }, own);
    if (chromiumOnPosixLocale()) expect(refused, `the browser reports ${own}`).toBe(true);

    await page.goto(system().url + "/");
    await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 10_000 });
    await shot(page, "sign-in-default-locale");
    // The browser still says what the machine says; what the dashboard formats with is a tag Intl takes.
    const seen = await page.evaluate(() => {
      const browserOwn = Object.getOwnPropertyDescriptor(Navigator.prototype, "language")!.get!.call(
        navigator,
      ) as string;
      return { browserOwn, formatsWith: new Intl.NumberFormat(navigator.language).resolvedOptions().locale };
    });
    expect(seen.browserOwn).toBe(own);
    if (refused) expect(seen.formatsWith).toBe("en");

    await signIn(page, viewer.email, viewer.password);
    await page.locator(".fleet-table .row[data-container]").first().waitFor({ timeout: 20_000 });
    expect(await figureValue(page, "Containers")).toBeGreaterThan(0);
    await page.locator(".map[data-ready=true]").waitFor({ timeout: 30_000 });
    await shot(page, "fleet-default-locale");
    await page.goto(`${system().url}/containers/${id}`);
    await expect.poll(() => page.locator(".chart").getAttribute("data-points"), { timeout: 20_000 }).toBe("2");
    expect(await page.locator(".chart canvas").count()).toBe(1);
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});

describe("a view that fails", () => {
  it("shows what failed with a way back and a retry, keeps the menu working, and is recorded once per failure with a count", async () => {
    const operator = await person("operator", admin);
    const isOrders = (url: URL) => url.pathname === "/v1/orders";
    const matching = (records: ErrorRecord[]) =>
      records.find((r) => r.context.view === "/orders" && r.name === "TypeError");
    const countBefore = matching(await dashboardRecords())?.count ?? 0;
    const page = await openPage(browser);
    // An answer the orders view cannot render (as a misbehaving proxy or a mismatched deploy could
    // give): the list arrives as null.
    await page.route(isOrders, (route) =>
      route.fulfill({
        status: 200,
        contentType: "application/json",
        body: JSON.stringify({ orders: null, nextCursor: null }),
      }),
    );
    await signIn(page, operator.email, operator.password, "/orders");

    const failed = page.locator(".view-failed");
    await failed.getByRole("heading", { name: "This view failed" }).waitFor();
    expect(await failed.locator(".failure").textContent()).toMatch(/^TypeError: Cannot read properties of null/);
    await failed.getByText("It has been recorded on the errors page.").waitFor();
    expect(await failed.getByRole("link", { name: "Back to the fleet" }).isVisible()).toBe(true);
    expect(await failed.getByRole("button", { name: "Try again" }).isVisible()).toBe(true);
    await shot(page, "view-failed");

    const first = await dashboardRecord((records) => matching(records), "the orders view's failure");
    expect(first).toMatchObject({
      source: "dashboard",
      count: countBefore + 1,
      context: { email: operator.email, view: "/orders", path: "/orders", kind: "render" },
    });
    expect(first.stack).toContain("The component stack:");

    // The header and its menu still work: the fleet and the alerts open.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Fleet" }).click();
    await page.locator(".fleet-table").waitFor();
    expect(await page.locator(".view-failed").count()).toBe(0);
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: /^Alerts/ })
      .click();
    await page
      .getByRole("heading", { name: /^Alerts/ })
      .first()
      .waitFor();

    // The same failure again (back to the orders): the same record, counted.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Orders" }).click();
    await failed.getByRole("heading", { name: "This view failed" }).waitFor();
    const again = await dashboardRecord((records) => {
      const r = matching(records);
      return r && r.count > countBefore + 1 ? r : undefined;
    }, "the same failure counted again");
    expect(again).toMatchObject({ id: first.id, count: countBefore + 2 });

    // Once the answers are right again, "Try again" shows the orders.
    await page.unroute(isOrders);
    await failed.getByRole("button", { name: "Try again" }).click();
    await page.getByRole("heading", { name: "Orders" }).waitFor();
    await page.getByLabel("Status").waitFor();
    expect(await page.locator(".view-failed").count()).toBe(0);

    // The errors page lists it under the dashboard source, with its count.
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: /^Errors/ })
      .click();
    await page.getByLabel("Source").selectOption("dashboard");
    const item = page.locator(`.error-item[data-error-id="${first.id}"]`);
    await item.waitFor();
    expect(Number(await item.locator(".count").getAttribute("data-count"))).toBe(countBefore + 2);
    expect(await item.locator(".tag-source").textContent()).toBe("dashboard");
    await item.getByRole("button", { name: /TypeError/ }).click();
    await item.locator(".stack").waitFor();
    await shot(page, "errors-dashboard-source", true);
    // Caught by the view's boundary: nothing went uncaught.
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });

  it("errors and rejections outside React are recorded within a budget, and never while signed out", async () => {
    const viewer = await person("viewer", admin);
    const page = await openPage(browser);
    const sent: string[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/v1/client-errors") sent.push(r.postData() ?? "");
    });
    const marker = `stray failure ${crypto.randomUUID()}`;
    const throwMany = (message: string) =>
      page.evaluate((m) => {
        for (let i = 0; i < 50; i++)
          setTimeout(() => {
            throw new Error(m);
          });
      }, message);
    const reject = (message: string) => page.evaluate((m) => void Promise.reject(new Error(m)), message);

    // Signed out: nothing is sent (the API would refuse it anyway).
    await page.goto(system().url + "/");
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await reject(`${marker}, rejected while signed out`);
    await throwMany(`${marker} while signed out`);
    await page.waitForTimeout(500);
    expect(sent).toEqual([]);

    // Signed in: a rejection is sent; then a loop of 50 failures sends 4 more (the budget is 5), not 50.
    await signIn(page, viewer.email, viewer.password);
    await reject(`${marker}, rejected`);
    await expect.poll(() => sent.length).toBe(1);
    await throwMany(marker);
    await expect.poll(() => sent.length).toBe(5);
    await page.waitForTimeout(1000);
    expect(sent.length).toBe(5);
    const records = await dashboardRecord((all) => {
      const mine = all.filter((r) => r.message.startsWith(marker));
      return mine.reduce((n, r) => n + r.count, 0) === 5 ? mine : undefined;
    }, "five reports counted");
    expect(records.find((r) => r.message === `${marker}, rejected`)).toMatchObject({
      count: 1,
      context: { kind: "rejection", view: "/", email: viewer.email },
    });
    expect(records.find((r) => r.message === marker)).toMatchObject({
      count: 4,
      context: { kind: "error", view: "/", email: viewer.email },
    });
    expect(records.some((r) => r.message.includes("while signed out"))).toBe(false);
    await page.context().close();
  });
});
