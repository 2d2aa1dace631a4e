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

export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        message: "is not a known field",
      }));
    }
    const path = formatPath(issue.path) || "(body)";
    if (issue.code === "invalid_type" && / received undefined$/.test(issue.message)) {
      return [{ path, message: `is required (${issue.expected})` }];
    }
    return [{ path, message: issue.message }];
  });
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

export function parseWith<S extends z.ZodType>(schema: S, input: unknown): Parsed<z.output<S>> {
  const result = schema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: toFieldIssues(result.error) };
}

/** Container ids: what a person can type and a URL carries unescaped. */
export const containerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    error: "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
  });

export const percentSchema = z.number().finite().min(0).max(100);

export const orderIdSchema = z.string().regex(/^ord_[0-9A-Z]{26}$/, { error: "is not an order id (ord_…)" });

export const booleanParam = z.enum(["true", "false"], { error: "must be true or false" }).transform((v) => v === "true");

export const instantParam = z.iso.datetime({ offset: true, error: "must be an RFC 3339 timestamp with a time zone" });
