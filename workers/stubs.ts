// How the worker reaches each Durable Object: by name, through typed RPC.

export const directory = (env: Env) => env.DIRECTORY.getByName("directory");
export const errorHub = (env: Env) => env.ERROR_HUB.getByName("errors");
export const container = (env: Env, containerId: string) => env.CONTAINERS.getByName(containerId);
export const deviceKeyObject = (env: Env, keyId: string) => env.DEVICE_KEYS.getByName(keyId);
export const deadLetterVault = (env: Env) => env.DEAD_LETTER_VAULT.getByName("dead-letters");
export const containerIndex = (env: Env) => env.CONTAINER_INDEX.getByName("containers");
export const fleetHub = (env: Env) => env.FLEET_HUB.getByName("fleet");
export const documentCounter = (env: Env, partnerId: string, year: number) => env.DOCUMENT_COUNTERS.getByName(`${partnerId}:${year}`);
export const metricsObject = (env: Env) => env.METRICS.getByName("metrics");
export const alertsObject = (env: Env) => env.ALERTS.getByName("alerts");
export const notifier = (env: Env) => env.NOTIFIER.getByName("notifier");
