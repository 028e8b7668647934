/**
 * Route rate limits: every one-second window holds at most `maxPerSecond`
 * submissions, also when routers in several processes share one store whose
 * answers take time; rate-limit key names never carry a number or a name.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer } from "effect"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { prng } from "../src/internal/seededHash.ts"
import { slotMillis } from "../src/internal/routing/slots.ts"
import * as Events from "../src/Events.ts"
import * as PhoneNumbers from "../src/PhoneNumbers.ts"
import * as Router from "../src/Router.ts"
import * as Transport from "../src/Transport.ts"
import * as Verification from "../src/Verification.ts"

// helpers

const capabilities = (maxPerSecond?: number): Transport.Capabilities => ({
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: true,
  inbound: false,
  senderTypes: ["long-code"],
  ...(maxPerSecond === undefined ? {} : { maxPerSecond })
})

/** A carrier (one per "process") that writes the time of each submission into a shared list. */
const carrier = (name: string, times: Array<number>, maxPerSecond?: number) =>
  Transport.make({
    name,
    capabilities: capabilities(maxPerSecond),
    submit: () =>
      Effect.map(Clock.currentTimeMillis, (at) => {
        times.push(at)
        return { providerMessageId: `${name}-${times.length}` }
      })
  })

const request = (id: string, e164 = "+447700900123", country = "GB", purpose: Router.Purpose = "transactional"): Router.RouteRequest => ({
  messageId: id,
  to: { e164, country },
  purpose,
  text: "【Shop】Hello",
  segmentCount: 1,
  encoding: "GSM-7",
  template: { id: "t", approved: true }
})

const submission = (r: Router.RouteRequest): Router.DispatchSubmission => ({
  to: r.to.e164,
  text: r.text,
  segments: [r.text],
  encoding: r.encoding,
  clientReference: r.messageId,
  purpose: "transactional"
})

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

/**
 * The memory store behind a network: each call waits on the way there and on
 * the way back (random, seeded), as a Redis round trip does. `keys` records
 * every key name the router used.
 */
const remoteStore = (options: { readonly seed: number; readonly maxLatency: number; readonly keys?: Set<string> }) =>
  Layer.effect(
    RateLimiter.RateLimiterStore,
    Effect.gen(function*() {
      const inner = yield* RateLimiter.RateLimiterStore
      const random = prng(options.seed)
      const latency = () => Effect.sleep(Duration.millis(Math.floor(random() * (options.maxLatency + 1))))
      const remote = <A, E>(key: string, call: Effect.Effect<A, E>) =>
        Effect.suspend(() => {
          options.keys?.add(key)
          return Effect.andThen(latency(), Effect.tap(call, () => latency()))
        })
      return RateLimiter.RateLimiterStore.of({
        fixedWindow: (o) => remote(o.key, inner.fixedWindow(o)),
        tokenBucket: (o) => remote(o.key, inner.tokenBucket(o)),
        adaptiveConsume: (o) => remote(o.key, inner.adaptiveConsume(o)),
        adaptiveFeedback: (o) => remote(o.key, inner.adaptiveFeedback(o))
      })
    })
  ).pipe(Layer.provide(RateLimiter.layerStoreMemory))

interface Fleet {
  readonly perSecond: number
  readonly where: "route" | "transport"
  readonly processes: number
  readonly messages: number
  readonly maxLatency: number
  readonly margin: number
  readonly seed: number
}

/** Several routers ("processes") sharing one slow store hammer one route; the carrier's submission times. */
const runFleet = (fleet: Fleet) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    const routers = yield* Effect.forEach(Array.from({ length: fleet.processes }, (_, i) => i), () =>
      Router.make({
        transports: [carrier("c", times, fleet.where === "transport" ? fleet.perSecond : undefined)],
        rules: { routes: [{ name: "r", transport: "c", ...(fleet.where === "route" ? { maxPerSecond: fleet.perSecond } : {}) }] },
        rateMargin: Duration.millis(fleet.margin),
        retry: { maxAttempts: 1 }
      }))
    // every dispatch ends within 5 minutes, sent or not, so the clock's 10 minutes see them all end
    const validUntil = (yield* Clock.currentTimeMillis) + 300_000
    const fibers = yield* Effect.forEach(routers, (router, p) =>
      Effect.forEach(Array.from({ length: fleet.messages }, (_, m) => ({ ...request(`p${p}-m${m}`), validUntil })), (r) =>
        Effect.forkChild(Effect.exit(router.dispatch(r, submission(r))))))
    yield* TestClock.adjust("10 minutes")
    const exits = yield* Effect.forEach(fibers.flat(), Fiber.join)
    return { times, exits }
  }).pipe(Effect.scoped, Effect.provide(remoteStore({ seed: fleet.seed, maxLatency: fleet.maxLatency })))

describe("Router rate limits", () => {
  it("busiestSecond counts half-open windows", () => {
    assert.strictEqual(busiestSecond([]), 0)
    assert.strictEqual(busiestSecond([0, 999]), 2)
    assert.strictEqual(busiestSecond([0, 1000]), 1)
    assert.strictEqual(busiestSecond([0, 500, 999, 1000, 1499]), 4)
    assert.strictEqual(busiestSecond([0, 500, 1000, 1500]), 2)
  })

  it("slots: exact on the router's own store; on a shared one, the margin and 1 ms of store resolution on top", () => {
    assert.strictEqual(slotMillis(20, false, 0), 50)
    assert.strictEqual(slotMillis(20, true, 10), 52)
    fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 100 }), (n, margin) => {
      // any n + 1 submissions, each up to `margin` after its slot began and each
      // slot ending up to 1 ms early, span at least one second
      return n * (slotMillis(n, true, margin) - 1) - margin >= 1000
    }))
  })

  it.effect("20/s shared by two routers on a slow store: no one-second window holds 21", () =>
    Effect.gen(function*() {
      const { exits, times } = yield* runFleet({ perSecond: 20, where: "route", processes: 2, messages: 60, maxLatency: 4, margin: 10, seed: 7 })
      assert.strictEqual(times.length, 120)
      assert.isTrue(exits.every((e) => e._tag === "Success"))
      assert.isAtMost(busiestSecond(times), 20)
      // and the route is used: 120 messages at 19.2/s (52 ms slots) take about 6.2 s
      const span = Math.max(...times) - Math.min(...times)
      assert.isBelow(span, 7_000)
    }))

  it("property: any rate, fleet size, store latency and margin — every window holds at most maxPerSecond", async () => {
    const fleet: fc.Arbitrary<Fleet> = fc.record({
      perSecond: fc.constantFrom(1, 3, 5, 10, 20, 50),
      where: fc.constantFrom("route" as const, "transport" as const),
      processes: fc.integer({ min: 1, max: 4 }),
      messages: fc.integer({ min: 1, max: 20 }),
      maxLatency: fc.integer({ min: 0, max: 40 }),
      margin: fc.constantFrom(0, 5, 10, 25),
      seed: fc.nat()
    })
    await fc.assert(
      fc.asyncProperty(fleet, async (f) => {
        const { exits, times } = await Effect.runPromise(runFleet(f).pipe(Effect.provide(TestClock.layer())))
        // a slot that arrived too late is dropped; it is never used
        const sent = exits.filter((e) => e._tag === "Success").length
        return times.length === sent && busiestSecond(times) <= f.perSecond
      }),
      { numRuns: 25 }
    )
  }, 60_000)

  it.effect("a caller queued behind others for a slow route fails over at its deadline or maxRateWait, not when its turn comes", () =>
    Effect.scoped(Effect.gen(function*() {
      const slow: Array<number> = []
      const backup: Array<number> = []
      const router = yield* Router.make({
        transports: [carrier("slow", slow, 1), carrier("backup", backup)],
        maxRateWait: "3 seconds",
        retry: { maxAttempts: 1 }
      })
      const start = yield* Clock.currentTimeMillis
      // ten callers queue for the 1/s route; the last ones cannot get a slot within 3 s
      const queued = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => request(`q${i}`)), (r) =>
        Effect.forkChild(router.dispatch(r, submission(r))))
      const urgent = { ...request("urgent"), validUntil: start + 500 }
      const late = yield* Effect.forkChild(router.dispatch(urgent, submission(urgent)))
      yield* TestClock.adjust("1 minute")
      const routes = yield* Effect.forEach(queued, (f) => Effect.map(Fiber.join(f), (d) => [d.route, d.decisions[0]!.outcome]))
      const sent = yield* Fiber.join(late)
      // the urgent one went to the backup at its deadline (500 ms), not after the queue
      assert.strictEqual(sent.route, "backup")
      assert.strictEqual(sent.decisions[0]!.outcome, "DeadlineExceeded")
      // the slow route sent one a second while callers waited at most 3 s; the rest failed over
      assert.deepStrictEqual(slow.map((t) => t - start), [0, 1_000, 2_000, 3_000])
      assert.deepStrictEqual(routes.filter(([route]) => route === "backup").map(([, outcome]) => outcome), Array(6).fill("RouteSaturated"))
      assert.isTrue(backup.every((t) => t - start <= 3_001))
    })))

  it.effect("the router's own memory store paces exactly at the rate", () =>
    Effect.scoped(Effect.gen(function*() {
      const times: Array<number> = []
      const router = yield* Router.make({ transports: [carrier("c", times, 20)] })
      const fibers = yield* Effect.forEach(Array.from({ length: 41 }, (_, i) => request(`m${i}`)), (r) =>
        Effect.forkChild(router.dispatch(r, submission(r))))
      yield* TestClock.adjust("1 minute")
      yield* Effect.forEach(fibers, Fiber.join)
      const start = times[0]!
      assert.deepStrictEqual(times.map((t) => t - start), Array.from({ length: 41 }, (_, i) => i * 50))
      assert.strictEqual(busiestSecond(times), 20)
    })))

  it.effect("rate-limit key names hold no phone number, route or transport name", () =>
    Effect.gen(function*() {
      const keys = new Set<string>()
      const times: Array<number> = []
      const program = Effect.gen(function*() {
        const router = yield* Router.make({
          transports: [carrier("carrier-cn", times, 50)],
          rules: { routes: [{ name: "route-cn", transport: "carrier-cn", maxPerSecond: 10 }] }
        })
        const r = request("1", "+8613800138000", "CN", "verification")
        const fiber = yield* Effect.forkChild(router.dispatch(r, submission(r)))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
      })
      yield* program.pipe(Effect.scoped, Effect.provide(remoteStore({ seed: 1, maxLatency: 0, keys })))
      assert.strictEqual(times.length, 1)
      // two rates and three per-number windows of the China preset
      assert.strictEqual(keys.size, 5)
      for (const key of keys) {
        assert.match(key, /^smsforge\/Router\/(rate|region)\/[A-Za-z0-9_-]{22}$/)
        for (const clear of ["13800138000", "route-cn", "carrier-cn", "china"]) assert.notInclude(key, clear)
      }
    }))

  it.effect("verification rate-limit key names hold no number, client key or tenant; refusals still name their scope", () =>
    Effect.gen(function*() {
      const keys = new Set<string>()
      const sender = Layer.succeed(Verification.VerificationSender, {
        send: () => Effect.succeed({ messageId: "m1" }),
        deliveryStatus: () => Effect.succeed("pending" as const)
      })
      const env = Verification.layer({ rateLimits: { recipient: { limit: 5, window: "1 day" }, client: { limit: 1, window: "1 hour" } } }).pipe(
        Layer.provide(Layer.mergeAll(
          Verification.layerStoreMemory,
          RateLimiter.layer.pipe(Layer.provide(remoteStore({ seed: 1, maxLatency: 0, keys }))),
          sender,
          PhoneNumbers.layerDefault,
          Events.layer()
        ))
      )
      const refused = yield* Effect.gen(function*() {
        const verification = yield* Verification.Verification
        yield* verification.start({ to: "+447400123456", tenant: "acme", clientKey: "203.0.113.7" })
        return yield* Effect.flip(verification.start({ to: "+447400123457", tenant: "acme", clientKey: "203.0.113.7" }))
      }).pipe(Effect.provide(env))
      // the second send from the same client is refused by the client limit, named as such
      assert.strictEqual(refused.reason._tag, "RateLimited")
      assert.strictEqual((refused.reason as Verification.RateLimited).scope, "client")
      assert.isTrue(keys.size >= 4)
      for (const key of keys) {
        assert.match(key, /^smsforge\/verification\/(sends|recipient|prefix|client|tenant)\/[A-Za-z0-9_-]{22}$/)
        for (const clear of ["7400123456", "acme", "203.0.113.7", "+44740"]) assert.notInclude(key, clear)
      }
    }))
})
