/**
 * What every store shares: one typed failure for an unreachable backend, and
 * the time limit on each call.
 *
 * **Details**
 * - Every store interface (messages, idempotency keys, the outbox, consent,
 *   templates, verifications, rate limits) fails with {@link StoreUnavailable}
 *   when its backend does not answer, never with a driver's own error or a
 *   defect, so a caller can retry the same request with the same key.
 * - {@link guard} puts the time limit and the translation at the edge of a
 *   backend: a store built on a client library wraps each call in it once.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

// errors

/**
 * A store's backend did not answer in time or failed. Retryable: the request
 * changed nothing that a retry with the same idempotency key would repeat.
 * The message names the store and the operation, never a key or a value.
 *
 * @category errors
 * @since 0.2.0
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>("smsforge/Store/StoreUnavailable")(
  "StoreUnavailable",
  {
    store: Schema.optional(Schema.String),
    operation: Schema.optional(Schema.String),
    cause: Schema.optional(Schema.Defect())
  }
) {
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return this.store === undefined
      ? "A store did not answer"
      : `The ${this.store} store did not answer${this.operation === undefined ? "" : ` (${this.operation})`}`
  }
}

// time limits

/**
 * The time limit on one store call unless a store's options say otherwise.
 *
 * @category constants
 * @since 0.2.0
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(5)

/**
 * Runs `effect` in a fiber of its own and stops waiting for it when the caller
 * is interrupted: that fiber is interrupted in the background. A call that
 * cannot be interrupted at once (a driver draining a cancelled query, a socket
 * on a dead connection) would otherwise hold the caller past the time limit.
 */
const detached = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.forkDetach(effect), (fiber) =>
      restore(Fiber.join(fiber)).pipe(
        Effect.onInterrupt(() => Effect.asVoid(Effect.forkDetach(Fiber.interrupt(fiber))))
      ))
  )

/**
 * The edge of a backend: bounds a call by `timeout` and turns any failure or
 * defect of the driver into {@link StoreUnavailable}. Interruption passes
 * through unchanged.
 *
 * **Details**
 * - The limit holds whatever the driver does: the call runs in a fiber of its
 *   own, and at the limit the caller answers while that fiber is interrupted
 *   in the background.
 *
 * @category combinators
 * @since 0.2.0
 */
export const guard = (store: string, operation: string, timeout: Duration.Input = defaultTimeout) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, StoreUnavailable, R> =>
  detached(effect).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new StoreUnavailable({ store, operation, cause: "timed out" }))
    }),
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const error = Cause.findErrorOption(cause)
      return Effect.fail(
        Option.isSome(error) && error.value instanceof StoreUnavailable
          ? error.value
          : new StoreUnavailable({ store, operation, cause: Cause.squash(cause) })
      )
    })
  )
