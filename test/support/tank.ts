// A container on paper: readings fed through the consumption model and the rules, manual closes,
// fulfilment steps and dismissals, each change appended to a log as ContainerDO does, so the pure
// rules can be driven through long series and the log replayed.
import {
  closeOrder,
  decideDeliveryCheck,
  decideDismiss,
  decideManualClose,
  decideReading,
  decideSettings,
  emptyContainer,
  evolve,
  isStale,
  modelSees,
  type ContainerChange,
  type ContainerEvent,
  type ContainerState,
  type Order,
  type Settings,
} from "../../domain/container";
import { emptyWindow, type ConsumptionWindow } from "../../domain/forecast";
import { applyToOrder, decideFulfilment, type FulfilmentCommand } from "../../domain/fulfilment";

export class Tank {
  state: ContainerState;
  window: ConsumptionWindow = emptyWindow();
  log: ContainerEvent[] = [];
  private ids = 0;

  constructor(settings: Partial<Settings>, start: number) {
    this.state = emptyContainer("tank-f");
    for (const change of decideSettings(this.state, settings)) this.append(change, start);
  }

  private id(prefix: string) {
    return `${prefix}${String(++this.ids).padStart(26, "0")}`;
  }

  private append(change: ContainerChange, at: number) {
    const event = {
      ...change,
      seq: this.state.version + 1,
      id: `e${this.state.version + 1}`,
      containerId: "tank-f",
      at: new Date(at).toISOString(),
      actor: { kind: "device", id: "k" },
      readingId: null,
    } as ContainerEvent;
    this.log.push(event);
    this.state = evolve(this.state, event);
  }

  /** One reading; the types of the changes it made besides its own record. */
  read(measuredAt: number, fill: number): string[] {
    const model = isStale(this.state, measuredAt) ? undefined : modelSees(this.window, this.state, measuredAt, fill);
    const changes = decideReading(
      this.state,
      {
        readingId: `r${measuredAt}`,
        containerId: "tank-f",
        fillPercent: fill,
        measuredAt,
        clockSkewMs: 0,
        fingerprint: String(fill),
      },
      {
        receivedAt: measuredAt,
        now: measuredAt,
        newOrderId: () => this.id("ord_"),
        newAnomalyId: () => this.id("anm_"),
        model,
      },
    );
    for (const change of changes) this.append(change, measuredAt);
    if (model) {
      this.window = model.window;
      this.state = { ...this.state, forecast: model.forecast };
    }
    return changes.filter((c) => c.type !== "reading.recorded").map((c) => c.type);
  }

  /** Readings in order; each change they made besides their records, with the reading's time. */
  feed(readings: { measuredAt: number; fill: number }[]) {
    return readings.flatMap((r) => this.read(r.measuredAt, r.fill).map((type) => ({ at: r.measuredAt, type })));
  }

  closeByHand(at: number) {
    const active = this.state.activeOrder!;
    const decision = decideManualClose(this.state, active.id, active, "op@x", at);
    if (!decision.ok) throw new Error("not active");
    this.append(decision.change, at);
  }

  /** The newest order opened, as it is now. */
  get lastOrder(): Order | null {
    let order: Order | null = null;
    for (const e of this.log) {
      if (e.type === "order.opened") order = e.order;
      else if (order && "orderId" in e && e.orderId === order.id) {
        if (e.type === "order.closed") order = closeOrder(order, e);
        if (e.type === "order.fulfilment_changed" || e.type === "order.lines_set") order = applyToOrder(order, e);
      }
    }
    return order;
  }

  /** A fulfilment step of the newest order, with the delivery check a delivered step makes. */
  fulfil(at: number, command: Omit<FulfilmentCommand, "now" | "partnerId" | "by">) {
    const decision = decideFulfilment(this.state, this.lastOrder, { ...command, now: at, partnerId: null, by: "op@x" });
    if (!decision.ok) throw new Error(decision.reason);
    for (const change of decision.changes) this.append(change, at);
    if (command.to === "delivered")
      for (const change of decideDeliveryCheck(this.state, this.lastOrder!, {
        now: at,
        newAnomalyId: () => this.id("anm_"),
      }))
        this.append(change, at);
  }

  dismiss(anomalyId: string, at: number) {
    const decision = decideDismiss(this.state, anomalyId, "op@x", at);
    if (!decision.ok) throw new Error("not open");
    this.append(decision.change, at);
  }

  raised(kind?: string) {
    return this.log.filter(
      (e): e is Extract<ContainerEvent, { type: "anomaly.raised" }> =>
        e.type === "anomaly.raised" && (kind === undefined || e.anomaly.kind === kind),
    );
  }
}
