import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import { SendRequest } from "smsforge"

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
