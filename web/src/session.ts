// Who is signed in, kept for this tab only (sessionStorage): closing the tab signs out, and other
// tabs sign in on their own.
import { useSyncExternalStore } from "react";

export type Role = "viewer" | "assembler" | "operator" | "admin";
const ORDER: Role[] = ["viewer", "assembler", "operator", "admin"];

export interface Session {
  token: string;
  email: string;
  role: Role;
  expiresAt: string;
}

const KEY = "fillgrid.session";
let state: Session | null = read();
let endedBecause: string | null = null;
const listeners = new Set<() => void>();

function read(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    const parsed = raw ? (JSON.parse(raw) as Session) : null;
    return parsed && Date.parse(parsed.expiresAt) > Date.now() ? parsed : null;
  } catch {
    return null;
  }
}

function set(next: Session | null, reason: string | null) {
  state = next;
  endedBecause = reason;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  for (const l of listeners) l();
}

export const session = {
  current: () => state,
  /** Why the last session ended when it was not signed out by the person (shown on sign-in). */
  endedBecause: () => endedBecause,
  start: (s: Session) => set(s, null),
  signOut: () => set(null, null),
  expire: (reason: string) => set(null, `Signed out: ${reason}`),
  subscribe(listener: () => void) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.current);
}

/** Whether the signed-in person's role includes `role`: the dashboard hides what the API would refuse. */
export function can(s: Session | null, role: Role): boolean {
  return s !== null && ORDER.indexOf(s.role) >= ORDER.indexOf(role);
}
