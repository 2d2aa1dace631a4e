// What the code counts of what Cloudflare bills (the benchmark prices a million readings with it):
// a reading moves every counter it should, and the counters are an admin's to read.
import { describe, expect, it } from "vitest";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
} from "./helpers";

type Usage = {
  workerInvocations: number;
  objectRequests: number;
  rowsRead: number;
  rowsWritten: number;
  queueMessagesSent: number;
  queueMessagesDelivered: number;
  queueMessagesRetried: number;
};

describe("GET /v1/diagnostics/usage", () => {
  it("a reading counts a worker request, container requests, rows written and read, and its queue message sent and delivered", async () => {
    const admin = await adminToken();
    const { key } = await deviceKey();
    const usage = async () => json<Usage>(await api("/v1/diagnostics/usage", { token: admin }), 200);
    const before = await usage();
    const containerId = uniqueContainer("usage");
    await json(await postReadings(key, reading(containerId, 70)), 200);
    const after = await eventually(
      async () => {
        const u = await usage();
        return u.queueMessagesDelivered > before.queueMessagesDelivered ? u : undefined;
      },
      20_000,
      "the message delivered to the projection",
    );
    expect(after.workerInvocations).toBeGreaterThanOrEqual(before.workerInvocations + 2);
    expect(after.objectRequests).toBeGreaterThan(before.objectRequests);
    // The reading, its event, the container's state and the outbox row at least.
    expect(after.rowsWritten - before.rowsWritten).toBeGreaterThanOrEqual(4);
    expect(after.rowsRead).toBeGreaterThan(before.rowsRead);
    expect(after.queueMessagesSent).toBeGreaterThan(before.queueMessagesSent);
    await json(await api("/v1/diagnostics/usage", { token: await personWith("operator") }), 403);
  });
});
