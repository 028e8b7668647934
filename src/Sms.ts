/**
 * The send pipeline: a request goes in, a receipt or a typed failure comes out.
 *
 * **Details**
 * - `send` decodes the request, normalises the recipient, applies idempotency,
 *   consent, templates and encoding, hands the message to the router and
 *   records every status change in the MessageStore and on the Events bus.
 * - `sendAt` in the future stores the message and sends it at that time on
 *   the Effect clock; `cancel` stops it.
 * - Delivery receipts and replies come back through `deliveryReceipt` and
 *   `inbound` (or a transport's own connection) and move statuses only forward.
 * - `Sms.layer(config)` builds the whole pipeline with in-memory stores;
 *   `Sms.layerPipeline(config)` leaves the stores to you.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as RateLimiter from "effect/persistence/RateLimiter"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as Audit from "./Audit.ts"
import * as Consent from "./Consent.ts"
import * as Encoding from "./Encoding.ts"
import * as Events from "./Events.ts"
import * as Idempotency from "./Idempotency.ts"
import * as Inbound from "./Inbound.ts"
import { currentMillis, withNow } from "./internal/clock.ts"
import { randomId } from "./internal/random.ts"
import * as MessageStore from "./MessageStore.ts"
import * as PhoneNumbers from "./PhoneNumbers.ts"
import type * as Retry from "./Retry.ts"
import * as Router from "./Router.ts"
import * as SendRequest from "./SendRequest.ts"
import * as Templates from "./Templates.ts"
import * as Transport from "./Transport.ts"
import * as Verification from "./Verification.ts"

// models

/**
 * What `send` answers.
 *
 * @category models
 * @since 0.1.0
 */
export interface Receipt {
  readonly id: string
  readonly status: MessageStore.MessageStatus
  /** E.164. */
  readonly to: string
  readonly country: string
  readonly encoding: Transport.MessageEncoding
  readonly segmentCount: number
  /** The route that carried the message; absent until it was submitted. */
  readonly route?: string | undefined
  readonly transport?: string | undefined
  readonly providerMessageId?: string | undefined
  /** Submissions made, retries and failovers included. */
  readonly attempts: number
  /** Epoch milliseconds, for scheduled messages. */
  readonly sendAt?: number | undefined
}

/**
 * One entry of `sendBatch`'s answer, in the order of the requests.
 *
 * @category models
 * @since 0.1.0
 */
export type BatchResult =
  | { readonly ok: true; readonly receipt: Receipt }
  | { readonly ok: false; readonly error: SmsError }

/**
 * What happened to a delivery receipt.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReceiptOutcome {
  /** `applied`: the status moved; `ignored`: duplicate or out of order; `pending`: no message yet. */
  readonly outcome: "applied" | "ignored" | "pending"
  readonly messageId?: string | undefined
  readonly status?: MessageStore.MessageStatus | undefined
}

/**
 * The pipeline's configuration.
 *
 * @category models
 * @since 0.1.0
 */
export interface SmsConfig {
  /** Carriers, in priority order. Without them the `Transport` service is used. */
  readonly transports?: ReadonlyArray<Transport.Transport | Effect.Effect<Transport.Transport, unknown, Scope.Scope>> | undefined
  /** Routing rules (see the Router module); one route per transport when absent. Unknown keys are refused. */
  readonly routing?: Router.RoutingRulesInput | undefined
  /** Retries on one route before failing over; default 3 submissions, 200 ms doubling, 20 % jitter. */
  readonly retry?: Retry.PolicyOptions | undefined
  /** Consecutive failures that open a route's circuit (default 5), and how long it stays open (default 30 s). */
  readonly circuitBreaker?: {
    readonly failures?: number | undefined
    readonly openDuration?: Duration.Input | undefined
  } | undefined
  /** Country for numbers written in national format, ISO 3166 alpha-2. */
  readonly defaultCountry?: string | undefined
  readonly numbers?: PhoneNumbers.PhoneNumberPolicy | undefined
  /** Replace typographic look-alikes so a text stays GSM-7. Default `false`. */
  readonly smartEncoding?: boolean | undefined
  /** Longest message accepted, in segments. Default 10. */
  readonly maxSegments?: number | undefined
  /** How long an idempotency key holds. Default 24 hours. */
  readonly idempotencyWindow?: Duration.Input | undefined
  /** How long carriers keep trying when a request names no validity. Default 48 hours. */
  readonly validity?: Duration.Input | undefined
  /** Requests of a batch in flight at once. Default 16. */
  readonly batchConcurrency?: number | undefined
  /** How often messages past their validity without a final receipt are expired. Default 1 minute. */
  readonly expirySweep?: Duration.Input | undefined
  readonly templates?: ReadonlyArray<Templates.TemplateDefinition> | undefined
  readonly messages?: MessageStore.MemoryStoreOptions | undefined
  readonly consent?: Consent.ConsentOptions | undefined
  readonly inbound?: Inbound.InboundOptions | undefined
  readonly verification?: Verification.VerificationOptions | undefined
  /**
   * Records status changes, consent changes, routing outcomes and blocks in a
   * hash-chained audit log. Off by default: an audit log grows with traffic,
   * so pair it with `retention` and a durable store.
   */
  readonly audit?: Audit.AuditOptions | undefined
}

// errors

/**
 * A scheduled message can no longer be canceled.
 *
 * @category errors
 * @since 0.1.0
 */
export class NotCancelable extends Schema.TaggedError<NotCancelable>("smsforge/Sms/NotCancelable")("NotCancelable", {
  field: Schema.String,
  status: Schema.String
}) {}

/**
 * A message that went through every route without being accepted, retried
 * again, or a receipt that cannot be read.
 *
 * @category errors
 * @since 0.1.0
 */
export const SmsErrorReason = Schema.Union([
  SendRequest.InvalidRequest,
  MessageStore.MessageNotFound,
  NotCancelable,
  ...PhoneNumbers.PhoneNumberErrorReason.members,
  ...Templates.TemplateErrorReason.members,
  ...Consent.ConsentErrorReason.members,
  ...Router.RoutingErrorReason.members
])

/**
 * @category errors
 * @since 0.1.0
 */
export type SmsErrorReason = typeof SmsErrorReason.Type

/**
 * Why a request was not sent. `reason._tag` names it: `InvalidRequest`,
 * `InvalidPhoneNumber`, `ConsentRequired`, `TemplateNotFound`,
 * `AllRoutesFailed` and so on.
 *
 * @category errors
 * @since 0.1.0
 */
export class SmsError extends Schema.TaggedError<SmsError>("smsforge/SmsError")("SmsError", {
  reason: SmsErrorReason
}) {
  override get message(): string {
    return this.reason.message
  }
}

const fail = (reason: SmsErrorReason) => Effect.fail(new SmsError({ reason }))

// A request is untrusted input: a getter or a Proxy that throws while it is
// read is that request's InvalidRequest, never a defect.
const unreadable = (field: string) => new SendRequest.InvalidRequest({ field, problem: "not readable" })
const decodeGuarded = (input: unknown): Result.Result<SendRequest.DecodedRequest, SendRequest.InvalidRequest> => {
  try {
    return SendRequest.decode(input)
  } catch {
    return Result.fail(unreadable("request"))
  }
}

// A string, a number or a plain object is not a batch; an array's items are
// copied first so a throwing Proxy fails the batch before anything is sent.
const readBatch = (requests: unknown): Result.Result<ReadonlyArray<unknown>, SendRequest.InvalidRequest> => {
  try {
    return Array.isArray(requests)
      ? Result.succeed(Array.from(requests))
      : Result.fail(new SendRequest.InvalidRequest({ field: "requests", problem: "not an array" }))
  } catch {
    return Result.fail(unreadable("requests"))
  }
}

// service

/**
 * The pipeline.
 *
 * @category services
 * @since 0.1.0
 */
export class Sms extends Context.Service<Sms, {
  /** Sends one message. The request is untrusted input: anything malformed is an `InvalidRequest`. */
  readonly send: (request: unknown) => Effect.Effect<Receipt, SmsError>
  /**
   * Sends many; one result per request, in order. One bad request never fails the others;
   * anything but an array fails whole with `InvalidRequest` (field `requests`), nothing sent.
   */
  readonly sendBatch: (requests: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<BatchResult>, SmsError>
  /** A stored message with its status history. */
  readonly get: (id: string) => Effect.Effect<MessageStore.StoredMessage, SmsError>
  /** Cancels a message that waits for its `sendAt`. */
  readonly cancel: (id: string) => Effect.Effect<MessageStore.StoredMessage, SmsError>
  /** Feeds a delivery receipt in. */
  readonly deliveryReceipt: (report: unknown) => Effect.Effect<ReceiptOutcome, SmsError>
  /** Feeds a reply in: keywords change consent and the confirmation goes out. */
  readonly inbound: (message: unknown) => Effect.Effect<Inbound.InboundResult, SmsError>
  /** Messages that ended `failed`, oldest first. */
  readonly deadLetters: (options?: { readonly limit?: number | undefined }) => Effect.Effect<ReadonlyArray<MessageStore.StoredMessage>>
  /** Sends a failed message again as a new message. */
  readonly retry: (id: string) => Effect.Effect<Receipt, SmsError>
}>()("smsforge/Sms") {}

const toReceipt = (message: MessageStore.StoredMessage): Receipt => ({
  id: message.id,
  status: message.status,
  to: message.to,
  country: message.country,
  encoding: message.encoding,
  segmentCount: message.segmentCount,
  route: message.route,
  transport: message.transport,
  providerMessageId: message.providerMessageId,
  attempts: message.attempts,
  sendAt: message.sendAt
})

const deliveryToStatus: Record<Transport.DeliveryStatus, MessageStore.MessageStatus | undefined> = {
  enroute: undefined,
  delivered: "delivered",
  undelivered: "undelivered",
  expired: "expired",
  rejected: "rejected",
  failed: "failed"
}

const ReportInput = Schema.Struct({
  providerMessageId: Schema.String.check(Schema.isMinLength(1)),
  transport: Schema.String.check(Schema.isMinLength(1)),
  status: Schema.String.check(Schema.isMinLength(1)),
  errorCode: Schema.optional(Schema.String),
  at: Schema.optional(Schema.Union([Schema.Finite, Schema.String, Schema.Date]))
})
const decodeReport = Schema.decodeUnknownResult(ReportInput)

const fingerprint = (request: SendRequest.DecodedRequest, to: string): string =>
  createHash("sha256")
    .update(JSON.stringify([to, request.content, request.from, request.purpose, request.sendAt, request.metadata]))
    .digest("base64url")

interface SendOptions {
  /** The confirmation of an opt-out goes even to the person who opted out. */
  readonly bypassConsent: boolean
  /** One-time codes, which some region rules limit per number. */
  readonly verification: boolean
}
const plain: SendOptions = { bypassConsent: false, verification: false }

const newId = (): string => randomId("msg_", 16)

// The pipeline and, for the verification sender, its send with the
// verification purpose, which the public service does not offer.
const build = Effect.fnUntraced(function*(
  config: SmsConfig,
  transports: ReadonlyArray<Transport.Transport>
) {
  const phones = yield* PhoneNumbers.PhoneNumbers
  const templates = yield* Templates.Templates
  const router = yield* Router.Router
  const store = yield* MessageStore.MessageStore
  const keys = yield* Idempotency.IdempotencyStore
  const consent = yield* Effect.serviceOption(Consent.Consent)
  const inboundService = yield* Inbound.Inbound
  const logNumbers = yield* Events.LogPhoneNumbers
  const events = yield* Effect.serviceOption(Events.Events)
  const scheduled = yield* FiberMap.make<string>()

  const maxSegments = config.maxSegments ?? 10
  const idempotencyWindow = Duration.fromInputUnsafe(config.idempotencyWindow ?? "24 hours")
  const defaultValidity = Duration.toMillis(config.validity ?? "48 hours")
  const concurrency = config.batchConcurrency ?? 16
  const smartEncoding = config.smartEncoding ?? false
  const policy = config.numbers ?? {}
  const validateOptions = { policy, ...(config.defaultCountry === undefined ? {} : { defaultCountry: config.defaultCountry }) }
  const withReceipts = new Set(transports.filter((t) => t.capabilities.deliveryReceipts).map((t) => t.name))
  const byName = new Map(transports.map((t) => [t.name, t]))
  // Sends are counted only for purposes with a frequency cap, so memory does not grow otherwise.
  const capped = new Set(Object.keys(config.consent?.frequencyCaps ?? {}))
  // Sends in flight by message id, so a racing duplicate waits for the first outcome.
  const inflight = new Map<string, Deferred.Deferred<Receipt, SmsError>>()
  // Receipts that arrived before their submit answer, by transport and provider id.
  const early = new Map<string, { readonly report: Transport.DeliveryReport; readonly keptUntil: number }>()

  const publish = (event: Events.SmsEvent) =>
    events._tag === "Some" ? events.value.publish(event) : Effect.void

  const statusEvent = (
    message: MessageStore.StoredMessage,
    change: MessageStore.StatusChange | undefined,
    previous: MessageStore.MessageStatus | undefined
  ): Events.SmsEvent => ({
    _tag: "StatusChanged",
    messageId: message.id,
    tenant: message.tenant,
    status: change?.status ?? message.status,
    previous,
    reason: change?.reason,
    route: message.route,
    to: logNumbers ? message.to : undefined,
    at: change?.at ?? message.createdAt
  })

  const statusChanged = (
    message: MessageStore.StoredMessage,
    change: MessageStore.StatusChange | undefined,
    previous: MessageStore.MessageStatus | undefined
  ) => publish(statusEvent(message, change, previous))

  const changed = (message: MessageStore.StoredMessage, previous?: MessageStore.MessageStatus) =>
    statusChanged(message, message.history[message.history.length - 1], previous)

  // A new message's events: one per status in its history (accepted, and queued when it goes now).
  const inserted = (message: MessageStore.StoredMessage) => {
    const [first, second] = message.history
    return second === undefined
      ? statusChanged(message, first, undefined)
      : Effect.andThen(statusChanged(message, first, undefined), statusChanged(message, second, first?.status))
  }

  const moveAt = (
    message: MessageStore.StoredMessage,
    status: MessageStore.MessageStatus,
    at: number,
    patch?: MessageStore.MessagePatch,
    reason?: string
  ) => Effect.tap(store.transition(message.id, { status, at, reason }, patch), (next) => changed(next, message.status))

  const move = (
    message: MessageStore.StoredMessage,
    status: MessageStore.MessageStatus,
    patch?: MessageStore.MessagePatch,
    reason?: string
  ) => withNow((at) => moveAt(message, status, at, patch, reason))

  const applyReport: (
    message: MessageStore.StoredMessage,
    report: Transport.DeliveryReport
  ) => Effect.Effect<ReceiptOutcome> = Effect.fnUntraced(
    function*(message: MessageStore.StoredMessage, report: Transport.DeliveryReport) {
      const status = deliveryToStatus[report.status]
      if (status === undefined) return { outcome: "ignored", messageId: message.id, status: message.status } as const
      let target: MessageStore.MessageStatus = status
      const parts = message.segmentIds
      if (parts !== undefined && parts.length > 1 && parts.includes(report.providerMessageId)) {
        const statuses = { ...message.segmentStatuses, [report.providerMessageId]: status }
        const annotated = yield* Effect.orDie(store.annotate(message.id, { segmentStatuses: statuses }))
        const failedPart = parts.map((id) => statuses[id]).find((s) => s !== undefined && s !== "delivered")
        if (failedPart !== undefined) target = failedPart
        else if (parts.every((id) => statuses[id] === "delivered")) target = "delivered"
        else return { outcome: "applied", messageId: message.id, status: annotated.status } as const
      }
      const moved = yield* Effect.result(move(message, target, undefined, report.errorCode ?? report.providerStatus))
      return Result.isSuccess(moved)
        ? { outcome: "applied", messageId: message.id, status: moved.success.status } as const
        : { outcome: "ignored", messageId: message.id, status: message.status } as const
    }
  )

  const earlyKey = (transport: string, id: string) => `${transport}\u0000${id}`

  const receive: (report: Transport.DeliveryReport) => Effect.Effect<ReceiptOutcome> = Effect.fnUntraced(
    function*(report: Transport.DeliveryReport) {
      const found = yield* store.findByProviderId(report.transport, report.providerMessageId)
      if (Option.isSome(found)) return yield* applyReport(found.value, report)
      const now = yield* Clock.currentTimeMillis
      for (const [key, entry] of early) {
        if (entry.keptUntil > now && early.size < 10_000) break
        early.delete(key)
      }
      early.set(earlyKey(report.transport, report.providerMessageId), { report, keptUntil: now + 10 * 60_000 })
      return { outcome: "pending" } as const
    }
  )

  const applyEarlyReports = Effect.fnUntraced(function*(message: MessageStore.StoredMessage, transport: string) {
    for (const id of [message.providerMessageId, ...(message.segmentIds ?? [])]) {
      if (id === undefined) continue
      const key = earlyKey(transport, id)
      const entry = early.get(key)
      if (entry === undefined) continue
      early.delete(key)
      const current = yield* store.get(message.id)
      if (Option.isSome(current)) yield* applyReport(current.value, entry.report)
    }
  })
  const applyEarly = (message: MessageStore.StoredMessage): Effect.Effect<void> =>
    early.size === 0 || message.transport === undefined ? Effect.void : applyEarlyReports(message, message.transport)

  // Every refusal becomes an SmsError once, where a send ends, not at each step.
  const toSmsError = (error: SmsError | { readonly reason: SmsErrorReason }): SmsError =>
    error instanceof SmsError ? error : new SmsError({ reason: error.reason })

  // `text` is what goes to the carrier: a stored message may hold a placeholder.
  const routeRequestOf = (
    queued: MessageStore.StoredMessage,
    text: string,
    number: PhoneNumbers.PhoneNumber,
    template: Templates.Rendered | undefined,
    options: SendOptions
  ): Router.RouteRequest => ({
    messageId: queued.id,
    to: number,
    purpose: options.verification ? "verification" : queued.purpose,
    tenant: queued.tenant,
    from: queued.from,
    text,
    segmentCount: queued.segmentCount,
    encoding: queued.encoding,
    validUntil: queued.validUntil,
    template: template === undefined ? undefined : { id: template.id, approved: template.approved }
  })

  const submissionOf = (
    queued: MessageStore.StoredMessage,
    text: string,
    segments: ReadonlyArray<string>,
    template: Templates.Rendered | undefined
  ): Router.DispatchSubmission => ({
    to: queued.to,
    from: queued.from,
    text,
    segments,
    encoding: queued.encoding,
    validUntil: queued.validUntil,
    clientReference: queued.id,
    purpose: queued.purpose,
    template: template === undefined ? undefined : {
      id: template.id,
      version: template.version,
      providerTemplateCode: template.providerTemplateCode,
      variables: template.variables
    }
  })

  /** The status change a dispatch ends in. */
  const settlementOf = (result: Result.Result<Router.Dispatch, Router.RoutingError>) => {
    if (Result.isFailure(result)) {
      const error = result.failure
      return {
        status: "failed",
        patch: { attempts: Router.attemptsOf(error), decisions: Router.decisionsOf(error) },
        reason: error.reason._tag
      } as const
    }
    const sent = result.success
    return {
      status: "submitted",
      patch: {
        route: sent.route,
        transport: sent.transport,
        from: sent.from,
        providerMessageId: sent.providerMessageId,
        segmentIds: sent.segmentIds,
        attempts: sent.attempts,
        decisions: sent.decisions
      },
      reason: undefined
    } as const
  }

  // Hands a queued message to the router with the text to send (a message
  // that carried a code stores a placeholder); what `accept` already knows on
  // the immediate path (the recipient and the segments) is passed along.
  const dispatch = Effect.fnUntraced(function*(
    queued: MessageStore.StoredMessage,
    text: string,
    template: Templates.Rendered | undefined,
    options: SendOptions,
    known?: { readonly number: PhoneNumbers.PhoneNumber; readonly segments: ReadonlyArray<string> }
  ) {
    const number = known?.number ?? (yield* Effect.orDie(phones.normalize(queued.to)))
    const segments = known?.segments ?? Encoding.analyze(text, { smartEncoding: false }).segments
    const result = yield* Effect.result(router.dispatch(routeRequestOf(queued, text, number, template, options), submissionOf(queued, text, segments, template)))
    const settled = settlementOf(result)
    const next = yield* Effect.orDie(move(queued, settled.status, settled.patch, settled.reason))
    if (Result.isFailure(result)) return yield* result.failure
    yield* applyEarly(next)
    if (consent._tag === "Some" && capped.has(next.purpose)) {
      yield* consent.value.record(next.to, next.purpose, next.history[next.history.length - 1]?.at, next.tenant)
    }
    return toReceipt(next)
  })

  // Moves a scheduled (or retried) message to queued, then dispatches it.
  const dispatchLater = (
    message: MessageStore.StoredMessage,
    text: string,
    template: Templates.Rendered | undefined,
    options: SendOptions
  ) => Effect.flatMap(Effect.orDie(move(message, "queued")), (queued) => dispatch(queued, text, template, options))

  // A message sent now is stored once, already queued: one write instead of
  // two, with the same history.
  const messageOf = (
    request: SendRequest.DecodedRequest,
    number: PhoneNumbers.PhoneNumber,
    analysis: Encoding.Analysis,
    rendered: Templates.Rendered | undefined,
    id: string,
    now: number,
    sendAt: number | undefined,
    options: SendOptions
  ): MessageStore.StoredMessage => ({
    id,
    tenant: request.tenant,
    to: number.e164,
    country: number.country,
    from: request.from,
    purpose: request.purpose,
    // A one-time code reaches the carrier and is kept nowhere else.
    text: options.verification ? MessageStore.withheldText : analysis.text,
    withheld: options.verification ? true : undefined,
    encoding: analysis.encoding,
    segmentCount: analysis.segments.length,
    template: rendered === undefined ? undefined : { id: rendered.id, version: rendered.version, locale: rendered.locale },
    status: sendAt === undefined ? "queued" : "accepted",
    history: sendAt === undefined ? [{ status: "accepted", at: now }, { status: "queued", at: now }] : [{ status: "accepted", at: now }],
    // Present from the start, though undefined: a status change that adds
    // keys to a message this wide turns the copy into a slow dictionary
    // object (about 6 µs a change instead of 0.5 µs).
    route: undefined,
    transport: undefined,
    providerMessageId: undefined,
    segmentIds: undefined,
    segmentStatuses: undefined,
    attempts: 0,
    decisions: [],
    idempotencyKey: request.idempotencyKey,
    createdAt: now,
    sendAt,
    validUntil: (sendAt ?? now) + (request.validity ?? defaultValidity),
    metadata: request.metadata
  })

  /** The text's encoding and segments, refused when longer than `maxSegments`: both lanes ask this. */
  const analyzeWithin = (
    text: string,
    content: SendRequest.DecodedRequest["content"]
  ): Result.Result<Encoding.Analysis, SendRequest.InvalidRequest> => {
    const analysis = Encoding.analyze(text, { smartEncoding })
    if (analysis.segments.length <= maxSegments) return Result.succeed(analysis)
    return Result.fail(
      new SendRequest.InvalidRequest({
        field: content._tag === "Template" ? "variables" : "text",
        problem: `longer than ${maxSegments} segments`
      })
    )
  }

  const accept = Effect.fnUntraced(function*(
    request: SendRequest.DecodedRequest,
    number: PhoneNumbers.PhoneNumber,
    id: string,
    options: SendOptions
  ) {
    const now = yield* currentMillis
    let sendAt = request.sendAt !== undefined && request.sendAt > now ? request.sendAt : undefined
    if (!options.bypassConsent && consent._tag === "Some") {
      const decision = yield* consent.value.check({
        to: number.e164,
        country: number.country,
        purpose: request.purpose,
        tenant: request.tenant,
        at: sendAt ?? now
      })
      if (decision._tag === "Defer") sendAt = decision.until
    }
    let rendered: Templates.Rendered | undefined
    let text: string
    if (request.content._tag === "Template") {
      rendered = yield* templates.render({
        id: request.content.id,
        locale: request.content.locale,
        variables: request.content.variables
      })
      text = rendered.text
    } else {
      text = request.content.text
    }
    const analyzed = analyzeWithin(text, request.content)
    if (Result.isFailure(analyzed)) return yield* fail(analyzed.failure)
    const analysis = analyzed.success
    const message = messageOf(request, number, analysis, rendered, id, now, sendAt, options)
    yield* store.insert(message)
    yield* inserted(message)
    if (sendAt === undefined) return yield* dispatch(message, analysis.text, rendered, options, { number, segments: analysis.segments })
    // Consent is asked again when the time comes: the person may have opted out meanwhile.
    const recheck = options.bypassConsent || consent._tag === "None"
      ? Effect.succeed(message)
      : consent.value.check({ to: message.to, country: message.country, purpose: message.purpose, tenant: message.tenant }).pipe(
        Effect.as(message),
        Effect.catch((error) =>
          Effect.andThen(
            Effect.ignore(move(message, "rejected", undefined, error.reason._tag)),
            Effect.fail(new SmsError({ reason: error.reason }))
          )
        )
      )
    yield* FiberMap.run(
      scheduled,
      id,
      Effect.sleep(Duration.millis(sendAt - now)).pipe(
        Effect.andThen(recheck),
        Effect.andThen((current) => dispatchLater(current, analysis.text, rendered, options)),
        Effect.ignore
      )
    )
    return toReceipt(message)
  })

  const sendDecoded = Effect.fnUntraced(function*(request: SendRequest.DecodedRequest, options: SendOptions) {
    const number = yield* phones.validate(request.to, validateOptions)
    const id = newId()
    if (request.idempotencyKey === undefined) return yield* accept(request, number, id, options)
    const key = Idempotency.scopedKey(request.tenant, request.idempotencyKey)
    const print = fingerprint(request, number.e164)
    const held = yield* keys.reserve(key, { messageId: id, fingerprint: print }, idempotencyWindow)
    if (Option.isSome(held)) {
      if (held.value.fingerprint !== print) {
        return yield* fail(new SendRequest.InvalidRequest({ field: "idempotencyKey", problem: "already used for a different request" }))
      }
      const running = inflight.get(held.value.messageId)
      if (running !== undefined) return yield* Deferred.await(running)
      // Another instance may hold the key and not have stored its message yet.
      const first = yield* store.get(held.value.messageId).pipe(
        Effect.flatMap((found) => Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail(undefined)),
        Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }),
        Effect.option
      )
      if (Option.isSome(first)) return toReceipt(first.value)
      return yield* fail(new MessageStore.MessageNotFound({ field: "idempotencyKey" }))
    }
    const done = Deferred.makeUnsafe<Receipt, SmsError>()
    inflight.set(id, done)
    const exit = yield* Effect.exit(Effect.mapError(accept(request, number, id, options), toSmsError))
    inflight.delete(id)
    Deferred.doneUnsafe(done, exit)
    if (Exit.isFailure(exit)) {
      // Refused before anything was stored: the key may be used again.
      const stored = yield* store.get(id)
      if (Option.isNone(stored)) yield* keys.release(key, id)
    }
    return yield* exit
  })

  // The express lane: a text sent now, without an idempotency key, through
  // the built-in in-memory services, runs on their synchronous cores (see
  // internal/cores.ts). It does what `accept` and `dispatch` do, in the same
  // order, with the same results; a property test holds the two lanes to it.
  const phonesCore = PhoneNumbers.cores.of(phones)
  const storeCore = MessageStore.cores.of(store)
  // `null`: the service is absent, so nothing to run; `undefined`: present, without a core
  const consentCore = consent._tag === "Some" ? Consent.cores.of(consent.value) : null
  const eventsCore = events._tag === "Some" ? Events.cores.of(events.value) : null
  const templatesCore = Templates.cores.of(templates)
  const express = phonesCore !== undefined && storeCore !== undefined && consentCore !== undefined && eventsCore !== undefined

  const announce = (message: MessageStore.StoredMessage, change: MessageStore.StatusChange | undefined, previous: MessageStore.MessageStatus | undefined) => {
    if (eventsCore?.listening() === true) eventsCore.publish(statusEvent(message, change, previous))
  }

  /** The express lane at `now`, or `undefined` when the message needs the general path. */
  const sendNow = (
    request: SendRequest.DecodedRequest,
    options: SendOptions,
    clock: Clock.Clock,
    now: number
  ): Effect.Effect<Receipt, SmsError> | undefined => {
    if (phonesCore === undefined || storeCore === undefined) return undefined
    const validated = phonesCore.validate(request.to, validateOptions)
    if (Result.isFailure(validated)) return fail(validated.failure.reason)
    const number = validated.success
    if (!options.bypassConsent && consentCore !== null && consentCore !== undefined) {
      const decision = consentCore.check({ to: number.e164, country: number.country, purpose: request.purpose, tenant: request.tenant, at: now }, now)
      if (Result.isFailure(decision)) return fail(decision.failure.reason)
      // quiet hours: the message waits, which the general path arranges
      if (decision.success._tag === "Defer") return undefined
    }
    const content = request.content
    let rendered: Templates.Rendered | undefined
    if (content._tag === "Template") {
      // a template that does not render is for the general lane to explain
      rendered = templatesCore?.render({ id: content.id, locale: content.locale, variables: content.variables })
      if (rendered === undefined) return undefined
    }
    const analyzed = analyzeWithin(rendered?.text ?? (content._tag === "Text" ? content.text : ""), content)
    if (Result.isFailure(analyzed)) return fail(analyzed.failure)
    const analysis = analyzed.success
    const queued = messageOf(request, number, analysis, rendered, newId(), now, undefined, options)
    storeCore.insert(queued, now)
    announce(queued, queued.history[0], undefined)
    announce(queued, queued.history[1], "accepted")
    // The clock is the fiber's, read when the router answers.
    const settle = (result: Result.Result<Router.Dispatch, Router.RoutingError>): Effect.Effect<Receipt, SmsError> => {
      const settled = settlementOf(result)
      const change = { status: settled.status, at: clock.currentTimeMillisUnsafe(), reason: settled.reason }
      const moved = storeCore.transition(queued.id, change, settled.patch)
      if (Result.isFailure(moved)) return Effect.die(moved.failure)
      const next = moved.success
      announce(next, change, queued.status)
      if (Result.isFailure(result)) return Effect.fail(toSmsError(result.failure))
      const receipt = toReceipt(next)
      return early.size === 0 ? Effect.succeed(receipt) : Effect.as(applyEarly(next), receipt)
    }
    const routed = router.dispatch(
      routeRequestOf(queued, analysis.text, number, rendered, options),
      submissionOf(queued, analysis.text, analysis.segments, rendered)
    )
    return Effect.matchEffect(routed, {
      onSuccess: (sent) => settle(Result.succeed(sent)),
      onFailure: (error) => settle(Result.fail(error))
    })
  }

  const sendGeneral = (request: SendRequest.DecodedRequest, options: SendOptions) =>
    Effect.mapError(sendDecoded(request, options), toSmsError)

  const sendRequest = (
    request: SendRequest.DecodedRequest,
    options: SendOptions,
    fiber: Fiber.Fiber<unknown, unknown>
  ): Effect.Effect<Receipt, SmsError> => {
    const lane = express && request.idempotencyKey === undefined && !capped.has(request.purpose) &&
      (request.content._tag === "Text" || templatesCore !== undefined)
    if (!lane) return sendGeneral(request, options)
    const clock = fiber.getRef(Clock.Clock)
    const now = clock.currentTimeMillisUnsafe()
    const later = request.sendAt !== undefined && request.sendAt > now
    return (later ? undefined : sendNow(request, options, clock, now)) ?? sendGeneral(request, options)
  }

  const send = (input: unknown, options: SendOptions = plain): Effect.Effect<Receipt, SmsError> =>
    Effect.withFiber((fiber) => {
      const decoded = decodeGuarded(input)
      return Result.isFailure(decoded) ? fail(decoded.failure) : sendRequest(decoded.success, options, fiber)
    })

  // A non-array is refused whole, before anything is sent; each request then fails or succeeds alone.
  const sendBatch = (requests: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<BatchResult>, SmsError> => {
    const items = readBatch(requests)
    return Result.isFailure(items) ? fail(items.failure) : Effect.forEach(
      items.success,
      (request) =>
        Effect.match(send(request), {
          onFailure: (error): BatchResult => ({ ok: false, error }),
          onSuccess: (receipt): BatchResult => ({ ok: true, receipt })
        }),
      { concurrency }
    )
  }

  const get = (id: string) =>
    Effect.flatMap(store.get(id), (found) =>
      Option.isSome(found) ? Effect.succeed(found.value) : fail(new MessageStore.MessageNotFound({ field: "id" })))

  const deliveryReceipt = Effect.fnUntraced(function*(input: unknown) {
    const decoded = decodeReport(input)
    if (Result.isFailure(decoded)) {
      return yield* fail(new SendRequest.InvalidRequest({ field: "receipt", problem: "not a delivery receipt" }))
    }
    const report = decoded.success
    const transport = byName.get(report.transport)
    if (transport === undefined) {
      return yield* fail(new SendRequest.InvalidRequest({ field: "transport", problem: "not a configured transport" }))
    }
    const status = transport.mapStatus(report.status)
    if (status === undefined) {
      return yield* fail(new SendRequest.InvalidRequest({ field: "status", problem: "not a status this transport reports" }))
    }
    const at = report.at === undefined
      ? yield* Clock.currentTimeMillis
      : typeof report.at === "number"
      ? report.at
      : new Date(report.at).getTime()
    return yield* receive({
      _tag: "DeliveryReport",
      transport: report.transport,
      providerMessageId: report.providerMessageId,
      status,
      providerStatus: report.status,
      errorCode: report.errorCode,
      at: Number.isFinite(at) ? at : yield* Clock.currentTimeMillis
    })
  })

  const inbound = Effect.fnUntraced(function*(input: unknown) {
    const result = yield* inboundService.handle(input).pipe(
      Effect.mapError((error) => new SmsError({ reason: error.reason }))
    )
    if (!result.complete) return result
    yield* publish({
      _tag: "InboundReceived",
      transport: result.message.transport,
      action: result.action,
      text: result.message.text,
      from: logNumbers ? result.message.from : undefined,
      at: result.message.receivedAt
    })
    const reply = result.replyMessage
    if (reply !== undefined) {
      // The confirmation of an opt-out must still reach the person who opted out.
      yield* Effect.ignore(send({
        to: reply.to,
        text: reply.text,
        from: reply.from,
        purpose: reply.purpose,
        ...(reply.tenant === undefined ? {} : { tenant: reply.tenant })
      }, { bypassConsent: reply.bypassConsent, verification: false }))
    }
    return result
  })

  const onFeedback = (feedback: Transport.Feedback): Effect.Effect<void> =>
    feedback._tag === "DeliveryReport"
      ? Effect.asVoid(receive(feedback))
      : Effect.asVoid(Effect.ignore(inbound(feedback)))
  yield* Effect.forEach(transports, (t) => t.listen(onFeedback), { discard: true })

  // Messages past their validity without a final receipt end `expired`.
  const expireDue = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const waiting = yield* store.list({ status: "submitted" })
    for (const message of waiting) {
      if (message.validUntil !== undefined && message.validUntil <= now && withReceipts.has(message.transport ?? "")) {
        yield* Effect.ignore(move(message, "expired", undefined, "validity period passed"))
      }
    }
  })
  yield* Effect.forkScoped(Effect.repeat(expireDue, Schedule.spaced(config.expirySweep ?? "1 minute")))

  const service = Sms.of({
    send: (request) => send(request),
    sendBatch,
    get,
    cancel: (id) =>
      Effect.gen(function*() {
        const message = yield* get(id)
        if (message.status !== "accepted" || message.sendAt === undefined) {
          return yield* fail(new NotCancelable({ field: "id", status: message.status }))
        }
        yield* FiberMap.remove(scheduled, id)
        return yield* move(message, "canceled", undefined, "canceled").pipe(
          Effect.mapError(() => new SmsError({ reason: new NotCancelable({ field: "id", status: message.status }) }))
        )
      }),
    deliveryReceipt,
    inbound,
    deadLetters: (options) => store.list({ status: "failed", limit: options?.limit }),
    retry: (id) =>
      Effect.gen(function*() {
        const message = yield* get(id)
        if (message.status !== "failed") {
          return yield* fail(new SendRequest.InvalidRequest({ field: "id", problem: "not a failed message" }))
        }
        if (message.withheld === true) {
          // The code is kept nowhere, and a new one would come from Verification anyway.
          return yield* fail(new SendRequest.InvalidRequest({ field: "id", problem: "a one-time code, not kept for a retry" }))
        }
        const now = yield* Clock.currentTimeMillis
        const again: MessageStore.StoredMessage = {
          ...message,
          id: newId(),
          status: "accepted",
          history: [{ status: "accepted", at: now, reason: `retry of ${message.id}` }],
          attempts: 0,
          decisions: [],
          route: undefined,
          transport: undefined,
          providerMessageId: undefined,
          segmentIds: undefined,
          idempotencyKey: undefined,
          createdAt: now,
          sendAt: undefined,
          validUntil: now + defaultValidity
        }
        yield* store.insert(again)
        yield* changed(again)
        return yield* Effect.mapError(dispatchLater(again, message.text, undefined, plain), toSmsError)
      })
  })
  // A code the Verification service built: its own request, not decoded again.
  const verification: SendOptions = { bypassConsent: false, verification: true }
  const sendVerification = (to: string, text: string, tenant: string | undefined) =>
    Effect.withFiber((fiber) =>
      sendRequest({
        to,
        content: { _tag: "Text", text },
        from: undefined,
        purpose: "transactional",
        idempotencyKey: undefined,
        sendAt: undefined,
        validity: undefined,
        tenant,
        metadata: undefined
      }, verification, fiber)
    )
  return { service, sendVerification }
})

/**
 * Builds the pipeline from its services.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: SmsConfig, transports: ReadonlyArray<Transport.Transport>) =>
  Effect.map(build(config, transports), (built) => built.service)

const resolveTransports = Effect.fnUntraced(function*(config: SmsConfig) {
  const given = yield* Effect.forEach(config.transports ?? [], (t) =>
    Effect.isEffect(t) ? Effect.orDie(t) : Effect.succeed(t))
  if (given.length > 0) return given
  const single = yield* Effect.serviceOption(Transport.Transport)
  return Option.isSome(single) ? [single.value] : []
})

const verificationStatus: Record<MessageStore.MessageStatus, "pending" | "delivered" | "failed"> = {
  accepted: "pending",
  queued: "pending",
  submitted: "pending",
  delivered: "delivered",
  failed: "failed",
  undelivered: "failed",
  expired: "failed",
  rejected: "failed",
  canceled: "failed"
}

// Verification codes go through the pipeline on SMS; voice and email codes go
// straight to a transport of that channel, and are stored so receipts match.
const makeVerificationSender = (
  transports: ReadonlyArray<Transport.Transport>,
  sendVerification: (to: string, text: string, tenant: string | undefined) => Effect.Effect<Receipt, SmsError>
) =>
  Effect.gen(function*() {
    const store = yield* MessageStore.MessageStore
    const phones = yield* PhoneNumbers.PhoneNumbers
    const sendError = (code: string) => new Verification.VerificationSendError({ code })
    return Verification.VerificationSender.of({
      send: ({ channel, tenant, text, to }) => {
        if (channel === "sms") {
          return Effect.matchEffect(sendVerification(to, text, tenant), {
            onSuccess: (receipt) => Effect.succeed({ messageId: receipt.id }),
            onFailure: (error) => Effect.fail(sendError(error.reason._tag))
          })
        }
        const transport = transports.find((t) => t.capabilities.channel === channel)
        if (transport === undefined) return Effect.fail(sendError("NoTransportForChannel"))
        return Effect.gen(function*() {
          const number = yield* Effect.mapError(phones.normalize(to), (e) => sendError(e.reason._tag))
          const now = yield* Clock.currentTimeMillis
          const id = newId()
          const encoding = Encoding.analyze(text).encoding
          const result = yield* transport.submit({
            to: number.e164,
            text,
            segments: [text],
            encoding,
            clientReference: id,
            purpose: "transactional"
          }).pipe(Effect.mapError((e) => sendError(e.reason._tag)))
          yield* store.insert({
            id,
            tenant,
            to: number.e164,
            country: number.country,
            purpose: "transactional",
            text: MessageStore.withheldText,
            withheld: true,
            encoding,
            segmentCount: 1,
            status: "submitted",
            history: [{ status: "submitted", at: now, reason: channel }],
            route: transport.name,
            transport: transport.name,
            providerMessageId: result.providerMessageId,
            attempts: 1,
            decisions: [],
            createdAt: now
          })
          return { messageId: id }
        })
      },
      deliveryStatus: (messageId) =>
        Effect.map(store.get(messageId), (m) => (Option.isSome(m) ? verificationStatus[m.value.status] : "pending"))
    })
  })

/**
 * The stores the pipeline keeps its state in; `Sms.layer` provides memory
 * ones, and Redis- or SQL-backed layers can replace any of them.
 *
 * @category models
 * @since 0.1.0
 */
export type Stores =
  | MessageStore.MessageStore
  | Idempotency.IdempotencyStore
  | Templates.TemplateStore
  | Consent.ConsentStore
  | Verification.VerificationStore
  | RateLimiter.RateLimiter

/**
 * The services `Sms.layer` provides.
 *
 * @category models
 * @since 0.1.0
 */
export type Services =
  | Sms
  | Stores
  | PhoneNumbers.PhoneNumbers
  | Templates.Templates
  | Router.Router
  | Consent.Consent
  | Inbound.Inbound
  | Events.Events
  | Audit.Audit
  | Verification.Verification

/**
 * The pipeline on stores you provide.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerPipeline = (
  config: SmsConfig = {}
): Layer.Layer<Exclude<Services, Stores>, SmsError | Router.RoutingError | Templates.TemplateError | Verification.VerificationError, Stores> =>
  Layer.unwrap(Effect.map(resolveTransports(config), (transports) => {
    const base = Layer.mergeAll(
      PhoneNumbers.layer({
        ...(config.defaultCountry === undefined ? {} : { defaultCountry: config.defaultCountry }),
        ...(config.numbers === undefined ? {} : { policy: config.numbers })
      }),
      // Voice and email transports carry verification fallbacks, never routed SMS.
      Router.layer({
        rules: config.routing,
        transports: transports.filter((t) => t.capabilities.channel === "sms"),
        ...(config.retry === undefined ? {} : { retry: config.retry }),
        ...(config.circuitBreaker === undefined ? {} : { circuitBreaker: config.circuitBreaker })
      }),
      Templates.layer({ templates: config.templates ?? [] }),
      Events.layer(),
      Audit.layerMemory(config.audit ?? {})
    )
    const withConsent = Consent.layer(config.consent ?? {}).pipe(Layer.provideMerge(base))
    const inbound = Inbound.layer({ defaultCountry: config.defaultCountry, ...config.inbound }).pipe(
      Layer.provideMerge(config.audit === undefined ? withConsent : Layer.merge(withConsent, Audit.layerRecordEvents.pipe(Layer.provide(withConsent))))
    )
    const sms = Layer.effectContext(Effect.gen(function*() {
      const built = yield* build(config, transports)
      const sender = yield* makeVerificationSender(transports, built.sendVerification)
      return Context.add(Context.make(Sms, built.service), Verification.VerificationSender, sender)
    })).pipe(Layer.provideMerge(inbound))
    return Verification.layer(config.verification ?? {}).pipe(Layer.provideMerge(sms))
  }))

/**
 * In-memory stores for every part of the pipeline.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerStoresMemory = (config: SmsConfig = {}): Layer.Layer<Stores> =>
  Layer.mergeAll(
    MessageStore.layerMemory(config.messages ?? {}),
    Idempotency.layerMemory(),
    Templates.layerStoreMemory,
    Consent.layerStoreMemory,
    Verification.layerStoreMemory,
    RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))
  )

/**
 * The whole pipeline with in-memory stores: nothing to start.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: SmsConfig = {}): Layer.Layer<Services, SmsError | Router.RoutingError | Templates.TemplateError | Verification.VerificationError> =>
  layerPipeline(config).pipe(Layer.provideMerge(layerStoresMemory(config)))
