import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/context";
import { createRoute, z } from "@hono/zod-openapi";
import {
  containerEventSchema,
  containerStateSchema,
  errorBodySchema,
  fleetContainerSchema,
  orderSchema,
  storedReadingSchema,
} from "../../domain/schemas";
import type { JsonValue } from "../../domain/access";
import { settingsSchema } from "../../domain/settings";
import {
  booleanParam,
  containerIdSchema,
  inInstantRange,
  instantParam,
  instantSchema,
  orderIdSchema,
} from "../../domain/validation";
import { cursorParam, encodeCursor, MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { eq } from "drizzle-orm";
import { fillHistory, listContainers, oldestMeasured, readingsBetween, thresholdChanges } from "../db/queries";
import { archivedReadings, archivedRows, oldestArchived } from "../archive/history";
import { READING_CSV_COLUMNS, readingCsvRows } from "../archive/parquet";
import { csvResponse, jsonOrCsv, wantsCsv } from "../http/csv";
import { formatParam } from "../../domain/analytics";
import { FLEET_CSV_COLUMNS, fleetCsvRows, type FleetContainer } from "../../domain/fleet";
import { containers as containerTable } from "../db/schema";
import { requireRole } from "../http/auth";
import { ApiError, notFound, validationError } from "../http/errors";
import { jsonBody, optionalJsonBody } from "../http/json-body";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { container, directory } from "../stubs";

const as = (role: "viewer" | "operator" | "admin"): MiddlewareHandler<AppEnv>[] => [
  requireRole(role),
  rateLimit(limits.api),
];

const limitParam = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_PAGE)
  .default(50)
  .meta({ description: `1-${MAX_PAGE}, default 50` });
const byContainer = z.object({ containerId: containerIdSchema });
const byOrder = z.object({ containerId: containerIdSchema, orderId: orderIdSchema });

const fleetCursor = z.tuple([z.string(), z.union([z.string(), z.number()]), z.string().max(64)]);
/** What the sort value inside a fleet cursor must be, by the sort it was issued for. */
const sortValue = {
  id: z.string().max(64),
  fillPercent: z.number().min(-1).max(100),
  lastSeenAt: instantSchema,
  thresholdAt: z.union([instantSchema, z.literal("infinity")]),
} as const;
const readingCursor = z.tuple([z.number().int().refine(inInstantRange), z.number().int().min(0)]);

/** A CSV of a container's readings holds at most this many. */
const CSV_READINGS_MAX = 100_000;
/** A CSV of the fleet holds at most this many containers. */
const FLEET_CSV_MAX_ROWS = 50_000;

export const containers = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/containers",
      tags: ["Containers"],
      summary: "The fleet from Postgres: filters, sort, cursor paging",
      security: security.person,
      middleware: as("viewer"),
      request: {
        query: z.strictObject({
          belowThreshold: booleanParam.optional(),
          hasActiveOrder: booleanParam.optional(),
          contents: z.string().min(1).max(100).optional(),
          silentSince: instantParam.optional().meta({ description: "Nothing heard since this instant, or never" }),
          runsOutWithinHours: z.coerce
            .number()
            .min(0)
            .max(24 * 365)
            .optional()
            .meta({
              description:
                "Only containers forecast to reach their threshold within this many hours from now (or that have)",
            }),
          sort: z
            .enum(["id", "fillPercent", "lastSeenAt", "thresholdAt"])
            .default("id")
            .meta({ description: "thresholdAt: soonest to reach the threshold first, those without a forecast last" }),
          order: z.enum(["asc", "desc"]).default("asc"),
          limit: limitParam,
          cursor: cursorParam(fleetCursor).optional(),
          format: formatParam,
        }),
      },
      description:
        "As CSV (`?format=csv` or `Accept: text/csv`): every container the filters match, in the order asked for (up to 50,000), one row each: fill, threshold, what is left in its unit, battery, times, position, its active order and forecast.",
      responses: {
        200: jsonOrCsv(
          z.object({ containers: z.array(fleetContainerSchema), nextCursor: z.string().nullable() }),
          "A page",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const { format, ...q } = c.req.valid("query");
      const sortTag = `${q.sort}:${q.order}`;
      let after: { value: string | number; id: string } | undefined;
      if (q.cursor !== undefined) {
        const cursor = q.cursor;
        if (cursor[0] !== sortTag)
          throw validationError([{ path: "cursor", message: `was issued for sort ${cursor[0]}, not ${sortTag}` }]);
        if (!sortValue[q.sort].safeParse(cursor[1]).success)
          throw validationError([{ path: "cursor", message: "is not a cursor this API returned" }]);
        after = { value: cursor[1], id: cursor[2] };
      }
      const { runsOutWithinHours, ...filters } = q;
      const runsOutBefore =
        runsOutWithinHours === undefined
          ? undefined
          : new Date(Date.now() + runsOutWithinHours * 3_600_000).toISOString();
      if (wantsCsv(c, format)) {
        const all = await withDatabase(c.env, async (db) => {
          const rows: FleetContainer[] = [];
          let from = after;
          do {
            const page = await listContainers(db, { ...filters, limit: 1000, runsOutBefore, after: from });
            rows.push(...page.items);
            from = page.next ?? undefined;
          } while (from && rows.length < FLEET_CSV_MAX_ROWS);
          return rows;
        });
        return csvResponse("fleet.csv", FLEET_CSV_COLUMNS, fleetCsvRows(all));
      }
      const page = await withDatabase(c.env, (db) => listContainers(db, { ...filters, runsOutBefore, after }));
      return c.json(
        {
          containers: page.items,
          nextCursor: page.next ? encodeCursor([sortTag, page.next.value, page.next.id]) : null,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/containers/{containerId}",
      tags: ["Containers"],
      summary: "Live state of a container, from its own object",
      security: security.person,
      middleware: as("viewer"),
      request: { params: byContainer },
      responses: {
        200: jsonContent(z.object({ container: containerStateSchema }), "Live state"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { containerId } = c.req.valid("param");
      const state = await container(c.env, containerId).getState();
      if (!state) throw notFound(`container ${containerId}`);
      return c.json({ container: state }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/containers/{containerId}/readings",
      tags: ["Containers"],
      summary: "Reading history, newest first",
      description:
        "From the container's own object, a page at a time. As CSV (`?format=csv` or `Accept: text/csv`): every reading measured in [`from`, `to`) (default: the last 30 days), oldest first, archived months included: the first 100,000 of the range (narrow it for more).",
      security: security.person,
      middleware: as("viewer"),
      request: {
        params: byContainer,
        query: z
          .strictObject({
            limit: limitParam,
            cursor: cursorParam(readingCursor).optional(),
            from: instantParam
              .optional()
              .meta({ description: "CSV: the range's start (default: 30 days before `to`)" }),
            to: instantParam.optional().meta({ description: "CSV: the range's end (default: now)" }),
            format: formatParam,
          })
          .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) < Date.parse(q.to), {
            error: "from must be before to",
            path: ["from"],
          }),
      },
      responses: {
        200: jsonOrCsv(
          z.object({ readings: z.array(storedReadingSchema), nextCursor: z.string().nullable() }),
          "A page",
        ),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { containerId } = c.req.valid("param");
      const q = c.req.valid("query");
      if (wantsCsv(c, q.format)) {
        const to = q.to ? new Date(q.to).toISOString() : new Date().toISOString();
        const from = q.from ? new Date(q.from).toISOString() : new Date(Date.parse(to) - 30 * 86_400_000).toISOString();
        const rows = await withDatabase(c.env, async (db) => {
          const archived = await archivedRows(c.env, db, containerId, from, to);
          const hotFrom = archived.archivedBefore && archived.archivedBefore > from ? archived.archivedBefore : from;
          return [...archived.rows, ...(await readingsBetween(db, containerId, hotFrom, to, CSV_READINGS_MAX))];
        });
        return csvResponse(
          `readings-${containerId}-${from.slice(0, 10)}-${to.slice(0, 10)}.csv`,
          READING_CSV_COLUMNS,
          readingCsvRows(rows.slice(0, CSV_READINGS_MAX)),
        );
      }
      const before = q.cursor ? { measuredAt: q.cursor[0], seq: q.cursor[1] } : null;
      const page = await container(c.env, containerId).listReadings(q.limit, before);
      if (!page) throw notFound(`container ${containerId}`);
      return c.json(
        {
          readings: page.items,
          nextCursor: page.next ? encodeCursor([page.next.measuredAt, page.next.seq]) : null,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/containers/{containerId}/history",
      tags: ["Containers"],
      summary:
        "Fill over a time range from Postgres, downsampled to at most `points`, with the threshold and order marks",
      description:
        "The applied readings themselves when they fit in `points`; otherwise one point per equal time bucket (`bucketSeconds`): its mean fill, min, max and count, at the bucket's start. Default range: the last 24 hours. A range reaching back past `READINGS_HOT_DAYS` reads the archived months from their Parquet parts and Postgres for the rest, as one answer.",
      security: security.person,
      middleware: as("viewer"),
      request: {
        params: byContainer,
        query: z
          .strictObject({
            from: instantParam.optional().meta({ description: "Default: 24 hours before `to`" }),
            all: booleanParam.optional().meta({
              description:
                "From the oldest reading the container has (by when it was measured), archived ones included",
            }),
            to: instantParam.optional().meta({ description: "Default: now" }),
            points: z.coerce.number().int().min(10).max(5000).default(500),
          })
          .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) < Date.parse(q.to), {
            error: "from must be before to",
            path: ["from"],
          }),
      },
      responses: {
        200: jsonContent(
          z.object({
            containerId: z.string(),
            from: z.string().meta({ format: "date-time" }),
            to: z.string().meta({ format: "date-time" }),
            bucketSeconds: z.number().int().nullable().meta({ description: "null: the readings themselves" }),
            threshold: z
              .number()
              .nullable()
              .meta({ description: "The threshold now (null when Postgres has not seen the container)" }),
            thresholdChanges: z.array(
              z.object({ at: z.string().meta({ format: "date-time" }), threshold: z.number() }),
            ),
            points: z.array(
              z.object({
                at: z.string().meta({ format: "date-time" }),
                fillPercent: z.number(),
                min: z.number(),
                max: z.number(),
                count: z.number().int(),
              }),
            ),
            orders: z.array(z.object({ id: z.string(), openedAt: z.string(), closedAt: z.string().nullable() })),
          }),
          "The range's history",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const { containerId } = c.req.valid("param");
      const q = c.req.valid("query");
      const to = q.to ? new Date(q.to).toISOString() : new Date().toISOString();
      // All: from the oldest reading, archived or in Postgres, by when it was measured.
      const oldest = q.all
        ? await withDatabase(c.env, async (db) => {
            const [archived, hot] = [
              await oldestArchived(c.env, db, containerId),
              await oldestMeasured(db, containerId),
            ];
            return archived ?? hot;
          })
        : null;
      const from = oldest
        ? new Date(Math.min(Date.parse(oldest), Date.parse(to) - 60_000)).toISOString()
        : q.from
          ? new Date(q.from).toISOString()
          : new Date(Date.parse(to) - 24 * 3600_000).toISOString();
      // One snapshot: the points, the threshold now and its changes agree even while the projection writes.
      const body = await withDatabase(c.env, (db) =>
        db.transaction(
          async (tx) => {
            const archived = await archivedReadings(c.env, tx, containerId, from, to);
            const history = await fillHistory(tx, containerId, from, to, q.points, archived);
            const [row] = await tx
              .select({ threshold: containerTable.threshold })
              .from(containerTable)
              .where(eq(containerTable.id, containerId));
            const changes = await thresholdChanges(tx, containerId, from, to);
            return { containerId, from, to, threshold: row?.threshold ?? null, thresholdChanges: changes, ...history };
          },
          { isolationLevel: "repeatable read", accessMode: "read only" },
        ),
      );
      return c.json(body, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/containers/{containerId}/orders",
      tags: ["Containers"],
      summary: "The container's orders, newest first",
      security: security.person,
      middleware: as("viewer"),
      request: { params: byContainer, query: z.strictObject({ limit: limitParam, cursor: orderIdSchema.optional() }) },
      responses: {
        200: jsonContent(z.object({ orders: z.array(orderSchema), nextCursor: z.string().nullable() }), "A page"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { containerId } = c.req.valid("param");
      const q = c.req.valid("query");
      const page = await container(c.env, containerId).listOrders(q.limit, q.cursor ?? null);
      if (!page) throw notFound(`container ${containerId}`);
      return c.json({ orders: page.items, nextCursor: page.next }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/containers/{containerId}/events",
      tags: ["Containers"],
      summary: "The event log (audit trail), oldest first; page with `after` = the last seq seen",
      security: security.person,
      middleware: as("viewer"),
      request: {
        params: byContainer,
        query: z.strictObject({
          after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
          limit: limitParam,
        }),
      },
      responses: {
        200: jsonContent(
          z.object({
            events: z.array(containerEventSchema),
            actors: z
              .record(z.string(), z.string())
              .meta({ description: "The labels of the device keys among the events' actors, by key id" }),
          }),
          "Events",
        ),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { containerId } = c.req.valid("param");
      const q = c.req.valid("query");
      const events = await container(c.env, containerId).listEvents(q.after, q.limit);
      if (!events) throw notFound(`container ${containerId}`);
      const devices = new Set(events.filter((e) => e.actor.kind === "device").map((e) => e.actor.id));
      const actors: Record<string, string> = {};
      if (devices.size > 0)
        for (const k of await directory(c.env).listDeviceKeys())
          if (devices.has(k.id) && k.label) actors[k.id] = k.label;
      return c.json({ events, actors }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/containers/{containerId}",
      tags: ["Containers"],
      summary: "Change settings: threshold, capacity, name, location, reportIntervalSeconds",
      description:
        "A threshold change opens and closes nothing by itself; orders keep the threshold they opened under.",
      security: security.person,
      middleware: [...as("admin"), ...jsonBody()],
      request: {
        params: byContainer,
        body: { content: { "application/json": { schema: settingsSchema } }, required: true },
      },
      responses: {
        200: jsonContent(z.object({ container: containerStateSchema }), "The state after"),
        ...problems(...personProblems, 413, 415),
      },
    }),
    async (c) => {
      const { containerId } = c.req.valid("param");
      const by = c.get("person").email;
      const { state, changed } = await container(c.env, containerId).updateSettings(c.req.valid("json"), {
        kind: "user",
        id: by,
      });
      if (changed) {
        await directory(c.env).recordAudit({
          actor: by,
          action: "container.settings_changed",
          target: containerId,
          details: { changes: { ...changed.changes }, previous: { ...changed.previous } } as Record<string, JsonValue>,
        });
      }
      return c.json({ container: state }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/containers/{containerId}/orders",
      tags: ["Orders"],
      summary: "Open an order by hand",
      security: security.person,
      middleware: as("operator"),
      request: { params: byContainer },
      responses: {
        201: jsonContent(z.object({ order: orderSchema }), "Opened"),
        409: jsonContent(errorBodySchema, "An order is active; `error.order` is that order"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { containerId } = c.req.valid("param");
      const result = await container(c.env, containerId).openOrder(c.get("person").email);
      if (result.ok) return c.json({ order: result.order }, 201);
      if (result.reason === "unknown_container") throw notFound(`container ${containerId}`);
      throw new ApiError(
        409,
        "order_active",
        `container ${containerId} already has active order ${result.order.id}`,
        undefined,
        { order: result.order },
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/containers/{containerId}/orders/{orderId}/close",
      tags: ["Orders"],
      summary: "Close an order by hand; automatic opening waits until the container reads above its threshold",
      description:
        'An optional JSON body `{"note"}` says why (up to 500 characters); it is kept on the `order.closed` event in the container\'s log.',
      security: security.person,
      middleware: [...as("operator"), ...optionalJsonBody()],
      request: {
        params: byOrder,
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                note: z
                  .string()
                  .trim()
                  .min(1, "must not be empty")
                  .max(500, "must be at most 500 characters")
                  .optional(),
              }),
            },
          },
          required: false,
        },
      },
      responses: {
        200: jsonContent(z.object({ order: orderSchema }), "Closed"),
        409: jsonContent(errorBodySchema, "The order is not active; `error.order` is the order"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { containerId, orderId } = c.req.valid("param");
      const note = (c.req.valid("json") as { note?: string } | undefined)?.note;
      const result = await container(c.env, containerId).closeOrder(orderId, c.get("person").email, note);
      if (result.ok) return c.json({ order: result.order }, 200);
      if (result.reason === "not_found") throw notFound(`order ${orderId} of container ${containerId}`);
      throw new ApiError(409, "order_not_active", `order ${orderId} is ${result.order.status}, not active`, undefined, {
        order: result.order,
      });
    },
  );
