// The layers import downward only: domain/ (pure rules) ← platform/ (logging, error reports, crypto,
// paging) ← durable-objects/ ← workers/ (routes, consumers, cron). The dashboard (web/) sees the
// domain's shapes and the API's type (workers/app.ts, for its typed client), nothing else of the
// worker. Checked by test/layers-node.test.ts.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "domain-is-pure",
      severity: "error",
      from: { path: "^domain/" },
      to: { path: "^(platform|durable-objects|workers|web)/" },
    },
    { name: "domain-no-platform-api", severity: "error", from: { path: "^domain/" }, to: { path: "^cloudflare:" } },
    {
      name: "platform-below-objects",
      severity: "error",
      from: { path: "^platform/" },
      to: { path: "^(durable-objects|workers|web)/" },
    },
    {
      name: "objects-below-workers",
      severity: "error",
      from: { path: "^durable-objects/" },
      to: { path: "^(workers|web)/" },
    },
    {
      name: "no-route-imports-a-route",
      severity: "error",
      from: { path: "^workers/routes/([^/]+)\\.ts$" },
      to: { path: "^workers/routes/", pathNot: "^workers/routes/$1\\.ts$" },
    },
    {
      name: "web-sees-the-api-only",
      severity: "error",
      from: { path: "^web/" },
      to: { path: "^(platform|durable-objects|workers)/", pathNot: "^workers/app\\.ts$" },
    },
    {
      name: "no-cycles",
      severity: "error",
      from: { path: "^(domain|platform|durable-objects|workers|web)/" },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    exclude: { path: "^(node_modules|test|scripts)/|^web/(dist|public)/" },
  },
};
