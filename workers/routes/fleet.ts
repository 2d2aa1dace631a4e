import { createRoute } from "@hono/zod-openapi";
import { openStream, streamQuerySchema, streamResponses } from "../http/streams";
import { router, security } from "../http/openapi";
import { fleetHub } from "../stubs";

export const fleet = router().openapi(
  createRoute({
    method: "get",
    path: "/v1/fleet/stream",
    tags: ["Containers"],
    summary: "WebSocket of the live fleet: after each batch Postgres commits, the newest state of each container in it",
    description:
      "Authenticate as on the error stream (`?ticket=`, or the subprotocols `fillgrid` and `bearer.<token>`). " +
      "Each change is `{\"seq\", \"type\":\"fleet.changed\", \"containers\": [FleetContainer…]}`; show a container only when its `version` is higher than the one shown. " +
      "`?since=<seq>` replays what was missed, then `ready`; older than the 10,000 changes kept: `reset` (reload GET /v1/containers).",
    security: security.person,
    request: { query: streamQuerySchema },
    responses: streamResponses,
  }),
  async (c) => openStream(c, c.req.valid("query"), fleetHub(c.env)),
);
