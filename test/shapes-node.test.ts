// The shapes the code passes around and the schemas the API answers with are one: the order, the
// container's state and its events are read from their schemas (domain/order.ts, domain/events.ts),
// and the types still written beside a schema are held equal to it here. These are checked when the
// tests are type-checked (`npm run check`, `npm run typecheck`): a field added to one and not the
// other fails the check.
import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type { AuditEntry, User } from "../domain/access";
import type { Alert } from "../domain/alerts";
import type { DocumentLine, PriceEntry, SalesDocument } from "../domain/documents";
import type { ErrorChange, ErrorRecord, ErrorSummary } from "../domain/errors";
import type { FleetContainer } from "../domain/fleet";
import type { Partner } from "../domain/partners";
import type * as schemas from "../domain/schemas";
import type { DeviceKeyRecord } from "../durable-objects/device-key";

type Shape<S extends z.ZodType> = z.infer<S>;
type Flat<T> = { [K in keyof T]: T[K] };

describe("types written beside a schema are the schema's", () => {
  it("people, keys and the audit list", () => {
    expectTypeOf<User>().toEqualTypeOf<Shape<typeof schemas.userSchema>>();
    // Details are JSON the code writes and the schema only passes through.
    expectTypeOf<Omit<AuditEntry, "details">>().toEqualTypeOf<
      Omit<Shape<typeof schemas.auditEntrySchema>, "details">
    >();
    expectTypeOf<AuditEntry["details"]>().toExtend<Shape<typeof schemas.auditEntrySchema>["details"]>();
    expectTypeOf<DeviceKeyRecord>().toEqualTypeOf<Shape<typeof schemas.deviceKeyRecordSchema>>();
  });

  it("error records, their summaries and their changes", () => {
    // The context: the keys the code knows by name, and any other, each a text or a number.
    expectTypeOf<Omit<ErrorRecord, "context">>().toEqualTypeOf<
      Omit<Shape<typeof schemas.errorRecordSchema>, "context">
    >();
    expectTypeOf<ErrorRecord["context"]>().toExtend<Shape<typeof schemas.errorRecordSchema>["context"]>();
    expectTypeOf<Shape<typeof schemas.errorRecordSchema>["context"]>().toExtend<ErrorRecord["context"]>();
    expectTypeOf<ErrorSummary>().toEqualTypeOf<Shape<typeof schemas.errorSummarySchema>>();
    expectTypeOf<ErrorChange>().toEqualTypeOf<Shape<typeof schemas.errorChangeSchema>>();
  });

  it("the fleet, alerts, partners, prices and documents", () => {
    expectTypeOf<FleetContainer>().toEqualTypeOf<Shape<typeof schemas.fleetContainerSchema>>();
    expectTypeOf<Alert>().toEqualTypeOf<Shape<typeof schemas.alertSchema>>();
    expectTypeOf<Partner>().toEqualTypeOf<Shape<typeof schemas.partnerSchema>>();
    // A price as listed says who set it when; a document as listed has its totals as decimal text, and its lines as kept.
    expectTypeOf<Flat<PriceEntry & { updatedAt: string; updatedBy: string }>>().toEqualTypeOf<
      Shape<typeof schemas.priceSchema>
    >();
    expectTypeOf<DocumentLine>().toEqualTypeOf<Shape<typeof schemas.salesDocumentSchema>["lines"][number]>();
    expectTypeOf<
      Pick<
        SalesDocument,
        "orderId" | "partnerId" | "year" | "seq" | "containerId" | "currency" | "deliveredAt" | "issuedAt"
      >
    >().toEqualTypeOf<
      Pick<
        Shape<typeof schemas.salesDocumentSchema>,
        "orderId" | "partnerId" | "year" | "seq" | "containerId" | "currency" | "deliveredAt" | "issuedAt"
      >
    >();
  });
});
