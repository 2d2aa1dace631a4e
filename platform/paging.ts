// Opaque cursors: base64url of JSON, checked on the way back in against the shape the list issued.
import { z } from "zod";

export const MAX_PAGE = 500;

export function encodeCursor(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The value inside a cursor, or undefined when the text is not one this API could have issued. */
export function decodeCursor<S extends z.ZodType>(inner: S, text: string): z.output<S> | undefined {
  try {
    const json: unknown = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
    const parsed = inner.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  } catch {
    // not base64 or not JSON: not a cursor, which the caller reports as such
    return undefined;
  }
}

/** A `cursor` query parameter holding `inner`: decoded while the query is validated, or a 400. */
export function cursorParam<S extends z.ZodType>(inner: S) {
  return z
    .string()
    .max(1000)
    .transform((text, ctx): z.output<S> => {
      const value = decodeCursor(inner, text);
      if (value === undefined) {
        ctx.addIssue({ code: "custom", message: "is not a cursor this API returned" });
        return z.NEVER;
      }
      return value;
    })
    .meta({ description: "nextCursor of the page before" });
}
