import { app } from "./app";
import { handleQueue } from "./queues";

export { ContainerDO } from "../durable-objects/container";
export { DeviceKeyDO } from "../durable-objects/device-key";
export { DirectoryDO } from "../durable-objects/directory";

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  queue: (batch, env) => handleQueue(batch, env),
} satisfies ExportedHandler<Env, unknown>;
