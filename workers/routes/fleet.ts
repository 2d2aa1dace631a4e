import { createRoute, z } from "@hono/zod-openapi";
import { DEFAULT_REPORT_INTERVAL_SECONDS } from "../../domain/container";
import { withDatabase } from "../db/client";
import { fleetSummary, wholeFleet } from "../db/queries";
import { fleetContainerSchema } from "../../domain/schemas";
import { errorStore } from "../errors/store";
import { requireRole } from "../http/auth";
import { limits, rateLimit } from "../http/rate-limit";
import { openStream, streamQuerySchema, streamResponses } from "../http/streams";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { fleetHub } from "../stubs";

export const fleet = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/fleet",
      tags: ["Containers"],
      summary: "The whole fleet in one answer, with the fleet stream's position to follow it from",
      description:
        "Every container as Postgres has it, by id, and `seq`: open `/v1/fleet/stream?since=<seq>` and nothing committed after this answer is missed " +
        "(a change may arrive that the answer already holds; keep the higher `version`). For paging and filters, GET /v1/containers.",
      security: security.person,
      middleware: [requireRole("viewer"), rateLimit(limits.api)],
      responses: {
        200: jsonContent(z.object({ seq: z.number().int(), containers: z.array(fleetContainerSchema) }), "The fleet"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      // The position first: whatever commits while Postgres is read comes again on the stream.
      const seq = await fleetHub(c.env).latestSeq();
      const containers = await withDatabase(c.env, (db) => wholeFleet(db));
      return c.json({ seq, containers }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/fleet/summary",
      tags: ["Containers"],
      summary: "The fleet's figures: containers, below threshold, active orders, silent sensors, open errors",
      description:
        "Silent: nothing heard for longer than the container's reportIntervalSeconds (default 1 hour), or never.",
      security: security.person,
      middleware: [requireRole("viewer"), rateLimit(limits.api)],
      responses: {
        200: jsonContent(
          z.object({
            containers: z.number().int(),
            belowThreshold: z.number().int(),
            activeOrders: z.number().int(),
            silent: z.number().int(),
            openErrors: z.number().int(),
          }),
          "The figures",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const [figures, openErrors] = await Promise.all([
        withDatabase(c.env, (db) => fleetSummary(db, DEFAULT_REPORT_INTERVAL_SECONDS)),
        errorStore(c.env).countOpen(),
      ]);
      return c.json({ ...figures, openErrors }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/fleet/stream",
      tags: ["Containers"],
      summary:
        "WebSocket of the live fleet: after each batch Postgres commits, the newest state of each container in it",
      description:
        "Authenticate as on the error stream (`?ticket=`, or the subprotocols `fillgrid` and `bearer.<token>`). " +
        'Each change is `{"seq", "type":"fleet.changed", "containers": [FleetContainer…]}`; show a container only when its `version` is higher than the one shown. ' +
        "`?since=<seq>` replays what was missed, then `ready`; older than the 10,000 changes kept: `reset` (reload GET /v1/containers).",
      security: security.person,
      request: { query: streamQuerySchema },
      responses: streamResponses,
    }),
    async (c) => openStream(c, c.req.valid("query"), fleetHub(c.env)),
  );
