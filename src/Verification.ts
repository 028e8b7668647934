/**
 * One-time-code verification: send a code to a phone number, check what the
 * person typed, with resends, channel fallback, authenticator-app (TOTP)
 * codes and the fraud guards a hosted verify product has.
 *
 * **Details**
 * - Codes are computed from a per-verification secret and a counter that
 *   moves on every resend, so a resend replaces the code and the old one
 *   stops working: RFC 4226 HOTP values from otplib for 4–8 digits, and for 9
 *   and 10 (beyond truncation's 31 bits) a uniform derivation from HMAC blocks.
 *   The secret is derived from a random nonce (stored) and a pepper (kept in
 *   memory), and only a keyed hash of the current code is stored; checks
 *   compare hashes in constant time. No code appears in a result, error,
 *   event or log line.
 * - `check` answers `approved` once; the verification is then spent. A wrong
 *   code answers `pending` until `maxChecks` wrong codes (5 by default), after
 *   which every check, the right code included, fails with `TooManyAttempts`.
 * - Resends honour a cooldown (30 s) and a per-recipient send window
 *   (5 per 10 minutes); both errors carry `retryAfter`.
 * - Fraud guards run before every send: a country allow-list and number types
 *   (premium-rate and unknown types refused), rate limits per recipient,
 *   per number prefix, per client key (an IP address, a device id) and per
 *   tenant through `effect/persistence` `RateLimiter`, and a velocity guard
 *   that blocks a number range (country code and first digits) when sends to
 *   it spike without successful checks (SMS pumping). Every block is published
 *   as a `Blocked` event.
 * - With more than one channel configured, a send that has no delivery
 *   receipt after `fallbackAfter` is repeated, with the same code, on the next
 *   channel by a fiber scoped to the layer. The verification records which
 *   channel delivered.
 *
 * **Gotchas**
 * - The pepper is random per process unless configured. Instances sharing a
 *   Redis or SQL `VerificationStore` must share one `pepper`, or a code sent by
 *   one instance is refused by another.
 * - The velocity guard keeps its counters in the process; each instance
 *   guards its own traffic.
 * - Expiries are counted when they are observed (a check, resend, cancel or
 *   start after the time to live), not by a timer.
 *
 * **Example** (Sign-up with a code)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Verification } from "smsforge"
 *
 * const signUp = Effect.gen(function*() {
 *   const verify = yield* Verification.Verification
 *   const started = yield* verify.start({ to: "+447400123456" })
 *   const checked = yield* verify.check({ verificationId: started.verificationId, code: "123456" })
 *   return checked.status // "approved" | "pending" | "expired" | "canceled"
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as RateLimiter from "effect/persistence/RateLimiter"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Events from "./Events.ts"
import { currentMillis, nowOf } from "./internal/clock.ts"
import { firstUnknownKey } from "./internal/issues.ts"
import { loadRateLimiter, rateLimiterMemory } from "./internal/lazy.ts"
import { randomToken } from "./internal/random.ts"
import { hashedKey } from "./internal/hashedKey.ts"
import * as otp from "./internal/verification/otp.ts"
import { makeTelemetry, type Telemetry } from "./internal/verification/telemetry.ts"
import * as texts from "./internal/verification/text.ts"
import { makeVelocityGuard, type VelocityGuard } from "./internal/verification/velocity.ts"
import { type E164, type NumberType, type PhoneNumber, PhoneNumberError, PhoneNumbers } from "./PhoneNumbers.ts"
import { StoreUnavailable } from "./Store.ts"

// models

/**
 * How a code reaches the person.
 *
 * @category models
 * @since 0.1.0
 */
export const Channel = Schema.Literals(["sms", "voice", "email"])

/**
 * @category models
 * @since 0.1.0
 */
export type Channel = typeof Channel.Type

/**
 * Where a verification stands.
 *
 * @category models
 * @since 0.1.0
 */
export type VerificationStatus = "pending" | "approved" | "expired" | "canceled"

/**
 * Sends a code.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartRequest {
  /** The recipient, E.164 or national format with `defaultCountry`. */
  readonly to: string
  /** The first channel; the layer's first channel when absent. */
  readonly channel?: Channel | undefined
  /** BCP 47 tag (`"pt-BR"`); picks the built-in text's language, English when unknown. */
  readonly locale?: string | undefined
  /** Separates verifications and rate limits of different customers of the host. */
  readonly tenant?: string | undefined
  /** The caller's IP address or client id, for the per-client rate limit. */
  readonly clientKey?: string | undefined
  /** ISO 3166-1 alpha-2 country for national-format input. */
  readonly defaultCountry?: string | undefined
}

/**
 * A pending verification, as `start` and `resend` answer it. Never the code.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartResult {
  readonly verificationId: string
  readonly to: E164
  readonly channel: Channel
  readonly status: "pending"
  /** Epoch milliseconds. */
  readonly expiresAt: number
  /** Codes sent for this verification so far, fallbacks included. */
  readonly sendAttempts: number
}

/**
 * @category models
 * @since 0.1.0
 */
export type StartInput = StartRequest

/**
 * Names a verification: by id, or by recipient (the latest verification of
 * that number in the tenant).
 *
 * @category models
 * @since 0.1.0
 */
export interface VerificationTarget {
  readonly verificationId?: string | undefined
  readonly to?: string | undefined
  readonly tenant?: string | undefined
  readonly defaultCountry?: string | undefined
}

/**
 * A code to check.
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckRequest extends VerificationTarget {
  /** What the person typed; spaces and dashes are ignored. */
  readonly code: string
}

/**
 * @category models
 * @since 0.1.0
 */
export type CheckInput = CheckRequest

/**
 * The answer to a check.
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckResult {
  readonly verificationId: string
  readonly to: E164
  readonly status: VerificationStatus
  /** The channel that delivered the code, or the latest one used. */
  readonly channel: Channel
  /** Wrong codes still allowed before the verification locks. */
  readonly attemptsLeft: number
  /** Epoch milliseconds. */
  readonly expiresAt: number
}

/**
 * Sends a new code for a pending verification.
 *
 * @category models
 * @since 0.1.0
 */
export interface ResendRequest extends VerificationTarget {
  readonly channel?: Channel | undefined
  readonly locale?: string | undefined
  readonly clientKey?: string | undefined
}

/**
 * What a verification looks like from outside: no code, no secret.
 *
 * @category models
 * @since 0.1.0
 */
export interface VerificationInfo {
  readonly verificationId: string
  readonly to: E164
  readonly country: string
  readonly tenant?: string | undefined
  readonly status: VerificationStatus
  /** The channel that delivered the code, or the latest one used. */
  readonly channel: Channel
  /** Set once a delivery receipt or a successful check showed which channel worked. */
  readonly deliveredChannel?: Channel | undefined
  readonly locked: boolean
  readonly sendAttempts: number
  readonly wrongChecks: number
  readonly createdAt: number
  readonly expiresAt: number
  readonly approvedAt?: number | undefined
  readonly sends: ReadonlyArray<{ readonly channel: Channel; readonly at: number; readonly fallback: boolean }>
}

/**
 * An authenticator-app enrolment: the URI to show as a QR code.
 *
 * @category models
 * @since 0.1.0
 */
export interface TotpEnrollment {
  readonly subject: string
  /** `otpauth://totp/…`; it contains the secret, so show it once and do not log it. */
  readonly uri: Redacted.Redacted<string>
  readonly secret: Redacted.Redacted<string>
}

/**
 * The answer to an authenticator-app check.
 *
 * @category models
 * @since 0.1.0
 */
export interface TotpCheckResult {
  readonly subject: string
  readonly status: "approved" | "pending"
  readonly attemptsLeft: number
}

/**
 * Counts per country since the layer started.
 *
 * @category models
 * @since 0.1.0
 */
export interface CountryStats {
  readonly starts: number
  readonly sends: number
  readonly approvals: number
  readonly expiries: number
  readonly blocks: number
  /** approvals / starts, 0 before the first start. */
  readonly conversion: number
}

/**
 * Conversion numbers, overall and per country.
 *
 * @category models
 * @since 0.1.0
 */
export interface VerificationStats extends CountryStats {
  readonly countries: Readonly<Record<string, CountryStats>>
  readonly blockedRanges: ReadonlyArray<{ readonly range: string; readonly until: number }>
}

/**
 * A rate limit: at most `limit` sends per `window`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RateLimit {
  readonly limit: number
  readonly window: Duration.Input
}

/**
 * Layer options; every field has a default.
 *
 * @category models
 * @since 0.1.0
 */
export interface VerificationOptions {
  /** Digits per code, 4 to 10. Default 6. */
  readonly codeLength?: number | undefined
  /** Time to live of a code. Default 10 minutes. */
  readonly ttl?: Duration.Input | undefined
  /** Wrong checks before a verification locks. Default 5. */
  readonly maxChecks?: number | undefined
  /** Minimum time between two sends of one verification. Default 30 seconds. */
  readonly resendCooldown?: Duration.Input | undefined
  /** Sends per recipient and window. Default 5 per 10 minutes. */
  readonly maxSends?: RateLimit | undefined
  /** Channels in fallback order. Default `["sms"]` (no fallback). */
  readonly channels?: ReadonlyArray<Channel> | undefined
  /** How long a send may stay without a delivery receipt before the next channel is tried. Default 30 seconds. */
  readonly fallbackAfter?: Duration.Input | undefined
  /** How long a finished verification is kept for `expired` / `canceled` answers. Default 1 hour. */
  readonly retention?: Duration.Input | undefined
  /** Key for code hashes and secrets. Random per process by default; share one between instances that share a store. */
  readonly pepper?: Redacted.Redacted<string> | Uint8Array | undefined
  /** Prefixed to the built-in texts: `"Acme: Your verification code is …"`. */
  readonly brand?: string | undefined
  /** Replaces the built-in texts. The result must contain `code`. */
  readonly text?: ((context: {
    readonly code: string
    readonly minutes: number
    readonly locale: string
    readonly channel: Channel
    readonly brand?: string | undefined
  }) => string) | undefined
  /** Countries (ISO alpha-2) a code may be sent to; all when absent. */
  readonly allowedCountries?: ReadonlyArray<string> | undefined
  /** Number types a code may be sent to. Default mobile and fixed-line-or-mobile. */
  readonly allowedTypes?: ReadonlyArray<NumberType> | undefined
  readonly defaultCountry?: string | undefined
  /**
   * Rate limits; `false` turns one off. Defaults: prefix 200 per hour (3
   * national digits), client key 20 per hour, tenant 1,000 per minute;
   * `recipient` is off because `maxSends` limits each recipient already — set
   * it for a longer window (10 per day, say).
   */
  readonly rateLimits?: {
    readonly recipient?: RateLimit | false | undefined
    readonly prefix?: (RateLimit & { readonly digits?: number | undefined }) | false | undefined
    readonly client?: RateLimit | false | undefined
    readonly tenant?: RateLimit | false | undefined
  } | undefined
  /** The SMS-pumping velocity guard; `false` turns it off. */
  readonly velocity?: {
    readonly window?: Duration.Input | undefined
    /** Sends without a successful check allowed per range and window. Default 30. */
    readonly maxUnconverted?: number | undefined
    readonly blockFor?: Duration.Input | undefined
    /** National digits after the country code that name a range. Default 4. */
    readonly rangeDigits?: number | undefined
  } | false | undefined
  /** Authenticator-app settings. */
  readonly totp?: {
    readonly issuer?: string | undefined
    readonly digits?: number | undefined
    readonly period?: number | undefined
  } | undefined
}

// errors

/**
 * Too many wrong codes: the verification is locked, even for the right code.
 *
 * @category errors
 * @since 0.1.0
 */
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>("smsforge/Verification/TooManyAttempts")(
  "TooManyAttempts",
  { field: Schema.String, retryAfter: Schema.optional(Schema.DurationFromMillis) }
) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The recipient had its maximum number of sends in the window.
 *
 * @category errors
 * @since 0.1.0
 */
export class TooManySends extends Schema.TaggedError<TooManySends>("smsforge/Verification/TooManySends")(
  "TooManySends",
  { field: Schema.String, retryAfter: Schema.DurationFromMillis }
) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * A resend came before the cooldown ended.
 *
 * @category errors
 * @since 0.1.0
 */
export class ResendCooldown extends Schema.TaggedError<ResendCooldown>("smsforge/Verification/ResendCooldown")(
  "ResendCooldown",
  { field: Schema.String, retryAfter: Schema.DurationFromMillis }
) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * No such verification, or it was already approved (spent).
 *
 * @category errors
 * @since 0.1.0
 */
export class VerificationNotFound extends Schema.TaggedError<VerificationNotFound>(
  "smsforge/Verification/VerificationNotFound"
)("VerificationNotFound", { field: Schema.String }) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A rate limit refused the send; `scope` says which.
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimited extends Schema.TaggedError<RateLimited>("smsforge/Verification/RateLimited")("RateLimited", {
  field: Schema.String,
  scope: Schema.Literals(["recipient", "prefix", "client", "tenant"]),
  retryAfter: Schema.DurationFromMillis
}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * A fraud guard refused the recipient.
 *
 * @category errors
 * @since 0.1.0
 */
export class Blocked extends Schema.TaggedError<Blocked>("smsforge/Verification/Blocked")("Blocked", {
  field: Schema.String,
  reason: Schema.Literals(["country", "number-type", "velocity"]),
  retryAfter: Schema.optional(Schema.DurationFromMillis)
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The code is not 4 to 10 digits of the configured length.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidCode extends Schema.TaggedError<InvalidCode>("smsforge/Verification/InvalidCode")("InvalidCode", {
  field: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A request field (or a layer option) is malformed.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>("smsforge/Verification/InvalidRequest")(
  "InvalidRequest",
  { field: Schema.String, problem: Schema.String }
) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The sender could not send the code.
 *
 * @category errors
 * @since 0.1.0
 */
export class DeliveryFailed extends Schema.TaggedError<DeliveryFailed>("smsforge/Verification/DeliveryFailed")(
  "DeliveryFailed",
  { channel: Channel, cause: Schema.optional(Schema.Defect()) }
) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The verification store did not answer in time or failed, or a record kept
 * changing under a compare-and-set: the shared store error, retryable.
 *
 * @category errors
 * @since 0.1.0
 */
export { StoreUnavailable } from "./Store.ts"

/**
 * Every reason a verification operation can fail for.
 *
 * @category errors
 * @since 0.1.0
 */
export const VerificationErrorReason = Schema.Union([
  TooManyAttempts,
  TooManySends,
  ResendCooldown,
  VerificationNotFound,
  RateLimited,
  Blocked,
  InvalidCode,
  InvalidRequest,
  DeliveryFailed,
  StoreUnavailable
])

/**
 * @category errors
 * @since 0.1.0
 */
export type VerificationErrorReason = typeof VerificationErrorReason.Type

/**
 * A failed verification operation.
 *
 * @category errors
 * @since 0.1.0
 */
export class VerificationError extends Schema.TaggedError<VerificationError>("smsforge/VerificationError")(
  "VerificationError",
  { reason: VerificationErrorReason }
) {
  override get message(): string {
    const reason = this.reason
    return "field" in reason ? `${reason.field}: ${reason._tag}` : reason._tag
  }
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

/**
 * What a {@link VerificationSender} fails with; `code` names the cause in the
 * sender's vocabulary (`"AllRoutesFailed"`, `"Throttled"`).
 *
 * @category errors
 * @since 0.1.0
 */
export class VerificationSendError extends Schema.TaggedError<VerificationSendError>(
  "smsforge/Verification/VerificationSendError"
)("VerificationSendError", {
  code: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

const fail = (reason: VerificationErrorReason) => Effect.fail(new VerificationError({ reason }))

/** Answered by a step whose compare-and-set lost; the step runs again. */
const Retry: unique symbol = Symbol.for("smsforge/Verification/Retry")

// The fiber in one step: its clock (see internal/clock.ts) and its context,
// which metrics update on.
const currentFiber = Effect.withFiberSucceed((fiber) => fiber)

// sender

/**
 * How codes leave: the SMS pipeline in production, a recording fake in tests.
 *
 * **Details**
 * - `send` answers once the message is accepted for delivery, with an id
 *   that `deliveryStatus` understands.
 * - `deliveryStatus` answers `pending` until a delivery receipt arrives;
 *   fallback to the next channel happens while it is still `pending` (or
 *   `failed`) after `fallbackAfter`.
 *
 * @category services
 * @since 0.1.0
 */
export class VerificationSender extends Context.Service<VerificationSender, {
  readonly send: (message: {
    readonly to: E164
    readonly text: string
    readonly channel: Channel
    readonly tenant?: string | undefined
    readonly locale?: string | undefined
  }) => Effect.Effect<{ readonly messageId: string }, VerificationSendError>
  readonly deliveryStatus: (messageId: string) => Effect.Effect<"pending" | "delivered" | "failed">
}>()("smsforge/Verification/VerificationSender") {}

// store

/**
 * A verification as stored. JSON-safe; holds a hash of the current code and
 * the nonce its secret derives from, never the code.
 *
 * @category store
 * @since 0.1.0
 */
export interface VerificationRecord {
  readonly _tag: "Verification"
  readonly id: string
  readonly to: string
  readonly country: string
  readonly range: string
  readonly prefix: string
  readonly tenant?: string | undefined
  readonly locale: string
  readonly channels: ReadonlyArray<Channel>
  readonly channel: Channel
  readonly status: VerificationStatus
  readonly nonce: string
  readonly counter: number
  readonly codeHash: string
  readonly createdAt: number
  readonly expiresAt: number
  readonly lastSentAt: number
  readonly sendAttempts: number
  readonly wrongChecks: number
  readonly deliveredChannel?: Channel | undefined
  readonly approvedAt?: number | undefined
  readonly sends: ReadonlyArray<{
    readonly channel: Channel
    readonly at: number
    readonly counter: number
    readonly fallback: boolean
    readonly messageId?: string | undefined
  }>
}

/**
 * The latest verification of one recipient.
 *
 * @category store
 * @since 0.1.0
 */
export interface RecipientPointer {
  readonly _tag: "Pointer"
  readonly id: string
}

/**
 * An authenticator-app enrolment as stored; the secret is sealed with a key
 * derived from the pepper.
 *
 * @category store
 * @since 0.1.0
 */
export interface TotpRecord {
  readonly _tag: "Totp"
  readonly subject: string
  readonly sealedSecret: string
  readonly lastTimeStep: number
  readonly wrongChecks: number
  readonly lockedUntil: number
  readonly createdAt: number
}

/**
 * @category store
 * @since 0.1.0
 */
export type StoredValue = VerificationRecord | RecipientPointer | TotpRecord

/**
 * A stored value and the version a compare-and-set must name.
 *
 * @category store
 * @since 0.1.0
 */
export interface Versioned {
  readonly value: StoredValue
  readonly version: number
}

/**
 * Where verification state lives: a versioned key-value store with three
 * primitives, so a Redis (`WATCH`/Lua) or SQL (`UPDATE … WHERE version = ?`)
 * store is short.
 *
 * **Details**
 * - `set` writes only when the stored version equals `expectedVersion`
 *   (`undefined`: only when the key is absent) and answers whether it wrote;
 *   a written value gets version `expectedVersion + 1` (0 when created).
 * - Values whose `expiresAt` (epoch milliseconds, by the Effect `Clock`) has
 *   passed are absent; authenticator enrolments use `Number.MAX_SAFE_INTEGER`
 *   (never). Values are JSON-safe.
 * - A backend that does not answer fails with the shared `StoreUnavailable`
 *   (bound each call with `Store.guard`); the service reports it as a
 *   {@link VerificationError} with that reason.
 *
 * @category store
 * @since 0.1.0
 */
export class VerificationStore extends Context.Service<VerificationStore, {
  readonly get: (key: string) => Effect.Effect<Option.Option<Versioned>, StoreUnavailable>
  readonly set: (
    key: string,
    value: StoredValue,
    options: { readonly expectedVersion: number | undefined; readonly expiresAt: number }
  ) => Effect.Effect<boolean, StoreUnavailable>
  readonly remove: (key: string) => Effect.Effect<void, StoreUnavailable>
  /**
   * Every live (unexpired) verification of `to` (E.164) in `tenant`, oldest
   * first: the latest one and the older ones kept for `retention`.
   */
  readonly findByRecipient: (to: string, tenant?: string) => Effect.Effect<ReadonlyArray<VerificationRecord>, StoreUnavailable>
  /**
   * Deletes every verification of `to` (E.164) in `tenant`, pending,
   * approved (kept for `retention`), expired or canceled, with the pointer to
   * its latest one ({@link recipientKey}); answers how many verifications
   * went. A backend finds them by the `to` and `tenant` of the
   * {@link VerificationRecord}s it is given to `set`.
   */
  readonly eraseRecipient: (to: string, tenant?: string) => Effect.Effect<number, StoreUnavailable>
}>()("smsforge/Verification/VerificationStore") {}

/**
 * Whether a stored value is a verification of `to` in `tenant`: what
 * `eraseRecipient` deletes, besides the pointer at {@link recipientKey}.
 *
 * @category store
 * @since 0.4.0
 */
export const isRecordOf = (value: StoredValue, to: string, tenant: string | undefined): value is VerificationRecord =>
  value._tag === "Verification" && value.to === to && value.tenant === tenant

/** The store as the service calls it: an outage is a {@link VerificationError} with reason `StoreUnavailable`. */
type LiftedStore = {
  readonly [K in keyof VerificationStore["Service"]]: (
    ...args: Parameters<VerificationStore["Service"][K]>
  ) => Effect.Effect<Effect.Success<ReturnType<VerificationStore["Service"][K]>>, VerificationError>
}

const liftStore = (store: VerificationStore["Service"]): LiftedStore => {
  const lift = <A>(effect: Effect.Effect<A, StoreUnavailable>) =>
    Effect.mapError(effect, (reason) => new VerificationError({ reason }))
  return {
    get: (key) => lift(store.get(key)),
    set: (key, value, options) => lift(store.set(key, value, options)),
    remove: (key) => lift(store.remove(key)),
    findByRecipient: (to, tenant) => lift(store.findByRecipient(to, tenant)),
    eraseRecipient: (to, tenant) => lift(store.eraseRecipient(to, tenant))
  }
}

// service

/**
 * @category models
 * @since 0.1.0
 */
export type StartError = VerificationError | PhoneNumberError

/**
 * The verification service.
 *
 * @category services
 * @since 0.1.0
 */
export class Verification extends Context.Service<Verification, {
  /** Creates a verification (or reuses the pending one of that recipient, as a resend) and sends a code. */
  readonly start: (request: StartRequest) => Effect.Effect<StartResult, StartError>
  /** Checks a code: `approved` once, `pending` when wrong, `expired`, `canceled`. */
  readonly check: (request: CheckRequest) => Effect.Effect<CheckResult, StartError>
  /** Sends a new code; the previous one stops working. */
  readonly resend: (request: ResendRequest) => Effect.Effect<StartResult, StartError>
  /** Cancels a pending verification; answers the resulting status. */
  readonly cancel: (request: VerificationTarget) => Effect.Effect<CheckResult, StartError>
  /** Reads a verification (no code, no secret). */
  readonly get: (request: VerificationTarget) => Effect.Effect<VerificationInfo, StartError>
  readonly totp: {
    /** Enrols (or re-enrols) an authenticator app for `subject` (a user id). */
    readonly enroll: (request: {
      readonly subject: string
      readonly label?: string | undefined
      readonly tenant?: string | undefined
    }) => Effect.Effect<TotpEnrollment, VerificationError>
    /** Checks an authenticator-app code; a code is accepted once (replay refused). */
    readonly check: (request: {
      readonly subject: string
      readonly code: string
      readonly tenant?: string | undefined
    }) => Effect.Effect<TotpCheckResult, VerificationError>
    readonly remove: (request: {
      readonly subject: string
      readonly tenant?: string | undefined
    }) => Effect.Effect<void, VerificationError>
  }
  /** Conversion numbers since the layer started. */
  readonly stats: Effect.Effect<VerificationStats>
  /** Lifts a velocity block on a range such as `+4477009`. */
  readonly unblock: (range: string) => Effect.Effect<void>
}>()("smsforge/Verification") {}

// make

const isChannel = Schema.is(Channel)
const LOCALE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,4}$/
const VERIFICATION_ID = /^vrf_[A-Za-z0-9_-]{16,64}$/
const SUBJECT_MAX = 256
const toField = { field: "to" } as const
const DIGITS = /^\d+$/

const millisOf = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(input))

interface Settings {
  readonly digits: number
  readonly ttl: number
  readonly maxChecks: number
  readonly cooldown: number
  readonly maxSends: { readonly limit: number; readonly window: number }
  readonly channels: ReadonlyArray<Channel>
  readonly fallbackAfter: number
  readonly retention: number
  readonly recipient: { readonly limit: number; readonly window: number } | undefined
  readonly prefix: { readonly limit: number; readonly window: number; readonly digits: number } | undefined
  readonly client: { readonly limit: number; readonly window: number } | undefined
  readonly tenant: { readonly limit: number; readonly window: number } | undefined
  readonly velocity:
    | { readonly windowMillis: number; readonly maxUnconverted: number; readonly blockMillis: number; readonly rangeDigits: number }
    | undefined
  readonly totpDigits: number
  readonly totpPeriod: number
}

const invalidOption = (field: string, problem: string) =>
  new VerificationError({ reason: new InvalidRequest({ field: `options.${field}`, problem }) })

const settingsOf = (options: VerificationOptions): Effect.Effect<Settings, VerificationError> =>
  Effect.suspend(() => {
    const positiveInt = (n: number) => Number.isInteger(n) && n > 0
    const rate = (name: string, value: RateLimit | false | undefined, fallback: RateLimit | undefined) => {
      if (value === false) return undefined
      const chosen = value ?? fallback
      if (chosen === undefined) return undefined
      const window = Duration.toMillis(Duration.fromInputUnsafe(chosen.window))
      if (!positiveInt(chosen.limit) || !(window > 0)) throw invalidOption(name, "limit and window must be positive")
      return { limit: chosen.limit, window }
    }
    try {
      const digits = options.codeLength ?? 6
      if (!Number.isInteger(digits) || digits < 4 || digits > 10) throw invalidOption("codeLength", "4 to 10")
      const maxChecks = options.maxChecks ?? 5
      if (!positiveInt(maxChecks)) throw invalidOption("maxChecks", "a positive integer")
      const channels = options.channels ?? ["sms"]
      if (channels.length === 0 || !channels.every(isChannel) || new Set(channels).size !== channels.length) {
        throw invalidOption("channels", "distinct channels, at least one")
      }
      const rl = options.rateLimits ?? {}
      const prefixRate = rate("rateLimits.prefix", rl.prefix, { limit: 200, window: "1 hour" })
      const prefixDigits = (rl.prefix === false ? undefined : rl.prefix?.digits) ?? 3
      const v = options.velocity
      const totpDigits = options.totp?.digits ?? 6
      if (!Number.isInteger(totpDigits) || totpDigits < 6 || totpDigits > 8) throw invalidOption("totp.digits", "6 to 8")
      const totpPeriod = options.totp?.period ?? 30
      if (!positiveInt(totpPeriod)) throw invalidOption("totp.period", "a positive integer")
      const settings: Settings = {
        digits,
        ttl: millisOf(options.ttl, 10 * 60_000),
        maxChecks,
        cooldown: millisOf(options.resendCooldown, 30_000),
        maxSends: rate("maxSends", options.maxSends, { limit: 5, window: "10 minutes" })!,
        channels,
        fallbackAfter: millisOf(options.fallbackAfter, 30_000),
        retention: millisOf(options.retention, 60 * 60_000),
        // `maxSends` already limits each recipient; this one adds a longer window when set.
        recipient: rate("rateLimits.recipient", rl.recipient, undefined),
        prefix: prefixRate === undefined ? undefined : { ...prefixRate, digits: prefixDigits },
        client: rate("rateLimits.client", rl.client, { limit: 20, window: "1 hour" }),
        tenant: rate("rateLimits.tenant", rl.tenant, { limit: 1000, window: "1 minute" }),
        velocity: v === false ? undefined : {
          windowMillis: millisOf(v?.window, 60 * 60_000),
          maxUnconverted: v?.maxUnconverted ?? 30,
          blockMillis: millisOf(v?.blockFor, 60 * 60_000),
          rangeDigits: v?.rangeDigits ?? 4
        },
        totpDigits,
        totpPeriod
      }
      if (!(settings.ttl > 0)) throw invalidOption("ttl", "positive")
      if (!(settings.cooldown >= 0)) throw invalidOption("resendCooldown", "not negative")
      if (!(settings.fallbackAfter > 0)) throw invalidOption("fallbackAfter", "positive")
      return Effect.succeed(settings)
    } catch (error) {
      if (error instanceof VerificationError) return Effect.fail(error)
      return Effect.fail(invalidOption("*", "unreadable option"))
    }
  })

const pepperOf = (pepper: VerificationOptions["pepper"]): otp.Pepper => {
  if (pepper === undefined) return otp.newPepper()
  if (pepper instanceof Uint8Array) return otp.pepperFrom(pepper)
  return otp.pepperFrom(Buffer.from(Redacted.value(pepper), "utf8"))
}

/** The code without spaces or dashes, when that leaves `digits` digits. */
const cleanCode = (code: unknown, digits: number): string | undefined => {
  if (typeof code !== "string" || code.length > 64) return undefined
  // A code already `digits` long has nothing to remove, or is wrong either way.
  const cleaned = code.length === digits ? code : code.replace(/[\s-]/g, "")
  return cleaned.length === digits && DIGITS.test(cleaned) ? cleaned : undefined
}

const TARGET_KEYS: ReadonlySet<string> = new Set(["verificationId", "to", "tenant", "defaultCountry"])
const CHECK_KEYS: ReadonlySet<string> = new Set([...TARGET_KEYS, "code"])
const RESEND_KEYS: ReadonlySet<string> = new Set([...TARGET_KEYS, "channel", "locale", "clientKey"])
const START_KEYS: ReadonlySet<string> = new Set(["to", "channel", "locale", "tenant", "clientKey", "defaultCountry"])

const unknownKey = (request: object, allowed: ReadonlySet<string>): InvalidRequest | undefined => {
  const key = firstUnknownKey(request, allowed)
  return key === undefined ? undefined : new InvalidRequest({ field: key, problem: "not allowed" })
}

const isText = (value: unknown, max: number): value is string =>
  typeof value === "string" && value.length > 0 && value.length <= max

const tenantPart = (tenant: string | undefined) => (tenant === undefined ? "" : encodeURIComponent(tenant))
const verificationKey = (id: string) => `v:${id}`
const pointerKey = (tenant: string | undefined, e164: string) => `r:${tenantPart(tenant)}:${e164}`

/**
 * The store key of the pointer to the latest verification of `to` (E.164)
 * in `tenant`: a store's `eraseRecipient` deletes it with the records.
 *
 * @category store
 * @since 0.4.0
 */
export const recipientKey = (to: string, tenant?: string): string => pointerKey(tenant, to)
const totpKey = (tenant: string | undefined, subject: string) => `t:${tenantPart(tenant)}:${encodeURIComponent(subject)}`

// The service's parts are the top-level functions below, each given the
// context `make` builds once: an `Env`.

/** A rate limit with its window as a Duration, parsed once rather than per send. */
interface Limit {
  readonly limit: number
  readonly window: Duration.Duration
}

/** The fraud guards a send passes: number policy, rate limits, velocity. */
interface Guards {
  readonly limiter: RateLimiter.RateLimiter
  readonly limits: {
    readonly sends: Limit
    readonly recipient: Limit | undefined
    readonly prefix: Limit | undefined
    readonly client: Limit | undefined
    readonly tenant: Limit | undefined
  }
  readonly velocity: VelocityGuard | undefined
  readonly allowedCountries: ReadonlySet<string> | undefined
  readonly allowedTypes: ReadonlySet<NumberType>
  /** National digits that name a number's range (velocity guard) and prefix (rate limit). */
  readonly rangeDigits: number
  readonly prefixDigits: number
}

/** What every part of the service reads: its settings, the services it calls, the state it keeps. */
interface Env {
  readonly options: VerificationOptions
  readonly settings: Settings
  readonly store: LiftedStore
  readonly sender: VerificationSender["Service"]
  readonly phoneNumbers: PhoneNumbers["Service"]
  readonly guards: Guards
  readonly telemetry: Telemetry
  /** The fallback fibers, scoped to the layer. */
  readonly fibers: FiberSet.FiberSet<void, never>
  readonly pepper: otp.Pepper
  /** Channels in fallback order, by first channel. */
  readonly orders: ReadonlyMap<Channel, ReadonlyArray<Channel>>
  readonly totpIssuer: string
}

// Windows as Durations once, so the limiter does not parse them per send.
const windowed = (rate: { readonly limit: number; readonly window: number }): Limit => ({
  limit: rate.limit,
  window: Duration.millis(rate.window)
})

const guardsOf = (options: VerificationOptions, settings: Settings, limiter: RateLimiter.RateLimiter): Guards => ({
  limiter,
  limits: {
    sends: windowed(settings.maxSends),
    recipient: settings.recipient && windowed(settings.recipient),
    prefix: settings.prefix && windowed(settings.prefix),
    client: settings.client && windowed(settings.client),
    tenant: settings.tenant && windowed(settings.tenant)
  },
  velocity: settings.velocity === undefined ? undefined : makeVelocityGuard(settings.velocity),
  allowedCountries: options.allowedCountries === undefined
    ? undefined
    : new Set(options.allowedCountries.map((c) => c.toUpperCase())),
  allowedTypes: new Set<NumberType>(options.allowedTypes ?? ["mobile", "fixed-line-or-mobile"]),
  rangeDigits: settings.velocity?.rangeDigits ?? 4,
  prefixDigits: settings.prefix?.digits ?? 3
})

// One shared array per first channel: records reference it rather than copy it.
const channelOrders = (channels: ReadonlyArray<Channel>): ReadonlyMap<Channel, ReadonlyArray<Channel>> =>
  new Map(channels.map((first) => [first, [first, ...channels.filter((c) => c !== first)]]))

// store access

/** A stored verification and its version. */
type Located = Versioned & { readonly value: VerificationRecord }

const recordIn = (found: Option.Option<Versioned>): Located | undefined =>
  found._tag === "Some" && found.value.value._tag === "Verification" ? found.value as Located : undefined

const loadRecord = (env: Env, id: string) => Effect.map(env.store.get(verificationKey(id)), recordIn)

const keepUntil = (env: Env, record: VerificationRecord) => record.expiresAt + env.settings.retention

const save = (env: Env, record: VerificationRecord, version: number | undefined) =>
  env.store.set(verificationKey(record.id), record, { expectedVersion: version, expiresAt: keepUntil(env, record) })

/** Runs `attempt(0)`, `attempt(1)` … until one's compare-and-set wins (bounded). */
const casLoop = <A, E, R>(
  attempt: (n: number) => Effect.Effect<A | typeof Retry, E, R>,
  n = 0
): Effect.Effect<A, E | VerificationError, R> =>
  Effect.flatMap(attempt(n), (a): Effect.Effect<A, E | VerificationError, R> =>
    a !== Retry
      ? Effect.succeed(a as A)
      : n >= 16
      ? fail(new StoreUnavailable({}))
      : casLoop(attempt, n + 1))

// input

const resolveNumber = (env: Env, to: unknown, defaultCountry: unknown): Effect.Effect<PhoneNumber, StartError> => {
  if (!isText(to, 256)) return fail(new InvalidRequest({ field: "to", problem: "a phone number string" }))
  if (defaultCountry !== undefined && !(typeof defaultCountry === "string" && /^[A-Za-z]{2}$/.test(defaultCountry))) {
    return fail(new InvalidRequest({ field: "defaultCountry", problem: "ISO 3166-1 alpha-2" }))
  }
  const country = (defaultCountry as string | undefined) ?? env.options.defaultCountry
  return env.phoneNumbers.normalize(to, country === undefined ? toField : { defaultCountry: country, field: "to" })
}

// Field checks answer the refusal, or undefined when the field is fine.
const badTenant = (tenant: unknown) =>
  tenant === undefined || isText(tenant, 128)
    ? undefined
    : new InvalidRequest({ field: "tenant", problem: "a string of 1 to 128 characters" })

const badLocale = (locale: unknown) =>
  locale === undefined || (typeof locale === "string" && LOCALE.test(locale))
    ? undefined
    : new InvalidRequest({ field: "locale", problem: "a BCP 47 language tag" })

const badChannel = (channels: ReadonlyArray<Channel>, channel: unknown) =>
  channel === undefined || (isChannel(channel) && channels.includes(channel))
    ? undefined
    : new InvalidRequest({ field: "channel", problem: `one of ${channels.join(", ")}` })

const badClientKey = (clientKey: unknown) =>
  clientKey === undefined || isText(clientKey, 256)
    ? undefined
    : new InvalidRequest({ field: "clientKey", problem: "a string of 1 to 256 characters" })

const checkTenant = (tenant: unknown) => {
  const bad = badTenant(tenant)
  return bad === undefined ? Effect.succeed(tenant as string | undefined) : fail(bad)
}

const locateByRecipient = Effect.fnUntraced(
  function*(env: Env, to: string, defaultCountry: unknown, tenant: string | undefined) {
    const n = yield* resolveNumber(env, to, defaultCountry)
    const pointer = yield* env.store.get(pointerKey(tenant, n.e164))
    if (pointer._tag === "None" || pointer.value.value._tag !== "Pointer") {
      return yield* fail(new VerificationNotFound({ field: "to" }))
    }
    const found = yield* loadRecord(env, pointer.value.value.id)
    if (found === undefined) return yield* fail(new VerificationNotFound({ field: "to" }))
    return found
  }
)

/** Finds the verification a target names; `undefined` fields fail with the field named. */
const locate = (env: Env, target: VerificationTarget, allowed: ReadonlySet<string>): Effect.Effect<Located, StartError> => {
  if (typeof target !== "object" || target === null) {
    return fail(new InvalidRequest({ field: "verificationId", problem: "a request object" }))
  }
  const bad = unknownKey(target, allowed) ?? badTenant(target.tenant)
  if (bad !== undefined) return fail(bad)
  const tenant = target.tenant
  if (target.verificationId !== undefined) {
    if (typeof target.verificationId !== "string" || !VERIFICATION_ID.test(target.verificationId)) {
      return fail(new InvalidRequest({ field: "verificationId", problem: "an id from start" }))
    }
    return Effect.flatMap(loadRecord(env, target.verificationId), (found) =>
      found === undefined || found.value.tenant !== tenant
        ? fail(new VerificationNotFound({ field: "verificationId" }))
        : Effect.succeed(found))
  }
  if (target.to === undefined) {
    return fail(new InvalidRequest({ field: "to", problem: "verificationId or to is required" }))
  }
  return locateByRecipient(env, target.to, target.defaultCountry, tenant)
}

// fraud guards

/** The country allow-list and number types (premium-rate and unknown refused by default). */
const guardNumber = (env: Env, n: PhoneNumber): Effect.Effect<never, VerificationError> | undefined => {
  const { allowedCountries, allowedTypes } = env.guards
  const reason = allowedCountries !== undefined && !allowedCountries.has(n.country)
    ? "country" as const
    : !allowedTypes.has(n.type)
    ? "number-type" as const
    : undefined
  return reason === undefined
    ? undefined
    : Effect.andThen(env.telemetry.blocked(reason, undefined, n.country), fail(new Blocked({ field: "to", reason })))
}

type Scope = "recipient" | "prefix" | "client" | "tenant" | "sends"

const consume = (limiter: RateLimiter.RateLimiter, scope: Scope, key: string, limit: Limit) =>
  // hashed: a key name never holds a number, a client key or a tenant
  limiter.consume({ key: hashedKey(`smsforge/verification/${scope}`, [key]), limit: limit.limit, window: limit.window })

// One handler for every limit of a send; the key names the scope that refused.
const refusal = (error: RateLimiter.RateLimiterError): Effect.Effect<never, VerificationError> => {
  const reason = error.reason
  if (reason._tag === "RateLimitStoreError") return fail(new StoreUnavailable({ cause: reason }))
  const scope = reason.key.split("/")[2] as Scope
  return scope === "sends"
    ? fail(new TooManySends({ field: "to", retryAfter: reason.retryAfter }))
    : fail(
      new RateLimited({
        field: scope === "client" ? "clientKey" : scope === "tenant" ? "tenant" : "to",
        scope,
        retryAfter: reason.retryAfter
      })
    )
}

/** Who a code goes to: what a resend keeps of its verification, or what a new one takes from its number. */
interface Recipient {
  readonly to: string
  readonly country: string
  readonly range: string
  readonly prefix: string
  readonly tenant: string | undefined
}

/** The rate limits of one send: per recipient, prefix, client key and tenant. */
const rateLimits = (
  env: Env,
  recipient: Recipient,
  clientKey: string | undefined
): Effect.Effect<unknown, VerificationError> => {
  const { limiter, limits } = env.guards
  const { to, prefix, tenant } = recipient
  const t = tenantPart(tenant)
  let guards: Effect.Effect<unknown, RateLimiter.RateLimiterError> = consume(limiter, "sends", `${t}:${to}`, limits.sends)
  if (limits.recipient !== undefined) {
    guards = Effect.andThen(guards, consume(limiter, "recipient", `${t}:${to}`, limits.recipient))
  }
  if (limits.prefix !== undefined) {
    guards = Effect.andThen(guards, consume(limiter, "prefix", `${t}:${prefix}`, limits.prefix))
  }
  if (limits.client !== undefined && clientKey !== undefined) {
    guards = Effect.andThen(guards, consume(limiter, "client", `${t}:${clientKey}`, limits.client))
  }
  if (limits.tenant !== undefined && tenant !== undefined) {
    guards = Effect.andThen(guards, consume(limiter, "tenant", t, limits.tenant))
  }
  return Effect.catchTag(guards, "RateLimiterError", refusal)
}

const velocityBlock = (env: Env, recipient: Recipient, until: number, now: number) =>
  Effect.andThen(
    env.telemetry.blocked("velocity", recipient.range, recipient.country),
    fail(new Blocked({ field: "to", reason: "velocity", retryAfter: Duration.millis(until - now) }))
  )

/**
 * The guards of one send, in order: a range the velocity guard blocks, the
 * rate limits, then the velocity guard counting this send.
 */
const guardSend = Effect.fnUntraced(function*(env: Env, recipient: Recipient, clientKey: string | undefined, now: number) {
  const velocity = env.guards.velocity
  if (velocity !== undefined) {
    const until = velocity.blockedUntil(recipient.range, now)
    if (until > 0) return yield* velocityBlock(env, recipient, until, now)
  }
  yield* rateLimits(env, recipient, clientKey)
  if (velocity !== undefined) {
    const verdict = velocity.send(recipient.range, now)
    if (verdict._tag === "Blocked") return yield* velocityBlock(env, recipient, verdict.until, now)
  }
})

// delivery: the code's text, its send, the fallback to the next channel

const textFor = (options: VerificationOptions, record: VerificationRecord, code: string, channel: Channel, now: number): string => {
  const minutes = Math.max(1, Math.ceil((record.expiresAt - now) / 60_000))
  const shown = channel === "voice" ? texts.spellOut(code) : code
  if (options.text !== undefined) {
    return options.text({ code: shown, minutes, locale: record.locale, channel, brand: options.brand })
  }
  return texts.render(texts.resolveLocale(record.locale), { code: shown, minutes, brand: options.brand })
}

const codeOf = (env: Env, record: VerificationRecord): string =>
  otp.code(otp.deriveSecret(env.pepper, record.nonce), record.counter, env.settings.digits)

const deliver = (env: Env, record: VerificationRecord, code: string, channel: Channel, now: number) =>
  Effect.result(env.sender.send({
    to: record.to as E164,
    text: textFor(env.options, record, code, channel, now),
    channel,
    tenant: record.tenant,
    locale: record.locale
  }))

/** Stores the provider's message id on the send it belongs to. */
const noteMessageIdAttempt = Effect.fnUntraced(
  function*(env: Env, id: string, counter: number, index: number, messageId: string) {
    const found = yield* loadRecord(env, id)
    if (found === undefined || found.value.counter !== counter) return undefined
    const sends = found.value.sends.map((s, i) => (i === index ? { ...s, messageId } : s))
    return (yield* save(env, { ...found.value, sends }, found.version)) ? undefined : Retry
  }
)

const noteMessageId = (env: Env, id: string, counter: number, index: number, messageId: string) =>
  casLoop(() => noteMessageIdAttempt(env, id, counter, index, messageId))

const markDeliveredAttempt = Effect.fnUntraced(function*(env: Env, id: string, channel: Channel) {
  const found = yield* loadRecord(env, id)
  if (found === undefined || found.value.deliveredChannel !== undefined) return undefined
  return (yield* save(env, { ...found.value, deliveredChannel: channel }, found.version)) ? undefined : Retry
})

/** Gives back the cooldown of a send that never left. */
const releaseCooldownAttempt = Effect.fnUntraced(function*(env: Env, id: string, counter: number, lastSentAt: number) {
  const found = yield* loadRecord(env, id)
  if (found === undefined || found.value.counter !== counter) return undefined
  return (yield* save(env, { ...found.value, lastSentAt }, found.version)) ? undefined : Retry
})

const nextChannel = (channels: ReadonlyArray<Channel>, current: Channel): Channel | undefined => {
  const i = channels.indexOf(current)
  return i < 0 ? undefined : channels[i + 1]
}

/**
 * Every `fallbackAfter`, while the verification is pending and its latest
 * send (at `startIndex`, then the ones this loop adds) has no delivery
 * receipt, sends the same code on the next channel.
 */
const fallbackLoop = Effect.fnUntraced(function*(env: Env, id: string, startIndex: number) {
  const { settings, telemetry } = env
  let index = startIndex
  while (true) {
    yield* Effect.sleep(Duration.millis(settings.fallbackAfter))
    const found = yield* loadRecord(env, id)
    if (found === undefined) return
    const record = found.value
    const fiber = yield* currentFiber
    const now = nowOf(fiber)
    if (
      record.status !== "pending" || now >= record.expiresAt || record.wrongChecks >= settings.maxChecks ||
      record.sends.length !== index + 1
    ) return
    const last = record.sends[index]!
    if (last.messageId !== undefined) {
      const status = yield* env.sender.deliveryStatus(last.messageId)
      if (status === "delivered") {
        yield* casLoop(() => markDeliveredAttempt(env, id, last.channel))
        return
      }
    }
    const next = nextChannel(record.channels, last.channel)
    if (next === undefined) return
    const updated: VerificationRecord = {
      ...record,
      channel: next,
      sendAttempts: record.sendAttempts + 1,
      sends: [...record.sends, { channel: next, at: now, counter: record.counter, fallback: true, messageId: undefined }]
    }
    // A concurrent check or resend won: it decides what happens next.
    if (!(yield* save(env, updated, found.version))) return
    index += 1
    telemetry.tally(fiber, "sends", record.country, "channel", next)
    yield* telemetry.changed(updated, "fallback", now)
    const sent = yield* deliver(env, updated, codeOf(env, updated), next, now)
    if (sent._tag === "Success") {
      yield* noteMessageId(env, id, record.counter, index, sent.success.messageId)
    } else {
      yield* telemetry.changed(updated, "delivery-failed", now)
    }
  }
})

const scheduleFallback = (env: Env, record: VerificationRecord) =>
  nextChannel(record.channels, record.channel) === undefined
    ? Effect.void
    : Effect.asVoid(FiberSet.run(env.fibers, Effect.ignore(fallbackLoop(env, record.id, record.sends.length - 1))))

// issuing a code

const resultOf = (record: VerificationRecord): StartResult => ({
  verificationId: record.id,
  to: record.to as E164,
  channel: record.channel,
  status: "pending",
  expiresAt: record.expiresAt,
  sendAttempts: record.sendAttempts
})

/** A new verification's number, tenant, and the version of its recipient's pointer (`undefined`: none). */
interface Fresh {
  readonly number: PhoneNumber
  readonly tenant: string | undefined
  readonly pointerVersion: number | undefined
}

/** What `issue` is asked: a resend of `existing`, or a new verification of `fresh`. */
interface IssueRequest {
  readonly existing: Located | undefined
  readonly fresh: Fresh | undefined
  readonly channel: Channel | undefined
  readonly locale: string | undefined
  readonly clientKey: string | undefined
  readonly now: number
}

const recipientOf = (env: Env, previous: VerificationRecord | undefined, fresh: Fresh | undefined): Recipient => {
  if (previous !== undefined) {
    return {
      to: previous.to,
      country: previous.country,
      range: previous.range,
      prefix: previous.prefix,
      tenant: previous.tenant
    }
  }
  const n = fresh!.number
  return {
    to: n.e164,
    country: n.country,
    range: `+${n.countryCallingCode}${n.nationalNumber.slice(0, env.guards.rangeDigits)}`,
    prefix: `+${n.countryCallingCode}${n.nationalNumber.slice(0, env.guards.prefixDigits)}`,
    tenant: fresh!.tenant
  }
}

/** The record of a new code (and the code), for a resend of `previous` or a new verification. */
const issuedRecord = (
  env: Env,
  previous: VerificationRecord | undefined,
  recipient: Recipient,
  request: IssueRequest
): { readonly record: VerificationRecord; readonly code: string } => {
  const { settings, pepper } = env
  const now = request.now
  const id = previous?.id ?? `vrf_${randomToken(18)}`
  const channel = request.channel ?? previous?.channels[0] ?? settings.channels[0]!
  const counter = previous === undefined ? 0 : previous.counter + 1
  const nonce = previous?.nonce ?? randomToken(24)
  const code = otp.code(otp.deriveSecret(pepper, nonce), counter, settings.digits)
  // One object literal with every field, in one order: every record has
  // the same shape, and nothing is spread and copied twice.
  const record: VerificationRecord = {
    _tag: "Verification",
    id,
    to: recipient.to,
    country: recipient.country,
    range: recipient.range,
    prefix: recipient.prefix,
    tenant: recipient.tenant,
    locale: request.locale ?? previous?.locale ?? "en",
    channels: env.orders.get(channel) ?? [channel],
    channel,
    status: "pending",
    nonce,
    counter,
    codeHash: otp.hashCode(pepper, id, counter, code),
    createdAt: previous?.createdAt ?? now,
    expiresAt: now + settings.ttl,
    lastSentAt: now,
    sendAttempts: (previous?.sendAttempts ?? 0) + 1,
    wrongChecks: previous?.wrongChecks ?? 0,
    deliveredChannel: undefined,
    approvedAt: undefined,
    sends: previous === undefined
      ? [{ channel, at: now, counter, fallback: false, messageId: undefined }]
      : [...previous.sends.slice(-8), { channel, at: now, counter, fallback: false, messageId: undefined }]
  }
  return { record, code }
}

/**
 * Saves an issued record and the pointer to it: a new verification's
 * pointer by compare-and-set, a resend's kept as long as its record.
 * Answers false when a compare-and-set lost.
 */
const persistIssued = Effect.fnUntraced(
  function*(env: Env, record: VerificationRecord, existing: Located | undefined, fresh: Fresh | undefined) {
    const { store } = env
    if (!(yield* save(env, record, existing?.version))) return false
    if (existing === undefined) {
      const ok = yield* store.set(pointerKey(record.tenant, record.to), { _tag: "Pointer", id: record.id }, {
        expectedVersion: fresh!.pointerVersion,
        expiresAt: keepUntil(env, record)
      })
      if (!ok) {
        yield* store.remove(verificationKey(record.id))
        return false
      }
    } else {
      // Keep the pointer as long as the record it names.
      const key = pointerKey(record.tenant, record.to)
      const pointer = yield* store.get(key)
      if (pointer._tag === "Some" && pointer.value.value._tag === "Pointer" && pointer.value.value.id === record.id) {
        yield* store.set(key, pointer.value.value, {
          expectedVersion: pointer.value.version,
          expiresAt: keepUntil(env, record)
        })
      }
    }
    return true
  }
)

/** Sends a saved code; one that never left gives its cooldown back and fails with `DeliveryFailed`. */
const sendIssued = Effect.fnUntraced(
  function*(env: Env, record: VerificationRecord, code: string, previous: VerificationRecord | undefined, now: number) {
    const { settings, telemetry } = env
    const { id, counter, channel } = record
    const fiber = yield* currentFiber
    if (previous === undefined) telemetry.tally(fiber, "starts", record.country)
    telemetry.tally(fiber, "sends", record.country, "channel", channel)
    const sent = yield* deliver(env, record, code, channel, now)
    if (sent._tag === "Failure") {
      // No cooldown for a code that never left.
      const lastSentAt = previous?.lastSentAt ?? now - settings.cooldown
      yield* casLoop(() => releaseCooldownAttempt(env, id, counter, lastSentAt))
      yield* telemetry.changed(record, "delivery-failed", now)
      return yield* fail(new DeliveryFailed({ channel, cause: sent.failure }))
    }
    // Message ids matter only to fallback, which asks for delivery receipts.
    if (settings.channels.length > 1) {
      yield* noteMessageId(env, id, counter, record.sends.length - 1, sent.success.messageId)
    }
    yield* telemetry.changed(record, "pending", now)
    if (settings.channels.length > 1) yield* scheduleFallback(env, record)
    return resultOf(record)
  }
)

/**
 * Sends a new code for `existing` (a resend) or for a new verification of
 * `fresh`, after the cooldown and every guard.
 */
const issue = Effect.fnUntraced(function*(env: Env, request: IssueRequest) {
  const now = request.now
  const previous = request.existing?.value
  if (previous !== undefined) {
    const wait = previous.lastSentAt + env.settings.cooldown - now
    if (wait > 0) return yield* fail(new ResendCooldown({ field: "to", retryAfter: Duration.millis(wait) }))
  }
  const recipient = recipientOf(env, previous, request.fresh)
  yield* guardSend(env, recipient, request.clientKey, now)
  const { code, record } = issuedRecord(env, previous, recipient, request)
  if (!(yield* persistIssued(env, record, request.existing, request.fresh))) return Retry
  return yield* sendIssued(env, record, code, previous, now)
})

// starting, checking, resending, canceling

const isLive = (record: VerificationRecord, now: number) => record.status === "pending" && now < record.expiresAt

/** Marks a pending verification past its time to live as expired, once. */
const expire = Effect.fnUntraced(function*(env: Env, found: Located, now: number) {
  const record: VerificationRecord = { ...found.value, status: "expired" }
  if (!(yield* save(env, record, found.version))) return false
  env.telemetry.tally(yield* currentFiber, "expiries", record.country)
  yield* env.telemetry.changed(record, "expired", now)
  return true
})

const startAttempt = Effect.fnUntraced(function*(env: Env, request: StartRequest, n: PhoneNumber) {
  const now = yield* currentMillis
  const tenant = request.tenant
  const pointer = yield* env.store.get(pointerKey(tenant, n.e164))
  let existing: Located | undefined
  if (pointer._tag === "Some" && pointer.value.value._tag === "Pointer") {
    existing = yield* loadRecord(env, pointer.value.value.id)
  }
  if (existing !== undefined && existing.value.status === "pending" && now >= existing.value.expiresAt) {
    if (!(yield* expire(env, existing, now))) return Retry
    existing = undefined
  }
  const reusable = existing !== undefined && isLive(existing.value, now) &&
    existing.value.wrongChecks < env.settings.maxChecks
  return yield* issue(env, {
    existing: reusable ? existing : undefined,
    fresh: reusable
      ? undefined
      : { number: n, tenant, pointerVersion: pointer._tag === "Some" ? pointer.value.version : undefined },
    channel: request.channel,
    locale: request.locale,
    clientKey: request.clientKey,
    now
  })
})

const start = (env: Env, request: StartRequest): Effect.Effect<StartResult, StartError> => {
  if (typeof request !== "object" || request === null) {
    return fail(new InvalidRequest({ field: "to", problem: "a request object" }))
  }
  const bad = unknownKey(request, START_KEYS) ?? badTenant(request.tenant) ??
    badChannel(env.settings.channels, request.channel) ?? badLocale(request.locale) ?? badClientKey(request.clientKey)
  if (bad !== undefined) return fail(bad)
  return Effect.flatMap(
    resolveNumber(env, request.to, request.defaultCountry),
    (n) => guardNumber(env, n) ?? casLoop(() => startAttempt(env, request, n))
  )
}

const checkResult = (env: Env, record: VerificationRecord, status: VerificationStatus): CheckResult => ({
  verificationId: record.id,
  to: record.to as E164,
  status,
  channel: record.deliveredChannel ?? record.channel,
  attemptsLeft: Math.max(0, env.settings.maxChecks - record.wrongChecks),
  expiresAt: record.expiresAt
})

const deliveredAmong = Effect.fnUntraced(function*(env: Env, candidates: VerificationRecord["sends"], otherwise: Channel) {
  for (let i = candidates.length - 1; i >= 0; i--) {
    const s = candidates[i]!
    if (s.messageId !== undefined && (yield* env.sender.deliveryStatus(s.messageId)) === "delivered") return s.channel
  }
  return otherwise
})

/** The channel whose send carried the approved code. */
const succeededChannel = (env: Env, record: VerificationRecord): Effect.Effect<Channel> => {
  if (record.deliveredChannel !== undefined) return Effect.succeed(record.deliveredChannel)
  const candidates = record.sends.filter((s) => s.counter === record.counter)
  if (candidates.length <= 1) return Effect.succeed(candidates[0]?.channel ?? record.channel)
  return deliveredAmong(env, candidates, record.channel)
}

/** Spends a verification whose code matched. */
const approve = Effect.fnUntraced(function*(env: Env, found: Located, fiber: Fiber.Fiber<unknown, unknown>, now: number) {
  const record = found.value
  const deliveredChannel = yield* succeededChannel(env, record)
  // Spent: the nonce and the hash can make or test no code any more, so they are not kept.
  const approved: VerificationRecord = { ...record, status: "approved", approvedAt: now, deliveredChannel, nonce: "", codeHash: "" }
  if (!(yield* save(env, approved, found.version))) return Retry
  env.telemetry.tally(fiber, "approvals", record.country)
  env.guards.velocity?.approve(record.range, now)
  yield* env.telemetry.changed(approved, "approved", now)
  return checkResult(env, approved, "approved")
})

const checkAttempt = Effect.fnUntraced(function*(env: Env, id: string, code: string, first: Located | undefined) {
  let found = first
  if (found === undefined) found = yield* loadRecord(env, id)
  if (found === undefined) return yield* fail(new VerificationNotFound({ field: "verificationId" }))
  const record = found.value
  const fiber = yield* currentFiber
  const now = nowOf(fiber)
  if (record.status === "approved") return yield* fail(new VerificationNotFound({ field: "verificationId" }))
  if (record.status !== "pending") return checkResult(env, record, record.status)
  if (now >= record.expiresAt) {
    return (yield* expire(env, found, now)) ? checkResult(env, record, "expired") : Retry
  }
  if (record.wrongChecks >= env.settings.maxChecks) {
    return yield* fail(new TooManyAttempts({ field: "code", retryAfter: Duration.millis(record.expiresAt - now) }))
  }
  if (otp.matchesHash(env.pepper, record.id, record.counter, code, record.codeHash)) {
    return yield* approve(env, found, fiber, now)
  }
  const wrong: VerificationRecord = { ...record, wrongChecks: record.wrongChecks + 1 }
  if (!(yield* save(env, wrong, found.version))) return Retry
  if (wrong.wrongChecks >= env.settings.maxChecks) yield* env.telemetry.changed(wrong, "locked", now)
  return checkResult(env, wrong, "pending")
})

const check = (env: Env, request: CheckRequest): Effect.Effect<CheckResult, StartError> => {
  const unknown = typeof request === "object" && request !== null ? unknownKey(request, CHECK_KEYS) : undefined
  if (unknown !== undefined) return fail(unknown)
  const code = cleanCode(typeof request === "object" && request !== null ? request.code : undefined, env.settings.digits)
  if (code === undefined) {
    return fail(new InvalidCode({ field: "code" }))
  }
  // The first attempt checks the record `locate` read; a retry reads it again.
  return Effect.flatMap(locate(env, request, CHECK_KEYS), (located) =>
    casLoop((n) => checkAttempt(env, located.value.id, code, n === 0 ? located : undefined)))
}

const resendAttempt = Effect.fnUntraced(function*(env: Env, id: string, request: ResendRequest) {
  const found = yield* loadRecord(env, id)
  const now = yield* currentMillis
  if (found === undefined || found.value.status !== "pending") {
    return yield* fail(new VerificationNotFound({ field: "verificationId" }))
  }
  if (now >= found.value.expiresAt) {
    yield* expire(env, found, now)
    return yield* fail(new VerificationNotFound({ field: "verificationId" }))
  }
  if (found.value.wrongChecks >= env.settings.maxChecks) {
    return yield* fail(new TooManyAttempts({ field: "code", retryAfter: Duration.millis(found.value.expiresAt - now) }))
  }
  return yield* issue(env, {
    existing: found,
    fresh: undefined,
    channel: request.channel,
    locale: request.locale,
    clientKey: request.clientKey,
    now
  })
})

const resend = (env: Env, request: ResendRequest): Effect.Effect<StartResult, StartError> => {
  const bad = badChannel(env.settings.channels, request?.channel) ?? badLocale(request?.locale) ??
    badClientKey(request?.clientKey)
  if (bad !== undefined) return fail(bad)
  return Effect.flatMap(
    locate(env, request, RESEND_KEYS),
    (first) => casLoop(() => resendAttempt(env, first.value.id, request))
  )
}

const cancelAttempt = Effect.fnUntraced(function*(env: Env, id: string) {
  const found = yield* loadRecord(env, id)
  if (found === undefined) return yield* fail(new VerificationNotFound({ field: "verificationId" }))
  const now = yield* currentMillis
  const record = found.value
  if (record.status !== "pending") return checkResult(env, record, record.status)
  if (now >= record.expiresAt) return (yield* expire(env, found, now)) ? checkResult(env, record, "expired") : Retry
  const canceled: VerificationRecord = { ...record, status: "canceled" }
  if (!(yield* save(env, canceled, found.version))) return Retry
  yield* env.telemetry.changed(canceled, "canceled", now)
  return checkResult(env, canceled, "canceled")
})

const cancel = (env: Env, request: VerificationTarget): Effect.Effect<CheckResult, StartError> =>
  Effect.flatMap(locate(env, request, TARGET_KEYS), (first) => casLoop(() => cancelAttempt(env, first.value.id)))

const get = Effect.fnUntraced(function*(env: Env, request: VerificationTarget) {
  const { value: record } = yield* locate(env, request, TARGET_KEYS)
  const now = yield* currentMillis
  const status: VerificationStatus = record.status === "pending" && now >= record.expiresAt
    ? "expired"
    : record.status
  const info: VerificationInfo = {
    verificationId: record.id,
    to: record.to as E164,
    country: record.country,
    tenant: record.tenant,
    status,
    channel: record.deliveredChannel ?? record.channel,
    deliveredChannel: record.deliveredChannel,
    locked: record.wrongChecks >= env.settings.maxChecks,
    sendAttempts: record.sendAttempts,
    wrongChecks: record.wrongChecks,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    approvedAt: record.approvedAt,
    sends: record.sends.map((s) => ({ channel: s.channel, at: s.at, fallback: s.fallback }))
  }
  return info
})

// authenticator apps (TOTP)

type TotpCheckRequest = Parameters<Verification["Service"]["totp"]["check"]>[0]
type TotpEnrollRequest = Parameters<Verification["Service"]["totp"]["enroll"]>[0]
type TotpRemoveRequest = Parameters<Verification["Service"]["totp"]["remove"]>[0]

const checkSubject = (subject: unknown) =>
  isText(subject, SUBJECT_MAX)
    ? Effect.succeed(subject)
    : fail(new InvalidRequest({ field: "subject", problem: `a string of 1 to ${SUBJECT_MAX} characters` }))

const totpEnroll = Effect.fnUntraced(function*(env: Env, request: TotpEnrollRequest) {
  const subject = yield* checkSubject(request?.subject)
  const tenant = yield* checkTenant(request.tenant)
  if (request.label !== undefined && !isText(request.label, SUBJECT_MAX)) {
    return yield* fail(new InvalidRequest({ field: "label", problem: `a string of 1 to ${SUBJECT_MAX} characters` }))
  }
  const now = yield* currentMillis
  const secret = otp.totpSecret()
  const key = totpKey(tenant, subject)
  const current = yield* env.store.get(key)
  const record: TotpRecord = {
    _tag: "Totp",
    subject,
    sealedSecret: otp.seal(env.pepper, secret),
    lastTimeStep: -1,
    wrongChecks: 0,
    lockedUntil: 0,
    createdAt: now
  }
  const ok = yield* env.store.set(key, record, {
    expectedVersion: current._tag === "Some" ? current.value.version : undefined,
    expiresAt: Number.MAX_SAFE_INTEGER
  })
  if (!ok) return yield* fail(new StoreUnavailable({}))
  const enrollment: TotpEnrollment = {
    subject,
    secret: Redacted.make(secret),
    uri: Redacted.make(otp.totpUri({
      issuer: env.totpIssuer,
      label: request.label ?? subject,
      secret,
      digits: env.settings.totpDigits,
      period: env.settings.totpPeriod
    }))
  }
  return enrollment
})

const totpCheckAttempt = Effect.fnUntraced(function*(env: Env, key: string, subject: string, code: string) {
  const { settings } = env
  const found = yield* env.store.get(key)
  if (found._tag === "None" || found.value.value._tag !== "Totp") {
    return yield* fail(new VerificationNotFound({ field: "subject" }))
  }
  const record = found.value.value
  const now = yield* currentMillis
  if (record.lockedUntil > now) {
    return yield* fail(new TooManyAttempts({ field: "code", retryAfter: Duration.millis(record.lockedUntil - now) }))
  }
  const wrongChecks = record.lockedUntil > 0 ? 0 : record.wrongChecks
  const secret = otp.unseal(env.pepper, record.sealedSecret)
  const step = secret === undefined ? undefined : otp.totpVerify({
    secret,
    code,
    epochSeconds: Math.floor(now / 1000),
    digits: settings.totpDigits,
    period: settings.totpPeriod,
    afterTimeStep: record.lastTimeStep
  })
  const next: TotpRecord = step !== undefined
    ? { ...record, lastTimeStep: step, wrongChecks: 0, lockedUntil: 0 }
    : wrongChecks + 1 >= settings.maxChecks
    ? { ...record, wrongChecks: wrongChecks + 1, lockedUntil: now + settings.ttl }
    : { ...record, wrongChecks: wrongChecks + 1, lockedUntil: 0 }
  const ok = yield* env.store.set(key, next, {
    expectedVersion: found.value.version,
    expiresAt: Number.MAX_SAFE_INTEGER
  })
  if (!ok) return Retry
  const result: TotpCheckResult = {
    subject,
    status: step !== undefined ? "approved" : "pending",
    attemptsLeft: step !== undefined ? settings.maxChecks : Math.max(0, settings.maxChecks - next.wrongChecks)
  }
  return result
})

const totpCheck = Effect.fnUntraced(function*(env: Env, request: TotpCheckRequest) {
  const subject = yield* checkSubject(request?.subject)
  const tenant = yield* checkTenant(request.tenant)
  const code = cleanCode(request.code, env.settings.totpDigits)
  if (code === undefined) {
    return yield* fail(new InvalidCode({ field: "code" }))
  }
  const key = totpKey(tenant, subject)
  return yield* casLoop(() => totpCheckAttempt(env, key, subject, code))
})

const totpRemove = Effect.fnUntraced(function*(env: Env, request: TotpRemoveRequest) {
  const subject = yield* checkSubject(request?.subject)
  const tenant = yield* checkTenant(request.tenant)
  yield* env.store.remove(totpKey(tenant, subject))
})

// the service

const statsOf = (env: Env): Effect.Effect<VerificationStats> =>
  Effect.map(currentMillis, (now): VerificationStats => ({
    ...env.telemetry.counts(),
    blockedRanges: env.guards.velocity?.blocked(now) ?? []
  }))

/**
 * Builds the service from a {@link VerificationStore}, a
 * {@link VerificationSender}, `PhoneNumbers` and a `RateLimiter`; the
 * fallback fibers live in the surrounding scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: VerificationOptions = {}) {
  const settings = yield* settingsOf(options)
  const env: Env = {
    options,
    settings,
    store: liftStore(yield* VerificationStore),
    sender: yield* VerificationSender,
    phoneNumbers: yield* PhoneNumbers,
    guards: guardsOf(options, settings, yield* Effect.flatMap(loadRateLimiter, (limiters) => Effect.service(limiters.RateLimiter))),
    telemetry: makeTelemetry(yield* Effect.serviceOption(Events.Events)),
    fibers: yield* FiberSet.make<void, never>(),
    pepper: pepperOf(options.pepper),
    orders: channelOrders(settings.channels),
    totpIssuer: options.totp?.issuer ?? options.brand ?? "smsforge"
  }
  // No tracing span per call: a span costs more than the whole check. The
  // pipeline's send span covers the code's delivery.
  return Verification.of({
    start: (request) => start(env, request),
    check: (request) => check(env, request),
    resend: (request) => resend(env, request),
    cancel: (request) => cancel(env, request),
    get: (request) => get(env, request),
    totp: {
      enroll: (request) => totpEnroll(env, request),
      check: (request) => totpCheck(env, request),
      remove: (request) => totpRemove(env, request)
    },
    stats: statsOf(env),
    unblock: (range) => Effect.sync(() => env.guards.velocity?.unblock(range))
  })
})

// layers

/**
 * The service, given a store, a sender, `PhoneNumbers` and a `RateLimiter`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: VerificationOptions = {}
): Layer.Layer<
  Verification,
  VerificationError,
  VerificationStore | VerificationSender | PhoneNumbers | RateLimiter.RateLimiter
> => Layer.effect(Verification, make(options))

/**
 * Keeps verification state in process memory.
 *
 * **Details**
 * Entries past their `expiresAt` are dropped when read and swept as new
 * entries arrive, so memory follows the number of live verifications.
 *
 * @category store
 * @since 0.1.0
 */
export const makeStoreMemory: Effect.Effect<VerificationStore["Service"]> = Effect.sync(() => {
  // Entries are rewritten in place: one map lookup per write of an existing
  // key, and nothing more kept per entry than the value and its version.
  type Entry = { value: StoredValue; version: number; expiresAt: number }
  const entries = new Map<string, Entry>()
  // A cursor that walks the map a few entries per new key, dropping expired
  // ones: memory follows the live entries without a timer or a full scan.
  let cursor: Iterator<[string, Entry]> = entries.entries()
  const sweep = (now: number) => {
    for (let n = 0; n < 4; n++) {
      const next = cursor.next()
      if (next.done === true) {
        cursor = entries.entries()
        return
      }
      if (next.value[1].expiresAt <= now) entries.delete(next.value[0])
    }
  }
  const live = (key: string, now: number) => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      entries.delete(key)
      return undefined
    }
    return entry
  }
  return VerificationStore.of({
    get: (key) =>
      Effect.withFiberSucceed((fiber) => {
        const entry = live(key, nowOf(fiber))
        return entry === undefined
          ? Option.none<Versioned>()
          : Option.some<Versioned>({ value: entry.value, version: entry.version })
      }),
    set: (key, value, options) =>
      Effect.withFiberSucceed((fiber) => {
        const now = nowOf(fiber)
        const entry = live(key, now)
        if (entry?.version !== options.expectedVersion) return false
        if (entry === undefined) {
          entries.set(key, { value, version: 0, expiresAt: options.expiresAt })
          sweep(now)
        } else {
          entry.value = value
          entry.version += 1
          entry.expiresAt = options.expiresAt
        }
        return true
      }),
    remove: (key) => Effect.sync(() => void entries.delete(key)),
    findByRecipient: (to, tenant) =>
      Effect.withFiberSucceed((fiber) => {
        const now = nowOf(fiber)
        const found: Array<VerificationRecord> = []
        for (const entry of entries.values()) if (entry.expiresAt > now && isRecordOf(entry.value, to, tenant)) found.push(entry.value)
        return found.sort((a, b) => a.createdAt - b.createdAt)
      }),
    eraseRecipient: (to, tenant) =>
      Effect.sync(() => {
        let erased = 0
        // Expired entries too: what is not yet swept still holds the number.
        for (const [key, entry] of [...entries]) {
          if (!isRecordOf(entry.value, to, tenant)) continue
          entries.delete(key)
          erased++
        }
        entries.delete(recipientKey(to, tenant))
        return erased
      })
  })
})

/**
 * @category store
 * @since 0.1.0
 */
export const layerStoreMemory: Layer.Layer<VerificationStore> = Layer.effect(VerificationStore, makeStoreMemory)

/**
 * The service with memory state and an in-memory rate limiter; needs a
 * sender and `PhoneNumbers`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemoryWith = (
  options: VerificationOptions = {}
): Layer.Layer<Verification, VerificationError, VerificationSender | PhoneNumbers> =>
  layer(options).pipe(Layer.provide(Layer.mergeAll(layerStoreMemory, rateLimiterMemory)))

/**
 * {@link layerMemoryWith} with the default options.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Verification, VerificationError, VerificationSender | PhoneNumbers> =
  layerMemoryWith()
