import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { parseWith, type FieldIssue } from "../../domain/validation";
import type { z } from "zod";

/** An answer to a request that went wrong through the caller's doing (or a known state conflict). */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: FieldIssue[],
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  body(): { error: Record<string, unknown> } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.issues ? { issues: this.issues } : {}),
        ...this.details,
      },
    };
  }
}

export function validationError(issues: FieldIssue[]): ApiError {
  const first = issues[0];
  const summary = first ? `${first.path} ${first.message}` : "request is not valid";
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return new ApiError(400, "validation_failed", summary + more, issues);
}

/** Parse with a zod schema, or throw a 400 that names each bad field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = parseWith(schema, input);
  if (!parsed.ok) throw validationError(parsed.issues);
  return parsed.value;
}

/** The request body as JSON, or a 400 that says why it is not. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") throw new ApiError(400, "invalid_json", "request body is empty; expected JSON");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, "invalid_json", `request body is not valid JSON: ${(error as Error).message}`);
  }
}

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);
