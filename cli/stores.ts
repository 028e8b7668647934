/**
 * The `stores` key of smsforge.config: PostgreSQL or Redis under the
 * pipeline instead of the memory stores, so several `smsforge serve`
 * processes share messages, idempotency keys, verifications, consent, rate
 * limits and the durable Outbox.
 *
 * **Details**
 * - A URL is either `"env:NAME"`, read from the environment when the
 *   instance starts, or written out when it holds no password: credentials
 *   never sit in the file.
 * - Exactly one backend; the schema names the key at fault.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { type Sms, Store } from "smsforge"
import * as PgStores from "smsforge/stores/postgres"
import * as RedisStores from "smsforge/stores/redis"
import { MissingSecret } from "./carriers.ts"

// models

const ENV = /^env:([A-Za-z_][A-Za-z0-9_]*)$/

const hasNoPassword = (url: string): boolean => {
  try {
    return new URL(url).password === ""
  } catch {
    return false
  }
}

/**
 * A server's URL: `"env:NAME"`, or a URL without a password.
 *
 * @category schemas
 * @since 0.2.0
 */
export const UrlSetting = Schema.String.check(Schema.makeFilter(
  (s: string) => ENV.test(s) || hasNoPassword(s),
  { expected: "\"env:NAME\", or a URL without a password (put one with a password in the environment)" }
))

/**
 * @category schemas
 * @since 0.2.0
 */
export const PostgresSettings = Schema.Struct({
  url: UrlSetting,
  /** Prepended to every table name; default `smsforge_`. */
  tablePrefix: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_]{0,40}$/))),
  /** Days a message is kept; default 7. */
  retentionDays: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 3_650 })))
})

/**
 * @category schemas
 * @since 0.2.0
 */
export const RedisSettings = Schema.Struct({
  url: UrlSetting,
  /** Prepended to every key; default `smsforge:`. */
  prefix: Schema.optional(Schema.String.check(Schema.isMinLength(1))),
  /** Days a message is kept; default 7. */
  retentionDays: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 3_650 })))
})

/**
 * The `stores` key: `{ "postgres": { "url": "env:DATABASE_URL" } }` or
 * `{ "redis": { "url": "env:REDIS_URL" } }`.
 *
 * @category schemas
 * @since 0.2.0
 */
export const StoresSettings = Schema.Struct({
  postgres: Schema.optional(PostgresSettings),
  redis: Schema.optional(RedisSettings)
}).check(Schema.makeFilter(
  (s: { readonly postgres?: unknown; readonly redis?: unknown }) => (s.postgres === undefined) !== (s.redis === undefined),
  { expected: "exactly one of postgres, redis" }
))

/**
 * @category models
 * @since 0.2.0
 */
export type StoresSettings = typeof StoresSettings.Type

/**
 * The stores an instance runs on, for the console's banner and its layer.
 *
 * @category models
 * @since 0.2.0
 */
export interface Stores {
  readonly backend: "memory" | "postgres" | "redis"
  /** `undefined`: the memory stores. */
  readonly layer: Layer.Layer<Sms.Stores, Store.StoreUnavailable> | undefined
}

// constructors

const urlOf = (setting: string, key: string, env: NodeJS.ProcessEnv): Effect.Effect<string, MissingSecret> => {
  const variable = ENV.exec(setting)?.[1]
  if (variable === undefined) return Effect.succeed(setting)
  const value = env[variable]
  return value === undefined || value === ""
    ? Effect.fail(new MissingSecret({ transport: key, variable }))
    : Effect.succeed(value)
}

const retentionOf = (days: number | undefined) => (days === undefined ? {} : { messages: { retention: `${days} days` as const } })

// Some stores' layers die rather than fail when the server is gone (the SQL
// template store's migration, for one); the command reports any of it as the
// one typed reason, naming the backend.
const unavailable = (store: string) => <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, Store.StoreUnavailable, R> =>
  Layer.catchCause(layer, (cause) =>
    Layer.unwrap(
      Cause.hasInterruptsOnly(cause)
        ? Effect.failCause(cause as Cause.Cause<never>)
        : Effect.fail(new Store.StoreUnavailable({ store, operation: "connect", cause: Cause.squash(cause) }))
    ))

const postgres = (settings: typeof PostgresSettings.Type, url: string): Layer.Layer<Sms.Stores, Store.StoreUnavailable> =>
  PgStores.layer({ tablePrefix: settings.tablePrefix, ...retentionOf(settings.retentionDays) }).pipe(
    Layer.provide(PgStores.layerFromUrl(url)),
    unavailable("postgres")
  )

const redis = (settings: typeof RedisSettings.Type, url: string): Layer.Layer<Sms.Stores, Store.StoreUnavailable> =>
  RedisStores.layer({ prefix: settings.prefix, ...retentionOf(settings.retentionDays) }).pipe(
    Layer.provide(RedisStores.layerFromUrl(url)),
    unavailable("redis")
  )

/**
 * Resolves the `stores` settings against the environment: the layer to put
 * under the pipeline, or the memory stores when the key is absent. A
 * missing variable fails naming it and the key.
 *
 * @category constructors
 * @since 0.2.0
 */
export const resolve = (settings: StoresSettings | undefined, env: NodeJS.ProcessEnv = process.env): Effect.Effect<Stores, MissingSecret> => {
  if (settings?.postgres !== undefined) {
    const pg = settings.postgres
    return Effect.map(urlOf(pg.url, "stores.postgres.url", env), (url) => ({ backend: "postgres", layer: postgres(pg, url) }))
  }
  if (settings?.redis !== undefined) {
    const r = settings.redis
    return Effect.map(urlOf(r.url, "stores.redis.url", env), (url) => ({ backend: "redis", layer: redis(r, url) }))
  }
  return Effect.succeed({ backend: "memory", layer: undefined })
}
