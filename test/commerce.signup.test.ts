import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import { createSmsClient } from "smsforge"
import { createSignup, Signup } from "../commerce/index.ts"
import { Sandbox } from "smsforge/testing"
import { describe, expect } from "vitest"

const codeIn = (text: string | undefined) => /\d{6}/.exec(text ?? "")?.[0] ?? ""

describe("createSignup through the pipeline", () => {
  it("sends a code, checks it, and refuses a fourth start from one IP whatever the number", async () => {
    const carrier = Sandbox.makeUnsafe()
    const client = createSmsClient({ transports: [carrier] })
    const signup = createSignup({ client, pepper: "pepper", limits: { startsPerIp: { limit: 3, window: "1 hour" } } })
    try {
      const first = await signup.start({ to: "+447400123401", ip: "203.0.113.7", device: "dev-1" })
      assert(first._tag === "Sent")
      const wrong = await signup.check({ verificationId: first.verificationId, code: "000000", ip: "203.0.113.7" })
      expect(wrong).toMatchObject({ _tag: "Checked", status: "pending" })
      const right = await signup.check({ verificationId: first.verificationId, code: codeIn(carrier.sent()[0]?.text), ip: "203.0.113.7" })
      expect(right).toMatchObject({ _tag: "Checked", status: "approved" })

      await signup.start({ to: "+447400123402", ip: "203.0.113.7", device: "dev-2" })
      await signup.start({ to: "+447400123403", ip: "203.0.113.7", device: "dev-3" })
      const fourth = await signup.start({ to: "+447400123404", ip: "203.0.113.7", device: "dev-4" })
      expect(fourth).toMatchObject({ _tag: "Refused", scope: "ip" })
      expect(fourth._tag === "Refused" && fourth.retryAfterMillis).toBeGreaterThan(0)
      expect((await signup.start({ to: "+447400123404", ip: "198.51.100.1", device: "dev-4" }))._tag).toBe("Sent")
      expect(carrier.sent()).toHaveLength(4)
    } finally {
      await signup.close()
      await client.close()
    }
  })

  it("hands the fraud guard's verdict to the store, and rejects what no wait fixes", async () => {
    const carrier = Sandbox.makeUnsafe()
    const client = createSmsClient({ transports: [carrier], verification: { velocity: { maxUnconverted: 2, rangeDigits: 4 } } })
    const signup = createSignup({ client, pepper: "pepper", limits: { startsPerIp: false, startsPerDevice: false } })
    try {
      const verdicts = []
      for (let i = 0; i < 4; i++) verdicts.push((await signup.start({ to: `+44740012350${i}` }))._tag)
      expect(verdicts).toContain("Blocked")
      const blocked = await signup.start({ to: "+447400123509" })
      expect(blocked).toMatchObject({ _tag: "Blocked", reason: "velocity" })
      const invalid = await signup.start({ to: "not a number" }).then(() => undefined, (e: Signup.SignupError) => e)
      expect(invalid).toMatchObject({ _tag: "SignupError", tag: "InvalidPhoneNumber", field: "to" })
      expect(invalid?.message).not.toContain("not a number")
    } finally {
      await signup.close()
      await client.close()
    }
  })
})

describe("Signup limits", () => {
  const keys: Array<string> = []
  const recording = Layer.effect(
    RateLimiter.RateLimiter,
    Effect.map(RateLimiter.make, (limiter) => ({
      ...limiter,
      consume: (o: Parameters<typeof limiter.consume>[0]) => (keys.push(o.key), limiter.consume(o))
    }))
  ).pipe(Layer.provide(RateLimiter.layerStoreMemory))
  const started: Array<{ to: string; clientKey?: string }> = []
  const client: Signup.SignupClient = {
    verify: {
      start: async (request) => (started.push(request), { verificationId: `vrf_${started.length}`, expiresAt: 0 }),
      check: async () => ({ status: "pending", attemptsLeft: 4 })
    }
  }
  const Live = Signup.layer({ client, pepper: "pepper", limits: { startsPerDevice: { limit: 2, window: "10 minutes" } } }).pipe(
    Layer.provide(recording)
  )

  it.effect("per device, the window resets with the clock; keys hold digests, never the IP, device or number", () =>
    Effect.gen(function*() {
      const signup = yield* Signup.Signup
      const request = { to: "+447400123456", ip: "203.0.113.7", device: "iphone-42" }
      assert.strictEqual((yield* signup.start(request))._tag, "Sent")
      assert.strictEqual((yield* signup.start(request))._tag, "Sent")
      assert.deepInclude(yield* signup.start(request), { _tag: "Refused", scope: "device" })
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* signup.start(request))._tag, "Sent")
      for (const key of keys) {
        assert.notInclude(key, "203.0.113.7")
        assert.notInclude(key, "iphone-42")
        assert.notInclude(key, "7400123456")
      }
      assert.isTrue(keys.some((k) => k.startsWith("smsforge:signup:startsPerIp:")))
      assert.notInclude(started[0]!.clientKey!, "iphone")
      const checked = yield* signup.check({ verificationId: "vrf_1", code: "123456", ip: "203.0.113.7" })
      assert.deepStrictEqual(checked, { _tag: "Checked", status: "pending", attemptsLeft: 4 })
    }).pipe(Effect.provide(Live)))
})
