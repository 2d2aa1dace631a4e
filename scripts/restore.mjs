// `npm run restore`: rebuild a system from its backup, to the latest or to a moment.
//   npm run restore -- [--from bucket|<folder>] [--at <RFC 3339>] [--url http://127.0.0.1:8787]
// --from bucket (the default) restores from the system's own backup bucket. --from <folder> first
// puts a backup kept elsewhere (as `npm run backup:export` writes it) into the bucket, every object
// checked against the SHA-256 its manifest lists, then restores from it. The system should be empty
// (a new deployment, or one wiped); containers that hold a log already are left alone and listed.
// Signs in as the first admin (ADMIN_EMAIL, ADMIN_PASSWORD from the environment, else .dev.vars).
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { parseArgs } from "node:util";
import { readVars } from "./lib/local-system.mjs";
import { login } from "./lib/seed.mjs";

const { values } = parseArgs({
  options: {
    from: { type: "string", default: "bucket" },
    at: { type: "string" },
    url: { type: "string", default: "http://127.0.0.1:8787" },
  },
});
if (values.at !== undefined && Number.isNaN(Date.parse(values.at))) {
  console.error(`--at: ${values.at} is not an RFC 3339 time`);
  process.exit(2);
}
const vars = { ...readVars(".dev.vars.example"), ...readVars(".dev.vars") };
const email = process.env.ADMIN_EMAIL ?? vars.ADMIN_EMAIL;
const password = process.env.ADMIN_PASSWORD ?? vars.ADMIN_PASSWORD;
const token = await login(values.url, email, password);
const auth = { authorization: `Bearer ${token}` };
const started = performance.now();

async function* files(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

if (values.from !== "bucket") {
  const folder = values.from;
  const keys = [];
  for await (const path of files(folder)) keys.push(relative(folder, path).split(sep).join("/"));
  // What the manifests say each object's checksum is.
  const listed = new Map();
  for (const key of keys.filter((k) => k.startsWith("manifests/"))) {
    const manifest = JSON.parse(await readFile(join(folder, key), "utf8"));
    for (const o of [...manifest.objects, ...(manifest.snapshot ? [manifest.snapshot] : [])])
      listed.set(o.key, o.sha256);
  }
  let put = 0;
  for (const key of keys.sort()) {
    const bytes = await readFile(join(folder, key));
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (listed.has(key) && listed.get(key) !== sha256) {
      console.error(`${key}: its SHA-256 is ${sha256}, its manifest says ${listed.get(key)}; not restored`);
      process.exit(1);
    }
    const res = await fetch(`${values.url}/v1/backups/object?key=${encodeURIComponent(key)}`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/octet-stream" },
      body: bytes,
    });
    if (!res.ok) {
      console.error(`${key}: ${res.status} ${await res.text()}`);
      process.exit(1);
    }
    put++;
  }
  console.log(
    `[fillgrid] ${put} objects from ${folder} in the backup bucket (${listed.size} checked against their manifests)`,
  );
}

const res = await fetch(`${values.url}/v1/backups/restore`, {
  method: "POST",
  headers: { ...auth, "content-type": "application/json" },
  body: JSON.stringify(values.at ? { at: values.at } : {}),
});
const summary = await res.json();
if (!res.ok) {
  console.error(`restore failed: ${res.status} ${JSON.stringify(summary)}`);
  process.exit(1);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `[fillgrid] restored ${summary.containers} containers, ${summary.events} events${values.at ? ` as of ${values.at}` : ""} in ${seconds} s; snapshot ${summary.snapshot ? `of ${summary.snapshot.takenAt}: ${summary.snapshot.people} people, ${summary.snapshot.deviceKeys} device keys, ${summary.snapshot.partners} partners` : "none"}`,
);
for (const r of summary.refused) console.log(`[fillgrid] not restored: ${r.containerId}: ${r.reason}`);
console.log("[fillgrid] Postgres follows as the projection writes the restored events (GET /v1/projection/status)");
