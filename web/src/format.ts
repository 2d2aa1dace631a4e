// Times in the viewer's own zone and language, figures with their units.

/**
 * A language tag Intl accepts: the one given, or "en" when Intl refuses it. Chromium on a POSIX
 * locale (LANG=C.UTF-8) reports "en-US@posix", and `new Intl.NumberFormat("en-US@posix")` throws.
 */
export function acceptedLocale(tag: string | null | undefined): string {
  if (!tag) return "en";
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? "en";
  } catch {
    return "en";
  }
}

/** The viewer's language for every formatter of the dashboard. */
// Read through a shape of its own: the analytics and fleet models are also tested in Node.
const nav = (globalThis as { navigator?: { language: string; languages: readonly string[] } }).navigator;
export const locale = acceptedLocale(nav?.language);

// Libraries that read navigator.language themselves get the accepted tag too: uPlot builds an
// Intl.NumberFormat from it when its module loads, so a refused tag would stop the whole app. This
// module is imported first (main.tsx) so that it runs before any library does.
if (nav && acceptedLocale(nav.language) !== nav.language) {
  const languages = [...new Set([locale, ...nav.languages.map(acceptedLocale)])];
  Object.defineProperty(nav, "language", { value: locale, configurable: true });
  Object.defineProperty(nav, "languages", { value: Object.freeze(languages), configurable: true });
}

const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" });
const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "short" });

export const zoneName = new Intl.DateTimeFormat(locale).resolvedOptions().timeZone;

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return dateTime.format(new Date(iso));
}

/** "3 minutes ago", "in 2 hours": for the last-seen column. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  let seconds = Math.round((Date.parse(iso) - now) / 1000);
  // A moment ahead of this page's clock (the server's receive time, a clock a little apart): now.
  if (seconds > 0 && seconds < 120) seconds = 0;
  const abs = Math.abs(seconds);
  if (abs < 45) return relative.format(Math.round(seconds), "second");
  if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 36 * 3600) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${Math.round(value * 10) / 10} %`;
}

const count = new Intl.NumberFormat(locale);
export const formatCount = (n: number) => count.format(n);

const days = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });

/** A figure with at most one decimal, in the viewer's language. */
export const formatFigure = (value: number) => days.format(value);

/** A span of days in words: "18 h" under two days, else "3.5 days". */
export function formatDays(value: number): string {
  if (Math.abs(value) < 2) return `${Math.round(value * 24)} h`;
  return `${days.format(value)} days`;
}

/** What the fleet table says of when a container reaches its threshold, from now. */
export function formatRunsOut(
  forecast: { status: string; thresholdAt: string | null } | null,
  now = Date.now(),
): { text: string; soon: boolean } {
  if (!forecast || forecast.status !== "ok" || !forecast.thresholdAt) return { text: "—", soon: false };
  const ahead = (Date.parse(forecast.thresholdAt) - now) / 86_400_000;
  if (ahead <= 0) return { text: "reached", soon: true };
  return { text: `in ${formatDays(ahead)}`, soon: ahead <= 3 };
}

const dayFormat = new Intl.DateTimeFormat(locale, {
  weekday: "short",
  day: "numeric",
  month: "short",
  timeZone: "UTC",
});
const shortDayFormat = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short", timeZone: "UTC" });

/** A UTC day as the analytics answer it (YYYY-MM-DD), in words: "Mon 3 Mar" ("short": "3 Mar"). */
export function formatDay(day: string, style: "long" | "short" = "long"): string {
  const at = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(at)) return day;
  return (style === "short" ? shortDayFormat : dayFormat).format(at);
}

/** A duration given in hours, readably: "25 min", "3.5 h", "2 d 4 h". */
export function formatHours(hours: number | null | undefined): string {
  if (hours === null || hours === undefined) return "—";
  if (hours < 1) return `${Math.max(0, Math.round(hours * 60))} min`;
  if (hours < 24) return `${days.format(hours)} h`;
  const whole = Math.round(hours);
  const d = Math.floor(whole / 24);
  const h = whole % 24;
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

/** A quantity with its unit ("1,400 l"), or fill points when there is no unit ("12.5 points"). */
export function formatQuantity(value: number | null | undefined, unit: string | null): string {
  if (value === null || value === undefined) return "—";
  return `${days.format(value)} ${unit ?? "points"}`;
}

/** The share delivered on time, with what it is out of: "92 % of 25"; "—" when none had a due time. */
export function formatShare(share: number | null, of: number): string {
  if (share === null || of === 0) return "—";
  return `${Math.round(share * 100)} % of ${count.format(of)}`;
}

/** A count with its noun, in the singular for one: "1 reading", "3 readings". */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}
