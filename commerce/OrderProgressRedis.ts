/**
 * Order progress in Redis, on the same `Redis` service the stores of
 * `smsforge/stores/redis` use (`RedisStores.layerFromUrl(url)` provides it).
 *
 * **Details**
 * - One key per order, `<prefix>commerce:progress:<digest>`, holding the
 *   record, its version and its expiry; `set` is a Lua compare-and-set, so
 *   instances racing on one order never both win.
 * - A set per subject (`<prefix>commerce:subject:<digest of the number>`)
 *   lists the orders of one number, for personal-data requests.
 * - Expiry follows the Effect `Clock`, and every key also gets a Redis TTL.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"
import { OrderProgressStore, type Progress, type VersionedProgress } from "./OrderProgress.ts"
import { guarded } from "./internal/store.ts"

/**
 * @category models
 * @since 0.3.0
 */
export interface RedisOptions {
  /** Prepended to every key; `"smsforge:"` by default, as in `smsforge/stores/redis`. */
  readonly prefix?: string | undefined
  /** Time limit of each call, in ms; 5,000 by default. */
  readonly timeout?: number | undefined
}

interface Stored {
  readonly v: number
  readonly e: number
  readonly p: Progress
}

const setScript = Redis.script(
  (key: string, subjectKey: string, expected: string, value: string, now: number, pttl: string, member: string) => [
    key,
    subjectKey,
    expected,
    value,
    now,
    pttl,
    member
  ],
  {
    numberOfKeys: 2,
    lua: `
local held = redis.call("GET", KEYS[1])
local version = nil
if held then
  local d = cjson.decode(held)
  if tonumber(d.e) > tonumber(ARGV[3]) then version = tonumber(d.v) end
end
if ARGV[1] == "" then
  if version ~= nil then return 0 end
elseif version == nil or version ~= tonumber(ARGV[1]) then
  return 0
end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[4])
if ARGV[5] ~= "" then
  redis.call("SADD", KEYS[2], ARGV[5])
  redis.call("PEXPIRE", KEYS[2], ARGV[4])
end
return 1
`
  }
).withReturnType<number>()

/**
 * @category store
 * @since 0.3.0
 */
export const makeStoreRedis = Effect.fnUntraced(function*(options: RedisOptions = {}) {
  const redis = yield* Redis.Redis
  const prefix = `${options.prefix ?? "smsforge:"}commerce:`
  const limit = options.timeout ?? 5_000
  const recordKey = (key: string) => `${prefix}progress:${key}`
  const subjectKey = (subject: string) => `${prefix}subject:${subject}`
  const set = redis.eval(setScript)

  const read = (key: string, now: number): Effect.Effect<Option.Option<Stored>, Redis.RedisError> =>
    Effect.map(redis.send<string | null>("GET", recordKey(key)), (held) => {
      if (held === null) return Option.none()
      const stored = JSON.parse(held) as Stored
      return stored.e > now ? Option.some(stored) : Option.none()
    })

  const ofSubject = (subject: string, now: number) =>
    Effect.gen(function*() {
      const keys = yield* redis.send<ReadonlyArray<string>>("SMEMBERS", subjectKey(subject))
      const found: Array<readonly [string, Progress]> = []
      for (const key of keys) {
        const stored = yield* read(key, now)
        if (Option.isSome(stored) && stored.value.p.subject === subject) found.push([key, stored.value.p])
      }
      return found
    })

  return OrderProgressStore.of({
    get: (key) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => read(key, now)).pipe(
        Effect.map(Option.map((s): VersionedProgress => ({ progress: s.p, version: s.v }))),
        guarded("get", limit)
      ),
    set: (key, progress, { expectedVersion, expiresAt }) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const value: Stored = { v: expectedVersion === undefined ? 0 : expectedVersion + 1, e: expiresAt, p: progress }
        const pttl = String(Math.max(1, Math.ceil(expiresAt - now)))
        const subject = progress.subject ?? ""
        const written = yield* set(
          recordKey(key),
          subject === "" ? recordKey(key) : subjectKey(subject),
          expectedVersion === undefined ? "" : String(expectedVersion),
          JSON.stringify(value),
          now,
          pttl,
          subject === "" ? "" : key
        )
        return written === 1
      }).pipe(guarded("set", limit)),
    eraseSubject: (subject) =>
      Effect.gen(function*() {
        const found = yield* ofSubject(subject, yield* Clock.currentTimeMillis)
        if (found.length > 0) yield* redis.send("DEL", ...found.map(([key]) => recordKey(key)))
        yield* redis.send("DEL", subjectKey(subject))
        return found.length
      }).pipe(guarded("eraseSubject", limit)),
    findSubject: (subject) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => ofSubject(subject, now)).pipe(
        Effect.map((found) => found.map(([, progress]) => progress)),
        guarded("findSubject", limit)
      )
  })
})

/**
 * Order progress in Redis.
 *
 * @category store
 * @since 0.3.0
 */
export const layerStoreRedis = (options: RedisOptions = {}): Layer.Layer<OrderProgressStore, never, Redis.Redis> =>
  Layer.effect(OrderProgressStore, makeStoreRedis(options))
