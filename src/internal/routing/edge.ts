/**
 * The edge between the router and a transport: the one place `submit` is
 * called. Whatever the transport does (throws, dies, fails with a string,
 * hangs, answers `{}`) leaves here as a `TransportError`, so the route's
 * circuit counts it and failover goes on; classified once, here.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Transport from "../../Transport.ts"

const violation = (transport: string, problem: string, unknownOutcome: boolean): Transport.TransportError =>
  new Transport.TransportError({ transport, reason: new Transport.ContractViolation({ problem, unknownOutcome }) })

const timedOut = (transport: string): Transport.TransportError =>
  new Transport.TransportError({ transport, reason: new Transport.Timeout({}) })

/** Why an answer is not a `SubmitResult`, or `undefined` when it is one. Names the field, never its value. */
export const answerProblem = (answer: unknown): string | undefined => {
  if (typeof answer !== "object" || answer === null) return "submit succeeded without a result object"
  const { providerMessageId, segmentIds } = answer as { readonly providerMessageId?: unknown; readonly segmentIds?: unknown }
  if (typeof providerMessageId !== "string") return "providerMessageId is not a string"
  if (providerMessageId.trim().length === 0) return "providerMessageId is empty"
  if (segmentIds === undefined) return undefined
  if (!Array.isArray(segmentIds)) return "segmentIds is not an array"
  for (const id of segmentIds as ReadonlyArray<unknown>) {
    if (typeof id !== "string" || id.length === 0) return "segmentIds holds a value that is not a non-empty string"
  }
  return undefined
}

/** A transport's submit, seen from the router: typed failures only, and a time limit. */
export interface Edge {
  readonly submit: (submission: Transport.Submission, timeoutMillis: number) => Effect.Effect<Transport.SubmitResult, Transport.TransportError>
}

/** Builds the edge of one transport (its handlers once, not per submission). */
export const edgeOf = (transport: Transport.Transport): Edge => {
  const name = transport.name
  const onSuccess = (answer: Transport.SubmitResult): Effect.Effect<Transport.SubmitResult, Transport.TransportError> => {
    const problem = answerProblem(answer)
    return problem === undefined ? Effect.succeed(answer) : Effect.fail(violation(name, problem, true))
  }
  const onFailure = (cause: Cause.Cause<unknown>): Effect.Effect<never, Transport.TransportError> => {
    // the caller's interruption (or the time limit's) is not the transport's fault
    if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const error = Cause.findErrorOption(cause)
    if (Option.isNone(error)) return Effect.fail(violation(name, "submit died", false))
    return error.value instanceof Transport.TransportError
      ? Effect.fail(error.value)
      : Effect.fail(violation(name, "submit failed with a value that is not a TransportError", false))
  }
  const call = (submission: Transport.Submission) =>
    Effect.suspend((): Effect.Effect<unknown, unknown> => {
      let effect: unknown
      try {
        effect = transport.submit(submission)
      } catch {
        return Effect.fail(violation(name, "submit threw", false))
      }
      // a transport needs nothing from the context: `Transport.submit` has no requirements
      return Effect.isEffect(effect) ? (effect as Effect.Effect<unknown, unknown>) : Effect.fail(violation(name, "submit did not return an Effect", false))
    })
  const onTimeout = () => timedOut(name)
  return {
    submit: (submission, timeoutMillis) =>
      Effect.matchCauseEffect(within(call(submission), timeoutMillis, onTimeout), {
        onSuccess: (answer) => onSuccess(answer as Transport.SubmitResult),
        onFailure
      })
  }
}

/**
 * Runs `call` with a time limit. When the time is up, the call is
 * interrupted without waiting for it to end, so a transport that ignores
 * interruption (an uninterruptible wait) cannot hold the dispatch either; an
 * interrupted caller interrupts the call the same way. A call that completes
 * at once (a no-op or cached carrier) costs one fork and no timer.
 */
const within = <A, E>(
  call: Effect.Effect<A, E>,
  timeoutMillis: number,
  onTimeout: () => Transport.TransportError
): Effect.Effect<A, E | Transport.TransportError> =>
  Effect.uninterruptibleMask((restore) =>
    // detached: a child would hold its parent's exit until it ends, and this
    // one may never end
    Effect.flatMap(Effect.forkDetach(call, { startImmediately: true }), (fiber) => {
      const settled = fiber.pollUnsafe()
      if (settled !== undefined) return settled
      const abandon = Effect.forkDetach(Fiber.interrupt(fiber))
      return Effect.onInterrupt(
        restore(Effect.timeoutOrElse(Fiber.join(fiber), {
          duration: timeoutMillis,
          orElse: () => Effect.andThen(abandon, Effect.fail(onTimeout()))
        })),
        () => abandon
      )
    })
  )

/** Whether the carrier may have accepted a submission that failed this way. */
export const isUnknownOutcome = (error: unknown): boolean => {
  if (!(error instanceof Transport.TransportError)) return false
  const reason = error.reason
  return reason._tag === "Timeout" || (reason._tag === "ContractViolation" && reason.unknownOutcome)
}
