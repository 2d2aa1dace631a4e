// Identifiers that sort by creation time: a prefix and a ULID (`ord_01J…`). Ids made by one factory
// are strictly increasing, even within one millisecond or when the clock steps back, so an order's
// id alone gives its age rank.
import { decodeTime, monotonicFactory } from "ulid";

export type IdFactory = (prefix: string, now?: number) => string;

export function monotonicIds(): IdFactory {
  const next = monotonicFactory();
  return (prefix, now = Date.now()) => prefix + next(now);
}

/** The creation time an id carries, in epoch milliseconds. */
export function idTime(id: string, prefix: string): number {
  return decodeTime(id.slice(prefix.length));
}

/** Random url-safe text of `bytes` bytes of entropy. */
export function randomToken(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let text = "";
  for (const b of raw) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}
