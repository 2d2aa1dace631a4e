import { fingerprintOf, type ErrorContext, type ErrorReport, type ErrorSource } from "../domain/errors";
import { log } from "./logging";
import { count } from "./usage";

/** What a failure says about itself. */
export interface Failure {
  name: string;
  message: string;
  stack: string | null;
}

function failureOf(error: unknown): Failure {
  const e = error instanceof Error ? error : new Error(typeof error === "string" ? error : JSON.stringify(error));
  return { name: e.name, message: e.message, stack: e.stack ?? null };
}

/**
 * The report of a failure. `stackInFingerprint: false` groups by name, message and place alone: for
 * stacks spelt differently by each browser and build, where the same failure would otherwise split.
 */
export async function reportOf(
  failure: Failure,
  source: ErrorSource,
  where: string,
  context: ErrorContext,
  { stackInFingerprint = true }: { stackInFingerprint?: boolean } = {},
): Promise<ErrorReport> {
  return {
    reportId: crypto.randomUUID(),
    fingerprint: await fingerprintOf(
      source,
      where,
      failure.name,
      failure.message,
      stackInFingerprint ? failure.stack : null,
    ),
    name: failure.name,
    message: failure.message,
    stack: failure.stack,
    source,
    context: Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined)) as ErrorContext,
    at: new Date().toISOString(),
  };
}

/** Build the report for a failure; `where` is the route, queue or job it happened in. */
export function buildReport(
  error: unknown,
  source: ErrorSource,
  where: string,
  context: ErrorContext,
): Promise<ErrorReport> {
  return reportOf(failureOf(error), source, where, context);
}

/**
 * Log a report and send it through the errors queue to the error store and every connected
 * dashboard. Never throws: false when even the queue refused it (the log line is what is left).
 */
export async function sendReport(env: { ERRORS_QUEUE: Queue }, report: ErrorReport, where: string): Promise<boolean> {
  log("error", report.message, {
    source: report.source,
    where,
    fingerprint: report.fingerprint,
    ...report.context,
    stack: report.stack,
  });
  try {
    await env.ERRORS_QUEUE.send(report, { contentType: "json" });
    count("queueMessagesSent");
    count("queueMessageUnits");
    return true;
  } catch (sendError) {
    log("error", "error report could not be queued", {
      reportId: report.reportId,
      error: (sendError as Error).message,
    });
    return false;
  }
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
    log("error", "error report could not be built", {
      source,
      where,
      error: String(buildError),
      original: String(error),
    });
    return;
  }
  await sendReport(env, report, where);
}
