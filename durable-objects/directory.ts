import { DurableObject } from "cloudflare:workers";
import {
  checkUserChange,
  TICKET_TTL_MS,
  type AuditAction,
  type AuditEntry,
  type Role,
  type User,
  type UserChangeRefusal,
} from "../domain/access";
import { randomToken } from "../domain/ids";
import type { Partner, PartnerWithSecrets } from "../domain/partners";
import type { DeviceKeyRecord } from "./device-key";
import { ensureSchema } from "./schema";
import { dumpTables, loadTables, type TableDump } from "./sql-dump";
import { Startup } from "./startup";

/** What token checks need to know of a person, cached briefly by each isolate. */
export interface PersonStatus {
  email: string;
  role: Role;
  disabled: boolean;
  /** Tokens carry the version they were issued at; a password change or reset moves it on. */
  tokenVersion: number;
}

export interface StoredUser extends User {
  passwordHash: string;
  tokenVersion: number;
}

export type AuditInput = Omit<AuditEntry, "seq" | "at">;

/** What an admin may change on a partner (the id and the secret are not among it). */
export type PartnerPatch = Partial<
  Pick<Partner, "name" | "webhookUrl" | "ipRanges" | "serves" | "leadTimeHours" | "disabled">
>;

/** A partner as stored (fields added since it was written take their defaults). */
function storedPartner(body: string): Partner {
  return { leadTimeHours: null, ...(JSON.parse(body) as Partial<Partner>) } as Partner;
}

/** A partner as it may be shown: without its secrets. */
function profileOf(partner: PartnerWithSecrets): Partner {
  const { secret: _secret, previousSecret: _previous, ...profile } = partner;
  return profile;
}

function definedOf<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type UserChangeResult = { ok: true; user: User } | { ok: false; reason: UserChangeRefusal };

const SCHEMA = [
  `CREATE TABLE users (email TEXT PRIMARY KEY, body TEXT NOT NULL, password_hash TEXT NOT NULL);
   CREATE TABLE device_keys (id TEXT PRIMARY KEY, body TEXT NOT NULL);`,
  `ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, body TEXT NOT NULL);
   CREATE INDEX audit_by_action ON audit (action, seq);
   CREATE TABLE stream_tickets (ticket TEXT PRIMARY KEY, email TEXT NOT NULL, expires_at INTEGER NOT NULL);`,
  // Partners: the profile as JSON, the secrets beside it (never in a listing).
  `CREATE TABLE partners (id TEXT PRIMARY KEY, body TEXT NOT NULL, secret TEXT NOT NULL, previous_secret TEXT);`,
  // Each partner's API key (one at a time), as the SHA-256 of the key: what it reads of its own.
  `CREATE TABLE partner_keys (partner_id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, created_by TEXT NOT NULL);`,
];

/**
 * People, the index of device keys, the audit list of admin actions, and stream tickets: small,
 * rarely written, read on login and by admins. It is a single object on purpose and stays off the
 * reading path (device keys are checked by DeviceKeyDO; token checks are cached by each isolate).
 */
export class DirectoryDO extends DurableObject<Env> {
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "DirectoryDO", () => ensureSchema(ctx.storage, SCHEMA));
  }

  /**
   * People (with their password hashes as stored), the device keys' index, partners (with their
   * signing secrets: the snapshot encrypts them) and the audit list, for the hourly backup.
   */
  backupDump(): Record<string, TableDump> {
    this.startup.check();
    return dumpTables(this.ctx.storage.sql, ["users", "device_keys", "partners", "partner_keys", "audit"]);
  }

  /**
   * The tables of `backupDump` restored (partners' secrets as stored, unsealed by the caller): only
   * into a directory that holds nothing but, at most, the first admin from configuration (who is
   * replaced by the backup's people).
   */
  restoreBackup(dump: Record<string, TableDump>): { ok: true; rows: number } | { ok: false; reason: string } {
    this.startup.check();
    const sql = this.ctx.storage.sql;
    const count = (table: string) => sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n;
    const users = sql.exec<{ body: string }>("SELECT body FROM users").toArray();
    const onlyConfigured =
      users.length === 0 ||
      (users.length === 1 &&
        (JSON.parse(users[0]!.body) as { createdBy?: string }).createdBy === "configuration (ADMIN_EMAIL)");
    if (!onlyConfigured || count("partners") > 0 || count("device_keys") > 0 || count("audit") > 0)
      return { ok: false, reason: "the directory holds people, keys, partners or an audit list already" };
    const rows = this.ctx.storage.transactionSync(() => {
      sql.exec("DELETE FROM users");
      return loadTables(sql, dump);
    });
    return { ok: true, rows };
  }

  /** Adds a person; false when the email is taken. */
  addUser(user: StoredUser, by: string): boolean {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => {
      if (this.findUser(user.email)) return false;
      this.saveUser(user);
      this.audit({ actor: by, action: "user.created", target: user.email, details: { role: user.role } });
      return true;
    });
  }

  /** The first admin, from configuration, stored the first time it is needed; a no-op after that. */
  seedFirstAdmin(email: string, passwordHash: string): void {
    this.startup.check();
    this.ctx.storage.transactionSync(() => {
      if (this.findUser(email)) return;
      const now = new Date().toISOString();
      this.saveUser({
        email,
        role: "admin",
        disabled: false,
        createdAt: now,
        createdBy: "configuration (ADMIN_EMAIL)",
        updatedAt: now,
        passwordChangedAt: null,
        telegramUserId: null,
        passwordHash,
        tokenVersion: 0,
      });
    });
  }

  findUser(email: string): StoredUser | null {
    this.startup.check();
    const row = this.ctx.storage.sql
      .exec<{ body: string; password_hash: string; token_version: number }>(
        "SELECT body, password_hash, token_version FROM users WHERE email = ?",
        email,
      )
      .toArray()[0];
    if (!row) return null;
    const stored = JSON.parse(row.body) as Partial<User> & Pick<User, "email" | "role" | "createdAt" | "createdBy">;
    return {
      email: stored.email,
      role: stored.role,
      disabled: stored.disabled ?? false,
      createdAt: stored.createdAt,
      createdBy: stored.createdBy,
      updatedAt: stored.updatedAt ?? stored.createdAt,
      passwordChangedAt: stored.passwordChangedAt ?? null,
      telegramUserId: stored.telegramUserId ?? null,
      passwordHash: row.password_hash,
      tokenVersion: row.token_version,
    };
  }

  personStatus(email: string): PersonStatus | null {
    const user = this.findUser(email);
    return user
      ? { email: user.email, role: user.role, disabled: user.disabled, tokenVersion: user.tokenVersion }
      : null;
  }

  listUsers(): User[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ email: string }>("SELECT email FROM users ORDER BY email")
      .toArray()
      .map((r) => publicUser(this.findUser(r.email)!));
  }

  /** An admin changes a role or disables / re-enables a person. Disabling ends their tokens. */
  changeUser(
    email: string,
    change: { role?: Role | undefined; disabled?: boolean | undefined; telegramUserId?: number | null | undefined },
    by: string,
  ): UserChangeResult {
    this.startup.check();
    return this.ctx.storage.transactionSync((): UserChangeResult => {
      const everyone = this.listUsers();
      const refusal = checkUserChange(everyone, by, email, change);
      if (refusal) return { ok: false, reason: refusal };
      const user = this.findUser(email)!;
      const next: StoredUser = { ...user, updatedAt: new Date().toISOString() };
      if (change.role !== undefined && change.role !== user.role) {
        next.role = change.role;
        this.audit({
          actor: by,
          action: "user.role_changed",
          target: email,
          details: { from: user.role, to: change.role },
        });
      }
      if (change.disabled !== undefined && change.disabled !== user.disabled) {
        next.disabled = change.disabled;
        if (change.disabled) next.tokenVersion = user.tokenVersion + 1;
        this.audit({
          actor: by,
          action: change.disabled ? "user.disabled" : "user.enabled",
          target: email,
          details: {},
        });
      }
      if (change.telegramUserId !== undefined && change.telegramUserId !== user.telegramUserId) {
        next.telegramUserId = change.telegramUserId;
        this.audit({
          actor: by,
          action: "user.telegram_linked",
          target: email,
          details: { telegramUserId: change.telegramUserId },
        });
      }
      this.saveUser(next);
      return { ok: true, user: publicUser(next) };
    });
  }

  /** The person a Telegram user acts for (the Acknowledge button), if one is linked. */
  personByTelegram(telegramUserId: number): PersonStatus | null {
    this.startup.check();
    const user = this.listUsers().find((u) => u.telegramUserId === telegramUserId);
    return user ? this.personStatus(user.email) : null;
  }

  /**
   * A new password: by the person themselves (`by` is their email) or reset by an admin. Every token
   * issued before stops working.
   */
  setPassword(email: string, passwordHash: string, by: string): StoredUser | null {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => {
      const user = this.findUser(email);
      if (!user) return null;
      const now = new Date().toISOString();
      const next: StoredUser = {
        ...user,
        passwordHash,
        tokenVersion: user.tokenVersion + 1,
        passwordChangedAt: now,
        updatedAt: now,
      };
      this.saveUser(next);
      this.audit({
        actor: by,
        action: by === email ? "user.password_changed" : "user.password_reset",
        target: email,
        details: {},
      });
      return next;
    });
  }

  recordDeviceKey(record: DeviceKeyRecord, audit: AuditInput): void {
    this.startup.check();
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        "INSERT INTO device_keys (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        record.id,
        JSON.stringify(record),
      );
      this.audit(audit);
    });
  }

  listDeviceKeys(): DeviceKeyRecord[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ body: string }>("SELECT body FROM device_keys ORDER BY id")
      .toArray()
      .map((r) => JSON.parse(r.body) as DeviceKeyRecord);
  }

  /** Record an admin action taken elsewhere (a container's settings). */
  recordAudit(entry: AuditInput): AuditEntry {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => this.audit(entry));
  }

  /**
   * `recordAudit`, unless an entry of the same action and target already holds this `details.eventId`
   * (a partner's retried event after a failed first attempt): one entry per event.
   */
  recordAuditOnce(entry: AuditInput & { details: { eventId: string } }): void {
    this.startup.check();
    this.ctx.storage.transactionSync(() => {
      const seen = this.ctx.storage.sql
        .exec(
          "SELECT 1 FROM audit WHERE action = ? AND target = ? AND json_extract(body, '$.details.eventId') = ? LIMIT 1",
          entry.action,
          entry.target,
          entry.details.eventId,
        )
        .toArray();
      if (seen.length === 0) this.audit(entry);
    });
  }

  /** Admin actions, newest first, before `beforeSeq`. */
  listAudit(f: {
    limit: number;
    beforeSeq?: number | undefined;
    action?: AuditAction | undefined;
    actor?: string | undefined;
  }): AuditEntry[] {
    this.startup.check();
    const where = ["seq < ?"];
    const args: (string | number)[] = [f.beforeSeq ?? Number.MAX_SAFE_INTEGER];
    if (f.action) {
      where.push("action = ?");
      args.push(f.action);
    }
    if (f.actor) {
      where.push("actor = ?");
      args.push(f.actor);
    }
    return this.ctx.storage.sql
      .exec<{ body: string }>(
        `SELECT body FROM audit WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
        ...args,
        f.limit,
      )
      .toArray()
      .map((r) => JSON.parse(r.body) as AuditEntry);
  }

  /** A single-use ticket that lets `email` open a stream within TICKET_TTL_MS. */
  issueTicket(email: string): { ticket: string; expiresAt: string } {
    this.startup.check();
    const now = Date.now();
    const ticket = `fgt_${randomToken(24)}`;
    this.ctx.storage.sql.exec("DELETE FROM stream_tickets WHERE expires_at <= ?", now);
    this.ctx.storage.sql.exec(
      "INSERT INTO stream_tickets (ticket, email, expires_at) VALUES (?, ?, ?)",
      ticket,
      email,
      now + TICKET_TTL_MS,
    );
    return { ticket, expiresAt: new Date(now + TICKET_TTL_MS).toISOString() };
  }

  /** The email a ticket was issued to, once; null when unknown, used or expired. */
  redeemTicket(ticket: string): string | null {
    this.startup.check();
    const row = this.ctx.storage.sql
      .exec<{ email: string; expires_at: number }>(
        "DELETE FROM stream_tickets WHERE ticket = ? RETURNING email, expires_at",
        ticket,
      )
      .toArray()[0];
    return row && row.expires_at > Date.now() ? row.email : null;
  }

  /** Adds a partner; false when the id is taken. */
  addPartner(partner: PartnerWithSecrets, by: string): boolean {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => {
      if (this.findPartner(partner.id)) return false;
      this.savePartner(partner);
      this.audit({
        actor: by,
        action: "partner.created",
        target: partner.id,
        details: { name: partner.name, webhookUrl: partner.webhookUrl },
      });
      return true;
    });
  }

  listPartners(): Partner[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ body: string }>("SELECT body FROM partners ORDER BY id")
      .toArray()
      .map((r) => storedPartner(r.body));
  }

  /** A partner with its secrets, for signing and checking signatures only. */
  partnerWithSecrets(id: string): PartnerWithSecrets | null {
    this.startup.check();
    return this.findPartner(id);
  }

  updatePartner(id: string, patch: PartnerPatch, by: string): Partner | null {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => {
      const current = this.findPartner(id);
      if (!current) return null;
      const next: PartnerWithSecrets = { ...current, ...definedOf(patch), updatedAt: new Date().toISOString() };
      this.savePartner(next);
      const action =
        patch.disabled === true && !current.disabled
          ? "partner.disabled"
          : patch.disabled === false && current.disabled
            ? "partner.enabled"
            : "partner.updated";
      this.audit({ actor: by, action, target: id, details: { changes: Object.keys(definedOf(patch)) } });
      return profileOf(next);
    });
  }

  /** A new secret; the one it replaces keeps working until `graceUntil`. */
  rotatePartnerSecret(id: string, secret: string, graceUntil: string, by: string): Partner | null {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => {
      const current = this.findPartner(id);
      if (!current) return null;
      const now = new Date().toISOString();
      const next: PartnerWithSecrets = {
        ...current,
        secret,
        previousSecret: current.secret,
        previousSecretValidUntil: graceUntil,
        secretRotatedAt: now,
        updatedAt: now,
      };
      this.savePartner(next);
      this.audit({
        actor: by,
        action: "partner.secret_rotated",
        target: id,
        details: { previousValidUntil: graceUntil },
      });
      return profileOf(next);
    });
  }

  /**
   * Gives the partner a new API key (by its hash), replacing the one it had: the old key stops
   * working here at once, and in every isolate within DEVICE_KEY_CACHE_SECONDS. Null when there is
   * no such partner.
   */
  issuePartnerKey(partnerId: string, hash: string, by: string): { createdAt: string } | null {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => {
      if (!this.findPartner(partnerId)) return null;
      const sql = this.ctx.storage.sql;
      const replaced = sql.exec("SELECT 1 FROM partner_keys WHERE partner_id = ?", partnerId).toArray().length > 0;
      const createdAt = new Date().toISOString();
      sql.exec(
        `INSERT INTO partner_keys (partner_id, hash, created_at, created_by) VALUES (?, ?, ?, ?)
         ON CONFLICT (partner_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at, created_by = excluded.created_by`,
        partnerId,
        hash,
        createdAt,
        by,
      );
      this.audit({ actor: by, action: "partner.api_key_issued", target: partnerId, details: { replaced } });
      return { createdAt };
    });
  }

  /** The enabled partner whose API key has this hash, if any. */
  partnerForKey(hash: string): Partner | null {
    this.startup.check();
    const row = this.ctx.storage.sql
      .exec<{ partner_id: string }>("SELECT partner_id FROM partner_keys WHERE hash = ?", hash)
      .toArray()[0];
    const partner = row ? this.findPartner(row.partner_id) : null;
    return partner && !partner.disabled ? profileOf(partner) : null;
  }

  private findPartner(id: string): PartnerWithSecrets | null {
    const row = this.ctx.storage.sql
      .exec<{ body: string; secret: string; previous_secret: string | null }>(
        "SELECT body, secret, previous_secret FROM partners WHERE id = ?",
        id,
      )
      .toArray()[0];
    return row ? { ...storedPartner(row.body), secret: row.secret, previousSecret: row.previous_secret } : null;
  }

  private savePartner(partner: PartnerWithSecrets): void {
    const { secret, previousSecret, ...profile } = partner;
    this.ctx.storage.sql.exec(
      `INSERT INTO partners (id, body, secret, previous_secret) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body, secret = excluded.secret, previous_secret = excluded.previous_secret`,
      partner.id,
      JSON.stringify(profile),
      secret,
      previousSecret,
    );
  }

  private saveUser(user: StoredUser): void {
    const { passwordHash, tokenVersion, ...body } = user;
    this.ctx.storage.sql.exec(
      `INSERT INTO users (email, body, password_hash, token_version) VALUES (?, ?, ?, ?)
       ON CONFLICT (email) DO UPDATE SET body = excluded.body, password_hash = excluded.password_hash, token_version = excluded.token_version`,
      user.email,
      JSON.stringify(body),
      passwordHash,
      tokenVersion,
    );
  }

  private audit(entry: AuditInput): AuditEntry {
    const seq =
      (this.ctx.storage.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM audit").one().seq ?? 0) + 1;
    const full: AuditEntry = { seq, at: new Date().toISOString(), ...entry };
    this.ctx.storage.sql.exec(
      "INSERT INTO audit (seq, at, actor, action, target, body) VALUES (?, ?, ?, ?, ?, ?)",
      seq,
      full.at,
      full.actor,
      full.action,
      full.target,
      JSON.stringify(full),
    );
    return full;
  }
}

function publicUser(user: StoredUser): User {
  const { passwordHash: _hash, tokenVersion: _version, ...rest } = user;
  return rest;
}
