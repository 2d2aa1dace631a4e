// What the benchmarks share: the product's TypeScript as a module Node can import, and a seeded
// random number generator for fixtures that come out the same in every run.
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The modules `exports` re-exports (TypeScript, paths from the repository's root), bundled as the
 * worker bundles them; npm packages stay imports of node_modules. Written under
 * node_modules/.cache as `name`.mjs, so that their own imports resolve.
 */
export async function importTypeScript(name, exports) {
  const out = await build({
    stdin: { contents: exports, resolveDir: root, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "node",
    packages: "external",
    write: false,
    logLevel: "silent",
  });
  mkdirSync(`${root}/node_modules/.cache`, { recursive: true });
  const file = `${root}/node_modules/.cache/${name}.mjs`;
  writeFileSync(file, out.outputFiles[0].text);
  return import(`${file}?${Date.now()}`);
}

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
