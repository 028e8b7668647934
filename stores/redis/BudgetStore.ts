/**
 * The budget's counters on Redis, shared by every instance of an application.
 *
 * **Details**
 * - `reserve` is one Lua script: it checks every hard limit and, only when all
 *   have room, `INCRBY`s every counter and records the reservation, so
 *   concurrent reservations from any number of instances never pass a cap.
 * - `release` and `commit` are one script each: they delete the reservation's
 *   record and adjust its counters, so each applies once.
 * - Counters live under `<prefix>budget:c:<digest>` with a TTL past their
 *   period's end, where the digest is the SHA-256 of the counter's name (cap,
 *   tenant, period), so no key name holds a tenant; reservations under
 *   `<prefix>budget:r:` with their own TTL. A reservation's record names its
 *   counters until it is committed or released, because `commit` answers them.
 * - Every call is bounded by `timeout` (default `Store.defaultTimeout`, 5
 *   seconds) and fails with the shared `Store.StoreUnavailable` when Redis
 *   does not answer or fails.
 *
 * **Gotchas**
 * - Scripts touch keys they read from the reservation record, so the store
 *   needs a single Redis (or a replica set), not Redis Cluster.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import { Store } from "smsforge"
// `import { Budget } from "smsforge"` once the package exports Budget
import { Budget } from "smsforge"
import { digest } from "../internal/digest.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface BudgetStoreOptions {
  /** Prepended to every key. Default `"smsforge:"`. */
  readonly prefix?: string | undefined
  /** The time limit on each call. Default `Store.defaultTimeout` (5 seconds). */
  readonly timeout?: Duration.Input | undefined
}

/*
 * KEYS: reservation, counters…
 * ARGV: reservation record (JSON), its PX, then per counter: amount, limit ("" when soft), PX.
 * A record's holds are {k: counter key, n: counter name, a: amount, s: 1 when spend}.
 * Answers {-1} when the id is held, {0, index, used} when a limit would be
 * passed, else {1, used after…}.
 */
const reserveScript = Redis.script(
  (keys: ReadonlyArray<string>, args: ReadonlyArray<string>) => [...keys, ...args],
  {
    numberOfKeys: (keys) => keys.length,
    lua: `
if redis.call("EXISTS", KEYS[1]) == 1 then return {-1} end
local n = #KEYS - 1
for i = 1, n do
  local base = 3 + (i - 1) * 3
  local limit = ARGV[base + 1]
  if limit ~= "" then
    local used = tonumber(redis.call("GET", KEYS[i + 1]) or "0")
    if used + tonumber(ARGV[base]) > tonumber(limit) then return {0, i - 1, used} end
  end
end
local out = {1}
for i = 1, n do
  local base = 3 + (i - 1) * 3
  out[i + 1] = redis.call("INCRBY", KEYS[i + 1], ARGV[base])
  local ttl = tonumber(ARGV[base + 2])
  if redis.call("PTTL", KEYS[i + 1]) < ttl then redis.call("PEXPIRE", KEYS[i + 1], ttl) end
end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return out
`
  }
).withReturnType<ReadonlyArray<number | string>>()

// amounts travel as strings: cjson keeps only 14 significant digits of a number
const releaseScript = Redis.script((key: string) => [key], {
  numberOfKeys: 1,
  lua: `
local held = redis.call("GET", KEYS[1])
if not held then return 0 end
redis.call("DEL", KEYS[1])
for _, h in ipairs(cjson.decode(held)) do
  if redis.call("EXISTS", h.k) == 1 then redis.call("DECRBY", h.k, h.a) end
end
return 1
`
}).withReturnType<number>()

/* ARGV[1]: the actual cost. Answers {name, used after, name, used after…} for the spend counters. */
const commitScript = Redis.script((key: string, actual: string) => [key, actual], {
  numberOfKeys: 1,
  lua: `
local held = redis.call("GET", KEYS[1])
if not held then return {} end
redis.call("DEL", KEYS[1])
local out = {}
for _, h in ipairs(cjson.decode(held)) do
  if h.s == 1 and redis.call("EXISTS", h.k) == 1 then
    redis.call("INCRBY", h.k, ARGV[1])
    table.insert(out, h.n or h.k)
    table.insert(out, redis.call("DECRBY", h.k, h.a))
  end
end
return out
`
}).withReturnType<ReadonlyArray<number | string>>()

const toBigInt = (value: number | string | null | undefined): bigint => (value === null || value === undefined ? 0n : BigInt(value))

/**
 * Builds the store on the `Redis` service in the context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeBudgetStore = (options: BudgetStoreOptions = {}): Effect.Effect<Budget.BudgetStore["Service"], never, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const prefix = `${options.prefix ?? "smsforge:"}budget:`
    const counter = (name: string) => `${prefix}c:${digest(name)}`
    const reservation = (id: string) => `${prefix}r:${id}`
    const reserve = redis.eval(reserveScript)
    const release = redis.eval(releaseScript)
    const commit = redis.eval(commitScript)
    const guard = (operation: string) => Store.guard("budget", operation, options.timeout ?? Store.defaultTimeout)

    return Budget.BudgetStore.of({
      reserve: (id, holds, expiresAt) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const px = (at: number) => String(Math.max(1, Math.ceil(at - now)))
          const record = JSON.stringify(
            holds.map((h) => ({ k: counter(h.key), n: h.key, a: h.amount.toString(), s: h.spend ? 1 : 0 }))
          )
          const args = [record, px(expiresAt), ...holds.flatMap((h) => [h.amount.toString(), h.limit?.toString() ?? "", px(h.expiresAt)])]
          const answer = yield* reserve([reservation(id), ...holds.map((h) => counter(h.key))], args)
          const [tag, ...rest] = answer.map((v) => Number(v))
          if (tag === -1) return { _tag: "AlreadyHeld" } as const
          if (tag === 0) return { _tag: "Exceeded", index: rest[0] ?? 0, used: toBigInt(answer[2]) } as const
          return { _tag: "Reserved", used: answer.slice(1).map(toBigInt) } as const
        }).pipe(guard("reserve")),
      release: (id) => Effect.map(release(reservation(id)), (n) => Number(n) === 1).pipe(guard("release")),
      commit: (id, actual) =>
        Effect.map(commit(reservation(id), actual.toString()), (answer) => {
          const out: Array<readonly [string, bigint]> = []
          for (let i = 0; i + 1 < answer.length; i += 2) out.push([String(answer[i]), toBigInt(answer[i + 1])])
          return out
        }).pipe(guard("commit")),
      get: (keys) =>
        keys.length === 0
          ? Effect.succeed([])
          : redis.send<ReadonlyArray<string | null>>("MGET", ...keys.map(counter)).pipe(
            Effect.map((values) => values.map(toBigInt)),
            guard("get")
          )
    })
  })

/**
 * `Budget.BudgetStore` on the `Redis` service in the context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerBudgetStore = (options: BudgetStoreOptions = {}): Layer.Layer<Budget.BudgetStore, never, Redis.Redis> =>
  Layer.effect(Budget.BudgetStore, makeBudgetStore(options))
