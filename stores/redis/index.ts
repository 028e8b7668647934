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
import { failLayerWith } from "./internal/outbox.ts"

export * from "./RedisStores.ts"

/**
 * The effect `Redis` service on a `redis` (node-redis v5) client for `url`,
 * via `@effect/platform-node` (both optional peers of smsforge). The client
 * connects when the layer is built and closes with its scope.
 *
 * **Details**
 * Both packages are loaded only when this layer is built, so an application
 * that provides its own `Redis` service needs neither. A failure to load or
 * connect is `Store.StoreUnavailable`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: string,
  options: Omit<NonNullable<Parameters<typeof NodeRedis.layer>[0]>, "url"> & {
    /** How long closing waits for commands in flight before dropping them. Default 5 seconds. */
    readonly closeTimeout?: Duration.Input | undefined
  } = {}
): Layer.Layer<Redis.Redis, Store.StoreUnavailable> =>
  Layer.effectContext(Effect.gen(function*() {
    const { closeTimeout, ...clientOptions } = options
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
    return Context.make(Redis.Redis, Context.get(context, Redis.Redis))
  })).pipe(failLayerWith((cause) => new Store.StoreUnavailable({ store: "redis", operation: "connect", cause })))
