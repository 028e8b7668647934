/**
 * fast-check arbitraries for phone numbers, derived from libphonenumber-js's
 * own data rather than a hand-written list.
 *
 * **Details**
 * - Mobile numbers start from libphonenumber's example mobile number for each
 *   country (`examples.mobile.json`, via `getExampleNumber`) and vary the
 *   trailing digits; a variant is kept only when libphonenumber (`max`
 *   metadata) says it is valid, in the same country and still mobile,
 *   otherwise the example itself is used, so generation never starves.
 * - Fixed-line numbers are drawn from the country's fixed-line pattern in the
 *   same metadata (with `fc.stringMatching`) and kept only when valid and
 *   typed fixed-line (or fixed-line-or-mobile, as most `+1` numbers are).
 *   Countries whose plan has no fixed-line pattern fall back to mobile.
 * - Every generated number has at most 15 digits (E.164), so smsforge's
 *   parser accepts it.
 *
 * @since 0.1.0
 */
import type * as Brand from "effect/Brand"
import * as fc from "fast-check"
import examples from "libphonenumber-js/examples.mobile.json"
import {
  type CountryCode,
  getCountries,
  getExampleNumber,
  Metadata,
  parsePhoneNumberWithError,
  type PhoneNumber as LibPhoneNumber
} from "libphonenumber-js/max"

/**
 * The same type as `PhoneNumbers.E164` (brands compare by their key), spelt
 * out here so that the testing entry's declarations do not reach into the main
 * entry's private chunks.
 */
type E164 = string & Brand.Brand<"smsforge/E164">

/**
 * The kind of number {@link phoneNumber} generates.
 *
 * @category models
 * @since 0.1.0
 */
export type GeneratedNumberType = "mobile" | "fixed-line"

/**
 * A generated valid phone number, in E.164 and in its country's national
 * format.
 *
 * @category models
 * @since 0.1.0
 */
export interface GeneratedPhoneNumber {
  readonly e164: E164
  /** ISO 3166-1 alpha-2. */
  readonly country: string
  /** As dialled inside the country, for example `07400 123456` in GB. */
  readonly national: string
  /**
   * The kind asked for. Where the plan shares ranges (`+1`), the number parses
   * as `fixed-line-or-mobile`, which counts as both.
   */
  readonly type: GeneratedNumberType
}

const E164_MAX_DIGITS = 15

const parseValid = (text: string, country?: CountryCode): LibPhoneNumber | undefined => {
  try {
    const parsed = country === undefined ? parsePhoneNumberWithError(text) : parsePhoneNumberWithError(text, country)
    return parsed.isValid() && parsed.number.length - 1 <= E164_MAX_DIGITS ? parsed : undefined
  } catch {
    return undefined
  }
}

const isOfType = (parsed: LibPhoneNumber, type: GeneratedNumberType): boolean => {
  const actual = parsed.getType()
  return type === "mobile"
    ? actual === "MOBILE" || actual === "FIXED_LINE_OR_MOBILE"
    : actual === "FIXED_LINE" || actual === "FIXED_LINE_OR_MOBILE"
}

const toGenerated = (parsed: LibPhoneNumber, country: CountryCode, type: GeneratedNumberType): GeneratedPhoneNumber => ({
  e164: parsed.number as E164,
  country,
  national: parsed.formatNational(),
  type
})

/** Example mobile numbers by country, built once on first use. */
let mobileSeeds: Map<CountryCode, LibPhoneNumber> | undefined
const seeds = (): Map<CountryCode, LibPhoneNumber> => {
  if (mobileSeeds === undefined) {
    mobileSeeds = new Map()
    for (const country of getCountries()) {
      const example = getExampleNumber(country, examples)
      if (example === undefined) continue
      const parsed = parseValid(example.number)
      if (parsed !== undefined && parsed.country === country && isOfType(parsed, "mobile")) {
        mobileSeeds.set(country, parsed)
      }
    }
  }
  return mobileSeeds
}

/**
 * The libphonenumber metadata knows a regular expression per number type;
 * its public typings do not declare the accessor, so read it structurally and
 * treat its absence as "no pattern".
 */
interface TypedNumberingPlan {
  readonly type?: (type: string) => { readonly pattern: () => string } | undefined
}

const fixedLinePatterns = new Map<CountryCode, RegExp | undefined>()
const fixedLinePattern = (country: CountryCode): RegExp | undefined => {
  if (!fixedLinePatterns.has(country)) {
    let pattern: RegExp | undefined
    try {
      const metadata = new Metadata()
      metadata.selectNumberingPlan(country)
      const plan = metadata.numberingPlan as unknown as TypedNumberingPlan | undefined
      const source = typeof plan?.type === "function" ? plan.type("FIXED_LINE")?.pattern() : undefined
      pattern = source === undefined ? undefined : new RegExp(`^(?:${source})$`)
    } catch {
      pattern = undefined
    }
    fixedLinePatterns.set(country, pattern)
  }
  return fixedLinePatterns.get(country)
}

const mobileIn = (country: CountryCode, seed: LibPhoneNumber): fc.Arbitrary<GeneratedPhoneNumber> => {
  const national = seed.nationalNumber
  const varied = Math.min(4, Math.max(1, national.length - 4))
  const kept = national.slice(0, national.length - varied)
  return fc.stringMatching(new RegExp(`^\\d{${varied}}$`)).map((tail) => {
    const parsed = parseValid(`+${seed.countryCallingCode}${kept}${tail}`)
    return parsed !== undefined && parsed.country === country && isOfType(parsed, "mobile")
      ? toGenerated(parsed, country, "mobile")
      : toGenerated(seed, country, "mobile")
  })
}

const fixedLineIn = (country: CountryCode, seed: LibPhoneNumber): fc.Arbitrary<GeneratedPhoneNumber> | undefined => {
  const pattern = fixedLinePattern(country)
  if (pattern === undefined) return undefined
  // Probe once: a pattern that yields no valid number here is skipped.
  const accept = (nationalNumber: string): LibPhoneNumber | undefined => {
    const parsed = parseValid(`+${seed.countryCallingCode}${nationalNumber}`)
    return parsed !== undefined && parsed.country === country && isOfType(parsed, "fixed-line") ? parsed : undefined
  }
  const probe = fc.sample(fc.stringMatching(pattern), { numRuns: 50, seed: 42 }).find((s) => accept(s) !== undefined)
  if (probe === undefined) return undefined
  const fallback = accept(probe)
  if (fallback === undefined) return undefined
  return fc.stringMatching(pattern).map((nationalNumber) =>
    toGenerated(accept(nationalNumber) ?? fallback, country, "fixed-line")
  )
}

const byCountry = new Map<string, fc.Arbitrary<GeneratedPhoneNumber> | undefined>()
const arbitraryFor = (country: CountryCode, type: GeneratedNumberType): fc.Arbitrary<GeneratedPhoneNumber> | undefined => {
  const key = `${type}:${country}`
  if (!byCountry.has(key)) {
    const seed = seeds().get(country)
    byCountry.set(
      key,
      seed === undefined ? undefined : type === "mobile" ? mobileIn(country, seed) : fixedLineIn(country, seed)
    )
  }
  return byCountry.get(key)
}

/**
 * Countries for which {@link phoneNumber} can generate the given type.
 *
 * @category constants
 * @since 0.1.0
 */
export const phoneCountries = (type: GeneratedNumberType = "mobile"): ReadonlyArray<string> =>
  Array.from(seeds().keys()).filter((country) => arbitraryFor(country, type) !== undefined)

/**
 * Valid phone numbers of the given countries (all by default) and type
 * (mobile by default).
 *
 * **Gotchas**
 * - Throws when none of `countries` has a number of that type (an unknown
 *   code, or a territory whose metadata has no fixed-line range): a mistake in
 *   the test, reported when the arbitrary is built.
 *
 * **Example** (A UK or German mobile number)
 *
 * ```ts
 * import fc from "fast-check"
 * import { Arbitraries } from "smsforge/testing/arbitraries"
 *
 * fc.sample(Arbitraries.phoneNumber({ countries: ["GB", "DE"] }), 1)
 * // => [{ e164: "+447400123456", country: "GB", national: "07400 123456", type: "mobile" }]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const phoneNumber = (options?: {
  readonly countries?: ReadonlyArray<string> | undefined
  readonly type?: GeneratedNumberType | undefined
}): fc.Arbitrary<GeneratedPhoneNumber> => {
  const type = options?.type ?? "mobile"
  const wanted = options?.countries?.map((country) => country.toUpperCase())
  const arbitraries: Array<fc.Arbitrary<GeneratedPhoneNumber>> = []
  for (const country of seeds().keys()) {
    if (wanted !== undefined && !wanted.includes(country)) continue
    const arbitrary = arbitraryFor(country, type)
    if (arbitrary !== undefined) arbitraries.push(arbitrary)
  }
  if (arbitraries.length === 0) {
    throw new globalThis.Error(`phoneNumber: no ${type} numbers for the requested countries`)
  }
  return fc.oneof(...arbitraries)
}

/**
 * One fixed, valid number of a country and type — the first a test can use
 * where a generated one is not needed. For mobile numbers it is
 * libphonenumber's own example (`+447400123456` in GB).
 *
 * @category constructors
 * @since 0.1.0
 */
export const exampleNumber = (
  country: string,
  type: GeneratedNumberType = "mobile"
): GeneratedPhoneNumber | undefined => {
  const code = country.toUpperCase() as CountryCode
  const seed = seeds().get(code)
  if (seed === undefined) return undefined
  if (type === "mobile") return toGenerated(seed, code, "mobile")
  const arbitrary = arbitraryFor(code, "fixed-line")
  return arbitrary === undefined ? undefined : fc.sample(arbitrary, { numRuns: 1, seed: 1 })[0]
}

/**
 * Valid mobile numbers of any country, in E.164.
 *
 * @category constructors
 * @since 0.1.0
 */
export const e164: fc.Arbitrary<E164> = fc.constant(null).chain(() => {
  allMobile ??= phoneNumber().map((n) => n.e164)
  return allMobile
})
let allMobile: fc.Arbitrary<E164> | undefined

const letters = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -.()"), maxLength: 20 })

/**
 * Strings that are not a valid phone number with or without a default
 * country: no digits, `+` with an unassigned calling code, too few or too
 * many digits after `+` (more than E.164's 15 included), stray `+` signs.
 *
 * @category constructors
 * @since 0.1.0
 */
export const malformedPhoneInput: fc.Arbitrary<string> = fc.oneof(
  letters,
  fc.constantFrom("", "+", "++", "++1", "+ ", "+()", "+-", "+0", "+00", "tel:", "+\u0000"),
  // Calling codes 0xx and 999 are not assigned.
  fc.tuple(fc.constantFrom("+0", "+999", "+990", "+997"), fc.stringMatching(/^\d{6,10}$/)).map(([cc, rest]) => cc + rest),
  // Too short: a calling code and one digit.
  fc.tuple(fc.constantFrom("+44", "+1", "+49", "+86", "+91"), fc.stringMatching(/^\d$/)).map(([cc, d]) => cc + d),
  // More than 15 digits.
  fc.stringMatching(/^\d{16,30}$/).map((digits) => `+${digits.replace(/^0/, "1")}`),
  // Digits mixed with a second plus sign.
  fc.stringMatching(/^\d{2,6}$/).map((digits) => `++${digits}+`)
)
