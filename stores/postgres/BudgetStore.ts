/**
 * The budget's counters on PostgreSQL, shared by every instance of an
 * application.
 *
 * **Details**
 * - Tables `<prefix>budget_counters` (key, used, expires_at) and
 *   `<prefix>budget_reservations` (id, holds, expires_at), created when the
 *   layer is built. Amounts are `bigint` micro-units, exact.
 * - `reserve` is one transaction: it upserts and so locks each counter row
 *   (in key order, so two reservations never deadlock), reads them, and adds
 *   to every counter only when every hard limit has room. Concurrent
 *   reservations from any number of instances queue on the row locks and
 *   never pass a cap.
 * - `release` and `commit` delete the reservation row and adjust its
 *   counters in one transaction, so each applies once.
 * - Expiry follows the Effect `Clock`: an expired counter counts from zero,
 *   an expired reservation is absent; {@link purgeBudget} deletes them.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { Store } from "smsforge"
// `import { Budget } from "smsforge"` once the package exports Budget
import { Budget } from "smsforge"

/**
 * @category models
 * @since 0.1.0
 */
export interface BudgetStoreOptions {
  /** Prepended to the table names. Default `"smsforge_"`. */
  readonly tablePrefix?: string | undefined
}

const HeldRecord = Schema.fromJsonString(Schema.Array(Schema.Struct({ k: Schema.String, a: Schema.String, s: Schema.Boolean })))
const decodeHeld = Schema.decodeUnknownEffect(HeldRecord)

const tablesOf = (sql: SqlClient.SqlClient, options: BudgetStoreOptions) => {
  const prefix = options.tablePrefix ?? "smsforge_"
  // identifiers are quoted as well; the check keeps names predictable
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)) {
    return Effect.die(new TypeError("tablePrefix: letters, digits and _ only, at most 41 characters"))
  }
  return Effect.succeed({ counters: sql(`${prefix}budget_counters`), reservations: sql(`${prefix}budget_reservations`) })
}

/**
 * Builds the store on the `SqlClient` in the context, creating its tables
 * when missing.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeBudgetStore = (
  options: BudgetStoreOptions = {}
): Effect.Effect<Budget.BudgetStore["Service"], SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { counters, reservations } = yield* tablesOf(sql, options)
    yield* sql.withTransaction(
      Effect.andThen(
        sql`SELECT pg_advisory_xact_lock(7240193)`,
        Effect.andThen(
          sql`CREATE TABLE IF NOT EXISTS ${counters} (key text PRIMARY KEY, used bigint NOT NULL, expires_at bigint NOT NULL)`,
          sql`CREATE TABLE IF NOT EXISTS ${reservations} (id text PRIMARY KEY, holds text NOT NULL, expires_at bigint NOT NULL)`
        )
      )
    )
    const unavailable = (operation: string) => (cause: unknown) => new Store.StoreUnavailable({ store: "budget", operation, cause })

    /** Locks each counter row, creating it (or resetting it when expired), in key order. */
    const lockCounters = (holds: ReadonlyArray<Budget.StoreHold>, now: number) =>
      Effect.forEach([...holds].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)), (h) =>
        sql`INSERT INTO ${counters} (key, used, expires_at) VALUES (${h.key}, 0, ${h.expiresAt})
          ON CONFLICT (key) DO UPDATE SET
            used = CASE WHEN ${counters}.expires_at <= ${now} THEN 0 ELSE ${counters}.used END,
            expires_at = GREATEST(${counters}.expires_at, EXCLUDED.expires_at)`, { discard: true })

    const usedOf = (keys: ReadonlyArray<string>, now: number) =>
      keys.length === 0 ? Effect.succeed(new Map<string, bigint>()) : Effect.map(
        sql<{ readonly key: string; readonly used: string }>`
          SELECT key, used::text AS used FROM ${counters} WHERE key IN ${sql.in(keys)} AND expires_at > ${now}`,
        (rows) => new Map(rows.map((row) => [row.key, BigInt(row.used)]))
      )

    const add = (key: string, delta: bigint) =>
      Effect.map(
        sql<{ readonly used: string }>`
          UPDATE ${counters} SET used = used + ${delta.toString()}::bigint WHERE key = ${key} RETURNING used::text AS used`,
        (rows) => BigInt(rows[0]?.used ?? "0")
      )

    const reserve = (id: string, holds: ReadonlyArray<Budget.StoreHold>, expiresAt: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* lockCounters(holds, now)
        const used = yield* usedOf(holds.map((h) => h.key), now)
        for (const [index, h] of holds.entries()) {
          const current = used.get(h.key) ?? 0n
          if (h.limit !== undefined && current + h.amount > h.limit) return { _tag: "Exceeded", index, used: current } as const
        }
        const record = JSON.stringify(holds.map((h) => ({ k: h.key, a: h.amount.toString(), s: h.spend })))
        const inserted = yield* sql`
          INSERT INTO ${reservations} (id, holds, expires_at) VALUES (${id}, ${record}, ${expiresAt})
          ON CONFLICT (id) DO UPDATE SET holds = EXCLUDED.holds, expires_at = EXCLUDED.expires_at
          WHERE ${reservations}.expires_at <= ${now}
          RETURNING id`
        if (inserted.length === 0) return { _tag: "AlreadyHeld" } as const
        const after = yield* Effect.forEach(holds, (h) => add(h.key, h.amount))
        return { _tag: "Reserved", used: after } as const
      }).pipe(sql.withTransaction, Effect.mapError(unavailable("reserve")))

    /** Deletes a live reservation and answers its holds, in key order. */
    const take = (id: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql<{ readonly holds: string }>`
          DELETE FROM ${reservations} WHERE id = ${id} AND expires_at > ${now} RETURNING holds`
        const row = rows[0]
        if (row === undefined) return []
        const holds = yield* decodeHeld(row.holds)
        return [...holds].sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
      })

    return Budget.BudgetStore.of({
      reserve,
      release: (id) =>
        Effect.gen(function*() {
          const holds = yield* take(id)
          yield* Effect.forEach(holds, (h) => add(h.k, -BigInt(h.a)), { discard: true })
          return holds.length > 0
        }).pipe(sql.withTransaction, Effect.mapError(unavailable("release"))),
      commit: (id, actual) =>
        Effect.gen(function*() {
          const holds = yield* take(id)
          return yield* Effect.forEach(holds.filter((h) => h.s), (h) =>
            Effect.map(add(h.k, actual - BigInt(h.a)), (used) => [h.k, used] as const))
        }).pipe(sql.withTransaction, Effect.mapError(unavailable("commit"))),
      get: (keys) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.map(usedOf(keys, now), (used) => keys.map((key) => used.get(key) ?? 0n))).pipe(Effect.mapError(unavailable("get")))
    })
  })

/**
 * Deletes expired counters and reservations.
 *
 * @category constructors
 * @since 0.1.0
 */
export const purgeBudget = (options: BudgetStoreOptions = {}): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { counters, reservations } = yield* tablesOf(sql, options)
    const now = yield* Clock.currentTimeMillis
    yield* sql`DELETE FROM ${counters} WHERE expires_at <= ${now}`
    yield* sql`DELETE FROM ${reservations} WHERE expires_at <= ${now}`
  })

/**
 * `Budget.BudgetStore` on the `SqlClient` in the context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerBudgetStore = (
  options: BudgetStoreOptions = {}
): Layer.Layer<Budget.BudgetStore, SqlError, SqlClient.SqlClient> => Layer.effect(Budget.BudgetStore, makeBudgetStore(options))
