import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Store } from "smsforge"

/**
 * Runs `effect` in a fiber of its own and stops waiting for it when the
 * caller is interrupted (as `Store.guard`'s time limit does): the fiber is
 * interrupted in the background. A driver whose call cannot be interrupted
 * at once (a query on a dead connection waits for its socket) would
 * otherwise hold the caller past the time limit.
 */
const disconnect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.forkDetach(effect), (fiber) =>
      restore(Fiber.join(fiber)).pipe(Effect.onInterrupt(() => Effect.asVoid(Effect.forkDetach(Fiber.interrupt(fiber))))))
  )

/** `Store.guard` whose time limit holds whatever the driver does. */
export const guard = (store: string, operation: string, timeout: Duration.Input) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Store.StoreUnavailable, R> =>
  Store.guard(store, operation, timeout)(disconnect(effect))
