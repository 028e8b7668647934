/**
 * The current time on the send path. `Clock.currentTimeMillis` runs as two
 * operations (the clock, then its own effect); reading the fiber's clock in
 * place takes one, on a path where every operation shows.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/** Epoch milliseconds from the fiber's `Clock` (the TestClock in tests). */
export const nowOf = (fiber: Fiber.Fiber<unknown, unknown>): number => fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()

/** Epoch milliseconds from the fiber's `Clock`, in one operation. */
export const currentMillis: Effect.Effect<number> = Effect.withFiberSucceed(nowOf)

/** Runs `f` with the current time of the fiber's `Clock`. */
export const withNow = <A, E, R>(f: (now: number) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Clock.clockWith((clock) => f(clock.currentTimeMillisUnsafe()))
