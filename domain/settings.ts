import { z } from "zod";
import { percentSchema } from "./validation";

export const settingsSchema = z
  .strictObject({
    threshold: percentSchema.optional(),
    capacity: z.number().finite().positive().nullable().optional(),
    name: z.string().trim().min(1).max(100).nullable().optional(),
  })
  .refine((s) => s.threshold !== undefined || s.capacity !== undefined || s.name !== undefined, {
    error: "give at least one of threshold, capacity, name",
  });
