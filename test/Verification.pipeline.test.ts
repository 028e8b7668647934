// Verification through the real pipeline: codes go out as SMS through the
// router, fall back to a voice transport when no receipt arrives, and a
// delivered SMS stops the fallback.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { MessageStore, Sms, Transport, Verification } from "smsforge"
import { Codes, Sandbox } from "smsforge/testing"

const UK = "+447400123456"

const pipelineWith = (config: Sms.SmsConfig) =>
  Effect.gen(function*() {
    const sms = yield* Sandbox.make({ name: "sms" })
    const voice = yield* Sandbox.make({ name: "voice", capabilities: { channel: "voice" } })
    const context = yield* Layer.build(Sms.layer({
      transports: [sms, voice],
      verification: { channels: ["sms", "voice"], fallbackAfter: "30 seconds" },
      ...config
    }))
    return {
      sms,
      voice,
      verification: Context.get(context, Verification.Verification),
      pipeline: Context.get(context, Sms.Sms),
      store: Context.get(context, MessageStore.MessageStore)
    }
  })
const pipeline = pipelineWith({})

describe("verification in the pipeline", () => {
  it.effect("falls back to voice when the SMS is not delivered, and the voice code works", () =>
    Effect.gen(function*() {
      const { sms, verification, voice } = yield* pipeline
      const started = yield* verification.start({ to: UK })
      assert.strictEqual(started.channel, "sms")
      assert.strictEqual((yield* sms.outbox).length, 1)
      assert.strictEqual((yield* voice.outbox).length, 0)
      yield* TestClock.adjust("31 seconds")
      const spoken = yield* voice.outbox
      assert.strictEqual(spoken.length, 1)
      // The voice text reads digits one by one; join them back.
      const code = Codes.extract(spoken[0]!.text.replace(/(\d)[ ,.-]+(?=\d)/g, "$1"))!
      const checked = yield* verification.check({ verificationId: started.verificationId, code })
      assert.strictEqual(checked.status, "approved")
      assert.strictEqual(checked.channel, "voice")
    }).pipe(Effect.scoped))

  it.effect("a delivered SMS stops the fallback", () =>
    Effect.gen(function*() {
      const { sms, verification, voice } = yield* pipeline
      yield* verification.start({ to: UK })
      yield* sms.deliverAll()
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual((yield* voice.outbox).length, 0)
      const code = Codes.extract((yield* sms.outbox)[0]!.text)!
      const checked = yield* verification.check({ to: UK, code })
      assert.strictEqual(checked.status, "approved")
      assert.strictEqual(checked.channel, "sms")
    }).pipe(Effect.scoped))

  it.effect("SMS codes go only through SMS routes, never the voice transport", () =>
    Effect.gen(function*() {
      const { sms, verification, voice } = yield* pipeline
      yield* verification.start({ to: UK })
      assert.strictEqual((yield* sms.outbox).length, 1)
      assert.strictEqual((yield* voice.outbox).length, 0)
    }).pipe(Effect.scoped))

  it.effect("the code reaches the carrier and is kept nowhere in the message store", () =>
    Effect.gen(function*() {
      const { pipeline: sms, sms: carrier, store, verification, voice } = yield* pipeline
      yield* verification.start({ to: UK })
      yield* TestClock.adjust("31 seconds")
      const sent = [...(yield* carrier.outbox), ...(yield* voice.outbox)]
      assert.strictEqual(sent.length, 2)
      for (const submission of sent) {
        const code = Codes.extract(submission.text.replace(/(\d)[ ,.-]+(?=\d)/g, "$1"))!
        const stored = yield* sms.get(submission.clientReference)
        assert.strictEqual(stored.text, MessageStore.withheldText)
        assert.isTrue(stored.withheld)
        assert.notInclude(JSON.stringify(stored), code)
        assert.strictEqual(stored.segmentCount, 1)
      }
      assert.isAtLeast(yield* store.size, 2)
    }).pipe(Effect.scoped))

  it.effect("a code deferred by quiet hours goes out whole; a failed one is not sent again", () =>
    Effect.gen(function*() {
      const { pipeline: sms, sms: carrier, verification } = yield* pipelineWith({
        consent: { quietHours: { start: "00:00", end: "06:00", purposes: ["transactional"] } }
      })
      yield* verification.start({ to: UK })
      assert.strictEqual((yield* carrier.outbox).length, 0)
      yield* TestClock.adjust("7 hours")
      const [submission] = yield* carrier.outbox
      assert.isDefined(Codes.extract(submission!.text))
      assert.strictEqual((yield* sms.get(submission!.clientReference)).text, MessageStore.withheldText)

      yield* carrier.failAlways(new Transport.InsufficientFunds({}))
      const failed = yield* Effect.flip(verification.start({ to: "+447400123457" }))
      assert.strictEqual(failed.reason._tag, "DeliveryFailed")
      const [dead] = yield* sms.deadLetters()
      const refused = yield* Effect.flip(sms.retry(dead!.id))
      assert.strictEqual(refused.reason._tag, "InvalidRequest")
    }).pipe(Effect.scoped))
})
