import { z } from "zod";

export const limitSchema = z.coerce.number().int().min(1).max(500).default(50);

/** Opaque cursors: base64url of JSON, checked on the way back in. */
export function encodeCursor(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function cursorSchema<S extends z.ZodType>(inner: S) {
  return z.string().transform((text, ctx): z.output<S> => {
    try {
      const json: unknown = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
      const parsed = inner.safeParse(json);
      if (parsed.success) return parsed.data;
    } catch {
      // fall through to the issue below
    }
    ctx.addIssue({ code: "custom", message: "is not a cursor this API returned" });
    return z.NEVER;
  });
}
