import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Result } from "effect"
import fc from "fast-check"
import { Encoding, PhoneNumbers, Sms } from "smsforge"
import { Codes, Sandbox } from "smsforge/testing"
import { Arbitraries } from "smsforge/testing/arbitraries"

describe("Arbitraries", () => {
  it("phone numbers are valid, of their country, and round-trip", () => {
    fc.assert(fc.property(Arbitraries.phoneNumber({ countries: ["GB", "US", "CN", "DE", "IN", "BR"] }), (n) => {
      const parsed = PhoneNumbers.parse(n.e164)
      assert.isTrue(Result.isSuccess(parsed))
      if (Result.isSuccess(parsed)) assert.strictEqual(parsed.success.country, n.country)
    }), { numRuns: 300 })
  })

  it("texts have the encoding they promise", () => {
    fc.assert(fc.property(Arbitraries.gsm7Text, (t) => Encoding.analyze(t).encoding === "GSM-7"))
    fc.assert(fc.property(Arbitraries.ucs2Text.filter((t) => t.length > 0), (t) => Encoding.analyze(t).encoding === "UCS-2"))
  })

  it.effect("every generated send request goes through the pipeline", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      const requests = fc.sample(Arbitraries.sendRequest({ countries: ["GB", "US", "FR", "JP"] }), { numRuns: 300, seed: 7 })
      const context = yield* Layer.build(Sms.layer({ transports: [sandbox], maxSegments: 100 }))
      const sms = Context.get(context, Sms.Sms)
      for (const request of requests) {
        // Marketing needs consent; grant-free tests send transactional.
        const receipt = yield* sms.send({ ...request, purpose: "transactional" })
        assert.strictEqual(receipt.status, "submitted")
      }
    }).pipe(Effect.scoped))
})

describe("Codes.extract", () => {
  it("finds the code and ignores other numbers", () => {
    assert.strictEqual(Codes.extract("Your code is 482913. It expires in 10 minutes."), "482913")
    assert.strictEqual(Codes.extract("【ACME】验证码 5521，5 分钟内有效"), "5521")
    assert.strictEqual(Codes.extract("Order A12345 shipped; code 777 888"), "777888")
    assert.strictEqual(Codes.extract("Code: 1234 for order 99887766", { length: 4 }), "1234")
    assert.isUndefined(Codes.extract("No code here, only 12 and 123"))
  })

  it("property: a code embedded in any text is found", () => {
    fc.assert(fc.property(
      fc.stringMatching(/^\d{6}$/),
      fc.stringMatching(/^[A-Za-z ,.]{0,40}$/),
      fc.stringMatching(/^[A-Za-z ,.]{0,40}$/),
      (code, before, after) => Codes.extract(`${before} ${code} ${after}`, { length: 6 }) === code
    ))
  })
})
