import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/context";
import { createRoute, z } from "@hono/zod-openapi";
import { DEVICE_KEY_PREFIX } from "../../domain/access";
import { randomHex, randomToken } from "../../domain/ids";
import { deviceKeyRecordSchema } from "../../domain/schemas";
import { containerIdSchema } from "../../domain/validation";
import type { DeviceKeyRecord } from "../../durable-objects/device-key";
import { sha256Hex } from "../../platform/crypto";
import { requireRole } from "../http/auth";
import { forgetDeviceKey } from "../http/device-auth";
import { notFound } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { deviceKeyObject, directory } from "../stubs";

const admin: MiddlewareHandler<AppEnv>[] = [requireRole("admin"), rateLimit(limits.api)];

const newKeySchema = z.strictObject({
  containerId: containerIdSchema
    .nullable()
    .optional()
    .meta({ description: "Limit the key to one container; leave out for a fleet key" }),
  label: z.string().trim().min(1).max(100).optional(),
});

export const deviceKeys = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/device-keys",
      tags: ["Device keys"],
      summary: "Issue a device key; the key is in this answer only",
      security: security.person,
      middleware: [...admin, ...jsonBody()],
      request: { body: { content: { "application/json": { schema: newKeySchema } }, required: true } },
      responses: {
        201: jsonContent(
          z.object({ key: z.string().meta({ example: "fgk_0123456789abcdef_…" }), deviceKey: deviceKeyRecordSchema }),
          "Issued; only its hash is stored",
        ),
        ...problems(...personProblems, 413, 415),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const id = randomHex(8);
      const secret = randomToken(32);
      const by = c.get("person").email;
      const record: DeviceKeyRecord = {
        id,
        label: input.label ?? null,
        containerId: input.containerId ?? null,
        createdAt: new Date().toISOString(),
        createdBy: by,
        revokedAt: null,
        revokedBy: null,
      };
      await deviceKeyObject(c.env, id).issue(record, await sha256Hex(secret));
      await directory(c.env).recordDeviceKey(record, {
        actor: by,
        action: "device_key.issued",
        target: id,
        details: { label: record.label, containerId: record.containerId },
      });
      return c.json({ key: `${DEVICE_KEY_PREFIX}${id}_${secret}`, deviceKey: record }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/device-keys",
      tags: ["Device keys"],
      summary: "Every device key, revoked ones included",
      security: security.person,
      middleware: admin,
      responses: {
        200: jsonContent(z.object({ deviceKeys: z.array(deviceKeyRecordSchema) }), "By id"),
        ...problems(...personProblems),
      },
    }),
    async (c) => c.json({ deviceKeys: await directory(c.env).listDeviceKeys() }, 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/device-keys/{id}",
      tags: ["Device keys"],
      summary: "Revoke a device key",
      description:
        "Refused at once by the isolate that revoked it, and by every other within DEVICE_KEY_CACHE_SECONDS.",
      security: security.person,
      middleware: admin,
      request: {
        params: z.object({
          id: z.string().regex(/^[0-9a-f]{16}$/, { error: "is not a device key id (16 hex digits)" }),
        }),
      },
      responses: {
        200: jsonContent(z.object({ deviceKey: deviceKeyRecordSchema }), "Revoked"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const by = c.get("person").email;
      const record = await deviceKeyObject(c.env, id).revoke(by);
      if (!record) throw notFound(`device key ${id}`);
      forgetDeviceKey(id);
      await directory(c.env).recordDeviceKey(record, {
        actor: by,
        action: "device_key.revoked",
        target: id,
        details: {},
      });
      return c.json({ deviceKey: record }, 200);
    },
  );
