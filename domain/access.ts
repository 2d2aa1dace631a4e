export const ROLES = ["viewer", "assembler", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/**
 * Roles are ranked: an assembler may do what a viewer may (and prepare orders), an operator what an
 * assembler may, an admin what an operator may.
 */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** A device key as a sensor holds it: `fgk_<16 hex id>_<secret>`. */
export const DEVICE_KEY_PREFIX = "fgk_";
const DEVICE_KEY = /^fgk_([0-9a-f]{16})_([A-Za-z0-9_-]{32,128})$/;

export function parseDeviceKey(key: string): { id: string; secret: string } | null {
  const match = DEVICE_KEY.exec(key);
  return match ? { id: match[1]!, secret: match[2]! } : null;
}

export function isDeviceKeyId(id: string): boolean {
  return /^[0-9a-f]{16}$/.test(id);
}

/** A person as admins see them; never with a password hash. */
export interface User {
  email: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  passwordChangedAt: string | null;
  /** The Telegram user who may act for this person from a chat (the Acknowledge button); null: none. */
  telegramUserId: number | null;
}

// JSON of bounded depth: deep enough for any audit detail, and shallow enough for RPC's types.
type Json0 = string | number | boolean | null;
type Json1 = Json0 | Json0[] | { [key: string]: Json0 };
type Json2 = Json1 | Json1[] | { [key: string]: Json1 };
export type JsonValue = Json2 | Json2[] | { [key: string]: Json2 };

/** What one admin action changed, kept for `GET /v1/audit`. */
export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: AuditAction;
  target: string;
  details: Record<string, JsonValue>;
}

export const AUDIT_ACTIONS = [
  "user.created",
  "user.role_changed",
  "user.disabled",
  "user.enabled",
  "user.password_reset",
  "user.password_changed",
  "user.telegram_linked",
  "device_key.issued",
  "device_key.revoked",
  "container.settings_changed",
  "partner.created",
  "partner.updated",
  "partner.disabled",
  "partner.enabled",
  "partner.secret_rotated",
  "partner.prices_changed",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type UserChangeRefusal = "not_found" | "last_admin" | "self" | "telegram_taken";

/**
 * Whether an admin's change to a person may go ahead: at least one enabled admin must remain, and no
 * admin locks themselves out (another admin can do that for them).
 */
export function checkUserChange(
  users: readonly (Pick<User, "email" | "role" | "disabled"> & Partial<Pick<User, "telegramUserId">>)[],
  actor: string,
  target: string,
  change: { role?: Role | undefined; disabled?: boolean | undefined; telegramUserId?: number | null | undefined },
): UserChangeRefusal | null {
  const user = users.find((u) => u.email === target);
  if (!user) return "not_found";
  // One Telegram user acts for one person only.
  if (
    change.telegramUserId != null &&
    users.some((u) => u.email !== target && u.telegramUserId === change.telegramUserId)
  )
    return "telegram_taken";
  const losesAdmin =
    user.role === "admin" &&
    !user.disabled &&
    ((change.role !== undefined && change.role !== "admin") || change.disabled === true);
  if (!losesAdmin) return null;
  if (target === actor) return "self";
  const otherAdmins = users.filter((u) => u.email !== target && u.role === "admin" && !u.disabled);
  return otherAdmins.length === 0 ? "last_admin" : null;
}

/** How long a stream ticket (POST /v1/stream-tickets) is good for, once. */
export const TICKET_TTL_MS = 30_000;
