/**
 * Carrier balances, polled on a schedule: an alert when one runs low, and a
 * floor below which the router should skip the route before the carrier
 * refuses with `InsufficientFunds`.
 *
 * **Details**
 * - A {@link BalanceSource} is a route and an effect that reads its
 *   carrier's balance: `Twilio.balance(config)` from
 *   `smsforge/transports/twilio`, the same for Vonage, Alibaba Cloud and
 *   Tencent Cloud, or any `Effect<Pricing.Money>` of your own.
 * - Every source is read when the monitor starts, then on the `schedule`
 *   (default every 5 minutes). A failed read keeps the last good balance and
 *   raises {@link BalanceQueryFailed}.
 * - {@link BalanceLow} is raised once when a balance falls below its
 *   source's `alertBelow` (default its `floor`), and
 *   {@link BalanceRecovered} once when it is back at or above it.
 * - `isBelowFloor(route)` is `true` only on evidence: a fresh reading
 *   (younger than `maxAge`) in the floor's currency below the floor. An
 *   unknown, stale or failed reading never takes a route out.
 *
 * **Example** (Alert below 20 USD, skip below 5 USD)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { BalanceMonitor, Pricing } from "smsforge"
 *
 * const monitor = BalanceMonitor.layer({
 *   sources: [{
 *     route: "twilio-us",
 *     query: Effect.succeed(Pricing.fromMicros(12_500_000n, "USD")),
 *     alertBelow: Pricing.fromMicros(20_000_000n, "USD"),
 *     floor: Pricing.fromMicros(5_000_000n, "USD")
 *   }]
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { loadPubSub } from "./internal/lazy.ts"
import type * as Pricing from "./Pricing.ts"

// models

/**
 * A route whose carrier can report its balance.
 *
 * @category models
 * @since 0.1.0
 */
export interface BalanceSource {
  readonly route: string
  /** Reads the balance, e.g. `Twilio.balance(config)`. */
  readonly query: Effect.Effect<Pricing.Money, unknown>
  /** Below this the route is skipped (`isBelowFloor`). */
  readonly floor?: Pricing.Money | undefined
  /** Below this {@link BalanceLow} is raised; default `floor`. */
  readonly alertBelow?: Pricing.Money | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface BalanceMonitorOptions {
  readonly sources: ReadonlyArray<BalanceSource>
  /** When to read again; default every 5 minutes. */
  readonly schedule?: Schedule.Schedule<unknown> | undefined
  /** How long a reading counts for `isBelowFloor`; default 1 hour. */
  readonly maxAge?: Duration.Input | undefined
  /**
   * How long building the monitor waits for the first reading of every
   * source, so that a route already below its floor is skipped from the
   * first send; default 0, no wait. A source slower than this is read on in
   * the background.
   */
  readonly awaitFirstReading?: Duration.Input | undefined
  /**
   * Called with every event, in order: an alert hook that sees the first
   * poll's events too, which a `subscribe` made after the layer is built can
   * miss.
   */
  readonly onEvent?: ((event: BalanceEvent) => Effect.Effect<void>) | undefined
}

/**
 * The last reading of a route.
 *
 * @category models
 * @since 0.1.0
 */
export interface Reading {
  readonly route: string
  /** The last balance read, if any read succeeded. */
  readonly balance?: Pricing.Money | undefined
  /** When `balance` was read (epoch milliseconds). */
  readonly at?: number | undefined
  /** The tag of the last read's failure, when the last read failed. */
  readonly failure?: string | undefined
}

/**
 * A balance fell below its source's `alertBelow`.
 *
 * @category events
 * @since 0.1.0
 */
export interface BalanceLow {
  readonly _tag: "BalanceLow"
  readonly route: string
  readonly balance: Pricing.Money
  readonly threshold: Pricing.Money
  /** Whether it is below the floor too: the route is now skipped. */
  readonly belowFloor: boolean
  readonly at: number
}

/**
 * A low balance is back at or above its threshold.
 *
 * @category events
 * @since 0.1.0
 */
export interface BalanceRecovered {
  readonly _tag: "BalanceRecovered"
  readonly route: string
  readonly balance: Pricing.Money
  readonly threshold: Pricing.Money
  readonly at: number
}

/**
 * A balance could not be read; `reason` is the failure's tag (or
 * `CurrencyMismatch` when the carrier answered in another currency than the
 * source's thresholds).
 *
 * @category events
 * @since 0.1.0
 */
export interface BalanceQueryFailed {
  readonly _tag: "BalanceQueryFailed"
  readonly route: string
  readonly reason: string
  readonly at: number
}

/**
 * @category events
 * @since 0.1.0
 */
export type BalanceEvent = BalanceLow | BalanceRecovered | BalanceQueryFailed

// service

/**
 * The monitor.
 *
 * @category services
 * @since 0.1.0
 */
export class BalanceMonitor extends Context.Service<BalanceMonitor, {
  /** Whether a fresh reading puts the route below its floor: skip it. */
  readonly isBelowFloor: (route: string) => Effect.Effect<boolean>
  /** Every route `isBelowFloor` would answer `true` for. */
  readonly belowFloor: Effect.Effect<ReadonlySet<string>>
  readonly readings: Effect.Effect<ReadonlyArray<Reading>>
  /** Reads every source now. */
  readonly refresh: Effect.Effect<void>
  readonly subscribe: Effect.Effect<PubSub.Subscription<BalanceEvent>, never, Scope.Scope>
}>()("smsforge/BalanceMonitor") {}

// make

interface State {
  readonly reading: Reading
  /** Whether BalanceLow was raised and not yet answered by BalanceRecovered. */
  readonly low: boolean
}

const failureTag = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return "Unknown"
  const reason = (error as { readonly reason?: { readonly _tag?: unknown } }).reason
  if (typeof reason?._tag === "string") return reason._tag
  const tag = (error as { readonly _tag?: unknown })._tag
  return typeof tag === "string" ? tag : "Unknown"
}

const below = (balance: Pricing.Money, limit: Pricing.Money | undefined): boolean =>
  limit !== undefined && balance.currency === limit.currency && balance.micros < limit.micros

/** The next state and the events a new balance raises. */
const judge = (source: BalanceSource, state: State, balance: Pricing.Money, at: number): readonly [State, ReadonlyArray<BalanceEvent>] => {
  const threshold = source.alertBelow ?? source.floor
  const reading: Reading = { route: source.route, balance, at }
  if (threshold !== undefined && balance.currency !== threshold.currency) {
    return [{ reading: { ...reading, failure: "CurrencyMismatch" }, low: state.low }, [
      { _tag: "BalanceQueryFailed", route: source.route, reason: "CurrencyMismatch", at }
    ]]
  }
  if (threshold === undefined) return [{ reading, low: false }, []]
  const isLow = below(balance, threshold)
  if (isLow && !state.low) {
    return [{ reading, low: true }, [{ _tag: "BalanceLow", route: source.route, balance, threshold, belowFloor: below(balance, source.floor), at }]]
  }
  if (!isLow && state.low) return [{ reading, low: false }, [{ _tag: "BalanceRecovered", route: source.route, balance, threshold, at }]]
  return [{ reading, low: state.low }, []]
}

const poll = (
  source: BalanceSource,
  state: Ref.Ref<State>,
  publish: (events: ReadonlyArray<BalanceEvent>) => Effect.Effect<void>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const result = yield* Effect.result(source.query)
    const at = yield* Clock.currentTimeMillis
    // one atomic step from the old state to the new: two polls racing raise an event once
    const raised = yield* Ref.modify(state, (current): readonly [ReadonlyArray<BalanceEvent>, State] => {
      if (result._tag === "Success") {
        const [next, events] = judge(source, current, result.success, at)
        return [events, next]
      }
      const reason = failureTag(result.failure)
      return [[{ _tag: "BalanceQueryFailed", route: source.route, reason, at }], {
        ...current,
        reading: { ...current.reading, failure: reason }
      }]
    })
    yield* publish(raised)
  }).pipe(Effect.catchCause(() => Effect.void))

/**
 * Builds the monitor and starts polling in the current scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: BalanceMonitorOptions): Effect.Effect<BalanceMonitor["Service"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const pubsubs = yield* loadPubSub
    const events = yield* pubsubs.sliding<BalanceEvent>(1024)
    const maxAge = Duration.toMillis(Duration.fromInputUnsafe(options.maxAge ?? Duration.hours(1)))
    const sources = new Map<string, { readonly source: BalanceSource; readonly state: Ref.Ref<State> }>()
    for (const source of options.sources) {
      sources.set(source.route, { source, state: yield* Ref.make<State>({ reading: { route: source.route }, low: false }) })
    }
    const entries = [...sources.values()]
    const publish = (raised: ReadonlyArray<BalanceEvent>) =>
      Effect.andThen(
        pubsubs.publishAll(events, raised),
        options.onEvent === undefined ? Effect.void : Effect.forEach(raised, options.onEvent, { discard: true })
      )
    const refresh = Effect.forEach(entries, ({ source, state }) => poll(source, state, publish), {
      concurrency: "unbounded",
      discard: true
    })
    const isBelowFloor = (route: string): Effect.Effect<boolean> => {
      const entry = sources.get(route)
      if (entry === undefined || entry.source.floor === undefined) return Effect.succeed(false)
      const floor = entry.source.floor
      return Effect.flatMap(Ref.get(entry.state), ({ reading }) =>
        Effect.map(Clock.currentTimeMillis, (now) =>
          reading.balance !== undefined && reading.at !== undefined && now - reading.at <= maxAge && below(reading.balance, floor)))
    }
    const firstReading = yield* Deferred.make<void>()
    yield* Effect.forkScoped(Effect.repeat(
      Effect.andThen(refresh, Deferred.succeed(firstReading, undefined)),
      options.schedule ?? Schedule.spaced(Duration.minutes(5))
    ))
    const wait = options.awaitFirstReading === undefined ? 0 : Duration.toMillis(Duration.fromInputUnsafe(options.awaitFirstReading))
    if (wait > 0) yield* Effect.ignore(Effect.timeout(Deferred.await(firstReading), wait))
    return BalanceMonitor.of({
      isBelowFloor,
      belowFloor: Effect.map(
        Effect.filter([...sources.keys()], isBelowFloor),
        (routes) => new Set(routes)
      ),
      readings: Effect.forEach(entries, ({ state }) => Effect.map(Ref.get(state), (s) => s.reading)),
      refresh,
      subscribe: pubsubs.subscribe(events)
    })
  })

/**
 * The monitor, polling for the layer's lifetime.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: BalanceMonitorOptions): Layer.Layer<BalanceMonitor> => Layer.effect(BalanceMonitor, make(options))
