// Logs are one JSON object per line, so log search can filter on any field. Nothing secret is ever
// passed here: callers log ids, paths and counts, never tokens, keys, passwords or query strings.

export type LogFields = Record<string, unknown>;

export function log(level: "info" | "warn" | "error", msg: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** The share of successful requests (and projection batches) logged: REQUEST_LOG_SAMPLE_RATE, 0–1 (anything else: all). */
export function sampleRate(setting: string | undefined): number {
  const rate = Number(setting);
  return setting === undefined || setting === "" || !Number.isFinite(rate) || rate < 0 || rate > 1 ? 1 : rate;
}
