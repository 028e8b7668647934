import { assert, describe, it, layer } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Layer, Option } from "effect"
import { RateLimiter, Redis } from "effect/persistence"
import { randomUUID } from "node:crypto"
import { Consent, Idempotency, MessageStore, Outbox, Sms, Verification } from "smsforge"
import { Sandbox } from "smsforge/testing"
import fc from "fast-check"
import { OrderProgressRedis } from "../../commerce/index.ts"
import * as Erasure from "../fixtures/erasure.ts"
import { lastWriteLosesToAnotherInstance } from "../fixtures/instances.ts"
import * as StoreConformance from "../../src/testing/StoreConformance.ts"
import * as RedisStores from "../../stores/redis/index.ts"
import { closedPort, describeWith, proxyTo } from "./env.ts"

const url = process.env.REDIS_URL
const prefix = `smsforge-test:${randomUUID()}:`

const scanPrefix = (redis: Redis.Redis["Service"], match: string) =>
  Effect.gen(function*() {
    const found: Array<string> = []
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.send<readonly [string, ReadonlyArray<string>]>("SCAN", cursor, "MATCH", `${match}*`, "COUNT", "1000")
      cursor = next
      found.push(...keys)
    } while (cursor !== "0")
    return found
  })

/** Deletes every key of this run when the layer closes. */
const Cleanup = Layer.effectDiscard(
  Effect.flatMap(Effect.service(Redis.Redis), (redis) =>
    Effect.addFinalizer(() =>
      scanPrefix(redis, prefix).pipe(
        Effect.flatMap((keys) => (keys.length === 0 ? Effect.void : redis.send("DEL", ...keys))),
        Effect.ignore
      )
    ))
)

const Live = Layer.mergeAll(RedisStores.layer({ prefix }), Cleanup).pipe(
  Layer.provideMerge(RedisStores.layerFromUrl(url ?? "redis://127.0.0.1:6379"))
)

describeWith(url, "Redis stores", "REDIS_URL", () => {
  layer(Live, { timeout: "30 seconds" })("conformance", (it) => {
    for (const c of [...StoreConformance.all, ...StoreConformance.messagesOnTestClock]) {
      it.effect(c.name, () => c.run)
    }

    it.effect("no key names a phone number, an IP or a tenant", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const consent = yield* Consent.ConsentStore
        const verifications = yield* Verification.VerificationStore
        const idempotency = yield* Idempotency.IdempotencyStore
        const messages = yield* MessageStore.MessageStore
        const limiter = yield* RateLimiter.RateLimiter
        const to = "+447700900999"
        const tenant = "tenant-acme"
        yield* consent.put({ tenant, to, seq: 1, purposes: {}, pending: {} })
        yield* consent.recordSend(tenant, to, "marketing", 1)
        yield* verifications.set(`r:${tenant}:${to}`, { _tag: "Pointer", id: "x" }, { expectedVersion: undefined, expiresAt: Number.MAX_SAFE_INTEGER / 2 })
        yield* idempotency.reserve(JSON.stringify([tenant, to]), { messageId: "m", fingerprint: "f" }, Duration.hours(1))
        yield* messages.holdReport({ _tag: "DeliveryReport", transport: "t", providerMessageId: to, status: "delivered", at: 0 }, Duration.hours(1))
        yield* limiter.consume({ key: `sends:${tenant}:${to}:198.51.100.7`, limit: 5, window: "1 minute" })
        yield* limiter.consume({ algorithm: "token-bucket", key: `ip:198.51.100.7`, limit: 5, window: "1 minute" })
        const keys = yield* scanPrefix(redis, prefix)
        assert.isTrue(keys.some((key) => key.includes("ratelimit:")), "the rate limiter wrote under the prefix")
        for (const secret of ["447700900999", "198.51.100.7", "acme"]) {
          assert.isFalse(keys.some((key) => key.includes(secret)), secret)
        }
      }))

    it.effect("consent put never replaces a record with a lower seq", () =>
      Effect.gen(function*() {
        const store = yield* Consent.ConsentStore
        const tenant = randomUUID()
        const to = "+447700900123"
        yield* store.put({ tenant, to, seq: 5, purposes: {}, pending: {}, timeZone: "Europe/Paris" })
        yield* store.put({ tenant, to, seq: 4, purposes: {}, pending: {} })
        const got = yield* store.get(tenant, to)
        assert.isTrue(Option.isSome(got) && got.value.seq === 5 && got.value.timeZone === "Europe/Paris")
        yield* store.put({ tenant, to, seq: 5, purposes: {}, pending: {} })
        const same = yield* store.get(tenant, to)
        assert.isTrue(Option.isSome(same) && same.value.timeZone === undefined)
      }))

    it.effect("a status change from this instance's last write loses to another instance's change and applies after it", () =>
      Effect.gen(function*() {
        const a = yield* MessageStore.MessageStore
        // another instance: its own store on the same keys
        const b = yield* RedisStores.makeMessages({ prefix })
        const delivered = yield* lastWriteLosesToAnotherInstance(a, b)
        const id = delivered.id
        // the status indexes follow, and an insert again with another status moves it without a read first
        assert.isTrue((yield* a.list({ status: "delivered" })).some((m) => m.id === id))
        yield* b.insert({ ...delivered, status: "expired" })
        const redis = yield* Redis.Redis
        assert.isNull(yield* redis.send<string | null>("ZSCORE", `${prefix}msgs:status:delivered`, id))
        assert.isFalse((yield* a.list({ status: "delivered" })).some((m) => m.id === id))
        assert.isTrue((yield* a.list({ status: "expired" })).some((m) => m.id === id))
      }))

    it.effect("messages expire with their retention", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const store = yield* MessageStore.MessageStore
        const id = randomUUID()
        yield* store.insert({
          id, to: "+447700900123", country: "GB", purpose: "transactional", text: "hi", encoding: "GSM-7",
          segmentCount: 1, status: "accepted", history: [], attempts: 0, decisions: [], createdAt: 0
        })
        const ttl = yield* redis.send<number>("PTTL", `${prefix}msg:${id}`)
        assert.isTrue(ttl > 0 && ttl <= Duration.toMillis("7 days"))
      }))

    it.effect("the rate limiter counts across the shared store", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const key = randomUUID()
        const consume = limiter.consume({ key, limit: 2, window: "1 minute", onExceeded: "fail" })
        yield* consume
        yield* consume
        const third = yield* Effect.exit(consume)
        assert.isTrue(Exit.isFailure(third))
      }))
  })
})

/** Every key under `match` and its value, whatever its type, as text. */
const dumpPrefix = (match: string) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const parts: Array<string> = []
    for (const key of yield* scanPrefix(redis, match)) {
      const type = yield* redis.send<string>("TYPE", key)
      const value = type === "string"
        ? yield* redis.send<unknown>("GET", key)
        : type === "hash"
        ? yield* redis.send<unknown>("HGETALL", key)
        : type === "zset"
        ? yield* redis.send<unknown>("ZRANGE", key, "0", "-1", "WITHSCORES")
        : type === "set"
        ? yield* redis.send<unknown>("SMEMBERS", key)
        : type === "list"
        ? yield* redis.send<unknown>("LRANGE", key, "0", "-1")
        : `(${type})`
      parts.push(key, JSON.stringify(value))
    }
    return Erasure.joinDump(parts)
  })

describeWith(url, "Redis stores: personal-data erasure", "REDIS_URL", () => {
  layer(Layer.mergeAll(Cleanup).pipe(Layer.provideMerge(RedisStores.layerFromUrl(url ?? ""))), { timeout: "120 seconds" })("erasure", (it) => {
    it.effect("after erasure no key or value under the prefix holds the number, others' data stays, the chain verifies", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(Erasure.ops, fc.nat({ max: Erasure.numbers.length - 1 }), (history, target) => {
              // A prefix per run: the dump sees this history only.
              const own = `${prefix}erasure:${randomUUID()}:`
              const stores = Layer.mergeAll(
                RedisStores.layerIdempotency({ prefix: own }),
                RedisStores.layerMessages({ prefix: own }),
                RedisStores.layerVerifications({ prefix: own }),
                RedisStores.layerConsent({ prefix: own }),
                RedisStores.layerTemplates({ prefix: own }),
                RedisStores.layerRateLimiter({ prefix: own }),
                OrderProgressRedis.layerStoreRedis({ prefix: own }),
                Outbox.layerMemory()
              )
              const pipeline = Sms.layerPipeline({ transports: [Sandbox.makeUnsafe()], audit: { hashKey: "audit-key" } }).pipe(
                Layer.provideMerge(stores)
              )
              return Effect.runPromise(
                Erasure.erasureHolds(history, target, Erasure.withAuditLog(dumpPrefix(own))).pipe(
                  Effect.provide(pipeline),
                  Effect.provideService(Redis.Redis, redis)
                )
              )
            }),
            { numRuns: 15 }
          )
        )
      }), { timeout: 120_000 })
  })
})

describe("Redis stores on a failing Redis", () => {
  const Down = Layer.succeed(Redis.Redis, Redis.Redis.of({
    send: () => Effect.fail(new Redis.RedisError({ cause: new Error("ECONNREFUSED") })),
    eval: () => () => Effect.fail(new Redis.RedisError({ cause: new Error("ECONNREFUSED") })),
    subscribe: () => Effect.die("unused"),
    reserve: Effect.die("unused")
  }))
  const stores = Layer.mergeAll(
    RedisStores.layerIdempotency(),
    RedisStores.layerMessages(),
    RedisStores.layerVerifications(),
    RedisStores.layerConsent()
  )

  for (const c of StoreConformance.unreachable("1 second")) {
    it.live(`a failing client: ${c.name}`, () => c.run.pipe(Effect.provide(stores.pipe(Layer.provide(Down)))))
  }
})

describeWith(url, "Redis stores on an unreachable Redis", "REDIS_URL", () => {
  const stores = (url: string, timeout: Duration.Input) =>
    Layer.mergeAll(
      RedisStores.layerIdempotency({ prefix, timeout }),
      RedisStores.layerMessages({ prefix, timeout }),
      RedisStores.layerVerifications({ prefix, timeout }),
      RedisStores.layerConsent({ prefix, timeout })
    ).pipe(Layer.provide(RedisStores.layerFromUrl(url, { closeTimeout: "200 millis" })))

  // Real time: what is tested is how long the stores wait for a server that does not answer.
  for (const outage of ["cut", "blackhole"] as const) {
    it.live(`a ${outage === "cut" ? "cut" : "black-holed"} connection: every call fails with StoreUnavailable within its timeout`, () =>
      Effect.gen(function*() {
        const proxy = yield* proxyTo(url ?? "")
        const context = yield* Layer.build(stores(proxy.url, "1 second"))
        yield* Effect.addFinalizer(() => proxy.cut)
        yield* proxy[outage]
        for (const c of StoreConformance.unreachable("2500 millis")) {
          yield* c.run.pipe(Effect.provide(context))
        }
      }).pipe(Effect.scoped), { timeout: 30_000 })
  }

  it.live("a closed port: connecting fails with StoreUnavailable, in time", () =>
    Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(Layer.build(stores(`redis://127.0.0.1:${yield* closedPort}`, "1 second")))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.findErrorOption(exit)
      assert.isTrue(Option.isSome(error) && error.value._tag === "StoreUnavailable")
      assert.isBelow((yield* Clock.currentTimeMillis) - start, 10_000)
    }).pipe(Effect.scoped), { timeout: 30_000 })
})
