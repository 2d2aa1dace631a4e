// The backups as an admin checks them: each hour's manifest (what it holds, whether it is
// complete), how old the newest complete one is, and what is written but not yet in a manifest.
import type { MiddlewareHandler } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import {
  BACKUP_PREFIXES,
  backupAgeSeconds,
  backupKeySchema,
  backupSummarySchema,
  isBackupKey,
  replicationLagSeconds,
  restoreSummarySchema,
} from "../../domain/backups";
import { instantSchema } from "../../domain/validation";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { personProblems, problems, router, security } from "../http/openapi";
import { jsonContent } from "../http/openapi";
import { ApiError, notFound, validationError } from "../http/errors";
import { bodyAtMost, jsonBody } from "../http/json-body";
import { hex, sha256Hex } from "../../platform/crypto";
import { gunzip, putBackupObject, takeHourlyBackup } from "../backups";
import { limits, rateLimit } from "../http/rate-limit";
import { restoreFromBucket } from "../restore";
import { backupLedger } from "../stubs";

const admin: MiddlewareHandler<AppEnv>[] = [requireRole("admin"), rateLimit(limits.api)];

/** When a snapshot (gzip JSON) was taken; a 400 naming the body when it is not one. */
async function snapshotTakenAt(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  try {
    const takenAt = (JSON.parse(await gunzip(bytes)) as { takenAt?: unknown }).takenAt;
    if (typeof takenAt === "string" && !Number.isNaN(Date.parse(takenAt))) return takenAt;
  } catch {
    // not gzip JSON: refused below
  }
  throw validationError([{ path: "body", message: "is not a snapshot (gzip JSON with takenAt)" }]);
}

export const backups = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/backups",
      tags: ["Operations"],
      summary: "The hourly backups: what each holds and whether it is complete",
      description:
        "Every container event is written to the backup bucket within a minute or so of its commit; every hour a snapshot of what no container holds (people, device keys, partners with their secrets sealed, alert and notification rules, prices, sales documents and their numbers) and a manifest of the objects written since the hour before (each with its SHA-256) are added. A backup is complete when every event Postgres knew of when the hour closed is in the bucket with no hole, and its snapshot was written.",
      security: security.person,
      middleware: admin,
      request: {
        query: z.strictObject({
          limit: z.coerce.number().int().min(1).max(500).default(48).meta({ description: "1-500, default 48" }),
          before: z
            .string()
            .datetime()
            .optional()
            .meta({ description: "Manifests of hours before this one (RFC 3339), for the next page" }),
        }),
      },
      responses: {
        200: jsonContent(
          z.object({
            newestComplete: z.string().nullable().meta({ description: "When the newest complete backup was taken" }),
            ageSeconds: z.number().nullable().meta({ description: "How long ago that was; null: none yet" }),
            replication: z
              .object({
                waiting: z
                  .number()
                  .int()
                  .meta({ description: "Objects written that the replica has not yet (checked)" }),
                lagSeconds: z.number().meta({ description: "How long the oldest of them has waited; 0 when none" }),
              })
              .meta({ description: "The copy in the second bucket (BACKUP_REPLICA)" }),
            unlisted: z
              .object({
                objects: z.number().int(),
                events: z.number().int(),
              })
              .meta({ description: "Event objects written since the last manifest" }),
            backups: z.array(backupSummarySchema),
          }),
          "Newest first",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const ledger = backupLedger(c.env);
      const [newest, manifests, unlisted, replication] = await Promise.all([
        ledger.newest(),
        ledger.manifests(q.limit, q.before),
        ledger.unlistedTotals(),
        ledger.replication(),
      ]);
      return c.json(
        {
          newestComplete: newest.complete,
          ageSeconds: backupAgeSeconds(newest.complete, Date.now()),
          replication: {
            waiting: replication.waiting,
            lagSeconds: replicationLagSeconds(replication.oldestWaiting, Date.now()),
          },
          unlisted,
          backups: manifests,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/backups/restore",
      tags: ["Operations"],
      summary: "Rebuild the system from the backup bucket, to the latest or to a moment",
      description:
        "Every container from its events committed up to `at` (default: all), into empty containers only (one that holds a log already is listed as refused); the people, device keys, partners, alert and notification rules, document numbers, prices and sales documents of the newest snapshot taken by then; Postgres from the containers, whose restored events the projection writes as any others. Run it on a wiped system, before traffic resumes. For a fleet too large for one request, `npm run restore` does the same from outside, container by container.",
      security: security.person,
      middleware: [...admin, ...jsonBody()],
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                at: instantSchema
                  .optional()
                  .meta({ description: "Restore the system as it was at this moment (RFC 3339)" }),
              }),
            },
          },
          required: true,
        },
      },
      responses: {
        200: jsonContent(restoreSummarySchema, "What was restored, and what was refused"),
        ...problems(400, ...personProblems),
      },
    }),
    async (c) => {
      const { at } = c.req.valid("json");
      return c.json(await restoreFromBucket(c.env, at === undefined ? null : Date.parse(at)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/backups/objects",
      tags: ["Operations"],
      summary: "The backup bucket's objects, a page at a time (to keep a copy elsewhere: npm run backup:export)",
      security: security.person,
      middleware: admin,
      request: {
        query: z.strictObject({
          prefix: z
            .enum(BACKUP_PREFIXES)
            .optional()
            .meta({ description: "events/, snapshots/ or manifests/; all when left out" }),
          cursor: z.string().max(1024).optional(),
        }),
      },
      responses: {
        200: jsonContent(
          z.object({
            objects: z.array(z.object({ key: z.string(), bytes: z.number().int(), uploaded: z.string() })),
            nextCursor: z.string().nullable(),
          }),
          "A page of keys, in key order",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await c.env.BACKUPS.list({ prefix: q.prefix ?? "", cursor: q.cursor, limit: 1000 });
      return c.json(
        {
          objects: page.objects
            .filter((o) => isBackupKey(o.key))
            .map((o) => ({ key: o.key, bytes: o.size, uploaded: o.uploaded.toISOString() })),
          nextCursor: page.truncated ? page.cursor : null,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/backups/object",
      tags: ["Operations"],
      summary: "One object of the backup bucket, as stored",
      security: security.person,
      middleware: admin,
      request: { query: z.strictObject({ key: backupKeySchema }) },
      responses: {
        200: { description: "The object's bytes", content: { "application/octet-stream": { schema: z.string() } } },
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("query");
      const object = await c.env.BACKUPS.get(key);
      if (!object) throw notFound(`backup object ${key}`);
      return new Response(object.body, {
        headers: { "Content-Type": "application/octet-stream", "X-Content-Type-Options": "nosniff" },
      });
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/backups/object",
      tags: ["Operations"],
      summary:
        "Put an object of a backup kept elsewhere into the bucket, to restore from it (npm run restore -- --from <folder>)",
      description:
        "Objects are immutable: one already there with other bytes is a 409; with the same bytes, a 200 that changes nothing. Up to 100 MB.",
      security: security.person,
      middleware: [...admin, bodyAtMost(100 * 1024 * 1024)],
      request: {
        query: z.strictObject({ key: backupKeySchema }),
        body: { content: { "application/octet-stream": { schema: z.string() } }, required: true },
      },
      responses: {
        200: jsonContent(
          z.object({ key: z.string(), bytes: z.number().int(), sha256: z.string(), created: z.boolean() }),
          "Stored",
        ),
        ...problems(...personProblems, 409),
      },
    }),
    async (c) => {
      const { key } = c.req.valid("query");
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      const sha256 = await sha256Hex(bytes);
      const existing = await c.env.BACKUPS.head(key);
      if (existing) {
        const same = existing.checksums.sha256
          ? hex(existing.checksums.sha256) === sha256
          : existing.size === bytes.byteLength;
        if (!same) throw new ApiError(409, "conflict", `backup object ${key} is there already with other bytes`);
        return c.json({ key, bytes: bytes.byteLength, sha256, created: false }, 200);
      }
      // A snapshot says when it was taken, as the hourly job's own put does (restore picks by it).
      const customMetadata = key.startsWith("snapshots/") ? { takenAt: await snapshotTakenAt(bytes) } : undefined;
      await putBackupObject(c.env, key, bytes, { sha256, ...(customMetadata ? { customMetadata } : {}) });
      return c.json({ key, bytes: bytes.byteLength, sha256, created: true }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/backups/run",
      tags: ["Operations"],
      summary: "Take a backup now: the snapshot, and a manifest of what was written since the last",
      description:
        "What the hourly job does, at once, judged complete against every event Postgres knows of now (the hourly job judges against the hour that closed). Events reach the bucket continuously; this adds the snapshot and the manifest.",
      security: security.person,
      middleware: admin,
      responses: {
        200: jsonContent(backupSummarySchema, "The backup taken"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const now = Date.now();
      return c.json(await takeHourlyBackup(c.env, now, now), 200);
    },
  );
