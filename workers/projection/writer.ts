import { getTableColumns, sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database } from "../db/client";
import { containerEvents, containers, orders, readings } from "../db/schema";
import type { ProjectionPlan } from "./plan";

type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** `SET col = excluded.col` for every column but the key. */
function fromExcluded(table: PgTable, key: string): Record<string, SQL> {
  const set: Record<string, SQL> = {};
  for (const [field, column] of Object.entries(getTableColumns(table))) {
    if (field !== key) set[field] = sql.raw(`excluded."${column.name}"`);
  }
  return set;
}

const containerSet = fromExcluded(containers, "id");
const orderSet = fromExcluded(orders, "id");

/**
 * Write a plan in the caller's transaction. Every statement is idempotent: events and readings are
 * inserted once by key, and container and order rows move only to a higher version, so replaying any
 * message, or applying messages out of order, ends in the same rows.
 */
export async function writeProjection(tx: Transaction, plan: ProjectionPlan): Promise<void> {
  if (plan.events.length > 0) await tx.insert(containerEvents).values(plan.events).onConflictDoNothing();
  if (plan.readings.length > 0) await tx.insert(readings).values(plan.readings).onConflictDoNothing();
  if (plan.containers.length > 0) {
    await tx
      .insert(containers)
      .values(plan.containers)
      .onConflictDoUpdate({
        target: containers.id,
        set: { ...containerSet, projectedAt: sql`now()` },
        setWhere: sql`${containers.version} < excluded.version`,
      });
  }
  if (plan.orders.length > 0) {
    await tx
      .insert(orders)
      .values(plan.orders)
      .onConflictDoUpdate({ target: orders.id, set: orderSet, setWhere: sql`${orders.version} < excluded.version` });
    await closeSupersededOrders(tx, [...new Set(plan.orders.map((o) => o.containerId))]);
  }
}

/**
 * A container opens an order only once the one before is closed, so an active row older than the
 * container's newest active order is closed, even if its closing event has not arrived yet (it was
 * delayed or redelivered late). Its version stays, so that event still fills in the details.
 */
async function closeSupersededOrders(tx: Transaction, containerIds: string[]): Promise<void> {
  if (containerIds.length === 0) return;
  await tx.execute(sql`
    update ${orders} as older set status = 'closed'
    from ${orders} as newer
    where newer.container_id = older.container_id
      and newer.status = 'active' and older.status = 'active'
      and older.version < newer.version
      and newer.container_id in (${sql.join(containerIds.map((id) => sql`${id}`), sql`, `)})`);
}
