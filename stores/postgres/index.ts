/**
 * PostgreSQL-backed stores for smsforge: idempotency keys, messages,
 * verification state, consent, templates, rate limits and the durable Outbox
 * shared by every instance of an application, in tables it creates itself.
 *
 * **Example** (Durable state in PostgreSQL)
 * ```ts
 * import { Layer } from "effect"
 * import { Sms } from "smsforge"
 * import * as PgStores from "smsforge/stores/postgres"
 *
 * const SmsLive = Sms.layerPipeline({ transports: [] }).pipe(
 *   Layer.provideMerge(PgStores.layer({ tablePrefix: "sms_" })),
 *   Layer.provide(PgStores.layerFromUrl("postgres://postgres@127.0.0.1:5432/app"))
 * )
 * ```
 *
 * @module
 * @since 0.1.0
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as SqlClient from "effect/sql/SqlClient"
import { ConnectionError, SqlError } from "effect/sql/SqlError"
import { Store } from "smsforge"
import { failLayerWith } from "../internal/outbox.ts"

export * from "./PostgresStores.ts"
export { makeBudgetStore, layerBudgetStore, purgeBudget, type BudgetStoreOptions } from "./BudgetStore.ts"
export { makeRateLimiterStore, layerRateLimiterStore } from "./RateLimiterStore.ts"

/**
 * An effect `SqlClient` (and `PgClient`) on a connection pool for `url`, via
 * `@effect/sql-pg` (an optional peer of smsforge). The URL is kept redacted.
 *
 * **Details**
 * `@effect/sql-pg` is loaded only when this layer is built, so an application
 * that provides its own `SqlClient` does not need it. A failure to load or
 * connect is `Store.StoreUnavailable`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: string,
  options: Omit<PgClient.PgPoolConfig, "url"> = {}
): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, Store.StoreUnavailable> =>
  Layer.unwrap(
    Effect.map(
      Effect.tryPromise({
        try: () => import("@effect/sql-pg/PgClient"),
        catch: (cause) =>
          new SqlError({ reason: new ConnectionError({ cause, message: "@effect/sql-pg could not be loaded" }) })
      }),
      (module) => module.layer({ ...options, url: Redacted.make(url) })
    )
  ).pipe(failLayerWith((cause) => new Store.StoreUnavailable({ store: "postgres", operation: "connect", cause })))
