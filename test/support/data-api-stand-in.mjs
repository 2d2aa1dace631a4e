// A local stand-in for a MongoDB Data API endpoint, for tests. It checks each request the way the
// service does (POST to /app/<app>/endpoint/data/v1/action/<action>, the apiKey header, a JSON or
// EJSON body naming dataSource/database/collection, the fields each action needs, update operators,
// well-formed EJSON) and keeps documents in memory with real Date values. /__control makes it fail
// or stall; /__requests shows what it was sent.
import { createServer } from "node:http";

const ACTIONS = new Set(["findOne", "find", "insertOne", "updateOne", "aggregate"]);
const UPDATE_OPERATORS = new Set(["$set", "$unset", "$inc", "$min", "$max"]);

class BadRequest extends Error {}

function fromEjson(value) {
  if (Array.isArray(value)) return value.map(fromEjson);
  if (value && typeof value === "object") {
    if ("$date" in value) {
      const d = value.$date;
      const date =
        typeof d === "string"
          ? new Date(d)
          : d && typeof d === "object" && "$numberLong" in d
            ? new Date(Number(d.$numberLong))
            : new Date(NaN);
      if (Number.isNaN(date.getTime())) throw new BadRequest(`invalid EJSON date: ${JSON.stringify(value)}`);
      return date;
    }
    for (const key of ["$numberLong", "$numberInt", "$numberDouble"]) if (key in value) return Number(value[key]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromEjson(v)]));
  }
  return value;
}

function toEjson(value) {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(toEjson);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toEjson(v)]));
  return value;
}

const comparable = (v) => (v instanceof Date ? v.getTime() : v);
const same = (a, b) =>
  comparable(a) === comparable(b) || (a === undefined && b === null) || (a === null && b === undefined);

function matches(doc, filter) {
  for (const [key, condition] of Object.entries(filter)) {
    if (key === "$or") {
      if (!condition.some((f) => matches(doc, f))) return false;
      continue;
    }
    if (key === "$and") {
      if (!condition.every((f) => matches(doc, f))) return false;
      continue;
    }
    const value = doc[key];
    const isOperators =
      condition &&
      typeof condition === "object" &&
      !(condition instanceof Date) &&
      Object.keys(condition).every((k) => k.startsWith("$"));
    if (!isOperators) {
      if (!same(value, condition)) return false;
      continue;
    }
    for (const [op, operand] of Object.entries(condition)) {
      const a = comparable(value);
      const b = comparable(operand);
      const ok =
        op === "$lt"
          ? a < b
          : op === "$lte"
            ? a <= b
            : op === "$gt"
              ? a > b
              : op === "$gte"
                ? a >= b
                : op === "$ne"
                  ? !same(value, operand)
                  : op === "$in"
                    ? operand.some((o) => same(value, o))
                    : op === "$nin"
                      ? !operand.some((o) => same(value, o))
                      : (() => {
                          throw new BadRequest(`unknown operator ${op}`);
                        })();
      if (!ok || (value === undefined && op !== "$ne" && op !== "$nin")) return false;
    }
  }
  return true;
}

function sortDocs(docs, sort) {
  const keys = Object.entries(sort ?? {});
  return [...docs].sort((x, y) => {
    for (const [k, dir] of keys) {
      const a = comparable(x[k]);
      const b = comparable(y[k]);
      if (a < b) return -dir;
      if (a > b) return dir;
    }
    return 0;
  });
}

function applyUpdate(doc, update) {
  const next = { ...doc };
  for (const [op, fields] of Object.entries(update)) {
    for (const [k, v] of Object.entries(fields)) {
      if (op === "$set") next[k] = v;
      else if (op === "$unset") delete next[k];
      else if (op === "$inc") {
        if (typeof v !== "number")
          throw new BadRequest(`Cannot increment with non-numeric argument: {${k}: ${JSON.stringify(v)}}`);
        next[k] = (next[k] ?? 0) + v;
      } else if (op === "$min") next[k] = next[k] === undefined || comparable(v) < comparable(next[k]) ? v : next[k];
      else if (op === "$max") next[k] = next[k] === undefined || comparable(v) > comparable(next[k]) ? v : next[k];
    }
  }
  return next;
}

export async function startDataApiStandIn({ apiKey = "stand-in-key", appId = "fillgrid-test" } = {}) {
  const collections = new Map();
  const requests = [];
  const control = { failNext: 0, failStatus: 500, delayMs: 0 };
  const collection = (b) => {
    const name = `${b.dataSource}/${b.database}/${b.collection}`;
    if (!collections.has(name)) collections.set(name, []);
    return collections.get(name);
  };

  const run = (action, b) => {
    const docs = collection(b);
    const need = (field, type) => {
      const ok =
        type === "array"
          ? Array.isArray(b[field])
          : b[field] !== null && typeof b[field] === type && !Array.isArray(b[field]);
      if (!ok) throw new BadRequest(`${action} requires '${field}' (${type})`);
    };
    switch (action) {
      case "findOne": {
        need("filter", "object");
        return { document: docs.find((d) => matches(d, b.filter)) ?? null };
      }
      case "find": {
        need("filter", "object");
        let found = sortDocs(
          docs.filter((d) => matches(d, b.filter)),
          b.sort,
        );
        if (b.skip) found = found.slice(b.skip);
        if (b.limit) found = found.slice(0, b.limit);
        return { documents: found };
      }
      case "insertOne": {
        need("document", "object");
        const doc = { _id: b.document._id ?? crypto.randomUUID(), ...b.document };
        if (docs.some((d) => same(d._id, doc._id))) {
          const error = new BadRequest(`Duplicate key error: _id ${doc._id}`);
          error.status = 409;
          throw error;
        }
        docs.push(doc);
        return { insertedId: doc._id };
      }
      case "updateOne": {
        need("filter", "object");
        need("update", "object");
        const ops = Object.keys(b.update);
        if (ops.length === 0 || !ops.every((op) => UPDATE_OPERATORS.has(op)))
          throw new BadRequest("update document requires atomic operators");
        const index = docs.findIndex((d) => matches(d, b.filter));
        if (index >= 0) {
          docs[index] = applyUpdate(docs[index], b.update);
          return { matchedCount: 1, modifiedCount: 1 };
        }
        if (b.upsert) {
          const base = Object.fromEntries(Object.entries(b.filter).filter(([k]) => !k.startsWith("$")));
          const doc = applyUpdate({ _id: crypto.randomUUID(), ...base }, b.update);
          docs.push(doc);
          return { matchedCount: 0, modifiedCount: 0, upsertedId: doc._id };
        }
        return { matchedCount: 0, modifiedCount: 0 };
      }
      case "aggregate": {
        need("pipeline", "array");
        let out = docs;
        for (const stage of b.pipeline) {
          const [name, arg] = Object.entries(stage)[0] ?? [];
          if (name === "$match") out = out.filter((d) => matches(d, arg));
          else if (name === "$sort") out = sortDocs(out, arg);
          else if (name === "$limit") out = out.slice(0, arg);
          else if (name === "$count") out = [{ [arg]: out.length }];
          else throw new BadRequest(`unsupported stage ${name}`);
        }
        return { documents: out };
      }
    }
  };

  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", async () => {
      const send = (status, body, ejson = true) => {
        res.writeHead(status, { "Content-Type": ejson ? "application/ejson" : "application/json" });
        res.end(JSON.stringify(ejson ? toEjson(body) : body));
      };
      const url = new URL(req.url, "http://stand-in");
      if (url.pathname === "/__control") {
        Object.assign(control, JSON.parse(raw || "{}"));
        return send(200, control, false);
      }
      if (url.pathname === "/__requests") return send(200, requests, false);
      const entry = { method: req.method, path: url.pathname, headers: req.headers, body: raw };
      requests.push(entry);
      if (control.delayMs) await new Promise((r) => setTimeout(r, control.delayMs));
      if (control.failNext > 0) {
        control.failNext--;
        return send(
          control.failStatus,
          { error: "service unavailable (stand-in told to fail)", error_code: "InternalServerError" },
          false,
        );
      }
      const match = /^\/app\/([^/]+)\/endpoint\/data\/v1\/action\/([A-Za-z]+)$/.exec(url.pathname);
      if (req.method !== "POST") return send(405, { error: "method not allowed" }, false);
      if (!match || match[1] !== appId) return send(404, { error: "no endpoint at this path" }, false);
      if (!ACTIONS.has(match[2])) return send(404, { error: `unknown action ${match[2]}` }, false);
      if (req.headers.apikey !== apiKey)
        return send(401, { error: "invalid session: api key invalid", error_code: "InvalidSession" }, false);
      const type = (req.headers["content-type"] ?? "").split(";")[0];
      if (type !== "application/json" && type !== "application/ejson")
        return send(400, { error: `unsupported Content-Type ${type}` }, false);
      try {
        const body = type === "application/ejson" ? fromEjson(JSON.parse(raw)) : JSON.parse(raw);
        for (const field of ["dataSource", "database", "collection"]) {
          if (typeof body[field] !== "string" || body[field] === "") throw new BadRequest(`'${field}' is required`);
        }
        const out = run(match[2], body);
        send(match[2] === "insertOne" ? 201 : 200, out, (req.headers.accept ?? "").includes("ejson"));
      } catch (error) {
        send(error.status ?? 400, { error: error.message, error_code: "BadRequest" }, false);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: `${base}/app/${appId}/endpoint/data/v1`,
    controlUrl: base,
    apiKey,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
