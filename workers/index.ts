import { app } from "./app";
import { runScheduled } from "./cron";
import { handleQueue } from "./queues";

import { count } from "../platform/usage";
export { ContainerDO } from "../durable-objects/container";
export { ContainerIndex } from "../durable-objects/container-index";
export { DeadLetterVault } from "../durable-objects/dead-letter-vault";
export { DeviceKeyDO } from "../durable-objects/device-key";
export { DirectoryDO } from "../durable-objects/directory";
export { ErrorHub } from "../durable-objects/error-hub";
export { FleetHub } from "../durable-objects/fleet-hub";
export { DocumentCounter } from "../durable-objects/document-counter";
export { MetricsDO } from "../durable-objects/metrics";
export { AlertsDO } from "../durable-objects/alerts";
export { Notifier } from "../durable-objects/notifier";
export { BackupLedger } from "../durable-objects/backup-ledger";
export type { AppType } from "./app";

export default {
  fetch: (request, env, ctx) => (count("workerInvocations"), app.fetch(request, env, ctx)),
  queue: (batch, env) => handleQueue(batch, env),
  scheduled: (controller, env) => (count("workerInvocations"), runScheduled(controller, env)),
} satisfies ExportedHandler<Env, unknown>;
