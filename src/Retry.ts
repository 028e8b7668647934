/**
 * Retry policies for carrier submissions, as an Effect `Schedule`.
 *
 * **Details**
 * - Exponential backoff: the n-th retry waits `base × factor^(n-1)`, times a
 *   jitter multiplier in `[1 - jitter, 1 + jitter]`, capped at `cap`.
 * - The jitter is derived from a seed and the retry number, so the same seed
 *   gives the same delays: tests and the `delays` function see exactly what
 *   the schedule does.
 * - `maxAttempts` counts submissions, the first one included: `3` means at
 *   most two retries.
 * - A deadline (the message's `validUntil`, epoch milliseconds) stops the
 *   schedule before a retry that would start after it.
 * - Only retryable failures are retried ({@link isRetryable}: a
 *   `TransportError` whose reason is `Throttled`, `Unavailable` or `Timeout`).
 * - A `Throttled` failure's `retryAfter` is honoured: the next retry waits at
 *   least that long, even beyond `cap`, but never past the deadline.
 *
 * **Gotchas**
 * - The jitter is bounded by `(factor - 1) / (factor + 1)` (a third for the
 *   default factor 2), so delays never decrease from one retry to the next.
 *
 * **Example** (Delays of the default policy)
 *
 * ```ts
 * import { Retry } from "smsforge"
 *
 * Retry.delays(Retry.policy({ base: "100 millis", jitter: 0, maxAttempts: 4 }))
 * // => [100, 200, 400]
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { seedOf, unit } from "./internal/seededHash.ts"
import { TransportError } from "./Transport.ts"

// models

/**
 * A normalised retry policy. Durations are milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export interface Policy {
  /** Delay before the first retry, before jitter. */
  readonly base: number
  /** Growth factor between retries, at least 1. */
  readonly factor: number
  /** No computed delay exceeds this (a `retryAfter` hint may). */
  readonly cap: number
  /** Submissions per route, the first one included; at least 1. */
  readonly maxAttempts: number
  /** Relative jitter in `[0, (factor - 1) / (factor + 1)]`. */
  readonly jitter: number
}

/**
 * What a user writes; every field is optional and out-of-range values are
 * clamped, never thrown.
 *
 * @category models
 * @since 0.1.0
 */
export interface PolicyOptions {
  readonly base?: Duration.Input | undefined
  readonly factor?: number | undefined
  readonly cap?: Duration.Input | undefined
  readonly maxAttempts?: number | undefined
  readonly jitter?: number | undefined
}

/**
 * The default policy: 200 ms, ×2, capped at 10 s, 3 attempts, ±20 % jitter.
 *
 * @category constructors
 * @since 0.1.0
 */
export const defaultPolicy: Policy = { base: 200, factor: 2, cap: 10_000, maxAttempts: 3, jitter: 0.2 }

const millisOf = (input: Duration.Input | undefined, fallback: number): number => {
  if (input === undefined) return fallback
  const decoded = Duration.fromInput(input)
  if (Option.isNone(decoded)) return fallback
  const ms = Duration.toMillis(decoded.value)
  return Number.isFinite(ms) && ms >= 0 ? ms : fallback
}

/**
 * The largest jitter that keeps delays non-decreasing for a factor.
 *
 * @category utils
 * @since 0.1.0
 */
export const maxJitter = (factor: number): number => (factor <= 1 ? 0 : (factor - 1) / (factor + 1))

/**
 * Builds a {@link Policy} from options, filling defaults and clamping values
 * into range.
 *
 * @category constructors
 * @since 0.1.0
 */
export const policy = (options: PolicyOptions = {}): Policy => {
  const base = millisOf(options.base, defaultPolicy.base)
  const factor = options.factor !== undefined && Number.isFinite(options.factor) && options.factor >= 1
    ? options.factor
    : defaultPolicy.factor
  const cap = Math.max(base, millisOf(options.cap, Math.max(base, defaultPolicy.cap)))
  const maxAttempts = options.maxAttempts !== undefined && Number.isFinite(options.maxAttempts)
    ? Math.max(1, Math.floor(options.maxAttempts))
    : defaultPolicy.maxAttempts
  const requested = options.jitter !== undefined && Number.isFinite(options.jitter)
    ? Math.max(0, options.jitter)
    : defaultPolicy.jitter
  return { base, factor, cap, maxAttempts, jitter: Math.min(requested, maxJitter(factor)) }
}

// pure timing

/**
 * The delay before retry `n` (1 for the first retry), in whole milliseconds.
 *
 * @category utils
 * @since 0.1.0
 */
export const delay = (self: Policy, n: number, seed?: number | string): number => {
  const raw = self.base * Math.pow(self.factor, Math.max(0, n - 1))
  const multiplier = self.jitter === 0 ? 1 : 1 - self.jitter + 2 * self.jitter * unit(seedOf(seed), "retry", n)
  return Math.floor(Math.min(self.cap, raw * multiplier))
}

/**
 * Every delay the policy would wait, in order, when each attempt fails
 * instantly with a retryable reason and no `retryAfter`.
 *
 * **Details**
 * - At most `maxAttempts - 1` delays.
 * - With a `deadline`, stops before the first retry that would start after it
 *   (`start` is the time of the first attempt, default 0).
 *
 * @category utils
 * @since 0.1.0
 */
export const delays = (
  self: Policy,
  options: { readonly seed?: number | string | undefined; readonly start?: number | undefined; readonly deadline?: number | undefined } = {}
): ReadonlyArray<number> => {
  const out: Array<number> = []
  let now = options.start ?? 0
  for (let n = 1; n < self.maxAttempts; n++) {
    const d = delay(self, n, options.seed)
    if (options.deadline !== undefined && now + d > options.deadline) break
    now += d
    out.push(d)
  }
  return out
}

// predicates

/**
 * Whether a failure is worth retrying: a `TransportError` with a retryable
 * reason.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isRetryable = (error: unknown): boolean => error instanceof TransportError && error.isRetryable

/**
 * The carrier's "retry after" in milliseconds, when the failure carries one.
 *
 * @category utils
 * @since 0.1.0
 */
export const retryAfterMillis = (error: unknown): number | undefined => {
  if (!(error instanceof TransportError) || error.reason._tag !== "Throttled") return undefined
  const after = error.reason.retryAfter
  return after === undefined ? undefined : Duration.toMillis(after)
}

// schedule

/**
 * The policy as a `Schedule` over failures; its output is the retry number.
 *
 * **Details**
 * - Stops after `maxAttempts - 1` retries, or before a retry that would start
 *   after `deadline` (epoch milliseconds, read from the `Clock`).
 * - Waits at least a `Throttled` failure's `retryAfter`.
 * - Pair it with {@link isRetryable} as the `while` of `Effect.retry`, or use
 *   {@link retry}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const schedule = (
  self: Policy,
  options: { readonly seed?: number | string | undefined; readonly deadline?: number | undefined } = {}
): Schedule.Schedule<number, unknown> =>
  Schedule.fromStepWithMetadata(Effect.succeed((meta: Schedule.InputMetadata<unknown>) => {
    const n = meta.attempt
    if (n >= self.maxAttempts) return Cause.done(n)
    const computed = delay(self, n, options.seed)
    const hint = retryAfterMillis(meta.input)
    const wait = hint === undefined ? computed : Math.max(computed, hint)
    if (options.deadline !== undefined && meta.now + wait > options.deadline) return Cause.done(n)
    return Effect.succeed([n, Duration.millis(wait)] as [number, Duration.Duration])
  }))

/**
 * Retries an effect with a policy, only for retryable failures.
 *
 * **Details**
 * - The first attempt runs on its own: setting up `Effect.retry` costs more
 *   than a successful submission, and most submissions succeed. Its failure is
 *   then replayed as the first input of the schedule, so the timing is the
 *   same as `Effect.retry` with {@link schedule}.
 *
 * @category combinators
 * @since 0.1.0
 */
export const retry = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  self: Policy,
  options: {
    readonly seed?: number | string | undefined
    readonly deadline?: number | undefined
    /** Which failures to retry; default {@link isRetryable}. */
    readonly isRetryable?: ((error: unknown) => boolean) | undefined
  } = {}
): Effect.Effect<A, E, R> => {
  const retryable = options.isRetryable ?? isRetryable
  return self.maxAttempts <= 1 ? effect : Effect.catchIf(effect, retryable, (first) => {
    let replay = true
    const again = Effect.suspend(() => {
      if (!replay) return effect
      replay = false
      return Effect.fail(first)
    })
    return Effect.retry(again, { schedule: schedule(self, options), while: retryable })
  })
}
