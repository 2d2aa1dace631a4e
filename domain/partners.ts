// Partners: the suppliers that deliver. Who serves which container, where their webhooks may come
// from, and the signature both directions carry (DESIGN: "Partners").
import ipaddr from "ipaddr.js";
import type { Fulfilment } from "./container";

export interface PartnerServes {
  /** Containers it delivers to, by id. */
  containerIds: string[];
  /** Contents it delivers, wherever they are. Both empty: every container. */
  contents: string[];
}

export interface Partner {
  id: string;
  name: string;
  webhookUrl: string;
  /** CIDR ranges its webhooks may come from; empty: anywhere. */
  ipRanges: string[];
  serves: PartnerServes;
  /** Order this many hours before the forecast reaches the threshold, for containers with no lead time of their own; null: none. */
  leadTimeHours: number | null;
  disabled: boolean;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  secretRotatedAt: string | null;
  /** Until when the secret before the last rotation is still accepted (and used for nothing else). */
  previousSecretValidUntil: string | null;
}

/** A partner with what signs its traffic: the secret, and the one before it during the grace period. */
export interface PartnerWithSecrets extends Partner {
  secret: string;
  previousSecret: string | null;
}

/** How long the secret before a rotation keeps working, so a partner can switch without downtime. */
export const SECRET_GRACE_SECONDS = 24 * 3600;
/** How far a signed timestamp may be from now, either way. */
export const SIGNATURE_WINDOW_SECONDS = 300;
/** How a partner's API key begins (its webhook secrets begin fgp_, device keys fgk_). */
export const PARTNER_KEY_PREFIX = "fgpk_";
export const TIMESTAMP_HEADER = "X-Fillgrid-Timestamp";
export const SIGNATURE_HEADER = "X-Fillgrid-Signature";

/** What an inbound event asks for, by type. */
export const INBOUND_TYPES = [
  "order.created",
  "order.accepted",
  "order.rejected",
  "order.dispatched",
  "order.delivered",
  "order.cancelled",
  "order.delivery_corrected",
] as const;
export type InboundType = (typeof INBOUND_TYPES)[number];
export const FULFILMENT_OF: Record<Exclude<InboundType, "order.created" | "order.delivery_corrected">, Fulfilment> = {
  "order.accepted": "accepted",
  "order.rejected": "rejected",
  "order.dispatched": "dispatched",
  "order.delivered": "delivered",
  "order.cancelled": "cancelled",
};

/** Whether `partner` delivers to this container: named, or by its contents, or everything when it names neither. */
export function serves(
  partner: Pick<Partner, "serves" | "disabled">,
  containerId: string,
  contents: string | null,
): boolean {
  if (partner.disabled) return false;
  const { containerIds, contents: kinds } = partner.serves;
  if (containerIds.length === 0 && kinds.length === 0) return true;
  return containerIds.includes(containerId) || (contents !== null && kinds.includes(contents));
}

/**
 * The partner an order goes to before any partner has taken it: the one that names the container,
 * else one that serves its contents, else one that serves everything; by id among equals.
 */
export function partnerFor<P extends Pick<Partner, "id" | "serves" | "disabled">>(
  partners: readonly P[],
  containerId: string,
  contents: string | null,
): P | null {
  const candidates = partners.filter((p) => serves(p, containerId, contents)).sort((a, b) => (a.id < b.id ? -1 : 1));
  const rank = (p: P) =>
    p.serves.containerIds.includes(containerId) ? 0 : contents !== null && p.serves.contents.includes(contents) ? 1 : 2;
  return candidates.sort((a, b) => rank(a) - rank(b))[0] ?? null;
}

/** Whether `address` is inside one of `ranges` (IPv4 or IPv6; IPv4-mapped IPv6 addresses count as IPv4). */
export function addressAllowed(address: string | null, ranges: readonly string[]): boolean {
  if (ranges.length === 0) return true;
  if (!address || !ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return ranges.some((range) => {
    const [net, bits] = ipaddr.parseCIDR(range);
    if (net.kind() !== parsed.kind()) return false;
    return parsed.kind() === "ipv4"
      ? (parsed as ipaddr.IPv4).match(net as ipaddr.IPv4, bits)
      : (parsed as ipaddr.IPv6).match(net as ipaddr.IPv6, bits);
  });
}

/** Whether a CIDR range is well formed (for validating what admins enter). */
export function isCidr(range: string): boolean {
  try {
    ipaddr.parseCIDR(range);
    return true;
  } catch {
    return false;
  }
}

/** Whether a signed timestamp (unix seconds, as sent) is within the window around `nowMs`. */
export function timestampFresh(timestamp: string | null, nowMs: number): boolean {
  if (timestamp === null || !/^\d{1,12}$/.test(timestamp)) return false;
  return Math.abs(nowMs / 1000 - Number(timestamp)) <= SIGNATURE_WINDOW_SECONDS;
}

/**
 * The secrets that sign a partner's traffic now: the current one, and during the grace period after
 * a rotation the one before it. Inbound, either is accepted; outbound, both sign each request
 * (`v1=<new>,v1=<old>`), so a partner that has not deployed the new secret yet still verifies.
 */
export function secretsInForce(
  partner: Pick<PartnerWithSecrets, "secret" | "previousSecret" | "previousSecretValidUntil">,
  nowMs: number,
): string[] {
  const until = partner.previousSecretValidUntil;
  return partner.previousSecret && until && Date.parse(until) > nowMs
    ? [partner.secret, partner.previousSecret]
    : [partner.secret];
}

/** What is signed: `<timestamp>.<raw body>`. */
export const signedText = (timestamp: string, body: string) => `${timestamp}.${body}`;

/** Names that never leave the local network (RFC 6761, RFC 6762, RFC 8375 and common internal zones). */
const LOCAL_NAMES = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa)$/i;

/**
 * Why a webhook URL must not be used in production, or null when it may: its host is an address
 * that is not public unicast (private, loopback, link-local, unique-local, carrier-grade NAT,
 * unspecified, reserved — the documentation ranges too…) or a name that stays on the local network. An admin's typo, or a
 * malicious entry, must not make Fillgrid call into a private network. A public name that resolves
 * to a private address is left to the platform, whose outbound requests reach only the internet.
 */
export function privateWebhookAddress(webhookUrl: string): string | null {
  // The URL parser has already turned every IPv4 spelling (2130706433, 0x7f.1) into dotted form.
  // A name may end in the root's dot (localhost.) and mean the same.
  const host = new URL(webhookUrl).hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  if (LOCAL_NAMES.test(host)) return `its host ${host} is a local name`;
  if (!ipaddr.isValid(host)) return null;
  let address = ipaddr.parse(host);
  if (address.kind() === "ipv6") {
    const v6 = address as ipaddr.IPv6;
    // ::ffff:a.b.c.d and the deprecated ::a.b.c.d both carry an IPv4 address: judge that one.
    const parts = v6.parts;
    const compatible = parts.slice(0, 6).every((p) => p === 0) && (parts[6] !== 0 || parts[7]! > 1);
    if (v6.isIPv4MappedAddress()) address = v6.toIPv4Address();
    else if (compatible)
      address = new ipaddr.IPv4([parts[6]! >> 8, parts[6]! & 0xff, parts[7]! >> 8, parts[7]! & 0xff]);
  }
  const range = address.range();
  return range === "unicast" ? null : `its host ${address.toString()} is ${RANGE_WORDS[range] ?? `a ${range}`} address`;
}

const RANGE_WORDS: Record<string, string> = {
  private: "a private",
  loopback: "a loopback",
  linkLocal: "a link-local",
  uniqueLocal: "a unique-local (private)",
  unspecified: "an unspecified",
  carrierGradeNat: "a carrier-grade NAT (private)",
  broadcast: "a broadcast",
  multicast: "a multicast",
  reserved: "a reserved",
  ipv4Mapped: "an IPv4-mapped",
  rfc6145: "a translated",
  rfc6052: "a translated",
  "6to4": "a 6to4",
  teredo: "a Teredo",
};
