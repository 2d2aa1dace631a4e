// What every page shares while someone is signed in: the live fleet, error records and alerts.
// Each store loads its snapshot, follows its stream from the snapshot's position, and tells React
// when it changed (useSyncExternalStore).
import { useSyncExternalStore } from "react";
import type { ErrorChange } from "../../domain/errors";
import type { AlertChange } from "../../durable-objects/alerts";
import type { FleetChange } from "../../durable-objects/fleet-hub";
import { mergeAlerts, type Alert } from "./alerts-model";
import { api, data } from "./api";
import { byLastSeen, mergeRecords, type ErrorRecord } from "./errors-model";
import { fleetOf, merge, type Fleet } from "./fleet-model";
import { LiveStream, type LiveStatus } from "./live";

type Listener = () => void;

abstract class Store<State> {
  private listeners = new Set<Listener>();
  constructor(protected state: State) {}
  subscribe = (l: Listener) => {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  };
  get = () => this.state;
  protected set(patch: Partial<State>) {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }
}

export interface FleetState {
  fleet: Fleet;
  loaded: boolean;
  failure: string | null;
  status: LiveStatus;
  /** When the last change arrived (for the live indicator's title). */
  lastChangeAt: number | null;
}

class FleetStore extends Store<FleetState> {
  private stream: LiveStream<FleetChange> | null = null;

  constructor() {
    super({ fleet: new Map(), loaded: false, failure: null, status: "connecting", lastChangeAt: null });
  }

  start() {
    if (this.stream) return;
    void this.load(true);
  }

  stop() {
    this.stream?.stop();
    this.stream = null;
    this.set({ fleet: new Map(), loaded: false, failure: null, status: "connecting", lastChangeAt: null });
  }

  private async load(first: boolean) {
    try {
      const snapshot = await data(api.v1.fleet.$get());
      this.set({ fleet: fleetOf(snapshot.containers), loaded: true, failure: null });
      if (first || !this.stream) {
        this.stream = new LiveStream<FleetChange>("/v1/fleet/stream", snapshot.seq, {
          change: (change) => this.set({ fleet: merge(this.state.fleet, change.containers), lastChangeAt: Date.now() }),
          reset: () => void this.load(false),
          status: (status) => this.set({ status }),
        });
      } else {
        this.stream.restart(snapshot.seq);
      }
    } catch (error) {
      this.set({ failure: error instanceof Error ? error.message : String(error) });
    }
  }

  retry() {
    this.set({ failure: null });
    void this.load(!this.stream);
  }
}

export interface ErrorsState {
  records: ReadonlyMap<string, ErrorRecord>;
  loaded: boolean;
  failure: string | null;
  status: LiveStatus;
  /** Open records across the store (from GET /v1/fleet/summary, refreshed on every change). */
  openCount: number | null;
}

class ErrorStore extends Store<ErrorsState> {
  private stream: LiveStream<ErrorChange> | null = null;
  private countTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    super({ records: new Map(), loaded: false, failure: null, status: "connecting", openCount: null });
  }

  start() {
    if (this.stream) return;
    // The stream first, from now: whatever changes while the list loads arrives on it, and the
    // merge keeps the further copy of each record.
    this.stream = new LiveStream<ErrorChange>("/v1/errors/stream", null, {
      change: (change) => {
        this.set({ records: mergeRecords(this.state.records, [change.record]) });
        this.refreshCount();
      },
      reset: () => void this.load(),
      status: (status) => {
        this.set({ status });
        if (status === "live" && !this.state.loaded) void this.load();
      },
    });
  }

  stop() {
    this.stream?.stop();
    this.stream = null;
    clearTimeout(this.countTimer);
    this.set({ records: new Map(), loaded: false, failure: null, status: "connecting", openCount: null });
  }

  /** A record the person changed (resolved) is shown at once, before the stream brings it. */
  apply(record: ErrorRecord) {
    this.set({ records: mergeRecords(this.state.records, [record]) });
    this.refreshCount();
  }

  async load() {
    try {
      const page = await data(api.v1.errors.$get({ query: { limit: "200" } }));
      this.set({ records: mergeRecords(this.state.records, page.errors), loaded: true, failure: null });
      this.refreshCount(0);
    } catch (error) {
      this.set({ failure: error instanceof Error ? error.message : String(error) });
    }
  }

  private refreshCount(delay = 300) {
    clearTimeout(this.countTimer);
    this.countTimer = setTimeout(async () => {
      try {
        this.set({ openCount: (await data(api.v1.fleet.summary.$get())).openErrors });
      } catch {
        // The figure keeps its last value (a 401 has already ended the session); the next change asks again.
      }
    }, delay);
  }
}

export interface AlertsState {
  alerts: ReadonlyMap<string, Alert>;
  loaded: boolean;
  failure: string | null;
  status: LiveStatus;
}

/** The alerts: the latest 500 (every open one among them, as the monitor keeps few open), then live. */
class AlertStore extends Store<AlertsState> {
  private stream: LiveStream<AlertChange> | null = null;

  constructor() {
    super({ alerts: new Map(), loaded: false, failure: null, status: "connecting" });
  }

  start() {
    if (this.stream) return;
    void this.load(true);
  }

  stop() {
    this.stream?.stop();
    this.stream = null;
    this.set({ alerts: new Map(), loaded: false, failure: null, status: "connecting" });
  }

  /** An alert the person changed (acknowledged, silenced) is shown at once, before the stream brings it. */
  apply(alert: Alert) {
    this.set({ alerts: mergeAlerts(this.state.alerts, [alert]) });
  }

  async load(first = !this.stream) {
    try {
      const page = await data(api.v1.alerts.$get({ query: { limit: "500" } }));
      this.set({ alerts: mergeAlerts(this.state.alerts, page.alerts), loaded: true, failure: null });
      if (first || !this.stream) {
        this.stream = new LiveStream<AlertChange>("/v1/alerts/stream", page.seq, {
          change: (change) => this.set({ alerts: mergeAlerts(this.state.alerts, change.alerts) }),
          reset: () => void this.load(false),
          status: (status) => this.set({ status }),
        });
      } else {
        this.stream.restart(page.seq);
      }
    } catch (error) {
      this.set({ failure: error instanceof Error ? error.message : String(error) });
    }
  }
}

export const fleetStore = new FleetStore();
export const alertStore = new AlertStore();
export const errorStore = new ErrorStore();

export const useFleet = () => useSyncExternalStore(fleetStore.subscribe, fleetStore.get);
export const useErrors = () => useSyncExternalStore(errorStore.subscribe, errorStore.get);
export const useAlerts = () => useSyncExternalStore(alertStore.subscribe, alertStore.get);
export { byLastSeen };
