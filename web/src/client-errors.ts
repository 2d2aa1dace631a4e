// What fails in a person's browser becomes an error record like any other (POST /v1/client-errors):
// a view's error boundary reports what it caught, and the window reports uncaught errors and
// unhandled rejections outside React. Never while signed out (the API would refuse it), and within
// a small budget, so a failure in a loop cannot flood the API or the person's own rate limit.
import { type CLIENT_ERROR_KINDS, CLIENT_ERROR_LIMITS as MAX } from "../../domain/errors";
import { api, data } from "./api";
import { session } from "./session";

export type FailureKind = (typeof CLIENT_ERROR_KINDS)[number];

/** At most BURST reports at once, then one more every REFILL_MS. */
const BURST = 5;
const REFILL_MS = 6_000;
let budget = BURST;
let countedAt = Date.now();

function spend(now = Date.now()): boolean {
  budget = Math.min(BURST, budget + (now - countedAt) / REFILL_MS);
  countedAt = now;
  if (budget < 1) return false;
  budget -= 1;
  return true;
}

/** The routed view on screen (its declared path), for failures that happen outside React. */
let viewOnScreen = "app";
export function showingView(view: string): void {
  viewOnScreen = view;
}

const cut = (text: string, max: number) => (text.length > max ? text.slice(0, max - 1) + "…" : text);

function textOf(reason: unknown): string {
  if (typeof reason === "string") return reason;
  try {
    return JSON.stringify(reason) ?? String(reason);
  } catch {
    return String(reason);
  }
}

/** Report a failure; answers whether it was sent (false: signed out, or over the budget). */
export function reportFailure(
  error: unknown,
  kind: FailureKind,
  where: { view?: string; componentStack?: string | null | undefined } = {},
): boolean {
  if (!session.current() || !spend()) return false;
  const e = error instanceof Error ? error : null;
  const body = {
    kind,
    name: cut(e?.name || (kind === "rejection" ? "UnhandledRejection" : "Error"), MAX.name),
    message: cut(e ? e.message : textOf(error), MAX.message),
    stack: e?.stack ? cut(e.stack, MAX.stack) : null,
    componentStack: where.componentStack ? cut(where.componentStack, MAX.componentStack) : null,
    view: cut(where.view ?? viewOnScreen, MAX.view),
    path: cut(location.pathname, MAX.path),
    userAgent: cut(navigator.userAgent, MAX.userAgent),
  };
  data(api.v1["client-errors"].$post({ json: body })).catch(() => {
    // Not reachable or refused: the failure is still in the browser's console; nothing more to do.
  });
  return true;
}

/** Uncaught errors and unhandled rejections outside React, reported once the page is loaded. */
export function reportUncaught(): void {
  window.addEventListener("error", (event: ErrorEvent) => {
    // A cross-origin "Script error." says nothing to act on; a ResizeObserver loop is harmless,
    // though Chromium reports it as an error.
    if (!event.error && (/^Script error\.?$/.test(event.message) || event.message.startsWith("ResizeObserver loop")))
      return;
    // Without an error object only the message is known (a new Error here would carry this stack).
    reportFailure(event.error ?? event.message, "error");
  });
  window.addEventListener(
    "unhandledrejection",
    (event: PromiseRejectionEvent) => void reportFailure(event.reason, "rejection"),
  );
}
