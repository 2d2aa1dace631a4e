// Identifiers that sort by creation time: 10 characters of millisecond timestamp followed by
// 16 random characters, both in Crockford base32 (the ULID layout). Ids made by one factory are
// strictly increasing even within one millisecond, so an order's id alone gives its age rank.

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function encodeTime(ms: number): string {
  let out = "";
  let rest = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function randomChars(count: number): number[] {
  const bytes = crypto.getRandomValues(new Uint8Array(count));
  return Array.from(bytes, (b) => b % 32);
}

export type IdFactory = (prefix: string, now?: number) => string;

/** A factory whose ids never go backwards, even when the clock does or two ids share a millisecond. */
export function monotonicIds(): IdFactory {
  let lastTime = -1;
  let lastRandom: number[] = [];
  return (prefix, now = Date.now()) => {
    let random: number[];
    if (now <= lastTime) {
      random = increment(lastRandom);
      now = lastTime;
    } else {
      random = randomChars(16);
      // Leave headroom so increments within one millisecond cannot overflow.
      random[0] = random[0]! & 0x0f;
      lastTime = now;
    }
    lastRandom = random;
    return prefix + encodeTime(now) + random.map((d) => ALPHABET[d]).join("");
  };
}

function increment(digits: number[]): number[] {
  const next = digits.slice();
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i]! < 31) {
      next[i] = next[i]! + 1;
      return next;
    }
    next[i] = 0;
  }
  throw new Error("id space for this millisecond exhausted");
}

/** The creation time an id carries, in epoch milliseconds. */
export function idTime(id: string, prefix: string): number {
  const time = id.slice(prefix.length, prefix.length + 10);
  let ms = 0;
  for (const ch of time) ms = ms * 32 + ALPHABET.indexOf(ch);
  return ms;
}

/** Random url-safe text of `bytes` bytes of entropy. */
export function randomToken(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let text = "";
  for (const b of raw) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
