/** The token of an `Authorization: Bearer …` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match ? match[1]! : null;
}

/** How long an isolate trusts what it has checked of a key or a person: the bound on revocation. */
export function cacheSeconds(env: Env): number {
  const value = Number(env.DEVICE_KEY_CACHE_SECONDS);
  return Number.isFinite(value) && value >= 0 ? value : 5;
}
