import { app } from "./app";

export { ContainerDO } from "../durable-objects/container";
export { DeviceKeyDO } from "../durable-objects/device-key";
export { DirectoryDO } from "../durable-objects/directory";

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
