import { describe, expect, it } from "vitest";
import { fingerprintOf, groupReports, normalizeMessage, stackSignature, type ErrorReport } from "../domain/errors";

const stackAt = (line: number, col: number) =>
  `Error: boom\n    at writeProjection (/srv/app/workers/projection/writer.ts:${line}:${col})\n    at async projectChanges (/srv/app/workers/queues.ts:${line + 40}:9)`;

describe("fingerprints", () => {
  it("ignore ids, numbers, UUIDs and timestamps in the message", () => {
    expect(
      normalizeMessage(
        "order ord_01JZ4X8Q0K7M2N3P4R5S6T7V8W for tank-17 failed after 3 tries at 2026-11-23T04:00:07.840Z",
      ),
    ).toBe("order <id> for tank-<n> failed after <n> tries at <time>");
    expect(normalizeMessage("request 0b7a9d36-5f4e-4c7e-9e1a-2b3c4d5e6f70 hash deadbeef12")).toBe(
      "request <uuid> hash <hex>",
    );
  });

  it("ignore the opaque reference a runtime gives each internal error, so a storm of them is one record", () => {
    expect(normalizeMessage("internal error; reference = e58ft8l6vfe32ta8dh7oeedb")).toBe(
      "internal error; reference = <token>",
    );
    expect(normalizeMessage("internal error; reference = 4685vlue4c5tsg5p8qaqcf8n")).toBe(
      normalizeMessage("internal error; reference = k5d9pd9tqp1pjn709gsg9d8d"),
    );
    // Words are not tokens.
    expect(normalizeMessage("unsupported_media_type for telecommunications")).toBe(
      "unsupported_media_type for telecommunications",
    );
  });

  it("ignore line and column numbers in the stack", () => {
    expect(stackSignature(stackAt(10, 5))).toBe(stackSignature(stackAt(99, 17)));
    expect(stackSignature(stackAt(10, 5))).toBe("at writeProjection (writer.ts)|at async projectChanges (queues.ts)");
  });

  it("are equal for the same failure and differ for another place or source", async () => {
    const a = await fingerprintOf(
      "consumer",
      "fillgrid-projection",
      "Error",
      "row 12 of tank-3 rejected",
      stackAt(10, 5),
    );
    const b = await fingerprintOf(
      "consumer",
      "fillgrid-projection",
      "Error",
      "row 977 of tank-81 rejected",
      stackAt(31, 2),
    );
    expect(a).toBe(b);
    expect(
      await fingerprintOf("cron", "fillgrid-projection", "Error", "row 12 of tank-3 rejected", stackAt(10, 5)),
    ).not.toBe(a);
    expect(
      await fingerprintOf("consumer", "fillgrid-errors", "Error", "row 12 of tank-3 rejected", stackAt(10, 5)),
    ).not.toBe(a);
    expect(
      await fingerprintOf("consumer", "fillgrid-projection", "TypeError", "row 12 of tank-3 rejected", stackAt(10, 5)),
    ).not.toBe(a);
  });
});

describe("grouping reports into records", () => {
  const report = (at: string, message = "boom"): ErrorReport => ({
    reportId: at,
    fingerprint: "fp",
    name: "Error",
    message,
    stack: null,
    source: "worker",
    context: { requestId: `req-${at}` },
    at,
  });

  it("a new fingerprint creates a record counting every report", () => {
    const { kind, record } = groupReports(
      null,
      [report("2026-01-01T00:00:02Z"), report("2026-01-01T00:00:01Z")],
      () => "err_1",
    );
    expect(kind).toBe("error.created");
    expect(record).toMatchObject({
      id: "err_1",
      count: 2,
      firstSeen: "2026-01-01T00:00:01Z",
      lastSeen: "2026-01-01T00:00:02Z",
      status: "open",
      context: { requestId: "req-2026-01-01T00:00:02Z" },
    });
  });

  it("a repeat of an open record counts up and keeps its first sighting", () => {
    const first = groupReports(null, [report("2026-01-01T00:00:01Z")], () => "err_1").record;
    const { kind, record } = groupReports(first, [report("2026-01-01T00:00:05Z", "boom again")], () => "unused");
    expect(kind).toBe("error.updated");
    expect(record).toMatchObject({
      id: "err_1",
      count: 2,
      firstSeen: "2026-01-01T00:00:01Z",
      lastSeen: "2026-01-01T00:00:05Z",
      message: "boom again",
    });
  });

  it("a repeat after resolve reopens the record", () => {
    const first = groupReports(null, [report("2026-01-01T00:00:01Z")], () => "err_1").record;
    const resolved = { ...first, status: "resolved" as const, resolvedAt: "2026-01-01T00:01:00Z", resolvedBy: "op" };
    const { kind, record } = groupReports(resolved, [report("2026-01-01T00:02:00Z")], () => "unused");
    expect(kind).toBe("error.updated");
    expect(record).toMatchObject({ status: "open", resolvedAt: null, resolvedBy: null, count: 2 });
  });

  it("a late report does not move lastSeen back or replace the newer message", () => {
    const first = groupReports(null, [report("2026-01-01T00:00:09Z", "newest")], () => "err_1").record;
    const { record } = groupReports(first, [report("2026-01-01T00:00:01Z", "older")], () => "unused");
    expect(record).toMatchObject({
      lastSeen: "2026-01-01T00:00:09Z",
      firstSeen: "2026-01-01T00:00:01Z",
      message: "newest",
      count: 2,
    });
  });
});
