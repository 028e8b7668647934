import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Option } from "effect"
import { RateLimiter, Redis } from "effect/persistence"
import { randomUUID } from "node:crypto"
import { Idempotency, MessageStore, Verification, Consent } from "smsforge"
import * as StoreConformance from "../../src/testing/StoreConformance.ts"
import * as RedisStores from "../../stores/redis/index.ts"
import { describeWith } from "./env.ts"

/** The suite, or one skipped line naming the missing variable. */


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
    for (const c of StoreConformance.all) {
      it.effect(c.name, () => c.run)
    }

    it.effect("no key names a phone number", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const consent = yield* Consent.ConsentStore
        const verifications = yield* Verification.VerificationStore
        const to = "+447700900999"
        yield* consent.put({ tenant: "t", to, seq: 1, purposes: {}, pending: {} })
        yield* consent.recordSend("t", to, "marketing", 1)
        yield* verifications.set(`r:t:${to}`, { _tag: "Pointer", id: "x" }, { expectedVersion: undefined, expiresAt: Number.MAX_SAFE_INTEGER / 2 })
        const keys = yield* scanPrefix(redis, prefix)
        assert.isTrue(keys.length > 0)
        assert.isFalse(keys.some((key) => key.includes("447700900999")))
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

describe("Redis stores on a failing Redis", () => {
  const Down = Layer.succeed(Redis.Redis, Redis.Redis.of({
    send: () => Effect.fail(new Redis.RedisError({ cause: new Error("ECONNREFUSED") })),
    eval: () => () => Effect.fail(new Redis.RedisError({ cause: new Error("ECONNREFUSED") })),
    subscribe: () => Effect.die("unused"),
    reserve: Effect.die("unused")
  }))

  it.effect("stores without an error channel die with StoreError, never answer 'absent'", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency.IdempotencyStore
      const messages = yield* MessageStore.MessageStore
      const exits: ReadonlyArray<Exit.Exit<unknown>> = [
        yield* Effect.exit(idempotency.reserve("k", { messageId: "m", fingerprint: "f" }, Duration.hours(1))),
        yield* Effect.exit(messages.get("m")),
        yield* Effect.exit(messages.size)
      ]
      for (const exit of exits) {
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const defect = Cause.squash(exit.cause)
          assert.instanceOf(defect, RedisStores.StoreError)
          assert.notInclude(String((defect as Error).message), "k")
        }
      }
    }).pipe(Effect.provide(Layer.mergeAll(RedisStores.layerIdempotency(), RedisStores.layerMessages()).pipe(Layer.provide(Down)))))

  it.effect("the verification store fails with StoreUnavailable", () =>
    Effect.gen(function*() {
      const store = yield* Verification.VerificationStore
      const exit = yield* Effect.exit(store.get("v:1"))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.instanceOf(error, Verification.VerificationError)
      assert.strictEqual((error as Verification.VerificationError).reason._tag, "StoreUnavailable")
    }).pipe(Effect.provide(RedisStores.layerVerifications().pipe(Layer.provide(Down)))))
})
