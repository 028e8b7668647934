/**
 * Consent records and the send-time decision: may this recipient get this
 * message for this purpose, now?
 *
 * **Details**
 * - Per recipient (E.164) and tenant, the store keeps a state per purpose —
 *   `transactional`, `marketing`, `all`, and user topics — each with its
 *   evidence: source, time, the text agreed to, and the request's origin.
 * - The latest express choice wins. Each change gets a sequence number. A
 *   STOP (revoking marketing) blocks marketing until a later grant of
 *   marketing; a revocation of `all` blocks every purpose, transactional
 *   included, until a later grant of `all` (which only lifts that opt-out)
 *   or a later grant of the purpose itself.
 * - Marketing needs a granted consent (`ConsentRequired` otherwise);
 *   anything to a recipient who opted out of the purpose fails with
 *   `OptedOut`. Transactional messages need no consent.
 * - Double opt-in: {@link Consent} `requestConfirmation` records a pending
 *   consent and answers the confirmation text to send; a positive reply
 *   (YES, Y, START, OUI, 是 …, matched by the Inbound module) calls
 *   `confirm`, which turns it into a grant with the original text as
 *   evidence.
 * - Quiet hours are read in the recipient's local time: the zone comes from
 *   a per-recipient override, else the number's country (the runtime's ICU
 *   data; a country spanning several zones uses its capital's zone, or all
 *   of them with `multiZone: "strictest"`). Inside the window a marketing
 *   message is deferred to the window's end (`Decision` `Defer`) or refused
 *   (`QuietHours`), as configured. Local time comes from
 *   `Intl.DateTimeFormat`, so daylight-saving changes are exact.
 * - Frequency caps count sends per recipient and purpose over rolling
 *   24-hour and 7-day windows; the pipeline calls `record` after each send.
 * - Every change is appended to the Audit log and published on Events when
 *   those services are present.
 *
 * **Gotchas**
 * - Quiet hours are off until configured.
 * - Consent keys on the exact E.164 string: normalise numbers first.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import * as Audit from "./Audit.ts"
import * as Events from "./Events.ts"
import { withNow } from "./internal/clock.ts"
import { type CoreRegistry, registry } from "./internal/cores.ts"
import * as quietHours from "./internal/consent/quietHours.ts"
import * as time from "./internal/consent/time.ts"
import { StoreUnavailable } from "./Store.ts"

// models

/**
 * Why a message is sent.
 *
 * @category models
 * @since 0.1.0
 */
export type Purpose = "transactional" | "marketing"

/**
 * What a grant or revocation applies to: a purpose, or `all` of them.
 *
 * @category models
 * @since 0.1.0
 */
export type Scope = Purpose | "all"

/**
 * Where a consent change came from.
 *
 * @category models
 * @since 0.1.0
 */
export interface Origin {
  readonly ip?: string | undefined
  readonly userAgent?: string | undefined
  readonly requestId?: string | undefined
  /** `"sms"`, `"web"`, `"app"`, `"paper"`, `"call"` … */
  readonly channel?: string | undefined
}

/**
 * The proof kept with every state.
 *
 * @category models
 * @since 0.1.0
 */
export interface Evidence {
  /** `"api"`, `"keyword"`, `"double-opt-in"`, `"web-form"`, `"import"` … */
  readonly source: string
  /** The text the person agreed to (or the confirmation request they answered). */
  readonly text?: string | undefined
  /** The keyword of an SMS reply, as the person typed it. */
  readonly keyword?: string | undefined
  readonly origin?: Origin | undefined
}

/**
 * The state of one purpose or topic.
 *
 * @category models
 * @since 0.1.0
 */
export interface PurposeState {
  readonly status: "granted" | "revoked"
  /** Epoch milliseconds. */
  readonly at: number
  /** Order of the change within the record: higher is later. */
  readonly seq: number
  readonly evidence: Evidence
}

/**
 * A consent awaiting the person's confirmation (double opt-in).
 *
 * @category models
 * @since 0.1.0
 */
export interface PendingState {
  readonly at: number
  readonly expiresAt: number
  readonly evidence: Evidence
}

/**
 * Everything kept about one recipient within one tenant.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConsentRecord {
  readonly to: string
  readonly tenant: string
  /** Keys: `transactional`, `marketing`, `all`, and `topic:<name>`. */
  readonly purposes: { readonly [key: string]: PurposeState }
  readonly pending: { readonly [key: string]: PendingState }
  /** An IANA zone that overrides the country's. */
  readonly timeZone?: string | undefined
  readonly seq: number
}

/**
 * The answer of {@link Consent} `check` when the message may go.
 *
 * @category models
 * @since 0.1.0
 */
export type Decision =
  | { readonly _tag: "Allow"; readonly timeZone: string }
  /** Quiet hours: send at `until` (epoch milliseconds) instead. */
  | { readonly _tag: "Defer"; readonly until: number; readonly timeZone: string }

/**
 * A local time of day, `"HH:MM"` on a 24-hour clock.
 *
 * @category models
 * @since 0.1.0
 */
export type HourMinute = `${number}:${number}`

/**
 * Quiet hours in the recipient's local time.
 *
 * @category models
 * @since 0.1.0
 */
export interface QuietHoursOptions {
  /**
   * Local `HH:MM` when quiet hours begin, e.g. `"21:00"`. A malformed time
   * falls back to the 21:00–08:00 window, with a warning: quiet hours are
   * never turned off by a typo.
   */
  readonly start: HourMinute
  /** Local `HH:MM` when they end, e.g. `"08:00"`; may be earlier than `start` (overnight). */
  readonly end: HourMinute
  /** Defer to the end of the window (default) or refuse with `QuietHours`. */
  readonly mode?: "defer" | "refuse" | undefined
  /** Purposes the window applies to; `["marketing"]` by default. */
  readonly purposes?: ReadonlyArray<Purpose> | undefined
  /**
   * For countries spanning several zones without a per-recipient zone:
   * use the country's representative zone (default) or respect the window
   * in every zone of the country.
   */
  readonly multiZone?: "representative" | "strictest" | undefined
  /**
   * Whole local days without messages of these purposes, 0 = Sunday … 6 =
   * Saturday; a deferral then lands at the window's end on the next allowed day.
   */
  readonly days?: ReadonlyArray<number> | undefined
  /**
   * Other rules by country, e.g. France's
   * `{ FR: { start: "20:00", end: "08:00", days: [0] } }` (no commercial SMS
   * on Sundays or at night).
   */
  readonly byCountry?: {
    readonly [country: string]: {
      readonly start: HourMinute
      readonly end: HourMinute
      readonly days?: ReadonlyArray<number> | undefined
    }
  } | undefined
}

/**
 * Sends allowed per recipient and purpose in rolling windows.
 *
 * @category models
 * @since 0.1.0
 */
export interface FrequencyCap {
  /** At most this many in any 24 hours. */
  readonly perDay?: number | undefined
  /** At most this many in any 7 days. */
  readonly perWeek?: number | undefined
}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConsentOptions {
  readonly quietHours?: QuietHoursOptions | undefined
  readonly frequencyCaps?: { readonly [purpose in Purpose]?: FrequencyCap } | undefined
  /** Zones by ISO country overriding the runtime's (Intl) choice, e.g. `{ US: "America/Chicago" }`. */
  readonly timeZones?: { readonly [country: string]: string } | undefined
  /** Zone when neither the recipient nor the country has one; `"UTC"` by default. */
  readonly defaultTimeZone?: string | undefined
  /** How long a double opt-in waits for its confirmation; 48 hours by default. */
  readonly confirmationTtlMillis?: number | undefined
  /** The confirmation request text; `{purpose}` is replaced. */
  readonly confirmationText?: string | undefined
  /** Topics need their own grant, not just `marketing`. Off by default. */
  readonly requireTopicConsent?: boolean | undefined
}

/**
 * A grant, a revocation or a confirmation request.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConsentChange {
  /** The person, in E.164. */
  readonly to: string
  /** `marketing` by default. */
  readonly purpose?: Scope | undefined
  readonly topic?: string | undefined
  readonly tenant?: string | undefined
  /** `"api"` by default. */
  readonly source?: string | undefined
  readonly text?: string | undefined
  readonly keyword?: string | undefined
  readonly origin?: Origin | undefined
  /** Epoch milliseconds; the clock's time when absent. */
  readonly at?: number | undefined
}

/**
 * What {@link Consent} `check` is asked.
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckRequest {
  readonly to: string
  /** ISO 3166 alpha-2 country of the number, for its time zone. */
  readonly country?: string | undefined
  readonly purpose: Purpose
  readonly topic?: string | undefined
  readonly tenant?: string | undefined
  /** When the message would go (epoch ms); the clock's time when absent. */
  readonly at?: number | undefined
  /** Alias of `at`. */
  readonly now?: number | undefined
}

/**
 * A confirmation to send for a double opt-in.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConfirmationRequest {
  readonly to: string
  readonly tenant: string
  readonly purpose: string
  readonly text: string
  readonly expiresAt: number
  /** The confirmation itself is transactional. */
  readonly messagePurpose: "transactional"
}

/**
 * A consent change, as published on Events (declared there, the lower module).
 *
 * @category models
 * @since 0.1.0
 */
export type ConsentChanged = Events.ConsentChanged

// errors

/**
 * Marketing to a recipient without a granted consent.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConsentRequired extends Schema.TaggedError<ConsentRequired>("smsforge/Consent/ConsentRequired")(
  "ConsentRequired",
  { field: Schema.String, purpose: Schema.optional(Schema.String) }
) {
  override get message(): string {
    return `Consent required for ${this.field}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The recipient opted out of this purpose (or of everything: `purpose` `all`).
 *
 * @category errors
 * @since 0.1.0
 */
export class OptedOut extends Schema.TaggedError<OptedOut>("smsforge/Consent/OptedOut")("OptedOut", {
  field: Schema.String,
  purpose: Schema.String
}) {
  override get message(): string {
    return `${this.field} opted out of ${this.purpose}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Inside the recipient's quiet hours, configured to refuse; `until` is when they end.
 *
 * @category errors
 * @since 0.1.0
 */
export class QuietHours extends Schema.TaggedError<QuietHours>("smsforge/Consent/QuietHours")("QuietHours", {
  field: Schema.String,
  until: Schema.Number
}) {
  override get message(): string {
    return `Quiet hours for ${this.field}`
  }
  get isRetryable(): boolean {
    return true
  }
}

/**
 * Too many messages of this purpose to this recipient in the window.
 *
 * @category errors
 * @since 0.1.0
 */
export class FrequencyCapExceeded extends Schema.TaggedError<FrequencyCapExceeded>(
  "smsforge/Consent/FrequencyCapExceeded"
)("FrequencyCapExceeded", {
  field: Schema.String,
  purpose: Schema.String,
  window: Schema.Literals(["day", "week"]),
  limit: Schema.Number,
  retryAfter: Schema.DurationFromMillis
}) {
  override get message(): string {
    return `Frequency cap per ${this.window} exceeded for ${this.field}`
  }
  get isRetryable(): boolean {
    return true
  }
}

/**
 * A time zone the platform does not know.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidTimeZone extends Schema.TaggedError<InvalidTimeZone>("smsforge/Consent/InvalidTimeZone")(
  "InvalidTimeZone",
  { field: Schema.String }
) {
  override get message(): string {
    return `Invalid time zone in ${this.field}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The consent store's backend did not answer in time or failed: the shared
 * store error, retryable.
 *
 * @category errors
 * @since 0.2.0
 */
export { StoreUnavailable } from "./Store.ts"

/**
 * Every reason a consent check or change can fail for.
 *
 * @category errors
 * @since 0.1.0
 */
export const ConsentErrorReason = Schema.Union([
  ConsentRequired,
  OptedOut,
  QuietHours,
  FrequencyCapExceeded,
  InvalidTimeZone,
  StoreUnavailable
])

/**
 * @category errors
 * @since 0.1.0
 */
export type ConsentErrorReason = typeof ConsentErrorReason.Type

/**
 * A refused consent check or change.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConsentError extends Schema.TaggedError<ConsentError>("smsforge/ConsentError")("ConsentError", {
  reason: ConsentErrorReason
}) {
  override get message(): string {
    return this.reason.message
  }
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

// service

/**
 * The memory service's synchronous core, for the send path (internal/cores.ts).
 *
 * @internal
 */
export interface ConsentCore {
  /** `Consent.check` at `now`, for requests without `at`. */
  readonly check: (request: CheckRequest, now: number) => Result.Result<Decision, ConsentError>
}

/** @internal */
export const cores: CoreRegistry<ConsentCore> = registry()

/**
 * Records consent and decides at send time.
 *
 * @category services
 * @since 0.1.0
 */
export class Consent extends Context.Service<Consent, {
  /** Records a consent; for `all`, lifts an opt-out of everything (marketing still needs its own grant). */
  readonly grant: (change: ConsentChange) => Effect.Effect<ConsentRecord, ConsentError>
  /** Records an opt-out of a purpose, a topic, or `all`. */
  readonly revoke: (change: ConsentChange) => Effect.Effect<ConsentRecord, ConsentError>
  /** The record, if any. */
  readonly get: (to: string, tenant?: string) => Effect.Effect<Option.Option<ConsentRecord>, ConsentError>
  /** May a message go? `Allow`, `Defer` (quiet hours) or a typed refusal. */
  readonly check: (request: CheckRequest) => Effect.Effect<Decision, ConsentError>
  /** Counts one send for frequency caps; the pipeline calls it after a send. */
  readonly record: (to: string, purpose: Purpose, at?: number, tenant?: string) => Effect.Effect<void, ConsentError>
  /** Starts a double opt-in: records a pending consent and answers the text to send. */
  readonly requestConfirmation: (change: ConsentChange) => Effect.Effect<ConfirmationRequest, ConsentError>
  /**
   * Confirms every unexpired pending consent of a recipient (their positive
   * reply); answers the purposes confirmed, empty when nothing was pending.
   * The evidence's source is `"double-opt-in"`, with the confirmation text,
   * the reply keyword and the origin.
   */
  readonly confirm: (change: Omit<ConsentChange, "purpose" | "topic" | "text">) => Effect.Effect<ReadonlyArray<string>, ConsentError>
  /** Whether the recipient has an unexpired pending confirmation. */
  readonly hasPending: (to: string, tenant?: string) => Effect.Effect<boolean, ConsentError>
  /** Sets or clears (`undefined`) the recipient's own time zone. */
  readonly setTimeZone: (to: string, timeZone: string | undefined, tenant?: string) => Effect.Effect<void, ConsentError>
}>()("smsforge/Consent") {}

const DEFAULT_TENANT = "default"
const DAY = 86_400_000
const WEEK = 7 * DAY

const keyOf = (scope: Scope, topic: string | undefined): string => (topic === undefined ? scope : `topic:${topic}`)

const emptyRecord = (to: string, tenant: string): ConsentRecord => ({ to, tenant, purposes: {}, pending: {}, seq: 0 })

const later = (a: PurposeState | undefined, b: PurposeState | undefined): PurposeState | undefined =>
  a === undefined ? b : b === undefined ? a : b.seq > a.seq ? b : a

/**
 * The pure consent rule: whether a record lets a message of `purpose` (and
 * `topic`) go, ignoring quiet hours and caps.
 *
 * @category utils
 * @since 0.1.0
 */
export const evaluate = (
  record: ConsentRecord | undefined,
  purpose: Purpose,
  topic?: string | undefined,
  options: { readonly requireTopicConsent?: boolean | undefined } = {}
): ConsentRequired | OptedOut | undefined => {
  const all = record?.purposes["all"]
  const own = record?.purposes[purpose]
  // An opt-out of everything wins over every earlier choice; a later express choice for the purpose wins over it.
  if (all?.status === "revoked" && later(own, all) === all) return new OptedOut({ field: "to", purpose: "all" })
  if (own?.status === "revoked") return new OptedOut({ field: "to", purpose })
  if (purpose === "marketing" && own?.status !== "granted") return new ConsentRequired({ field: "to", purpose })
  if (topic !== undefined) {
    const key = keyOf(purpose, topic)
    const state = record?.purposes[key]
    if (all?.status === "revoked" && later(state, all) === all) return new OptedOut({ field: "to", purpose: "all" })
    if (state?.status === "revoked") return new OptedOut({ field: "to", purpose: key })
    if (options.requireTopicConsent === true && state?.status !== "granted") {
      return new ConsentRequired({ field: "to", purpose: key })
    }
  }
  return undefined
}

/** The store as the service calls it: an outage is a {@link ConsentError} with reason `StoreUnavailable`. */
const liftStore = (store: ConsentStore["Service"]) => {
  const lift = <A>(effect: Effect.Effect<A, StoreUnavailable>): Effect.Effect<A, ConsentError> =>
    Effect.mapError(effect, (reason) => new ConsentError({ reason }))
  return {
    get: (tenant: string, to: string) => lift(store.get(tenant, to)),
    put: (record: ConsentRecord) => lift(store.put(record)),
    recordSend: (tenant: string, to: string, purpose: string, at: number) => lift(store.recordSend(tenant, to, purpose, at)),
    sends: (tenant: string, to: string, purpose: string, since: number) => lift(store.sends(tenant, to, purpose, since))
  }
}

/**
 * Builds the consent service on the {@link ConsentStore} in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: ConsentOptions = {}) {
  const rawStore = yield* ConsentStore
  const { schedule, warnings } = quietHours.compile(options)
  for (const warning of warnings) yield* Effect.logWarning(`smsforge/Consent: ${warning}`)
  const ctx: ConsentContext = {
    options,
    schedule,
    store: liftStore(rawStore),
    lock: yield* Semaphore.make(1),
    logNumbers: yield* Events.LogPhoneNumbers,
    ttl: options.confirmationTtlMillis ?? 2 * DAY
  }
  const service = Consent.of({
    grant: (change) => setState(ctx, change, "granted"),
    revoke: (change) => setState(ctx, change, "revoked"),
    get: (to, tenant) => ctx.store.get(tenant ?? DEFAULT_TENANT, to),
    check: (request) => check(ctx, request),
    record: (to, purpose, at, tenant) =>
      Effect.flatMap(now(at), (t) => ctx.store.recordSend(tenant ?? DEFAULT_TENANT, to, purpose, t)),
    requestConfirmation: (change) => requestConfirmation(ctx, change),
    confirm: (change) => confirm(ctx, change),
    hasPending: (to, tenant) => hasPending(ctx, to, tenant),
    setTimeZone: (to, timeZone, tenant) => setTimeZone(ctx, to, timeZone, tenant)
  })
  const storeCore = storeCores.of(rawStore)
  return storeCore === undefined ? service : cores.register(service, makeCore(ctx, storeCore))
})

// What the service's operations share, built once by make.
interface ConsentContext {
  readonly options: ConsentOptions
  readonly schedule: quietHours.Schedule
  readonly store: ReturnType<typeof liftStore>
  /** Serialises read-modify-write of records. */
  readonly lock: Semaphore.Semaphore
  readonly logNumbers: boolean
  /** How long a double opt-in waits, in milliseconds. */
  readonly ttl: number
}

const now = (at: number | undefined) => (at === undefined ? Clock.currentTimeMillis : Effect.succeed(at))


/** Appends a change to the Audit log and publishes it on Events. */
const notify = Effect.fnUntraced(function*(
  ctx: ConsentContext,
  record: ConsentRecord,
  purpose: string,
  status: "granted" | "revoked" | "pending",
  evidence: Evidence,
  at: number
) {
  yield* Audit.append({
    kind: "consent",
    at,
    tenant: record.tenant,
    to: record.to,
    // The wording shown is free text and may name the person: it goes in the purgeable body, not the chained data.
    ...(evidence.text === undefined ? {} : { body: evidence.text }),
    data: {
      purpose,
      status,
      source: evidence.source,
      ...(evidence.keyword === undefined ? {} : { keyword: evidence.keyword }),
      ...(evidence.origin?.requestId === undefined ? {} : { requestId: evidence.origin.requestId }),
      ...(evidence.origin?.channel === undefined ? {} : { channel: evidence.origin.channel })
    }
  })
  const event: ConsentChanged = {
    _tag: "ConsentChanged",
    tenant: record.tenant,
    purpose,
    status,
    source: evidence.source,
    ...(ctx.logNumbers ? { to: record.to } : {}),
    at
  }
  yield* Events.publish(event)
})

/** Reads a record (an empty one when there is none), applies `f`, and stores the result when it changed. */
const modify = <A>(
  ctx: ConsentContext,
  to: string,
  tenant: string | undefined,
  f: (record: ConsentRecord) => readonly [A, ConsentRecord]
): Effect.Effect<readonly [A, ConsentRecord], ConsentError> =>
  ctx.lock.withPermits(1)(Effect.gen(function*() {
    const t = tenant ?? DEFAULT_TENANT
    const current = Option.getOrElse(yield* ctx.store.get(t, to), () => emptyRecord(to, t))
    const [a, next] = f(current)
    if (next !== current) yield* ctx.store.put(next)
    return [a, next] as const
  }))

const evidenceOf = (change: ConsentChange, source: string): Evidence => ({
  source: change.source ?? source,
  ...(change.text === undefined ? {} : { text: change.text }),
  ...(change.keyword === undefined ? {} : { keyword: change.keyword }),
  ...(change.origin === undefined ? {} : { origin: change.origin })
})

const setState = Effect.fnUntraced(function*(ctx: ConsentContext, change: ConsentChange, status: "granted" | "revoked") {
  const at = yield* now(change.at)
  const key = keyOf(change.purpose ?? "marketing", change.topic)
  const evidence = evidenceOf(change, "api")
  const [, record] = yield* modify(ctx, change.to, change.tenant, (r) => {
    const seq = r.seq + 1
    const pending = { ...r.pending }
    // A revocation cancels what was waiting for confirmation (all of it for `all`); a grant fulfils it.
    if (key === "all" && status === "revoked") for (const k of Object.keys(pending)) delete pending[k]
    else delete pending[key]
    return [undefined, { ...r, seq, pending, purposes: { ...r.purposes, [key]: { status, at, seq, evidence } } }] as const
  })
  yield* notify(ctx, record, key, status, evidence, at)
  return record
})

const check = (ctx: ConsentContext, request: CheckRequest): Effect.Effect<Decision, ConsentError> => {
  const at = request.at ?? request.now
  return at === undefined ? withNow((now) => decide(ctx, request, now)) : decide(ctx, request, at)
}

// Combinators rather than a generator: this runs for every message sent.
const decide = (ctx: ConsentContext, request: CheckRequest, at: number): Effect.Effect<Decision, ConsentError> => {
  const tenant = request.tenant ?? DEFAULT_TENANT
  return Effect.flatMap(ctx.store.get(tenant, request.to), (found) => {
    const record = Option.getOrUndefined(found)
    if (capOf(ctx.options, request.purpose) === undefined) {
      return Effect.fromResult(judge(ctx, request, at, record, undefined))
    }
    return Effect.flatMap(
      ctx.store.sends(tenant, request.to, request.purpose, at - WEEK),
      (sends) => Effect.fromResult(judge(ctx, request, at, record, sends))
    )
  })
}

/** The synchronous check of the send path, on a store that answers synchronously. */
const makeCore = (ctx: ConsentContext, storeCore: ConsentStoreCore): ConsentCore => ({
  check: (request, now) => {
    const at = request.at ?? request.now ?? now
    const tenant = request.tenant ?? DEFAULT_TENANT
    const sends = capOf(ctx.options, request.purpose) === undefined
      ? undefined
      : storeCore.sends(tenant, request.to, request.purpose, at - WEEK)
    return judge(ctx, request, at, storeCore.get(tenant, request.to), sends)
  }
})

/** The decision on a record and, when the purpose is capped, its recent sends. */
const judge = (
  ctx: ConsentContext,
  request: CheckRequest,
  at: number,
  record: ConsentRecord | undefined,
  sends: ReadonlyArray<number> | undefined
): Result.Result<Decision, ConsentError> => {
  const refusal = evaluate(record, request.purpose, request.topic, ctx.options)
  if (refusal !== undefined) return Result.fail(new ConsentError({ reason: refusal }))
  const cap = capOf(ctx.options, request.purpose)
  const exceeded = cap === undefined || sends === undefined ? undefined : capRefusal(request, at, sends, cap)
  return exceeded === undefined
    ? timing(ctx.schedule, request, at, record)
    : Result.fail(new ConsentError({ reason: exceeded }))
}

/** The purpose's frequency cap, when it has one: only then are sends counted and read. */
const capOf = (options: ConsentOptions, purpose: Purpose): FrequencyCap | undefined => {
  const cap = options.frequencyCaps?.[purpose]
  return cap === undefined || (cap.perDay === undefined && cap.perWeek === undefined) ? undefined : cap
}

const capRefusal = (request: CheckRequest, at: number, sends: ReadonlyArray<number>, cap: FrequencyCap) => {
  for (const [limit, span, name] of [[cap.perDay, DAY, "day"], [cap.perWeek, WEEK, "week"]] as const) {
    if (limit === undefined) continue
    const inWindow = sends.filter((s) => s > at - span && s <= at)
    if (inWindow.length >= limit) {
      // The window frees a slot when its oldest counted send leaves it.
      const oldest = inWindow[inWindow.length - limit] ?? at
      return new FrequencyCapExceeded({
        field: "to",
        purpose: request.purpose,
        window: name,
        limit,
        retryAfter: Duration.millis(Math.max(0, oldest + span - at))
      })
    }
  }
  return undefined
}

// Quiet hours, once the record and the caps let the message through.
const timing = (
  schedule: quietHours.Schedule,
  request: CheckRequest,
  at: number,
  record: ConsentRecord | undefined
): Result.Result<Decision, ConsentError> => {
  const zones = quietHours.zonesFor(schedule, record?.timeZone, request.country)
  const zone = zones[0] ?? schedule.defaultZone
  const quiet = schedule.quiet
  const until = quiet === undefined ? undefined : quietHours.until(quiet, request.purpose, request.country, zones, at)
  if (until === undefined) return Result.succeed({ _tag: "Allow", timeZone: zone })
  return quiet?.refuse === true
    ? Result.fail(new ConsentError({ reason: new QuietHours({ field: "to", until }) }))
    : Result.succeed({ _tag: "Defer", until, timeZone: zone })
}

const requestConfirmation = Effect.fnUntraced(function*(
  ctx: ConsentContext,
  change: ConsentChange
): Effect.gen.Return<ConfirmationRequest, ConsentError> {
  const at = yield* now(change.at)
  const key = keyOf(change.purpose ?? "marketing", change.topic)
  const text = change.text ??
    (ctx.options.confirmationText ?? "Reply YES to receive {purpose} messages. Reply STOP to opt out.").replaceAll(
      "{purpose}",
      change.topic ?? change.purpose ?? "marketing"
    )
  const evidence = evidenceOf({ ...change, text }, "double-opt-in")
  const [, record] = yield* modify(ctx, change.to, change.tenant, (r) => [
    undefined,
    { ...r, pending: { ...r.pending, [key]: { at, expiresAt: at + ctx.ttl, evidence } } }
  ])
  yield* notify(ctx, record, key, "pending", evidence, at)
  return { to: change.to, tenant: record.tenant, purpose: key, text, expiresAt: at + ctx.ttl, messagePurpose: "transactional" }
})

type ConfirmChange = Omit<ConsentChange, "purpose" | "topic" | "text">

const confirm = Effect.fnUntraced(function*(ctx: ConsentContext, change: ConfirmChange) {
  const at = yield* now(change.at)
  const [confirmed, record] = yield* modify(ctx, change.to, change.tenant, (r) => confirmPending(r, change, at))
  for (const [k, evidence] of confirmed) yield* notify(ctx, record, k, "granted", evidence, at)
  return confirmed.map(([k]) => k)
})

/** Grants every pending consent unexpired at `at` and clears the pending ones; answers what was granted. */
const confirmPending = (
  r: ConsentRecord,
  change: ConfirmChange,
  at: number
): readonly [ReadonlyArray<readonly [string, Evidence]>, ConsentRecord] => {
  const keys = Object.keys(r.pending).filter((k) => (r.pending[k]?.expiresAt ?? 0) > at)
  if (keys.length === 0 && Object.keys(r.pending).length === 0) return [[], r]
  let seq = r.seq
  const purposes: Record<string, PurposeState> = { ...r.purposes }
  const out: Array<readonly [string, Evidence]> = []
  for (const k of keys) {
    const p = r.pending[k]
    if (p === undefined) continue
    const evidence: Evidence = {
      source: "double-opt-in",
      ...(p.evidence.text === undefined ? {} : { text: p.evidence.text }),
      ...(change.keyword === undefined ? {} : { keyword: change.keyword }),
      ...(change.origin ?? p.evidence.origin) === undefined ? {} : { origin: change.origin ?? p.evidence.origin }
    }
    seq++
    purposes[k] = { status: "granted", at, seq, evidence }
    out.push([k, evidence])
  }
  return [out, { ...r, seq, purposes, pending: {} }]
}

const hasPending = Effect.fnUntraced(function*(ctx: ConsentContext, to: string, tenant: string | undefined) {
  const at = yield* Clock.currentTimeMillis
  const record = yield* ctx.store.get(tenant ?? DEFAULT_TENANT, to)
  return Option.isSome(record) && Object.values(record.value.pending).some((p) => p.expiresAt > at)
})

const setTimeZone = (
  ctx: ConsentContext,
  to: string,
  timeZone: string | undefined,
  tenant: string | undefined
): Effect.Effect<void, ConsentError> =>
  timeZone !== undefined && !time.isValidTimeZone(timeZone)
    ? Effect.fail(new ConsentError({ reason: new InvalidTimeZone({ field: "timeZone" }) }))
    : Effect.asVoid(modify(ctx, to, tenant, (r) => {
      const { timeZone: _, ...rest } = r
      return [undefined, timeZone === undefined ? rest : { ...rest, timeZone }] as const
    }))

/**
 * The consent service on the {@link ConsentStore} in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: ConsentOptions = {}): Layer.Layer<Consent, never, ConsentStore> =>
  Layer.effect(Consent, make(options))

/**
 * The local time zone the service uses for a country, from the runtime's ICU
 * data (the capital's zone for a country with several); `UTC` when unknown.
 *
 * @category utils
 * @since 0.1.0
 */
export const timeZoneForCountry = (country: string): string => time.timeZoneForCountry(country)

// store

/**
 * The memory store's synchronous core, for the send path (internal/cores.ts).
 *
 * @internal
 */
export interface ConsentStoreCore {
  readonly get: (tenant: string, to: string) => ConsentRecord | undefined
  readonly sends: (tenant: string, to: string, purpose: string, since: number) => ReadonlyArray<number>
}

/** @internal */
export const storeCores: CoreRegistry<ConsentStoreCore> = registry()

/**
 * Where consent records and send counts are kept: a few primitives, so that
 * Redis or SQL can replace the memory default.
 *
 * **Details**
 * `Consent` serialises its read-modify-write cycles within one process; a
 * shared backend should make `put` conditional on `seq` (compare-and-set) for
 * several processes. A backend that does not answer fails with the shared
 * `StoreUnavailable` (bound each call with `Store.guard`); the service
 * reports it as a {@link ConsentError} with that reason.
 *
 * @category services
 * @since 0.1.0
 */
export class ConsentStore extends Context.Service<ConsentStore, {
  readonly get: (tenant: string, to: string) => Effect.Effect<Option.Option<ConsentRecord>, StoreUnavailable>
  readonly put: (record: ConsentRecord) => Effect.Effect<void, StoreUnavailable>
  /** Counts one send of `purpose` at `at`. */
  readonly recordSend: (tenant: string, to: string, purpose: string, at: number) => Effect.Effect<void, StoreUnavailable>
  /** Times of the sends of `purpose` after `since`, oldest first. */
  readonly sends: (tenant: string, to: string, purpose: string, since: number) => Effect.Effect<ReadonlyArray<number>, StoreUnavailable>
  /**
   * Forgets `to` in `tenant` (`"default"` when absent): its record (choices,
   * evidence, pending confirmations, time zone) and the send times behind
   * its frequency caps. Answers whether a record was there.
   *
   * **Gotchas**
   * - Without a record, `Consent.check` refuses marketing (no grant) but lets
   *   transactional messages through: a removed opt-out of `all` no longer
   *   blocks them. Keep the record when the person asked not to be texted.
   */
  readonly remove: (to: string, tenant?: string) => Effect.Effect<boolean, StoreUnavailable>
}>()("smsforge/Consent/ConsentStore") {}

/**
 * The purposes whose send times a store keeps: the ones `Consent.record`
 * counts. Shared backends key send times by a digest of the purpose, so
 * `remove` deletes these.
 *
 * @category constants
 * @since 0.4.0
 */
export const countedPurposes: ReadonlyArray<Purpose> = ["transactional", "marketing"]

/**
 * Builds an in-memory store. Send times older than 8 days are dropped as new
 * ones arrive.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeStoreMemory: Effect.Effect<ConsentStore["Service"]> = Effect.sync(() => {
  // Records by tenant, then number: every send looks one up, and a joined key
  // would be a new string to hash each time.
  const records = new Map<string, Map<string, ConsentRecord>>()
  const sends = new Map<string, Array<number>>()
  const key = (tenant: string, to: string) => `${tenant}\u0000${to}`
  const core: ConsentStoreCore = {
    get: (tenant, to) => records.get(tenant)?.get(to),
    sends: (tenant, to, purpose, since) => (sends.get(`${key(tenant, to)}\u0000${purpose}`) ?? []).filter((t) => t > since)
  }
  const put = (record: ConsentRecord) => {
    let byNumber = records.get(record.tenant)
    if (byNumber === undefined) {
      byNumber = new Map()
      records.set(record.tenant, byNumber)
    }
    byNumber.set(record.to, record)
  }
  return storeCores.register(ConsentStore.of({
    get: (tenant, to) => Effect.sync(() => Option.fromUndefinedOr(core.get(tenant, to))),
    put: (record) => Effect.sync(() => put(record)),
    recordSend: (tenant, to, purpose, at) =>
      Effect.sync(() => {
        const k = `${key(tenant, to)}\u0000${purpose}`
        const list = (sends.get(k) ?? []).filter((t) => t > at - 8 * DAY)
        let i = list.length
        while (i > 0 && (list[i - 1] ?? 0) > at) i--
        list.splice(i, 0, at)
        sends.set(k, list)
      }),
    sends: (tenant, to, purpose, since) => Effect.sync(() => core.sends(tenant, to, purpose, since)),
    remove: (to, tenant = DEFAULT_TENANT) =>
      Effect.sync(() => {
        const prefix = `${key(tenant, to)}\u0000`
        // Every purpose, not only the counted ones: this store sees each purpose in clear.
        for (const k of [...sends.keys()]) if (k.startsWith(prefix)) sends.delete(k)
        const byNumber = records.get(tenant)
        const found = byNumber?.delete(to) ?? false
        if (byNumber !== undefined && byNumber.size === 0) records.delete(tenant)
        return found
      })
  }), core)
})

/**
 * An in-memory store, for tests and single-process applications.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerStoreMemory: Layer.Layer<ConsentStore> = Layer.effect(ConsentStore, makeStoreMemory)

/**
 * The consent service on an in-memory store: nothing to start.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory = (options: ConsentOptions = {}): Layer.Layer<Consent> =>
  layer(options).pipe(Layer.provide(layerStoreMemory))
