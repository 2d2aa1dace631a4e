import type { FleetContainer } from "../domain/fleet";
import { CHANGES_TABLE, StreamHub } from "./stream-hub";

/** One committed projection batch, as dashboards get it: the latest state of each container in it. */
export interface FleetChange {
  seq: number;
  type: "fleet.changed";
  containers: FleetContainer[];
}

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
