// Fleet analytics: what the questions take and what they answer (consumption per day, the demand the
// forecasts add up to, how fast partners fulfil), and the CSV columns of each answer. Pure: the
// queries are in workers/db/analytics.ts, the routes in workers/routes/analytics.ts.
import { z } from "zod";

const DAY_MS = 86_400_000;
export const MAX_ANALYTICS_DAYS = 366;
export const DEMAND_DAYS = { min: 1, max: 14, default: 14 } as const;

/** A UTC day, YYYY-MM-DD, that exists. */
export const dayText = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: "must be a date, YYYY-MM-DD" })
  .refine(
    (d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
    { error: "must be a date that exists" },
  )
  .refine((d) => d >= "1970-01-01", { error: "must be 1970-01-01 or later" });

/** `minLon,minLat,maxLon,maxLat`, as map libraries write a box. */
export const boxText = z
  .string()
  .transform((text, ctx) => {
    const texts = text.split(",").map((p) => p.trim());
    const parts = texts.map(Number);
    const [minLon, minLat, maxLon, maxLat] = parts;
    const ok =
      parts.length === 4 &&
      texts.every((t) => /^-?\d+(\.\d+)?$/.test(t)) &&
      [minLon!, maxLon!].every((lon) => lon >= -180 && lon <= 180) &&
      [minLat!, maxLat!].every((lat) => lat >= -90 && lat <= 90) &&
      minLat! <= maxLat!;
    if (!ok) {
      ctx.addIssue({
        code: "custom",
        message:
          "must be minLon,minLat,maxLon,maxLat: four numbers, longitudes −180…180, latitudes −90…90, minLat ≤ maxLat",
      });
      return z.NEVER;
    }
    return { minLon: minLon!, minLat: minLat!, maxLon: maxLon!, maxLat: maxLat! };
  })
  .meta({
    description:
      "Containers inside this box: minLon,minLat,maxLon,maxLat (minLon greater than maxLon: the box crosses the antimeridian)",
    example: "5.9,47.3,15.0,55.1",
  });
export type Box = { minLon: number; minLat: number; maxLon: number; maxLat: number };

export const CONSUMPTION_GROUPS = ["contents", "partner", "container", "all"] as const;
export type ConsumptionGroup = (typeof CONSUMPTION_GROUPS)[number];

export const formatParam = z
  .enum(["json", "csv"])
  .optional()
  .meta({ description: "csv: the rows as CSV (as does Accept: text/csv)" });

export const consumptionQuery = z.strictObject({
  from: dayText.optional().meta({ description: "First UTC day (default: 29 days before to)" }),
  to: dayText.optional().meta({ description: "Last UTC day, included (default: today)" }),
  by: z
    .enum(CONSUMPTION_GROUPS)
    .default("contents")
    .meta({ description: "What each day is split by (partner: the partner that serves the container)" }),
  contents: z.string().min(1).max(100).optional(),
  partnerId: z.string().min(1).max(100).optional(),
  box: boxText.optional(),
  format: formatParam,
});
export type ConsumptionQuery = z.output<typeof consumptionQuery>;

/** The days a question covers, checked: from ≤ to, at most MAX_ANALYTICS_DAYS of them. */
export function dayRange(
  q: { from?: string | undefined; to?: string | undefined },
  now: number,
  defaultDays = 30,
): { ok: true; from: string; to: string } | { ok: false; field: string; message: string } {
  const to = q.to ?? new Date(now).toISOString().slice(0, 10);
  const from =
    q.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - (defaultDays - 1) * DAY_MS).toISOString().slice(0, 10);
  if (from > to) return { ok: false, field: "from", message: `must not be after to (${to})` };
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
  if (days > MAX_ANALYTICS_DAYS)
    return { ok: false, field: "from", message: `must be at most ${MAX_ANALYTICS_DAYS} days before to` };
  return { ok: true, from, to };
}

export const consumptionRowSchema = z
  .object({
    day: z.string().meta({ description: "UTC day" }),
    key: z.string().nullable().meta({
      description:
        "The contents, partner id or container id (by), or all; null: no contents reported, or no partner serves them",
    }),
    unit: z.string().nullable().meta({ description: "The unit of quantity; null for containers with no capacity" }),
    containers: z.number().int().meta({ description: "Containers with readings that day" }),
    readings: z.number().int(),
    consumption: z.number().meta({
      description:
        "Fill points consumed, summed over the containers: the level the day began at minus where it ended plus what refills added",
    }),
    quantity: z.number().nullable().meta({ description: "The consumption in the unit: points × capacity / 100" }),
    refills: z.number().int(),
    deliveries: z.number().int().meta({ description: "Orders delivered that day" }),
    anomalies: z.number().int().meta({ description: "Anomalies of that day (by the reading that raised them)" }),
    meanFill: z.number().nullable().meta({ description: "The mean of the day's readings" }),
    minFill: z.number().nullable(),
    maxFill: z.number().nullable(),
  })
  .meta({ id: "ConsumptionDay" });
export type ConsumptionRow = z.infer<typeof consumptionRowSchema>;

export const demandQuery = z.strictObject({
  days: z.coerce
    .number()
    .int()
    .min(DEMAND_DAYS.min)
    .max(DEMAND_DAYS.max)
    .default(DEMAND_DAYS.default)
    .meta({ description: "How many days ahead, today included" }),
  contents: z.string().min(1).max(100).optional(),
  partnerId: z.string().min(1).max(100).optional(),
  format: formatParam,
});
export type DemandQuery = z.output<typeof demandQuery>;

export const demandRowSchema = z
  .object({
    day: z.string().meta({ description: "UTC day the goods are due" }),
    partnerId: z.string().nullable().meta({ description: "The partner that delivers (null: none serves them)" }),
    contents: z.string().nullable(),
    unit: z.string().nullable(),
    source: z.enum(["order", "forecast"]).meta({
      description:
        "order: an order not delivered yet that is active or that its partner has accepted, due at its ETA, else its forecast's thresholdAt, else today; forecast: a container with no order active or on its way, forecast to reach its threshold that day (today: it already has), ordering what fills it back from the threshold",
    }),
    containers: z.number().int(),
    quantity: z.number().nullable().meta({ description: "Summed over the containers with a capacity" }),
  })
  .meta({ id: "DemandDay" });
export type DemandRow = z.infer<typeof demandRowSchema>;

export const fulfilmentQuery = z.strictObject({
  from: dayText.optional().meta({ description: "Orders opened from this UTC day (default: 89 days before to)" }),
  to: dayText.optional().meta({ description: "…up to this one, included (default: today)" }),
  partnerId: z.string().min(1).max(100).optional(),
  format: formatParam,
});
export type FulfilmentQuery = z.output<typeof fulfilmentQuery>;

const hours = (what: string) =>
  z
    .number()
    .nullable()
    .meta({ description: `${what}, in hours (null: no order went through it)` });

export const fulfilmentRowSchema = z
  .object({
    scope: z.enum(["partner", "unassigned", "all"]).meta({
      description: "partner: one partner's orders; unassigned: orders no partner took; all: every order",
    }),
    partnerId: z.string().nullable(),
    orders: z.number().int().meta({ description: "Orders opened in the range" }),
    delivered: z.number().int(),
    cancelled: z.number().int().meta({ description: "Rejected or cancelled" }),
    open: z.number().int().meta({ description: "Not delivered, rejected or cancelled yet" }),
    openedToAcceptedP50: hours("Median time from opened to accepted"),
    openedToAcceptedP90: hours("90th percentile of it"),
    acceptedToDispatchedP50: hours("Median time from accepted to dispatched"),
    acceptedToDispatchedP90: hours("90th percentile of it"),
    dispatchedToDeliveredP50: hours("Median time from dispatched to delivered"),
    dispatchedToDeliveredP90: hours("90th percentile of it"),
    openedToDeliveredP50: hours("Median time from opened to delivered"),
    openedToDeliveredP90: hours("90th percentile of it"),
    onTime: z.number().int().meta({
      description:
        "Delivered by when it was due: the forecast's thresholdAt on a forecast order, else the ETA the partner last gave",
    }),
    onTimeOf: z.number().int().meta({ description: "Delivered orders that had such a time" }),
    onTimeShare: z.number().nullable().meta({ description: "onTime ÷ onTimeOf" }),
  })
  .meta({ id: "FulfilmentTimes" });
export type FulfilmentRow = z.infer<typeof fulfilmentRowSchema>;

/** The CSV columns of each answer: its row schema's fields, in order. */
export const csvColumns = {
  consumption: Object.keys(consumptionRowSchema.shape),
  demand: Object.keys(demandRowSchema.shape),
  fulfilment: Object.keys(fulfilmentRowSchema.shape),
} as const;

/**
 * The rows as CSV cells: numbers as written, null as empty. Text that a spreadsheet would take for a
 * formula (it begins with = + - @, a tab or a return: contents and names come from sensors and
 * people) gets a leading apostrophe, which spreadsheets show as text.
 */
export function csvRecords(rows: readonly object[], columns: readonly string[]): (string | number)[][] {
  return rows.map((row) =>
    columns.map((c) => {
      const v = (row as Record<string, unknown>)[c];
      if (v === null || v === undefined) return "";
      if (typeof v === "number") return v;
      const text = String(v);
      return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
    }),
  );
}

/** Partners as the queries place containers with them (domain/partners.ts `partnerFor`, in SQL). */
export interface PartnerPlacement {
  id: string;
  containerIds: string[];
  contents: string[];
}
