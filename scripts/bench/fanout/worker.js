// The benchmark's ceiling, not part of the product: the shape of Fillgrid's ingest with nothing in
// it. POST /v1/readings takes one reading or {readings: [...]}, groups them by containerId, calls one
// Durable Object per container (in parallel, as Fillgrid does) that does nothing but answer, and
// answers one result per reading; GET /healthz answers "ok". What Fillgrid reaches, divided by what
// this reaches on the same machine in the same run, is how much of the runtime's own ceiling it uses.
import { DurableObject } from "cloudflare:workers";

export class Noop extends DurableObject {
  apply(readings) {
    return readings.map((r) => ({ readingId: r.readingId, status: "applied" }));
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname !== "/v1/readings" || request.method !== "POST") return new Response("not found", { status: 404 });
    const body = await request.json();
    const readings = Array.isArray(body.readings) ? body.readings : [body];
    const groups = new Map();
    for (const r of readings) groups.set(r.containerId, [...(groups.get(r.containerId) ?? []), r]);
    const answers = await Promise.all([...groups].map(([id, group]) => env.NOOP.getByName(id).apply(group)));
    return Response.json({ results: answers.flat() });
  },
};
