// Identifiers that sort by creation time: a prefix and a ULID (`ord_01J…`). Ids made by one factory
// are strictly increasing, even within one millisecond or when the clock steps back, so an order's
// id alone gives its age rank.
import { decodeTime, monotonicFactory } from "ulid";

export type IdFactory = (prefix: string, now?: number) => string;

export function monotonicIds(): IdFactory {
  const next = monotonicFactory(pooledRandom());
  return (prefix, now = Date.now()) => prefix + next(now);
}

/**
 * The random source ulid draws from, one value per character: the same crypto randomness, taken
 * from the runtime 1 KB at a time instead of a call per character (a container makes ids on
 * every commit). Values in [0, 1) as ulid expects.
 */
function pooledRandom(): () => number {
  const pool = new Uint8Array(1024);
  let at = pool.length;
  return () => {
    if (at === pool.length) {
      crypto.getRandomValues(pool);
      at = 0;
    }
    return pool[at++]! / 256;
  };
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
