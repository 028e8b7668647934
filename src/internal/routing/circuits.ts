/**
 * A circuit breaker per route, and the steady routes that skip it.
 *
 * **Details**
 * - On the router's own memory store a circuit changes only through this
 *   router, so a route whose circuit is known to be closed is "steady": it
 *   submits directly, as `execute` costs more than the rest of a send (about
 *   6 µs). Its failure streak is counted here: a success ends it, as it would
 *   in the breaker, which never saw it, and the failure that completes the
 *   breaker's count replays the streak through `execute`, which opens the
 *   circuit, and makes the route unsteady. An unsteady route runs every call
 *   through `execute`. Every route starts steady: the store starts empty. A
 *   carrier failing now and then, or a failover route whose circuit never
 *   opens, costs no `execute`.
 * - On a shared store (Redis) other instances change the circuits too. A
 *   route whose last call through `execute` succeeded is steady for
 *   {@link sharedSteadyFor}, then asks the store again: an instance sees a
 *   circuit another one opened at most that late, and a busy route costs the
 *   store three scripts a second instead of three a send. Failures are
 *   recorded at once, as on the memory store.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import { loadStream } from "../lazy.ts"
import type * as Transport from "../../Transport.ts"
import type { RouteRule, Rules } from "./rules.ts"
import { type Health, matchingRoutes, type SelectRequest } from "./select.ts"

const CIRCUIT_PREFIX = "smsforge/Router/circuit/"

/** The circuit breaker's key of a route. */
export const circuitKey = (route: string): string => `${CIRCUIT_PREFIX}${route}`

const healthOf = (state: CircuitBreaker.State): Health => {
  switch (state._tag) {
    case "Closed":
      return "Closed"
    case "Open":
      return Duration.toMillis(state.retryAfter) > 0 ? "Open" : "HalfOpen"
    case "HalfOpen":
      return state.probing ? "Open" : "HalfOpen"
  }
}

// The circuit's view of a submission: the message's fault, or the carrier
// asking us to slow down, says nothing about the route's health.
const classifyReason = (tag: string): CircuitBreaker.Outcome["_tag"] => {
  switch (tag) {
    case "Rejected":
    case "InvalidNumber":
    case "Blocked":
    case "Throttled":
      return "Ignored"
    default:
      return "Failure"
  }
}

const outcomeOf = (exit: Exit.Exit<unknown, { readonly reason: { readonly _tag: string } }>): CircuitBreaker.Outcome["_tag"] => {
  if (Exit.isSuccess(exit)) return "Success"
  const error = Exit.findErrorOption(exit)
  if (Option.isSome(error)) return classifyReason(error.value.reason._tag)
  // as `execute` does: an interrupted call says nothing about the route
  return Cause.hasInterruptsOnly(exit.cause) ? "Ignored" : "Failure"
}

// effect's `success`, `ignored` and `failure()`, without loading its module at import
const outcomes: Record<CircuitBreaker.Outcome["_tag"], CircuitBreaker.Outcome> = {
  Success: { _tag: "Success" },
  Ignored: { _tag: "Ignored" },
  Failure: { _tag: "Failure", retryAfter: undefined }
}

const classify = (exit: Exit.Exit<unknown, Transport.TransportError>): CircuitBreaker.Outcome => outcomes[outcomeOf(exit)]

/**
 * Logs each circuit's transitions. Operators want to hear when a carrier is
 * cut off and when it comes back; route names are configuration, never
 * personal data.
 */
export const logTransitions = (breaker: CircuitBreaker.CircuitBreaker): Effect.Effect<void> =>
  Effect.flatMap(loadStream, (Stream) => Stream.runForEach(breaker.transitions, (transition) => {
    const route = transition.key.startsWith(CIRCUIT_PREFIX) ? transition.key.slice(CIRCUIT_PREFIX.length) : transition.key
    const annotated = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.annotateLogs(effect, { route, from: transition.from, to: transition.to })
    return transition.to === "Open"
      ? annotated(Effect.logWarning(`route ${route}: circuit open for ${Duration.format(transition.retryAfter)}`))
      : transition.to === "Closed"
      ? annotated(Effect.logInfo(`route ${route}: circuit closed again`))
      : annotated(Effect.logDebug(`route ${route}: circuit half-open, probing`))
  }))

/** The routes' circuits, as the router's submissions and plans use them. */
export interface Circuits {
  /** Whether a route submits without `execute` (see the module's Details). */
  readonly isSteady: (route: string) => boolean
  /** Whether every route is steady, so no plan needs to read a circuit. */
  readonly allSteady: () => boolean
  /** One submission under the route's circuit breaker. */
  readonly guarded: (
    route: string,
    call: Effect.Effect<Transport.SubmitResult, Transport.TransportError>
  ) => Effect.Effect<Transport.SubmitResult, Transport.TransportError | CircuitBreaker.CircuitBreakerError>
  /**
   * What the circuit must still record after a call made without `execute`:
   * a failure, or a success that arrived after the route turned unsteady.
   */
  readonly settleDirect: (
    route: string,
    exit: Exit.Exit<Transport.SubmitResult, Transport.TransportError>
  ) => Effect.Effect<void> | undefined
  /** The route's circuit as a plan ranks it; `"Unknown"` when the store cannot say. */
  readonly health: (route: string) => Effect.Effect<Health>
  /** What is known without reading the store: closed when steady. */
  readonly knownHealth: (route: RouteRule) => Health
}

/** How long a route on a shared store stays steady after a success through its circuit. */
export const sharedSteadyFor = 1_000

/**
 * `ownsStore`: the breaker's store is the router's own memory store, so routes
 * are steady until a streak of `tripAfter` failures (the breaker's trip
 * policy) opens their circuit; otherwise for {@link sharedSteadyFor} after a
 * success. `now` is the clock's time in milliseconds.
 */
export const makeCircuits = (
  breaker: CircuitBreaker.CircuitBreaker,
  ownsStore: boolean,
  tripAfter: number,
  now: () => number
): Circuits => {
  const unsteady = new Set<string>()
  // Failures of steady routes since their last success, not yet told to the breaker.
  const streaks = new Map<string, number>()
  const steadyUntil = new Map<string, number>()
  // Calls inside `execute` per route, and failures seen per route: a success
  // makes its route steady again only when no other call was still to be
  // recorded and no failure was recorded while it ran.
  const executing = new Map<string, number>()
  const failures = new Map<string, number>()
  const isSteady = ownsStore
    ? (route: string) => !unsteady.has(route)
    : (route: string) => (steadyUntil.get(route) ?? 0) > now()

  // Either way the breaker now holds the route's streak.
  const recordFailure = (route: string) => {
    streaks.delete(route)
    unsteady.add(route)
    steadyUntil.delete(route)
    failures.set(route, (failures.get(route) ?? 0) + 1)
  }

  const recordSuccess = (route: string) => {
    streaks.delete(route)
    unsteady.delete(route)
    if (!ownsStore) steadyUntil.set(route, now() + sharedSteadyFor)
  }

  const throughBreaker = <A>(route: string, call: Effect.Effect<A, Transport.TransportError>) =>
    Effect.suspend(() => {
      const failuresBefore = failures.get(route) ?? 0
      executing.set(route, (executing.get(route) ?? 0) + 1)
      return Effect.onExit(breaker.execute(call, { key: circuitKey(route), classify }), (exit) =>
        Effect.sync(() => {
          const left = (executing.get(route) ?? 1) - 1
          if (left === 0) executing.delete(route)
          else executing.set(route, left)
          const outcome = outcomeOf(exit)
          if (outcome === "Failure") recordFailure(route)
          else if (outcome === "Success" && left === 0 && (failures.get(route) ?? 0) === failuresBefore) recordSuccess(route)
        }))
    })

  const settleDirect = (route: string, exit: Exit.Exit<Transport.SubmitResult, Transport.TransportError>) => {
    const outcome = outcomeOf(exit)
    if (outcome === "Ignored") return undefined
    if (outcome === "Success") {
      if (!isSteady(route)) return Effect.ignore(throughBreaker(route, exit))
      streaks.delete(route)
      return undefined
    }
    if (ownsStore && isSteady(route)) {
      const streak = (streaks.get(route) ?? 0) + 1
      if (streak < tripAfter) {
        streaks.set(route, streak)
        return undefined
      }
      recordFailure(route)
      return Effect.repeat(Effect.ignore(throughBreaker(route, exit)), { times: streak - 1 })
    }
    recordFailure(route)
    return Effect.ignore(throughBreaker(route, exit))
  }

  const guarded = (route: string, call: Effect.Effect<Transport.SubmitResult, Transport.TransportError>) =>
    Effect.suspend(() =>
      isSteady(route)
        ? Effect.onExit(call, (exit) => settleDirect(route, exit) ?? Effect.void)
        : throughBreaker(route, call)
    )

  const health = (route: string): Effect.Effect<Health> =>
    breaker.state(circuitKey(route)).pipe(
      Effect.map(healthOf),
      Effect.orElseSucceed((): Health => "Unknown")
    )

  const knownHealth = (route: RouteRule): Health => (isSteady(route.name) ? "Closed" : "Unknown")

  return { isSteady, allSteady: () => ownsStore && unsteady.size === 0, guarded, settleDirect, health, knownHealth }
}

/** The circuit state of every matching route that is not known to be closed. */
export const snapshotHealth = Effect.fnUntraced(function*(circuits: Circuits, rules: Rules, request: SelectRequest) {
  let map: Map<string, Health> | undefined
  for (const route of matchingRoutes(rules, request)) {
    if (circuits.isSteady(route.name)) continue
    ;(map ??= new Map()).set(route.name, yield* circuits.health(route.name))
  }
  return map
})

/** A route's health as a plan ranks it: the snapshot's, else what is known without it. */
export const healthIn = (circuits: Circuits, snapshot: ReadonlyMap<string, Health> | undefined): (route: RouteRule) => Health =>
  snapshot === undefined ? circuits.knownHealth : (route) => snapshot.get(route.name) ?? circuits.knownHealth(route)
