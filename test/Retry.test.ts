import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Retry from "../src/Retry.ts"
import * as Transport from "../src/Transport.ts"

const unavailable = new Transport.TransportError({ transport: "t", reason: new Transport.Unavailable({}) })
const rejected = new Transport.TransportError({ transport: "t", reason: new Transport.Rejected({}) })
const throttled = (ms: number) =>
  new Transport.TransportError({ transport: "t", reason: new Transport.Throttled({ retryAfter: Duration.millis(ms) }) })

const policyArb = fc.record({
  base: fc.integer({ min: 0, max: 5_000 }),
  factor: fc.double({ min: 1, max: 4, noNaN: true }),
  cap: fc.integer({ min: 0, max: 60_000 }),
  maxAttempts: fc.integer({ min: 1, max: 12 }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true })
}).map((o) => Retry.policy({ base: Duration.millis(o.base), factor: o.factor, cap: Duration.millis(o.cap), maxAttempts: o.maxAttempts, jitter: o.jitter }))

/** Runs an always-failing effect under the policy and records when each attempt started. */
const attemptTimes = (policy: Retry.Policy, seed: string, error: Transport.TransportError, deadline?: number) =>
  Effect.gen(function*() {
    const times = yield* Ref.make<Array<number>>([])
    const attempt = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* Ref.update(times, (t) => [...t, now])
      return yield* Effect.fail(error)
    })
    const fiber = yield* Effect.forkChild(Effect.flip(Retry.retry(attempt, policy, { seed, deadline })))
    yield* TestClock.adjust("10 hours")
    yield* Fiber.join(fiber)
    return yield* Ref.get(times)
  })

describe("Retry", () => {
  it("policy clamps bad values instead of throwing", () => {
    const p = Retry.policy({ base: "100 millis", factor: -3, cap: "1 millis", maxAttempts: 0, jitter: 5 })
    assert.deepStrictEqual(p, { base: 100, factor: 2, cap: 100, maxAttempts: 1, jitter: 1 / 3 })
  })

  it("delays without jitter are plain exponential", () => {
    assert.deepStrictEqual(
      Retry.delays(Retry.policy({ base: "100 millis", jitter: 0, maxAttempts: 5, cap: "300 millis" })),
      [100, 200, 300, 300]
    )
  })

  it("isRetryable follows the transport reason", () => {
    assert.isTrue(Retry.isRetryable(unavailable))
    assert.isTrue(Retry.isRetryable(throttled(5)))
    assert.isFalse(Retry.isRetryable(rejected))
    assert.isFalse(Retry.isRetryable(new Error("x")))
  })

  it.effect("the schedule waits exactly the delays", () =>
    Effect.gen(function*() {
      const policy = Retry.policy({ base: "100 millis", maxAttempts: 5 })
      const times = yield* attemptTimes(policy, "s1", unavailable)
      const expected = Retry.delays(policy, { seed: "s1" })
      assert.strictEqual(times.length, policy.maxAttempts)
      assert.deepStrictEqual(times.slice(1).map((t, i) => t - times[i]!), [...expected])
    }))

  it.effect("a permanent failure is not retried", () =>
    Effect.gen(function*() {
      const times = yield* attemptTimes(Retry.policy({ maxAttempts: 5 }), "s", rejected)
      assert.strictEqual(times.length, 1)
    }))

  it.effect("Throttled's retryAfter is honoured, even beyond the cap", () =>
    Effect.gen(function*() {
      const policy = Retry.policy({ base: "10 millis", cap: "20 millis", maxAttempts: 3, jitter: 0 })
      const times = yield* attemptTimes(policy, "s", throttled(5_000))
      assert.deepStrictEqual(times.slice(1).map((t, i) => t - times[i]!), [5_000, 5_000])
    }))

  it.effect("no retry starts after the deadline", () =>
    Effect.gen(function*() {
      const policy = Retry.policy({ base: "1 second", maxAttempts: 10, jitter: 0 })
      const start = yield* Clock.currentTimeMillis
      const times = yield* attemptTimes(policy, "s", unavailable, start + 3_500)
      // 0, 1 s, 3 s; the next would start at 7 s
      assert.deepStrictEqual(times.map((t) => t - start), [0, 1_000, 3_000])
    }))

  describe("properties", () => {
    it("delays are non-decreasing, within the cap, at most maxAttempts - 1, and fit the deadline", () => {
      fc.assert(fc.property(policyArb, fc.string(), fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }), (policy, seed, deadline) => {
        const ds = Retry.delays(policy, { seed, deadline })
        if (ds.length > policy.maxAttempts - 1) return false
        let total = 0
        for (let i = 0; i < ds.length; i++) {
          const d = ds[i]!
          if (d < 0 || d > policy.cap) return false
          if (i > 0 && d < ds[i - 1]!) return false
          total += d
        }
        return deadline === undefined || total <= deadline
      }))
    })

    it("the same seed gives the same delays", () => {
      fc.assert(fc.property(policyArb, fc.string(), (policy, seed) => {
        assert.deepStrictEqual(Retry.delays(policy, { seed }), Retry.delays(policy, { seed }))
      }))
    })

    it("jitter stays within its bounds", () => {
      fc.assert(fc.property(policyArb, fc.string(), fc.integer({ min: 1, max: 10 }), (policy, seed, n) => {
        const raw = Math.min(policy.cap, policy.base * Math.pow(policy.factor, n - 1))
        const d = Retry.delay(policy, n, seed)
        return d <= Math.min(policy.cap, raw * (1 + policy.jitter)) && d >= Math.floor(Math.min(policy.cap, raw * (1 - policy.jitter))) - 1
      }))
    })

    it.effect("the schedule and delays agree for any policy", () =>
      Effect.gen(function*() {
        const samples = fc.sample(fc.tuple(policyArb, fc.string()), { numRuns: 25, seed: 7 })
        for (const [policy, seed] of samples) {
          const times = yield* attemptTimes(policy, seed, unavailable)
          assert.deepStrictEqual(times.slice(1).map((t, i) => t - times[i]!), [...Retry.delays(policy, { seed })])
        }
      }))
  })
})
