import { z } from "zod";
import { locationSchema, orNull, percentSchema } from "./validation";

export const settingsSchema = z
  .strictObject({
    threshold: percentSchema.optional().meta({ description: "Fill percent below which an order opens (default 50)" }),
    capacity: z.number().positive().nullable().optional().meta({ description: "Volume when full, in `unit`" }),
    unit: z
      .string()
      .trim()
      .min(1)
      .max(20)
      .nullable()
      .optional()
      .meta({ description: "Unit of capacity and of the goods ordered, e.g. l, kg, t (null: units)" }),
    name: z.string().trim().min(1).max(100).nullable().optional(),
    location: orNull(locationSchema)
      .optional()
      .meta({ description: "Where the container stands; used for readings that carry none" }),
    reportIntervalSeconds: z
      .number()
      .int()
      .min(60)
      .max(7 * 24 * 3600)
      .nullable()
      .optional()
      .meta({ description: "How often the sensor is expected to report (null: the default, 1 hour)" }),
    leadTimeHours: z
      .number()
      .min(0)
      .max(90 * 24)
      .nullable()
      .optional()
      .meta({
        description:
          "Open an order when the level is forecast to reach the threshold within this many hours, before it does (0: only when it falls below; null, the default: the serving partner's default, else 0)",
      }),
    refillRise: z
      .number()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "A rise of at least this many points is taken for a refill (default 10)" }),
    suddenDrop: z.number().min(1).max(100).optional().meta({
      description:
        "A fall of at least this many points beyond what consumption explains, held over two readings within two hours, is a sudden drop (default 8)",
    }),
  })
  .refine((s) => Object.values(s).some((v) => v !== undefined), {
    error:
      "give at least one of threshold, capacity, unit, name, location, reportIntervalSeconds, leadTimeHours, refillRise, suddenDrop",
  })
  .meta({ id: "ContainerSettings" });
