// The static assets the worker serves (web/dist): the dashboard, built by Vite from web/, and the
// API reference's script (Scalar's standalone bundle from npm, copied into web/public/vendor so the
// build carries it), so everything works offline and without a CDN.
// Run by `npm run dev`, `npm test`, `npm run check`, `npm run deploy` and the benchmark.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
export const viteBin = join(root, "node_modules/vite/bin/vite.js");
export const viteConfig = join(root, "web/vite.config.ts");

export function copyVendor() {
  const out = join(root, "web/public/vendor");
  mkdirSync(out, { recursive: true });
  copyFileSync(require.resolve("@scalar/api-reference/browser/standalone.js"), join(out, "scalar-api-reference.js"));
}

export function buildAssets() {
  copyVendor();
  // --bypass-lock: `npm test` may build while `npm run dev` watches; both write the same files.
  execFileSync(process.execPath, [viteBin, "build", "--bypass-lock", "--config", viteConfig], {
    cwd: root,
    stdio: "inherit",
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildAssets();
