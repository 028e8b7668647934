import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import fc from "fast-check"
import { Audit, Consent, Sms, Verification } from "smsforge"
import { OrderProgress, PersonalData } from "../commerce/index.ts"
import { Sandbox } from "smsforge/testing"
import { describe } from "vitest"
import * as Erasure from "./fixtures/erasure.ts"

const ADA = "+447400123456"
const BOB = "+447400654321"
const hashKey = "audit-key"

const Live = Layer.mergeAll(
  Sms.layer({ transports: [Sandbox.makeUnsafe()], audit: { hashKey } }),
  OrderProgress.layerStoreMemory
)

// Everything the pipeline holds about Ada, and a little about Bob.
const seed = Effect.gen(function*() {
  const sms = yield* Sms.Sms
  yield* sms.send({ to: ADA, text: "Your order #1001 has shipped" })
  yield* sms.send({ to: ADA, text: "Your order #1001 was delivered" })
  yield* sms.send({ to: BOB, text: "Hello Bob" })
  yield* Consent.Consent.use((c) => c.grant({ to: ADA, purpose: "marketing", source: "checkout:web", text: "Text me offers" }))
  yield* Verification.Verification.use((v) => v.start({ to: ADA }))
  // The pipeline records its events in the audit as they are published; these two entries are there at once.
  yield* Audit.Audit.use((a) => a.append({ kind: "support", to: ADA, body: "Ada asked where #1001 is" }))
  yield* Audit.Audit.use((a) => a.append({ kind: "support", to: BOB, body: "Hello Bob, from support" }))
  yield* OrderProgress.OrderProgressStore.use((s) =>
    s.set("order-1", { rank: 6, sent: ["delivered"], subject: OrderProgress.digest(ADA), contact: { phone: ADA } }, {
      expectedVersion: undefined,
      expiresAt: 60_000
    })
  )
})

describe("personal-data requests", () => {
  it.effect("export holds the number's messages, consent, verification, audit entries and orders, and no one else's", () =>
    Effect.gen(function*() {
      yield* seed
      const data = yield* PersonalData.exportSubject("07400 123456".replace(/^0/, "+44"), { auditHashKey: hashKey })
      assert.strictEqual(data.subject, ADA)
      // The verification's text is stored withheld: the code is never kept.
      assert.deepStrictEqual(data.messages.map((m) => m.text).sort(), [
        "Your order #1001 has shipped",
        "Your order #1001 was delivered",
        "[withheld: one-time code]"
      ])
      assert.strictEqual(data.consent?.purposes.marketing?.evidence.text, "Text me offers")
      assert.strictEqual(data.verifications.length, 1)
      assert.isTrue(data.audit.some((e) => e.kind === "support" && e.sensitive?.body === "Ada asked where #1001 is"))
      assert.strictEqual(data.orders.length, 1)
      const json = JSON.stringify(data)
      assert.notInclude(json, BOB)
      assert.notInclude(json, "Hello Bob")
      assert.deepStrictEqual(JSON.parse(json).subject, ADA)
    }).pipe(Effect.provide(Live)))

  it.effect("erase empties every store of the number, reports each, keeps Bob's data, and the chain verifies", () =>
    Effect.gen(function*() {
      yield* seed
      const report = yield* PersonalData.eraseSubject(ADA)
      assert.deepInclude(report, {
        messagesErased: 3,
        consentRemoved: true,
        verificationsErased: 1,
        orderRecordsErased: 1,
        auditChainValid: true
      })
      assert.isAbove(report.auditEntriesPurged, 0)
      // Ada opted in, never out: nothing of her consent is kept; the audit skeleton is, with its reason.
      assert.deepStrictEqual(report.retained.map((r) => r.data), ["audit"])
      assert.match(report.retained[0]!.basis, /chain/)
      const after = yield* PersonalData.exportSubject(ADA, { auditHashKey: hashKey })
      assert.deepInclude(after, { messages: [], consent: null, verifications: [], orders: [] })
      assert.isTrue(after.audit.every((e) => e.sensitive === undefined))
      const audit = yield* Audit.Audit.use((a) => a.exportJsonl)
      assert.notInclude(audit, "#1001")
      assert.include(audit, "Hello Bob")
      const bob = yield* PersonalData.exportSubject(BOB, { auditHashKey: hashKey })
      assert.strictEqual(bob.messages.length, 1)
    }).pipe(Effect.provide(Live)))

  it.effect("export lists every verification still kept, not only the latest, without codes", () =>
    Effect.gen(function*() {
      const verification = yield* Verification.Verification
      const first = yield* verification.start({ to: ADA })
      yield* verification.cancel({ verificationId: first.verificationId })
      yield* verification.start({ to: ADA })
      const data = yield* PersonalData.exportSubject(ADA)
      assert.deepStrictEqual(data.verifications.map((v) => v.status), ["canceled", "pending"])
      assert.notMatch(JSON.stringify(data.verifications), /codeHash|nonce/)
      const report = yield* PersonalData.eraseSubject(ADA)
      assert.strictEqual(report.verificationsErased, 2)
    }).pipe(Effect.provide(Live)))

  it.effect("an opt-out stays as a suppression record (no evidence, no time zone) unless keepOptOut is false", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      yield* consent.grant({ to: ADA, purpose: "marketing", source: "checkout:web", text: "Text me offers" })
      yield* consent.revoke({ to: ADA, purpose: "marketing", source: "sms-keyword", keyword: "STOP" })
      yield* consent.setTimeZone(ADA, "Europe/London")
      const report = yield* PersonalData.eraseSubject(ADA)
      assert.deepStrictEqual(report.retained.map((r) => [r.data, r.count]), [["consent", 1], ["audit", 2]])
      const kept = Option.getOrThrow(yield* consent.get(ADA))
      assert.deepStrictEqual(Object.keys(kept.purposes), ["marketing"])
      assert.deepStrictEqual(kept.purposes.marketing?.evidence, { source: "sms-keyword" })
      assert.isUndefined(kept.timeZone)
      const refused = yield* Effect.flip(consent.check({ to: ADA, purpose: "marketing" }))
      assert.strictEqual(refused.reason._tag, "OptedOut")
      const again = yield* PersonalData.eraseSubject(ADA, { keepOptOut: false })
      assert.isTrue(again.consentRemoved)
      assert.isTrue(Option.isNone(yield* consent.get(ADA)))
    }).pipe(Effect.provide(Live)))

  it.effect("erase works per tenant; a bad number is a typed refusal", () =>
    Effect.gen(function*() {
      const sms = yield* Sms.Sms
      yield* sms.send({ to: ADA, text: "From shop A", tenant: "a" })
      yield* sms.send({ to: ADA, text: "From shop B", tenant: "b" })
      const report = yield* PersonalData.eraseSubject(ADA, { tenant: "a" })
      assert.strictEqual(report.messagesErased, 1)
      const b = yield* PersonalData.exportSubject(ADA, { tenant: "b" })
      assert.deepStrictEqual(b.messages.map((m) => m.text), ["From shop B"])
      const bad = yield* Effect.flip(PersonalData.eraseSubject("not a number"))
      assert.deepInclude(bad, { _tag: "PersonalDataError", field: "to", tag: "InvalidPhoneNumber" })
    }).pipe(Effect.provide(Live)))
})

describe("properties", () => {
  it("after erasure no copy of the number is left in any memory store, everyone else's data is, and the chain verifies", async () => {
    await fc.assert(
      fc.asyncProperty(Erasure.ops, fc.nat({ max: Erasure.numbers.length - 1 }), async (history, target) => {
        const layer = Layer.mergeAll(
          Sms.layer({ transports: [Sandbox.makeUnsafe()], audit: { hashKey } }),
          Layer.fresh(OrderProgress.layerStoreMemory)
        )
        await Effect.runPromise(Erasure.erasureHolds(history, target, Erasure.memoryDump).pipe(Effect.provide(Layer.fresh(layer))))
      }),
      { numRuns: 40 }
    )
  })
})
