import type { FleetChange, FleetContainer } from "../domain/fleet";
import { CHANGES_TABLE, StreamHub } from "./stream-hub";

const SCHEMA = [CHANGES_TABLE];

/**
 * The live fleet: the projection consumer publishes each batch it has committed to Postgres, and
 * every connected dashboard gets it (see StreamHub for catch-up after a reconnect). Postgres stays
 * the source of truth; a dashboard told `reset` reloads GET /v1/containers.
 */
export class FleetHub extends StreamHub<FleetChange> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, "FleetHub", SCHEMA);
  }

  publish(containers: FleetContainer[]): FleetChange | null {
    this.startup.check();
    if (containers.length === 0) return null;
    const kept = this.ctx.storage.transactionSync(() =>
      this.appendChange((seq) => ({ seq, type: "fleet.changed", containers })),
    );
    this.broadcast([kept]);
    return kept.change;
  }
}
