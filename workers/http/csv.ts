// Answers as CSV, for the lists people take into a spreadsheet: asked for with `?format=csv` or
// `Accept: text/csv` (an explicit `format=json` wins over the header); the text is domain/csv.ts's.
import type { Context } from "hono";
import { csvColumns } from "../../domain/analytics";
import type { AppEnv } from "./context";
import type { z } from "zod";
import { csvText } from "../../domain/csv";

export function wantsCsv(c: Context, format: "json" | "csv" | undefined): boolean {
  if (format !== undefined) return format === "csv";
  return (c.req.header("Accept") ?? "").split(",").some((part) => part.trim().toLowerCase().startsWith("text/csv"));
}

/** The rows under a header line of `columns`, as an attachment named `filename`. */
export function csvResponse(filename: string, columns: readonly string[], rows: readonly object[]): Response {
  return new Response(csvText(columns, rows), {
    status: 200,
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${filename}"`,
    },
  });
}

/** A 200 answer documented as JSON and as CSV. */
export function jsonOrCsv<S extends z.ZodType>(schema: S, description: string) {
  return {
    description,
    content: {
      "application/json": { schema },
      "text/csv": { schema: { type: "string" as const, description: "The rows, a header line first" } },
    },
  };
}

/** The answer as JSON, or its rows as CSV when asked. */
export function csvOrJsonAnswer<T extends { rows: readonly object[] }>(
  c: Context<AppEnv>,
  format: "json" | "csv" | undefined,
  name: keyof typeof csvColumns,
  filename: string,
  body: T,
) {
  if (wantsCsv(c, format)) return csvResponse(filename, csvColumns[name], body.rows);
  return c.json(body, 200);
}
