export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Roles are ranked: an operator may do what a viewer may, an admin what an operator may. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** A device key as a sensor holds it: `fgk_<16 hex id>_<secret>`. */
export const DEVICE_KEY_PREFIX = "fgk_";
const DEVICE_KEY = /^fgk_([0-9a-f]{16})_([A-Za-z0-9_-]{32,128})$/;

export function parseDeviceKey(key: string): { id: string; secret: string } | null {
  const match = DEVICE_KEY.exec(key);
  return match ? { id: match[1]!, secret: match[2]! } : null;
}

export function isDeviceKeyId(id: string): boolean {
  return /^[0-9a-f]{16}$/.test(id);
}
