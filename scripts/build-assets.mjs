// Static assets the worker serves that come from npm rather than from this repository: the API
// reference's script (Scalar's standalone bundle), so GET /docs works offline and without a CDN.
// Run by `npm run dev`, `npm test`, `npm run check`, `npm run deploy` and the benchmark.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

export function buildAssets() {
  const out = join(root, "web/vendor");
  mkdirSync(out, { recursive: true });
  copyFileSync(require.resolve("@scalar/api-reference/browser/standalone.js"), join(out, "scalar-api-reference.js"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildAssets();
