// Verification through the real pipeline: codes go out as SMS through the
// router, fall back to a voice transport when no receipt arrives, and a
// delivered SMS stops the fallback.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Sms, Verification } from "smsforge"
import { Codes, Sandbox } from "smsforge/testing"

const UK = "+447400123456"

const pipeline = Effect.gen(function*() {
  const sms = yield* Sandbox.make({ name: "sms" })
  const voice = yield* Sandbox.make({ name: "voice", capabilities: { channel: "voice" } })
  const context = yield* Layer.build(Sms.layer({
    transports: [sms, voice],
    verification: { channels: ["sms", "voice"], fallbackAfter: "30 seconds" }
  }))
  return { sms, voice, verification: Context.get(context, Verification.Verification) }
})

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
})
