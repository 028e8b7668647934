/**
 * Redis-backed stores, so that several application instances share one truth.
 *
 * **Details**
 * - Every store takes a key `prefix` (default `"smsforge:"`); give each
 *   environment or application its own.
 * - Every read-modify-write is atomic in Redis: idempotency and verification
 *   compare-and-set run as Lua scripts; message transitions read the message,
 *   apply `MessageStore.applyChange` in the process and write it back with a
 *   Lua compare-and-set on a revision number, retrying on conflict.
 * - Expiry follows the Effect `Clock` (as the memory stores do), and every key
 *   also gets a Redis TTL, so memory stays bounded without a sweeper.
 * - Idempotency, consent, verification and carrier-id keys are SHA-256
 *   digests: phone numbers never appear in key names. Values (message bodies,
 *   numbers) are stored, because the application needs them back; they go
 *   with their TTL.
 *
 * **Gotchas**
 * - A Redis outage cannot surface through the `never` error channels of the
 *   idempotency, message and consent stores: such a failure becomes a defect
 *   ({@link StoreError}), never a silently dropped write. The verification
 *   store fails with `VerificationError{ StoreUnavailable }` instead.
 * - Scripts touch several keys that share no hash tag, so these stores need a
 *   single Redis (or a replica set), not Redis Cluster.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as KeyValueStore from "effect/persistence/KeyValueStore"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Redis from "effect/persistence/Redis"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { createHash, randomUUID } from "node:crypto"
import { Consent, Idempotency, MessageStore, Templates, Verification } from "smsforge"

// errors

/**
 * A Redis command failed. Raised as a defect by the stores whose interfaces
 * have no error channel, so that an outage is never mistaken for "absent".
 * The message names the store and the operation, never a key or a value.
 *
 * @category errors
 * @since 0.1.0
 */
export class StoreError extends Schema.TaggedError<StoreError>("smsforge/stores/redis/StoreError")("StoreError", {
  store: Schema.String,
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `Redis ${this.store} store: ${this.operation} failed`
  }
}

const orDie = (store: string, operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, never, R> =>
  Effect.catch(effect, (cause) => Effect.die(new StoreError({ store, operation, cause })))

// models

/**
 * @category models
 * @since 0.1.0
 */
export interface StoreOptions {
  /** Prepended to every key. Default `"smsforge:"`. */
  readonly prefix?: string | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface MessageStoreOptions extends StoreOptions {
  /** How long a message is kept after its creation. Default 7 days. */
  readonly retention?: Duration.Input | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface LayerOptions extends StoreOptions {
  readonly messages?: Omit<MessageStoreOptions, "prefix"> | undefined
}

const prefixOf = (options: StoreOptions | undefined) => options?.prefix ?? "smsforge:"
const digest = (value: string) => createHash("sha256").update(value).digest("base64url")
/** Milliseconds until `expiresAt`, as a Redis `PX` argument (at least 1). */
const pttl = (expiresAt: number, now: number) => String(Math.max(1, Math.ceil(expiresAt - now)))

// idempotency

const reserveScript = Redis.script(
  (key: string, value: string, now: number, ttl: string) => [key, value, now, ttl],
  {
    numberOfKeys: 1,
    lua: `
local held = redis.call("GET", KEYS[1])
if held then
  local decoded = cjson.decode(held)
  if tonumber(decoded.e) > tonumber(ARGV[2]) then return held end
end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[3])
return false
`
  }
).withReturnType<string | null>()

const releaseScript = Redis.script((key: string, messageId: string) => [key, messageId], {
  numberOfKeys: 1,
  lua: `
local held = redis.call("GET", KEYS[1])
if held and cjson.decode(held).m == ARGV[1] then redis.call("DEL", KEYS[1]) end
return 0
`
})

const IdempotencyEntry = Schema.fromJsonString(Schema.Struct({ m: Schema.String, f: Schema.String, e: Schema.Number }))
const decodeIdempotency = Schema.decodeUnknownEffect(IdempotencyEntry)

/**
 * Builds an idempotency store: one key per reservation, holding the message
 * id, the request fingerprint and the expiry; a Lua script reserves
 * atomically, so of any number of concurrent `reserve` calls exactly one wins.
 *
 * **Details**
 * The script does what `SET NX PX` + `GET` would, in one round trip, and
 * judges expiry by the Effect `Clock` like the memory store (the key's `PX`
 * only frees memory), so `TestClock` and a zero window behave the same on
 * every backend.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeIdempotency = (options: StoreOptions = {}) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const prefix = `${prefixOf(options)}idem:`
    const reserve = redis.eval(reserveScript)
    const release = redis.eval(releaseScript)
    return Idempotency.IdempotencyStore.of({
      reserve: (key, reservation, ttl) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const millis = Math.max(0, Duration.toMillis(ttl))
          const value = JSON.stringify({ m: reservation.messageId, f: reservation.fingerprint, e: now + millis })
          const held = yield* reserve(prefix + digest(key), value, now, pttl(now + millis, now))
          if (held === null) return Option.none<Idempotency.Reservation>()
          const entry = yield* decodeIdempotency(held)
          return Option.some<Idempotency.Reservation>({ messageId: entry.m, fingerprint: entry.f })
        }).pipe(orDie("idempotency", "reserve")),
      release: (key, messageId) => release(prefix + digest(key), messageId).pipe(orDie("idempotency", "release"))
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerIdempotency = (options: StoreOptions = {}): Layer.Layer<Idempotency.IdempotencyStore, never, Redis.Redis> =>
  Layer.effect(Idempotency.IdempotencyStore, makeIdempotency(options))

// messages

/*
 * KEYS: message hash, index of all messages, old status index, new status
 * index, provider-id keys…
 * ARGV: expected revision ("" writes unconditionally), JSON, id, createdAt,
 * PX for the message.
 */
const saveMessageScript = Redis.script(
  (keys: ReadonlyArray<string>, expected: string, json: string, id: string, createdAt: number, px: string) => [
    ...keys,
    expected,
    json,
    id,
    createdAt,
    px
  ],
  {
    numberOfKeys: (keys) => keys.length,
    lua: `
local rev = redis.call("HGET", KEYS[1], "rev")
if ARGV[1] ~= "" and rev ~= ARGV[1] then return -1 end
local nextRev = (tonumber(rev) or 0) + 1
redis.call("HSET", KEYS[1], "data", ARGV[2], "rev", nextRev)
redis.call("PEXPIRE", KEYS[1], ARGV[5])
redis.call("ZADD", KEYS[2], ARGV[4], ARGV[3])
if KEYS[3] ~= KEYS[4] then redis.call("ZREM", KEYS[3], ARGV[3]) end
redis.call("ZADD", KEYS[4], ARGV[4], ARGV[3])
for i = 5, #KEYS do redis.call("SET", KEYS[i], ARGV[3], "PX", ARGV[5]) end
return nextRev
`
  }
).withReturnType<number>()

/**
 * Builds a message store.
 *
 * **Details**
 * - `<prefix>msg:<id>` is a hash with the message as JSON and a revision;
 *   `<prefix>msgs:all` and `<prefix>msgs:status:<status>` are sorted sets of
 *   ids by creation time; `<prefix>msgs:provider:<digest>` maps a carrier's
 *   id (or a segment's) to the message id.
 * - Messages expire `retention` after their creation (default 7 days); the
 *   indexes drop them when read.
 * - `transition` and `annotate` read, apply the change in the process and
 *   write back only if the revision did not move in between, retrying
 *   otherwise: concurrent receipts for one message apply one at a time, and
 *   the life-cycle rule of `MessageStore.applyChange` holds across instances.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMessages = (options: MessageStoreOptions = {}) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const prefix = prefixOf(options)
    const retention = Duration.toMillis(options.retention ?? "7 days")
    const save = redis.eval(saveMessageScript)
    const messageKey = (id: string) => `${prefix}msg:${id}`
    const allKey = `${prefix}msgs:all`
    const statusKey = (status: MessageStore.MessageStatus) => `${prefix}msgs:status:${status}`
    const providerKey = (transport: string, id: string) => `${prefix}msgs:provider:${digest(`${transport}\u0000${id}`)}`
    const providerKeys = (message: MessageStore.StoredMessage): ReadonlyArray<string> =>
      message.transport === undefined || message.providerMessageId === undefined
        ? []
        : [message.providerMessageId, ...(message.segmentIds ?? [])].map((id) => providerKey(message.transport!, id))

    const read = (id: string) =>
      Effect.map(
        redis.send<ReadonlyArray<string | null>>("HMGET", messageKey(id), "data", "rev"),
        ([data, rev]) =>
          data === null || data === undefined || rev === null || rev === undefined
            ? Option.none<{ readonly message: MessageStore.StoredMessage; readonly rev: string }>()
            : Option.some({ message: JSON.parse(data) as MessageStore.StoredMessage, rev })
      )

    const write = (previous: MessageStore.MessageStatus, message: MessageStore.StoredMessage, expected: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        save(
          [messageKey(message.id), allKey, statusKey(previous), statusKey(message.status), ...providerKeys(message)],
          expected,
          JSON.stringify(message),
          message.id,
          message.createdAt,
          pttl(message.createdAt + retention, now)
        ))

    /** Read, change, compare-and-set; again while another writer got there first. */
    const update = <E>(
      id: string,
      f: (message: MessageStore.StoredMessage) => Result.Result<MessageStore.StoredMessage, E>
    ): Effect.Effect<Result.Result<MessageStore.StoredMessage, E | MessageStore.MessageNotFound>, Redis.RedisError> =>
      Effect.gen(function*() {
        while (true) {
          const found = yield* read(id)
          if (Option.isNone(found)) return Result.fail(new MessageStore.MessageNotFound({ field: "id" }))
          const next = f(found.value.message)
          if (Result.isFailure(next)) return next
          const written = yield* write(found.value.message.status, next.success, found.value.rev)
          if (written >= 0) return next
        }
      })

    const cutoff = Effect.map(Clock.currentTimeMillis, (now) => String(now - retention))

    return MessageStore.MessageStore.of({
      insert: (message) =>
        Effect.gen(function*() {
          const previous = yield* read(message.id)
          yield* write(Option.isSome(previous) ? previous.value.message.status : message.status, message, "")
          yield* redis.send("ZREMRANGEBYSCORE", allKey, "-inf", `(${yield* cutoff}`)
        }).pipe(orDie("message", "insert")),
      get: (id) => read(id).pipe(Effect.map(Option.map((found) => found.message)), orDie("message", "get")),
      transition: (id, change, patch) =>
        update(id, (message) => MessageStore.applyChange(message, change, patch)).pipe(
          orDie("message", "transition"),
          Effect.flatMap(Effect.fromResult)
        ),
      annotate: (id, patch) =>
        update(id, (message) => Result.succeed({ ...message, ...patch })).pipe(
          orDie("message", "annotate"),
          Effect.flatMap(Effect.fromResult)
        ),
      findByProviderId: (transport, providerMessageId) =>
        Effect.gen(function*() {
          const id = yield* redis.send<string | null>("GET", providerKey(transport, providerMessageId))
          if (id === null) return Option.none<MessageStore.StoredMessage>()
          return Option.map(yield* read(id), (found) => found.message)
        }).pipe(orDie("message", "findByProviderId")),
      list: ({ limit = Number.POSITIVE_INFINITY, status }) =>
        Effect.gen(function*() {
          const key = statusKey(status)
          yield* redis.send("ZREMRANGEBYSCORE", key, "-inf", `(${yield* cutoff}`)
          const found: Array<MessageStore.StoredMessage> = []
          const page = 100
          let offset = 0
          while (found.length < limit) {
            const ids = yield* redis.send<ReadonlyArray<string>>("ZRANGE", key, String(offset), String(offset + page - 1))
            if (ids.length === 0) break
            offset += ids.length
            const messages = yield* Effect.forEach(ids, read, { concurrency: 16 })
            for (let i = 0; i < ids.length && found.length < limit; i++) {
              const message = messages[i]
              if (message !== undefined && Option.isSome(message) && message.value.message.status === status) {
                found.push(message.value.message)
              } else if (message !== undefined && Option.isNone(message)) {
                // Expired: drop it from the index (another reader may already have).
                yield* redis.send("ZREM", key, ids[i]!)
                offset--
              }
            }
          }
          return found
        }).pipe(orDie("message", "list")),
      size: Effect.gen(function*() {
        yield* redis.send("ZREMRANGEBYSCORE", allKey, "-inf", `(${yield* cutoff}`)
        return yield* redis.send<number>("ZCARD", allKey)
      }).pipe(orDie("message", "size"))
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerMessages = (options: MessageStoreOptions = {}): Layer.Layer<MessageStore.MessageStore, never, Redis.Redis> =>
  Layer.effect(MessageStore.MessageStore, makeMessages(options))

// verifications

const setVersionedScript = Redis.script(
  (key: string, expected: string, value: string, expiresAt: number, now: number, px: string) => [
    key,
    expected,
    value,
    expiresAt,
    now,
    px
  ],
  {
    numberOfKeys: 1,
    lua: `
local current = redis.call("HMGET", KEYS[1], "ver", "exp")
local live = current[1] and tonumber(current[2]) > tonumber(ARGV[4])
local version = ""
if live then version = current[1] end
if version ~= ARGV[1] then return -1 end
local nextVersion = 0
if live then nextVersion = tonumber(current[1]) + 1 end
redis.call("HSET", KEYS[1], "val", ARGV[2], "ver", nextVersion, "exp", ARGV[3])
redis.call("PEXPIRE", KEYS[1], ARGV[5])
return nextVersion
`
  }
).withReturnType<number>()

/**
 * Builds a verification store: one hash per key (a digest of it) with the
 * value, its version and its expiry; `set` is a Lua compare-and-set on the
 * version. Fails with `VerificationError{ StoreUnavailable }` when Redis does.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeVerifications = (options: StoreOptions = {}) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const prefix = `${prefixOf(options)}verif:`
    const set = redis.eval(setVersionedScript)
    const unavailable = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.mapError(
        effect,
        (cause) => new Verification.VerificationError({ reason: new Verification.StoreUnavailable({ cause }) })
      )
    return Verification.VerificationStore.of({
      get: (key) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const [value, version, expiresAt] = yield* redis.send<ReadonlyArray<string | null>>(
            "HMGET",
            prefix + digest(key),
            "val",
            "ver",
            "exp"
          )
          if (value == null || version == null || expiresAt == null || Number(expiresAt) <= now) {
            return Option.none<Verification.Versioned>()
          }
          return Option.some<Verification.Versioned>({
            value: JSON.parse(value) as Verification.StoredValue,
            version: Number(version)
          })
        }).pipe(unavailable),
      set: (key, value, options) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const written = yield* set(
            prefix + digest(key),
            options.expectedVersion === undefined ? "" : String(options.expectedVersion),
            JSON.stringify(value),
            options.expiresAt,
            now,
            pttl(options.expiresAt, now)
          )
          return written >= 0
        }).pipe(unavailable),
      remove: (key) => redis.send("DEL", prefix + digest(key)).pipe(Effect.asVoid, unavailable)
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerVerifications = (
  options: StoreOptions = {}
): Layer.Layer<Verification.VerificationStore, never, Redis.Redis> =>
  Layer.effect(Verification.VerificationStore, makeVerifications(options))

// consent

const putConsentScript = Redis.script((key: string, seq: number, json: string) => [key, seq, json], {
  numberOfKeys: 1,
  lua: `
local stored = redis.call("HGET", KEYS[1], "seq")
if stored and tonumber(stored) > tonumber(ARGV[1]) then return 0 end
redis.call("HSET", KEYS[1], "seq", ARGV[1], "data", ARGV[2])
return 1
`
})

const recordSendScript = Redis.script(
  (key: string, at: number, member: string, cutoff: number, px: string) => [key, at, member, cutoff, px],
  {
    numberOfKeys: 1,
    lua: `
redis.call("ZADD", KEYS[1], ARGV[1], ARGV[2])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[3])
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return 0
`
  }
)

const DAY = 24 * 60 * 60 * 1000
const SEND_HISTORY = 8 * DAY

/**
 * Builds a consent store.
 *
 * **Details**
 * - `<prefix>consent:<digest>` holds a record and its `seq`; `put` never
 *   replaces a record with one of a lower `seq`, so an instance holding a
 *   stale copy cannot undo a later opt-out written by another instance.
 * - `<prefix>sends:<digest>` is a sorted set of send times per purpose,
 *   trimmed to 8 days as sends are recorded, and expiring 8 days after the
 *   last one.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeConsent = (options: StoreOptions = {}) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const prefix = prefixOf(options)
    const put = redis.eval(putConsentScript)
    const record = redis.eval(recordSendScript)
    const recordKey = (tenant: string, to: string) => `${prefix}consent:${digest(`${tenant}\u0000${to}`)}`
    const sendsKey = (tenant: string, to: string, purpose: string) =>
      `${prefix}sends:${digest(`${tenant}\u0000${to}\u0000${purpose}`)}`
    return Consent.ConsentStore.of({
      get: (tenant, to) =>
        Effect.map(
          redis.send<string | null>("HGET", recordKey(tenant, to), "data"),
          (data) => data === null ? Option.none() : Option.some(JSON.parse(data) as Consent.ConsentRecord)
        ).pipe(orDie("consent", "get")),
      put: (value) =>
        put(recordKey(value.tenant, value.to), value.seq, JSON.stringify(value)).pipe(orDie("consent", "put")),
      recordSend: (tenant, to, purpose, at) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          record(
            sendsKey(tenant, to, purpose),
            at,
            `${at}:${randomUUID()}`,
            at - SEND_HISTORY,
            pttl(at + SEND_HISTORY, Math.min(now, at))
          )).pipe(orDie("consent", "recordSend")),
      sends: (tenant, to, purpose, since) =>
        Effect.map(
          redis.send<ReadonlyArray<string>>("ZRANGE", sendsKey(tenant, to, purpose), `(${since}`, "+inf", "BYSCORE"),
          (members) => members.map((member) => Number(member.slice(0, member.indexOf(":"))))
        ).pipe(orDie("consent", "sends"))
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerConsent = (options: StoreOptions = {}): Layer.Layer<Consent.ConsentStore, never, Redis.Redis> =>
  Layer.effect(Consent.ConsentStore, makeConsent(options))

// templates

/**
 * A `KeyValueStore` on Redis strings under `<prefix>kv:`, for
 * `Templates.layerStoreKeyValue` and anything else that takes one.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeKeyValueStore = (options: StoreOptions = {}) =>
  Effect.map(Effect.service(Redis.Redis), (redis) => {
    const prefix = `${prefixOf(options)}kv:`
    const fail = (method: string) => (cause: unknown) =>
      new KeyValueStore.KeyValueStoreError({ method, message: "Redis command failed", cause })
    const scan = Effect.gen(function*() {
      const found: Array<string> = []
      let cursor = "0"
      do {
        const [next, keys] = yield* redis.send<readonly [string, ReadonlyArray<string>]>(
          "SCAN",
          cursor,
          "MATCH",
          `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`,
          "COUNT",
          "500"
        )
        cursor = next
        found.push(...keys)
      } while (cursor !== "0")
      return found
    })
    return KeyValueStore.makeStringOnly({
      get: (key) =>
        redis.send<string | null>("GET", prefix + key).pipe(
          Effect.map((value) => value ?? undefined),
          Effect.mapError(fail("get"))
        ),
      set: (key, value) => redis.send("SET", prefix + key, value).pipe(Effect.asVoid, Effect.mapError(fail("set"))),
      remove: (key) => redis.send("DEL", prefix + key).pipe(Effect.asVoid, Effect.mapError(fail("remove"))),
      clear: Effect.flatMap(scan, (keys) => keys.length === 0 ? Effect.void : redis.send("DEL", ...keys)).pipe(
        Effect.asVoid,
        Effect.mapError(fail("clear"))
      ),
      size: scan.pipe(Effect.map((keys) => keys.length), Effect.mapError(fail("size"))),
      keys: scan.pipe(Effect.map((keys) => keys.map((key) => key.slice(prefix.length))), Effect.mapError(fail("keys")))
    })
  })

/**
 * A `KeyValueStore` on Redis; see {@link makeKeyValueStore}.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerKeyValueStore = (options: StoreOptions = {}): Layer.Layer<KeyValueStore.KeyValueStore, never, Redis.Redis> =>
  Layer.effect(KeyValueStore.KeyValueStore, makeKeyValueStore(options))

/**
 * Templates kept in Redis through `Templates.layerStoreKeyValue`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerTemplates = (options: StoreOptions = {}): Layer.Layer<Templates.TemplateStore, never, Redis.Redis> =>
  Templates.layerStoreKeyValue().pipe(Layer.provide(layerKeyValueStore(options)))

// all of them

/**
 * A Redis-backed `RateLimiter` (effect's `RateLimiter.layerStoreRedis` under
 * `<prefix>ratelimit:`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRateLimiter = (options: StoreOptions = {}): Layer.Layer<RateLimiter.RateLimiter, never, Redis.Redis> =>
  RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis({ prefix: `${prefixOf(options)}ratelimit:` })))

/**
 * Every store the pipeline needs (`Sms.Stores`) on one Redis: idempotency,
 * messages, verifications, consent, templates and the rate limiter. Provide
 * it to `Sms.layerPipeline(config)`.
 *
 * **Details**
 * It also provides effect's Redis `RateLimiterStore` and
 * `CircuitBreakerStore` (under `<prefix>ratelimit:` and `<prefix>circuit:`),
 * which the Router picks up from its context: per-route rate limits and
 * circuit breakers are then shared by every instance too.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: LayerOptions = {}
): Layer.Layer<
  | Idempotency.IdempotencyStore
  | MessageStore.MessageStore
  | Verification.VerificationStore
  | Consent.ConsentStore
  | Templates.TemplateStore
  | RateLimiter.RateLimiter
  | RateLimiter.RateLimiterStore
  | CircuitBreaker.CircuitBreakerStore,
  never,
  Redis.Redis
> => {
  const store = { prefix: prefixOf(options) }
  const rateLimiterStore = RateLimiter.layerStoreRedis({ prefix: `${store.prefix}ratelimit:` })
  return Layer.mergeAll(
    layerIdempotency(store),
    layerMessages({ ...options.messages, ...store }),
    layerVerifications(store),
    layerConsent(store),
    layerTemplates(store),
    RateLimiter.layer.pipe(Layer.provideMerge(rateLimiterStore)),
    CircuitBreaker.layerStoreRedis({ prefix: `${store.prefix}circuit:` })
  )
}
