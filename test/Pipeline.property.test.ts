// Random interleavings of sends, receipts (reordered, duplicated) and replies
// through the whole pipeline: statuses only move forward, no marketing goes to
// an opted-out recipient, and the audit chain verifies.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import fc from "fast-check"
import { Audit, Consent, MessageStore, Sms, Transport } from "smsforge"
import { Sandbox } from "smsforge/testing"

const people = ["+447400123456", "+447400123457", "+447400123458"]

type Step =
  | { readonly _tag: "send"; readonly who: number; readonly marketing: boolean }
  | { readonly _tag: "receipt"; readonly pick: number; readonly status: Transport.DeliveryStatus }
  | { readonly _tag: "reply"; readonly who: number; readonly text: "STOP" | "START" | "HELP" }
  | { readonly _tag: "grant"; readonly who: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ _tag: fc.constant("send" as const), who: fc.nat(2), marketing: fc.boolean() }),
  fc.record({
    _tag: fc.constant("receipt" as const),
    pick: fc.nat(50),
    status: fc.constantFrom<Transport.DeliveryStatus>("enroute", "delivered", "undelivered", "expired", "rejected", "failed")
  }),
  fc.record({ _tag: fc.constant("reply" as const), who: fc.nat(2), text: fc.constantFrom("STOP" as const, "START" as const, "HELP" as const) }),
  fc.record({ _tag: fc.constant("grant" as const), who: fc.nat(2) })
)

const rank = (s: MessageStore.MessageStatus) => (MessageStore.isTerminal(s) ? 3 : ["accepted", "queued", "submitted"].indexOf(s))

describe("pipeline properties", () => {
  it("statuses move forward, opted-out people get no marketing, the audit chain verifies", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const program = Effect.gen(function*() {
          const sandbox = yield* Sandbox.make()
          const context = yield* Layer.build(Sms.layer({ transports: [sandbox], audit: {} }))
          const sms = Context.get(context, Sms.Sms)
          const consent = Context.get(context, Consent.Consent)
          const audit = Context.get(context, Audit.Audit)
          const optedOut = new Set<string>()
          const seen = new Map<string, Array<MessageStore.MessageStatus>>()
          for (const s of steps) {
            switch (s._tag) {
              case "send": {
                const to = people[s.who]!
                const result = yield* Effect.result(sms.send({ to, text: "Sale today", purpose: s.marketing ? "marketing" : "transactional" }))
                if (result._tag === "Success" && s.marketing) assert.isFalse(optedOut.has(to), "marketing reached an opted-out person")
                break
              }
              case "receipt": {
                const outbox = yield* sandbox.outbox
                if (outbox.length === 0) break
                const sent = outbox[s.pick % outbox.length]!
                yield* sandbox.deliver(sent.providerMessageId, s.status)
                break
              }
              case "reply": {
                const from = people[s.who]!
                const result = yield* sms.inbound({ from, to: "ACME", text: s.text, transport: "sandbox" })
                if (result.action === "opt-out") optedOut.add(from)
                if (result.action === "opt-in") optedOut.delete(from)
                break
              }
              case "grant": {
                const to = people[s.who]!
                yield* consent.grant({ to, purpose: "marketing", source: "web-form", text: "Yes, send me offers" })
                optedOut.delete(to)
                break
              }
            }
            for (const sent of yield* sandbox.outbox) {
              const message = yield* sms.get(sent.clientReference).pipe(Effect.orElseSucceed(() => undefined))
              if (message === undefined) continue
              const history = seen.get(message.id) ?? []
              const last = history.at(-1)
              if (last !== undefined) assert.isAtLeast(rank(message.status), rank(last), `${last} went back to ${message.status}`)
              seen.set(message.id, [...history, message.status])
              for (let i = 1; i < message.history.length; i++) {
                assert.isAbove(rank(message.history[i]!.status), rank(message.history[i - 1]!.status))
              }
            }
          }
          const verified = yield* audit.verify
          assert.isTrue(verified.valid, JSON.stringify(verified))
        })
        await Effect.runPromise(Effect.scoped(program))
      }),
      { numRuns: 60 }
    )
  })
})

describe("multipart receipts", () => {
  it.effect("a message is delivered when every part is, and undelivered when one part fails", () =>
    Effect.gen(function*() {
      let n = 0
      const parts = Transport.make({
        name: "parts",
        capabilities: { channel: "sms", unicode: true, concatenation: true, deliveryReceipts: true, inbound: false, senderTypes: ["long-code"] },
        submit: (s) => {
          const base = `m${++n}`
          return Effect.succeed({ providerMessageId: `${base}-1`, segmentIds: s.segments.map((_, i) => `${base}-${i + 1}`) })
        }
      })
      const context = yield* Layer.build(Sms.layer({ transports: [parts] }))
      const sms = Context.get(context, Sms.Sms)
      const long = "x".repeat(400)
      const ok = yield* sms.send({ to: people[0]!, text: long })
      assert.strictEqual(ok.segmentCount, 3)
      yield* sms.deliveryReceipt({ providerMessageId: "m1-1", transport: "parts", status: "delivered" })
      yield* sms.deliveryReceipt({ providerMessageId: "m1-2", transport: "parts", status: "delivered" })
      assert.strictEqual((yield* sms.get(ok.id)).status, "submitted")
      yield* sms.deliveryReceipt({ providerMessageId: "m1-2", transport: "parts", status: "delivered" })
      yield* sms.deliveryReceipt({ providerMessageId: "m1-3", transport: "parts", status: "delivered" })
      assert.strictEqual((yield* sms.get(ok.id)).status, "delivered")

      const bad = yield* sms.send({ to: people[0]!, text: long })
      yield* sms.deliveryReceipt({ providerMessageId: "m2-1", transport: "parts", status: "delivered" })
      yield* sms.deliveryReceipt({ providerMessageId: "m2-3", transport: "parts", status: "undelivered" })
      assert.strictEqual((yield* sms.get(bad.id)).status, "undelivered")
    }).pipe(Effect.scoped))
})
