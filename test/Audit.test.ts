import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Audit from "../src/Audit.ts"
import * as Events from "../src/Events.ts"
import { canonicalJson } from "../src/internal/audit/hash.ts"

const NUMBER = "+447400123456"

/** The audit log and its store, so a test can tamper with what is stored. */
const withAudit = (options: Audit.AuditOptions = {}) =>
  Effect.provide(Audit.layer(options).pipe(Layer.provideMerge(Audit.layerStoreMemory)))

const input: fc.Arbitrary<Audit.AuditInput> = fc.record(
  {
    kind: fc.constantFrom("send", "status", "consent", "routing", "block", "inbound", "verification"),
    tenant: fc.constantFrom("a", "b"),
    messageId: fc.uuid(),
    to: fc.constantFrom(NUMBER, "+12025550123"),
    body: fc.string({ maxLength: 40 }),
    data: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 6 }),
      fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null)),
      { maxKeys: 4 }
    )
  },
  { requiredKeys: ["kind"] }
)

describe("Audit", () => {
  it.effect("chains entries and verifies", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.Audit
      assert.deepStrictEqual(yield* audit.verify, { valid: true, length: 0, head: "0".repeat(64) })
      const a = yield* audit.append({ kind: "send", messageId: "m1", to: NUMBER, body: "Hello", data: { route: "sandbox" } })
      yield* TestClock.adjust("1 second")
      const b = yield* audit.append({ kind: "status", messageId: "m1", data: { status: "delivered" } })
      assert.strictEqual(a.index, 0)
      assert.strictEqual(b.previousHash, a.hash)
      assert.strictEqual(b.at, 1000)
      assert.match(a.hash, /^[0-9a-f]{64}$/)
      const v = yield* audit.verify
      assert.deepStrictEqual(v, { valid: true, length: 2, head: b.hash })
      assert.deepStrictEqual(yield* audit.head, { length: 2, hash: b.hash })
    }).pipe(withAudit()))

  it.effect("numbers are hashed by default, redacted on request, in clear only with LogPhoneNumbers", () =>
    Effect.gen(function*() {
      const hashed = yield* Audit.make({}).pipe(Effect.provide(Audit.layerStoreMemory))
      const e1 = yield* hashed.append({
        kind: "send",
        to: NUMBER,
        data: { note: `call +44 7400 123456 back`, id: "550e8400-e29b-41d4-a716-446655440000", day: "2026-01-15" }
      })
      assert.match(e1.sensitive?.to ?? "", /^hmac:[0-9a-f]{32}$/)
      assert.match(String(e1.data["note"]), /^call hmac:[0-9a-f]{32} back$/)
      assert.strictEqual(e1.data["id"], "550e8400-e29b-41d4-a716-446655440000")
      assert.strictEqual(e1.data["day"], "2026-01-15")
      assert.notInclude(yield* hashed.exportJsonl, "7400123456")

      const keyed = yield* Audit.make({ hashKey: "k" }).pipe(Effect.provide(Audit.layerStoreMemory))
      const k1 = yield* keyed.append({ kind: "send", to: NUMBER })
      const k2 = yield* keyed.append({ kind: "send", to: NUMBER })
      assert.strictEqual(k1.sensitive?.to, k2.sensitive?.to)

      const redacted = yield* Audit.make({ phoneNumbers: "redact" }).pipe(Effect.provide(Audit.layerStoreMemory))
      const e2 = yield* redacted.append({ kind: "send", to: NUMBER })
      assert.strictEqual(e2.sensitive?.to, "+44********56")

      const plain = yield* Audit.make({}).pipe(
        Effect.provide(Audit.layerStoreMemory),
        Effect.provideService(Events.LogPhoneNumbers, true)
      )
      const e3 = yield* plain.append({ kind: "send", to: NUMBER })
      assert.strictEqual(e3.sensitive?.to, NUMBER)
    }))

  it.effect("codes are never stored", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.Audit
      const v = yield* audit.append({ kind: "verification", to: NUMBER, body: "Your code is 482913", data: { status: "pending" } })
      assert.isUndefined(v.sensitive?.body)
      const s = yield* audit.append({
        kind: "send",
        body: "Your code is 482913",
        data: { text: "code 482913" },
        secrets: ["482913"]
      })
      assert.strictEqual(s.sensitive?.body, "Your code is [redacted]")
      assert.notInclude(yield* audit.exportJsonl, "482913")
    }).pipe(withAudit()))

  it.effect("purge removes personal data from old entries and the chain still verifies", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.Audit
      yield* audit.append({ kind: "send", to: NUMBER, body: "old" })
      yield* TestClock.adjust("31 days")
      yield* audit.append({ kind: "send", to: NUMBER, body: "new" })
      assert.deepStrictEqual(yield* audit.purgeExpired, { purged: 1 })
      const [old, recent] = yield* audit.entries()
      assert.isUndefined(old?.sensitive)
      assert.isDefined(old?.sensitiveDigest)
      assert.strictEqual(recent?.sensitive?.body, "new")
      assert.isTrue((yield* audit.verify).valid)
      assert.notInclude(yield* audit.exportJsonl, "old")
      // Tampering with a purged entry is still caught.
      const store = yield* Audit.AuditStore
      yield* store.replace({ ...old!, kind: "block" })
      assert.deepStrictEqual(yield* audit.verify, { valid: false, index: 0, reason: "hash-mismatch" })
    }).pipe(withAudit({ retention: "30 days" })))

  it.effect("exports JSON Lines, as one string and as a stream", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.Audit
      for (let i = 0; i < 1100; i++) yield* audit.append({ kind: "status", messageId: `m${i}`, data: { i } })
      const text = yield* audit.exportJsonl
      const lines = text.trimEnd().split("\n")
      assert.strictEqual(lines.length, 1100)
      assert.strictEqual(JSON.parse(lines[1099]!).messageId, "m1099")
      const streamed = yield* Stream.runCollect(audit.exportStream)
      assert.strictEqual(streamed.join(""), text)
      // An auditor verifies the export on its own.
      assert.deepStrictEqual(Audit.verifyJsonl(text), yield* audit.verify)
      const forged = lines.map((line, i) => (i === 700 ? line.replace('"i":700', '"i":7000') : line)).join("\n")
      assert.deepStrictEqual(Audit.verifyJsonl(forged), { valid: false, index: 700, reason: "hash-mismatch" })
      assert.deepStrictEqual(Audit.verifyJsonl(`${lines[0]}\nnull\n`), { valid: false, index: 1, reason: "malformed" })
      assert.isTrue((yield* audit.verify).valid)
    }).pipe(withAudit()))

  it.effect("concurrent appends keep one linear chain", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.Audit
      yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => audit.append({ kind: "send", data: { i } }), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual((yield* audit.verify).valid, true)
      assert.strictEqual((yield* audit.head).length, 200)
    }).pipe(withAudit()))

  it.effect("records status changes, blocks and verifications published on Events", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.Audit
      const events = yield* Events.Events
      yield* Audit.recordEvents
      yield* events.publish({ _tag: "StatusChanged", messageId: "m1", status: "delivered", previous: "submitted", at: 5 })
      yield* events.publish({ _tag: "Blocked", scope: "fraud", reason: "velocity", subject: "+4474001", at: 6 })
      yield* events.publish({ _tag: "InboundReceived", transport: "sandbox", action: "none", text: "hi", at: 7 })
      yield* events.publish({ _tag: "VerificationChanged", verificationId: "v1", status: "approved", at: 8 })
      for (let i = 0; i < 10 && (yield* audit.head).length < 3; i++) yield* Effect.yieldNow
      const entries = yield* audit.entries()
      assert.deepStrictEqual(entries.map((e) => [e.kind, e.at]), [["status", 5], ["block", 6], ["verification", 8]])
      assert.deepStrictEqual(entries[0]!.data, { status: "delivered", previous: "submitted" })
      assert.isTrue((yield* audit.verify).valid)
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Audit.layerMemory(), Events.layer()))))

  it.effect("works as an optional dependency", () => Audit.append({ kind: "send" }))
})

describe("Audit properties", () => {
  it("canonical JSON does not depend on key order", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
        const reversed = Object.fromEntries(Object.entries(o).reverse())
        return canonicalJson(o) === canonicalJson(reversed) && canonicalJson(JSON.parse(canonicalJson(o))) === canonicalJson(o)
      })
    )
  })

  type Tamper = "data" | "kind" | "at" | "body" | "to" | "delete" | "swap" | "hash"

  it("the chain verifies after any appends and fails at the exact tampered index", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(input, { minLength: 1, maxLength: 25 }),
        fc.nat(),
        fc.constantFrom<Tamper>("data", "kind", "at", "body", "to", "delete", "swap", "hash"),
        fc.boolean(),
        (inputs, pick, tamper, purgeFirst) =>
          Effect.runPromise(
            Effect.gen(function*() {
              const audit = yield* Audit.Audit
              const store = yield* Audit.AuditStore
              for (const i of inputs) yield* audit.append(i)
              if (purgeFirst) yield* audit.purge(Number.MAX_SAFE_INTEGER)
              const ok = yield* audit.verify
              if (!ok.valid || ok.length !== inputs.length) return false
              const entries = yield* audit.entries()
              const index = pick % entries.length
              const entry = entries[index]!
              switch (tamper) {
                case "data":
                  yield* store.replace({ ...entry, data: { ...entry.data, injected: true } })
                  break
                case "kind":
                  yield* store.replace({ ...entry, kind: `${entry.kind}!` })
                  break
                case "at":
                  yield* store.replace({ ...entry, at: entry.at + 1 })
                  break
                case "body":
                case "to": {
                  // Personal data may have been purged, or never present: then tamper with the data instead.
                  if (entry.sensitive === undefined) {
                    yield* store.replace({ ...entry, messageId: "forged" })
                  } else {
                    yield* store.replace({ ...entry, sensitive: { ...entry.sensitive, [tamper]: "forged" } })
                  }
                  break
                }
                case "delete":
                case "swap": {
                  // Shift the tail down by one (delete) or exchange with the next entry (swap).
                  const next = entries[index + 1]
                  if (next === undefined) {
                    yield* store.replace({ ...entry, previousHash: "f".repeat(64) })
                  } else if (tamper === "delete") {
                    yield* store.replace({ ...next, index })
                  } else {
                    yield* store.replace({ ...next, index })
                    yield* store.replace({ ...entry, index: index + 1 })
                  }
                  break
                }
                case "hash":
                  yield* store.replace({ ...entry, hash: "0".repeat(64) })
                  break
              }
              const bad = yield* audit.verify
              return !bad.valid && bad.index === index
            }).pipe(withAudit())
          )
      ),
      { numRuns: 300 }
    )
  })
})
