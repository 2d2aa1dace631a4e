// The Chromium the browser tests and the benchmark drive: CHROMIUM_PATH, else Debian's
// /usr/bin/chromium, else the one inside the @sparticuz/chromium package from npm (unpacked on
// first use), so a fresh machine needs nothing but `npm install`.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
];

export async function chromiumPath(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  const packaged = (await import("@sparticuz/chromium")).default;
  return packaged.executablePath();
}

/**
 * The environment Chromium runs in: this process's, with LANG=C.UTF-8 where none is set (a bare CI
 * runner's default), so a page opened without a `locale` gets the language such a machine reports.
 */
export function chromiumEnv(): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  return { ...env, LANG: env.LANG || "C.UTF-8" };
}

/** Whether Chromium's own language comes from the POSIX locale: it then reports a tag like "en-US@posix". */
export function chromiumOnPosixLocale(): boolean {
  const env = chromiumEnv();
  const setting = env.LC_ALL || env.LC_MESSAGES || env.LANG || "";
  return /^(C|POSIX)([._@]|$)/.test(setting);
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: await chromiumPath(),
    args: CHROMIUM_FLAGS,
    headless: true,
    env: chromiumEnv(),
  });
}
