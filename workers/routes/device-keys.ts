import { Hono } from "hono";
import { z } from "zod";
import { DEVICE_KEY_PREFIX, isDeviceKeyId } from "../../domain/access";
import { randomToken } from "../../domain/ids";
import { containerIdSchema } from "../../domain/validation";
import type { DeviceKeyRecord } from "../../durable-objects/device-key";
import { directory } from "../../durable-objects/directory";
import type { AppEnv } from "../http/context";
import { requireRole } from "../http/auth";
import { forgetDeviceKey } from "../http/device-auth";
import { notFound, readJson, validate, validationError } from "../http/errors";
import { limitBody } from "../http/limits";
import { sha256Hex } from "../lib/crypto";

export const deviceKeys = new Hono<AppEnv>();

const newKeySchema = z.strictObject({
  /** Omit (or null) for a fleet key that may report for any container. */
  containerId: containerIdSchema.nullable().optional(),
  label: z.string().trim().min(1).max(100).optional(),
});

deviceKeys.post("/", limitBody(16 * 1024), requireRole("admin"), async (c) => {
  const input = validate(newKeySchema, await readJson(c));
  const id = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  const secret = randomToken(32);
  const record: DeviceKeyRecord = {
    id,
    label: input.label ?? null,
    containerId: input.containerId ?? null,
    createdAt: new Date().toISOString(),
    createdBy: c.get("person").email,
    revokedAt: null,
    revokedBy: null,
  };
  await c.env.DEVICE_KEYS.getByName(id).issue(record, await sha256Hex(secret));
  await directory(c.env).recordDeviceKey(record);
  // The key itself is in this answer only; what is stored is its hash.
  return c.json({ key: `${DEVICE_KEY_PREFIX}${id}_${secret}`, deviceKey: record }, 201);
});

deviceKeys.get("/", requireRole("admin"), async (c) => {
  return c.json({ deviceKeys: await directory(c.env).listDeviceKeys() });
});

deviceKeys.delete("/:id", requireRole("admin"), async (c) => {
  const id = c.req.param("id");
  if (!isDeviceKeyId(id)) throw validationError([{ path: "id", message: "is not a device key id (16 hex digits)" }]);
  const record = await c.env.DEVICE_KEYS.getByName(id).revoke(c.get("person").email);
  if (!record) throw notFound(`device key ${id}`);
  forgetDeviceKey(id);
  await directory(c.env).recordDeviceKey(record);
  return c.json({ deviceKey: record });
});
