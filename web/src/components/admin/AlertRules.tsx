// The minute monitor's rules in words: what each watches, what its setting, severity and switch
// mean, edited and saved whole (the API names each value it refuses, shown at its rule); and who is
// told of each severity, on Telegram and by email. Anyone signed in may read both; admins change them.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { DEFAULT_POLICY, type Severity } from "../../../../domain/alerts";
import { DEFAULT_REPORT_INTERVAL_SECONDS } from "../../../../domain/container";
import { REFUSAL_WINDOW_MINUTES, RULE_WORDS, type AlertRules } from "../../../../domain/monitor";
import {
  DIGEST_INTERVAL_MS,
  GROUP_OVER,
  SEVERITIES,
  type NotificationSettings,
} from "../../../../domain/notifications";
import { api, ApiProblem, data } from "../../api";
import { can, useSession } from "../../session";
import { Badge, Failed, FormProblem, Loading } from "../ui";

type RuleId = keyof AlertRules;

/** The rules by what they watch; a rule none of these names is listed under "Other". */
const GROUPS: { title: string; about: string; rules: RuleId[] }[] = [
  {
    title: "Containers",
    about: "What the sensors say about each container.",
    rules: ["silent", "battery", "fillDrop", "anomaly"],
  },
  {
    title: "Orders",
    about: "Each active order on its way from opening to delivery.",
    rules: ["notAccepted", "assemblingTooLong", "overdue", "noPartner"],
  },
  {
    title: "Partners and devices",
    about: "Who talks to Fillgrid from outside.",
    rules: ["deliveriesFailing", "rateLimited"],
  },
  {
    title: "The system",
    about: "Fillgrid itself: its queues, errors, database and backups.",
    rules: ["deadLetters", "errorsGrowing", "projectionLag", "backupStale"],
  },
];

/** A rule's own setting besides on/off and severity: its field, how it reads, and what it is for. */
interface Setting {
  key: string;
  label: string;
  unit: string;
  step: number;
  means: string;
}

const SETTINGS: Partial<Record<RuleId, Setting>> = {
  battery: {
    key: "belowPercent",
    label: "Battery below",
    unit: "%",
    step: 1,
    means: "A sensor reporting less battery than this: replace or charge it before it goes silent.",
  },
  fillDrop: {
    key: "points",
    label: "Fall of more than",
    unit: "fill points",
    step: 1,
    means:
      "Between two readings, with no delivery between them: a leak, a theft or a sensor fault. Smaller falls count as consumption.",
  },
  notAccepted: {
    key: "minutes",
    label: "Not accepted after",
    unit: "minutes",
    step: 1,
    means: "How long the partner has to accept a new order before someone should call them.",
  },
  assemblingTooLong: {
    key: "hours",
    label: "Assembling for more than",
    unit: "hours",
    step: 0.5,
    means: "How long the assemblers may take to prepare an order before it is late to leave.",
  },
  overdue: {
    key: "hoursAfterEta",
    label: "Not delivered",
    unit: "hours after the ETA",
    step: 0.5,
    means:
      "How late a dispatched order may be, past the arrival time its partner gave, before someone asks where it is.",
  },
  errorsGrowing: {
    key: "perHour",
    label: "Seen at least",
    unit: "times an hour",
    step: 1,
    means: "An error record seen this often is a failure still happening, not a one-off.",
  },
  projectionLag: {
    key: "seconds",
    label: "Behind for more than",
    unit: "seconds",
    step: 1,
    means:
      "How long Postgres (the fleet list, orders, analytics) may miss what the containers know; the dashboard shows old figures meanwhile.",
  },
  rateLimited: {
    key: "minutes",
    label: "Refused in at least",
    unit: `of the last ${REFUSAL_WINDOW_MINUTES} minutes`,
    step: 1,
    means:
      "Refused now and then is a burst; refused minute after minute, the device is broken or misconfigured and its readings are lost.",
  },
  backupStale: {
    key: "hours",
    label: "No complete backup for",
    unit: "hours",
    step: 1,
    means: "Backups are taken every hour; with none newer than this, a restore would lose more than that.",
  },
};

/** What decides a rule that has no setting of its own. */
const NOTES: Partial<Record<RuleId, string>> = {
  silent: `Each container's report interval decides (its settings; ${DEFAULT_REPORT_INTERVAL_SECONDS / 3600} hour when not set).`,
  anomaly:
    "One alert per open anomaly (a sudden drop, a stuck or noisy sensor, a refill or delivery that does not add up), until it is dismissed on the container's page.",
  noPartner: "An order no partner serves cannot be delivered until a partner serves its container or contents.",
  deadLetters: "Any message waiting under Dead letters: it gave up after its retries and waits to be replayed.",
  deliveriesFailing: "Any event to a partner retrying or given up: the partner does not hear of its orders.",
};

/** How often an unacknowledged alert of each severity comes back, and when it escalates. */
function cadence(sev: Severity): string {
  const { repeatMinutes, escalateAfter } = DEFAULT_POLICY[sev];
  const every = repeatMinutes < 60 ? `${repeatMinutes} min` : `${repeatMinutes / 60} h`;
  const after = repeatMinutes * escalateAfter;
  // A hundred repeats is weeks: in practice such alerts never escalate.
  const escalates =
    escalateAfter >= 100
      ? "it does not escalate"
      : `after ${escalateAfter} repeats (${after < 60 ? `${after} min` : `${after / 60} h`}) it goes to the escalation chat`;
  return `repeated every ${every} until someone acknowledges it; ${escalates}`;
}

const SEVERITY_MEANS: Record<Severity, string> = {
  critical: "needs someone now",
  warning: "needs someone today",
  info: "worth knowing",
};

/** The rules as the form holds them: a setting as typed, so that the API judges what was entered. */
type Draft = Record<string, { enabled: boolean; severity: Severity; value: string | null }>;

function draftOf(rules: AlertRules): Draft {
  return Object.fromEntries(
    Object.entries(rules).map(([id, rule]) => {
      const setting = SETTINGS[id as RuleId];
      const value = setting ? (rule as Record<string, unknown>)[setting.key] : undefined;
      return [
        id,
        { enabled: rule.enabled, severity: rule.severity, value: value === undefined ? null : String(value) },
      ];
    }),
  );
}

function rulesOf(draft: Draft): AlertRules {
  return Object.fromEntries(
    Object.entries(draft).map(([id, d]) => {
      const setting = SETTINGS[id as RuleId];
      const rule: Record<string, unknown> = { enabled: d.enabled, severity: d.severity };
      // An empty field is sent as nothing at all, and the API says the setting is missing.
      if (setting && d.value !== null && d.value.trim() !== "") rule[setting.key] = Number(d.value);
      return [id, rule];
    }),
  ) as unknown as AlertRules;
}

/** A rule's watch in words, its settings filled in ("a sensor's battery below 15 %"). */
function watches(id: RuleId, d: Draft[string]): string {
  const setting = SETTINGS[id];
  return RULE_WORDS[id].watches.replace(/`(\w+)`/g, (_, key: string) =>
    setting && key === setting.key && d.value !== null && d.value.trim() !== "" ? d.value : "…",
  );
}

/** The API's word on one field, by the field's path under `prefix` (rules.battery…). */
function issuesUnder(error: unknown, prefix: string): string[] {
  if (!(error instanceof ApiProblem)) return [];
  return error.issues
    .filter((i) => i.path === prefix || i.path.startsWith(`${prefix}.`) || i.path.startsWith(`${prefix}[`))
    .map((i) => i.message);
}

export function AlertRulesAdmin() {
  return (
    <>
      <RulesEditor />
      <WhoIsTold />
    </>
  );
}

function RulesEditor() {
  const editable = can(useSession(), "admin");
  const queries = useQueryClient();
  const current = useQuery({ queryKey: ["alert-rules"], queryFn: () => data(api.v1["alert-rules"].$get()) });
  const [draft, setDraft] = useState<Draft | null>(null);
  useEffect(() => {
    if (current.data && !draft) setDraft(draftOf(current.data.rules as AlertRules));
  }, [current.data, draft]);
  const save = useMutation({
    mutationFn: (rules: AlertRules) => data(api.v1["alert-rules"].$put({ json: { rules } })),
    onSuccess: (answer) => {
      setDraft(draftOf(answer.rules as AlertRules));
      queries.setQueryData(["alert-rules"], answer);
    },
  });
  if (current.isError) return <Failed error={current.error} retry={() => void current.refetch()} />;
  if (!draft || !current.data) return <Loading what="the alert rules" />;
  const saved = draftOf(current.data.rules as AlertRules);
  const changed = Object.keys(draft).filter((id) => JSON.stringify(draft[id]) !== JSON.stringify(saved[id]));
  const set = (id: string, change: Partial<Draft[string]>) => {
    save.reset();
    setDraft({ ...draft, [id]: { ...draft[id]!, ...change } });
  };
  const grouped = new Set(GROUPS.flatMap((g) => g.rules));
  const others = (Object.keys(draft) as RuleId[]).filter((id) => !grouped.has(id));
  const groups = others.length > 0 ? [...GROUPS, { title: "Other", about: "", rules: others }] : GROUPS;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate(rulesOf(draft));
  };
  return (
    <section className="panel rules-admin" aria-labelledby="rules-title">
      <h2 id="rules-title">Alert rules</h2>
      <p className="lead">
        Every minute the monitor looks at the fleet and the order flow. Each rule below raises one alert per container,
        order or partner while its condition holds, and resolves it by itself when the condition clears.{" "}
        {editable ? "Change a rule and save: the next run uses it." : "Only an admin changes them."}
      </p>
      <dl className="severity-legend" aria-label="What a severity means">
        {SEVERITIES.map((sev) => (
          <div key={sev}>
            <dt>
              <Badge kind={sev}>{sev}</Badge>
            </dt>
            <dd>
              {SEVERITY_MEANS[sev]}: told at once, {cadence(sev)}.
            </dd>
          </div>
        ))}
      </dl>
      <form onSubmit={submit} noValidate>
        {groups.map((g) => (
          <fieldset key={g.title} className="rule-group">
            <legend>
              {g.title} {g.about ? <span className="muted small">{g.about}</span> : null}
            </legend>
            <ul className="rule-list">
              {g.rules.map((id) => (
                <RuleCard
                  key={id}
                  id={id}
                  draft={draft[id]!}
                  editable={editable}
                  changed={changed.includes(id)}
                  problems={issuesUnder(save.error, `rules.${id}`)}
                  set={(change) => set(id, change)}
                />
              ))}
            </ul>
          </fieldset>
        ))}
        {editable ? (
          // In view while the long list scrolls, so a change is never left unsaved unseen.
          <div className="save-bar sticky">
            <button type="submit" className="primary" disabled={save.isPending}>
              {save.isPending ? "Saving…" : "Save rules"}
            </button>
            {changed.length > 0 ? (
              <>
                <span className="small" data-testid="rules-changed">
                  {changed.length === 1 ? "1 rule changed" : `${changed.length} rules changed`}, not saved yet
                </span>
                <button
                  type="button"
                  className="link small"
                  onClick={() => {
                    save.reset();
                    setDraft(saved);
                  }}
                >
                  Undo changes
                </button>
              </>
            ) : save.isSuccess ? (
              <span className="ok-note small" role="status">
                Saved: the next run uses these rules.
              </span>
            ) : null}
            <FormProblem error={save.error} />
          </div>
        ) : null}
      </form>
    </section>
  );
}

function RuleCard({
  id,
  draft: d,
  editable,
  changed,
  problems,
  set,
}: {
  id: RuleId;
  draft: Draft[string];
  editable: boolean;
  changed: boolean;
  problems: string[];
  set: (change: Partial<Draft[string]>) => void;
}) {
  const words = RULE_WORDS[id];
  const setting = SETTINGS[id];
  const problemId = `rule-${id}-problem`;
  return (
    <li
      className={`rule-card sev-${d.severity}${d.enabled ? "" : " off"}${problems.length ? " invalid" : ""}`}
      data-rule={id}
    >
      <div className="rule-head">
        <h3>{words.title}</h3>
        <Badge kind={d.severity}>{d.severity}</Badge>
        {d.enabled ? null : <Badge kind="closed">off</Badge>}
        {changed ? <span className="muted small">changed</span> : null}
      </div>
      <p className="rule-watches">
        {d.enabled ? "Alerts on " : "Would alert on "}
        {watches(id, d)}.
      </p>
      <div className="rule-fields">
        <label className="check">
          <input
            type="checkbox"
            checked={d.enabled}
            disabled={!editable}
            aria-label={`${words.title}: on`}
            onChange={(e) => set({ enabled: e.target.checked })}
          />{" "}
          On
        </label>
        <label>
          Severity{" "}
          <select
            value={d.severity}
            disabled={!editable}
            aria-label={`${words.title}: severity`}
            onChange={(e) => set({ severity: e.target.value as Severity })}
          >
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        {setting ? (
          <label className="rule-setting">
            {setting.label}{" "}
            <span className="with-unit">
              <input
                type="number"
                inputMode="decimal"
                step={setting.step}
                value={d.value ?? ""}
                disabled={!editable}
                aria-label={`${setting.label} (${setting.unit})`}
                aria-invalid={problems.length > 0 || undefined}
                aria-describedby={problems.length > 0 ? problemId : undefined}
                onChange={(e) => set({ value: e.target.value })}
              />{" "}
              {setting.unit}
            </span>
          </label>
        ) : null}
      </div>
      <Hint>{setting?.means ?? NOTES[id]}</Hint>
      {problems.length > 0 ? (
        <p className="field-problem" id={problemId} role="alert">
          {problems.join("; ")}
        </p>
      ) : null}
    </li>
  );
}

const Hint = ({ children }: { children: ReactNode }) => (children ? <p className="hint">{children}</p> : null);

/** The address lists as typed (comma-separated), made lists when saved. */
type Emails = Record<Severity | "newErrors", string>;
const listOf = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

function WhoIsTold() {
  const editable = can(useSession(), "admin");
  const queries = useQueryClient();
  const current = useQuery({
    queryKey: ["notification-settings"],
    queryFn: () => data(api.v1["notification-settings"].$get()),
  });
  const [draft, setDraft] = useState<NotificationSettings | null>(null);
  const [emails, setEmails] = useState<Emails | null>(null);
  const adopt = (settings: NotificationSettings) => {
    setDraft(settings);
    setEmails({
      critical: settings.email.alerts.critical.join(", "),
      warning: settings.email.alerts.warning.join(", "),
      info: settings.email.alerts.info.join(", "),
      newErrors: settings.email.newErrors.join(", "),
    });
  };
  useEffect(() => {
    if (current.data && !draft) adopt(current.data.settings);
  }, [current.data, draft]);
  const save = useMutation({
    mutationFn: (settings: NotificationSettings) => data(api.v1["notification-settings"].$put({ json: { settings } })),
    onSuccess: (answer) => {
      adopt(answer.settings);
      queries.setQueryData(["notification-settings"], answer);
    },
  });
  if (current.isError) return <Failed error={current.error} retry={() => void current.refetch()} />;
  if (!draft || !emails) return <Loading what="who is told" />;
  const chat = (sev: Severity, which: "primary" | "escalation", value: string) => {
    save.reset();
    setDraft({
      ...draft,
      telegram: { ...draft.telegram, [sev]: { ...draft.telegram[sev], [which]: value.trim() === "" ? null : value } },
    });
  };
  const email = (which: keyof Emails, value: string) => {
    save.reset();
    setEmails({ ...emails, [which]: value });
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({
      telegram: draft.telegram,
      email: {
        alerts: { critical: listOf(emails.critical), warning: listOf(emails.warning), info: listOf(emails.info) },
        newErrors: listOf(emails.newErrors),
      },
    });
  };
  const digest = `at most one email per address every ${DIGEST_INTERVAL_MS / 60_000} minutes`;
  return (
    <section className="panel rules-admin" aria-labelledby="told-admin-title">
      <h2 id="told-admin-title">Who is told</h2>
      <p className="lead">
        An alert goes to the chats and addresses set for its severity. On Telegram it comes with an Acknowledge button;
        more than {GROUP_OVER} of one rule at once go to a chat as one summary. By email, alerts that fire, escalate or
        resolve are collected into a digest, {digest}; repeats stay on Telegram.
      </p>
      <form onSubmit={submit} noValidate>
        {SEVERITIES.map((sev) => (
          <fieldset key={sev} className={`told-severity sev-${sev}`}>
            <legend>
              <Badge kind={sev}>{sev}</Badge> alerts <span className="muted small">({SEVERITY_MEANS[sev]})</span>
            </legend>
            <Field
              label="Telegram chat"
              aria={`${sev}: Telegram chat`}
              value={draft.telegram[sev].primary ?? ""}
              placeholder="-1001234567890 or @channel"
              editable={editable}
              problems={issuesUnder(save.error, `settings.telegram.${sev}.primary`)}
              onChange={(v) => chat(sev, "primary", v)}
              hint={`Gets each ${sev} alert when it fires, ${cadence(sev)}. Empty: not told on Telegram.`}
            />
            <Field
              label="Escalation chat"
              aria={`${sev}: escalation chat`}
              value={draft.telegram[sev].escalation ?? ""}
              placeholder="-1001234567890 or @channel"
              editable={editable}
              problems={issuesUnder(save.error, `settings.telegram.${sev}.escalation`)}
              onChange={(v) => chat(sev, "escalation", v)}
              hint={
                DEFAULT_POLICY[sev].escalateAfter >= 100
                  ? `${sev} alerts do not escalate; this chat is kept for when they do.`
                  : "Gets an alert nobody acknowledged in time, and the repeats after. Empty: it stays in the chat above."
              }
            />
            <Field
              label="Email"
              aria={`${sev}: email`}
              value={emails[sev]}
              placeholder="oncall@example.com, lead@example.com"
              editable={editable}
              problems={issuesUnder(save.error, `settings.email.alerts.${sev}`)}
              onChange={(v) => email(sev, v)}
              hint={`Addresses, comma-separated: a digest of ${sev} alerts. Empty: no email.`}
            />
          </fieldset>
        ))}
        <fieldset className="told-severity">
          <legend>New errors</legend>
          <Field
            label="Email"
            aria="new errors: email"
            value={emails.newErrors}
            placeholder="errors@example.com"
            editable={editable}
            problems={issuesUnder(save.error, "settings.email.newErrors")}
            onChange={(v) => email("newErrors", v)}
            hint="Told when an error record is first seen: a failure anywhere in Fillgrid, with where to find it."
          />
        </fieldset>
        <p className="hint">
          A Telegram chat id is a number (negative for groups and channels, such as -1001234567890) or @channelname; the
          bot must be a member of the chat. Chats need the TELEGRAM_BOT_TOKEN secret.
        </p>
        {editable ? (
          <div className="save-bar">
            <button type="submit" className="primary" disabled={save.isPending}>
              {save.isPending ? "Saving…" : "Save who is told"}
            </button>
            {save.isSuccess ? (
              <span className="ok-note small" role="status">
                Saved: the next message goes by these settings.
              </span>
            ) : null}
            <FormProblem error={save.error} />
          </div>
        ) : null}
      </form>
    </section>
  );
}

function Field({
  label,
  aria,
  value,
  placeholder,
  editable,
  problems,
  onChange,
  hint,
}: {
  label: string;
  aria: string;
  value: string;
  placeholder: string;
  editable: boolean;
  problems: string[];
  onChange: (value: string) => void;
  hint: string;
}) {
  const id = `told-${aria.replace(/\W+/g, "-")}`;
  return (
    <label className="told-field">
      {label}
      <input
        value={value}
        placeholder={placeholder}
        disabled={!editable}
        aria-label={aria}
        aria-invalid={problems.length > 0 || undefined}
        aria-describedby={`${id}-hint${problems.length > 0 ? ` ${id}-problem` : ""}`}
        onChange={(e) => onChange(e.target.value)}
      />
      <span className="hint" id={`${id}-hint`}>
        {hint}
      </span>
      {problems.length > 0 ? (
        <span className="field-problem" id={`${id}-problem`} role="alert">
          {problems.join("; ")}
        </span>
      ) : null}
    </label>
  );
}
