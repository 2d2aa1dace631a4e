// How the worker reaches each Durable Object: by name, through typed RPC. Each call is a billed
// Durable Object request, and counted as one (platform/usage).
import { count } from "../platform/usage";

/** The stub, with every method call on it counted as a Durable Object request. */
function counted<T extends object>(stub: T): T {
  return new Proxy(stub, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== "function" || property === "then") return value;
      return (...args: unknown[]) => {
        count("objectRequests");
        return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
      };
    },
  });
}

export const directory = (env: Env) => counted(env.DIRECTORY.getByName("directory"));
export const errorHub = (env: Env) => counted(env.ERROR_HUB.getByName("errors"));
export const container = (env: Env, containerId: string) => counted(env.CONTAINERS.getByName(containerId));
export const deviceKeyObject = (env: Env, keyId: string) => counted(env.DEVICE_KEYS.getByName(keyId));
export const deadLetterVault = (env: Env) => counted(env.DEAD_LETTER_VAULT.getByName("dead-letters"));
export const containerIndex = (env: Env) => counted(env.CONTAINER_INDEX.getByName("containers"));
export const fleetHub = (env: Env) => counted(env.FLEET_HUB.getByName("fleet"));
export const documentCounter = (env: Env, partnerId: string, year: number) =>
  counted(env.DOCUMENT_COUNTERS.getByName(`${partnerId}:${year}`));
export const metricsObject = (env: Env) => counted(env.METRICS.getByName("metrics"));
export const alertsObject = (env: Env) => counted(env.ALERTS.getByName("alerts"));
export const backupLedger = (env: Env) => counted(env.BACKUP_LEDGER.getByName("backups"));
export const notifier = (env: Env) => counted(env.NOTIFIER.getByName("notifier"));
