// The screens of the roles and data that were the API's alone, as their users meet them in Chromium
// against the whole system: an assembler works an order through the assembly queue, a viewer is kept
// out of it, and an admin manages partners, their price lists and the sales documents. Partners'
// webhooks go to the local stand-in, which checks every signature as a partner would.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPartnerStandIn } from "../scripts/lib/partner-stand-in.mjs";
import { launchChromium } from "./browser/chromium";
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

type StandIn = Awaited<ReturnType<typeof startPartnerStandIn>>;
type Received = { events: { type: string; orderId: string; data: Record<string, unknown> }[]; refusals: unknown[] };
type Order = {
  id: string;
  fulfilment: string;
  lines: { product: string; quantity: number; unit: string }[];
  eta: string | null;
  vehicle: string | null;
};

let browser: Browser;
let admin: string;
let key: string;
let standIn: StandIn;

beforeAll(async () => {
  browser = await launchChromium();
  admin = await adminToken();
  key = await fleetKey(admin);
  standIn = await startPartnerStandIn();
});

afterAll(async () => {
  await browser?.close();
  await standIn?.close();
});

let partners = 0;
const newPartnerId = (prefix: string) => `${prefix}-${process.pid}-${++partners}`;

/** Tells the stand-in the secret a partner signs with (as the partner would store it). */
const teachSecret = (partnerId: string, secret: string) =>
  fetch(`${standIn.url}/__control`, { method: "POST", body: JSON.stringify({ partnerId, secret }) });
/** Makes the stand-in answer a partner's events 503 ("fail") or take them ("ok"). */
const standInMode = (partnerId: string, mode: "ok" | "fail") =>
  fetch(`${standIn.url}/__control`, { method: "POST", body: JSON.stringify({ partnerId, mode }) });
const received = async (partnerId: string) =>
  (await (await fetch(`${standIn.url}/__received?partnerId=${partnerId}`)).json()) as Received;

/** A partner delivering to the containers given, with the stand-in as its webhook. */
async function standInPartner(name: string, containerIds: string[]) {
  const id = newPartnerId("roles");
  const { secret } = await call<{ secret: string }>(
    "/v1/partners",
    { token: admin, json: { id, name, webhookUrl: standIn.webhookUrl(id), serves: { containerIds } } },
    201,
  );
  await teachSecret(id, secret);
  return { id, name, secret };
}

/** A named container with a capacity, read below its threshold: its order is open. */
async function lowContainer(name: string) {
  const containerId = newContainerId("roles");
  await call(`/v1/containers/${containerId}`, {
    method: "PUT",
    token: admin,
    json: { name, capacity: 4000, unit: "l" },
  });
  return containerId;
}

async function openOrder(containerId: string, fillPercent: number, contents = "diesel") {
  const answer = await postReadings(key, [{ containerId, fillPercent, contents }]);
  return answer.results[0]!.orderOpened!.id;
}

/** An order as the API answers it from Postgres once the projection has it at `fulfilment`. */
async function orderAt(orderId: string, fulfilment: string): Promise<Order> {
  return eventually(async () => {
    const res = await fetch(`${system().url}/v1/orders/${orderId}`, { headers: { authorization: `Bearer ${admin}` } });
    if (res.status === 404) return undefined;
    const { order } = (await res.json()) as { order: Order };
    return order.fulfilment === fulfilment ? order : undefined;
  }, `order ${orderId} ${fulfilment} in Postgres`);
}

/** Nothing on the page is wider than a 390 px phone. */
async function fitsPhone(page: Page, name: string) {
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, name, true);
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow, `${name} scrolls sideways`).toBeLessThanOrEqual(0);
  await page.setViewportSize({ width: 1280, height: 800 });
}

describe("assembly", () => {
  it("an assembler starts an accepted order, is told what is wrong with a line, sets its lines and dispatches it; the API and the partner then have it dispatched", async () => {
    const assembler = await person("assembler", admin);
    const name = `North yard tank ${process.pid}`;
    const containerId = await lowContainer(name);
    const partner = await standInPartner("Roles Fuels", [containerId]);
    const orderId = await openOrder(containerId, 20);
    await partnerEvent(partner, { type: "order.accepted", containerId, orderId, data: {} });

    const page = await openPage(browser);
    await signIn(page, assembler.email, assembler.password);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Assembly" }).click();
    const waiting = page.getByRole("region", { name: /^Waiting for assembly/ });
    const card = waiting.getByRole("listitem", { name: `Order for ${name}` });
    await card.waitFor({ timeout: 20_000 });
    // The proposal: what fills the container back up (4,000 l at 20 %), and the room it has.
    expect(await card.textContent()).toContain("To load: 3,200 l diesel");
    expect(await card.textContent()).toContain("Room in the container3,200 l");
    expect(await card.textContent()).toContain(partner.id);
    await shot(page, "assembly-waiting");

    await card.getByRole("button", { name: "Start assembling" }).click();
    const working = page
      .getByRole("region", { name: /^Being assembled/ })
      .getByRole("listitem", { name: `Order for ${name}` });
    await working.waitFor({ timeout: 10_000 });
    expect(await page.locator(".ok-note").textContent()).toBe(`You are assembling the order for ${name}.`);
    await orderAt(orderId, "assembling");

    // A quantity the API refuses: its message names the line and the field, and nothing is stored.
    const quantity = working.getByLabel("Quantity");
    await quantity.fill("-5");
    await working.getByRole("button", { name: "Save lines" }).click();
    const problem = working.locator(".form-problem");
    await problem.waitFor();
    expect(await problem.textContent()).toBe("lines[0].quantity must be at least 0");
    expect(await quantity.getAttribute("aria-invalid")).toBe("true");
    await shot(page, "assembly-refused");
    expect((await call<{ order: Order }>(`/v1/orders/${orderId}`, { token: admin })).order.lines).toEqual([
      { product: "diesel", quantity: 3200, unit: "l" },
    ]);

    await quantity.fill("3000");
    await working.getByRole("button", { name: "Add a line" }).click();
    await working.getByLabel("Product").nth(1).fill("fuel additive");
    await working.getByLabel("Quantity").nth(1).fill("12.5");
    await working.getByLabel("Unit").nth(1).fill("l");
    await working.getByLabel("Vehicle (optional)").fill("ZH 4711");
    await working.getByLabel(/^Expected arrival/).fill("2030-01-02T08:00");
    expect(await working.textContent()).toContain("Not saved yet; dispatching saves them too.");
    await shot(page, "assembly-working");
    await fitsPhone(page, "assembly-working-phone");

    await working.getByRole("button", { name: "Dispatch" }).click();
    await expect
      .poll(() => page.locator(".ok-note").textContent())
      .toBe(`The order for ${name} is on its way; the partner has been told.`);
    await expect.poll(() => page.getByRole("listitem", { name: `Order for ${name}` }).count()).toBe(0);
    await shot(page, "assembly-dispatched");

    // What the API says now, and what the partner was sent (signed, checked by the stand-in).
    const lines = [
      { product: "diesel", quantity: 3000, unit: "l" },
      { product: "fuel additive", quantity: 12.5, unit: "l" },
    ];
    const order = await orderAt(orderId, "dispatched");
    // 08:00 in Zurich in January is 07:00 UTC.
    expect(order).toMatchObject({ lines, vehicle: "ZH 4711", eta: "2030-01-02T07:00:00.000Z" });
    const sent = await eventually(async () => {
      const r = await received(partner.id);
      return r.events.some((e) => e.type === "order.dispatched") ? r : undefined;
    }, "order.dispatched at the partner");
    expect(sent.refusals).toEqual([]);
    expect(sent.events.find((e) => e.type === "order.lines_changed")?.data.lines).toEqual(lines);
    expect(sent.events.find((e) => e.type === "order.dispatched")?.data).toMatchObject({ vehicle: "ZH 4711" });
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });

  it("a viewer sees no Assembly item and is refused the queue; an operator has it", async () => {
    const viewer = await person("viewer", admin);
    const operator = await person("operator", admin);
    const page = await openPage(browser);
    await signIn(page, viewer.email, viewer.password);
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Orders" }).waitFor();
    expect(await nav.getByRole("link", { name: "Assembly" }).count()).toBe(0);
    // Typed in by hand, the page goes back to the fleet; the API refuses the queue and its changes.
    await page.goto(`${system().url}/assembly`);
    await page.waitForURL((url) => url.pathname === "/");
    await nav.getByRole("link", { name: "Fleet" }).waitFor();
    expect(await page.getByRole("heading", { name: "Assembly", exact: true }).count()).toBe(0);
    const forced = await page.evaluate(async () => {
      const token = (JSON.parse(sessionStorage.getItem("fillgrid.session")!) as { token: string }).token;
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const queue = await fetch("/v1/assembly/queue", { headers });
      const patch = await fetch("/v1/orders/ord_01JZ4X8Q0K7M2N3P4R5S6T7V8W", {
        method: "PATCH",
        headers,
        body: JSON.stringify({ fulfilment: "assembling" }),
      });
      return [queue.status, patch.status];
    });
    expect(forced).toEqual([403, 403]);
    await page.context().close();

    const operatorPage = await openPage(browser);
    await signIn(operatorPage, operator.email, operator.password);
    await operatorPage.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Assembly" }).click();
    await operatorPage.getByRole("heading", { name: "Assembly", exact: true }).waitFor();
    await operatorPage.getByRole("region", { name: /^Waiting for assembly/ }).waitFor();
    expect(pageProblems(operatorPage)).toEqual([]);
    await operatorPage.context().close();
  });
});

describe("admin: partners, price lists and sales documents", () => {
  it("an admin adds a partner and sees its secret once, corrects its address, gives it a new secret, issues and replaces its API key, sends it a test event, and reads what was sent to it", async () => {
    const id = newPartnerId("added");
    const contents = `rolesfuel-${process.pid}`;
    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword, "/admin/partners");
    const form = page.getByRole("form", { name: "Add a partner" });
    await form.getByLabel(/^Short name/).fill(id);
    await form.getByLabel(/^Name/).fill("Lakeside Energy");
    await form.getByLabel("Contents it delivers").fill(contents);
    // An address the API refuses: its message names the field.
    await form.getByLabel("Webhook address").fill("ftp://lakeside.example/events");
    await form.getByRole("button", { name: "Add partner" }).click();
    const problem = page.locator(".form-problem");
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(/^webhookUrl must be /);
    await form.getByLabel("Webhook address").fill("https://lakeside.invalid/fillgrid/events");
    await form.getByRole("button", { name: "Add partner" }).click();

    // The secret: shown once, and it is the one that signs.
    const secretBox = page.locator("[data-secret=partner-secret]");
    await secretBox.waitFor();
    const first = (await secretBox.textContent())!;
    expect(first).toMatch(/^fgp_/);
    expect(await page.locator(".secret").textContent()).toContain("Copy the signing secret of Lakeside Energy now");
    await shot(page, "admin-partner-secret");
    await page.getByRole("button", { name: "I have stored it" }).click();
    expect(await page.locator("[data-secret]").count()).toBe(0);
    expect(await page.content()).not.toContain(first);
    const row = page.locator(`tr[data-partner="${id}"]`);
    expect(await row.textContent()).toContain(`anything holding ${contents}`);

    // Its name and address corrected: the API answers them.
    await row.getByRole("button", { name: "Edit" }).click();
    const change = page.getByRole("form", { name: "Change Lakeside Energy" });
    expect(await change.getByLabel("Contents it delivers").inputValue()).toBe(contents);
    await change.getByLabel(/^Name/).fill("Lakeside Energy AG");
    await change.getByLabel("Webhook address").fill(standIn.webhookUrl(id));
    await shot(page, "admin-partner-edit");
    await change.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => change.count()).toBe(0);
    await expect.poll(() => row.locator("strong").textContent()).toBe("Lakeside Energy AG");
    const listed = await call<{ partners: { id: string; name: string; webhookUrl: string }[] }>("/v1/partners", {
      token: admin,
    });
    expect(listed.partners.find((p) => p.id === id)).toMatchObject({
      name: "Lakeside Energy AG",
      webhookUrl: standIn.webhookUrl(id),
    });

    // A new secret: asked first, shown once, and the old one stays good for a while.
    const asked = new Promise<string>((resolve) =>
      page.once("dialog", (dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      }),
    );
    await row.getByRole("button", { name: "New secret" }).click();
    expect(await asked).toMatch(/^Give Lakeside Energy AG a new signing secret\?/);
    await expect.poll(async () => (await secretBox.count()) && secretBox.textContent()).toMatch(/^fgp_/);
    const second = (await secretBox.textContent())!;
    expect(second).not.toBe(first);
    expect(await page.locator(".secret").textContent()).toContain("The previous secret keeps working until");
    await page.getByRole("button", { name: "I have stored it" }).click();
    await teachSecret(id, second);
    await expect.poll(() => row.textContent()).toContain("the old one works until");

    // An order for what it delivers goes to it, signed with the new secret; the log says so.
    const site = `Lakeside depot ${process.pid}`;
    const containerId = await lowContainer(site);
    const orderId = await openOrder(containerId, 15, contents);
    await row.getByRole("button", { name: "Delivery log" }).click();
    const log = page.getByRole("region", { name: "Sent to Lakeside Energy AG" });
    const opened = log.locator('tr[data-event="order.opened"]');
    await opened.waitFor({ timeout: 30_000 });
    await expect.poll(() => opened.textContent(), { timeout: 30_000 }).toContain("delivered");
    expect(await opened.textContent()).toContain("HTTP 200");
    expect(await opened.textContent()).toContain(orderId);
    expect((await received(id)).events.map((e) => e.orderId)).toContain(orderId);

    // An API key for the partner's own API: shown once, with what it is for, and it is this partner's.
    await row.getByRole("button", { name: "Issue API key" }).click();
    const keyBox = page.getByRole("alert", { name: "Copy the API key of Lakeside Energy AG now" });
    const keyShown = keyBox.locator("[data-secret=partner-api-key]");
    await keyShown.waitFor();
    const firstKey = (await keyShown.textContent())!;
    expect(firstKey).toMatch(/^fgpk_/);
    expect(await keyBox.textContent()).toContain(
      "The partner reads its own orders, deliveries and documents with it: Authorization: Bearer …, under",
    );
    expect(await keyBox.textContent()).toContain(`${system().url}/v1/partner/`);
    const self = (bearer: string) =>
      fetch(`${system().url}/v1/partner`, { headers: { authorization: `Bearer ${bearer}` } });
    expect((await call<{ partner: { id: string } }>("/v1/partner", { token: firstKey })).partner.id).toBe(id);
    await keyBox.getByRole("button", { name: "I have stored it" }).click();
    expect(await page.locator("[data-secret]").count()).toBe(0);
    expect(await page.content()).not.toContain(firstKey);
    await expect.poll(() => row.locator('[data-label="API key"]').textContent()).toMatch(/^issued /);

    // Issued again: asked first, since the key the partner has stops working; the new one works instead.
    const keyAsked = new Promise<string>((resolve) =>
      page.once("dialog", (dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      }),
    );
    await row.getByRole("button", { name: "New API key" }).click();
    expect(await keyAsked).toMatch(/^Give Lakeside Energy AG a new API key\? The key it has now stops working/);
    await expect.poll(async () => (await keyShown.count()) && keyShown.textContent()).toMatch(/^fgpk_/);
    const secondKey = (await keyShown.textContent())!;
    expect(secondKey).not.toBe(firstKey);
    expect(await keyBox.textContent()).toContain("The key it had before stops working within seconds.");
    await shot(page, "admin-partner-api-key");
    await fitsPhone(page, "admin-partner-api-key-phone");
    expect((await call<{ partner: { id: string } }>("/v1/partner", { token: secondKey })).partner.id).toBe(id);
    // Refused once the key cache has let go of it.
    await expect.poll(async () => (await self(firstKey)).status, { timeout: 10_000 }).toBe(401);
    await keyBox.getByRole("button", { name: "I have stored it" }).click();

    // A test event: the partner has it, signed; the page says so in words, and the log lists it.
    const tested = row.getByRole("status");
    await row.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => tested.textContent(), { timeout: 15_000 }).toMatch(/^Received: answered 200 in \d+ ms$/);
    const pings = (await received(id)).events.filter((e) => e.type === "ping");
    expect(pings).toHaveLength(1);
    await shot(page, "admin-partner-test-event");
    const ping = log.locator('tr[data-event="ping"]');
    await ping.waitFor({ timeout: 10_000 });
    expect(await ping.locator('[data-label="Event"]').textContent()).toBe("Test event");
    expect(await ping.textContent()).toContain("HTTP 200");
    expect(await ping.textContent()).toContain("delivered");
    // One the partner does not take: what it answered, in words.
    await standInMode(id, "fail");
    await row.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => tested.textContent(), { timeout: 15_000 }).toMatch(/^Not received: answered 503 in \d+ ms/);
    await standInMode(id, "ok");
    await expect.poll(() => log.locator('tr[data-event="ping"]').count(), { timeout: 10_000 }).toBe(2);
    expect(await log.locator('tr[data-event="ping"]').first().textContent()).toContain("not received");
    await shot(page, "admin-partners", true);
    await fitsPhone(page, "admin-partners-phone");
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });

  it("an admin edits a partner's price list; a product priced twice is refused, naming the row; the API then answers the new prices", async () => {
    const partner = await standInPartner("Valley Oils", []);
    await call(`/v1/partners/${partner.id}/prices`, {
      method: "PUT",
      token: admin,
      json: { currency: "EUR", prices: [{ product: "diesel", unit: "l", unitPrice: 1.5, vatRate: 0.2 }] },
    });
    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword, "/admin/prices");
    await page.getByLabel("Partner").selectOption({ label: "Valley Oils" });
    await expect.poll(() => page.getByLabel("Product of row 1", { exact: true }).inputValue()).toBe("diesel");
    expect(await page.getByLabel("Price per unit of row 1", { exact: true }).inputValue()).toBe("1.5");
    // The API keeps a rate; the page says percent.
    expect(await page.getByLabel("VAT percent of row 1", { exact: true }).inputValue()).toBe("20");

    await page.getByLabel("Price per unit of row 1", { exact: true }).fill("1.62");
    await page.getByRole("button", { name: "Add a price" }).click();
    await page.getByLabel("Product of row 2", { exact: true }).fill("heating oil");
    await page.getByLabel("Unit of row 2", { exact: true }).fill("l");
    await page.getByLabel("Price per unit of row 2", { exact: true }).fill("0.98");
    await page.getByLabel("VAT percent of row 2", { exact: true }).fill("7.7");
    await page.getByRole("button", { name: "Add a price" }).click();
    await page.getByLabel("Product of row 3", { exact: true }).fill("diesel");
    await page.getByLabel("Unit of row 3", { exact: true }).fill("l");
    await page.getByLabel("Price per unit of row 3", { exact: true }).fill("1.7");
    await page.getByRole("button", { name: "Save price list" }).click();
    const problem = page.locator(".form-problem");
    await problem.waitFor();
    expect(await problem.textContent()).toBe("prices[2] repeats diesel per l");
    expect(await page.getByLabel("Product of row 3", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await shot(page, "admin-prices-refused");
    expect(
      (await call<{ prices: { unitPrice: number }[] }>(`/v1/partners/${partner.id}/prices`, { token: admin })).prices,
    ).toMatchObject([{ unitPrice: 1.5 }]);

    await page.getByRole("button", { name: "Remove row 3" }).click();
    await page.getByRole("button", { name: "Save price list" }).click();
    await expect.poll(() => page.locator(".ok-note").textContent()).toBe("Saved: 2 prices.");
    const now = await call<{ prices: object[] }>(`/v1/partners/${partner.id}/prices`, { token: admin });
    expect(now.prices).toMatchObject([
      { product: "diesel", unit: "l", currency: "EUR", unitPrice: 1.62, vatRate: 0.2 },
      { product: "heating oil", unit: "l", currency: "EUR", unitPrice: 0.98, vatRate: 0.077 },
    ]);
    expect(now.prices).toHaveLength(2);
    // The form shows what was saved, ordered as the API keeps it.
    expect(await page.getByLabel("Product of row 2", { exact: true }).inputValue()).toBe("heating oil");
    expect(await page.getByLabel("VAT percent of row 2", { exact: true }).inputValue()).toBe("7.7");
    await shot(page, "admin-prices");
    await fitsPhone(page, "admin-prices-phone");
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });

  it("an admin issues the documents owed, narrows the list to a partner, opens one as its page and saves it as CSV and JSON", async () => {
    const site = `Hilltop silo ${process.pid}`;
    const containerId = await lowContainer(site);
    const partner = await standInPartner("Summit Supplies", [containerId]);
    await call(`/v1/partners/${partner.id}/prices`, {
      method: "PUT",
      token: admin,
      json: { currency: "CHF", prices: [{ product: "diesel", unit: "l", unitPrice: 2, vatRate: 0.081 }] },
    });
    const orderId = await openOrder(containerId, 10);
    await partnerEvent(partner, { type: "order.accepted", containerId, orderId, data: {} });
    await partnerEvent(partner, {
      type: "order.delivered",
      containerId,
      orderId,
      data: { lines: [{ product: "diesel", quantity: 3500, unit: "l" }], deliveryNote: "DN-SUMMIT-1" },
    });
    await orderAt(orderId, "delivered");

    const page = await openPage(browser);
    await signIn(page, system().adminEmail, system().adminPassword, "/admin/documents");
    await page.getByRole("heading", { name: "Sales documents" }).waitFor();
    await page.getByLabel("Partner").selectOption({ label: "Summit Supplies" });
    await page.getByText("No document matches these filters.").waitFor();
    await page.getByRole("button", { name: "Issue owed documents now" }).click();
    await expect.poll(() => page.locator(".ok-note").textContent()).toMatch(/^\d+ documents? issued/);
    const number = `FG-${partner.id}-${new Date().getUTCFullYear()}-000001`;
    const row = page.locator(`tr[data-document="${number}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await page.locator("tr[data-document]").count()).toBe(1);
    // 3,500 l at 2 CHF and 8.1 % VAT.
    expect(await row.locator('[data-label="Total"]').textContent()).toBe("7567.00 CHFnet 7000.00, VAT 567.00");
    expect(await row.textContent()).toContain(site);
    expect(await row.textContent()).toContain("3,500 l diesel");
    await shot(page, "admin-documents");

    const popup = page.context().waitForEvent("page");
    await row.getByRole("button", { name: `Open ${number} as a page` }).click();
    const printable = await popup;
    await printable.waitForLoadState();
    expect(await printable.content()).toContain(`Sales document ${number}`);
    await printable.close();

    const csv = await downloaded(page, () => row.getByRole("button", { name: `Save ${number} as CSV` }).click());
    expect(csv.name).toBe(`${number}.csv`);
    const apiCsv = await fetch(`${system().url}/v1/documents/${number}/csv`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(csv.text).toBe(await apiCsv.text());
    const json = await downloaded(page, () => row.getByRole("button", { name: `Save ${number} as JSON` }).click());
    expect(json.name).toBe(`${number}.json`);
    const apiDocument = (await call<{ document: object }>(`/v1/documents/${number}`, { token: admin })).document;
    expect(JSON.parse(json.text)).toEqual(apiDocument);

    // The order filter as the API judges it; then the order's own document.
    await page.getByLabel("Partner").selectOption("");
    await page.getByLabel("Order").fill("not-an-order");
    await expect
      .poll(() => page.locator(".state.failed").textContent())
      .toContain("orderId is not an order id (ord_…)");
    await page.getByLabel("Order").fill(orderId);
    await page.locator(`tr[data-document="${number}"]`).waitFor();
    expect(await page.locator("tr[data-document]").count()).toBe(1);
    await fitsPhone(page, "admin-documents-phone");
    expect(pageProblems(page)).toEqual([]);
    await page.context().close();
  });
});
