import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import { Audit, Consent, Sms, Verification } from "smsforge"
import { OrderProgress, PersonalData } from "../commerce/index.ts"
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

  it.effect("erase purges the audit blocks (the chain still verifies) and order records, and lists what the stores keep", () =>
    Effect.gen(function*() {
      yield* seed
      // With an AuditStore in context, entries are purged per subject (a fresh store: this log only).
      const AuditWithStore = Audit.layer({ hashKey }).pipe(Layer.provideMerge(Layer.fresh(Audit.layerStoreMemory)))
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
      assert.strictEqual(report.auditEntriesPurged, 1)
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

describe("properties", () => {
  const numbers = ["+447400123456", "+447400654321", "+33612345678"] as const
  const writes = fc.array(
    fc.record({ who: fc.nat({ max: 2 }), as: fc.constantFrom("to", "from"), body: fc.boolean(), order: fc.boolean() }),
    { minLength: 1, maxLength: 20 }
  )

  it("erasure leaves no audit block or order record of the number, keeps everyone else's, and the chain verifies", async () => {
    await fc.assert(
      fc.asyncProperty(writes, fc.nat({ max: 2 }), async (ops, target) => {
        const program = Effect.gen(function*() {
          const audit = yield* Audit.Audit
          const orders = yield* OrderProgress.OrderProgressStore
          for (const [i, op] of ops.entries()) {
            const n = numbers[op.who]!
            yield* audit.append({ kind: "inbound", [op.as]: n, ...(op.body ? { body: `body of ${op.who}` } : {}) })
            if (op.order) {
              yield* orders.set(`order-${i}`, { rank: 0, sent: ["placed"], subject: OrderProgress.digest(n), contact: { phone: n } }, {
                expectedVersion: undefined,
                expiresAt: Number.MAX_SAFE_INTEGER // this property runs on the real clock
              })
            }
          }
          const before = yield* audit.entries()
          yield* PersonalData.eraseSubject(numbers[target]!, { auditHashKey: hashKey })
          const after = yield* audit.entries()
          assert.isTrue((yield* audit.verify).valid)
          const hashedTarget = (yield* PersonalData.exportSubject(numbers[target]!, { auditHashKey: hashKey })).audit
          assert.isTrue(hashedTarget.every((e) => e.sensitive === undefined))
          assert.notInclude(JSON.stringify(after), `body of ${target}`)
          assert.strictEqual((yield* orders.findSubject(OrderProgress.digest(numbers[target]!))).length, 0)
          for (const [i, op] of ops.entries()) {
            if (op.who === target) continue
            assert.deepStrictEqual(after[i]?.sensitive, before[i]?.sensitive)
            if (op.order) assert.isTrue((yield* orders.get(`order-${i}`))._tag === "Some")
          }
        })
        const AuditWithStore = Audit.layer({ hashKey }).pipe(Layer.provideMerge(Layer.fresh(Audit.layerStoreMemory)))
        await Effect.runPromise(
          program.pipe(
            Effect.provide(Layer.fresh(AuditWithStore)),
            Effect.provide(Layer.mergeAll(Sms.layer({ transports: [Sandbox.makeUnsafe()] }), Layer.fresh(OrderProgress.layerStoreMemory)))
          )
        )
      }),
      { numRuns: 40 }
    )
  })
})
