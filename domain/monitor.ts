// The minute monitor's conditions: what in the fleet and the order flow needs a person, from a
// snapshot of Postgres and the stores. Each rule has defaults an admin can change (alert rules);
// each condition found is keyed by rule and subject, so it is one alert however long it lasts.
import type { Condition, Severity } from "./alerts";
import { DEFAULT_REPORT_INTERVAL_SECONDS } from "./container";

export interface AlertRules {
  silent: { enabled: boolean; severity: Severity };
  battery: { enabled: boolean; severity: Severity; belowPercent: number };
  fillDrop: { enabled: boolean; severity: Severity; points: number };
  notAccepted: { enabled: boolean; severity: Severity; minutes: number };
  assemblingTooLong: { enabled: boolean; severity: Severity; hours: number };
  overdue: { enabled: boolean; severity: Severity; hoursAfterEta: number };
  noPartner: { enabled: boolean; severity: Severity };
  deadLetters: { enabled: boolean; severity: Severity };
  errorsGrowing: { enabled: boolean; severity: Severity; perHour: number };
  projectionLag: { enabled: boolean; severity: Severity; seconds: number };
  deliveriesFailing: { enabled: boolean; severity: Severity };
  /** A device key refused for its rate in at least `minutes` of the last REFUSAL_WINDOW_MINUTES. */
  rateLimited: { enabled: boolean; severity: Severity; minutes: number };
  /** An open anomaly (domain/anomalies.ts): one alert each, until it is dismissed. */
  anomaly: { enabled: boolean; severity: Severity };
  /** The newest complete backup is older than this many hours (or there has been none for as long). */
  backupStale: { enabled: boolean; severity: Severity; hours: number };
}

/**
 * Each rule as people read it: a title for its alerts (a group of them on the dashboard), and what
 * it watches, with its setting in words (the rules editor).
 */
export const RULE_WORDS: Record<keyof AlertRules, { title: string; watches: string }> = {
  silent: { title: "Containers not reporting", watches: "a container silent for longer than its report interval" },
  battery: { title: "Low sensor batteries", watches: "a sensor's battery below `belowPercent` %" },
  fillDrop: {
    title: "Fill dropped with no delivery",
    watches: "a fall of more than `points` fill points between two readings, not explained by a delivery",
  },
  notAccepted: {
    title: "Orders not accepted",
    watches: "an order its partner has not accepted `minutes` minutes after it opened",
  },
  assemblingTooLong: {
    title: "Orders assembling too long",
    watches: "an order assembling for more than `hours` hours",
  },
  overdue: {
    title: "Orders past their ETA",
    watches: "a dispatched order not delivered `hoursAfterEta` hours after its ETA",
  },
  noPartner: { title: "Orders with no partner", watches: "an active order that no partner serves" },
  deadLetters: { title: "Dead letters waiting", watches: "messages that gave up, waiting to be replayed" },
  errorsGrowing: { title: "Errors growing", watches: "an error record seen `perHour` times or more in the last hour" },
  projectionLag: {
    title: "Postgres behind the containers",
    watches: "Postgres missing container events for longer than `seconds` seconds",
  },
  deliveriesFailing: { title: "Partner deliveries failing", watches: "events to a partner retrying or dead" },
  rateLimited: {
    title: "Devices refused for their rate",
    watches: "a device key refused for its rate in `minutes` or more of the last 10 minutes",
  },
  anomaly: { title: "Anomalies", watches: "an open anomaly: what the consumption model does not explain" },
  backupStale: { title: "Backups stale", watches: "no complete backup for `hours` hours" },
};

/** A rule's title, or its id when it is not one of these (an alert from a rule since removed). */
export function ruleTitle(rule: string): string {
  return rule in RULE_WORDS ? RULE_WORDS[rule as keyof AlertRules].title : rule;
}

/** A device key is a sensor's (one container) or a gateway's (the whole fleet). */
export type DeviceKeyKind = "sensor" | "gateway";

/** How far back the rateLimited rule looks. */
export const REFUSAL_WINDOW_MINUTES = 10;

/** A device key refused for its rate: in how many of the window's minutes, and how many requests. */
export interface RefusedKey {
  keyId: string;
  kind: DeviceKeyKind;
  minutes: number;
  refused: number;
}

export const DEFAULT_RULES: AlertRules = {
  silent: { enabled: true, severity: "warning" },
  battery: { enabled: true, severity: "warning", belowPercent: 15 },
  fillDrop: { enabled: true, severity: "critical", points: 30 },
  notAccepted: { enabled: true, severity: "warning", minutes: 15 },
  assemblingTooLong: { enabled: true, severity: "warning", hours: 4 },
  overdue: { enabled: true, severity: "critical", hoursAfterEta: 2 },
  noPartner: { enabled: true, severity: "warning" },
  deadLetters: { enabled: true, severity: "warning" },
  errorsGrowing: { enabled: true, severity: "critical", perHour: 20 },
  projectionLag: { enabled: true, severity: "critical", seconds: 60 },
  deliveriesFailing: { enabled: true, severity: "critical" },
  rateLimited: { enabled: true, severity: "warning", minutes: 3 },
  anomaly: { enabled: true, severity: "warning" },
  backupStale: { enabled: true, severity: "critical", hours: 2 },
};

/** What the monitor reads each minute. */
export interface Snapshot {
  containers: {
    id: string;
    name: string | null;
    lastSeenAt: string | null;
    reportIntervalSeconds: number | null;
    battery: number | null;
  }[];
  /** The latest applied fill drop of each container between two readings with no delivery between them. */
  fillDrops: { containerId: string; from: number; to: number; at: string }[];
  activeOrders: {
    id: string;
    containerId: string;
    fulfilment: string;
    openedAt: string;
    fulfilmentAt: string | null;
    eta: string | null;
    partnerId: string | null;
    servedBy: string | null;
  }[];
  deadLettersWaiting: number;
  /** Open error records with how often each was seen in the last hour. */
  errorRecords: { id: string; name: string; message: string; seenLastHour: number }[];
  projectionLagSeconds: number;
  /** Partners with deliveries retrying or dead. */
  failingDeliveries: { partnerId: string; retrying: number; dead: number }[];
  /** Device keys refused for their rate in the last REFUSAL_WINDOW_MINUTES, with their labels. */
  refusedKeys: (RefusedKey & { label: string | null })[];
  /** Open anomalies, newest first, with their containers' names. */
  openAnomalies: { id: string; containerId: string; name: string | null; kind: string; message: string }[];
  /** When the newest complete backup was taken, and since when backups have been written at all. */
  backup: { newestComplete: string | null; since: string | null };
}

const ago = (iso: string, now: number) => (now - Date.parse(iso)) / 1000;
const label = (c: { id: string; name: string | null }) => (c.name ? `${c.name} (${c.id})` : c.id);

export function conditionsOf(s: Snapshot, rules: AlertRules, now: number): Condition[] {
  const out: Condition[] = [];
  const add = (rule: keyof AlertRules, subject: string, message: string, containerId: string | null = null) =>
    out.push({ key: `${rule}:${subject}`, rule, subject, severity: rules[rule].severity, message, containerId });

  for (const c of s.containers) {
    const interval = c.reportIntervalSeconds ?? DEFAULT_REPORT_INTERVAL_SECONDS;
    if (rules.silent.enabled && (c.lastSeenAt === null || ago(c.lastSeenAt, now) > interval)) {
      add(
        "silent",
        c.id,
        c.lastSeenAt === null
          ? `${label(c)} has never reported`
          : `${label(c)} has not reported for ${Math.floor(ago(c.lastSeenAt, now) / 60)} min (it reports every ${Math.round(interval / 60)} min)`,
        c.id,
      );
    }
    if (rules.battery.enabled && c.battery !== null && c.battery < rules.battery.belowPercent)
      add("battery", c.id, `${label(c)} battery at ${c.battery} %`, c.id);
  }
  if (rules.fillDrop.enabled) {
    for (const d of s.fillDrops)
      if (d.from - d.to > rules.fillDrop.points)
        add(
          "fillDrop",
          d.containerId,
          `${d.containerId} dropped from ${d.from} % to ${d.to} % with no delivery: a leak or theft?`,
          d.containerId,
        );
  }
  for (const o of s.activeOrders) {
    // An order no partner serves cannot be accepted: one alert for it (noPartner), not two.
    const unserved = rules.noPartner.enabled && o.partnerId === null && o.servedBy === null;
    if (
      rules.notAccepted.enabled &&
      !unserved &&
      o.fulfilment === "pending" &&
      ago(o.openedAt, now) > rules.notAccepted.minutes * 60
    ) {
      add(
        "notAccepted",
        o.id,
        `Order for ${o.containerId} not accepted after ${Math.floor(ago(o.openedAt, now) / 60)} min`,
        o.containerId,
      );
    }
    if (
      rules.assemblingTooLong.enabled &&
      o.fulfilment === "assembling" &&
      o.fulfilmentAt &&
      ago(o.fulfilmentAt, now) > rules.assemblingTooLong.hours * 3600
    ) {
      add(
        "assemblingTooLong",
        o.id,
        `Order for ${o.containerId} has been assembling for ${Math.floor(ago(o.fulfilmentAt, now) / 3600)} h`,
        o.containerId,
      );
    }
    if (
      rules.overdue.enabled &&
      o.fulfilment === "dispatched" &&
      o.eta &&
      ago(o.eta, now) > rules.overdue.hoursAfterEta * 3600
    ) {
      add(
        "overdue",
        o.id,
        `Order for ${o.containerId} not delivered ${Math.floor(ago(o.eta, now) / 3600)} h after its ETA`,
        o.containerId,
      );
    }
    if (unserved) add("noPartner", o.id, `Order for ${o.containerId} has no partner to deliver it`, o.containerId);
  }
  if (rules.deadLetters.enabled && s.deadLettersWaiting > 0)
    add(
      "deadLetters",
      "all",
      `${s.deadLettersWaiting} dead ${s.deadLettersWaiting === 1 ? "letter waits" : "letters wait"} to be replayed`,
    );
  if (rules.errorsGrowing.enabled) {
    for (const e of s.errorRecords)
      if (e.seenLastHour >= rules.errorsGrowing.perHour)
        add("errorsGrowing", e.id, `${e.name}: ${e.message} (${e.seenLastHour} in the last hour)`);
  }
  if (rules.projectionLag.enabled && s.projectionLagSeconds > rules.projectionLag.seconds)
    add(
      "projectionLag",
      "all",
      `Postgres has been missing container events for ${Math.round(s.projectionLagSeconds)} s`,
    );
  if (rules.deliveriesFailing.enabled) {
    for (const f of s.failingDeliveries)
      if (f.dead > 0 || f.retrying > 0)
        add(
          "deliveriesFailing",
          f.partnerId,
          `Events to partner ${f.partnerId} are failing: ${f.retrying} retrying, ${f.dead} dead`,
        );
  }
  if (rules.rateLimited.enabled) {
    for (const k of s.refusedKeys) {
      if (k.minutes < rules.rateLimited.minutes) continue;
      const key = k.label ? `${k.label} (${k.keyId})` : k.keyId;
      add(
        "rateLimited",
        k.keyId,
        `${k.kind} key ${key} refused for its rate ${k.refused} times in ${k.minutes} of the last ${REFUSAL_WINDOW_MINUTES} minutes: a noisy or broken device?`,
      );
    }
  }
  if (rules.anomaly.enabled)
    for (const a of s.openAnomalies)
      add("anomaly", a.id, `${label({ id: a.containerId, name: a.name })}: ${a.message}`, a.containerId);
  if (rules.backupStale.enabled) {
    const limit = rules.backupStale.hours * 3600;
    const { newestComplete, since } = s.backup;
    if (newestComplete !== null && ago(newestComplete, now) > limit)
      add(
        "backupStale",
        "all",
        `The newest complete backup is ${Math.floor(ago(newestComplete, now) / 3600)} h old (taken ${newestComplete}): see GET /v1/backups`,
      );
    else if (newestComplete === null && since !== null && ago(since, now) > limit)
      add(
        "backupStale",
        "all",
        `No complete backup since backups began ${Math.floor(ago(since, now) / 3600)} h ago: see GET /v1/backups`,
      );
  }
  return out;
}
