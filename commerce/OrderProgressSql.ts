/**
 * Order progress in PostgreSQL, on the same `SqlClient` the stores of
 * `smsforge/stores/postgres` use (`PgStores.layerFromUrl(url)` provides it).
 *
 * **Details**
 * - One table, `<tablePrefix>commerce_progress`, created when the layer is
 *   built, under the advisory lock the other stores' migrations take, so
 *   instances starting together do not race; keys and subjects are SHA-256
 *   digests, never a number.
 * - `set` is `INSERT … ON CONFLICT DO UPDATE … WHERE` (replacing only an
 *   expired row) or `UPDATE … WHERE version = ?`: one statement, atomic.
 * - Expiry follows the Effect `Clock`; expired rows are invisible and are
 *   replaced on the next write.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import { OrderProgressStore, type Progress, type ProgressStoreUnavailable } from "./OrderProgress.ts"
import { guarded } from "./internal/store.ts"

/**
 * @category models
 * @since 0.3.0
 */
export interface SqlOptions {
  /** Prepended to the table name; `"smsforge_"` by default, as in `smsforge/stores/postgres`. Letters, digits and `_`. */
  readonly tablePrefix?: string | undefined
  /** Time limit of each call, in ms; 5,000 by default. */
  readonly timeout?: number | undefined
}

interface Row {
  readonly data: string
  readonly version: number | string
}

/**
 * @category store
 * @since 0.3.0
 */
export const makeStoreSql = Effect.fnUntraced(function*(options: SqlOptions = {}) {
  const sql = yield* SqlClient.SqlClient
  const prefix = options.tablePrefix ?? "smsforge_"
  if (!/^[A-Za-z0-9_]*$/.test(prefix)) return yield* Effect.die(new TypeError("tablePrefix: letters, digits and _ only"))
  const limit = options.timeout ?? 5_000
  const table = sql(`${prefix}commerce_progress`)
  yield* sql.withTransaction(Effect.andThen(
    sql`SELECT pg_advisory_xact_lock(7240193)`,
    Effect.andThen(
      sql`CREATE TABLE IF NOT EXISTS ${table} (
        key TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        expires_at BIGINT NOT NULL,
        subject TEXT,
        data TEXT NOT NULL
      )`,
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${prefix}commerce_progress_subject`)} ON ${table} (subject)`
    )
  )).pipe(guarded("migrate", limit * 6))

  const live = (key: string, now: number) =>
    sql<Row>`SELECT data, version FROM ${table} WHERE key = ${key} AND expires_at > ${now}`

  return OrderProgressStore.of({
    get: (key) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => live(key, now)).pipe(
        Effect.map((rows) =>
          rows[0] === undefined
            ? Option.none()
            : Option.some({ progress: JSON.parse(rows[0].data) as Progress, version: Number(rows[0].version) })
        ),
        guarded("get", limit)
      ),
    set: (key, progress, { expectedVersion, expiresAt }) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const data = JSON.stringify(progress)
        const subject = progress.subject ?? null
        const rows = expectedVersion === undefined
          ? yield* sql`INSERT INTO ${table} AS cur (key, version, expires_at, subject, data)
              VALUES (${key}, 0, ${expiresAt}, ${subject}, ${data})
              ON CONFLICT (key) DO UPDATE SET version = 0, expires_at = EXCLUDED.expires_at, subject = EXCLUDED.subject, data = EXCLUDED.data
              WHERE cur.expires_at <= ${now}
              RETURNING key`
          : yield* sql`UPDATE ${table} SET version = ${expectedVersion + 1}, expires_at = ${expiresAt}, subject = ${subject}, data = ${data}
              WHERE key = ${key} AND version = ${expectedVersion} AND expires_at > ${now}
              RETURNING key`
        return rows.length === 1
      }).pipe(guarded("set", limit)),
    eraseSubject: (subject) =>
      sql`DELETE FROM ${table} WHERE subject = ${subject} RETURNING key`.pipe(
        Effect.map((rows) => rows.length),
        guarded("eraseSubject", limit)
      ),
    findSubject: (subject) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => sql<Row>`SELECT data, version FROM ${table} WHERE subject = ${subject} AND expires_at > ${now}`
      ).pipe(
        Effect.map((rows) => rows.map((row) => JSON.parse(row.data) as Progress)),
        guarded("findSubject", limit)
      )
  })
})

/**
 * Order progress in a SQL database.
 *
 * @category store
 * @since 0.3.0
 */
export const layerStoreSql = (
  options: SqlOptions = {}
): Layer.Layer<OrderProgressStore, ProgressStoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(OrderProgressStore, makeStoreSql(options))
