import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Consent, Sms } from "smsforge"
import { Sandbox } from "smsforge/testing"

const UK = "+447400123456"
const OURS = "+447400000001"

const withPipeline = <A, E>(
  config: Sms.SmsConfig,
  body: (sms: Sms.Sms["Service"], sandbox: Sandbox.SandboxTransport) => Effect.Effect<A, E, Sms.Services>
) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.make({ name: "sandbox" })
    return yield* Effect.scoped(Layer.build(Sms.layer({ transports: [sandbox], ...config })).pipe(
      Effect.flatMap((context) => Effect.provide(Effect.flatMap(Sms.Sms, (sms) => body(sms, sandbox)), context))
    ))
  })

describe("Inbound in the pipeline", () => {
  it.effect("STOP blocks later marketing, and its confirmation still goes out", () =>
    withPipeline({ inbound: { brand: "ACME" } }, (sms, sandbox) =>
      Effect.gen(function*() {
        const consent = yield* Consent.Consent
        yield* consent.grant({ to: UK, purpose: "marketing", source: "web-form" })
        yield* sms.send({ to: UK, text: "20% off today. Reply STOP to opt out", purpose: "marketing" })
        const result = yield* sms.inbound({ from: UK, to: OURS, text: "Stop", transport: "sandbox" })
        assert.strictEqual(result.action, "opt-out")
        const outbox = yield* sandbox.outbox
        assert.strictEqual(outbox.length, 2)
        assert.strictEqual(outbox[1]!.to, UK)
        assert.strictEqual(outbox[1]!.purpose, "transactional")
        assert.include(outbox[1]!.text, "unsubscribed")
        const refused = yield* Effect.flip(sms.send({ to: UK, text: "Last chance! Reply STOP to opt out", purpose: "marketing" }))
        assert.strictEqual(refused.reason._tag, "OptedOut")
        // Transactional messages still go after a marketing opt-out.
        yield* sms.send({ to: UK, text: "Your parcel is out for delivery" })
        assert.strictEqual((yield* sandbox.outbox).length, 3)
      })))

  // Consent is checked again when a deferred message's time comes.
  it.effect("a marketing message deferred by quiet hours is not sent after a STOP in between", () =>
    // 2026-01-15 23:00 in London: quiet until 08:00. The clock is set before the pipeline starts its sweeps.
    Effect.andThen(TestClock.setTime(Date.UTC(2026, 0, 15, 23, 0)), withPipeline({ consent: { quietHours: { start: "21:00", end: "08:00" } } }, (sms, sandbox) =>
      Effect.gen(function*() {
        const consent = yield* Consent.Consent
        yield* consent.grant({ to: UK, purpose: "marketing" })
        const receipt = yield* sms.send({ to: UK, text: "Deals! Reply STOP to opt out", purpose: "marketing" })
        assert.strictEqual((yield* sandbox.outbox).length, 0)
        yield* TestClock.adjust("1 hour")
        yield* sms.inbound({ from: UK, to: OURS, text: "STOP", transport: "sandbox" })
        yield* TestClock.adjust("10 hours")
        const sent = (yield* sandbox.outbox).filter((s) => s.purpose === "marketing")
        assert.strictEqual(sent.length, 0)
        assert.notStrictEqual((yield* sms.get(receipt.id)).status, "submitted")
      }))))

  it.effect("marketing without consent is refused with ConsentRequired", () =>
    withPipeline({}, (sms, sandbox) =>
      Effect.gen(function*() {
        const refused = yield* Effect.flip(sms.send({ to: UK, text: "Deals", purpose: "marketing" }))
        assert.strictEqual(refused.reason._tag, "ConsentRequired")
        assert.strictEqual((yield* sandbox.outbox).length, 0)
      })))
})
