// Logs are one JSON object per line, so log search can filter on any field. Nothing secret is ever
// passed here: callers log ids, paths and counts, never tokens, keys, passwords or query strings.

export type LogFields = Record<string, unknown>;

export function log(level: "info" | "warn" | "error", msg: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
