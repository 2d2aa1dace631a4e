import { fingerprintOf, type ErrorContext, type ErrorReport, type ErrorSource } from "../domain/errors";
import { log } from "./logging";
import { count } from "./usage";

/** Build the report for a failure; `where` is the route, queue or job it happened in. */
export async function buildReport(error: unknown, source: ErrorSource, where: string, context: ErrorContext): Promise<ErrorReport> {
  const e = error instanceof Error ? error : new Error(typeof error === "string" ? error : JSON.stringify(error));
  return {
    reportId: crypto.randomUUID(),
    fingerprint: await fingerprintOf(source, where, e.name, e.message, e.stack ?? null),
    name: e.name,
    message: e.message,
    stack: e.stack ?? null,
    source,
    context: Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined)) as ErrorContext,
    at: new Date().toISOString(),
  };
}

/**
 * Turn a failure into an error record: logged at once, and sent through the errors queue to the
 * error store and every connected dashboard. Never throws; if even the queue refuses, the log line
 * is what is left.
 */
export async function reportError(
  env: { ERRORS_QUEUE: Queue },
  error: unknown,
  source: ErrorSource,
  where: string,
  context: ErrorContext = {},
): Promise<void> {
  let report: ErrorReport;
  try {
    report = await buildReport(error, source, where, context);
  } catch (buildError) {
    log("error", "error report could not be built", { source, where, error: String(buildError), original: String(error) });
    return;
  }
  log("error", report.message, { source, where, fingerprint: report.fingerprint, ...report.context, stack: report.stack });
  try {
    await env.ERRORS_QUEUE.send(report, { contentType: "json" });
    count("queueMessagesSent");
    count("queueMessageUnits");
  } catch (sendError) {
    log("error", "error report could not be queued", { reportId: report.reportId, error: (sendError as Error).message });
  }
}
