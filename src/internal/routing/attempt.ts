/**
 * One route's try at a message: its rate slots, each submission's time limit
 * (at the edge, where a contract violation is classified too), its circuit
 * and its retries, ending in the route's outcome.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as Semaphore from "effect/Semaphore"
import * as Retry from "../../Retry.ts"
import type * as Transport from "../../Transport.ts"
import type { Circuits } from "./circuits.ts"
import { type Edge, edgeOf, isUnknownOutcome } from "./edge.ts"
import type { RouteRule } from "./rules.ts"
import type { Candidate } from "./select.ts"
import { type Lane, type Pacing, type Rate, rateOf, RouteSaturated, takeSlots } from "./slots.ts"

/** What a route needs per submission. */
export interface RouteRuntime extends Lane {
  readonly timeoutMillis: number
  readonly edge: Edge
}

/** Where a route's runtime comes from; times in milliseconds. */
export interface RuntimeSettings {
  readonly transports: ReadonlyMap<string, Transport.Transport>
  readonly pacing: Pacing
  /** The router's time limit of one submission. */
  readonly defaultTimeout: number
  /** Per transport name; a route's own `timeoutMillis` wins. */
  readonly transportTimeouts: ReadonlyMap<string, number>
}

/** A route's runtime, built once per route of the current rules. */
export const makeRuntimes = (settings: RuntimeSettings): (route: RouteRule) => RouteRuntime => {
  const { defaultTimeout, pacing, transportTimeouts, transports } = settings
  const edges = new Map<string, Edge>()
  for (const [name, transport] of transports) edges.set(name, edgeOf(transport))
  const cache = new WeakMap<RouteRule, RouteRuntime>()
  // per route name, so they outlive a `setRules`
  const permits = new Map<string, Semaphore.Semaphore>()
  const queues = new Map<string, { waiting: number }>()
  const queueOf = (route: string) => {
    let queue = queues.get(route)
    if (queue === undefined) {
      queue = { waiting: 0 }
      queues.set(route, queue)
    }
    return queue
  }
  return (route) => {
    const cached = cache.get(route)
    if (cached !== undefined) return cached
    const transport = transports.get(route.transport)!
    const rates: Array<Rate> = []
    if (route.maxPerSecond !== undefined) rates.push(rateOf(pacing, "route", route.name, route.maxPerSecond))
    const carrier = transport.capabilities.maxPerSecond
    if (carrier !== undefined && carrier > 0) rates.push(rateOf(pacing, "transport", transport.name, carrier))
    // the slower rate first: it is the one likely to refuse, and a slot taken
    // before a refusal is lost
    rates.sort((a, b) => a.perSecond - b.perSecond)
    let permit = permits.get(route.name)
    if (permit === undefined) {
      permit = Semaphore.makeUnsafe(1)
      permits.set(route.name, permit)
    }
    const runtime: RouteRuntime = {
      rates,
      slowestSlot: rates.length === 0 ? 0 : Duration.toMillis(rates[0]!.slot),
      queue: queueOf(route.name),
      permit,
      timeoutMillis: route.timeoutMillis ?? transportTimeouts.get(transport.name) ?? defaultTimeout,
      edge: edges.get(transport.name)!
    }
    cache.set(route, runtime)
    return runtime
  }
}

/** What every route's try shares. */
export interface Attempts {
  readonly runtimeOf: (route: RouteRule) => RouteRuntime
  readonly circuits: Circuits
  readonly pacing: Pacing
  readonly policy: Retry.Policy
  /** The router's seed as text; a route's retry jitter is seeded by it, the message and the route. */
  readonly seedText: string
  /** Whether a route retries a failure (`unknownOutcome: "fail"` takes unknown outcomes out). */
  readonly retryable: (error: unknown) => boolean
}

export interface RouteFailure {
  readonly _tag: "Failed"
  readonly reason: string
  /** The carrier may have accepted the message (a timeout, a malformed "accepted" answer). */
  readonly unknown: boolean
}

export interface RouteOutcome {
  readonly attempts: number
  readonly result: { readonly _tag: "Submitted"; readonly value: Transport.SubmitResult } | RouteFailure
}

/** The message as a route's retries see it. */
export interface AttemptRequest {
  readonly messageId: string
  /** Epoch milliseconds; no submission starts after it. */
  readonly validUntil?: number | undefined
}

const routeFailure = (error: Transport.TransportError | CircuitBreaker.CircuitBreakerError | RouteSaturated): RouteFailure =>
  error instanceof RouteSaturated
    ? { _tag: "Failed", reason: error.reason, unknown: false }
    : { _tag: "Failed", reason: error.reason._tag, unknown: isUnknownOutcome(error) }

/**
 * Submissions on one route with its pacing, circuit and retries. `first`,
 * when given, is the failure of a submission already made outside them: it
 * is replayed as the retry schedule's first input.
 */
const retried = (
  attempts: Attempts,
  route: RouteRule,
  runtime: RouteRuntime,
  sent: Transport.Submission,
  request: AttemptRequest,
  first: Transport.TransportError | undefined
): Effect.Effect<RouteOutcome> => {
  let count = first === undefined ? 0 : 1
  const submit = Effect.suspend(() => {
    count++
    return runtime.edge.submit(sent, runtime.timeoutMillis)
  })
  const once = runtime.rates.length === 0
    ? attempts.circuits.guarded(route.name, submit)
    : Effect.andThen(takeSlots(attempts.pacing, runtime, request.validUntil), attempts.circuits.guarded(route.name, submit))
  let replay = first !== undefined
  const effect = replay
    ? Effect.suspend(() => {
      if (!replay || first === undefined) return once
      replay = false
      return Effect.fail(first)
    })
    : once
  return Effect.match(
    Retry.retry(effect, attempts.policy, {
      seed: `${attempts.seedText}\u0000${request.messageId}\u0000${route.name}`,
      deadline: request.validUntil,
      isRetryable: attempts.retryable
    }),
    {
      onSuccess: (value): RouteOutcome => ({ attempts: count, result: { _tag: "Submitted", value } }),
      onFailure: (error): RouteOutcome => ({ attempts: count, result: routeFailure(error) })
    }
  )
}

/** Tries one candidate with `submission` (its sender set to the candidate's) and hands its outcome to `next`. */
export const tryRoute = <A, E>(
  attempts: Attempts,
  candidate: Candidate,
  request: AttemptRequest,
  submission: Transport.Submission,
  next: (outcome: RouteOutcome) => Effect.Effect<A, E>
): Effect.Effect<A, E> => {
  const route = candidate.route
  const runtime = attempts.runtimeOf(route)
  const sent: Transport.Submission = candidate.from === submission.from ? submission : { ...submission, from: candidate.from }
  if (runtime.rates.length > 0 || !attempts.circuits.isSteady(route.name)) {
    return Effect.flatMap(retried(attempts, route, runtime, sent, request, undefined), next)
  }
  // A steady route without rates: the first submission goes straight to the
  // carrier, and only a failure takes the general path.
  return Effect.flatMap(Effect.exit(runtime.edge.submit(sent, runtime.timeoutMillis)), (first): Effect.Effect<A, E> => {
    const settled = attempts.circuits.settleDirect(route.name, first)
    let outcome: Effect.Effect<A, E>
    if (Exit.isSuccess(first)) {
      outcome = next({ attempts: 1, result: { _tag: "Submitted", value: first.value } })
    } else {
      const error = Exit.findErrorOption(first)
      // the edge leaves only interruptions untyped: pass them on
      outcome = Option.isNone(error)
        ? Effect.orDie(Effect.failCause(first.cause))
        : !attempts.retryable(error.value) || attempts.policy.maxAttempts <= 1
        ? next({ attempts: 1, result: routeFailure(error.value) })
        : Effect.flatMap(retried(attempts, route, runtime, sent, request, error.value), next)
    }
    return settled === undefined ? outcome : Effect.andThen(settled, outcome)
  })
}
