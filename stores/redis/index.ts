/**
 * Redis-backed stores for smsforge: idempotency keys, messages, verification
 * state, consent, templates, rate limits and the durable Outbox shared by
 * every instance of an application. Run Redis with `appendonly yes`.
 *
 * **Example** (Two instances, one truth)
 * ```ts
 * import { Layer } from "effect"
 * import { Sms } from "smsforge"
 * import * as RedisStores from "smsforge/stores/redis"
 *
 * const SmsLive = Sms.layerPipeline({ transports: [] }).pipe(
 *   Layer.provideMerge(RedisStores.layer({ prefix: "myapp:sms:" })),
 *   Layer.provide(RedisStores.layerFromUrl("redis://127.0.0.1:6379"))
 * )
 * ```
 *
 * @module
 * @since 0.1.0
 */
import type * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import { Store } from "smsforge"
import { failLayerWith } from "../internal/outbox.ts"

export * from "./RedisStores.ts"
export { makeBudgetStore, layerBudgetStore, type BudgetStoreOptions } from "./BudgetStore.ts"

/** The Redis service with a time limit on each command; blocking commands belong on `reserve`, left as it is. */
const bounded = (redis: Redis.Redis["Service"], timeout: Duration.Input): Redis.Redis["Service"] => {
  const limit = <A>(effect: Effect.Effect<A, Redis.RedisError>) =>
    Effect.timeoutOrElse(effect, {
      duration: timeout,
      orElse: () => Effect.fail(new Redis.RedisError({ cause: "timed out" }))
    })
  return Redis.Redis.of({
    ...redis,
    send: (command, ...args) => limit(redis.send(command, ...args)),
    eval: (script) => (...params) => limit(redis.eval(script)(...params))
  })
}

/**
 * The effect `Redis` service on a `redis` (node-redis v5) client for `url`,
 * via `@effect/platform-node` (both optional peers of smsforge). The client
 * connects when the layer is built and closes with its scope.
 *
 * **Details**
 * - Both packages are loaded only when this layer is built, so an
 *   application that provides its own `Redis` service needs neither. A
 *   failure to load or connect is `Store.StoreUnavailable`.
 * - Every command is bounded by `commandTimeout`, and without a connection a
 *   command fails at once (`disableOfflineQueue`, unless set): a Redis that
 *   is gone or hung fails calls instead of holding them, and closing never
 *   waits longer than `closeTimeout`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: string,
  options: Omit<NonNullable<Parameters<typeof NodeRedis.layer>[0]>, "url"> & {
    /** How long closing waits for commands in flight before dropping them. Default 5 seconds. */
    readonly closeTimeout?: Duration.Input | undefined
    /**
     * The time limit on every command sent through this client, for users the
     * stores do not bound themselves (effect's queue, rate limiter and
     * circuit stores). Default `Store.defaultTimeout` (5 seconds).
     */
    readonly commandTimeout?: Duration.Input | undefined
  } = {}
): Layer.Layer<Redis.Redis, Store.StoreUnavailable> =>
  Layer.effectContext(Effect.gen(function*() {
    // Without a connection a command fails at once rather than waiting in node-redis's queue for one.
    const { closeTimeout, commandTimeout, ...clientOptions } = { disableOfflineQueue: true, ...options }
    const module = yield* Effect.tryPromise({
      try: () => import("@effect/platform-node/NodeRedis"),
      catch: (cause) => new Redis.RedisError({ cause })
    })
    const context = yield* Layer.build(module.layer({ ...clientOptions, url }))
    const { client } = Context.get(context, module.NodeRedis)
    // Runs before the client layer's own close(), which waits for every queued command: with Redis
    // gone, commands queued for a reconnect would hold the application's shutdown forever.
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => client.close()).pipe(
        Effect.timeoutOrElse({
          duration: closeTimeout ?? "5 seconds",
          orElse: () => Effect.sync(() => client.isOpen && client.destroy())
        }),
        Effect.ignoreCause
      )
    )
    return Context.make(Redis.Redis, bounded(Context.get(context, Redis.Redis), commandTimeout ?? Store.defaultTimeout))
  })).pipe(failLayerWith((cause) => new Store.StoreUnavailable({ store: "redis", operation: "connect", cause })))
