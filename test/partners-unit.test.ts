// Who serves which container, where webhooks may come from, and what partners are told.
import { describe, expect, it } from "vitest";
import type { ChangeMessage } from "../domain/change-message";
import { emptyContainer, type Order } from "../domain/container";
import {
  OUTBOUND_EVENT_SCHEMAS,
  OUTBOUND_TYPES,
  partnerDeliveries,
  WEBHOOK_SCHEMA_VERSION,
} from "../domain/partner-events";
import { everyOutboundEvent } from "./support/outbound-events";
import {
  addressAllowed,
  partnerFor,
  privateWebhookAddress,
  secretsInForce,
  timestampFresh,
  type Partner,
} from "../domain/partners";

const partner = (id: string, serves: Partner["serves"], disabled = false): Partner => ({
  id,
  name: id,
  webhookUrl: "https://x.example",
  ipRanges: [],
  serves,
  leadTimeHours: null,
  disabled,
  createdAt: "",
  createdBy: "",
  updatedAt: "",
  secretRotatedAt: null,
  previousSecretValidUntil: null,
});

describe("routing an order to a partner", () => {
  const all = partner("all", { containerIds: [], contents: [] });
  const diesel = partner("diesel", { containerIds: [], contents: ["diesel"] });
  const named = partner("named", { containerIds: ["tank-1"], contents: [] });
  it("the partner that names the container, else one serving its contents, else one serving everything", () => {
    expect(partnerFor([all, diesel, named], "tank-1", "diesel")?.id).toBe("named");
    expect(partnerFor([all, diesel, named], "tank-2", "diesel")?.id).toBe("diesel");
    expect(partnerFor([all, diesel, named], "tank-2", "pellets")?.id).toBe("all");
    expect(partnerFor([diesel, named], "tank-2", "pellets")).toBeNull();
    expect(partnerFor([partner("off", { containerIds: ["tank-1"], contents: [] }, true)], "tank-1", null)).toBeNull();
  });
});

describe("where webhooks may come from", () => {
  it("inside an IPv4 or IPv6 range, IPv4-mapped addresses as IPv4; no ranges: anywhere; no address: refused when there are ranges", () => {
    const ranges = ["203.0.113.0/24", "2001:db8::/32"];
    expect(addressAllowed("203.0.113.200", ranges)).toBe(true);
    expect(addressAllowed("203.0.114.1", ranges)).toBe(false);
    expect(addressAllowed("2001:db8:1::5", ranges)).toBe(true);
    expect(addressAllowed("::ffff:203.0.113.7", ranges)).toBe(true);
    expect(addressAllowed(null, ranges)).toBe(false);
    expect(addressAllowed("not an address", ranges)).toBe(false);
    expect(addressAllowed(null, [])).toBe(true);
  });

  it("a timestamp within 300 s either way; anything else is stale or not a timestamp", () => {
    const now = 1_800_000_000_000;
    expect(timestampFresh(String(now / 1000 - 300), now)).toBe(true);
    expect(timestampFresh(String(now / 1000 + 301), now)).toBe(false);
    expect(timestampFresh(String(now / 1000 - 301), now)).toBe(false);
    expect(timestampFresh("1.8e9", now)).toBe(false);
    expect(timestampFresh(null, now)).toBe(false);
  });
});

describe("what partners are told", () => {
  const order = { id: "ord_1", containerId: "tank-1", partnerId: null } as Order;
  const state = { ...emptyContainer("tank-1"), contents: "diesel" };
  const message = (
    type: string,
    actor: { kind: string; id: string },
    o: Order | null = order,
    extra: Record<string, unknown> = {},
  ): ChangeMessage =>
    ({
      event: {
        id: `evt_${type}`,
        seq: 1,
        containerId: "tank-1",
        at: "2026-12-01T00:00:00.000Z",
        actor,
        readingId: null,
        type,
        orderId: "ord_1",
        ...extra,
      },
      state,
      order: o,
    }) as unknown as ChangeMessage;

  it("every order change, addressed to the partner serving the container, except what that partner did itself", () => {
    const diesel = partner("diesel", { containerIds: [], contents: ["diesel"] });
    const out = partnerDeliveries(
      [
        message("order.opened", { kind: "device", id: "k" }, order, { order }),
        message("reading.recorded", { kind: "device", id: "k" }, null),
        message(
          "order.fulfilment_changed",
          { kind: "partner", id: "diesel" },
          { ...order, partnerId: "diesel" },
          { from: "pending", to: "accepted" },
        ),
        message(
          "order.lines_set",
          { kind: "user", id: "ann" },
          { ...order, partnerId: "diesel" },
          { lines: [], previous: [] },
        ),
        message(
          "order.fulfilment_changed",
          { kind: "user", id: "ann" },
          { ...order, partnerId: "diesel" },
          { from: "accepted", to: "assembling" },
        ),
      ],
      [diesel],
    );
    expect(out.map((d) => [d.partnerId, d.event.type])).toEqual([
      ["diesel", "order.opened"],
      ["diesel", "order.lines_changed"],
      ["diesel", "order.assembling"],
    ]);
    expect(out[0]!.event).toMatchObject({ eventId: "evt_order.opened", orderId: "ord_1", containerId: "tank-1" });
  });

  it("every kind of event sent is valid against the schema of its type, the one the reference publishes", () => {
    const out = everyOutboundEvent();
    expect(out.map((e) => e.type).sort()).toEqual([...OUTBOUND_TYPES].sort());
    for (const event of out) {
      const parsed = OUTBOUND_EVENT_SCHEMAS[event.type].safeParse(event);
      expect(parsed.success ? [] : parsed.error.issues, event.type).toEqual([]);
      expect(event.schemaVersion).toBe(WEBHOOK_SCHEMA_VERSION);
    }
  });

  it("nothing for an order no partner serves, or for a disabled partner", () => {
    expect(
      partnerDeliveries(
        [message("order.opened", { kind: "device", id: "k" })],
        [partner("p", { containerIds: ["other"], contents: [] })],
      ),
    ).toEqual([]);
    expect(
      partnerDeliveries(
        [message("order.opened", { kind: "device", id: "k" })],
        [partner("p", { containerIds: [], contents: [] }, true)],
      ),
    ).toEqual([]);
  });
});

describe("webhook URLs in production", () => {
  it("public names and public addresses may be called", () => {
    for (const url of [
      "https://partner.example/hook",
      "https://1.1.1.1/hook",
      "https://[2001:4860:4860::8888]/hook",
      "https://local-fuels.example/hook",
    ])
      expect(privateWebhookAddress(url), url).toBeNull();
  });

  it("private, loopback, link-local, unique-local, CGNAT and unspecified addresses, however spelled, and local names may not", () => {
    expect(privateWebhookAddress("https://10.0.0.1/")).toBe("its host 10.0.0.1 is a private address");
    expect(privateWebhookAddress("https://172.16.5.4/")).toBe("its host 172.16.5.4 is a private address");
    expect(privateWebhookAddress("https://0x7f.1/")).toBe("its host 127.0.0.1 is a loopback address");
    expect(privateWebhookAddress("https://[::ffff:192.168.0.1]/")).toBe("its host 192.168.0.1 is a private address");
    expect(privateWebhookAddress("https://[fe80::1]/")).toBe("its host fe80::1 is a link-local address");
    expect(privateWebhookAddress("https://[fd00::1]/")).toBe("its host fd00::1 is a unique-local (private) address");
    expect(privateWebhookAddress("https://100.64.1.1/")).toBe(
      "its host 100.64.1.1 is a carrier-grade NAT (private) address",
    );
    expect(privateWebhookAddress("https://0.0.0.0/")).toBe("its host 0.0.0.0 is an unspecified address");
    expect(privateWebhookAddress("https://203.0.113.7/")).toBe("its host 203.0.113.7 is a reserved address");
    expect(privateWebhookAddress("http://LOCALHOST:8080/")).toBe("its host localhost is a local name");
    expect(privateWebhookAddress("https://printer.local/")).toBe("its host printer.local is a local name");
    expect(privateWebhookAddress("https://nas.home.arpa/")).toBe("its host nas.home.arpa is a local name");
    expect(privateWebhookAddress("https://localhost./")).toBe("its host localhost is a local name");
    expect(privateWebhookAddress("https://metadata.google.internal./")).toBe(
      "its host metadata.google.internal is a local name",
    );
    expect(privateWebhookAddress("https://[::127.0.0.1]/")).toBe("its host 127.0.0.1 is a loopback address");
    expect(privateWebhookAddress("https://[::10.0.0.1]/")).toBe("its host 10.0.0.1 is a private address");
  });
});

describe("secrets in force", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  it("the current one; during a rotation's grace period the one before it too, newest first; after it, the current alone", () => {
    const rotated = { secret: "new", previousSecret: "old", previousSecretValidUntil: "2026-12-07T12:00:00Z" };
    expect(secretsInForce(rotated, now)).toEqual(["new", "old"]);
    expect(secretsInForce(rotated, Date.parse("2026-12-07T12:00:00Z"))).toEqual(["new"]);
    expect(secretsInForce({ secret: "only", previousSecret: null, previousSecretValidUntil: null }, now)).toEqual([
      "only",
    ]);
  });
});
