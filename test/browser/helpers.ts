// What the browser tests share: the system's address, API calls as a client makes them, people
// and keys, a signed-in page, and screenshots written as test artefacts (test-results/screenshots).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { inject } from "vitest";

export const system = () => inject("system");
export const SCREENSHOTS = join(process.cwd(), "test-results/screenshots");

export async function call<T = unknown>(
  path: string,
  init: { method?: string; token?: string; json?: unknown } = {},
  expected = 200,
): Promise<T> {
  const res = await fetch(system().url + path, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers: {
      ...(init.json === undefined ? {} : { "content-type": "application/json" }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await res.text();
  if (res.status !== expected)
    throw new Error(`${init.method ?? "GET"} ${path}: expected ${expected}, got ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * A person's token. The test files share one system, and logins per email are limited (10 a
 * minute): one over the limit waits the Retry-After it is given, as a person would.
 */
export async function login(email: string, password: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(system().url + "/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    const text = await res.text();
    if (res.status === 429 && attempt < 3) {
      await new Promise((r) => setTimeout(r, (Number(res.headers.get("Retry-After") ?? 10) + 0.5) * 1000));
      continue;
    }
    if (res.status !== 200) throw new Error(`POST /v1/auth/login: expected 200, got ${res.status} ${text}`);
    return (JSON.parse(text) as { token: string }).token;
  }
}

export const adminToken = () => login(system().adminEmail, system().adminPassword);

let people = 0;
/** A new person with `role`; their password is theirs to sign in with. */
export async function person(role: "viewer" | "assembler" | "operator" | "admin", admin: string) {
  const email = `${role}-${process.pid}-${++people}@fillgrid.test`;
  const password = `password-of-${role}-${people}`;
  await call("/v1/users", { token: admin, json: { email, password, role } }, 201);
  return { email, password };
}

export async function fleetKey(admin: string): Promise<string> {
  return (await call<{ key: string }>("/v1/device-keys", { token: admin, json: { label: "browser tests" } }, 201)).key;
}

export function postReadings(key: string, readings: object[]) {
  return call<{ results: { status: string; orderOpened?: { id: string } }[] }>("/v1/readings", {
    token: key,
    json: readings.length === 1 ? readings[0] : { readings },
  });
}

let containers = 0;
export const newContainerId = (prefix: string) => `${prefix}-${process.pid}-${++containers}`;

/**
 * A page as a person in Zurich with an English browser would have it; `locale: null` leaves the
 * browser's own language and zone, whatever the machine reports (en-US@posix on a POSIX locale).
 */
export async function openPage(
  browser: Browser,
  viewport = { width: 1280, height: 800 },
  { locale = "en-GB", touch = false }: { locale?: string | null; touch?: boolean } = {},
): Promise<Page> {
  const context = await browser.newContext({
    viewport,
    hasTouch: touch,
    ...(locale === null ? {} : { locale, timezoneId: "Europe/Zurich" }),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`${e.name}: ${e.message}`));
  (page as Page & { problems?: string[] }).problems = problems;
  return page;
}

/** Uncaught errors in the page so far (none is expected). */
export const pageProblems = (page: Page): string[] => (page as Page & { problems?: string[] }).problems ?? [];

export async function signIn(page: Page, email: string, password: string, path = "/") {
  await page.goto(system().url + path);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  const live = page.locator(".live[data-status=live]");
  // Over the per-email login limit (test files share one system), wait as the form says, then again.
  const limited = page.getByText(/try again in \d+ s/);
  for (let attempt = 0; ; attempt++) {
    await page.getByRole("button", { name: "Sign in" }).click();
    await live.or(limited).first().waitFor({ timeout: 30_000 });
    if (await live.isVisible()) return;
    if (attempt >= 3) throw new Error(`sign-in of ${email} stayed over the login limit`);
    const seconds = Number(/try again in (\d+) s/.exec((await limited.first().textContent()) ?? "")?.[1] ?? 10);
    await page.waitForTimeout((seconds + 0.5) * 1000);
  }
}

export async function shot(page: Page, name: string, fullPage = false) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}

/** A partner's event, signed as the README's Partners section states. */
export async function partnerEvent(
  partner: { id: string; secret: string },
  event: Record<string, unknown>,
  expected = 200,
) {
  const { createHmac } = await import("node:crypto");
  const body = JSON.stringify({ eventId: `e-${crypto.randomUUID()}`, occurredAt: new Date().toISOString(), ...event });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v1=${createHmac("sha256", partner.secret).update(`${timestamp}.${body}`).digest("hex")}`;
  const res = await fetch(`${system().url}/v1/webhooks/partners/${partner.id}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "X-Fillgrid-Timestamp": timestamp,
      "X-Fillgrid-Signature": signature,
    },
    body,
  });
  const text = await res.text();
  if (res.status !== expected)
    throw new Error(`partner event ${String(event.type)}: expected ${expected}, got ${res.status} ${text}`);
  return JSON.parse(text) as { order: { id: string } };
}

/** What `find` returns once it returns something (the projection to Postgres takes a moment). */
export async function eventually<T>(find: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The file the page saves when `act` runs (a download), with the name it was saved under. */
export async function downloaded(page: Page, act: () => Promise<unknown>): Promise<{ name: string; text: string }> {
  const { readFile } = await import("node:fs/promises");
  const [file] = await Promise.all([page.waitForEvent("download", { timeout: 15_000 }), act()]);
  const path = await file.path();
  return { name: file.suggestedFilename(), text: await readFile(path, "utf8") };
}
