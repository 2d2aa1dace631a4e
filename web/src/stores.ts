// What every page shares while someone is signed in: the live fleet, error records and alerts.
// Each store loads its snapshot, follows its stream from the snapshot's position, and tells React
// when it changed (useSyncExternalStore).
import { useSyncExternalStore } from "react";
import type { ErrorChange } from "../../domain/errors";
import type { AlertChange } from "../../domain/alerts";
import type { FleetChange } from "../../domain/fleet";
import { mergeAlerts, type Alert } from "./alerts-model";
import { api, data } from "./api";
import { byLastSeen, mergeRecords, type HeldError } from "./errors-model";
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

/**
 * A store that loads a snapshot answering with its stream's `seq`, then follows the stream from
 * there; a `reset` (more missed than the server keeps) loads the snapshot again and follows on.
 */
abstract class FollowedStore<
  State extends { loaded: boolean; failure: string | null; status: LiveStatus },
  Snapshot extends { seq: number },
  Change extends { seq: number; type: string },
> extends Store<State> {
  private stream: LiveStream<Change> | null = null;
  private running = false;
  /** Counts starts and stops: a snapshot that arrives after a stop (a sign-out) is dropped. */
  private epoch = 0;

  constructor(
    private readonly initial: () => State,
    private readonly path: "/v1/fleet/stream" | "/v1/alerts/stream",
  ) {
    super(initial());
  }

  protected abstract snapshot(): Promise<Snapshot>;
  /** What the state becomes with a (new) snapshot. */
  protected abstract adopt(snapshot: Snapshot): Partial<State>;
  /** What the state becomes with a change from the stream. */
  protected abstract follow(change: Change): Partial<State>;

  start() {
    if (this.running) return;
    this.running = true;
    this.epoch++;
    void this.load();
  }

  stop() {
    this.running = false;
    this.epoch++;
    this.stream?.stop();
    this.stream = null;
    this.set(this.initial());
  }

  async load() {
    if (!this.running) return;
    const epoch = this.epoch;
    try {
      const snapshot = await this.snapshot();
      if (epoch !== this.epoch) return;
      this.set({ ...this.adopt(snapshot), loaded: true, failure: null } as Partial<State>);
      if (!this.stream) {
        this.stream = new LiveStream<Change>(this.path, snapshot.seq, {
          change: (change) => this.set(this.follow(change)),
          reset: () => void this.load(),
          status: (status) => this.set({ status } as Partial<State>),
        });
      } else {
        this.stream.restart(snapshot.seq);
      }
    } catch (error) {
      if (epoch !== this.epoch) return;
      this.set({ failure: error instanceof Error ? error.message : String(error) } as Partial<State>);
    }
  }

  retry() {
    this.set({ failure: null } as Partial<State>);
    void this.load();
  }
}

type FleetSnapshot = { seq: number; containers: Parameters<typeof fleetOf>[0] };

class FleetStore extends FollowedStore<FleetState, FleetSnapshot, FleetChange> {
  constructor() {
    super(
      () => ({ fleet: new Map(), loaded: false, failure: null, status: "connecting", lastChangeAt: null }),
      "/v1/fleet/stream",
    );
  }
  protected snapshot() {
    return data(api.v1.fleet.$get());
  }
  protected adopt(snapshot: FleetSnapshot) {
    return { fleet: fleetOf(snapshot.containers) };
  }
  protected follow(change: FleetChange) {
    return { fleet: merge(this.state.fleet, change.containers), lastChangeAt: Date.now() };
  }
}

export interface ErrorsState {
  records: ReadonlyMap<string, HeldError>;
  loaded: boolean;
  failure: string | null;
  status: LiveStatus;
  /** Open records across the store (from GET /v1/fleet/summary, refreshed on every change). */
  openCount: number | null;
}

class ErrorStore extends Store<ErrorsState> {
  private stream: LiveStream<ErrorChange> | null = null;
  private countTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts starts and stops: a list or a count that arrives after a stop (a sign-out) is dropped. */
  private epoch = 0;

  constructor() {
    super({ records: new Map(), loaded: false, failure: null, status: "connecting", openCount: null });
  }

  start() {
    if (this.stream) return;
    this.epoch++;
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
    this.epoch++;
    this.stream?.stop();
    this.stream = null;
    clearTimeout(this.countTimer);
    this.set({ records: new Map(), loaded: false, failure: null, status: "connecting", openCount: null });
  }

  /** A record the person changed (resolved) is shown at once, before the stream brings it. */
  apply(record: HeldError) {
    this.set({ records: mergeRecords(this.state.records, [record]) });
    this.refreshCount();
  }

  async load() {
    if (!this.stream) return;
    const epoch = this.epoch;
    try {
      const page = await data(api.v1.errors.$get({ query: { limit: "200" } }));
      if (epoch !== this.epoch) return;
      this.set({ records: mergeRecords(this.state.records, page.errors), loaded: true, failure: null });
      this.refreshCount(0);
    } catch (error) {
      if (epoch !== this.epoch) return;
      this.set({ failure: error instanceof Error ? error.message : String(error) });
    }
  }

  private refreshCount(delay = 300) {
    if (!this.stream) return;
    const epoch = this.epoch;
    clearTimeout(this.countTimer);
    this.countTimer = setTimeout(() => {
      data(api.v1.fleet.summary.$get()).then(
        ({ openErrors }) => epoch === this.epoch && this.set({ openCount: openErrors }),
        // The figure keeps its last value (a 401 has already ended the session); the next change asks again.
        () => {},
      );
    }, delay);
  }
}

export interface AlertsState {
  alerts: ReadonlyMap<string, Alert>;
  loaded: boolean;
  failure: string | null;
  status: LiveStatus;
}

type AlertSnapshot = { seq: number; alerts: Alert[] };

/** The alerts: the latest 500 (every open one among them, as the monitor keeps few open), then live. */
class AlertStore extends FollowedStore<AlertsState, AlertSnapshot, AlertChange> {
  constructor() {
    super(() => ({ alerts: new Map(), loaded: false, failure: null, status: "connecting" }), "/v1/alerts/stream");
  }
  protected snapshot() {
    return data(api.v1.alerts.$get({ query: { limit: "500" } }));
  }
  protected adopt(snapshot: AlertSnapshot) {
    return { alerts: mergeAlerts(this.state.alerts, snapshot.alerts) };
  }
  protected follow(change: AlertChange) {
    return { alerts: mergeAlerts(this.state.alerts, change.alerts) };
  }

  /** An alert the person changed (acknowledged, silenced) is shown at once, before the stream brings it. */
  apply(alert: Alert) {
    this.set({ alerts: mergeAlerts(this.state.alerts, [alert]) });
  }
}

export const fleetStore = new FleetStore();
export const alertStore = new AlertStore();
export const errorStore = new ErrorStore();

export const useFleet = () => useSyncExternalStore(fleetStore.subscribe, fleetStore.get);
export const useErrors = () => useSyncExternalStore(errorStore.subscribe, errorStore.get);
export const useAlerts = () => useSyncExternalStore(alertStore.subscribe, alertStore.get);
export { byLastSeen };
