import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Audit, Consent, Sms, Verification } from "smsforge"
import { OrderProgress, PersonalData } from "smsforge/commerce"
import { Sandbox } from "smsforge/testing"
import { describe } from "vitest"

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
      assert.isAbove(data.audit.length, 2)
      assert.strictEqual(data.orders.length, 1)
      const json = JSON.stringify(data)
      assert.notInclude(json, BOB)
      assert.notInclude(json, "Hello Bob")
      assert.deepStrictEqual(JSON.parse(json).subject, ADA)
    }).pipe(Effect.provide(Live)))

  it.effect("erase purges the audit blocks (the chain still verifies) and order records, and lists what the stores keep", () =>
    Effect.gen(function*() {
      yield* seed
      // With the AuditStore in context (here the memory store the pipeline's Audit shares), entries are purged per subject.
      const AuditWithStore = Audit.layer({ hashKey }).pipe(Layer.provideMerge(Audit.layerStoreMemory))
      const report = yield* Effect.gen(function*() {
        const audit = yield* Audit.Audit
        yield* audit.append({ kind: "send", to: ADA, body: "Your order #1001 has shipped" })
        yield* audit.append({ kind: "send", to: BOB, body: "Hello Bob" })
        const report = yield* PersonalData.eraseSubject(ADA, { auditHashKey: hashKey })
        const left = yield* audit.exportJsonl
        assert.notInclude(left, "#1001")
        assert.strictEqual(left.split("\"sensitive\":{").length - 1, 1) // Bob's block only
        assert.include(left, "Hello Bob")
        assert.isTrue((yield* audit.verify).valid)
        return report
      }).pipe(Effect.provide(AuditWithStore))
      // The consent change the pipeline recorded and the send appended here.
      assert.strictEqual(report.auditEntriesPurged, 2)
      assert.strictEqual(report.orderRecordsErased, 1)
      assert.isTrue(report.verificationCanceled)
      assert.isTrue(report.auditChainValid)
      assert.deepStrictEqual(report.retained.map((r) => [r.data, r.missing]), [
        ["messages", "MessageStore.eraseRecipient"],
        ["consent", "ConsentStore.remove"],
        ["verifications", "VerificationStore.eraseRecipient"]
      ])
      const after = yield* PersonalData.exportSubject(ADA)
      assert.strictEqual(after.orders.length, 0)
      assert.strictEqual(after.verifications[0]?.status, "canceled")
    }).pipe(Effect.provide(Live)))

  it.effect("without the AuditStore in context, audit entries are reported as retained; a bad number is a typed refusal", () =>
    Effect.gen(function*() {
      yield* seed
      const report = yield* PersonalData.eraseSubject(ADA, { auditHashKey: hashKey })
      assert.isTrue(report.retained.some((r) => r.data === "audit" && r.count > 0))
      const bad = yield* Effect.flip(PersonalData.exportSubject("not a number"))
      assert.deepInclude(bad, { _tag: "PersonalDataError", field: "to", tag: "InvalidPhoneNumber" })
    }).pipe(Effect.provide(Live)))
})
