// How bad input is told to a person: every issue names its field (`readings[3].location.lat`) and
// says what is wrong in words they can act on. The wording comes from each issue's code and limits,
// set once for every schema through zod's error map, never from matching zod's own English.
import { z } from "zod";

/** One problem with a request, named by the path of the field it concerns. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** `readings[3].location.lat` style paths, readable by a person and by a program. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

function kindOf(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "an array";
  return article(typeof input);
}

type Issue = z.core.$ZodRawIssue;

/** The message for one issue, by its code; undefined leaves a schema's own `error` in charge. */
export function messageFor(issue: Issue): string | undefined {
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return "is required";
      if (issue.expected === "int") return "must be an integer";
      // A query parameter that did not read as a number arrives here as NaN.
      if (typeof issue.input === "number" && Number.isNaN(issue.input)) return "must be a number";
      // JSON reads a number too large for a double (1e400) as Infinity.
      if (typeof issue.input === "number" && !Number.isFinite(issue.input)) return "must be a finite number";
      return `must be ${article(String(issue.expected))}, not ${kindOf(issue.input)}`;
    }
    case "too_big": {
      const max = String(issue.maximum);
      if (issue.origin === "string") return `must be at most ${max} characters`;
      if (issue.origin === "array" || issue.origin === "set") return `must have at most ${max} items`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case "too_small": {
      const min = String(issue.minimum);
      if (issue.origin === "string") return min === "1" ? "must not be empty" : `must be at least ${min} characters`;
      if (issue.origin === "array" || issue.origin === "set")
        return `must have at least ${min} item${min === "1" ? "" : "s"}`;
      return issue.inclusive === false ? `must be more than ${min}` : `must be at least ${min}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      return issue.format === "email" ? "must be an email address" : `must be a valid ${issue.format}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    case "unrecognized_keys":
      return "is not a known field";
    case "invalid_union":
      return "does not match any of the accepted forms";
    default:
      return undefined;
  }
}

z.config({ customError: messageFor });

/** How far a value is from one form of a union: its top-level misfits (each unknown key counts) first. */
function distance(issues: readonly z.core.$ZodIssue[]): [number, number] {
  let shallow = 0;
  for (const issue of issues) {
    if (issue.path.length > 1) continue;
    shallow += issue.code === "unrecognized_keys" ? issue.keys.length : 1;
  }
  return [shallow, issues.length];
}

/**
 * Issues as the API reports them. An unknown key becomes one issue per key, named by its own path.
 * For a value that matches none of a union's forms, the form whose top level it fits best speaks for
 * it, so a batch with one bad reading names that reading rather than every way it is no single one.
 */
export function toFieldIssues(issues: readonly z.core.$ZodIssue[], base: readonly PropertyKey[] = []): FieldIssue[] {
  return issues.flatMap((issue): FieldIssue[] => {
    const at = [...base, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: formatPath([...at, key]), message: issue.message }));
    }
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const closest = issue.errors.reduce((best, branch) => {
        const [a, b] = [distance(branch), distance(best)];
        return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]) ? branch : best;
      });
      return toFieldIssues(closest, at);
    }
    return [{ path: formatPath(at) || "(body)", message: issue.message }];
  });
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

/** Container ids: what a person can type and a URL carries unescaped. */
export const containerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    error: "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
  })
  .meta({ description: "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", example: "silo-7" });

/**
 * A named (component) schema or null. Spelt as a union because the OpenAPI generator turns
 * `.nullable()` on a component into a `$ref` that null cannot match.
 */
export function orNull<S extends z.ZodType>(schema: S) {
  return z.union([schema, z.null()]);
}

export const percentSchema = z.number().min(0).max(100);

/** A point in time as the API writes it (RFC 3339, UTC). */
export const instantText = z.string().meta({ format: "date-time", example: "2026-11-30T08:15:00.000Z" });
export const nullableInstantText = instantText.nullable();

export const locationSchema = z
  .strictObject({
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
  })
  .meta({ id: "Location", description: "WGS 84 degrees" });

export const anomalyIdSchema = z
  .string()
  .regex(/^anm_[0-9A-Z]{26}$/, { error: "is not an anomaly id (anm_…)" })
  .meta({ example: "anm_01JZ4X8Q0K7M2N3P4R5S6T7V8W" });

export const orderIdSchema = z
  .string()
  .regex(/^ord_[0-9A-Z]{26}$/, { error: "is not an order id (ord_…)" })
  .meta({ example: "ord_01JZ4X8Q0K7M2N3P4R5S6T7V8W" });

export const booleanParam = z
  .enum(["true", "false"], { error: "must be true or false" })
  .transform((v) => v === "true");

/** The instants the system accepts: within what JavaScript and Postgres both hold, and sane for a fleet. */
export const EARLIEST_INSTANT = Date.UTC(1970, 0, 1);
export const LATEST_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The zone offset of an RFC 3339 timestamp as hours and minutes (0, 0 for Z), or null when it has none. */
export function zoneOffset(text: string): { hours: number; minutes: number } | null {
  if (/[Zz]$/.test(text)) return { hours: 0, minutes: 0 };
  const m = /[+-](\d{2}):?(\d{2})$/.exec(text);
  return m ? { hours: Number(m[1]), minutes: Number(m[2]) } : null;
}

/** Whether an epoch-milliseconds value is an instant the system accepts. */
export function inInstantRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= EARLIEST_INSTANT && ms <= LATEST_INSTANT;
}

/**
 * An RFC 3339 timestamp with a zone whose offset is at most ±14:00 (the widest any zone has) and
 * whose instant lies between 1970 and the end of 9999: what Postgres and JavaScript both store.
 */
export const instantSchema = z.iso
  // `abort`: a text that is no timestamp at all gets that one message, not also the range checks.
  .datetime({ offset: true, error: "must be an RFC 3339 timestamp with a time zone", abort: true })
  .superRefine((text, ctx) => {
    const offset = zoneOffset(text);
    if (offset && (offset.minutes > 59 || offset.hours * 60 + offset.minutes > 14 * 60)) {
      ctx.addIssue({ code: "custom", message: "has a zone offset beyond ±14:00" });
    } else if (!inInstantRange(Date.parse(text))) {
      ctx.addIssue({ code: "custom", message: "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z" });
    }
  })
  .meta({ format: "date-time", example: "2026-11-30T08:15:00Z" });

export const instantParam = instantSchema;

export const emailSchema = z
  .email({ error: "must be an email address" })
  .max(254)
  .transform((e) => e.toLowerCase())
  .meta({ example: "dispatcher@example.com" });

export const passwordSchema = z.string().min(10, { error: "must be at least 10 characters" }).max(200);
