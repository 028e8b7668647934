import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import { randomUUID } from "node:crypto"
import { OrderProgress, OrderProgressRedis, OrderProgressSql } from "smsforge/commerce"
import * as PgStores from "../../stores/postgres/index.ts"
import * as RedisStores from "../../stores/redis/index.ts"
import { describeWith } from "./env.ts"

// The same conformance for both backends: compare-and-set, expiry by the Effect clock, erasure by subject.
const conformance = (it: { effect: (name: string, f: () => Effect.Effect<void, unknown, OrderProgress.OrderProgressStore>) => void }) => {
  it.effect("writes only at the version read; of racing writers exactly one wins", () =>
    Effect.gen(function*() {
      const store = yield* OrderProgress.OrderProgressStore
      const key = randomUUID()
      const p = { rank: 0, sent: ["placed"] }
      const wins = yield* Effect.all(
        Array.from({ length: 8 }, () => store.set(key, p, { expectedVersion: undefined, expiresAt: 60_000 })),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(wins.filter(Boolean).length, 1)
      assert.isFalse(yield* store.set(key, p, { expectedVersion: 5, expiresAt: 60_000 }))
      assert.isTrue(yield* store.set(key, { rank: 1, sent: ["placed", "paid"] }, { expectedVersion: 0, expiresAt: 60_000 }))
      const read = Option.getOrThrow(yield* store.get(key))
      assert.deepStrictEqual(read, { progress: { rank: 1, sent: ["placed", "paid"] }, version: 1 })
    }))

  it.effect("expires by the Effect clock, then a key can be created again", () =>
    Effect.gen(function*() {
      const store = yield* OrderProgress.OrderProgressStore
      const key = randomUUID()
      assert.isTrue(yield* store.set(key, { rank: 0, sent: [] }, { expectedVersion: undefined, expiresAt: 10_000 }))
      yield* TestClock.adjust("11 seconds")
      assert.isTrue(Option.isNone(yield* store.get(key)))
      assert.isTrue(yield* store.set(key, { rank: 2, sent: [] }, { expectedVersion: undefined, expiresAt: 100_000 }))
    }))

  it.effect("finds and erases every record of a subject, and only those", () =>
    Effect.gen(function*() {
      const store = yield* OrderProgress.OrderProgressStore
      const subject = OrderProgress.digest(randomUUID())
      const other = OrderProgress.digest(randomUUID())
      for (const s of [subject, subject, other]) {
        yield* store.set(randomUUID(), { rank: 0, sent: ["placed"], subject: s, contact: { phone: "+447400123456" } }, {
          expectedVersion: undefined,
          expiresAt: 60_000
        })
      }
      assert.strictEqual((yield* store.findSubject(subject)).length, 2)
      assert.strictEqual(yield* store.eraseSubject(subject), 2)
      assert.strictEqual((yield* store.findSubject(subject)).length, 0)
      assert.strictEqual((yield* store.findSubject(other)).length, 1)
    }))
}

const redisUrl = process.env.REDIS_URL
describeWith(redisUrl, "commerce order progress on Redis", "REDIS_URL", () => {
  const Live = OrderProgressRedis.layerStoreRedis({ prefix: `smsforge-test:${randomUUID()}:` }).pipe(
    Layer.provide(RedisStores.layerFromUrl(redisUrl ?? ""))
  )
  layer(Live, { timeout: 30_000 })((it) => conformance(it))
})

const pgUrl = process.env.DATABASE_URL
describeWith(pgUrl, "commerce order progress on PostgreSQL", "DATABASE_URL", () => {
  const Live = OrderProgressSql.layerStoreSql({ tablePrefix: `t${randomUUID().replaceAll("-", "").slice(0, 12)}_` }).pipe(
    Layer.provide(PgStores.layerFromUrl(pgUrl ?? ""))
  )
  layer(Live, { timeout: 30_000 })((it) => conformance(it))
})
