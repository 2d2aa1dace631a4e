import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { FieldIssue } from "../../domain/validation";

/** An answer to a request that went wrong through the caller's doing (or a known state conflict). */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: FieldIssue[],
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
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

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);
