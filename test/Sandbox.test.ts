import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { createSmsClient, Transport } from "smsforge"
import { Sandbox, TransportConformance } from "smsforge/testing"

const submission = (to = "+447700900123", text = "hello"): Transport.Submission => ({
  to,
  text,
  segments: [text],
  encoding: "GSM-7",
  clientReference: "ref",
  purpose: "transactional"
})

describe("TransportConformance on the Sandbox", () => {
  const sandbox = Effect.gen(function*() {
    const s = yield* Sandbox.make()
    yield* s.rejectNumber("+447700900999")
    return s as Transport.Transport
  })
  for (const c of TransportConformance.suite({ make: sandbox, recipient: "+447700900123", refusedRecipient: "+447700900999" })) {
    it.effect(c.name, () => Effect.scoped(c.run))
  }
})

describe("Sandbox", () => {
  it.effect("records submissions in the outbox", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      const result = yield* sandbox.submit(submission())
      const outbox = yield* sandbox.outbox
      assert.strictEqual(outbox.length, 1)
      assert.strictEqual(outbox[0]!.providerMessageId, result.providerMessageId)
    }))

  it.effect("keeps the last outboxLimit submissions, oldest dropped first", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({ outboxLimit: 3 })
      for (let i = 0; i < 5_000; i++) {
        yield* sandbox.submit({ ...submission(), clientReference: `m${i}` })
      }
      assert.deepStrictEqual((yield* sandbox.outbox).map((m) => m.clientReference), ["m4997", "m4998", "m4999"])
      assert.deepStrictEqual(sandbox.sent().map((m) => m.providerMessageId), ["sandbox-4998", "sandbox-4999", "sandbox-5000"])
      assert.strictEqual(yield* sandbox.attempts, 5_000)
      yield* sandbox.clear
      assert.strictEqual((yield* sandbox.outbox).length, 0)
    }))

  it.effect("fails the next N submissions, then recovers", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      yield* sandbox.failNext(2, new Transport.Throttled({}))
      const first = yield* Effect.flip(sandbox.submit(submission()))
      assert.strictEqual(first.reason._tag, "Throttled")
      assert.isTrue(first.isRetryable)
      yield* Effect.flip(sandbox.submit(submission()))
      yield* sandbox.submit(submission())
      assert.strictEqual(yield* sandbox.attempts, 3)
      assert.strictEqual((yield* sandbox.outbox).length, 1)
    }))

  it.effect("fails always until recover, and rejects specific numbers", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      yield* sandbox.failAlways()
      for (let i = 0; i < 5; i++) yield* Effect.flip(sandbox.submit(submission()))
      yield* sandbox.recover
      yield* sandbox.submit(submission())
      yield* sandbox.rejectNumber("+15005550009")
      const refused = yield* Effect.flip(sandbox.submit(submission("+15005550009")))
      assert.strictEqual(refused.reason._tag, "InvalidNumber")
      assert.isFalse(refused.isRetryable)
    }))

  it.effect("random failures are reproducible from the seed", () =>
    Effect.gen(function*() {
      const pattern = (seed: number) =>
        Effect.gen(function*() {
          const sandbox = yield* Sandbox.make({ seed, failureRate: 0.3 })
          const outcomes: Array<boolean> = []
          for (let i = 0; i < 200; i++) outcomes.push((yield* Effect.result(sandbox.submit(submission())))._tag === "Success")
          return outcomes
        })
      const a = yield* pattern(7)
      assert.deepStrictEqual(a, yield* pattern(7))
      assert.notDeepEqual(a, yield* pattern(8))
      const failures = a.filter((ok) => !ok).length
      assert.isTrue(failures > 30 && failures < 90, `${failures} failures of 200 at rate 0.3`)
    }))

  it.effect("throttles beyond a rate per second of the Effect clock", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      yield* sandbox.throttle(2)
      yield* sandbox.submit(submission())
      yield* sandbox.submit(submission())
      const third = yield* Effect.flip(sandbox.submit(submission()))
      assert.strictEqual(third.reason._tag, "Throttled")
      yield* TestClock.adjust("1 second")
      yield* sandbox.submit(submission())
    }))

  it.effect("delays on the TestClock", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({ latency: "2 seconds" })
      const fiber = yield* Effect.forkChild(sandbox.submit(submission()))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* sandbox.outbox).length, 0)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* sandbox.outbox).length, 1)
    }))

  it.effect("emits receipts and replies to the listener", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      const seen: Array<Transport.Feedback> = []
      yield* sandbox.listen((f) => Effect.sync(() => void seen.push(f)))
      const { providerMessageId } = yield* sandbox.submit(submission())
      yield* sandbox.deliver(providerMessageId)
      yield* sandbox.reply({ from: "+447700900123", text: "STOP" })
      assert.deepStrictEqual(seen.map((f) => f._tag), ["DeliveryReport", "InboundMessage"])
      assert.strictEqual(seen[0]?._tag === "DeliveryReport" ? seen[0].status : undefined, "delivered")
    }))
})

describe("TransportConformance catches broken transports", () => {
  it.effect("an empty provider id and a retryable refusal fail the suite", () =>
    Effect.gen(function*() {
      const broken = Effect.succeed(Transport.make({
        name: "broken",
        capabilities: { channel: "sms", unicode: false, concatenation: false, deliveryReceipts: false, inbound: false, senderTypes: [] },
        submit: (s) => s.to === "+447700900999" ? Effect.fail(new Transport.Unavailable({})) : Effect.succeed({ providerMessageId: "" })
      }))
      const results = yield* Effect.forEach(
        TransportConformance.suite({ make: broken, recipient: "+447700900123", refusedRecipient: "+447700900999" }),
        (c) => Effect.map(Effect.result(Effect.scoped(c.run)), (r) => [c.name, r._tag] as const)
      )
      const failed = results.filter(([, tag]) => tag === "Failure").map(([name]) => name)
      assert.include(failed, "accepts a GSM-7 message and answers a provider id")
      assert.include(failed, "fails a refused number with a permanent TransportError, without secrets")
    }))
})

describe("Sandbox controls without Effect", () => {
  it("fail, throttle, reject and recover as plain calls; reasons by tag", async () => {
    const carrier = Sandbox.makeUnsafe()
    const submit = (to?: string) => Effect.runPromise(Effect.flip(carrier.submit(submission(to))))
    carrier.controls.failNext(2, "Throttled")
    assert.strictEqual((await submit()).reason._tag, "Throttled")
    assert.strictEqual((await submit()).reason._tag, "Throttled")
    carrier.controls.failAlways("AuthenticationFailed")
    assert.strictEqual((await submit()).reason._tag, "AuthenticationFailed")
    carrier.controls.recover()
    carrier.controls.rejectNumber("+447700900999", "Blocked")
    assert.strictEqual((await submit("+447700900999")).reason._tag, "Blocked")
    carrier.controls.failNext(1, new Transport.Rejected({ code: "X1" }))
    const rejected = await submit()
    assert.strictEqual(rejected.reason._tag, "Rejected")
    assert.strictEqual(carrier.controls.attempts(), 5)
    assert.strictEqual(carrier.controls.sent().length, 0)
    carrier.controls.clear()
    assert.strictEqual(carrier.controls.attempts(), 0)
  })

  it("the Effect controls take a reason tag too", async () => {
    const carrier = Sandbox.makeUnsafe()
    await Effect.runPromise(carrier.failNext(1, "Timeout"))
    const error = await Effect.runPromise(Effect.flip(carrier.submit(submission())))
    assert.strictEqual(error.reason._tag, "Timeout")
  })

  it("a Promise user's test: failNext, deliverAll and reply through the client", async () => {
    const carrier = Sandbox.makeUnsafe()
    const client = createSmsClient({ transports: [carrier], retry: { maxAttempts: 1 } })
    try {
      carrier.controls.failNext(1, "Unavailable")
      const failed = await client.send({ to: "+447400123456", text: "Hi" }).then(() => undefined, (e: { _tag: string }) => e._tag)
      assert.strictEqual(failed, "AllRoutesFailed")
      const receipt = await client.send({ to: "+447400123456", text: "Hi again" })
      assert.strictEqual(carrier.controls.sent().length, 1)
      await carrier.controls.deliverAll()
      assert.strictEqual((await client.get(receipt.id)).status, "delivered")
      await client.consent.grant({ to: "+447400123456", purpose: "marketing" })
      await carrier.controls.reply({ from: "+447400123456", text: "STOP" })
      assert.strictEqual((await client.consent.get("+447400123456"))?.purposes["marketing"]?.status, "revoked")
    } finally {
      await client.close()
    }
  })
})
