import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import fc from "fast-check"
import { SendRequest } from "smsforge"
import { Arbitraries } from "smsforge/testing/arbitraries"
import { decodeCommon } from "../src/internal/request/fast.ts"

const invalid = (input: unknown) => {
  const decoded = SendRequest.decode(input)
  assert.isTrue(Result.isFailure(decoded))
  if (Result.isSuccess(decoded)) throw new Error("unreachable")
  assert.strictEqual(decoded.failure._tag, "InvalidRequest")
  return decoded.failure
}

describe("SendRequest.decode", () => {
  it("decodes text and template requests with defaults", () => {
    const text = SendRequest.decode({ to: "+447700900123", text: "hi" })
    assert.isTrue(Result.isSuccess(text))
    if (Result.isSuccess(text)) {
      assert.strictEqual(text.success.purpose, "transactional")
      assert.deepStrictEqual(text.success.content, { _tag: "Text", text: "hi" })
    }
    const template = SendRequest.decode({
      to: "07700 900123",
      template: "otp",
      variables: { code: "123456" },
      locale: "pt-BR",
      sendAt: "2026-11-23T12:00:00Z",
      validity: "10 minutes",
      purpose: "marketing",
      metadata: { order: 42, vip: true }
    })
    assert.isTrue(Result.isSuccess(template))
    if (Result.isSuccess(template)) {
      assert.strictEqual(template.success.sendAt, Date.parse("2026-11-23T12:00:00Z"))
      assert.strictEqual(template.success.validity, 600_000)
      assert.strictEqual(template.success.content._tag, "Template")
    }
  })

  it("names the offending field", () => {
    assert.strictEqual(invalid({ text: "hi" }).field, "to")
    assert.strictEqual(invalid({ to: "+447700900123" }).field, "text")
    assert.strictEqual(invalid({ to: "+447700900123", text: "" }).field, "text")
    assert.strictEqual(invalid({ to: "+447700900123", text: "hi", colour: "red" }).field, "colour")
    assert.strictEqual(invalid({ to: "+447700900123", text: "hi", purpose: "spam" }).field, "purpose")
    assert.strictEqual(invalid({ to: "+447700900123", text: "hi", sendAt: "tomorrow-ish" }).field, "sendAt")
    assert.strictEqual(invalid({ to: "+447700900123", text: "hi", validity: -5 }).field, "validity")
    assert.strictEqual(invalid({ to: "+447700900123", text: "hi", metadata: { a: {} } }).field, "metadata.a")
    assert.strictEqual(invalid({ to: "+447700900123", text: "hi", template: "otp" }).field, "template")
    assert.strictEqual(invalid({ to: 447700900123, text: "hi" }).field, "to")
    assert.strictEqual(invalid(null).field, "request")
    assert.strictEqual(invalid([1, 2]).field, "request")
  })

  it("never puts the values in the message", () => {
    const error = invalid({ to: "+447700900123", text: "hi", secret: "123456" })
    assert.notInclude(error.message, "123456")
    assert.notInclude(JSON.stringify(error), "447700900123")
  })

  it("property: arbitrary input never throws and fails only with InvalidRequest", () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom("to", "text", "template", "variables", "sendAt", "purpose", "metadata", "x"), fc.anything())), (input) => {
        const decoded = SendRequest.decode(input)
        if (Result.isFailure(decoded)) assert.strictEqual(decoded.failure._tag, "InvalidRequest")
      }),
      { numRuns: 2000 }
    )
  })
})

const defined = (fields: object) => Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))

describe("SendRequest.decode: the hand-written path for common requests", () => {
  const schemaOnly = (input: Record<string, unknown>): Result.Result<unknown, Schema.SchemaError> =>
    "template" in input
      ? Schema.decodeUnknownResult(SendRequest.TemplateRequest, { onExcessProperty: "error" })(input)
      : Schema.decodeUnknownResult(SendRequest.TextRequest, { onExcessProperty: "error" })(input)

  // Values near every boundary the Schema checks, and the odd ones it treats specially.
  const value = fc.oneof(
    fc.constantFrom("", "a", "x".repeat(20), "x".repeat(21), "x".repeat(35), "x".repeat(36), "x".repeat(128), "x".repeat(129)),
    fc.constantFrom("x".repeat(255), "x".repeat(256), "\ud83d\ude00".repeat(10), "\ud83d\ude00".repeat(11)),
    fc.constantFrom("transactional", "marketing", "10 minutes", "2026-11-23T12:00:00Z", "+447400123456"),
    fc.constantFrom(undefined, null, 0, -0, 1.5, -5, Number.NaN, Number.POSITIVE_INFINITY, true, false, new Date(0), [], ["a"]),
    fc.constantFrom({}, { a: "1" }, { a: 1, b: true }, { a: undefined }, { a: {} }, { a: Number.NaN }, Object.create(null)),
    fc.constantFrom(JSON.parse("{\"__proto__\": \"x\"}"), Object.assign(Object.create({ inherited: 1 }), { a: "1" })),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.constant(undefined)), { maxKeys: 3 }),
    fc.string({ maxLength: 30 })
  )
  const keys = ["to", "text", "template", "variables", "locale", "from", "purpose", "idempotencyKey", "sendAt", "validity", "tenant", "metadata", "colour"]
  const request = fc.oneof(
    fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 6 }),
    fc.record({ to: fc.constant("+447400123456"), text: value, from: value, metadata: value }, { requiredKeys: ["to", "text"] }),
    fc.record({ to: value, template: fc.constant("otp"), variables: value, locale: value }, { requiredKeys: ["to", "template"] }),
    Arbitraries.sendRequest()
  )

  it("property: answers what the Schema answers, and leaves to it what it is not sure of", () => {
    fc.assert(
      fc.property(request, (input: Record<string, unknown>) => {
        const fast = decodeCommon(input)
        if (fast === undefined) return
        const slow = schemaOnly(input)
        assert.isTrue(Result.isSuccess(slow), `the Schema refuses what the fast path took: ${JSON.stringify(Object.keys(input))}`)
        // a key absent and a key set to undefined read the same
        if (Result.isSuccess(slow)) assert.deepStrictEqual(defined(fast), defined(slow.success as object))
      }),
      { numRuns: 20_000 }
    )
  })

  it("takes the requests an application sends", () => {
    fc.assert(
      fc.property(Arbitraries.sendRequest(), (input) => {
        assert.isDefined(decodeCommon(input))
      }),
      { numRuns: 500 }
    )
    const template = { to: "+447400123456", template: "otp", variables: { code: "123456" }, locale: "en", metadata: { order: 42 } }
    assert.deepStrictEqual(defined(decodeCommon(template)!), defined(schemaOnly(template).pipe(Result.getOrThrow) as object))
  })

  it("copies records, so a caller that changes them later changes nothing stored", () => {
    const metadata = { order: "42" }
    const variables = { code: "123456" }
    const text = decodeCommon({ to: "+447400123456", text: "hi", metadata })
    const template = decodeCommon({ to: "+447400123456", template: "otp", variables })
    assert.notStrictEqual(text?.metadata, metadata)
    assert.notStrictEqual(template !== undefined && "variables" in template ? template.variables : undefined, variables)
  })
})

describe("SendRequest.decode: unknown keys", () => {
  const known = new Set(["to", "text", "template", "variables", "locale", "from", "purpose", "idempotencyKey", "sendAt", "validity", "tenant", "metadata"])
  // identifier-like keys, as typos are (a numeric key is named as an index, "[0]")
  const extra = fc.stringMatching(/^[A-Za-z_$][\w$]{0,11}$/).filter((k) => !known.has(k) && k !== "__proto__")

  it("a typo such as txt is InvalidRequest naming it", () => {
    assert.strictEqual(invalid({ to: "+447400123456", txt: "hi" }).field, "txt")
    assert.strictEqual(invalid({ to: "+447400123456", text: "hi", txt: "hi" }).field, "txt")
    assert.strictEqual(invalid({ to: "+447400123456", template: "otp", varaibles: {} }).field, "varaibles")
  })

  it("property: any valid request with an extra key is refused, naming that key, by both paths", () => {
    fc.assert(
      fc.property(Arbitraries.sendRequest(), extra, fc.anything(), (request, key, value) => {
        const input: Record<string, unknown> = { ...request }
        input[key] = value
        assert.isUndefined(decodeCommon(input))
        const error = invalid(input)
        assert.strictEqual(error.field, key)
        assert.strictEqual(error.problem, "not allowed")
      }),
      { numRuns: 1000 }
    )
  })
})
