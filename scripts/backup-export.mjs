// `npm run backup:export`: a copy of the backup bucket in a folder (to keep elsewhere, or to restore
// from with `npm run restore -- --from <folder>`), each object checked against its manifest.
//   npm run backup:export -- --to <folder> [--url http://127.0.0.1:8787]
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { readVars } from "./lib/local-system.mjs";
import { login } from "./lib/seed.mjs";

const { values } = parseArgs({
  options: { to: { type: "string" }, url: { type: "string", default: "http://127.0.0.1:8787" } },
});
if (!values.to) {
  console.error("--to <folder> is required");
  process.exit(2);
}
const vars = { ...readVars(".dev.vars.example"), ...readVars(".dev.vars") };
const token = await login(
  values.url,
  process.env.ADMIN_EMAIL ?? vars.ADMIN_EMAIL,
  process.env.ADMIN_PASSWORD ?? vars.ADMIN_PASSWORD,
);
const auth = { authorization: `Bearer ${token}` };
const get = async (path) => {
  const res = await fetch(`${values.url}${path}`, { headers: auth });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res;
};

const keys = [];
let cursor = null;
do {
  const page = await (await get(`/v1/backups/objects${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`)).json();
  keys.push(...page.objects.map((o) => o.key));
  cursor = page.nextCursor;
} while (cursor);

const sums = new Map();
let bytes = 0;
for (const key of keys) {
  const body = Buffer.from(await (await get(`/v1/backups/object?key=${encodeURIComponent(key)}`)).arrayBuffer());
  sums.set(key, createHash("sha256").update(body).digest("hex"));
  bytes += body.length;
  await mkdir(dirname(join(values.to, key)), { recursive: true });
  await writeFile(join(values.to, key), body);
}
let checked = 0;
for (const key of keys.filter((k) => k.startsWith("manifests/"))) {
  const manifest = JSON.parse(await readFile(join(values.to, key), "utf8"));
  for (const o of [...manifest.objects, ...(manifest.snapshot ? [manifest.snapshot] : [])]) {
    if (!sums.has(o.key)) continue;
    if (sums.get(o.key) !== o.sha256) {
      console.error(`${o.key}: its SHA-256 is ${sums.get(o.key)}, its manifest says ${o.sha256}`);
      process.exit(1);
    }
    checked++;
  }
}
console.log(
  `[fillgrid] ${keys.length} objects (${(bytes / 1024).toFixed(0)} KB) in ${values.to}; ${checked} checked against their manifests`,
);
