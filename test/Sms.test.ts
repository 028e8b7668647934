import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Metric, PubSub, Schema } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { Events, Sms, Templates, Transport } from "smsforge"
import { Sandbox } from "smsforge/testing"

const UK = "+447400123456"

const withPipeline = <A, E>(
  config: Sms.SmsConfig,
  body: (sms: Sms.Sms["Service"], sandboxes: ReadonlyArray<Sandbox.SandboxTransport>) => Effect.Effect<A, E, Sms.Services>,
  sandboxOptions: ReadonlyArray<Sandbox.SandboxOptions> = [{}]
) =>
  Effect.gen(function*() {
    const sandboxes = yield* Effect.forEach(sandboxOptions, (o, i) => Sandbox.make({ name: `sandbox-${i + 1}`, ...o }))
    return yield* Effect.scoped(Layer.build(Sms.layer({ transports: sandboxes, ...config })).pipe(
      Effect.flatMap((context) => Effect.provide(Effect.flatMap(Sms.Sms, (sms) => body(sms, sandboxes)), context))
    ))
  })

const reasonOf = <A>(effect: Effect.Effect<A, Sms.SmsError>) => Effect.map(Effect.flip(effect), (e) => e.reason)

describe("send", () => {
  it.effect("sends through the sandbox and records the status history", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const receipt = yield* sms.send({ to: UK, text: "Your parcel is out for delivery" })
        assert.strictEqual(receipt.status, "submitted")
        assert.strictEqual(receipt.to, UK)
        assert.strictEqual(receipt.encoding, "GSM-7")
        assert.strictEqual(receipt.segmentCount, 1)
        assert.strictEqual(receipt.route, "sandbox-1")
        assert.strictEqual(receipt.attempts, 1)
        const outbox = yield* sandbox!.outbox
        assert.strictEqual(outbox.length, 1)
        assert.strictEqual(outbox[0]!.clientReference, receipt.id)
        const stored = yield* sms.get(receipt.id)
        assert.deepStrictEqual(stored.history.map((h) => h.status), ["accepted", "queued", "submitted"])
      })))

  it.effect("normalises national numbers with the default country", () =>
    withPipeline({ defaultCountry: "GB" }, (sms) =>
      Effect.gen(function*() {
        const receipt = yield* sms.send({ to: "07400 123456", text: "hi" })
        assert.strictEqual(receipt.to, UK)
      })))

  it.effect("refuses a bad number with InvalidPhoneNumber and submits nothing", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const reason = yield* reasonOf(sms.send({ to: "+44 12", text: "hi" }))
        assert.strictEqual(reason._tag, "InvalidPhoneNumber")
        assert.strictEqual((yield* sandbox!.outbox).length, 0)
      })))

  it.effect("uses UCS-2 and several segments where the text needs them", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const receipt = yield* sms.send({ to: UK, text: "您的验证码是 123456，10 分钟内有效。".repeat(4) })
        assert.strictEqual(receipt.encoding, "UCS-2")
        assert.strictEqual(receipt.segmentCount, 2)
        const [sent] = yield* sandbox!.outbox
        assert.strictEqual(sent!.segments.join(""), sent!.text)
      })))

  it.effect("refuses texts longer than maxSegments", () =>
    withPipeline({ maxSegments: 2 }, (sms) =>
      Effect.gen(function*() {
        const reason = yield* reasonOf(sms.send({ to: UK, text: "a".repeat(400) }))
        assert.strictEqual(reason._tag, "InvalidRequest")
      })))
})

describe("templates", () => {
  const shipped = Templates.define({
    id: "shipped",
    variables: Schema.Struct({ order: Schema.String, eta: Schema.String }),
    locales: { default: "Order {{order}} has shipped. Arrives {{eta}}.", fr: "Commande {{order}} expédiée. Arrivée {{eta}}." }
  })

  it.effect("renders a template in the recipient's locale", () =>
    withPipeline({ templates: [shipped] }, (sms, [sandbox]) =>
      Effect.gen(function*() {
        yield* sms.send({ to: UK, template: "shipped", variables: { order: "A-17", eta: "Tuesday" }, locale: "fr-FR" })
        const [sent] = yield* sandbox!.outbox
        assert.strictEqual(sent!.text, "Commande A-17 expédiée. Arrivée Tuesday.")
        assert.strictEqual(sent!.template?.id, "shipped")
      })))

  it.effect("names a missing variable and submits nothing", () =>
    withPipeline({ templates: [shipped] }, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const reason = yield* reasonOf(sms.send({ to: UK, template: "shipped", variables: { order: "A-17" } }))
        assert.strictEqual(reason._tag, "InvalidTemplateVariables")
        const unknown = yield* reasonOf(sms.send({ to: UK, template: "nope", variables: {} }))
        assert.strictEqual(unknown._tag, "TemplateNotFound")
        assert.strictEqual((yield* sandbox!.outbox).length, 0)
      })))
})

describe("idempotency", () => {
  it.effect("the same key returns the first receipt and submits once", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const a = yield* sms.send({ to: UK, text: "hi", idempotencyKey: "k1" })
        const b = yield* sms.send({ to: UK, text: "hi", idempotencyKey: "k1" })
        assert.strictEqual(a.id, b.id)
        assert.strictEqual((yield* sandbox!.outbox).length, 1)
        const other = yield* sms.send({ to: UK, text: "hi", idempotencyKey: "k1", tenant: "acme" })
        assert.notStrictEqual(other.id, a.id)
        const misuse = yield* reasonOf(sms.send({ to: UK, text: "different", idempotencyKey: "k1" }))
        assert.strictEqual(misuse._tag, "InvalidRequest")
      })))

  it.effect("racing duplicates submit once, even while the carrier is slow", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Effect.all(
          Array.from({ length: 20 }, () => sms.send({ to: UK, text: "hi", idempotencyKey: "race" })),
          { concurrency: "unbounded" }
        ))
        yield* TestClock.adjust("1 second")
        const receipts = yield* Fiber.join(fiber)
        assert.strictEqual(new Set(receipts.map((r) => r.id)).size, 1)
        assert.strictEqual((yield* sandbox!.outbox).length, 1)
      }), [{ latency: "500 millis" }]))

  it.effect("property: under concurrency, submissions equal distinct keys", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 30 }), async (keys) => {
          const program = withPipeline({}, (sms, [sandbox]) =>
            Effect.gen(function*() {
              const receipts = yield* Effect.all(
                keys.map((k) => sms.send({ to: UK, text: `message ${k}`, idempotencyKey: `key-${k}` })),
                { concurrency: "unbounded" }
              )
              const outbox = yield* sandbox!.outbox
              assert.strictEqual(outbox.length, new Set(keys).size)
              keys.forEach((k, i) => assert.strictEqual(receipts[i]!.id, receipts[keys.indexOf(k)]!.id))
            }))
          await Effect.runPromise(program)
        }),
        { numRuns: 50 }
      )
    ))
})

describe("scheduling", () => {
  it.effect("waits for sendAt on the clock, and cancel stops it", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const later = yield* sms.send({ to: UK, text: "reminder", sendAt: 60_000 })
        const canceled = yield* sms.send({ to: UK, text: "never", sendAt: 60_000 })
        assert.strictEqual(later.status, "accepted")
        assert.strictEqual(later.sendAt, 60_000)
        yield* sms.cancel(canceled.id)
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual((yield* sandbox!.outbox).length, 0)
        yield* TestClock.adjust("1 second")
        const outbox = yield* sandbox!.outbox
        assert.deepStrictEqual(outbox.map((m) => m.text), ["reminder"])
        assert.strictEqual((yield* sms.get(later.id)).status, "submitted")
        assert.strictEqual((yield* sms.get(canceled.id)).status, "canceled")
        const again = yield* reasonOf(sms.cancel(later.id))
        assert.strictEqual(again._tag, "NotCancelable")
      })))
})

describe("batches", () => {
  it.effect("one result per request, in order; a bad recipient fails alone", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const results = yield* sms.sendBatch([
          { to: UK, text: "one" },
          { to: "not a number", text: "two" },
          { to: "+14155552671", text: "three" },
          { text: "four" }
        ])
        assert.deepStrictEqual(results.map((r) => r.ok), [true, false, true, false])
        const second = results[1]!
        assert.strictEqual(second.ok ? "" : second.error.reason._tag, "InvalidPhoneNumber")
        const fourth = results[3]!
        assert.strictEqual(fourth.ok ? "" : fourth.error.reason._tag, "InvalidRequest")
        assert.deepStrictEqual((yield* sandbox!.outbox).map((m) => m.text), ["one", "three"])
      })))
})

describe("delivery receipts", () => {
  it.effect("moves to delivered, ignores duplicates and out-of-order receipts", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const receipt = yield* sms.send({ to: UK, text: "hi" })
        yield* sandbox!.deliver(receipt.providerMessageId!)
        assert.strictEqual((yield* sms.get(receipt.id)).status, "delivered")
        const duplicate = yield* sms.deliveryReceipt({ providerMessageId: receipt.providerMessageId!, transport: "sandbox-1", status: "DELIVRD" })
        assert.strictEqual(duplicate.outcome, "ignored")
        const late = yield* sms.deliveryReceipt({ providerMessageId: receipt.providerMessageId!, transport: "sandbox-1", status: "undelivered" })
        assert.strictEqual(late.outcome, "ignored")
        assert.strictEqual((yield* sms.get(receipt.id)).status, "delivered")
      })))

  it.effect("keeps a receipt that arrives before the submit answer", () =>
    withPipeline({}, (sms) =>
      Effect.gen(function*() {
        const early = yield* sms.deliveryReceipt({ providerMessageId: "sandbox-1-1", transport: "sandbox-1", status: "delivered" })
        assert.strictEqual(early.outcome, "pending")
        const receipt = yield* sms.send({ to: UK, text: "hi" })
        assert.strictEqual(receipt.providerMessageId, "sandbox-1-1")
        assert.strictEqual((yield* sms.get(receipt.id)).status, "delivered")
      })))

  it.effect("rejects malformed receipts with a typed error", () =>
    withPipeline({}, (sms) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* reasonOf(sms.deliveryReceipt({ nope: 1 })))._tag, "InvalidRequest")
        assert.strictEqual((yield* reasonOf(sms.deliveryReceipt({ providerMessageId: "x", transport: "other", status: "delivered" })))._tag, "InvalidRequest")
        assert.strictEqual((yield* reasonOf(sms.deliveryReceipt({ providerMessageId: "x", transport: "sandbox-1", status: "weird" })))._tag, "InvalidRequest")
      })))

  it.effect("a message without a final receipt by its validity ends expired", () =>
    withPipeline({}, (sms) =>
      Effect.gen(function*() {
        const receipt = yield* sms.send({ to: UK, text: "hi", validity: "10 minutes" })
        yield* TestClock.adjust("9 minutes")
        assert.strictEqual((yield* sms.get(receipt.id)).status, "submitted")
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual((yield* sms.get(receipt.id)).status, "expired")
      })))
})

describe("failover and dead letters", () => {
  it.effect("fails over to the next transport", () =>
    withPipeline({}, (sms, [first, second]) =>
      Effect.gen(function*() {
        yield* first!.failAlways(new Transport.Rejected({ code: "route-refuses" }))
        const receipt = yield* sms.send({ to: UK, text: "hi" })
        assert.strictEqual(receipt.transport, "sandbox-2")
        assert.strictEqual((yield* second!.outbox).length, 1)
        const stored = yield* sms.get(receipt.id)
        assert.isTrue(stored.decisions.length >= 1)
      }), [{}, {}]))

  it.effect("AllRoutesFailed marks the message failed; it can be retried", () =>
    withPipeline({}, (sms, [only]) =>
      Effect.gen(function*() {
        yield* only!.failAlways(new Transport.InsufficientFunds({}))
        const reason = yield* reasonOf(sms.send({ to: UK, text: "hi" }))
        assert.strictEqual(reason._tag, "AllRoutesFailed")
        const dead = yield* sms.deadLetters()
        assert.strictEqual(dead.length, 1)
        yield* only!.recover
        const retried = yield* sms.retry(dead[0]!.id)
        assert.strictEqual(retried.status, "submitted")
      })))
})

describe("metrics", () => {
  it.effect("counts submissions per transport and outcome", () =>
    withPipeline({}, (sms, [first]) =>
      Effect.gen(function*() {
        const count = (transport: string, outcome: string) =>
          Effect.map(
            Metric.value(Metric.counter("smsforge_transport_submissions", {
              description: "Submissions handed to a carrier, by transport and outcome",
              attributes: { transport, outcome }
            })),
            (state) => state.count
          )
        // the registry is the process's: other tests count too
        const counts = Effect.all([count("sandbox-1", "Rejected"), count("sandbox-2", "accepted"), count("sandbox-1", "accepted")])
        const before = yield* counts
        yield* first!.failNext(1, new Transport.Rejected({ code: "route-refuses" }))
        yield* sms.send({ to: UK, text: "hi" })
        yield* sms.send({ to: UK, text: "hi again" })
        const after = yield* counts
        assert.deepStrictEqual(after.map((n, i) => n - before[i]!), [1, 1, 1])
      }), [{}, {}]))
})

describe("events", () => {
  it.effect("publishes every transition without phone numbers", () =>
    withPipeline({}, (sms) =>
      Effect.gen(function*() {
        const events = yield* Events.Events
        const subscription = yield* events.subscribe
        const receipt = yield* sms.send({ to: UK, text: "hi" })
        const seen = yield* PubSub.takeAll(subscription)
        const statuses = seen.filter((e) => e._tag === "StatusChanged" && e.messageId === receipt.id).map((e) =>
          e._tag === "StatusChanged" ? e.status : ""
        )
        assert.deepStrictEqual(statuses, ["accepted", "queued", "submitted"])
        assert.notInclude(JSON.stringify(seen), "7400123456")
      }).pipe(Effect.scoped)))
})

describe("malformed requests", () => {
  it.effect("10,000 generated malformed requests end in typed errors with nothing submitted", () =>
    withPipeline({}, (sms, [sandbox]) =>
      Effect.gen(function*() {
        const malformed = fc.oneof(
          fc.anything(),
          fc.record({ to: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), text: fc.oneof(fc.constant(""), fc.integer(), fc.constant(undefined)) }),
          fc.record({ to: fc.string({ maxLength: 6 }), text: fc.string({ minLength: 1 }) }),
          fc.record({ to: fc.constant(UK), text: fc.constant("hi"), purpose: fc.string() }),
          fc.record({ to: fc.constant(UK), text: fc.constant("hi"), sendAt: fc.oneof(fc.string(), fc.constant(Number.NaN)) }),
          fc.record({ to: fc.constant(UK), template: fc.string(), variables: fc.anything() }),
          fc.record({ to: fc.constant(UK), text: fc.constant("hi"), extra: fc.anything() })
        )
        const inputs = fc.sample(malformed, { numRuns: 10_000, seed: 42 })
        let typed = 0
        let submitted = 0
        for (const input of inputs) {
          const result = yield* Effect.result(sms.send(input))
          if (result._tag === "Failure") {
            assert.instanceOf(result.failure, Sms.SmsError)
            typed++
          } else if (result.success.status === "submitted") {
            submitted++
          }
        }
        // A generated input can be valid by chance (a parseable future sendAt); only those may go out.
        assert.strictEqual((yield* sandbox!.outbox).length, submitted)
        assert.isAtLeast(typed, 9_900)
      })))
})
