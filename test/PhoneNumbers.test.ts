import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Result, Schema } from "effect"
import fc from "fast-check"
import {
  type CountryCode,
  getCountries,
  Metadata,
  parsePhoneNumberWithError,
  validatePhoneNumberLength
} from "libphonenumber-js/max"
import maxMetadata from "libphonenumber-js/metadata.max.json"
import * as PhoneNumbers from "../src/PhoneNumbers.ts"
import { Cache } from "../src/internal/phone/e164Cache.ts"
import {
  e164 as e164Arbitrary,
  exampleNumber,
  malformedPhoneInput,
  phoneCountries,
  phoneNumber
} from "../src/testing/internal/phoneArbitraries.ts"

const parseOk = (input: string, defaultCountry?: string): PhoneNumbers.PhoneNumber => {
  const result = PhoneNumbers.parse(input, defaultCountry === undefined ? undefined : { defaultCountry })
  if (Result.isFailure(result)) {
    assert.fail(`expected a number, got ${result.failure.reason._tag} ${JSON.stringify(result.failure.reason)}`)
  }
  return result.success
}

const whyOf = (input: unknown, defaultCountry?: string): string => {
  const result = PhoneNumbers.parse(input as string, defaultCountry === undefined ? undefined : { defaultCountry })
  if (Result.isSuccess(result)) return "ok"
  const reason = result.failure.reason
  return reason._tag === "InvalidPhoneNumber" ? reason.why : reason._tag
}

describe("PhoneNumbers.parse", () => {
  const valid: ReadonlyArray<
    readonly [label: string, input: string, defaultCountry: string | undefined, e164: string, country: string, type: PhoneNumbers.NumberType]
  > = [
    ["UK mobile, national format", "07400 123456", "GB", "+447400123456", "GB", "mobile"],
    ["UK mobile, international with (0)", "+44 (0)7400-123.456", undefined, "+447400123456", "GB", "mobile"],
    ["UK mobile, lowercase default country", "07400123456", "gb", "+447400123456", "GB", "mobile"],
    ["UK mobile, IDD prefix from Germany", "00447400123456", "DE", "+447400123456", "GB", "mobile"],
    ["US, national format", "(201) 555-0123", "US", "+12015550123", "US", "fixed-line-or-mobile"],
    ["US, international", "+1 201 555 0123", undefined, "+12015550123", "US", "fixed-line-or-mobile"],
    ["China mobile", "+86 139 1234 5678", undefined, "+8613912345678", "CN", "mobile"],
    ["China mobile, national", "139 1234 5678", "CN", "+8613912345678", "CN", "mobile"],
    ["Germany mobile", "+49 151 23456789", undefined, "+4915123456789", "DE", "mobile"],
    ["Germany fixed line, national", "030 123456", "DE", "+4930123456", "DE", "fixed-line"],
    ["India mobile", "+91 98765 43210", undefined, "+919876543210", "IN", "mobile"],
    ["India mobile, national with trunk 0", "098765 43210", "IN", "+919876543210", "IN", "mobile"],
    ["France mobile", "06 12 34 56 78", "FR", "+33612345678", "FR", "mobile"],
    ["Russia mobile", "+7 912 345 67 89", undefined, "+79123456789", "RU", "mobile"],
    ["UK fixed line", "020 7946 0958", "GB", "+442079460958", "GB", "fixed-line"],
    ["US premium rate", "+1 900 555 0100", undefined, "+19005550100", "US", "premium-rate"],
    ["US toll free", "+1 800 555 0199", undefined, "+18005550199", "US", "toll-free"],
    ["UK toll free", "0800 123 4567", "GB", "+448001234567", "GB", "toll-free"],
    ["non-geographic freephone", "+800 1234 5678", undefined, "+80012345678", "001", "toll-free"],
    ["extension dropped", "+1 201 555 0123 x5", undefined, "+12015550123", "US", "fixed-line-or-mobile"],
    ["surrounding whitespace and a newline", "  +44 7400 123456\n", undefined, "+447400123456", "GB", "mobile"],
    ["non-breaking and thin spaces", "+44\u00a07400\u2009123456", undefined, "+447400123456", "GB", "mobile"],
    ["bidirectional marks from a contact card", "\u202a+44 7400 123456\u202c", undefined, "+447400123456", "GB", "mobile"],
    ["full-width plus and digits", "\uff0b\uff14\uff14\uff17\uff14\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16", undefined, "+447400123456", "GB", "mobile"],
    ["full-width national digits", "\uff10\uff17\uff14\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16", "GB", "+447400123456", "GB", "mobile"],
    ["Arabic-Indic digits", "\u0660\u0667\u0664\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666", "GB", "+447400123456", "GB", "mobile"],
    ["international input ignores an unknown default country", "+447400123456", "XX", "+447400123456", "GB", "mobile"]
  ]
  for (const [label, input, defaultCountry, e164, country, type] of valid) {
    it(label, () => {
      const n = parseOk(input, defaultCountry)
      assert.strictEqual(n.e164, e164)
      assert.strictEqual(n.country, country)
      assert.strictEqual(n.type, type)
      assert.strictEqual(`+${n.countryCallingCode}${n.nationalNumber}`, e164)
    })
  }

  it("reports calling code and national number", () => {
    const n = parseOk("07400 123456", "GB")
    assert.deepStrictEqual(n, {
      e164: "+447400123456" as PhoneNumbers.E164,
      country: "GB",
      countryCallingCode: "44",
      nationalNumber: "7400123456",
      type: "mobile"
    })
  })

  const invalid: ReadonlyArray<readonly [label: string, input: unknown, defaultCountry: string | undefined, why: string]> = [
    ["Ofcom drama range (reserved for fiction)", "07700 900123", "GB", "invalid-number"],
    ["Ofcom drama range, fixed line", "+44 1632 960123", undefined, "invalid-number"],
    ["unassigned US area code 555", "+1 555 555 5555", undefined, "invalid-number"],
    ["a length between two possible lengths (KR)", "+82 1234567", undefined, "invalid-length"],
    ["too short", "+44 12", undefined, "too-short"],
    ["too short in +1", "+1 201 555 012", undefined, "too-short"],
    ["too short, national", "0740", "GB", "too-short"],
    ["too long for the plan", "+44 7400 1234567890", undefined, "too-long"],
    ["16 digits, valid for libphonenumber (DE pager)", "+4916985764698379", undefined, "too-long"],
    ["17 digits, valid for libphonenumber (DE fixed line)", "+49950760921559858", undefined, "too-long"],
    ["16 digits in +1", "+1234567890123456", undefined, "too-long"],
    ["letters", "abc", undefined, "not-a-number"],
    ["letters with a default country", "call me", "GB", "not-a-number"],
    ["empty", "", "GB", "not-a-number"],
    ["a plus sign only", "+", undefined, "not-a-number"],
    ["two plus signs", "++1", undefined, "not-a-number"],
    ["text around the number", "call +44 7400 123456 now", undefined, "not-a-number"],
    ["whitespace only", " \u00a0\n", "GB", "not-a-number"],
    ["unassigned calling code", "+999 123456789", undefined, "invalid-country-code"],
    ["national format without a country", "07400 123456", undefined, "missing-country"],
    ["IDD prefix without a country", "00447400123456", undefined, "missing-country"],
    ["national format, unknown default country", "07400 123456", "XX", "invalid-country-code"],
    ["national format, prototype key as country", "07400 123456", "constructor", "invalid-country-code"],
    ["huge digit string", "1".repeat(100_000), "GB", "too-long"],
    ["huge letter string", "a".repeat(100_000), "GB", "not-a-number"],
    ["not a string (from JavaScript)", 447400123456, "GB", "not-a-number"],
    ["null (from JavaScript)", null, undefined, "not-a-number"],
    ["an object (from JavaScript)", { toString: () => "+447400123456" }, undefined, "not-a-number"]
  ]
  for (const [label, input, defaultCountry, why] of invalid) {
    it(`refuses: ${label}`, () => {
      assert.strictEqual(whyOf(input, defaultCountry), why)
    })
  }

  it("libphonenumber alone accepts the 16-digit number we refuse", () => {
    const lib = parsePhoneNumberWithError("+4916985764698379")
    assert.isTrue(lib.isValid())
    assert.strictEqual(lib.number.length - 1, 16)
  })

  it("errors name the field and never the number", () => {
    const result = PhoneNumbers.parse("+44 12", { field: "recipient" })
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      const error = result.failure
      assert.strictEqual(error._tag, "PhoneNumberError")
      assert.strictEqual(error.field, "recipient")
      assert.strictEqual(error.reason._tag, "InvalidPhoneNumber")
      assert.strictEqual(error.message, "recipient: invalid phone number (too-short)")
      assert.notInclude(error.message, "12")
      assert.isFalse(error.isRetryable)
    }
  })

  it("defaults the field to \"to\"", () => {
    const result = PhoneNumbers.parse("abc")
    assert.isTrue(Result.isFailure(result) && result.failure.field === "to")
  })
})

describe("PhoneNumbers.checkPolicy", () => {
  const uk = parseOk("+447400123456")
  const us = parseOk("+12015550123")
  const premium = parseOk("+19005550100")
  const fixed = parseOk("+4930123456")
  const tollFree = parseOk("+18005550199")

  const refusal = (n: PhoneNumbers.PhoneNumber, policy?: PhoneNumbers.PhoneNumberPolicy): string => {
    const result = PhoneNumbers.checkPolicy(n, policy)
    return Result.isSuccess(result) ? "ok" : result.failure.reason._tag
  }

  it("default policy: mobile and fixed-line-or-mobile only", () => {
    assert.strictEqual(refusal(uk), "ok")
    assert.strictEqual(refusal(us), "ok")
    assert.strictEqual(refusal(fixed), "NumberTypeNotAllowed")
    assert.strictEqual(refusal(tollFree), "NumberTypeNotAllowed")
  })

  it("refuses premium-rate unless listed", () => {
    assert.strictEqual(refusal(premium), "NumberTypeNotAllowed")
    assert.strictEqual(refusal(premium, { allowedTypes: ["mobile", "toll-free", "fixed-line"] }), "NumberTypeNotAllowed")
    assert.strictEqual(refusal(premium, { allowedTypes: ["premium-rate"] }), "ok")
  })

  it("names the refused type and country", () => {
    const result = PhoneNumbers.checkPolicy(premium, {}, { field: "to" })
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      assert.deepInclude(result.failure.reason, { _tag: "NumberTypeNotAllowed", field: "to", type: "premium-rate" })
      assert.strictEqual(result.failure.message, "to: number type premium-rate not allowed")
    }
    const country = PhoneNumbers.checkPolicy(uk, { deniedCountries: ["GB"] })
    assert.isTrue(Result.isFailure(country))
    if (Result.isFailure(country)) {
      assert.deepInclude(country.failure.reason, { _tag: "CountryNotAllowed", field: "to", country: "GB" })
      assert.notInclude(country.failure.message, "7400")
    }
  })

  it("allowed and denied countries, case-insensitive; denied wins", () => {
    assert.strictEqual(refusal(uk, { allowedCountries: ["gb", "US"] }), "ok")
    assert.strictEqual(refusal(uk, { allowedCountries: ["US"] }), "CountryNotAllowed")
    assert.strictEqual(refusal(uk, { allowedCountries: ["GB"], deniedCountries: ["gb"] }), "CountryNotAllowed")
    assert.strictEqual(refusal(us, { deniedCountries: ["GB"] }), "ok")
    assert.strictEqual(refusal(uk, { allowedCountries: [] }), "CountryNotAllowed")
  })

  it("a malformed policy from configuration does not throw", () => {
    const garbage = { allowedCountries: 5, deniedCountries: "GB", allowedTypes: "mobile" } as unknown as PhoneNumbers.PhoneNumberPolicy
    assert.strictEqual(refusal(uk, garbage), "CountryNotAllowed")
    assert.strictEqual(refusal(uk, { deniedCountries: [null, 7, "us"] } as unknown as PhoneNumbers.PhoneNumberPolicy), "ok")
  })

  it("country is checked before type", () => {
    assert.strictEqual(refusal(premium, { deniedCountries: ["US"] }), "CountryNotAllowed")
  })

  it("non-geographic numbers are country 001", () => {
    const freephone = parseOk("+80012345678")
    assert.strictEqual(refusal(freephone, { allowedTypes: ["toll-free"], deniedCountries: ["001"] }), "CountryNotAllowed")
    assert.strictEqual(refusal(freephone, { allowedTypes: ["toll-free"] }), "ok")
  })
})

describe("PhoneNumbers.E164 schema", () => {
  const decode = Schema.decodeUnknownExit(PhoneNumbers.E164)

  it("accepts a valid canonical number", () => {
    const exit = decode("+447400123456")
    assert.isTrue(Exit.isSuccess(exit))
    assert.isTrue(Schema.is(PhoneNumbers.E164)("+8613912345678"))
  })

  it("refuses non-canonical, invalid and over-long numbers, without echoing them", () => {
    for (const input of ["+44 7400 123456", "07400123456", "+447700900123", "+4916985764698379", "+999123456789", "", 42, null]) {
      const exit = decode(input)
      assert.isTrue(Exit.isFailure(exit), String(input))
      if (Exit.isFailure(exit) && typeof input === "string" && input.length > 3) {
        assert.notInclude(String(exit.cause), input.replace(/\D/g, "").slice(0, 8))
      }
    }
  })
})

describe("PhoneNumbers.E164FromString schema", () => {
  const decode = Schema.decodeUnknownExit(PhoneNumbers.E164FromString)

  it("decodes international formats to E.164 and encodes as E.164", () => {
    for (const input of ["+44 7400 123456", "+44 (0)7400-123.456", " +447400123456 ", "+447400123456"]) {
      const exit = decode(input)
      assert.isTrue(Exit.isSuccess(exit) && exit.value === "+447400123456", input)
    }
    const encoded = Schema.encodeSync(PhoneNumbers.E164FromString)("+447400123456" as PhoneNumbers.E164)
    assert.strictEqual(encoded, "+447400123456")
  })

  it("refuses national formats and invalid numbers", () => {
    for (const input of ["07400 123456", "+44 12", "abc", "+447700900123", 7]) {
      assert.isTrue(Exit.isFailure(decode(input)), String(input))
    }
  })

  it("works inside a struct", () => {
    const Request = Schema.Struct({ to: PhoneNumbers.E164FromString, text: Schema.String })
    const decoded = Schema.decodeUnknownSync(Request)({ to: "+1 201 555 0123", text: "hi" })
    assert.strictEqual(decoded.to, "+12015550123")
  })
})

describe("PhoneNumbers service", () => {
  it.effect("normalises and caches, errors included", () =>
    Effect.gen(function*() {
      const phones = yield* PhoneNumbers.PhoneNumbers
      const a = yield* phones.normalize("07400 123456", { defaultCountry: "GB" })
      const b = yield* phones.normalize("07400 123456", { defaultCountry: "GB" })
      assert.strictEqual(a.e164, "+447400123456")
      assert.strictEqual(a, b)
      const e1 = yield* Effect.flip(phones.normalize("+44 12"))
      const e2 = yield* Effect.flip(phones.normalize("+44 12", { field: "recipients[3]" }))
      assert.strictEqual(e1.reason._tag, "InvalidPhoneNumber")
      assert.strictEqual(e2.field, "recipients[3]")
      const stats = yield* phones.cacheStats
      assert.deepStrictEqual(stats, { hits: 2, misses: 2, size: 2, capacity: 10_000 })
    }).pipe(Effect.provide(PhoneNumbers.layerDefault)))

  it.effect("keys the cache by default country", () =>
    Effect.gen(function*() {
      const phones = yield* PhoneNumbers.PhoneNumbers
      const gb = yield* phones.normalize("0800 123 4567", { defaultCountry: "GB" })
      const de = yield* Effect.result(phones.normalize("0800 123 4567", { defaultCountry: "DE" }))
      const none = yield* Effect.flip(phones.normalize("0800 123 4567"))
      assert.strictEqual(gb.country, "GB")
      assert.isTrue(Result.isFailure(de) || de.success.country === "DE")
      assert.strictEqual(none.reason._tag === "InvalidPhoneNumber" && none.reason.why, "missing-country")
      assert.strictEqual((yield* phones.cacheStats).size, 3)
    }).pipe(Effect.provide(PhoneNumbers.layerDefault)))

  it.effect("uses the layer's default country and policy", () =>
    Effect.gen(function*() {
      const phones = yield* PhoneNumbers.PhoneNumbers
      const n = yield* phones.normalize("07400 123456")
      assert.strictEqual(n.e164, "+447400123456")
      const refused = yield* Effect.flip(phones.check(n))
      assert.strictEqual(refused.reason._tag, "CountryNotAllowed")
      const allowed = yield* phones.check(n, {})
      assert.strictEqual(allowed, n)
      const viaValidate = yield* Effect.flip(phones.validate("07400 123456"))
      assert.strictEqual(viaValidate.reason._tag, "CountryNotAllowed")
      const us = yield* phones.validate("+1 201 555 0123")
      assert.strictEqual(us.country, "US")
    }).pipe(Effect.provide(PhoneNumbers.layer({ defaultCountry: "GB", policy: { deniedCountries: ["GB"] } }))))

  it.effect("the caller can catch the reason", () =>
    Effect.gen(function*() {
      const phones = yield* PhoneNumbers.PhoneNumbers
      const why = yield* phones.validate("+1 900 555 0100").pipe(
        Effect.map(() => "sent"),
        Effect.catchReason("PhoneNumberError", "NumberTypeNotAllowed", (reason) => Effect.succeed(reason.type))
      )
      assert.strictEqual(why, "premium-rate")
    }).pipe(Effect.provide(PhoneNumbers.layerDefault)))

  it.effect("never fails with a defect on garbage from JavaScript", () =>
    Effect.gen(function*() {
      const phones = yield* PhoneNumbers.PhoneNumbers
      for (const garbage of [undefined, null, 42, {}, [], Symbol("x"), () => "+447400123456"]) {
        const error = yield* Effect.flip(phones.normalize(garbage as unknown as string))
        assert.strictEqual(error.reason._tag === "InvalidPhoneNumber" && error.reason.why, "not-a-number")
      }
      const weirdCountry = yield* Effect.flip(
        phones.normalize("07400123456", { defaultCountry: 7 as unknown as string })
      )
      assert.strictEqual(weirdCountry.reason._tag === "InvalidPhoneNumber" && weirdCountry.reason.why, "invalid-country-code")
    }).pipe(Effect.provide(PhoneNumbers.layerDefault)))

  it.effect("stays bounded", () =>
    Effect.gen(function*() {
      const phones = yield* PhoneNumbers.PhoneNumbers
      for (let i = 0; i < 200; i++) {
        yield* Effect.result(phones.normalize(`+4474001${String(i).padStart(5, "0")}`))
      }
      const stats = yield* phones.cacheStats
      assert.deepStrictEqual(stats, { hits: 0, misses: 200, size: 8, capacity: 8 })
    }).pipe(Effect.provide(PhoneNumbers.layer({ cacheSize: 8 }))))

  // Keys: a bare input without a default country, else country + "\0" + input.
  it.effect("an input that spells another key's country and separator is cached apart from it", () =>
    Effect.gen(function*() {
      const phones = yield* PhoneNumbers.PhoneNumbers
      const national = yield* phones.normalize("07400 123456", { defaultCountry: "GB" })
      assert.strictEqual(national.e164, "+447400123456")
      const spelled = yield* Effect.flip(phones.normalize("GB\u000007400 123456"))
      assert.strictEqual(spelled.reason._tag, "InvalidPhoneNumber")
      const bare = yield* Effect.flip(phones.normalize("\u000007400 123456"))
      assert.strictEqual(bare.reason._tag, "InvalidPhoneNumber")
      assert.strictEqual((yield* phones.normalize("07400 123456", { defaultCountry: "GB" })).e164, "+447400123456")
      assert.deepStrictEqual(yield* phones.cacheStats, { hits: 1, misses: 3, size: 3, capacity: 10_000 })
    }).pipe(Effect.provide(PhoneNumbers.layer())))

  it.effect("cacheSize 0 turns the cache off", () =>
    Effect.gen(function*() {
      const phones = yield* PhoneNumbers.PhoneNumbers
      yield* phones.normalize("+447400123456")
      yield* phones.normalize("+447400123456")
      assert.deepStrictEqual(yield* phones.cacheStats, { hits: 0, misses: 0, size: 0, capacity: 0 })
    }).pipe(Effect.provide(PhoneNumbers.layer({ cacheSize: 0 }))))
})

// Second chance (CLOCK), as a queue: a hit marks, an eviction looks at the
// front and either moves a marked entry to the back, unmarked, or drops it.
class ClockModel {
  queue: Array<{ key: number; value: number; used: boolean }> = []
  constructor(readonly capacity: number) {}
  get(key: number) {
    const entry = this.queue.find((e) => e.key === key)
    if (entry !== undefined) entry.used = true
    return entry?.value
  }
  set(key: number, value: number) {
    if (this.capacity === 0) return
    const entry = this.queue.find((e) => e.key === key)
    if (entry !== undefined) {
      entry.value = value
      entry.used = true
      return
    }
    while (this.queue.length >= this.capacity) {
      const front = this.queue.shift()!
      if (front.used) this.queue.push({ ...front, used: false })
    }
    this.queue.push({ key, value, used: false })
  }
}

describe("Cache", () => {
  it("keeps an entry read since the hand last passed it, and evicts the unread", () => {
    const cache = new Cache<string, number>(2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert.strictEqual(cache.get("a"), 1)
    cache.set("c", 3)
    assert.deepStrictEqual(cache.keys(), ["a", "c"])
    assert.strictEqual(cache.get("b"), undefined)
    assert.deepStrictEqual([cache.hits, cache.misses, cache.size], [1, 1, 2])
  })

  it("a hot key survives any number of cold ones", () => {
    const cache = new Cache<number, number>(100)
    for (let i = 0; i < 100_000; i++) {
      cache.set(1_000_000 + i, i)
      assert.strictEqual(cache.get(0) ?? (cache.set(0, 0), 0), 0)
    }
    assert.strictEqual(cache.misses, 1)
    assert.isAtMost(cache.size, 100)
  })

  it("matches the second-chance model through many evictions and rehashes", () => {
    const model = new ClockModel(500)
    const cache = new Cache<number, number>(500)
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648)
    for (let i = 0; i < 50_000; i++) {
      const key = next() % 1_500
      if (next() % 3 === 0) assert.strictEqual(cache.get(key), model.get(key))
      else {
        cache.set(key, i)
        model.set(key, i)
      }
    }
    assert.deepStrictEqual(cache.keys(), model.queue.map((e) => e.key))
    cache.clear()
    cache.set(1, 1)
    cache.set(2, 2)
    assert.deepStrictEqual(cache.keys(), [1, 2])
  })

  it("matches the second-chance model (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 })), { maxLength: 200 }),
        (capacity, ops) => {
          const cache = new Cache<number, number>(capacity)
          const model = new ClockModel(capacity)
          ops.forEach(([isSet, key], i) => {
            if (isSet) {
              cache.set(key, i)
              model.set(key, i)
              // what was just stored is there
              if (capacity > 0) assert.strictEqual(cache.get(key), model.get(key))
            } else {
              assert.strictEqual(cache.get(key), model.get(key))
            }
            assert.isAtMost(cache.size, capacity)
          })
          assert.deepStrictEqual(cache.keys(), model.queue.map((e) => e.key))
        }
      )
    )
  })
})

describe("properties", () => {
  it("generated numbers cover many countries, both types", () => {
    assert.isAtLeast(phoneCountries("mobile").length, 200)
    assert.isAtLeast(phoneCountries("fixed-line").length, 150)
  })

  it("example numbers", () => {
    assert.deepStrictEqual(exampleNumber("gb"), {
      e164: "+447400123456" as PhoneNumbers.E164,
      country: "GB",
      national: "07400 123456",
      type: "mobile"
    })
    const fixed = exampleNumber("DE", "fixed-line")
    assert.isDefined(fixed)
    assert.strictEqual(fixed && parseOk(fixed.e164).type, "fixed-line")
    assert.isUndefined(exampleNumber("XX"))
  })

  it("normalise is idempotent: parse(e164).e164 === e164", () => {
    fc.assert(
      fc.property(fc.oneof(phoneNumber(), phoneNumber({ type: "fixed-line" })), (n) => {
        const once = parseOk(n.e164)
        assert.strictEqual(once.e164, n.e164)
        assert.strictEqual(parseOk(once.e164).e164, once.e164)
      }),
      { numRuns: 500 }
    )
  })

  it("a generated number parses to the same E.164 from its national format with its country", () => {
    fc.assert(
      fc.property(fc.oneof(phoneNumber(), phoneNumber({ type: "fixed-line" })), (n) => {
        const parsed = parseOk(n.national, n.country)
        assert.strictEqual(parsed.e164, n.e164)
      }),
      { numRuns: 500 }
    )
  })

  it("generated types are the parsed types", () => {
    fc.assert(
      fc.property(phoneNumber({ countries: ["GB", "DE", "CN", "IN", "FR", "BR"] }), (n) => {
        assert.strictEqual(parseOk(n.e164).type, "mobile")
      })
    )
    fc.assert(
      fc.property(phoneNumber({ type: "fixed-line" }), (n) => {
        assert.include(["fixed-line", "fixed-line-or-mobile"], parseOk(n.e164).type)
      })
    )
    fc.assert(
      fc.property(e164Arbitrary, (e164) => {
        assert.isTrue(Schema.is(PhoneNumbers.E164)(e164))
      })
    )
  })

  it("malformed input is refused with and without a default country", () => {
    fc.assert(
      fc.property(malformedPhoneInput, fc.constantFrom(undefined, "GB", "US", "DE", "CN"), (input, country) => {
        assert.notStrictEqual(whyOf(input, country), "ok")
      }),
      { numRuns: 1000 }
    )
  })

  // The model: libphonenumber asked as parse asked it before reading validity
  // and type from one lookup and lengths from the parsed number.
  const modelWhy = (input: string, defaultCountry: CountryCode | undefined): string => {
    const options = defaultCountry === undefined ? {} : { defaultCountry }
    try {
      const parsed = parsePhoneNumberWithError(input, { ...options, extract: false })
      if (parsed.number.length > 16) return "too-long"
      if (parsed.isValid()) return "ok"
      const length = validatePhoneNumberLength(input, options)
      return length === "TOO_SHORT" ? "too-short" : length === "TOO_LONG" ? "too-long" : length === "INVALID_LENGTH" ? "invalid-length" : "invalid-number"
    } catch {
      return "not parsed"
    }
  }

  it("every max numbering plan has number types, so validity is having a type", () => {
    const metadata = new Metadata()
    const nonGeographic = Object.keys((maxMetadata as { nonGeographic?: object }).nonGeographic ?? {})
    assert.isAbove(nonGeographic.length, 0)
    for (const plan of [...getCountries(), ...nonGeographic]) {
      metadata.selectNumberingPlan(plan as CountryCode)
      assert.isTrue((metadata.numberingPlan as unknown as { hasTypes(): boolean }).hasTypes(), plan)
    }
  })

  it("validity, type and why agree with libphonenumber's isValid, getType and validatePhoneNumberLength", () => {
    // digits edited into and out of real numbers: every length verdict, valid and invalid
    const edited = fc.tuple(
      fc.oneof(phoneNumber(), phoneNumber({ type: "fixed-line" })),
      fc.boolean(),
      fc.integer({ min: -3, max: 3 }),
      fc.stringMatching(/^\d{0,3}$/)
    ).map(([n, national, cut, extra]) => {
      const digits = national ? n.national.replace(/\D/g, "") : n.e164
      return { input: (cut < 0 ? digits.slice(0, cut) : digits) + extra.slice(0, Math.max(0, cut)), country: national ? n.country as CountryCode : undefined }
    })
    const random = fc.tuple(
      fc.stringMatching(/^\+?\d{2,17}$/),
      fc.constantFrom<CountryCode | undefined>(undefined, "GB", "US", "DE", "CN", "KR", "IN")
    ).map(([input, country]) => ({ input, country }))
    fc.assert(
      fc.property(fc.oneof(edited, random), ({ input, country }) => {
        const expected = modelWhy(input, country)
        const result = PhoneNumbers.parse(input, country === undefined ? undefined : { defaultCountry: country })
        if (expected === "not parsed") return assert.isTrue(Result.isFailure(result))
        assert.strictEqual(whyOf(input, country), expected, input)
        if (Result.isSuccess(result)) {
          const parsed = parsePhoneNumberWithError(input, country === undefined ? { extract: false } : { defaultCountry: country, extract: false })
          assert.strictEqual(result.success.type, parsed.getType()?.toLowerCase().replace(/_/g, "-").replace("personal-number", "personal"))
        }
      }),
      { numRuns: 3000 }
    )
  })

  it("never throws, on any string", () => {
    const inputs = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.string({ unit: "grapheme" }),
      fc.string({ unit: fc.constantFrom(..."+0123456789 -().x#*;=ext"), maxLength: 40 }),
      fc.string({ minLength: 240, maxLength: 5_000 }),
      fc.anything().map((value) => value as unknown as string)
    )
    const countries = fc.option(fc.oneof(fc.constantFrom("GB", "US", "CN", "gb", "XX", "001", "__proto__"), fc.string()), {
      nil: undefined
    })
    fc.assert(
      fc.property(inputs, countries, (input, defaultCountry) => {
        const result = PhoneNumbers.parse(input, { defaultCountry })
        assert.isTrue(Result.isResult(result))
        if (Result.isSuccess(result)) {
          assert.match(result.success.e164, /^\+[1-9]\d{1,14}$/)
        }
      }),
      { numRuns: 2000 }
    )
  })

  it("the cache stays bounded and answers as the uncached parse does", () => {
    const input = fc.oneof(
      e164Arbitrary.map(String),
      phoneNumber({ countries: ["GB", "US", "DE"] }).map((n) => n.national),
      malformedPhoneInput,
      fc.string({ maxLength: 20 })
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.tuple(input, fc.constantFrom(undefined, "GB", "US", "DE")), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        (capacity, calls, repeat) => {
          const phones = Effect.runSync(PhoneNumbers.make({ cacheSize: capacity }))
          for (let round = 0; round < repeat; round++) {
            for (const [text, defaultCountry] of calls) {
              const cached = Effect.runSyncExit(phones.normalize(text, { defaultCountry }))
              const direct = PhoneNumbers.parse(text, { defaultCountry })
              if (Result.isSuccess(direct)) {
                assert.isTrue(Exit.isSuccess(cached))
                if (Exit.isSuccess(cached)) assert.deepStrictEqual(cached.value, direct.success)
              } else {
                const error = Exit.isFailure(cached) ? Cause.squash(cached.cause) : undefined
                assert.instanceOf(error, PhoneNumbers.PhoneNumberError)
                assert.deepStrictEqual(JSON.stringify(error), JSON.stringify(direct.failure))
                assert.deepStrictEqual({ ...(error as PhoneNumbers.PhoneNumberError).reason }, { ...direct.failure.reason })
              }
              const stats = Effect.runSync(phones.cacheStats)
              assert.isAtMost(stats.size, capacity)
            }
          }
          const stats = Effect.runSync(phones.cacheStats)
          assert.strictEqual(stats.hits + stats.misses, calls.length * repeat - calls.filter(([t]) => t.length > 250).length * repeat)
        }
      ),
      { numRuns: 200 }
    )
  })

  it("policy: a denied country or an unlisted premium-rate never passes", () => {
    fc.assert(
      fc.property(phoneNumber(), (n) => {
        const parsed = parseOk(n.e164)
        assert.isTrue(Result.isFailure(PhoneNumbers.checkPolicy(parsed, { deniedCountries: [n.country] })))
        assert.isTrue(Result.isSuccess(PhoneNumbers.checkPolicy(parsed, { allowedCountries: [n.country] })))
      })
    )
    fc.assert(
      fc.property(
        fc.subarray([...PhoneNumbers.NumberType.literals].filter((t) => t !== "premium-rate")),
        (allowedTypes) => {
          const premium = parseOk("+19005550100")
          assert.isTrue(Result.isFailure(PhoneNumbers.checkPolicy(premium, { allowedTypes })))
        }
      )
    )
  })
})
