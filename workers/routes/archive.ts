// The archive of old readings as an admin watches and drives it: where it stands, a run now, its
// Parquet parts, and any month's readings as Parquet straight from Postgres.
import type { MiddlewareHandler } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { notFound } from "../http/errors";
import { limits, rateLimit } from "../http/rate-limit";
import { withDatabase } from "../db/client";
import { archiveStatus, monthPage, runArchival, type KeyCursor } from "../archive/job";
import { cursorParam, encodeCursor } from "../../platform/paging";

const admin: MiddlewareHandler<AppEnv>[] = [requireRole("admin"), rateLimit(limits.api)];

const monthStatusSchema = z.object({
  month: z.string().meta({ description: "The month's first day (UTC)", example: "2025-10-01" }),
  state: z.enum(["waiting", "exporting", "pruning", "archived"]).meta({
    description:
      "waiting: due, its readings' events not all in a backup yet (`blocked` says which); exporting: Parquet parts being written; pruning: the containers dropping their own rows; archived: the partition is gone",
  }),
  generation: z.number().int().meta({ description: "How often its export began again (rows came in meanwhile)" }),
  rows: z.number().int().meta({ description: "Readings in its Parquet parts" }),
  bytes: z.number().int().meta({ description: "The parts' bytes" }),
  postgresBytes: z
    .number()
    .int()
    .nullable()
    .meta({ description: "Its partition's bytes in Postgres (table and indexes) when the export began" }),
  parts: z.number().int(),
  containersPruned: z.number().int(),
  readingsPruned: z.number().int().meta({ description: "Reading rows the containers dropped" }),
  blocked: z.string().nullable().meta({ description: "Why it waits, when it does" }),
  startedAt: z.string().meta({ format: "date-time" }),
  updatedAt: z.string().meta({ format: "date-time" }),
  finishedAt: z.string().nullable().meta({ format: "date-time", description: "When it was first archived" }),
});

const statusSchema = z.object({
  hotDays: z.number().int().meta({ description: "READINGS_HOT_DAYS" }),
  firstHotMonth: z.string().meta({ description: "Readings measured from this month on stay in Postgres" }),
  archivedBefore: z
    .string()
    .nullable()
    .meta({ format: "date-time", description: "Readings measured before this are in the archive (null: none yet)" }),
  monthsDue: z.number().int().meta({ description: "Months past the hot window still in Postgres" }),
  oldestHotReading: z.string().nullable().meta({ format: "date-time" }),
  archivedOutcomes: z.record(z.string(), z.number().int()).meta({ description: "Archived readings by outcome" }),
  months: z.array(monthStatusSchema).meta({ description: "Newest first" }),
});

const monthParam = z.strictObject({
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "must be a month as YYYY-MM")
    .meta({ param: { name: "month", in: "path" }, example: "2025-10" }),
});

const partKeySchema = z
  .string()
  .regex(
    /^readings\/month=\d{4}-\d{2}\/g\d+-part-\d{5}\.parquet$/,
    "must be an archive part's key (readings/month=YYYY-MM/gN-part-NNNNN.parquet)",
  );

const monthCursor = z.tuple([
  z.string().max(256),
  z.string().max(256),
  z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/),
]);

export const archive = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/archive/status",
      tags: ["Operations"],
      summary: "Where the archive of old readings stands",
      description:
        "Readings measured before `firstHotMonth` (whole months older than READINGS_HOT_DAYS) leave Postgres and the containers for the ARCHIVE bucket as Parquet once every one of their events is in the backup bucket, never before. The hourly job does it a step at a time and picks up where it stopped.",
      security: security.person,
      middleware: admin,
      responses: { 200: jsonContent(statusSchema, "Where it stands"), ...problems(...personProblems) },
    }),
    async (c) => c.json(await withDatabase(c.env, (db) => archiveStatus(c.env, db.$client)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/archive/run",
      tags: ["Operations"],
      summary: "Run the archival job now, as the hourly job does",
      description:
        "Works until nothing is due, a month waits on the backup, or `budgetSeconds` is spent, and says what it did; run it again to go on.",
      security: security.person,
      middleware: admin,
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                budgetSeconds: z.number().int().min(1).max(600).default(20).meta({
                  description:
                    "1-600, default 20. In production an invocation has 30 s of CPU unless `limits.cpu_ms` says more: keep it under that",
                }),
              }),
            },
          },
          required: false,
        },
      },
      responses: {
        200: jsonContent(z.object({ steps: z.array(z.string()), status: statusSchema }), "What it did"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const body = (c.req.valid("json") as { budgetSeconds?: number } | undefined) ?? {};
      const steps = await runArchival(c.env, { budgetMs: (body.budgetSeconds ?? 20) * 1000 });
      const status = await withDatabase(c.env, (db) => archiveStatus(c.env, db.$client));
      return c.json({ steps, status }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/archive/object",
      tags: ["Operations"],
      summary: "One Parquet part of the archive, as stored",
      security: security.person,
      middleware: admin,
      request: { query: z.strictObject({ key: partKeySchema }) },
      responses: {
        200: {
          description: "The part (Parquet)",
          content: { "application/vnd.apache.parquet": { schema: z.string() } },
        },
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("query");
      const object = await c.env.ARCHIVE.get(key);
      if (!object) throw notFound(`archive part ${key}`);
      return new Response(object.body, {
        headers: {
          "Content-Type": "application/vnd.apache.parquet",
          "Content-Disposition": `attachment; filename="${key.replaceAll("/", "_")}"`,
        },
      });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/archive/months/{month}/readings.parquet",
      tags: ["Operations"],
      summary: "A month's readings still in Postgres as Parquet, a page at a time",
      description:
        "The same columns and encoding as the archive's parts, in (container, reading) order, `limit` rows a page; `X-Next-Cursor` (absent on the last page) asks for the next. For data tools, and to see what a month's archive will hold.",
      security: security.person,
      middleware: admin,
      request: {
        params: monthParam,
        query: z.strictObject({
          limit: z.coerce.number().int().min(1).max(100_000).default(100_000).meta({ description: "1-100000" }),
          cursor: cursorParam(monthCursor).optional(),
        }),
      },
      responses: {
        200: {
          description: "The page (Parquet)",
          content: { "application/vnd.apache.parquet": { schema: z.string() } },
          headers: z.object({ "X-Next-Cursor": z.string().optional(), "X-Rows": z.string() }),
        },
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { month } = c.req.valid("param");
      const q = c.req.valid("query");
      const page = await withDatabase(c.env, (db) =>
        monthPage(db.$client, `${month}-01`, (q.cursor as KeyCursor | undefined) ?? null, q.limit),
      );
      if (!page) throw notFound(`readings of ${month}${q.cursor ? " after the cursor" : ""} in Postgres`);
      const headers: Record<string, string> = {
        "Content-Type": "application/vnd.apache.parquet",
        "X-Rows": String(page.rows),
      };
      if (page.more) headers["X-Next-Cursor"] = encodeCursor(page.cursor);
      return new Response(page.parquet, { headers });
    },
  );
