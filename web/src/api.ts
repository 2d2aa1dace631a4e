// The API, called through Hono's typed client: request and answer types come from the worker's own
// route contracts (AppType), so a change to a contract that breaks the dashboard fails `tsc`.
import { hc, type ClientResponse } from "hono/client";
import type { AppType } from "../../workers/app";
import { openBlob, saveBlob } from "./download";
import { session } from "./session";

/** An answer other than 2xx, with the API's message (it names the field and the problem). */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export const api = hc<AppType>(location.origin, {
  headers: (): Record<string, string> => {
    const token = session.current()?.token;
    return token ? { authorization: `Bearer ${token}` } : {};
  },
});

type Success<R> = R extends { ok: true; json(): Promise<infer T> } ? T : never;

/**
 * The success body of a typed call, or an ApiProblem. A 401 on a signed-in call means the token
 * expired or was voided: the session ends and the app returns to sign-in with the reason.
 */
export async function data<R extends ClientResponse<unknown, number, string>>(call: Promise<R>): Promise<Success<R>> {
  let res: R;
  try {
    res = await call;
  } catch (cause) {
    throw new ApiProblem(0, "unreachable", "Fillgrid cannot be reached; check the connection", []);
  }
  if (res.ok) return (res.status === 204 ? undefined : await res.json()) as Success<R>;
  throw await problemOf(res);
}

/** The API's problem in an answer other than 2xx; a 401 on a signed-in call ends the session. */
async function problemOf(res: { status: number; statusText: string; json(): Promise<unknown> }): Promise<ApiProblem> {
  let body: { error?: { code?: string; message?: string; issues?: { path: string; message: string }[] } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON (a proxy's page, say): the status speaks for itself
  }
  const problem = new ApiProblem(
    res.status,
    body.error?.code ?? "http_" + res.status,
    body.error?.message ?? `${res.status} ${res.statusText}`,
    body.error?.issues ?? [],
  );
  if (res.status === 401 && session.current()) session.expire(problem.message);
  return problem;
}

/** A file from the API, fetched with the token (a plain link carries none), or the API's problem. */
async function fetchFile(url: URL | string): Promise<Response> {
  const token = session.current()?.token;
  let res: Response;
  try {
    res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch {
    throw new ApiProblem(0, "unreachable", "Fillgrid cannot be reached; check the connection", []);
  }
  if (!res.ok) throw await problemOf(res);
  return res;
}

/**
 * A file from the API (a CSV answer) saved by the browser, handed over as an object URL; saved
 * under the name the answer gives.
 */
export async function download(url: URL | string, fallbackName: string): Promise<string> {
  const res = await fetchFile(url);
  const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") ?? "")?.[1] ?? fallbackName;
  saveBlob(name, await res.blob());
  return name;
}

/** A page from the API (a sales document's printable HTML) shown in a new tab. */
export async function openFile(url: URL | string): Promise<void> {
  openBlob(await (await fetchFile(url)).blob());
}
