/**
 * A route's shared rate limit on a real Redis: two independent routers (two
 * store layers, two connections, as two processes would have) hammer one
 * route at 20/s, and no one-second window at the carrier holds more than 20.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { RateLimiter, Redis } from "effect/persistence"
import { randomUUID } from "node:crypto"
import { Router, Transport } from "smsforge"
import * as RedisStores from "../../stores/redis/index.ts"
import { describeWith } from "./env.ts"

const url = process.env.REDIS_URL
const prefix = `smsforge-test:${randomUUID()}:`

/** The most submissions any window [t, t + 1000) holds. */
const busiestSecond = (times: ReadonlyArray<number>): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[j]! <= sorted[i]! - 1000) j++
    best = Math.max(best, i - j + 1)
  }
  return best
}

/** One "process": its own connection and its own RateLimiter store layer on the shared Redis. */
const storeOfOneProcess = (redisUrl: string): Layer.Layer<RateLimiter.RateLimiterStore> =>
  RateLimiter.layerStoreRedis({ prefix: `${prefix}ratelimit:` }).pipe(
    Layer.provide(RedisStores.layerFromUrl(redisUrl)),
    Layer.orDie
  )

/** The carrier, seen from one process: it writes the wall-clock time of each submission into a shared list. */
const carrier = (times: Array<number>) =>
  Transport.make({
    name: "carrier",
    capabilities: { channel: "sms", unicode: true, concatenation: true, deliveryReceipts: false, inbound: false, senderTypes: ["long-code"] },
    submit: () =>
      Effect.sync(() => {
        times.push(Date.now())
        return { providerMessageId: `p${times.length}` }
      })
  })

const request = (id: string): Router.RouteRequest => ({
  messageId: id,
  to: { e164: "+447700900123", country: "GB" },
  purpose: "transactional",
  text: "Hello",
  segmentCount: 1,
  encoding: "GSM-7"
})

const submission = (r: Router.RouteRequest): Router.DispatchSubmission => ({
  to: r.to.e164,
  text: r.text,
  segments: [r.text],
  encoding: r.encoding,
  clientReference: r.messageId,
  purpose: "transactional"
})

const scanPrefix = (redis: Redis.Redis["Service"]) =>
  Effect.gen(function*() {
    const found: Array<string> = []
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.send<readonly [string, ReadonlyArray<string>]>("SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000")
      cursor = next
      found.push(...keys)
    } while (cursor !== "0")
    return found
  })

describeWith(url, "Router rate limit on Redis", "REDIS_URL", () => {
  it.live("two routers with their own connections hammer one 20/s route: no one-second window holds more than 20", () =>
    Effect.gen(function*() {
      const redisUrl = url!
      const times: Array<number> = []
      const perProcess = 70
      const routers = yield* Effect.forEach([0, 1], () =>
        Router.make({
          transports: [carrier(times)],
          rules: { routes: [{ name: "uk-bulk", transport: "carrier", maxPerSecond: 20 }] },
          stores: { rateLimiter: storeOfOneProcess(redisUrl) },
          retry: { maxAttempts: 1 }
        }))
      const started = Date.now()
      const exits = yield* Effect.forEach(
        routers.flatMap((router, p) => Array.from({ length: perProcess }, (_, m) => [router, request(`p${p}-m${m}`)] as const)),
        ([router, r]) => Effect.exit(router.dispatch(r, submission(r))),
        { concurrency: "unbounded" }
      )
      const elapsed = Date.now() - started
      console.log(`ratelimit.redis: ${times.length} submissions in ${elapsed} ms, busiest one-second window ${busiestSecond(times)}`)
      assert.isTrue(exits.every(Exit.isSuccess), "every message is sent")
      assert.strictEqual(times.length, 2 * perProcess)
      const busiest = busiestSecond(times)
      assert.isAtMost(busiest, 20, `busiest one-second window: ${busiest}`)
      // the route is used, not starved: 140 messages take 7.3 s at the slots'
      // 19.2/s; a loaded machine's late timers and slow round trips cost more
      assert.isBelow(elapsed, 20_000, `took ${elapsed} ms`)

      // the store's key names carry neither the route nor the transport
      const keys = yield* Effect.flatMap(Effect.service(Redis.Redis), scanPrefix).pipe(Effect.provide(RedisStores.layerFromUrl(redisUrl)))
      assert.isTrue(keys.length > 0)
      for (const key of keys) {
        assert.notInclude(key, "uk-bulk")
        assert.notInclude(key, "carrier")
      }
    }).pipe(
      Effect.scoped,
      Effect.ensuring(
        Effect.gen(function*() {
          const redis = yield* Redis.Redis
          const keys = yield* scanPrefix(redis)
          if (keys.length > 0) yield* redis.send("DEL", ...keys)
        }).pipe(Effect.provide(RedisStores.layerFromUrl(url ?? "redis://127.0.0.1:6379")), Effect.ignore)
      )
    ), 40_000)
})
