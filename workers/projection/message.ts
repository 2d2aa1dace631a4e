import type { BackupEventsMessage } from "../../domain/backups";
import { changesOf, type ChangeMessage, type ChangeRange } from "../../domain/change-message";
import { EVENT_TYPES, type ContainerEvent } from "../../domain/events";

// Enough of a change message's shape to be sure the writer can use it; the rest is the container's
// own output and trusted as such. Checked by hand rather than with a zod schema: a schema's parse
// copies every object it passes (loose objects included), and the projection consumer checks every
// event of every message — measured, a tenth of its time went to copying messages it then read
// once. This reads each field it checks and copies nothing; the messages stay as the queue gave them.

/** Where a message breaks the shape, as "path message", or null when it holds. */
type Check = (value: unknown, path: string) => string | null;

const EVENT_TYPE_SET = new Set<string>(EVENT_TYPES);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const at = (path: string, key: string | number) => (path === "" ? String(key) : `${path}.${key}`);
const nonEmptyString = (v: unknown) => typeof v === "string" && v.length > 0;
const positiveInt = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v > 0;

function fields(checks: Record<string, (v: unknown) => boolean>, what: Record<string, string>): Check {
  return (value, path) => {
    if (!isObject(value)) return `${path || "(body)"} must be an object`;
    for (const [key, ok] of Object.entries(checks))
      if (!ok(value[key])) return `${at(path, key)} ${value[key] === undefined ? "is missing" : what[key]}`;
    return null;
  };
}

const eventFields = fields(
  {
    id: nonEmptyString,
    seq: positiveInt,
    containerId: nonEmptyString,
    type: (v) => typeof v === "string" && EVENT_TYPE_SET.has(v),
    at: (v) => typeof v === "string",
    actor: (v) => isObject(v) && typeof v.kind === "string" && typeof v.id === "string",
  },
  {
    id: "must be a non-empty string",
    seq: "must be a positive integer",
    containerId: "must be a non-empty string",
    type: `must be one of ${EVENT_TYPES.join(", ")}`,
    at: "must be a string",
    actor: "must be an object with kind and id",
  },
);
const stateFields = fields(
  { containerId: nonEmptyString, version: positiveInt },
  { containerId: "must be a non-empty string", version: "must be a positive integer" },
);
const orderFields = fields({ id: nonEmptyString }, { id: "must be a non-empty string" });

function each(check: Check, atLeastOne: boolean): Check {
  return (value, path) => {
    if (!Array.isArray(value)) return `${path} must be an array`;
    if (atLeastOne && value.length === 0) return `${path} must hold at least one`;
    for (let i = 0; i < value.length; i++) {
      const problem = check(value[i], at(path, i));
      if (problem) return problem;
    }
    return null;
  };
}

const checkEvents = each(eventFields, true);
const checkOrders = each((v, path) => {
  if (!isObject(v)) return `${path} must be an object`;
  return (
    orderFields(v.order, at(path, "order")) ??
    (positiveInt(v.version) ? null : `${at(path, "version")} must be a positive integer`)
  );
}, false);

const checkRange: Check = (v, path) => {
  if (!isObject(v)) return `${path || "(body)"} must be an object`;
  if (v.range !== true) return `${at(path, "range")} must be true`;
  if (!nonEmptyString(v.containerId)) return `${at(path, "containerId")} must be a non-empty string`;
  return (
    checkEvents(v.events, at(path, "events")) ??
    stateFields(v.state, at(path, "state")) ??
    checkOrders(v.orders, at(path, "orders"))
  );
};

const checkChange: Check = (v, path) => {
  if (!isObject(v)) return `${path || "(body)"} must be an object`;
  return (
    eventFields(v.event, "event") ??
    stateFields(v.state, "state") ??
    (v.order === null ? null : orderFields(v.order, "order"))
  );
};

export function parseChangeMessage(body: unknown): { ok: true; message: ChangeMessage } | { ok: false; error: string } {
  const problem = checkChange(body, "");
  return problem
    ? { ok: false, error: `not a change message: ${problem}` }
    : { ok: true, message: body as ChangeMessage };
}

/**
 * A queue message's body as the value it stands for: senders of range messages send JSON text
 * (domain/change-message.ts `textMessage`); messages sent before, replayed dead letters and
 * hand-made batches come as objects.
 */
export function bodyValue(body: unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  if (typeof body !== "string") return { ok: true, value: body };
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
}

/**
 * A message of the projection queue: many containers' ranges (what the ingest worker sends for a
 * request), one container's range of events (what a container sends itself), or a single change
 * (what containers sent before ranges, still in queues and dead letters), as the single changes it
 * stands for, with the value its body holds.
 */
export function parseProjectionMessage(
  message: unknown,
): { ok: true; changes: ChangeMessage[]; value: unknown } | { ok: false; error: string } {
  const read = bodyValue(message);
  if (!read.ok) return { ok: false, error: `not a projection message: ${read.error}` };
  const body = read.value;
  const changes = changesIn(body);
  return changes.ok ? { ...changes, value: body } : changes;
}

function changesIn(body: unknown): { ok: true; changes: ChangeMessage[] } | { ok: false; error: string } {
  if (isObject(body) && "ranges" in body) {
    const problem = each(checkRange, true)(body.ranges, "ranges");
    if (problem) return { ok: false, error: `not a batch of change ranges: ${problem}` };
    return { ok: true, changes: (body.ranges as ChangeRange[]).flatMap(changesOf) };
  }
  if (isObject(body) && "range" in body) {
    const problem = checkRange(body, "");
    if (problem) return { ok: false, error: `not a change range: ${problem}` };
    return { ok: true, changes: changesOf(body as unknown as ChangeRange) };
  }
  const single = parseChangeMessage(body);
  return single.ok ? { ok: true, changes: [single.message] } : single;
}

/** Whether a message's value is the backup queue's own shape (domain/backups.ts): events, and no range. */
export function isBackupEventsMessage(value: unknown): boolean {
  return isObject(value) && "events" in value && !("range" in value) && !("ranges" in value);
}

/**
 * A message of the backup queue as the events it holds: the events the projection consumer passes
 * on (`{"events": [...]}`), or, as before they were, a projection message (still in queues and
 * dead letters), whose events are backed up.
 */
export function parseBackupMessage(
  message: unknown,
): { ok: true; events: ContainerEvent[] } | { ok: false; error: string } {
  const read = bodyValue(message);
  if (!read.ok) return { ok: false, error: `not a backup message: ${read.error}` };
  if (isBackupEventsMessage(read.value)) {
    const events = (read.value as Record<string, unknown>).events;
    const problem = checkEvents(events, "events");
    return problem
      ? { ok: false, error: `not a backup message: ${problem}` }
      : { ok: true, events: (read.value as unknown as BackupEventsMessage).events };
  }
  const projection = parseProjectionMessage(read.value);
  return projection.ok ? { ok: true, events: projection.changes.map((c) => c.event) } : projection;
}
