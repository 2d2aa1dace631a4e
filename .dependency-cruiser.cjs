// The layers import downward only: domain/ (pure rules) ← platform/ (logging, error reports, crypto,
// paging) ← durable-objects/ ← workers/ (routes, consumers, cron). Checked by test/layers-node.test.ts.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "domain-is-pure",
      severity: "error",
      from: { path: "^domain/" },
      to: { path: "^(platform|durable-objects|workers)/" },
    },
    { name: "domain-no-platform-api", severity: "error", from: { path: "^domain/" }, to: { path: "^cloudflare:" } },
    {
      name: "platform-below-objects",
      severity: "error",
      from: { path: "^platform/" },
      to: { path: "^(durable-objects|workers)/" },
    },
    {
      name: "objects-below-workers",
      severity: "error",
      from: { path: "^durable-objects/" },
      to: { path: "^workers/" },
    },
    {
      name: "no-route-imports-a-route",
      severity: "error",
      from: { path: "^workers/routes/([^/]+)\\.ts$" },
      to: { path: "^workers/routes/", pathNot: "^workers/routes/$1\\.ts$" },
    },
    {
      name: "no-cycles",
      severity: "error",
      from: { path: "^(domain|platform|durable-objects|workers)/" },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    exclude: { path: "^(node_modules|test|scripts)/" },
  },
};
