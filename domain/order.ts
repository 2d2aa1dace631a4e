// An order and what it is made of, as schemas (the API's answers are checked against them and the
// OpenAPI document is made from them) and the types read from them; the rules that move an order are
// in container.ts and fulfilment.ts.
import { z } from "zod";
import { forecastSchema } from "./forecast";
import { instantText, nullableInstantText } from "./validation";

export const ORDER_STATUSES = ["active", "closed"] as const;
export const ORDER_SOURCES = ["auto", "manual", "partner", "forecast"] as const;
export const CLOSE_REASONS = ["fill_above_threshold", "manual", "cancelled", "delivered", "refilled"] as const;
/** The forward chain; `rejected` and `cancelled` end it from any step before `delivered`. */
export const FULFILMENT_CHAIN = ["pending", "accepted", "assembling", "dispatched", "delivered"] as const;
export const FULFILMENT_ENDS = ["rejected", "cancelled"] as const;
export const FULFILMENTS = [...FULFILMENT_CHAIN, ...FULFILMENT_ENDS] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];
export type OrderSource = (typeof ORDER_SOURCES)[number];
export type CloseReason = (typeof CLOSE_REASONS)[number];
/** Where the delivery stands (see fulfilment.ts for what may follow what). */
export type Fulfilment = (typeof FULFILMENTS)[number];

/** Goods on an order: proposed when it opens, set by assemblers until dispatched. */
export const orderLineSchema = z
  .object({ product: z.string(), quantity: z.number(), unit: z.string() })
  .meta({ id: "OrderLine", example: { product: "diesel", quantity: 4200, unit: "l" } });
export type OrderLine = z.infer<typeof orderLineSchema>;

export const orderSchema = z
  .object({
    id: z.string().meta({ example: "ord_01JZ4X8Q0K7M2N3P4R5S6T7V8W" }),
    containerId: z.string(),
    status: z.enum(ORDER_STATUSES),
    source: z.enum(ORDER_SOURCES).meta({
      description:
        "auto: the level fell below the threshold; forecast: the threshold was forecast within the lead time; manual: a person; partner: the partner",
    }),
    openedAt: instantText,
    openedBy: z.string(),
    fillAtOpen: z.number().nullable(),
    thresholdAtOpen: z.number().nullable().meta({
      description:
        "The threshold in force when the order opened: auto-close needs fillAtOpen < thresholdAtOpen (null only on orders opened before it was kept)",
    }),
    closedAt: nullableInstantText,
    closedBy: z.string().nullable(),
    closeReason: z.enum(CLOSE_REASONS).nullable(),
    fillAtClose: z.number().nullable(),
    fulfilment: z.enum(FULFILMENTS).meta({
      description: "pending → accepted → assembling → dispatched → delivered, or rejected / cancelled before delivered",
    }),
    partnerId: z
      .string()
      .nullable()
      .meta({ description: "The partner delivering it (the one that created or first moved it)" }),
    lines: z.array(orderLineSchema).meta({
      description:
        "Proposed when it opens (capacity × (1 − fill/100) of the contents); set by assemblers until dispatched",
    }),
    eta: nullableInstantText,
    vehicle: z.string().nullable(),
    deliveryNote: z.string().nullable(),
    delivered: z.array(orderLineSchema).meta({ description: "The quantities the partner reported delivered" }),
    deliveryRevision: z.number().int().min(0).optional().meta({
      description:
        "How many times the partner corrected the delivery (order.delivery_corrected); each correction reissues the sales document. Absent: 0",
    }),
    deliveredAt: nullableInstantText,
    fulfilmentReason: z.string().nullable().meta({ description: "Why it was rejected or cancelled" }),
    fulfilmentAt: nullableInstantText,
    acceptedAt: nullableInstantText.meta({ description: "When the partner accepted it" }),
    dispatchedAt: nullableInstantText.meta({ description: "When the goods left" }),
    forecast: forecastSchema.optional().meta({
      description:
        "On an order the forecast opened (source forecast): the forecast it acted on, thresholdAt the date to plan for",
    }),
  })
  .meta({ id: "Order" });
export type Order = z.infer<typeof orderSchema>;

/** An order's container as the orders list shows it: as it is now. */
export const orderContainerSchema = z
  .object({
    name: z.string().nullable(),
    contents: z.string().nullable(),
    fillPercent: z.number().nullable(),
    threshold: z.number(),
    capacity: z.number().nullable(),
    unit: z.string().nullable(),
  })
  .meta({ id: "OrderContainer" });
export type OrderContainer = z.infer<typeof orderContainerSchema>;

/**
 * Where an order's delivery stands, in words: a closed order that never got further than pending
 * was closed before anyone took it, not "pending".
 */
export function fulfilmentInWords(o: Pick<Order, "status" | "fulfilment" | "closeReason">): string {
  if (
    o.status === "closed" &&
    (o.fulfilment === "pending" || o.fulfilment === "accepted" || o.fulfilment === "assembling")
  )
    return o.fulfilment === "pending" ? "closed before a partner took it" : `closed while ${o.fulfilment}`;
  if (o.status === "closed" && o.fulfilment === "dispatched") return "closed while on its way";
  return o.fulfilment;
}

/** The quantity an order asks for, in its lines' first unit (lines of another unit are left out). */
export function orderedQuantity(o: Pick<Order, "lines">): { quantity: number; unit: string } | null {
  const first = o.lines[0];
  if (!first) return null;
  return {
    quantity: o.lines.filter((l) => l.unit === first.unit).reduce((n, l) => n + l.quantity, 0),
    unit: first.unit,
  };
}

export const ORDER_CSV_COLUMNS = [
  "id",
  "containerId",
  "containerName",
  "contents",
  "status",
  "source",
  "fulfilment",
  "openedAt",
  "fillAtOpen",
  "closedAt",
  "closeReason",
  "fillAtClose",
  "quantity",
  "unit",
  "lines",
  "partnerId",
  "eta",
  "deliveredAt",
] as const;

/** Orders as CSV rows, with their containers' name and contents. */
export function orderCsvRows(orders: readonly Order[], containers: Readonly<Record<string, OrderContainer>>) {
  return orders.map((o) => {
    const c = containers[o.containerId];
    const ordered = orderedQuantity(o);
    return {
      ...o,
      containerName: c?.name ?? null,
      contents: c?.contents ?? o.lines[0]?.product ?? null,
      fulfilment: fulfilmentInWords(o),
      quantity: ordered?.quantity ?? null,
      unit: ordered?.unit ?? null,
      lines: o.lines.map((l) => `${l.quantity} ${l.unit} ${l.product}`).join("; "),
    };
  });
}
