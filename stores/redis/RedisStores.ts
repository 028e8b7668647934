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
 * - Idempotency, consent, verification, rate-limit and carrier-id keys are
 *   SHA-256 digests: phone numbers, IPs and tenants never appear in key
 *   names. Values (message bodies, numbers) are stored, because the
 *   application needs them back; they go with their TTL, or at once with
 *   the stores' `eraseRecipient` and `remove` (a personal-data request).
 * - Every call is bounded by `timeout` (default `Store.defaultTimeout`, 5
 *   seconds) and fails with the shared `Store.StoreUnavailable` when Redis
 *   does not answer or fails; no `RedisError` reaches a caller.
 *
 * **Gotchas**
 * - Redis must persist (`appendonly yes`) for idempotency keys, messages and
 *   queued jobs to survive its restart; with snapshots only, what was written
 *   since the last one is lost.
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
import * as PersistedQueue from "effect/persistence/PersistedQueue"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Redis from "effect/persistence/Redis"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { Consent, Idempotency, MessageStore, Outbox, Store, Templates, type Transport, Verification } from "smsforge"
import { digest } from "../internal/digest.ts"
import { bounded, lastWrites, type LastWrites } from "../internal/lastWrites.ts"
import { boundedQueueStore } from "../internal/outbox.ts"

// models

/**
 * @category models
 * @since 0.1.0
 */
export interface StoreOptions {
  /** Prepended to every key. Default `"smsforge:"`. */
  readonly prefix?: string | undefined
  /** The time limit on each store call. Default `Store.defaultTimeout` (5 seconds). */
  readonly timeout?: Duration.Input | undefined
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
  readonly messages?: Omit<MessageStoreOptions, "prefix" | "timeout"> | undefined
  /** The durable Outbox's options; see {@link layerOutbox}. */
  readonly outbox?: Omit<OutboxOptions, "prefix" | "timeout"> | undefined
}

const prefixOf = (options: StoreOptions | undefined) => options?.prefix ?? "smsforge:"
/** The edge of Redis for one store: time limit and `StoreUnavailable`. */
const guardOf = (store: string, options: StoreOptions | undefined) => (operation: string) =>
  Store.guard(store, operation, options?.timeout ?? Store.defaultTimeout)
/** Milliseconds until `expiresAt`, as a Redis `PX` argument (at least 1). */
const pttl = (expiresAt: number, now: number) => String(Math.max(1, Math.ceil(expiresAt - now)))

// idempotency

/**
 * Answers the live reservation of KEYS[k] (its JSON) if there is one, and
 * otherwise reserves it; ARGV from `a`: the reservation's JSON, now, PX.
 */
const reserveLua = (k: number, a: number) => `
local held = redis.call("GET", KEYS[${k}])
if held and tonumber(cjson.decode(held).e) > tonumber(ARGV[${a + 1}]) then return held end
redis.call("SET", KEYS[${k}], ARGV[${a}], "PX", ARGV[${a + 2}])
`

const reserveScript = Redis.script(
  (key: string, value: string, now: number, ttl: string) => [key, value, now, ttl],
  { numberOfKeys: 1, lua: `${reserveLua(1, 1)}return false` }
).withReturnType<string | null>()

/** A reservation as its key holds it, and the key's PX, for `ttl` from `now`. */
const reservationEntry = (reservation: Idempotency.Reservation, now: number, ttl: Duration.Duration) => {
  const expiresAt = now + Math.max(0, Duration.toMillis(ttl))
  return { value: JSON.stringify({ m: reservation.messageId, f: reservation.fingerprint, e: expiresAt }), px: pttl(expiresAt, now) }
}

/** The reservation a held key answered. */
const heldReservation = (held: string) =>
  Effect.map(decodeIdempotency(held), (entry) => Option.some<Idempotency.Reservation>({ messageId: entry.m, fingerprint: entry.f }))

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
    const guard = guardOf("idempotency", options)
    const prefix = `${prefixOf(options)}idem:`
    const reserve = redis.eval(reserveScript)
    const release = redis.eval(releaseScript)
    return Idempotency.IdempotencyStore.of({
      reserve: (key, reservation, ttl) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const entry = reservationEntry(reservation, now, ttl)
          const held = yield* reserve(prefix + digest(key), entry.value, now, entry.px)
          return held === null ? Option.none<Idempotency.Reservation>() : yield* heldReservation(held)
        }).pipe(guard("reserve")),
      release: (key, messageId) => release(prefix + digest(key), messageId).pipe(Effect.asVoid, guard("release"))
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerIdempotency = (
  options: StoreOptions = {}
): Layer.Layer<Idempotency.IdempotencyStore, never, Redis.Redis> =>
  Layer.effect(Idempotency.IdempotencyStore, makeIdempotency(options))

// messages

/*
 * Writes a message and its indexes. `k` and `a` are where its keys and
 * arguments start in KEYS and ARGV, so the accept script can run it after
 * its own.
 * KEYS: message hash, index of all messages, old status index, new status
 * index, recipient index, provider-id keys… (to the end of KEYS)
 * ARGV: expected revision ("" writes unconditionally), JSON, id, createdAt,
 * PX for the message, status, the status indexes' key prefix, and the
 * retention's cutoff ("" keeps the index of all as it is).
 * An unconditional write (an insert) finds the old status in the hash
 * itself, so it needs no read first; messages written before the hash kept
 * a status give it from their JSON. Evaluates to the new revision, or -1
 * when the expected one moved; with a held-receipt key prefix (ARGV 9; ARGV
 * 10 the provider keys' prefix length) it also takes the receipts held for
 * the provider ids and evaluates to { revision, provider key, receipt … }.
 */
const saveMessageLua = (k: number, a: number) => {
  const key = (i: number) => `KEYS[${k + i}]`
  const arg = (i: number) => `ARGV[${a + i}]`
  return `
local current = redis.call("HMGET", ${key(1)}, "rev", "status", "data")
local rev = current[1]
if ${arg(1)} ~= "" and rev ~= ${arg(1)} then return -1 end
local nextRev = (tonumber(rev) or 0) + 1
local old = ${key(3)}
if ${arg(1)} == "" and current[3] then
  local was = current[2] or cjson.decode(current[3]).status
  old = ${arg(7)} .. was
end
redis.call("HSET", ${key(1)}, "data", ${arg(2)}, "rev", nextRev, "status", ${arg(6)})
redis.call("PEXPIRE", ${key(1)}, ${arg(5)})
if ${arg(8)} ~= "" then redis.call("ZREMRANGEBYSCORE", ${key(2)}, "-inf", "(" .. ${arg(8)}) end
redis.call("ZADD", ${key(2)}, ${arg(4)}, ${arg(3)})
if old ~= ${key(4)} then redis.call("ZREM", old, ${arg(3)}) end
redis.call("ZADD", ${key(4)}, ${arg(4)}, ${arg(3)})
redis.call("ZADD", ${key(5)}, ${arg(4)}, ${arg(3)})
if redis.call("PTTL", ${key(5)}) < tonumber(${arg(5)}) then redis.call("PEXPIRE", ${key(5)}, ${arg(5)}) end
for i = ${k + 6}, #KEYS do redis.call("SET", KEYS[i], ${arg(3)}, "PX", ${arg(5)}) end
if ${arg(9)} == "" then return nextRev end
local taken = { nextRev }
for i = ${k + 6}, #KEYS do
  local held = redis.call("GETDEL", ${arg(9)} .. string.sub(KEYS[i], tonumber(${arg(10)}) + 1))
  if held then
    table.insert(taken, KEYS[i])
    table.insert(taken, held)
  end
end
return taken
`
}

/** The arguments of {@link saveMessageLua}, after its keys. */
type SaveArguments = readonly [
  expected: string,
  json: string,
  id: string,
  createdAt: number,
  px: string,
  status: string,
  statusPrefix: string,
  cutoff: string,
  heldPrefix: string,
  providerPrefixLength: number
]

const saveMessageScript = Redis.script(
  (keys: ReadonlyArray<string>, ...save: SaveArguments) => [...keys, ...save],
  { numberOfKeys: (keys) => keys.length, lua: saveMessageLua(0, 0) }
).withReturnType<number | ReadonlyArray<number | string>>()

/*
 * A send's acceptance in one script: the idempotency key (when ARGV[1] is
 * "1"; KEYS[1]), the Outbox job as effect's Redis `PersistedQueue` writes a
 * delayed offer with an id (KEYS[2] its delayed set, KEYS[3] its ids), and
 * the message (KEYS from 4, ARGV from 6, as saveMessageLua). Answers the
 * held reservation's JSON when the key was held (and writes nothing),
 * otherwise the message's revision.
 * ARGV: has key, reservation JSON, now, key PX, job id, job payload,
 * visible at, then the message's.
 */
const acceptScript = Redis.script(
  (
    keys: readonly [idempotency: string, delayed: string, ids: string],
    job: readonly [hasKey: string, reservation: string, now: number, px: string, id: string, payload: string, visibleAt: number],
    messageKeys: ReadonlyArray<string>,
    ...save: SaveArguments
  ) => [...keys, ...messageKeys, ...job, ...save],
  {
    numberOfKeys: (_keys, _job, messageKeys) => 3 + messageKeys.length,
    lua: `
if ARGV[1] == "1" then
${reserveLua(1, 2)}
end
if redis.call("ZADD", KEYS[3], "NX", "+inf", ARGV[5]) == 1 then
  redis.call("ZADD", KEYS[2], ARGV[7], ARGV[6])
end
${saveMessageLua(3, 7)}`
  }
).withReturnType<number | string>()

/** Receipts a submission's status change took in its script, by provider key (an empty list: none). */
type Taken = ReturnType<typeof bounded<ReadonlyArray<string>>>

/**
 * Receipts that came before their submit answer: one key per receipt with
 * Redis's own expiry; the kept-until time inside follows the Effect Clock.
 */
const heldReports = (
  store: Messages,
  guard: (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, Store.StoreUnavailable, R>
): Pick<MessageStore.MessageStore["Service"], "holdReport" | "takeReports"> => ({
  holdReport: (report, ttl) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const until = now + Math.max(0, Math.ceil(Duration.toMillis(ttl)))
      return store.redis.send(
        "SET",
        store.keys.held(report.transport, report.providerMessageId),
        JSON.stringify({ r: report, e: until }),
        "PX",
        pttl(until, now)
      )
    }).pipe(Effect.asVoid, guard("holdReport")),
  takeReports: (transport, ids) =>
    ids.length === 0 ? Effect.succeed([]) : Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const stashed = ids.map((id) => store.taken.get(store.keys.provider(transport, id)))
      for (const id of ids) store.taken.delete(store.keys.provider(transport, id))
      // GETDEL: of two instances taking one receipt, one gets it.
      const found = stashed.every((entry) => entry !== undefined)
        ? stashed.flat()
        : yield* Effect.forEach(ids, (id) => store.redis.send<string | null>("GETDEL", store.keys.held(transport, id)), {
          concurrency: 16
        })
      const reports: Array<Transport.DeliveryReport> = []
      for (const held of found) {
        if (held === null) continue
        const entry = JSON.parse(held) as { readonly r: Transport.DeliveryReport; readonly e: number }
        if (entry.e > now) reports.push(entry.r)
      }
      return reports
    }).pipe(guard("takeReports"))
})

/**
 * Builds a message store.
 *
 * **Details**
 * - `<prefix>msg:<id>` is a hash with the message as JSON and a revision;
 *   `<prefix>msgs:all` and `<prefix>msgs:status:<status>` are sorted sets of
 *   ids by creation time; `<prefix>msgs:provider:<digest>` maps a carrier's
 *   id (or a segment's) to the message id; `<prefix>msgs:held:<digest>` holds
 *   a receipt that came before its submit answer, with a `PX` of its ttl;
 *   `<prefix>msgs:to:<digest>` is a sorted set of the ids sent to one
 *   number in one tenant (a digest of both), for `findByRecipient` and
 *   `eraseRecipient`. Messages written before 0.4 are not in it.
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
export const makeMessages = (options: MessageStoreOptions = {}) => messagesStore(options, undefined)

const messagesStore = (options: MessageStoreOptions, into: AcceptInto | undefined) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const guard = guardOf("message", options)
    const prefix = prefixOf(options)
    const store: Messages = {
      redis,
      keys: messageKeys(prefix),
      retention: Duration.toMillis(options.retention ?? "7 days"),
      save: redis.eval(saveMessageScript),
      written: lastWrites<string>(4_096),
      taken: bounded<ReadonlyArray<string>>(4_096)
    }
    const accept = into === undefined ? undefined : acceptMessage(store, into)
    return MessageStore.MessageStore.of({
      insert: (message) => insertMessage(store, message).pipe(guard("insert")),
      get: (id) => readMessage(store, id).pipe(Effect.map(Option.map((found) => found.message)), guard("get")),
      transition: (id, change, patch) =>
        updateMessage(store, id, (message) => MessageStore.applyChange(message, change, patch)).pipe(
          guard("transition"),
          Effect.flatMap(Effect.fromResult)
        ),
      annotate: (id, patch) =>
        updateMessage(store, id, (message) => Result.succeed({ ...message, ...patch })).pipe(
          guard("annotate"),
          Effect.flatMap(Effect.fromResult)
        ),
      findByProviderId: (transport, providerMessageId) =>
        messageByProviderId(store, transport, providerMessageId).pipe(guard("findByProviderId")),
      list: ({ limit = Number.POSITIVE_INFINITY, status }) => listMessages(store, status, limit).pipe(guard("list")),
      size: countMessages(store).pipe(guard("size")),
      findByRecipient: (to, tenant) => messagesTo(store, to, tenant).pipe(guard("findByRecipient")),
      eraseRecipient: (to, tenant) => eraseMessagesTo(store, to, tenant).pipe(guard("eraseRecipient")),
      ...heldReports(store, guard),
      accept: accept === undefined ? undefined : (message, key) => accept(message, key).pipe(guard("accept"))
    })
  })

// One message store: its connection, key names, retention and save script.
interface Messages {
  readonly redis: Redis.Redis["Service"]
  readonly keys: ReturnType<typeof messageKeys>
  /** Milliseconds a message is kept after its creation. */
  readonly retention: number
  readonly save: (keys: ReadonlyArray<string>, ...save: SaveArguments) => Effect.Effect<number | ReadonlyArray<number | string>, Redis.RedisError>
  /** The revision this instance last wrote of a message, and the message. */
  readonly written: LastWrites<string>
  /** Receipts a submission's status change took, by provider key; see {@link heldReports}. */
  readonly taken: Taken
}

const messageKeys = (prefix: string) => ({
  message: (id: string) => `${prefix}msg:${id}`,
  all: `${prefix}msgs:all`,
  status: (status: MessageStore.MessageStatus) => `${prefix}msgs:status:${status}`,
  statusPrefix: `${prefix}msgs:status:`,
  provider: (transport: string, id: string) => `${prefix}msgs:provider:${digest(`${transport}\u0000${id}`)}`,
  providerPrefix: `${prefix}msgs:provider:`,
  // the same digest as the provider key's: the save script derives one from the other
  held: (transport: string, id: string) => `${prefix}msgs:held:${digest(`${transport}\u0000${id}`)}`,
  heldPrefix: `${prefix}msgs:held:`,
  // A digest of tenant and number, never the number: `to` is E.164 (no NUL), so the pair is unambiguous.
  recipient: (to: string, tenant: string | undefined) => `${prefix}msgs:to:${digest(`${tenant ?? ""}\u0000${to}`)}`
})

const providerKeys = (store: Messages, message: MessageStore.StoredMessage): ReadonlyArray<string> =>
  message.transport === undefined || message.providerMessageId === undefined
    ? []
    : [message.providerMessageId, ...(message.segmentIds ?? [])].map((id) => store.keys.provider(message.transport!, id))

const readMessage = (store: Messages, id: string) =>
  Effect.map(
    store.redis.send<ReadonlyArray<string | null>>("HMGET", store.keys.message(id), "data", "rev"),
    ([data, rev]) =>
      data === null || data === undefined || rev === null || rev === undefined
        ? Option.none<{ readonly message: MessageStore.StoredMessage; readonly rev: string }>()
        : Option.some({ message: JSON.parse(data) as MessageStore.StoredMessage, rev })
  )

/** The keys and arguments of {@link saveMessageLua} for `message`. */
const saveParts = (
  store: Messages,
  previous: MessageStore.MessageStatus,
  message: MessageStore.StoredMessage,
  expected: string,
  now: number
): readonly [ReadonlyArray<string>, SaveArguments] => [
  [
    store.keys.message(message.id),
    store.keys.all,
    store.keys.status(previous),
    store.keys.status(message.status),
    store.keys.recipient(message.to, message.tenant),
    ...providerKeys(store, message)
  ],
  [
    expected,
    JSON.stringify(message),
    message.id,
    message.createdAt,
    pttl(message.createdAt + store.retention, now),
    message.status,
    store.keys.statusPrefix,
    expected === "" ? String(now - store.retention) : "",
    // a submission's answer takes the receipts that came before it
    expected !== "" && message.status === "submitted" ? store.keys.heldPrefix : "",
    store.keys.providerPrefix.length
  ]
]

/**
 * Keeps (or drops) what this instance last wrote of a message, and the
 * receipts the write took, by the script's answer; answers the revision.
 */
const remember = (store: Messages, message: MessageStore.StoredMessage) => (answer: number | ReadonlyArray<number | string>) =>
  Effect.sync(() => {
    const rev = typeof answer === "number" ? answer : Number(answer[0])
    if (rev >= 0) store.written.remember(message.id, String(rev), message)
    else store.written.forget(message.id)
    if (rev >= 0 && typeof answer !== "number") {
      const found = new Map<string, string>()
      for (let i = 1; i + 1 < answer.length; i += 2) found.set(String(answer[i]), String(answer[i + 1]))
      for (const key of providerKeys(store, message)) store.taken.set(key, found.has(key) ? [found.get(key)!] : [])
    }
    return rev
  })

/**
 * Writes a message and its indexes; with an `expected` revision, only if the
 * stored one is still it (else -1). Without one it is an insert: the index of
 * all messages drops those past the retention as well.
 */
const writeMessage = (
  store: Messages,
  previous: MessageStore.MessageStatus,
  message: MessageStore.StoredMessage,
  expected: string
) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const [keys, save] = saveParts(store, previous, message, expected, now)
    return Effect.flatMap(store.save(keys, ...save), remember(store, message))
  })

/** Where {@link layer}'s message store writes a new message's Outbox job and key, so `accept` is one script. */
interface AcceptInto {
  /** The idempotency store's key prefix. */
  readonly keys: string
  /** The queue's keys without their suffix: effect's `<prefix><name>`. */
  readonly queue: string
  readonly recoverAfter: Duration.Duration
}

const acceptMessage = (store: Messages, into: AcceptInto) => {
  const accept = store.redis.eval(acceptScript)
  return (message: MessageStore.StoredMessage, key: MessageStore.AcceptKey | undefined) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const [keys, save] = saveParts(store, message.status, message, "", now)
      const delay = message.sendAt === undefined ? Duration.toMillis(into.recoverAfter) : Math.max(0, message.sendAt - now)
      const entry = key === undefined ? { value: "", px: "1" } : reservationEntry(key.reservation, now, key.ttl)
      // as effect's Redis queue writes a delayed offer with an id
      const job = JSON.stringify({ id: message.id, element: { messageId: message.id } })
      const answer: number | string = yield* accept(
        [key === undefined ? keys[0]! : into.keys + digest(key.name), `${into.queue}:delayed`, `${into.queue}:ids`],
        [key === undefined ? "0" : "1", entry.value, now, entry.px, message.id, job, now + delay],
        keys,
        ...save
      )
      if (typeof answer === "string") return yield* heldReservation(answer)
      yield* remember(store, message)(answer)
      return Option.none<Idempotency.Reservation>()
    })
}

/**
 * Change and compare-and-set, from what this instance last wrote when it has
 * it; otherwise, or when another writer got there first, read, change,
 * compare-and-set, again while another writer gets there first.
 */
const updateMessage = <E>(
  store: Messages,
  id: string,
  f: (message: MessageStore.StoredMessage) => Result.Result<MessageStore.StoredMessage, E>
): Effect.Effect<Result.Result<MessageStore.StoredMessage, E | MessageStore.MessageNotFound>, Redis.RedisError> =>
  Effect.gen(function*() {
    const last = store.written.get(id)
    // a refusal is decided on the message as it is now, not as this instance last saw it
    const fromLast = last === undefined ? undefined : f(last.message)
    if (last !== undefined && fromLast !== undefined && Result.isSuccess(fromLast)) {
      if ((yield* writeMessage(store, last.message.status, fromLast.success, last.version)) >= 0) return fromLast
    }
    while (true) {
      const found = yield* readMessage(store, id)
      if (Option.isNone(found)) return Result.fail(new MessageStore.MessageNotFound({ field: "id" }))
      const next = f(found.value.message)
      if (Result.isFailure(next)) return next
      const written = yield* writeMessage(store, found.value.message.status, next.success, found.value.rev)
      if (written >= 0) return next
    }
  })

/** Drops from an index the ids of messages created before the retention. */
const dropExpired = (store: Messages, key: string) =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (now) => store.redis.send("ZREMRANGEBYSCORE", key, "-inf", `(${String(now - store.retention)}`)
  )

const insertMessage = (store: Messages, message: MessageStore.StoredMessage) =>
  Effect.asVoid(writeMessage(store, message.status, message, ""))

const messageByProviderId = (store: Messages, transport: string, providerMessageId: string) =>
  Effect.gen(function*() {
    const id = yield* store.redis.send<string | null>("GET", store.keys.provider(transport, providerMessageId))
    if (id === null) return Option.none<MessageStore.StoredMessage>()
    return Option.map(yield* readMessage(store, id), (found) => found.message)
  })

/** Up to `limit` messages in `status`, oldest first, a page of the index at a time. */
const listMessages = (store: Messages, status: MessageStore.MessageStatus, limit: number) =>
  Effect.gen(function*() {
    const key = store.keys.status(status)
    yield* dropExpired(store, key)
    const found: Array<MessageStore.StoredMessage> = []
    const page = 100
    let offset = 0
    while (found.length < limit) {
      const ids = yield* store.redis.send<ReadonlyArray<string>>("ZRANGE", key, String(offset), String(offset + page - 1))
      if (ids.length === 0) break
      offset += ids.length
      const messages = yield* Effect.forEach(ids, (id) => readMessage(store, id), { concurrency: 16 })
      for (let i = 0; i < ids.length && found.length < limit; i++) {
        const message = messages[i]
        if (message !== undefined && Option.isSome(message) && message.value.message.status === status) {
          found.push(message.value.message)
        } else if (message !== undefined && Option.isNone(message)) {
          // Expired: drop it from the index (another reader may already have).
          yield* store.redis.send("ZREM", key, ids[i]!)
          offset--
        }
      }
    }
    return found
  })

const countMessages = (store: Messages) =>
  Effect.andThen(dropExpired(store, store.keys.all), store.redis.send<number>("ZCARD", store.keys.all))

/** The messages the recipient index names; ids whose message expired leave the index. */
const messagesTo = (store: Messages, to: string, tenant: string | undefined) =>
  Effect.gen(function*() {
    const key = store.keys.recipient(to, tenant)
    const ids = yield* store.redis.send<ReadonlyArray<string>>("ZRANGE", key, "0", "-1")
    const found = yield* Effect.forEach(ids, (id) => readMessage(store, id), { concurrency: 16 })
    const messages: Array<MessageStore.StoredMessage> = []
    for (const [i, entry] of found.entries()) {
      if (Option.isNone(entry)) yield* store.redis.send("ZREM", key, ids[i]!)
      // The digest could collide; the message's own fields decide.
      else if (entry.value.message.to === to && entry.value.message.tenant === tenant) messages.push(entry.value.message)
    }
    return messages
  })

const eraseMessagesTo = (store: Messages, to: string, tenant: string | undefined) =>
  Effect.gen(function*() {
    const found = yield* messagesTo(store, to, tenant)
    yield* Effect.forEach(found, (message) => eraseMessage(store, message), { concurrency: 16, discard: true })
    return found.length
  })

const eraseMessage = (store: Messages, message: MessageStore.StoredMessage) =>
  Effect.gen(function*() {
    store.written.forget(message.id)
    yield* store.redis.send("DEL", store.keys.message(message.id), ...providerKeys(store, message))
    yield* store.redis.send("ZREM", store.keys.all, message.id)
    yield* store.redis.send("ZREM", store.keys.status(message.status), message.id)
    yield* store.redis.send("ZREM", store.keys.recipient(message.to, message.tenant), message.id)
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
 * version. `<prefix>verif:to:<digest>` is a set of the keys of one number's
 * verifications in one tenant (a digest of both), for `eraseRecipient`,
 * expiring with the last of them. Fails with `Store.StoreUnavailable` when
 * Redis does.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeVerifications = (options: StoreOptions = {}) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const prefix = `${prefixOf(options)}verif:`
    const set = redis.eval(setVersionedScript)
    const guard = guardOf("verification", options)
    // The keys of a recipient's verifications, under a digest of tenant and number; base64url has no ":", so no value key collides.
    const recipientIndex = (to: string, tenant: string | undefined) => `${prefix}to:${digest(`${tenant ?? ""}\u0000${to}`)}`
    const index = (key: string, value: Verification.StoredValue, expiresAt: number, now: number) =>
      value._tag !== "Verification" ? Effect.void : Effect.gen(function*() {
        const indexKey = recipientIndex(value.to, value.tenant)
        yield* redis.send("SADD", indexKey, digest(key))
        const ttl = yield* redis.send<number>("PTTL", indexKey)
        if (ttl < Number(pttl(expiresAt, now))) yield* redis.send("PEXPIRE", indexKey, pttl(expiresAt, now))
      })
    const findByRecipient = (to: string, tenant: string | undefined) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const keys = yield* redis.send<ReadonlyArray<string>>("SMEMBERS", recipientIndex(to, tenant))
        const found: Array<Verification.VerificationRecord> = []
        for (const key of keys) {
          const [value, expiresAt] = yield* redis.send<ReadonlyArray<string | null>>("HMGET", prefix + key, "val", "exp")
          if (value == null || expiresAt == null || Number(expiresAt) <= now) continue
          const parsed = JSON.parse(value) as Verification.StoredValue
          if (Verification.isRecordOf(parsed, to, tenant)) found.push(parsed)
        }
        return found.sort((a, b) => a.createdAt - b.createdAt)
      })
    const eraseRecipient = (to: string, tenant: string | undefined) =>
      Effect.gen(function*() {
        const indexKey = recipientIndex(to, tenant)
        const keys = yield* redis.send<ReadonlyArray<string>>("SMEMBERS", indexKey)
        let erased = 0
        for (const key of keys) {
          const value = yield* redis.send<string | null>("HGET", prefix + key, "val")
          // The digest could collide, and a key may hold another value by now: the value decides.
          if (value === null || !Verification.isRecordOf(JSON.parse(value) as Verification.StoredValue, to, tenant)) continue
          erased += yield* redis.send<number>("DEL", prefix + key)
        }
        yield* redis.send("DEL", indexKey, prefix + digest(Verification.recipientKey(to, tenant)))
        return erased
      })
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
        }).pipe(guard("get")),
      set: (key, value, options) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          // Indexed before it is written: a record is never kept where eraseRecipient cannot find it.
          yield* index(key, value, options.expiresAt, now)
          const written = yield* set(
            prefix + digest(key),
            options.expectedVersion === undefined ? "" : String(options.expectedVersion),
            JSON.stringify(value),
            options.expiresAt,
            now,
            pttl(options.expiresAt, now)
          )
          return written >= 0
        }).pipe(guard("set")),
      remove: (key) => redis.send("DEL", prefix + digest(key)).pipe(Effect.asVoid, guard("remove")),
      findByRecipient: (to, tenant) => findByRecipient(to, tenant).pipe(guard("findByRecipient")),
      eraseRecipient: (to, tenant) => eraseRecipient(to, tenant).pipe(guard("eraseRecipient"))
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
    const guard = guardOf("consent", options)
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
        ).pipe(guard("get")),
      put: (value) =>
        put(recordKey(value.tenant, value.to), value.seq, JSON.stringify(value)).pipe(Effect.asVoid, guard("put")),
      recordSend: (tenant, to, purpose, at) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          record(
            sendsKey(tenant, to, purpose),
            at,
            `${at}:${randomUUID()}`,
            at - SEND_HISTORY,
            pttl(at + SEND_HISTORY, Math.min(now, at))
          )).pipe(Effect.asVoid, guard("recordSend")),
      sends: (tenant, to, purpose, since) =>
        Effect.map(
          redis.send<ReadonlyArray<string>>("ZRANGE", sendsKey(tenant, to, purpose), `(${since}`, "+inf", "BYSCORE"),
          (members) => members.map((member) => Number(member.slice(0, member.indexOf(":"))))
        ).pipe(guard("sends")),
      remove: (to, tenant = "default") =>
        Effect.gen(function*() {
          // Send times are keyed by a digest that includes the purpose: the purposes Consent counts.
          yield* redis.send("DEL", ...Consent.countedPurposes.map((purpose) => sendsKey(tenant, to, purpose)))
          return (yield* redis.send<number>("DEL", recordKey(tenant, to))) > 0
        }).pipe(guard("remove"))
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
 * Templates kept in Redis through `Templates.layerStoreKeyValue`, each call
 * bounded by `timeout`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerTemplates = (options: StoreOptions = {}): Layer.Layer<Templates.TemplateStore, never, Redis.Redis> =>
  Templates.layerStoreKeyValue({ timeout: options.timeout }).pipe(Layer.provide(layerKeyValueStore(options)))

// rate limits

/**
 * effect's Redis `RateLimiterStore` under `<prefix>ratelimit:`, with every
 * key a SHA-256 digest (a limit's key may name a number, an IP or a tenant)
 * and every call bounded by `timeout`. An outage fails with effect's
 * `RateLimiterError` (`RateLimitStoreError`) whose cause is the shared
 * `Store.StoreUnavailable`.
 *
 * @category layers
 * @since 0.2.0
 */
export const layerRateLimiterStore = (options: StoreOptions = {}): Layer.Layer<RateLimiter.RateLimiterStore, never, Redis.Redis> =>
  Layer.effect(
    RateLimiter.RateLimiterStore,
    Effect.map(Effect.service(RateLimiter.RateLimiterStore), (store) => {
      const bound = (operation: string) => <A>(effect: Effect.Effect<A, RateLimiter.RateLimiterError>) =>
        Effect.catchTag(
          Store.guard("rate limit", operation, options.timeout ?? Store.defaultTimeout)(effect),
          "StoreUnavailable",
          (cause) =>
            Effect.fail(
              new RateLimiter.RateLimiterError({
                reason: new RateLimiter.RateLimitStoreError({ message: `Failed to execute ${operation} on Redis`, cause })
              })
            )
        )
      return RateLimiter.RateLimiterStore.of({
        fixedWindow: (o) => bound("fixedWindow")(store.fixedWindow({ ...o, key: digest(o.key) })),
        tokenBucket: (o) => bound("tokenBucket")(store.tokenBucket({ ...o, key: digest(o.key) })),
        adaptiveConsume: (o) => bound("adaptiveConsume")(store.adaptiveConsume({ ...o, key: digest(o.key) })),
        adaptiveFeedback: (o) => bound("adaptiveFeedback")(store.adaptiveFeedback({ ...o, key: digest(o.key) }))
      })
    })
  ).pipe(Layer.provide(RateLimiter.layerStoreRedis({ prefix: `${prefixOf(options)}ratelimit:` })))

/**
 * A Redis-backed `RateLimiter` on {@link layerRateLimiterStore}.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRateLimiter = (options: StoreOptions = {}): Layer.Layer<RateLimiter.RateLimiter, never, Redis.Redis> =>
  RateLimiter.layer.pipe(Layer.provide(layerRateLimiterStore(options)))

// outbox

/**
 * @category models
 * @since 0.2.0
 */
export interface OutboxOptions extends StoreOptions, Omit<Outbox.PersistedOptions, "transaction"> {
  /** How often an idle worker looks for due jobs. Default 1 second. */
  readonly pollInterval?: Duration.Input | undefined
  /**
   * After how long without a refresh a taken job counts as abandoned (its
   * process died) and is taken again. Default 90 seconds.
   */
  readonly lockExpiration?: Duration.Input | undefined
  /** How often a running job's lock is refreshed. Default 30 seconds; keep it well under `lockExpiration`. */
  readonly lockRefreshInterval?: Duration.Input | undefined
  /**
   * Deletes finished jobs every `interval` (default 1 hour) once older than
   * `timeToLive` (default 30 days: an id offered again within it is not
   * queued twice), and dead letters once older than `failedTimeToLive`
   * (default never); `false` never (run `PersistedQueue.layerCleanup` in one
   * instance yourself).
   */
  readonly cleanup?: Parameters<typeof PersistedQueue.layerCleanup>[0] | false | undefined
}

/**
 * The durable Outbox on Redis: effect's `PersistedQueue` on the Redis store,
 * under `<prefix>queue:` (keys name the queue and hold message ids, never a
 * number).
 *
 * **Details**
 * - Delays (scheduled sends, backoff) are kept in Redis and compared with
 *   the processes' clocks, which must agree.
 * - A job whose worker died is taken again `lockExpiration` after its last
 *   lock refresh. A job runs at least once.
 * - Redis has no transaction spanning the stores' scripts and the queue's:
 *   the message is written before its job is offered, and the Outbox's
 *   recovery finds a message whose job never arrived only through a resend
 *   with its key. Enable `appendonly yes` so jobs survive a Redis restart.
 * - `offer` is bounded by `timeout`; an outage fails it with
 *   `StoreUnavailable`.
 * - Finished jobs are deleted after 30 days, dead letters kept (`cleanup`).
 *
 * @category layers
 * @since 0.2.0
 */
export const layerOutbox = (options: OutboxOptions = {}): Layer.Layer<Outbox.Outbox, never, Redis.Redis> => {
  const { cleanup, lockExpiration, lockRefreshInterval, pollInterval, prefix: _, timeout, ...outbox } = options
  return Outbox.layerPersisted(outbox).pipe(
    Layer.provide(PersistedQueue.layer),
    Layer.provide(cleanup === false ? Layer.empty : PersistedQueue.layerCleanup(cleanup)),
    Layer.provide(boundedQueueStore(timeout ?? Store.defaultTimeout)),
    Layer.provide(PersistedQueue.layerStoreRedis({
      prefix: `${prefixOf(options)}queue:`,
      pollInterval,
      lockExpiration,
      lockRefreshInterval
    }))
  )
}

// all of them

/**
 * Every store the pipeline needs (`Sms.Stores`) on one Redis: idempotency,
 * messages, verifications, consent, templates, the rate limiter and the
 * durable Outbox ({@link layerOutbox}). Provide it to
 * `Sms.layerPipeline(config)`.
 *
 * **Details**
 * A send's message, Outbox job and idempotency key are written by one
 * script (the message store's `accept`), so replace these stores together,
 * not one of the three alone.
 *
 * It also provides the `RateLimiterStore` ({@link layerRateLimiterStore})
 * and effect's Redis `CircuitBreakerStore` (under `<prefix>circuit:`, keyed
 * by route names), which the Router picks up from its context: per-route
 * rate limits and circuit breakers are then shared by every instance too.
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
  | CircuitBreaker.CircuitBreakerStore
  | Outbox.Outbox,
  never,
  Redis.Redis
> => {
  const store = { prefix: prefixOf(options), timeout: options.timeout }
  return Layer.mergeAll(
    layerIdempotency(store),
    Layer.effect(
      MessageStore.MessageStore,
      messagesStore({ ...options.messages, ...store }, {
        keys: `${store.prefix}idem:`,
        queue: `${store.prefix}queue:${options.outbox?.name ?? Outbox.defaultName}`,
        recoverAfter: Duration.fromInputUnsafe(options.outbox?.recoverAfter ?? Outbox.defaultRecoverAfter)
      })
    ),
    layerVerifications(store),
    layerConsent(store),
    layerTemplates(store),
    RateLimiter.layer.pipe(Layer.provideMerge(layerRateLimiterStore(store))),
    CircuitBreaker.layerStoreRedis({ prefix: `${store.prefix}circuit:` }),
    layerOutbox({ ...options.outbox, ...store })
  )
}
