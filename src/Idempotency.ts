/**
 * The same idempotency key, within a window, sends once.
 *
 * **Details**
 * - Keys are scoped per tenant. The first request with a key reserves it for
 *   its message; later requests with that key get the first message back and
 *   never submit again, also when both race.
 * - A key reused with a different request body is refused, as payment APIs do:
 *   silently answering with another message's receipt would hide a bug.
 * - Reservation is the only primitive a store needs, so Redis (`SET NX PX`) or
 *   SQL (`INSERT … ON CONFLICT DO NOTHING`) stores can replace the memory one.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type CoreRegistry, registry } from "./internal/cores.ts"
import { InsertionQueue } from "./internal/idempotency/insertionQueue.ts"
import type { StoreUnavailable } from "./Store.ts"

/**
 * Who holds a key.
 *
 * @category models
 * @since 0.1.0
 */
export interface Reservation {
  readonly messageId: string
  /** A digest of the request that reserved the key. */
  readonly fingerprint: string
}

/**
 * Storage for idempotency keys.
 *
 * @category services
 * @since 0.1.0
 */
export class IdempotencyStore extends Context.Service<IdempotencyStore, {
  /**
   * Reserves `key` for `reservation` until `ttl` passes. Answers `None` when
   * this call reserved it, or the earlier reservation.
   */
  readonly reserve: (
    key: string,
    reservation: Reservation,
    ttl: Duration.Duration
  ) => Effect.Effect<Option.Option<Reservation>, StoreUnavailable>
  /** Frees a key whose request was refused before anything was sent. */
  readonly release: (key: string, messageId: string) => Effect.Effect<void, StoreUnavailable>
}>()("smsforge/Idempotency/IdempotencyStore") {}

/**
 * @category models
 * @since 0.1.0
 */
export interface MemoryStoreOptions {
  /** Most keys kept; the oldest go first. Default 100,000. */
  readonly capacity?: number | undefined
}

/**
 * The memory store's synchronous core, for the send path (internal/cores.ts).
 *
 * @internal
 */
export interface IdempotencyCore {
  /** `reserve` at `now`, for `ttlMillis`. */
  readonly reserve: (key: string, reservation: Reservation, ttlMillis: number, now: number) => Option.Option<Reservation>
}

/** @internal */
export const cores: CoreRegistry<IdempotencyCore> = registry()

/**
 * Creates an in-memory key store.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory = (options: MemoryStoreOptions = {}): Effect.Effect<IdempotencyStore["Service"]> =>
  Effect.sync(() => {
    const capacity = Math.max(1, options.capacity ?? 100_000)
    interface Entry {
      readonly key: string
      readonly reservation: Reservation
      readonly expiresAt: number
    }
    const keys = new Map<string, Entry>()
    // Entries in insertion order; one no longer in the Map is skipped.
    const order = new InsertionQueue<Entry>()
    const live = { get size() { return keys.size }, keys: () => keys.values() }
    const evict = (now: number) =>
      order.drain((oldest) => {
        if (keys.get(oldest.key) !== oldest) return true
        if (keys.size <= capacity && oldest.expiresAt > now) return false
        keys.delete(oldest.key)
        return true
      }, live)
    // Synchronous check-and-set: two fibers cannot interleave inside it.
    const core: IdempotencyCore = {
      reserve: (key, reservation, ttlMillis, now) => {
        const held = keys.get(key)
        if (held !== undefined && held.expiresAt > now) return Option.some(held.reservation)
        keys.delete(key)
        const entry: Entry = { key, reservation, expiresAt: now + ttlMillis }
        keys.set(key, entry)
        order.push(entry)
        evict(now)
        return Option.none()
      }
    }
    return cores.register(IdempotencyStore.of({
      reserve: (key, reservation, ttl) =>
        Effect.map(Clock.currentTimeMillis, (now) => core.reserve(key, reservation, Duration.toMillis(ttl), now)),
      release: (key, messageId) =>
        Effect.sync(() => {
          if (keys.get(key)?.reservation.messageId === messageId) keys.delete(key)
        })
    }), core)
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerMemory = (options: MemoryStoreOptions = {}): Layer.Layer<IdempotencyStore> =>
  Layer.effect(IdempotencyStore, makeMemory(options))

/**
 * The store key of a tenant's idempotency key.
 *
 * @category utils
 * @since 0.1.0
 */
export const scopedKey = (tenant: string | undefined, key: string): string => JSON.stringify([tenant ?? null, key])
