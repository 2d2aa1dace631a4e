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
  "partner.api_key_issued",
  "order.delivery_corrected",
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

/** An audit entry as the list shows it. */
export interface AuditEntryLike {
  actor: string;
  action: AuditAction;
  target: string;
  details: Record<string, unknown>;
}

const text = (v: unknown): string =>
  v === null || v === undefined ? "none" : typeof v === "string" ? v : JSON.stringify(v);

/** What an admin did, as a sentence: "ops@x made dana@x an operator (was viewer)". */
export function auditSentence(e: AuditEntryLike): string {
  const d = e.details;
  switch (e.action) {
    case "user.created":
      return `${e.actor} added ${e.target} as ${text(d.role)}`;
    case "user.role_changed":
      return `${e.actor} made ${e.target} ${text(d.to)} (was ${text(d.from)})`;
    case "user.disabled":
      return `${e.actor} disabled ${e.target}`;
    case "user.enabled":
      return `${e.actor} enabled ${e.target} again`;
    case "user.password_reset":
      return `${e.actor} set a new password for ${e.target}`;
    case "user.password_changed":
      return `${e.actor} changed their password`;
    case "user.telegram_linked":
      return d.telegramUserId === null
        ? `${e.actor} unlinked ${e.target} from Telegram`
        : `${e.actor} linked ${e.target} to Telegram user ${text(d.telegramUserId)}`;
    case "device_key.issued":
      return `${e.actor} issued device key ${d.label ? `“${text(d.label)}” ` : ""}(${e.target}) for ${
        d.containerId ? `container ${text(d.containerId)}` : "the whole fleet"
      }`;
    case "device_key.revoked":
      return `${e.actor} revoked device key ${e.target}`;
    case "container.settings_changed": {
      const changes = (d.changes ?? {}) as Record<string, unknown>;
      const previous = (d.previous ?? {}) as Record<string, unknown>;
      const parts = Object.entries(changes).map(([k, v]) => `${k} ${text(previous[k])} → ${text(v)}`);
      return `${e.actor} changed ${e.target}: ${parts.join(", ") || "nothing"}`;
    }
    case "partner.created":
      return `${e.actor} added partner ${e.target}${d.name ? ` (${text(d.name)})` : ""}`;
    case "partner.updated": {
      const changes = Array.isArray(d.changes) ? (d.changes as string[]).join(", ") : "its profile";
      return `${e.actor} changed partner ${e.target}: ${changes}`;
    }
    case "partner.disabled":
      return `${e.actor} disabled partner ${e.target}`;
    case "partner.enabled":
      return `${e.actor} enabled partner ${e.target} again`;
    case "partner.secret_rotated":
      return `${e.actor} rotated partner ${e.target}'s signing secret${
        d.previousValidUntil ? ` (the old one valid until ${text(d.previousValidUntil)})` : ""
      }`;
    case "partner.prices_changed":
      return `${e.actor} changed partner ${e.target}'s prices`;
    case "order.delivery_corrected": {
      const lines = Array.isArray(d.lines)
        ? (d.lines as { quantity: number; unit: string; product: string }[])
            .map((l) => `${l.quantity} ${l.unit} of ${l.product}`)
            .join(", ")
        : "its lines";
      return `${e.actor} corrected the delivery of order ${e.target} to ${lines}${d.reason ? ` (${text(d.reason)})` : ""}`;
    }
    case "partner.api_key_issued":
      return `${e.actor} issued partner ${e.target} an API key${d.replaced ? " (the one before stopped working)" : ""}`;
  }
}

export const AUDIT_CSV_COLUMNS = ["seq", "at", "actor", "action", "target", "what", "details"] as const;

/** Audit entries as CSV rows: the sentence, and the details as JSON. */
export function auditCsvRows(entries: readonly (AuditEntryLike & { seq: number; at: string })[]) {
  return entries.map((e) => ({ ...e, what: auditSentence(e), details: JSON.stringify(e.details) }));
}
