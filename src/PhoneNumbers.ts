/**
 * Phone numbers: parse what a user typed, normalise it to E.164, say which
 * country and kind of line it is, and decide whether a message may go there.
 *
 * **Details**
 * - Parsing uses libphonenumber-js with its `max` metadata, the only data set
 *   that knows number types for every country: premium-rate refusal and the
 *   mobile-only default policy need them (`min` answers no type for China,
 *   among others).
 * - {@link parse} and {@link checkPolicy} are pure and never throw: every
 *   input, however malformed, ends in a {@link PhoneNumber} or a typed
 *   {@link PhoneNumberError} whose reason says why.
 * - The {@link PhoneNumbers} service adds a bounded LRU cache keyed by
 *   (default country, input), errors included, so a recipient seen again costs
 *   a map lookup instead of a ~30 µs parse.
 * - E.164 allows at most 15 digits; libphonenumber accepts longer numbers for
 *   a few countries (German, Japanese, Indonesian toll-free and pager ranges),
 *   and {@link parse} refuses them as `too-long`.
 *
 * **Gotchas**
 * - Ofcom's drama range `07700 900000`–`07700 900999` (`+447700900xxx`) is
 *   reserved for fiction, and libphonenumber reports it as not a valid number:
 *   it fails with `invalid-number`. Tests that need a real-looking UK mobile
 *   can use `+447400123456`, libphonenumber's own example.
 * - Error messages name the field and the reason, never the number.
 * - An extension (`x123`, `;ext=1`) is accepted and dropped: SMS has none.
 *
 * **Example** (Parsing a UK mobile number in national format)
 *
 * ```ts
 * import { PhoneNumbers } from "smsforge"
 * import { Result } from "effect"
 *
 * const parsed = PhoneNumbers.parse("07400 123456", { defaultCountry: "GB" })
 * if (Result.isSuccess(parsed)) {
 *   parsed.success.e164 // => "+447400123456"
 *   parsed.success.type // => "mobile"
 * }
 * ```
 *
 * @since 0.1.0
 */
import type * as Brand from "effect/Brand"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import type { CountryCode, MetadataJson, PhoneNumber as LibPhoneNumber } from "libphonenumber-js/max"
import { type CoreRegistry, registry } from "./internal/cores.ts"
import { Cache } from "./internal/phone/e164Cache.ts"
import { stackless } from "./internal/errors.ts"
import { nodeRequire, once } from "./internal/lazy.ts"

// Loaded at the first parse: at import it was about half of smsforge's cold import.
const libphonenumber = once(() => nodeRequire("libphonenumber-js/max") as typeof import("libphonenumber-js/max"))

// models

/**
 * A phone number in E.164 form: `+`, the country calling code and the
 * national number, at most 15 digits, no spaces (`+447400123456`).
 *
 * @category models
 * @since 0.1.0
 */
export type E164 = string & Brand.Brand<"smsforge/E164">

/**
 * The kinds of line a number can belong to, from libphonenumber's metadata.
 *
 * **Details**
 * - `fixed-line-or-mobile` is what the North American plan (`+1`) answers for
 *   most numbers, where the two share ranges.
 * - `unknown` is a valid number whose range the metadata gives no type.
 *
 * @category models
 * @since 0.1.0
 */
export const NumberType = Schema.Literals([
  "mobile",
  "fixed-line",
  "fixed-line-or-mobile",
  "premium-rate",
  "toll-free",
  "voip",
  "shared-cost",
  "personal",
  "pager",
  "uan",
  "voicemail",
  "unknown"
])

/**
 * @category models
 * @since 0.1.0
 */
export type NumberType = typeof NumberType.Type

/**
 * A parsed, valid phone number.
 *
 * @category models
 * @since 0.1.0
 */
export interface PhoneNumber {
  /** The number in E.164, for example `+447400123456`. */
  readonly e164: E164
  /** ISO 3166-1 alpha-2 region (`"GB"`), or `"001"` for non-geographic numbers (`+800`, `+882`). */
  readonly country: string
  /** The country calling code, digits only (`"44"`). */
  readonly countryCallingCode: string
  /** The national significant number, digits only, without a trunk prefix (`"7400123456"`). */
  readonly nationalNumber: string
  readonly type: NumberType
}

/**
 * Why an input is not a valid phone number.
 *
 * **Details**
 * - `not-a-number`: no phone number in it (letters, punctuation only, empty).
 * - `too-short` / `too-long`: fewer or more digits than the country's plan
 *   allows; `too-long` also for more than E.164's 15 digits.
 * - `invalid-length`: between the shortest and longest lengths the plan
 *   allows, but not one of them.
 * - `invalid-country-code`: `+` followed by no assigned calling code, or an
 *   unknown default country.
 * - `missing-country`: a national number and no default country to read it
 *   with.
 * - `invalid-number`: a possible length, but in no range the plan assigns.
 *
 * @category models
 * @since 0.1.0
 */
export const InvalidPhoneNumberWhy = Schema.Literals([
  "not-a-number",
  "too-short",
  "too-long",
  "invalid-length",
  "invalid-country-code",
  "missing-country",
  "invalid-number"
])

/**
 * @category models
 * @since 0.1.0
 */
export type InvalidPhoneNumberWhy = typeof InvalidPhoneNumberWhy.Type

/**
 * Where a message may go.
 *
 * **Details**
 * - Countries are ISO 3166-1 alpha-2 codes (`"GB"`), or `"001"` for
 *   non-geographic numbers; case does not matter.
 * - `deniedCountries` wins over `allowedCountries`; without
 *   `allowedCountries`, every country not denied is allowed.
 * - `allowedTypes` defaults to {@link defaultAllowedTypes} (`mobile` and
 *   `fixed-line-or-mobile`); `premium-rate` is refused unless listed.
 *
 * @category models
 * @since 0.1.0
 */
export interface PhoneNumberPolicy {
  readonly allowedCountries?: ReadonlyArray<string> | undefined
  readonly deniedCountries?: ReadonlyArray<string> | undefined
  readonly allowedTypes?: ReadonlyArray<NumberType> | undefined
}

/**
 * The number types a policy allows when it lists none: those that can
 * receive an SMS.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultAllowedTypes: ReadonlyArray<NumberType> = ["mobile", "fixed-line-or-mobile"]

/**
 * Options of {@link parse} and {@link PhoneNumbers} `normalize`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ParseOptions {
  /** ISO 3166-1 alpha-2 country used to read national formats (`"GB"` reads `07400 123456`). */
  readonly defaultCountry?: string | undefined
  /** The field named in errors; `"to"` by default. */
  readonly field?: string | undefined
}

// errors

/**
 * The input is not a valid phone number; `why` says what is wrong with it.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidPhoneNumber extends stackless(Schema.TaggedError<InvalidPhoneNumber>(
  "smsforge/PhoneNumbers/InvalidPhoneNumber"
)("InvalidPhoneNumber", {
  field: Schema.String,
  why: InvalidPhoneNumberWhy
})) {
  override get message(): string {
    return `${this.field}: invalid phone number (${this.why})`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The number is valid, but the policy does not allow its country.
 *
 * @category errors
 * @since 0.1.0
 */
export class CountryNotAllowed extends stackless(Schema.TaggedError<CountryNotAllowed>(
  "smsforge/PhoneNumbers/CountryNotAllowed"
)("CountryNotAllowed", {
  field: Schema.String,
  country: Schema.String
})) {
  override get message(): string {
    return `${this.field}: country ${this.country} not allowed`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The number is valid, but the policy does not allow its type (premium-rate,
 * for example).
 *
 * @category errors
 * @since 0.1.0
 */
export class NumberTypeNotAllowed extends stackless(Schema.TaggedError<NumberTypeNotAllowed>(
  "smsforge/PhoneNumbers/NumberTypeNotAllowed"
)("NumberTypeNotAllowed", {
  field: Schema.String,
  type: NumberType
})) {
  override get message(): string {
    return `${this.field}: number type ${this.type} not allowed`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Every reason a number can be refused for.
 *
 * @category errors
 * @since 0.1.0
 */
export const PhoneNumberErrorReason = Schema.Union([InvalidPhoneNumber, CountryNotAllowed, NumberTypeNotAllowed])

/**
 * @category errors
 * @since 0.1.0
 */
export type PhoneNumberErrorReason = typeof PhoneNumberErrorReason.Type

/**
 * A refused phone number: which field, and why.
 *
 * @category errors
 * @since 0.1.0
 */
export class PhoneNumberError extends stackless(Schema.TaggedError<PhoneNumberError>("smsforge/PhoneNumberError")(
  "PhoneNumberError",
  {
    field: Schema.String,
    reason: PhoneNumberErrorReason
  }
)) {
  override get message(): string {
    return this.reason.message
  }
  get isRetryable(): boolean {
    return false
  }
}

// parsing

/** libphonenumber reads at most 250 characters; longer inputs are refused before parsing. */
const MAX_INPUT_LENGTH = 250

/** E.164, ITU-T: at most 15 digits after the `+`. */
const E164_MAX_DIGITS = 15

const typeNames: Record<string, NumberType> = {
  MOBILE: "mobile",
  FIXED_LINE: "fixed-line",
  FIXED_LINE_OR_MOBILE: "fixed-line-or-mobile",
  PREMIUM_RATE: "premium-rate",
  TOLL_FREE: "toll-free",
  VOIP: "voip",
  SHARED_COST: "shared-cost",
  PERSONAL_NUMBER: "personal",
  PAGER: "pager",
  UAN: "uan",
  VOICEMAIL: "voicemail"
}

/**
 * libphonenumber's error codes, classified once here. `INVALID_COUNTRY` is
 * resolved by the caller, which knows whether a default country was given.
 */
const parseErrors: Record<string, InvalidPhoneNumberWhy> = {
  NOT_A_NUMBER: "not-a-number",
  INVALID_COUNTRY: "invalid-country-code",
  TOO_SHORT: "too-short",
  TOO_LONG: "too-long",
  INVALID_LENGTH: "invalid-length"
}

const startsInternational = (input: string): boolean => /^[\s\p{P}]*\+/u.test(input)

/** ASCII digits and punctuation, single spaces between: what `clean` returns unchanged, found by one test. */
const alreadyClean = /^[\d+().-]+(?: [\d+().-]+)*$/

/**
 * What users paste: surrounding and non-breaking spaces, bidirectional marks
 * copied from a phone's contact card, a full-width plus from a CJK keyboard.
 * libphonenumber refuses these when it is not extracting a number from text.
 */
const clean = (input: string): string =>
  alreadyClean.test(input) ? input : input.replace(/\p{Cf}+/gu, "").replace(/\s+/gu, " ").replace(/\uFF0B/gu, "+").trim()

/** A default country as libphonenumber wants it; `null` when one was given but is unknown. */
const resolveCountry = (defaultCountry: unknown): CountryCode | undefined | null => {
  if (defaultCountry === undefined || defaultCountry === null || defaultCountry === "") return undefined
  if (typeof defaultCountry !== "string") return null
  const upper = defaultCountry.toUpperCase()
  return libphonenumber().isSupportedCountry(upper) ? upper : null
}

interface LibParseOptions {
  readonly defaultCountry?: CountryCode
  readonly extract: false
}

// One options object per default country, not one per parse; libphonenumber only reads it.
const noCountryOptions: LibParseOptions = { extract: false }
const countryOptions = new Map<CountryCode, LibParseOptions>()
const parseOptionsOf = (country: CountryCode | undefined): LibParseOptions => {
  if (country === undefined) return noCountryOptions
  let options = countryOptions.get(country)
  if (options === undefined) {
    options = { defaultCountry: country, extract: false }
    countryOptions.set(country, options)
  }
  return options
}

// One metadata instance over max's data (the same modules the max entry
// loaded), its numbering plan selected for each length verdict.
const plans = once(() => {
  const { Metadata } = nodeRequire("libphonenumber-js/core") as typeof import("libphonenumber-js/core")
  return new Metadata(nodeRequire("libphonenumber-js/metadata.max.json") as MetadataJson)
})

/**
 * Why a parsed but invalid number is invalid, from the lengths its plan
 * allows: what libphonenumber's `validatePhoneNumberLength` answers, without
 * parsing the input a second time (it parses with the same options, then
 * checks these lengths).
 */
const lengthWhy = (parsed: LibPhoneNumber): InvalidPhoneNumberWhy => {
  const plan = plans()
  // A calling code selects the plan of a non-geographic number (country undefined).
  plan.selectNumberingPlan((parsed.country ?? parsed.countryCallingCode) as CountryCode)
  const lengths: ReadonlyArray<number> | undefined = plan.numberingPlan?.possibleLengths()
  const length = parsed.nationalNumber.length
  if (lengths === undefined) return "invalid-number"
  if (length < lengths[0]!) return "too-short"
  if (length > lengths[lengths.length - 1]!) return "too-long"
  return lengths.includes(length) ? "invalid-number" : "invalid-length"
}

/** The whole parse: a number, or why not. Never throws. */
const parseOutcome = (input: unknown, country: CountryCode | undefined | null): PhoneNumber | InvalidPhoneNumberWhy => {
  if (typeof input !== "string") return "not-a-number"
  if (input.length > MAX_INPUT_LENGTH) return /\d/u.test(input) ? "too-long" : "not-a-number"
  const text = clean(input)
  try {
    const parsed = libphonenumber().parsePhoneNumberWithError(text, parseOptionsOf(country ?? undefined))
    if (parsed.number.length - 1 > E164_MAX_DIGITS) return "too-long"
    // With `max` metadata every numbering plan has types, and libphonenumber's
    // `isValid` is exactly "has a type": one type lookup answers both.
    const type = parsed.getType()
    if (type === undefined) return lengthWhy(parsed)
    // Frozen: the service hands the same object to every caller of a cached input.
    return Object.freeze({
      e164: parsed.number as E164,
      country: parsed.country ?? "001",
      countryCallingCode: parsed.countryCallingCode,
      nationalNumber: parsed.nationalNumber,
      type: typeNames[type] ?? "unknown"
    })
  } catch (error) {
    const code = error instanceof Error ? error.message : ""
    if (code === "INVALID_COUNTRY") {
      if (country === null) return "invalid-country-code"
      return country === undefined && !startsInternational(text) ? "missing-country" : "invalid-country-code"
    }
    return parseErrors[code] ?? "not-a-number"
  }
}

const fieldOf = (field: unknown): string => (typeof field === "string" ? field : "to")

const invalid = (field: string, why: InvalidPhoneNumberWhy): PhoneNumberError =>
  new PhoneNumberError({ field, reason: new InvalidPhoneNumber({ field, why }) })

/**
 * Parses a number in international (`+44 7400 123456`) or national
 * (`07400 123456`, with `defaultCountry: "GB"`) format.
 *
 * **Details**
 * - Spaces (non-breaking ones included), dashes, dots and brackets are
 *   ignored, and so are surrounding whitespace, invisible formatting marks
 *   and a full-width `＋`; anything else around the number (`"call +44…"`)
 *   makes it `not-a-number`.
 * - Never throws, whatever it is given (also from JavaScript, where `input`
 *   may not be a string).
 *
 * **Example** (A premium-rate number parses; the policy refuses it)
 *
 * ```ts
 * import { PhoneNumbers } from "smsforge"
 * import { Result } from "effect"
 *
 * const n = Result.getOrThrow(PhoneNumbers.parse("+1 900 555 0100"))
 * n.type // => "premium-rate"
 * Result.isFailure(PhoneNumbers.checkPolicy(n, {})) // => true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const parse = (input: string, options?: ParseOptions): Result.Result<PhoneNumber, PhoneNumberError> => {
  const outcome = parseOutcome(input, resolveCountry(options?.defaultCountry))
  return typeof outcome === "string" ? Result.fail(invalid(fieldOf(options?.field), outcome)) : Result.succeed(outcome)
}

// policy

interface CompiledPolicy {
  readonly allowed: ReadonlySet<string> | undefined
  readonly denied: ReadonlySet<string>
  readonly types: ReadonlySet<NumberType>
}

// Policies may come from configuration files: tolerate what is not an array.
const upperSet = (codes: unknown): Set<string> =>
  new Set(
    (Array.isArray(codes) ? codes : []).filter((code) => typeof code === "string").map((code: string) =>
      code.toUpperCase()
    )
  )

const compileUncached = (policy: PhoneNumberPolicy | undefined): CompiledPolicy => ({
  allowed: policy?.allowedCountries === undefined ? undefined : upperSet(policy.allowedCountries),
  denied: upperSet(policy?.deniedCountries),
  types: new Set(Array.isArray(policy?.allowedTypes) ? policy.allowedTypes : defaultAllowedTypes)
})

// A policy is configuration, passed again with every check: compiled once per object.
const compiled = new WeakMap<PhoneNumberPolicy, CompiledPolicy>()
const noPolicy = compileUncached(undefined)
const compilePolicy = (policy: PhoneNumberPolicy | undefined): CompiledPolicy => {
  if (policy === undefined) return noPolicy
  let done = compiled.get(policy)
  if (done === undefined) {
    done = compileUncached(policy)
    compiled.set(policy, done)
  }
  return done
}

const applyPolicy = (
  n: PhoneNumber,
  policy: CompiledPolicy,
  field: string
): CountryNotAllowed | NumberTypeNotAllowed | undefined => {
  if (policy.denied.has(n.country) || (policy.allowed !== undefined && !policy.allowed.has(n.country))) {
    return new CountryNotAllowed({ field, country: n.country })
  }
  if (!policy.types.has(n.type)) return new NumberTypeNotAllowed({ field, type: n.type })
  return undefined
}

/**
 * Checks a parsed number against a policy: denied countries first, then
 * allowed countries, then allowed types.
 *
 * @category utils
 * @since 0.1.0
 */
export const checkPolicy = (
  n: PhoneNumber,
  policy?: PhoneNumberPolicy,
  options?: { readonly field?: string | undefined }
): Result.Result<PhoneNumber, PhoneNumberError> => {
  const field = fieldOf(options?.field)
  const refused = applyPolicy(n, compilePolicy(policy), field)
  return refused === undefined ? Result.succeed(n) : Result.fail(new PhoneNumberError({ field, reason: refused }))
}

// schema

/** Canonical E.164 shape, checked before the (cached) parse. */
const e164Shape = /^\+[1-9]\d{1,14}$/
const schemaCache = new Cache<string, boolean>(1024)

const isValidE164 = (value: string): boolean => {
  if (!e164Shape.test(value)) return false
  const cached = schemaCache.get(value)
  if (cached !== undefined) return cached
  const outcome = parseOutcome(value, undefined)
  const valid = typeof outcome !== "string" && outcome.e164 === value
  schemaCache.set(value, valid)
  return valid
}

/**
 * A valid phone number already in canonical E.164 form, as a branded string.
 *
 * **Details**
 * - Decoding parses with no default country and accepts the string only when
 *   it is a valid number and exactly its own E.164 form; use
 *   {@link E164FromString} to accept spaces and punctuation.
 * - Validity answers are memoised in a small bounded cache.
 *
 * @category schemas
 * @since 0.1.0
 */
export const E164 = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter((value: string) => isValidE164(value) || "a valid phone number in E.164 form", {
      expected: "a valid phone number in E.164 form",
      identifier: "E164"
    })
  ),
  Schema.brand("smsforge/E164")
)

/**
 * A phone number in international format (`+44 7400 123456`, `+1 (201)
 * 555-0123`), decoded to its canonical `E164` form; encodes as E.164.
 *
 * **Details**
 * - There is no default country, so a national number fails; use the
 *   {@link PhoneNumbers} service for those.
 *
 * @category schemas
 * @since 0.1.0
 */
export const E164FromString = Schema.String.pipe(
  Schema.decodeTo(
    E164,
    SchemaTransformation.transform({
      // An input that does not parse is passed on unchanged, for E164 to refuse.
      decode: (input: string): string => {
        const outcome = parseOutcome(input, undefined)
        return typeof outcome === "string" ? input : outcome.e164
      },
      encode: (e164: string): string => e164
    })
  )
)

// service

/**
 * The memory service's synchronous core, for the send path (internal/cores.ts).
 *
 * @internal
 */
export interface PhoneNumbersCore {
  readonly validate: (
    input: string,
    options?: ParseOptions & { readonly policy?: PhoneNumberPolicy | undefined }
  ) => Result.Result<PhoneNumber, PhoneNumberError>
}

/** @internal */
export const cores: CoreRegistry<PhoneNumbersCore> = registry()

/**
 * Cache counters of a {@link PhoneNumbers} service.
 *
 * @category models
 * @since 0.1.0
 */
export interface CacheStats {
  readonly hits: number
  readonly misses: number
  readonly size: number
  readonly capacity: number
}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @category models
 * @since 0.1.0
 */
export interface PhoneNumbersOptions {
  /** Normalisations kept, errors included; 10,000 by default, 0 turns caching off. */
  readonly cacheSize?: number | undefined
  /** The default country for national formats when a call names none. */
  readonly defaultCountry?: string | undefined
  /** The policy `check` applies when a call passes none. */
  readonly policy?: PhoneNumberPolicy | undefined
}

/**
 * Normalises and checks recipients, with a bounded cache.
 *
 * @category services
 * @since 0.1.0
 */
export class PhoneNumbers extends Context.Service<PhoneNumbers, {
  /** Parses and normalises, from the cache when this (default country, input) was seen. */
  readonly normalize: (input: string, options?: ParseOptions) => Effect.Effect<PhoneNumber, PhoneNumberError>
  /** Applies `policy`, or the layer's policy when absent. */
  readonly check: (
    n: PhoneNumber,
    policy?: PhoneNumberPolicy,
    options?: { readonly field?: string | undefined }
  ) => Effect.Effect<PhoneNumber, PhoneNumberError>
  /** `normalize`, then `check`. */
  readonly validate: (
    input: string,
    options?: ParseOptions & { readonly policy?: PhoneNumberPolicy | undefined }
  ) => Effect.Effect<PhoneNumber, PhoneNumberError>
  readonly cacheStats: Effect.Effect<CacheStats>
}>()("smsforge/PhoneNumbers") {}

/** Default number of normalisations a service keeps. */
const DEFAULT_CACHE_SIZE = 10_000

/**
 * Builds a {@link PhoneNumbers} service with its own cache.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: PhoneNumbersOptions = {}): Effect.Effect<PhoneNumbers["Service"]> =>
  Effect.sync(() => {
    // Loaded with the service, so that a client's first send does not pay for it.
    libphonenumber()
    const cache = new Cache<string, PhoneNumber | InvalidPhoneNumberWhy>(options.cacheSize ?? DEFAULT_CACHE_SIZE)
    const defaultPolicy = compilePolicy(options.policy)
    const countryKeys = new Map<string, CountryCode | undefined | null>()
    const countryOf = (code: unknown): CountryCode | undefined | null => {
      if (typeof code !== "string") return resolveCountry(code)
      let country = countryKeys.get(code)
      if (country === undefined && !countryKeys.has(code)) {
        country = resolveCountry(code)
        if (countryKeys.size < 512) countryKeys.set(code, country)
      }
      return country
    }

    const lookup = (input: unknown, code: unknown): PhoneNumber | InvalidPhoneNumberWhy => {
      const country = countryOf(code)
      if (typeof input !== "string" || input.length > MAX_INPUT_LENGTH || cache.capacity === 0) {
        return parseOutcome(input, country)
      }
      // Without a default country an input is its own key: no string is built
      // and hashed per lookup. Other keys hold a separator ("\0") that such an
      // input does not: the country (a supported code, "!" for an unknown
      // one, or nothing) and the input after it.
      const key = country === undefined && !input.includes("\u0000")
        ? input
        : `${country === undefined ? "" : country === null ? "!" : country}\u0000${input}`
      const hit = cache.get(key)
      if (hit !== undefined) return hit
      const outcome = parseOutcome(input, country)
      cache.set(key, outcome)
      return outcome
    }

    const normalize = (input: string, parseOptions?: ParseOptions): Effect.Effect<PhoneNumber, PhoneNumberError> =>
      Effect.suspend(() => {
        const code = parseOptions?.defaultCountry ?? options.defaultCountry
        const outcome = lookup(input, code)
        return typeof outcome === "string"
          ? Effect.fail(invalid(fieldOf(parseOptions?.field), outcome))
          : Effect.succeed(outcome)
      })

    const checked = (n: PhoneNumber, policy: PhoneNumberPolicy | undefined, field: string): Result.Result<PhoneNumber, PhoneNumberError> => {
      const refused = applyPolicy(n, policy === undefined ? defaultPolicy : compilePolicy(policy), field)
      return refused === undefined ? Result.succeed(n) : Result.fail(new PhoneNumberError({ field, reason: refused }))
    }

    const check = (
      n: PhoneNumber,
      policy?: PhoneNumberPolicy,
      checkOptions?: { readonly field?: string | undefined }
    ): Effect.Effect<PhoneNumber, PhoneNumberError> =>
      Effect.suspend(() => Effect.fromResult(checked(n, policy, fieldOf(checkOptions?.field))))

    // One step, not normalize then check: this runs once per message sent.
    const validate = (
      input: string,
      validateOptions?: ParseOptions & { readonly policy?: PhoneNumberPolicy | undefined }
    ): Result.Result<PhoneNumber, PhoneNumberError> => {
      const outcome = lookup(input, validateOptions?.defaultCountry ?? options.defaultCountry)
      const field = fieldOf(validateOptions?.field)
      return typeof outcome === "string" ? Result.fail(invalid(field, outcome)) : checked(outcome, validateOptions?.policy, field)
    }

    return cores.register(PhoneNumbers.of({
      normalize,
      check,
      validate: (input, validateOptions) => Effect.suspend(() => Effect.fromResult(validate(input, validateOptions))),
      cacheStats: Effect.sync(() => ({
        hits: cache.hits,
        misses: cache.misses,
        size: cache.size,
        capacity: cache.capacity
      }))
    }), { validate })
  })

/**
 * Provides {@link PhoneNumbers} with the given cache size, default country
 * and policy.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: PhoneNumbersOptions = {}): Layer.Layer<PhoneNumbers> =>
  Layer.effect(PhoneNumbers, make(options))

/**
 * {@link PhoneNumbers} with a 10,000-entry cache, no default country and the
 * default policy.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerDefault: Layer.Layer<PhoneNumbers> = layer()
