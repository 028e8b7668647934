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
 * - A counter's key is the SHA-256 digest of its name (cap, tenant, period),
 *   so no key column holds a tenant; a reservation's row names its counters
 *   until it is committed or released, because `commit` answers them.
 * - Every call, and building the layer, is bounded by `timeout` (default
 *   `Store.defaultTimeout`, 5 seconds; six times that for the migration) and
 *   fails with the shared `Store.StoreUnavailable`; no `SqlError` reaches a
 *   caller.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import { Store } from "smsforge"
// `import { Budget } from "smsforge"` once the package exports Budget
import { Budget } from "smsforge"
import { digest } from "../internal/digest.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface BudgetStoreOptions {
  /** Prepended to the table names. Default `"smsforge_"`. */
  readonly tablePrefix?: string | undefined
  /** The time limit on each call. Default `Store.defaultTimeout` (5 seconds). */
  readonly timeout?: Duration.Input | undefined
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

type Tables = Effect.Success<ReturnType<typeof tablesOf>>

const timeoutOf = (options: BudgetStoreOptions) => Duration.fromInputUnsafe(options.timeout ?? Store.defaultTimeout)

/** Orders by counter key, the order every transaction locks counter rows in, so two never deadlock. */
const byKey = <A>(key: (a: A) => string) => (a: A, b: A) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)

/** Creates the tables when missing, one instance at a time. */
const migrate = (sql: SqlClient.SqlClient, tables: Tables, options: BudgetStoreOptions) =>
  sql.withTransaction(
    Effect.andThen(
      sql`SELECT pg_advisory_xact_lock(7240193)`,
      Effect.andThen(
        sql`CREATE TABLE IF NOT EXISTS ${tables.counters} (key text PRIMARY KEY, used bigint NOT NULL, expires_at bigint NOT NULL)`,
        sql`CREATE TABLE IF NOT EXISTS ${tables.reservations} (id text PRIMARY KEY, holds text NOT NULL, expires_at bigint NOT NULL)`
      )
    )
  ).pipe(Store.guard("budget", "migrate", Duration.times(timeoutOf(options), 6)))

/** The counter rows, by the digest of each counter's name. */
const countersOn = (sql: SqlClient.SqlClient, { counters }: Tables) => {
  /** Locks each counter row, creating it (or resetting it when expired), in key order. */
  const lock = (holds: ReadonlyArray<Budget.StoreHold>, now: number) =>
    Effect.forEach(holds.map((h) => ({ key: digest(h.key), expiresAt: h.expiresAt })).sort(byKey((h) => h.key)), (h) =>
      sql`INSERT INTO ${counters} (key, used, expires_at) VALUES (${h.key}, 0, ${h.expiresAt})
        ON CONFLICT (key) DO UPDATE SET
          used = CASE WHEN ${counters}.expires_at <= ${now} THEN 0 ELSE ${counters}.used END,
          expires_at = GREATEST(${counters}.expires_at, EXCLUDED.expires_at)`, { discard: true })

  /** What each named counter has used, in the order of `names`. */
  const used = (names: ReadonlyArray<string>, now: number) => {
    const keys = names.map(digest)
    return keys.length === 0 ? Effect.succeed([]) : Effect.map(
      sql<{ readonly key: string; readonly used: string }>`
        SELECT key, used::text AS used FROM ${counters} WHERE key IN ${sql.in(keys)} AND expires_at > ${now}`,
      (rows) => {
        const byKey = new Map(rows.map((row) => [row.key, BigInt(row.used)]))
        return keys.map((key) => byKey.get(key) ?? 0n)
      }
    )
  }

  const add = (name: string, delta: bigint) =>
    Effect.map(
      sql<{ readonly used: string }>`
        UPDATE ${counters} SET used = used + ${delta.toString()}::bigint WHERE key = ${digest(name)} RETURNING used::text AS used`,
      (rows) => BigInt(rows[0]?.used ?? "0")
    )
  return { lock, used, add }
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
): Effect.Effect<Budget.BudgetStore["Service"], Store.StoreUnavailable, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* tablesOf(sql, options)
    const { reservations } = tables
    yield* migrate(sql, tables, options)
    const counters = countersOn(sql, tables)
    const guard = (operation: string) => Store.guard("budget", operation, timeoutOf(options))

    const reserve = (id: string, holds: ReadonlyArray<Budget.StoreHold>, expiresAt: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* counters.lock(holds, now)
        const used = yield* counters.used(holds.map((h) => h.key), now)
        for (const [index, h] of holds.entries()) {
          const current = used[index] ?? 0n
          if (h.limit !== undefined && current + h.amount > h.limit) return { _tag: "Exceeded", index, used: current } as const
        }
        const record = JSON.stringify(holds.map((h) => ({ k: h.key, a: h.amount.toString(), s: h.spend })))
        const inserted = yield* sql`
          INSERT INTO ${reservations} (id, holds, expires_at) VALUES (${id}, ${record}, ${expiresAt})
          ON CONFLICT (id) DO UPDATE SET holds = EXCLUDED.holds, expires_at = EXCLUDED.expires_at
          WHERE ${reservations}.expires_at <= ${now}
          RETURNING id`
        if (inserted.length === 0) return { _tag: "AlreadyHeld" } as const
        const after = yield* Effect.forEach(holds, (h) => counters.add(h.key, h.amount))
        return { _tag: "Reserved", used: after } as const
      }).pipe(sql.withTransaction, guard("reserve"))

    /** Deletes a live reservation and answers its holds, in key order. */
    const take = (id: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql<{ readonly holds: string }>`
          DELETE FROM ${reservations} WHERE id = ${id} AND expires_at > ${now} RETURNING holds`
        const row = rows[0]
        if (row === undefined) return []
        const holds = yield* decodeHeld(row.holds)
        return [...holds].sort(byKey((h) => digest(h.k)))
      })

    return Budget.BudgetStore.of({
      reserve,
      release: (id) =>
        Effect.gen(function*() {
          const holds = yield* take(id)
          yield* Effect.forEach(holds, (h) => counters.add(h.k, -BigInt(h.a)), { discard: true })
          return holds.length > 0
        }).pipe(sql.withTransaction, guard("release")),
      commit: (id, actual) =>
        Effect.gen(function*() {
          const holds = yield* take(id)
          return yield* Effect.forEach(holds.filter((h) => h.s), (h) =>
            Effect.map(counters.add(h.k, actual - BigInt(h.a)), (used) => [h.k, used] as const))
        }).pipe(sql.withTransaction, guard("commit")),
      get: (keys) => Effect.flatMap(Clock.currentTimeMillis, (now) => counters.used(keys, now)).pipe(guard("get"))
    })
  })

/**
 * Deletes expired counters and reservations.
 *
 * @category constructors
 * @since 0.1.0
 */
export const purgeBudget = (options: BudgetStoreOptions = {}): Effect.Effect<void, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { counters, reservations } = yield* tablesOf(sql, options)
    const now = yield* Clock.currentTimeMillis
    yield* sql`DELETE FROM ${counters} WHERE expires_at <= ${now}`
    yield* sql`DELETE FROM ${reservations} WHERE expires_at <= ${now}`
  }).pipe(Store.guard("budget", "purge", Duration.minutes(5)))

/**
 * `Budget.BudgetStore` on the `SqlClient` in the context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerBudgetStore = (
  options: BudgetStoreOptions = {}
): Layer.Layer<Budget.BudgetStore, Store.StoreUnavailable, SqlClient.SqlClient> => Layer.effect(Budget.BudgetStore, makeBudgetStore(options))
