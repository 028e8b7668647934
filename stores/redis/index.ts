/**
 * Redis-backed stores for smsforge: idempotency keys, messages, verification
 * state, consent, templates and rate limits shared by every instance of an
 * application.
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
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"

export * from "./RedisStores.ts"

/**
 * The effect `Redis` service on a `redis` (node-redis v5) client for `url`,
 * via `@effect/platform-node` (both optional peers of smsforge). The client
 * connects when the layer is built and closes with its scope.
 *
 * **Details**
 * Both packages are loaded only when this layer is built, so an application
 * that provides its own `Redis` service needs neither.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: string,
  options: Omit<NonNullable<Parameters<typeof NodeRedis.layer>[0]>, "url"> = {}
): Layer.Layer<Redis.Redis, Redis.RedisError> =>
  Layer.unwrap(
    Effect.map(
      Effect.tryPromise({
        try: () => import("@effect/platform-node/NodeRedis"),
        catch: (cause) => new Redis.RedisError({ cause })
      }),
      (module) => module.layer({ ...options, url })
    )
  )
