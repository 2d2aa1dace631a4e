// Every kind of event Fillgrid sends partners, built by the code that sends them from the changes
// that cause them: for tests that hold them against the schemas and the published reference.
import type { ChangeMessage } from "../../domain/change-message";
import { emptyContainer, type Order } from "../../domain/container";
import { partnerDeliveries, pingEvent, type OutboundEvent, type PingEvent } from "../../domain/partner-events";
import type { Partner } from "../../domain/partners";

export function everyOutboundEvent(): (OutboundEvent | PingEvent)[] {
  const full: Order = {
    id: "ord_1",
    containerId: "tank-1",
    status: "active",
    source: "auto",
    openedAt: "2026-12-01T00:00:00.000Z",
    openedBy: "reading:r1",
    fillAtOpen: 20,
    thresholdAtOpen: 50,
    closedAt: null,
    closedBy: null,
    closeReason: null,
    fillAtClose: null,
    fulfilment: "pending",
    partnerId: null,
    lines: [{ product: "diesel", quantity: 800, unit: "l" }],
    eta: null,
    vehicle: null,
    deliveryNote: null,
    delivered: [],
    deliveredAt: null,
    fulfilmentReason: null,
    fulfilmentAt: null,
    acceptedAt: null,
    dispatchedAt: null,
  };
  const serving: Partner = {
    id: "diesel",
    name: "Diesel Co",
    webhookUrl: "https://diesel.example/hook",
    ipRanges: [],
    serves: { containerIds: [], contents: ["diesel"] },
    leadTimeHours: null,
    disabled: false,
    createdAt: "",
    createdBy: "",
    updatedAt: "",
    secretRotatedAt: null,
    previousSecretValidUntil: null,
  };
  const state = { ...emptyContainer("tank-1"), contents: "diesel" };
  const message = (type: string, o: Order, extra: Record<string, unknown> = {}): ChangeMessage =>
    ({
      event: {
        id: `evt_${type}_${String(extra.to ?? "")}`,
        seq: 1,
        containerId: "tank-1",
        at: "2026-12-01T00:00:00.000Z",
        actor: { kind: "user", id: "ann" },
        readingId: null,
        type,
        orderId: o.id,
        ...extra,
      },
      state,
      order: o,
    }) as unknown as ChangeMessage;
  const sent = partnerDeliveries(
    [
      message("order.opened", full, { order: full }),
      message(
        "order.closed",
        { ...full, status: "closed" },
        {
          closeReason: "manual",
          fillAtClose: 22,
          closedAt: "2026-12-01T01:00:00.000Z",
          closedBy: "ann",
          note: "done by hand",
        },
      ),
      message("order.lines_set", full, { lines: full.lines, previous: [] }),
      message("order.fulfilment_changed", full, { from: "accepted", to: "assembling" }),
      message("order.fulfilment_changed", full, {
        from: "assembling",
        to: "dispatched",
        eta: "2026-12-02T08:00:00.000Z",
        vehicle: "ZH 1",
      }),
    ],
    [serving],
  ).map((d) => d.event);
  return [...sent, pingEvent("ping_1", "2026-12-01T00:00:00.000Z")];
}
