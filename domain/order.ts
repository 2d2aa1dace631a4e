// An order and what it is made of; the rules that move it are in container.ts and fulfilment.ts.

export type OrderStatus = "active" | "closed";
export type OrderSource = "auto" | "manual" | "partner";
export type CloseReason = "fill_above_threshold" | "manual" | "cancelled" | "delivered";
/** Where the delivery stands (see fulfilment.ts for what may follow what). */
export type Fulfilment = "pending" | "accepted" | "assembling" | "dispatched" | "delivered" | "rejected" | "cancelled";

/** Goods on an order: proposed when it opens, set by assemblers until dispatched. */
export interface OrderLine {
  product: string;
  quantity: number;
  unit: string;
}

export interface Order {
  id: string;
  containerId: string;
  status: OrderStatus;
  source: OrderSource;
  openedAt: string;
  openedBy: string;
  fillAtOpen: number | null;
  /**
   * The threshold in force when the order opened: auto-close needs `fillAtOpen < thresholdAtOpen`.
   * Null only on orders opened before it was kept.
   */
  thresholdAtOpen: number | null;
  closedAt: string | null;
  closedBy: string | null;
  closeReason: CloseReason | null;
  fillAtClose: number | null;
  fulfilment: Fulfilment;
  /** The partner delivering it: the one that created or first moved it; null until then. */
  partnerId: string | null;
  lines: OrderLine[];
  eta: string | null;
  vehicle: string | null;
  deliveryNote: string | null;
  /** What the partner reported delivered. */
  delivered: OrderLine[];
  deliveredAt: string | null;
  /** Why it was rejected or cancelled. */
  fulfilmentReason: string | null;
  fulfilmentAt: string | null;
}
