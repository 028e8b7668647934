/**
 * Dependencies loaded at first use instead of at import. libphonenumber-js
 * and otplib are runtime dependencies (so `npm update` brings new number
 * metadata); loading them at import was most of `import "smsforge"`'s cold
 * cost, and not every program parses a number or makes a code. Synchronous,
 * because `PhoneNumbers.parse` and the code functions are.
 *
 * effect's persistence modules, `PubSub` and `Stream` serve layers (the
 * router's circuits and rates, the Outbox's queue, the event bus, the audit
 * export), not the definitions of smsforge's modules: loaded when a layer is
 * built, they take about 40 ms off a cold import.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as RateLimiter from "effect/persistence/RateLimiter"
import { createRequire } from "node:module"

/** Node's `require`, here for the dependencies' CommonJS builds. @internal */
export const nodeRequire = createRequire(import.meta.url)

/** effect's `CircuitBreaker` module. @internal */
export const loadCircuitBreaker = Effect.promise(() => import("effect/persistence/CircuitBreaker"))

/** effect's `RateLimiter` module. @internal */
export const loadRateLimiter = Effect.promise(() => import("effect/persistence/RateLimiter"))

/** effect's `KeyValueStore` module. @internal */
export const loadKeyValueStore = Effect.promise(() => import("effect/persistence/KeyValueStore"))

/** effect's `PersistedQueue` module. @internal */
export const loadPersistedQueue = Effect.promise(() => import("effect/persistence/PersistedQueue"))

/** effect's `PubSub` module. @internal */
export const loadPubSub = Effect.promise(() => import("effect/PubSub"))

/** effect's `Stream` module. @internal */
export const loadStream = Effect.promise(() => import("effect/Stream"))

/** A rate limiter over a memory store. @internal */
export const rateLimiterMemory: Layer.Layer<RateLimiter.RateLimiter> = Layer.unwrap(
  Effect.map(loadRateLimiter, (limiters) => limiters.layer.pipe(Layer.provide(limiters.layerStoreMemory)))
)

/** `make()` once, on the first call. @internal */
export const once = <A>(make: () => A): (() => A) => {
  let made: { readonly value: A } | undefined
  return () => (made ??= { value: make() }).value
}

/** node:crypto, which takes about 4 ms to load: ids, hashes and codes are made after import. @internal */
export const cryptoModule = once(() => nodeRequire("node:crypto") as typeof import("node:crypto"))
