/**
 * Order and logistics notices: an order event becomes one template send to
 * the customer, in their language, at most once, and never backwards.
 *
 * **Details**
 * - The send's `idempotencyKey` is derived from platform, shop, order and
 *   stage (or exception id), so a platform's retried webhook reaches the
 *   pipeline's idempotency with the same key.
 * - Before sending, the order's progress is claimed in the
 *   {@link OrderProgress.OrderProgressStore} by compare-and-set: a second
 *   delivery of the same event answers `Duplicate`; an event of a stage at or
 *   before the one notified answers `Stale` (no "shipped" after
 *   "delivered"). A send that fails gives the claim back, so the platform's
 *   retry can succeed.
 * - The carriers' notice rules ({@link NoticeRules}) refuse before sending:
 *   marketing words, a Chinese body without its 【signature】, a template not
 *   approved, a variable over 80 characters.
 * - The locale is the event's (`zh-CN` reads as `zh-Hans`), else the one the
 *   customer's country speaks among the templates' languages, else English.
 * - Notices are transactional; the number is read with the contact's
 *   country, and never logged or put in an error.
 *
 * **Gotchas**
 * - Two events of one order arriving in the same instant are claimed in
 *   order, but their texts then travel concurrently, and carriers do not
 *   promise to deliver texts in the order they were sent.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { PhoneNumbers, type Templates } from "smsforge"
import { checkTemplate, checkVariables, MarketingWords, MissingSignature, NotApproved, VariableTooLong } from "./NoticeRules.ts"
import type { NoticeTemplateId } from "./NoticeTemplates.ts"
import { type Contact, type OrderEvent, rankOf, type Stage, stages } from "./OrderEvents.ts"
import { digest, OrderProgressStore, type Progress, ProgressStoreUnavailable } from "./OrderProgress.ts"

// models

/**
 * The send a notice makes; a `SendInput` of `createSmsClient`.
 *
 * @category models
 * @since 0.3.0
 */
export interface NoticeRequest {
  readonly to: string
  readonly template: string
  readonly variables: Readonly<Record<string, string>>
  readonly locale?: string
  readonly purpose: "transactional"
  readonly idempotencyKey: string
  readonly metadata: Readonly<Record<string, string>>
}

/**
 * Where notices are sent: the Promise client (`createSmsClient(…)`) fits as
 * it is, or any object with this method.
 *
 * @category models
 * @since 0.3.0
 */
export interface NoticeClient {
  readonly send: (request: NoticeRequest) => Promise<{ readonly id: string; readonly status: string }>
}

/**
 * What became of an event.
 *
 * @category models
 * @since 0.3.0
 */
export type NoticeOutcome =
  | { readonly _tag: "Sent"; readonly stage: Stage; readonly messageId: string; readonly idempotencyKey: string }
  | { readonly _tag: "Duplicate"; readonly stage: Stage }
  | { readonly _tag: "Stale"; readonly stage: Stage }
  | { readonly _tag: "Skipped"; readonly stage: Stage; readonly why: "stage-off" | "no-contact" }

/**
 * @category models
 * @since 0.3.0
 */
export interface NoticesOptions {
  readonly client: NoticeClient
  /** The templates the client was given (`noticeTemplates({ brand })`, or your own with the same ids). */
  readonly templates: ReadonlyArray<Templates.TemplateDefinition>
  /** Stages that send a notice; all by default. The others still advance the order. */
  readonly stages?: ReadonlyArray<Stage> | undefined
  /** How long an order's progress is kept, in ms; 180 days by default. */
  readonly retention?: number | undefined
}

// errors

/**
 * The number on the order cannot be read.
 *
 * @category errors
 * @since 0.3.0
 */
export class InvalidRecipient extends Schema.TaggedError<InvalidRecipient>("smsforge/commerce/InvalidRecipient")(
  "InvalidRecipient",
  { field: Schema.String }
) {}

/**
 * The client refused or failed the send; `tag` is its reason's tag, and
 * `retryable` whether trying again later can succeed (the reason's own
 * `isRetryable` when it has one).
 *
 * @category errors
 * @since 0.3.0
 */
export class SendFailed extends Schema.TaggedError<SendFailed>("smsforge/commerce/SendFailed")("SendFailed", {
  tag: Schema.String,
  retryable: Schema.Boolean
}) {}

/**
 * @category errors
 * @since 0.3.0
 */
export const NoticeErrorReason = Schema.Union([
  MarketingWords,
  MissingSignature,
  NotApproved,
  VariableTooLong,
  InvalidRecipient,
  SendFailed,
  ProgressStoreUnavailable
])

/**
 * @category errors
 * @since 0.3.0
 */
export type NoticeErrorReason = typeof NoticeErrorReason.Type

/**
 * A notice could not be sent; `reason` says why, never the number.
 *
 * @category errors
 * @since 0.3.0
 */
export class NoticeError extends Schema.TaggedError<NoticeError>("smsforge/commerce/NoticeError")("NoticeError", {
  stage: Schema.String,
  reason: NoticeErrorReason
}) {
  override get message(): string {
    const r = this.reason
    return `NoticeError: ${this.stage}: ${r._tag}${"field" in r ? ` (${r.field})` : "template" in r ? ` (${r.template})` : ""}`
  }
  get isRetryable(): boolean {
    return this.reason._tag === "SendFailed" ? this.reason.retryable : this.reason._tag === "ProgressStoreUnavailable"
  }
}

// service

/**
 * @category services
 * @since 0.3.0
 */
export class Notices extends Context.Service<Notices, {
  /** Sends the notice an event calls for, at most once and never backwards. */
  readonly notify: (event: OrderEvent) => Effect.Effect<NoticeOutcome, NoticeError>
}>()("smsforge/commerce/Notices") {}

// make

const LOCALE_OF_COUNTRY: Readonly<Record<string, string>> = {
  CN: "zh-Hans", SG: "zh-Hans", DE: "de", AT: "de", LI: "de", FR: "fr", BE: "fr", LU: "fr", MC: "fr",
  ES: "es", MX: "es", AR: "es", CO: "es", CL: "es", PE: "es", UY: "es", EC: "es", JP: "ja"
}

/**
 * The locale a notice is rendered in.
 *
 * @category utils
 * @since 0.3.0
 */
export const localeFor = (contact: Contact | undefined): string | undefined => {
  const locale = contact?.locale?.replace("_", "-")
  if (locale !== undefined && /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$/.test(locale)) {
    // Templates fall back zh-CN → zh → default; the bodies are under zh-Hans.
    return /^zh(?:$|-(?:CN|SG|Hans))/i.test(locale) ? "zh-Hans" : locale
  }
  const country = contact?.country?.toUpperCase()
  return country === undefined ? undefined : LOCALE_OF_COUNTRY[country]
}

/**
 * The idempotency key of an event's notice: a digest of platform, shop,
 * order and stage (or exception id), with no personal data in it.
 *
 * @category utils
 * @since 0.3.0
 */
export const idempotencyKeyOf = (event: OrderEvent): string =>
  `commerce:${digest(JSON.stringify([event.platform, event.shop, event.orderId, stageKey(event)]))}`

const stageKey = (event: OrderEvent): string =>
  event.stage === "exception" ? `exception:${event.eventId ?? "-"}` : event.stage

const DELIVERED = stages.indexOf("delivered")

/** `undefined` when the event may be notified, else why not. */
const verdict = (progress: Progress, event: OrderEvent): "Duplicate" | "Stale" | undefined => {
  if (progress.sent.includes(stageKey(event))) return "Duplicate"
  const rank = rankOf(event.stage)
  if (rank === undefined) return progress.rank >= DELIVERED ? "Stale" : undefined
  return rank <= progress.rank ? "Stale" : undefined
}

const mergeContact = (known: Contact | undefined, seen: Contact | undefined): Contact | undefined => {
  if (seen === undefined) return known
  const out: { -readonly [K in keyof Contact]: Contact[K] } = { ...known }
  for (const [k, v] of Object.entries(seen) as Array<[keyof Contact, string | undefined]>) if (v !== undefined) out[k] = v
  return out
}

const templateFor = (event: OrderEvent): NoticeTemplateId =>
  event.stage === "fulfilled" && event.tracking?.number !== undefined && event.tracking.carrier !== undefined
    ? "commerce-fulfilled-tracked"
    : `commerce-${event.stage}`

const variablesFor = (event: OrderEvent, template: NoticeTemplateId): Record<string, string> => {
  const order = event.orderName ?? event.orderId
  return template === "commerce-fulfilled-tracked"
    ? { order, carrier: event.tracking?.carrier ?? "", tracking: event.tracking?.number ?? "" }
    : { order }
}

const EMPTY: Progress = { rank: -1, sent: [] }

// Refusals no later attempt can change; anything else (a carrier outage, a timeout) is worth a retry.
const PERMANENT = new Set([
  "InvalidRequest", "InvalidPhoneNumber", "CountryNotAllowed", "NumberTypeNotAllowed", "TemplateNotFound",
  "InvalidTemplateVariables", "TemplateNotApproved", "ConsentRequired", "OptedOut"
])

const sendFailed = (error: unknown): SendFailed => {
  const e = typeof error === "object" && error !== null ? error as { readonly _tag?: unknown; readonly isRetryable?: unknown } : {}
  const tag = typeof e._tag === "string" && /^[A-Za-z]{1,64}$/.test(e._tag) ? e._tag : "Unknown"
  return new SendFailed({ tag, retryable: typeof e.isRetryable === "boolean" ? e.isRetryable : !PERMANENT.has(tag) })
}

/**
 * Builds the notices on the {@link OrderProgressStore} in context.
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = Effect.fnUntraced(function*(options: NoticesOptions) {
  const store = yield* OrderProgressStore
  const client = options.client
  const enabled = new Set<Stage>(options.stages ?? [...stages, "exception"])
  const retention = options.retention ?? 180 * 24 * 3600_000
  const problems = new Map(options.templates.map((t) => [t.id, checkTemplate(t)] as const))

  const fail = (event: OrderEvent, reason: NoticeErrorReason) => new NoticeError({ stage: event.stage, reason })

  const prepare = (event: OrderEvent, contact: Contact | undefined): Result.Result<NoticeRequest, NoticeErrorReason> => {
    const template = templateFor(event)
    const problem = problems.has(template) ? problems.get(template) : new NotApproved({ template })
    if (problem !== undefined) return Result.fail(problem)
    const variables = variablesFor(event, template)
    const tooLong = checkVariables(variables)
    if (tooLong !== undefined) return Result.fail(tooLong)
    const parsed = PhoneNumbers.parse(contact?.phone ?? "", { defaultCountry: contact?.country, field: "contact.phone" })
    if (Result.isFailure(parsed)) return Result.fail(new InvalidRecipient({ field: "contact.phone" }))
    const locale = localeFor(contact)
    const request: NoticeRequest = {
      to: parsed.success.e164,
      template,
      variables,
      ...(locale === undefined ? {} : { locale }),
      purpose: "transactional",
      idempotencyKey: idempotencyKeyOf(event),
      metadata: { notice: event.stage }
    }
    return Result.succeed(request)
  }

  const send = (event: OrderEvent, request: NoticeRequest) =>
    Effect.tryPromise({
      try: () => client.send(request),
      catch: (error) => fail(event, sendFailed(error))
    })

  // One attempt of read → decide → claim; `undefined` when another writer won the race.
  const attempt = Effect.fnUntraced(function*(event: OrderEvent, key: string) {
    const current = yield* store.get(key)
    const progress = Option.match(current, { onNone: () => EMPTY, onSome: (v) => v.progress })
    const version = Option.match(current, { onNone: () => undefined, onSome: (v) => v.version })
    const seen = verdict(progress, event)
    if (seen !== undefined) return { outcome: { _tag: seen, stage: event.stage } as NoticeOutcome }
    const contact = mergeContact(progress.contact, event.contact)
    const rank = rankOf(event.stage)
    const next: Progress = {
      rank: rank === undefined ? progress.rank : Math.max(rank, progress.rank),
      sent: [...progress.sent, stageKey(event)],
      ...(contact === undefined ? {} : { contact })
    }
    const now = yield* Clock.currentTimeMillis
    if (!enabled.has(event.stage) || contact?.phone === undefined) {
      const written = yield* store.set(key, withSubject(next), { expectedVersion: version, expiresAt: now + retention })
      const why = !enabled.has(event.stage) ? "stage-off" as const : "no-contact" as const
      return written ? { outcome: { _tag: "Skipped", stage: event.stage, why } as NoticeOutcome } : undefined
    }
    const request = prepare(event, contact)
    if (Result.isFailure(request)) return yield* Effect.fail(fail(event, request.failure))
    const claimed = { ...next, subject: digest(request.success.to) }
    if (!(yield* store.set(key, claimed, { expectedVersion: version, expiresAt: now + retention }))) return undefined
    const claimedVersion = version === undefined ? 0 : version + 1
    const receipt = yield* send(event, request.success).pipe(
      // Give the claim back (only if nobody wrote since), so the platform's retry can send.
      Effect.tapError(() => store.set(key, progress, { expectedVersion: claimedVersion, expiresAt: now + retention }).pipe(Effect.ignore))
    )
    return {
      outcome: { _tag: "Sent", stage: event.stage, messageId: receipt.id, idempotencyKey: request.success.idempotencyKey } as NoticeOutcome
    }
  })

  const notify = (event: OrderEvent): Effect.Effect<NoticeOutcome, NoticeError> =>
    Effect.gen(function*() {
      const key = digest(JSON.stringify([event.platform, event.shop, event.orderId]))
      for (let i = 0; i < 16; i++) {
        const done = yield* attempt(event, key)
        if (done !== undefined) return done.outcome
      }
      return yield* Effect.fail(fail(event, new ProgressStoreUnavailable({ operation: "claim" })))
    }).pipe(
      Effect.catchTag("ProgressStoreUnavailable", (e) => Effect.fail(fail(event, e))),
      Effect.withSpan("smsforge/commerce/Notices.notify", { attributes: { stage: event.stage, platform: event.platform } })
    )

  return Notices.of({ notify })
})

/** A record remembers the subject's digest only once its number is known and readable. */
const withSubject = (progress: Progress): Progress => {
  const phone = progress.contact?.phone
  if (phone === undefined) return progress
  const parsed = PhoneNumbers.parse(phone, { defaultCountry: progress.contact?.country })
  return Result.isSuccess(parsed) ? { ...progress, subject: digest(parsed.success.e164) } : progress
}

/**
 * @category layers
 * @since 0.3.0
 */
export const layer = (options: NoticesOptions): Layer.Layer<Notices, never, OrderProgressStore> =>
  Layer.effect(Notices, make(options))
