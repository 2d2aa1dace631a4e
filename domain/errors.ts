// Error records: what a failure anywhere in the system becomes. Reports of the same failure share
// a fingerprint, so a storm of one failure is one record with a count.

/** `dashboard`: a failure a person's browser caught (POST /v1/client-errors). */
export const ERROR_SOURCES = ["worker", "durable-object", "consumer", "cron", "dead-letter", "dashboard"] as const;
export type ErrorSource = (typeof ERROR_SOURCES)[number];

/**
 * The longest of each field a browser may report (POST /v1/client-errors); the dashboard cuts what
 * it sends to these, so a long stack is shortened rather than refused.
 */
export const CLIENT_ERROR_LIMITS = {
  name: 200,
  message: 2000,
  stack: 16_000,
  componentStack: 8000,
  view: 200,
  path: 2000,
  userAgent: 500,
} as const;

/** How a browser caught it: a view's error boundary, an uncaught error, an unhandled rejection. */
export const CLIENT_ERROR_KINDS = ["render", "error", "rejection"] as const;

export interface ErrorContext {
  requestId?: string;
  route?: string;
  method?: string;
  containerId?: string;
  queue?: string;
  messageId?: string;
  cron?: string;
  object?: string;
  [key: string]: string | number | undefined;
}

/** What every occurrence of a failure, and the record grouping them, says about it. */
interface FailureDescription {
  fingerprint: string;
  name: string;
  message: string;
  stack: string | null;
  source: ErrorSource;
  context: ErrorContext;
}

/** One occurrence, as sent through the errors queue. */
export interface ErrorReport extends FailureDescription {
  reportId: string;
  at: string;
}

export type ErrorStatus = "open" | "resolved";

/** The grouped record operators see. */
export interface ErrorRecord extends FailureDescription {
  id: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  status: ErrorStatus;
  resolvedAt: string | null;
  resolvedBy: string | null;
}

/**
 * What a list of records shows of one: without its stack, context and fingerprint, which a person
 * reads when opening it (GET /v1/errors/{id}). Dashboards are pushed this, so a change costs each
 * socket a few hundred bytes however long the stack.
 */
export type ErrorSummary = Pick<
  ErrorRecord,
  "id" | "name" | "message" | "source" | "count" | "firstSeen" | "lastSeen" | "status" | "resolvedAt" | "resolvedBy"
>;

/** Field by field, so a field added to records reaches the stream only when listed here. */
export function summaryOf(r: ErrorRecord): ErrorSummary {
  return {
    id: r.id,
    name: r.name,
    message: r.message,
    source: r.source,
    count: r.count,
    firstSeen: r.firstSeen,
    lastSeen: r.lastSeen,
    status: r.status,
    resolvedAt: r.resolvedAt,
    resolvedBy: r.resolvedBy,
  };
}

export type ErrorChangeKind = "error.created" | "error.updated";

/** What dashboards are sent: each change to a record, as its summary, numbered in the order it happened. */
export interface ErrorChange {
  seq: number;
  type: ErrorChangeKind;
  record: ErrorSummary;
}

/**
 * The message with what varies between occurrences of one failure replaced by placeholders: ids,
 * UUIDs, hex strings, timestamps and numbers.
 */
export function normalizeMessage(message: string): string {
  return (
    message
      .replace(/\b\d{4}-\d{2}-\d{2}[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?/g, "<time>")
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<uuid>")
      .replace(/\b[a-z]{2,5}_[0-9A-Za-z]{10,}\b/g, "<id>")
      .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, "<hex>")
      // Opaque references a runtime makes up per failure ("internal error; reference = e58ft8l6…").
      .replace(/\b(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{16,}\b/gi, "<token>")
      .replace(/\d+(?:\.\d+)?/g, "<n>")
  );
}

/** The function names and files of the top stack frames, without line or column numbers. */
export function stackSignature(stack: string | null | undefined, frames = 5): string {
  if (!stack) return "";
  return stack
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("at "))
    .slice(0, frames)
    .map((line) =>
      line
        .replace(/:\d+:\d+(\)?)$/, "$1")
        .replace(/\?[^ )]*/g, "")
        .replace(/\(.*\//, "(")
        .replace(/^at .*\//, "at "),
    )
    .join("|");
}

/** `where` names the place it happened when the stack alone may not: a route, a queue, a cron job. */
export async function fingerprintOf(
  source: ErrorSource,
  where: string,
  name: string,
  message: string,
  stack: string | null,
): Promise<string> {
  const basis = [source, where, name, normalizeMessage(message), stackSignature(stack)].join("\n");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(basis));
  return Array.from(new Uint8Array(digest).slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}

export type Grouped = { kind: ErrorChangeKind; record: ErrorRecord };

/**
 * Fold reports of one fingerprint into its record: a new fingerprint creates a record, a repeat of
 * an open one counts up, a repeat of a resolved one reopens it. `existing` is the stored record.
 */
export function groupReports(
  existing: ErrorRecord | null,
  reports: readonly ErrorReport[],
  newId: () => string,
): Grouped {
  if (reports.length === 0) throw new Error("groupReports needs at least one report");
  const sorted = [...reports].sort((a, b) => a.at.localeCompare(b.at));
  const latest = sorted[sorted.length - 1]!;
  const earliest = sorted[0]!;
  if (!existing) {
    return {
      kind: "error.created",
      record: {
        id: newId(),
        fingerprint: latest.fingerprint,
        name: latest.name,
        message: latest.message,
        stack: latest.stack,
        source: latest.source,
        context: latest.context,
        count: reports.length,
        firstSeen: earliest.at,
        lastSeen: latest.at,
        status: "open",
        resolvedAt: null,
        resolvedBy: null,
      },
    };
  }
  const newer = latest.at >= existing.lastSeen;
  return {
    kind: "error.updated",
    record: {
      ...existing,
      ...(newer ? { name: latest.name, message: latest.message, stack: latest.stack, context: latest.context } : {}),
      count: existing.count + reports.length,
      firstSeen: earliest.at < existing.firstSeen ? earliest.at : existing.firstSeen,
      lastSeen: newer ? latest.at : existing.lastSeen,
      status: "open",
      resolvedAt: null,
      resolvedBy: null,
    },
  };
}
