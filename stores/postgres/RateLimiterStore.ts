/**
 * effect's `RateLimiterStore` on PostgreSQL: the algorithms of effect's memory
 * store, with each key's state in one row that a transaction locks.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as SqlClient from "effect/sql/SqlClient"
import type * as Statement from "effect/sql/Statement"
import { Store } from "smsforge"
import { digest } from "../internal/digest.ts"

const GRACE = 60_000
const MAX_WINDOW = 60 * 60 * 1000
const clamp = (millis: number) => (Number.isNaN(millis) || millis <= 0 ? 1 : Math.min(millis, MAX_WINDOW))

interface Adaptive {
  phase: RateLimiter.AdaptivePhase
  epoch: number
  cooldownUntil: number
  learningStartedAt: number
  observedTokens: number
  learnedLimit: number
  learnedWindowMillis: number
  expiresAt: number
}

/**
 * Builds the store on table `<tablePrefix>rate_limits` (created when missing).
 *
 * **Details**
 * - Fixed windows, token buckets and adaptive (429 feedback) limits follow
 *   effect's memory store exactly; every operation is one transaction that
 *   locks the key's row, so instances share each limit.
 * - Rows carry an expiry; expired state counts as absent, and
 *   `purge` in this module's parent deletes it.
 * - The key column holds a SHA-256 digest of each limit's key, never the
 *   number, IP or tenant a key may name.
 * - Each operation is bounded by `timeout` (default `Store.defaultTimeout`);
 *   an outage fails with effect's `RateLimiterError` (`RateLimitStoreError`)
 *   whose cause is the shared `Store.StoreUnavailable`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRateLimiterStore = (tablePrefix: string, options: { readonly timeout?: Duration.Input | undefined } = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table: Table = { sql, name: sql(`${tablePrefix}rate_limits`), timeout: options.timeout ?? Store.defaultTimeout }
    yield* migrate(table)
    return RateLimiter.RateLimiterStore.of({
      fixedWindow: (options) => withState(table, "fixedWindow", `fw:${options.key}`, fixedWindow(options)),
      tokenBucket: (options) => withState(table, "tokenBucket", `tb:${options.key}`, tokenBucket(options)),
      adaptiveConsume: (options) => withState(table, "adaptiveConsume", `ad:${options.key}`, adaptiveConsume(options)),
      adaptiveFeedback: (options) => {
        if (options.status !== 429 || options.retryAfter === undefined) return Effect.void
        const retryAfter = clamp(Duration.toMillis(options.retryAfter))
        return withState(table, "adaptiveFeedback", `ad:${options.key}`, adaptiveFeedback(options, retryAfter))
      }
    })
  })

// The store's table, and the bound on each operation.
interface Table {
  readonly sql: SqlClient.SqlClient
  readonly name: Statement.Identifier
  readonly timeout: Duration.Input
}

const migrate = ({ name, sql, timeout }: Table) =>
  sql.withTransaction(
    Effect.andThen(
      sql`SELECT pg_advisory_xact_lock(7240193)`,
      sql`CREATE TABLE IF NOT EXISTS ${name} (
        key text PRIMARY KEY,
        state text NOT NULL,
        expires_at bigint NOT NULL
      )`
    )
  ).pipe(Store.guard("rate limit", "migrate", Duration.times(Duration.fromInputUnsafe(timeout), 6)))

/**
 * A step of a limit's algorithm: from the key's live state (absent when
 * expired) at `now`, the answer, the next state and when it expires.
 */
type Step<S, A> = (state: S | undefined, now: number) => readonly [A, S | undefined, number]

/** Runs `step` on the key's live state with the row locked, and stores what it answers. */
const withState = <S, A>(
  { name, sql, timeout }: Table,
  operation: string,
  key: string,
  step: Step<S, A>
): Effect.Effect<A, RateLimiter.RateLimiterError> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const id = digest(key)
    yield* sql`INSERT INTO ${name} (key, state, expires_at) VALUES (${id}, 'null', 0) ON CONFLICT (key) DO NOTHING`
    const rows = yield* sql<{ readonly state: string; readonly live: boolean }>`
      SELECT state, expires_at > ${now} AS live FROM ${name} WHERE key = ${id} FOR UPDATE`
    const row = rows[0]
    const current = row !== undefined && row.live ? (JSON.parse(row.state) as S | null) ?? undefined : undefined
    const [result, next, expiresAt] = step(current, now)
    if (next !== undefined || current !== undefined) {
      yield* sql`UPDATE ${name} SET state = ${JSON.stringify(next ?? null)}, expires_at = ${Math.ceil(expiresAt)}
        WHERE key = ${id}`
    }
    return result
  }).pipe(
    sql.withTransaction,
    Store.guard("rate limit", operation, timeout),
    Effect.mapError((cause) =>
      new RateLimiter.RateLimiterError({
        reason: new RateLimiter.RateLimitStoreError({ message: `Failed to execute ${operation} on PostgreSQL`, cause })
      })
    )
  )

type Options<K extends keyof RateLimiter.RateLimiterStore["Service"]> = Parameters<RateLimiter.RateLimiterStore["Service"][K]>[0]

const fixedWindow = (
  options: Options<"fixedWindow">
): Step<{ count: number; expiresAt: number }, readonly [number, number]> =>
(state, now) => {
  const refill = Duration.toMillis(options.refillRate)
  const counter = state === undefined || state.expiresAt <= now ? { count: 0, expiresAt: now } : { ...state }
  if (options.limit && counter.count + options.tokens > options.limit) {
    return [[counter.count + options.tokens, counter.expiresAt - now], state, counter.expiresAt]
  }
  counter.count += options.tokens
  counter.expiresAt += refill * options.tokens
  return [[counter.count, counter.expiresAt - now], counter, counter.expiresAt]
}

const tokenBucket = (
  options: Options<"tokenBucket">
): Step<{ tokens: number; lastRefill: number }, readonly [number, number]> =>
(state, now) => {
  const refill = Duration.toMillis(options.refillRate)
  const bucket = state === undefined ? { tokens: options.limit, lastRefill: now } : { ...state }
  const add = Math.floor((now - bucket.lastRefill) / refill)
  if (add > 0) {
    bucket.tokens = Math.min(options.limit, bucket.tokens + add)
    bucket.lastRefill += add * refill
  }
  if (bucket.tokens >= options.limit) bucket.lastRefill = now
  const remaining = bucket.tokens - options.tokens
  if (options.allowOverflow || remaining >= 0) bucket.tokens = remaining
  // Past this point the bucket is full again, the same as absent.
  const expiresAt = bucket.lastRefill + (options.limit - bucket.tokens + 1) * refill
  return [[remaining, Math.max(0, now - bucket.lastRefill)], bucket, expiresAt]
}

const adaptiveConsume = (
  options: Options<"adaptiveConsume">
): Step<Adaptive, RateLimiter.AdaptiveConsumeResult> =>
(state, now) => {
  if (state === undefined) return [{ delay: Duration.zero, epoch: 0, phase: "inactive" }, undefined, 0]
  const s = { ...state }
  if (s.phase === "cooldown") {
    if (s.cooldownUntil > now) {
      return [{ delay: Duration.millis(s.cooldownUntil - now), epoch: s.epoch, phase: "cooldown" }, state, state.expiresAt]
    }
    s.phase = "learning"
    s.epoch += 1
    s.learningStartedAt = now
    s.observedTokens = options.tokens
    s.expiresAt = now + Duration.toMillis(options.fallbackWindow) + GRACE
    return [{ delay: Duration.zero, epoch: s.epoch, phase: "learning" }, s, s.expiresAt]
  }
  if (s.phase === "learning") {
    s.observedTokens += options.tokens
    return [{ delay: Duration.zero, epoch: s.epoch, phase: s.phase }, s, s.expiresAt]
  }
  if (s.phase === "learned") {
    const refill = s.learnedWindowMillis / s.learnedLimit
    if (s.cooldownUntil <= now) {
      s.observedTokens = 0
      s.cooldownUntil = now
    }
    s.observedTokens += options.tokens
    s.cooldownUntil += refill * options.tokens
    const ttl = s.cooldownUntil - now
    const elapsed = s.observedTokens * refill - ttl
    const windowNumber = Math.floor((s.observedTokens - 1) / s.learnedLimit)
    const remaining = windowNumber * s.learnedWindowMillis - elapsed
    return [
      { delay: remaining <= 0 ? Duration.zero : Duration.millis(remaining), epoch: s.epoch, phase: s.phase },
      s,
      s.expiresAt
    ]
  }
  return [{ delay: Duration.zero, epoch: s.epoch, phase: s.phase }, state, state.expiresAt]
}

/** A 429 with its retry-after (clamped, in milliseconds) starts a cooldown, or ends learning with what was accepted. */
const adaptiveFeedback = (options: Options<"adaptiveFeedback">, retryAfter: number): Step<Adaptive, void> =>
(state, now) => {
  const cooldownUntil = now + retryAfter
  const cooldown = (epoch: number): Adaptive => ({
    phase: "cooldown",
    epoch,
    cooldownUntil,
    learningStartedAt: 0,
    observedTokens: 0,
    learnedLimit: 0,
    learnedWindowMillis: 0,
    expiresAt: cooldownUntil + GRACE
  })
  if (state === undefined) {
    return options.epoch !== 0 ? [undefined, undefined, 0] : [undefined, cooldown(0), cooldownUntil + GRACE]
  }
  if (state.epoch !== options.epoch) return [undefined, state, state.expiresAt]
  if (state.phase === "cooldown") {
    const until = Math.max(state.cooldownUntil, cooldownUntil)
    return [undefined, { ...state, cooldownUntil: until, expiresAt: until + GRACE }, until + GRACE]
  }
  if (state.phase === "learning") {
    const accepted = state.observedTokens - options.tokens
    if (accepted <= 0) return [undefined, cooldown(state.epoch), cooldownUntil + GRACE]
    const window = clamp(now - state.learningStartedAt + retryAfter)
    const learned: Adaptive = {
      ...state,
      phase: "learned",
      epoch: state.epoch + 1,
      cooldownUntil: state.learningStartedAt + window,
      observedTokens: accepted,
      learnedLimit: accepted,
      learnedWindowMillis: window,
      expiresAt: now + window + GRACE
    }
    return [undefined, learned, learned.expiresAt]
  }
  if (state.phase === "learned") return [undefined, cooldown(state.epoch), cooldownUntil + GRACE]
  return [undefined, state, state.expiresAt]
}

/**
 * @category layers
 * @since 0.1.0
 */
export const layerRateLimiterStore = (
  tablePrefix: string,
  options: { readonly timeout?: Duration.Input | undefined } = {}
): Layer.Layer<RateLimiter.RateLimiterStore, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(RateLimiter.RateLimiterStore, makeRateLimiterStore(tablePrefix, options))
