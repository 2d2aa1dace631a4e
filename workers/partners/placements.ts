// Where the analytics place containers with partners: the partners that serve them.
import type { PartnerPlacement } from "../../domain/analytics";
import { validationError } from "../http/errors";
import { directory } from "../stubs";

/**
 * The partners as the queries place containers with them (the disabled serve none), refusing a
 * `partnerId` that names none of them.
 */
export async function placements(env: Env, partnerId: string | undefined): Promise<PartnerPlacement[]> {
  const partners = await directory(env).listPartners();
  if (partnerId !== undefined && !partners.some((p) => p.id === partnerId))
    throw validationError([{ path: "partnerId", message: "is not a partner" }]);
  return partners
    .filter((p) => !p.disabled)
    .map((p) => ({ id: p.id, containerIds: p.serves.containerIds, contents: p.serves.contents }));
}
