import type { Role } from "../../domain/access";

export interface Person {
  email: string;
  role: Role;
}

export interface Device {
  keyId: string;
  /** The container this key is limited to, or null for a fleet key. */
  containerId: string | null;
}

/** A partner whose webhook signature checked out. */
export interface PartnerCaller {
  id: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    person: Person;
    /** A short, non-secret name for the credential used, the key of the per-token rate limit. */
    credential: string;
    device: Device;
    partner: PartnerCaller;
  };
}
