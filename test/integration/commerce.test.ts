import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { RateLimiter } from "effect/persistence"
import { createSmsClient } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { expect, it as vitestIt } from "vitest"
import { TestClock } from "effect/testing"
import { randomUUID } from "node:crypto"
import {
  createNotices,
  createSignup,
  noticeTemplates,
  OrderProgress,
  OrderProgressRedis,
  OrderProgressSql,
  type OrderEvents
} from "../../commerce/index.ts"
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

  vitestIt("two instances sharing Redis send each notice once, and share the per-IP sign-up limit", async () => {
    const carrier = Sandbox.makeUnsafe()
    const templates = noticeTemplates({ brand: "Acme", approved: true })
    const client = createSmsClient({ transports: [carrier], templates })
    const prefix = `smsforge-test:${randomUUID()}:`
    const connection = RedisStores.layerFromUrl(redisUrl ?? "")
    const instance = () => createNotices({ client, templates, store: OrderProgressRedis.layerStoreRedis({ prefix }).pipe(Layer.provide(connection)) })
    const signupInstance = () =>
      createSignup({
        client,
        pepper: "pepper",
        limits: { startsPerIp: { limit: 2, window: "1 hour" } },
        prefix: `${prefix}signup:`,
        rateLimiterStore: RateLimiter.layerStoreRedis({ prefix }).pipe(Layer.provide(connection))
      })
    const [a, b] = [instance(), instance()]
    const [s1, s2] = [signupInstance(), signupInstance()]
    try {
      const event = (stage: OrderEvents.Stage): OrderEvents.OrderEvent => ({
        platform: "shopify", shop: "acme.myshopify.com", orderId: "42", orderName: "#42", stage, contact: { phone: "+447400123456" }
      })
      await Promise.all([a.notify(event("placed")), b.notify(event("placed")), a.notify(event("placed")), b.notify(event("placed"))])
      await Promise.all([a.notify(event("delivered")), b.notify(event("fulfilled"))])
      const texts = carrier.sent().map((m) => m.template?.id)
      expect(texts.filter((t) => t === "commerce-placed")).toHaveLength(1)
      // Whichever of the racing pair claimed first, "delivered" goes out once; "fulfilled" only if it claimed first.
      expect(texts.filter((t) => t === "commerce-delivered")).toHaveLength(1)
      expect(texts.length).toBeLessThanOrEqual(3)

      const ip = "203.0.113.9"
      expect((await s1.start({ to: "+447400123401", ip }))._tag).toBe("Sent")
      expect((await s2.start({ to: "+447400123402", ip }))._tag).toBe("Sent")
      expect(await s1.start({ to: "+447400123403", ip })).toMatchObject({ _tag: "Refused", scope: "ip" })
    } finally {
      await Promise.all([a.close(), b.close(), s1.close(), s2.close()])
      await client.close()
    }
  })
})

const pgUrl = process.env.DATABASE_URL
describeWith(pgUrl, "commerce order progress on PostgreSQL", "DATABASE_URL", () => {
  const Live = OrderProgressSql.layerStoreSql({ tablePrefix: `t${randomUUID().replaceAll("-", "").slice(0, 12)}_` }).pipe(
    Layer.provide(PgStores.layerFromUrl(pgUrl ?? ""))
  )
  layer(Live, { timeout: 30_000 })((it) => conformance(it))
})
