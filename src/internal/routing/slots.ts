/**
 * Rate slots: a route's and its transport's `maxPerSecond`, paced by
 * effect/persistence `RateLimiter` right before each submission.
 *
 * **Details**
 * - A rate is enforced as slots of `1000 / maxPerSecond` ms, so no one-second
 *   window ever holds more than `maxPerSecond`. On a store shared between
 *   processes a slot is longer by the margin (see `slotMillis`), and a slot
 *   the store granted later than the margin is dropped and asked for again.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as RateLimiter from "effect/persistence/RateLimiter"
import type * as Semaphore from "effect/Semaphore"
import { withNow } from "../clock.ts"
import { hashedKey } from "../hashedKey.ts"

/** How the router's rate slots are taken. */
export interface Pacing {
  readonly limiter: RateLimiter.RateLimiter
  /** The rate store may be shared between processes (it is not the router's own memory store). */
  readonly sharedRates: boolean
  /** Milliseconds a slot may take from asking the store to the carrier; 0 unless shared. */
  readonly rateMargin: number
  /** The longest wait for a slot before failing over, in milliseconds; none when undefined. */
  readonly maxRateWait: number | undefined
}

export interface Rate {
  /** Hashed: the key never names the route or the transport. */
  readonly key: string
  readonly perSecond: number
  readonly slot: Duration.Duration
}

/** A route's rates and its turn in this process. */
export interface Lane {
  readonly rates: ReadonlyArray<Rate>
  /** The longest slot of the route's rates (they are sorted slowest first), in milliseconds. */
  readonly slowestSlot: number
  /** Callers of this process waiting for or holding the route's turn. */
  readonly queue: { waiting: number }
  /** One caller per route and process asks the store for slots at a time. */
  readonly permit: Semaphore.Semaphore
}

/** Why a route gave up on its rate slot. */
export class RouteSaturated {
  readonly _tag = "RouteSaturated"
  readonly reason: "RouteSaturated" | "DeadlineExceeded" | "RateLimiterUnavailable"
  constructor(reason: "RouteSaturated" | "DeadlineExceeded" | "RateLimiterUnavailable") {
    this.reason = reason
  }
}

/**
 * The rate slot of one key, in milliseconds. On the router's own memory
 * store a slot is exact. On a shared store it holds the margin too (a
 * submission reaches the carrier up to `margin` after its slot began), and
 * 1 ms more, since the store keeps whole milliseconds and expires a key up to
 * 1 ms early: so any N + 1 submissions span at least a second.
 */
export const slotMillis = (perSecond: number, shared: boolean, marginMillis: number): number =>
  shared ? Math.ceil((1000 + marginMillis) / perSecond + 1) : 1000 / perSecond

// Slots in a row that a shared store granted too late before a route gives up.
const maxStaleSlots = 10

export const rateOf = (pacing: Pacing, kind: "route" | "transport", name: string, perSecond: number): Rate => ({
  key: hashedKey("smsforge/Router/rate", [kind, name]),
  perSecond,
  slot: Duration.millis(slotMillis(perSecond, pacing.sharedRates, pacing.rateMargin))
})

/** Takes a slot of one rate now (0), or says how long until the current one ends. */
const claim = (limiter: RateLimiter.RateLimiter, rate: Rate): Effect.Effect<number, RouteSaturated> =>
  Effect.matchEffect(
    limiter.consume({ algorithm: "fixed-window", onExceeded: "fail", key: rate.key, limit: 1, window: rate.slot }),
    {
      onSuccess: () => Effect.succeed(0),
      onFailure: (error) =>
        error.reason._tag === "RateLimitExceeded"
          ? Effect.succeed(Math.max(1, Duration.toMillis(error.reason.retryAfter)))
          : Effect.fail(new RouteSaturated("RateLimiterUnavailable"))
    }
  )

const claimAll = Effect.fnUntraced(function*(limiter: RateLimiter.RateLimiter, rates: ReadonlyArray<Rate>) {
  for (const rate of rates) {
    const wait = yield* claim(limiter, rate)
    if (wait > 0) return wait
  }
  return 0
})

/** The claim loop of {@link takeSlots}, run by the caller holding the route's turn; `start` is its arrival. */
const claimSlots = (pacing: Pacing, lane: Lane, validUntil: number | undefined, start: number) =>
  Effect.gen(function*() {
    const { maxRateWait, rateMargin, sharedRates } = pacing
    let stale = 0
    while (true) {
      const before = yield* Clock.currentTimeMillis
      // a caller whose turn came late must not start after its deadline
      if (validUntil !== undefined && before > validUntil) return yield* Effect.fail(new RouteSaturated("DeadlineExceeded"))
      const wait = yield* claimAll(pacing.limiter, lane.rates)
      const now = yield* Clock.currentTimeMillis
      if (wait === 0) {
        if (!sharedRates || now - before <= rateMargin) return
        // the store answered too late for the slot to hold: drop it, ask
        // again; a store that is always that slow is as good as down
        if (++stale >= maxStaleSlots) return yield* Effect.fail(new RouteSaturated("RateLimiterUnavailable"))
        continue
      }
      if (maxRateWait !== undefined && now - start + wait > maxRateWait) return yield* Effect.fail(new RouteSaturated("RouteSaturated"))
      if (validUntil !== undefined && now + wait > validUntil) return yield* Effect.fail(new RouteSaturated("DeadlineExceeded"))
      // the store measured `wait` before its answer travelled back: ask
      // again so as to reach it when the slot ends, not a round trip later
      yield* Effect.sleep(Duration.millis(Math.max(1, wait - (now - before))))
    }
  })

/**
 * Takes a slot of each of the route's rates right before a submission,
 * waiting while another caller (in any process sharing the store) holds
 * one. Slots are taken, never reserved ahead: a caller that wakes late
 * takes a later slot instead of crowding the next caller's. In this
 * process, one caller per route asks the store at a time, in arrival order;
 * `maxRateWait` and `validUntil` bound the wait for that turn too.
 */
export const takeSlots = (pacing: Pacing, lane: Lane, validUntil: number | undefined): Effect.Effect<void, RouteSaturated> =>
  withNow((now) => {
    const maxRateWait = pacing.maxRateWait
    const untilDeadline = validUntil === undefined ? undefined : validUntil - now
    const byDeadline = untilDeadline !== undefined && (maxRateWait === undefined || untilDeadline <= maxRateWait)
    const budget = byDeadline ? untilDeadline : maxRateWait
    // each caller ahead takes a slot first: fail over now when that alone
    // is longer than the budget, rather than wait in the queue for nothing
    if (budget !== undefined && lane.queue.waiting * lane.slowestSlot > budget) {
      return Effect.fail(new RouteSaturated(byDeadline ? "DeadlineExceeded" : "RouteSaturated"))
    }
    lane.queue.waiting++
    const turn = Effect.ensuring(
      lane.permit.withPermit(claimSlots(pacing, lane, validUntil, now)),
      Effect.sync(() => {
        lane.queue.waiting--
      })
    )
    if (budget === undefined) return turn
    // 1 ms of slack: within the budget, the claim loop decides and says why
    return Effect.timeoutOrElse(turn, {
      duration: Math.max(0, budget) + 1,
      orElse: () => Effect.fail(new RouteSaturated(byDeadline ? "DeadlineExceeded" : "RouteSaturated"))
    })
  })
