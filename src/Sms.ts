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
 * - Money, when configured: `pricing` ranks least-cost routes and puts the
 *   carrying route's cost on receipts, stored messages and `submitted`
 *   events; `budget` reserves each message under its caps before any carrier
 *   call (a hard cap rejects it with `BudgetExceeded`), commits the actual
 *   cost on acceptance and releases on failure; `balances` skip routes below
 *   their floor. `estimate` answers all of it before a send.
 *
 * **Gotchas**
 * - With `pricing`, `budget` or `balances`, sends take the general lane:
 *   without them a send does no extra work.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as RateLimiter from "effect/persistence/RateLimiter"
import type * as Scope from "effect/Scope"
import * as Audit from "./Audit.ts"
import * as BalanceMonitor from "./BalanceMonitor.ts"
import * as Budget from "./Budget.ts"
import * as Consent from "./Consent.ts"
import * as Encoding from "./Encoding.ts"
import * as Events from "./Events.ts"
import * as Idempotency from "./Idempotency.ts"
import * as Inbound from "./Inbound.ts"
import { stackless } from "./internal/errors.ts"
import { currentMillis, withNow } from "./internal/clock.ts"
import { cryptoModule, loadPubSub, rateLimiterMemory } from "./internal/lazy.ts"
import { randomId } from "./internal/random.ts"
import * as MessageStore from "./MessageStore.ts"
import * as Outbox from "./Outbox.ts"
import * as PhoneNumbers from "./PhoneNumbers.ts"
import * as Pricing from "./Pricing.ts"
import type * as Retry from "./Retry.ts"
import * as Router from "./Router.ts"
import * as SendRequest from "./SendRequest.ts"
import { StoreUnavailable } from "./Store.ts"
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
  /** What the carrying route charged (segments × its price), with `SmsConfig.pricing`; absent when unpriced. */
  readonly cost?: Pricing.MoneyJson | undefined
}

/**
 * What `estimate` answers: what `send` would do now, without sending,
 * storing or counting anything.
 *
 * @category models
 * @since 0.1.0
 */
export interface Estimate {
  /** E.164. */
  readonly to: string
  readonly country: string
  readonly numberType: PhoneNumbers.NumberType
  readonly encoding: Transport.MessageEncoding
  readonly segmentCount: number
  /** When the message would go, when not now: the request's `sendAt`, or the end of quiet hours. */
  readonly sendAt?: number | undefined
  /** Whether consent's quiet hours would hold the message until `sendAt`. */
  readonly quietHours: boolean
  /** The route the router would try first, and why; absent when every route is skipped now. */
  readonly route?: string | undefined
  readonly transport?: string | undefined
  readonly reason?: string | undefined
  /** Every route it would try, in order (`Router.plan`). */
  readonly candidates: ReadonlyArray<Router.Candidate>
  /** The first route's price per segment and the message's cost, with `SmsConfig.pricing`. */
  readonly unitPrice?: Pricing.MoneyJson | undefined
  readonly cost?: Pricing.MoneyJson | undefined
  /** Why a cap of `SmsConfig.budget` would refuse the message now (`BudgetExceeded` names the cap); absent when it would pass. */
  readonly refusal?: Budget.BudgetExceeded | Budget.CostUnknown | Budget.CurrencyMismatch | Budget.InvalidBudgetConfig | undefined
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
  /** The time limit of one carrier call, ending in `Timeout` (default 30 s); a route's own `timeout` wins. */
  readonly submitTimeout?: Duration.Input | undefined
  /** The time limit of one carrier call per transport name. */
  readonly transportTimeouts?: Readonly<Record<string, Duration.Input>> | undefined
  /**
   * After a timeout or a malformed "accepted" answer the carrier may have the
   * message: `"retry"` (default) retries and fails over, at the risk of a
   * duplicate; `"fail"` ends the message instead.
   */
  readonly unknownOutcome?: "retry" | "fail" | undefined
  /** How much longer each rate slot is held on a shared rate-limit store (default 10 ms). */
  readonly rateMargin?: Duration.Input | undefined
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
  /**
   * Price tables (`{ prices, csv, rates }`, see the Pricing module): the
   * least-cost strategy ranks by them, and receipts, stored messages and
   * `submitted` events carry the cost of the route that carried the message.
   */
  readonly pricing?: Pricing.PricingOptions | undefined
  /**
   * Spend and message caps (see the Budget module), on the `BudgetStore` in
   * the context, else in memory. A hard cap refuses a message before any
   * carrier call: it ends `rejected` with `BudgetExceeded`.
   */
  readonly budget?: Budget.BudgetOptions | undefined
  /**
   * Carrier balances (see the BalanceMonitor module): a route below its
   * floor is skipped, and `BalanceLow` / `BalanceRecovered` go on the Events bus.
   */
  readonly balances?: BalanceMonitor.BalanceMonitorOptions | undefined
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
  StoreUnavailable,
  ...PhoneNumbers.PhoneNumberErrorReason.members,
  ...Templates.TemplateErrorReason.members,
  ...Consent.ConsentErrorReason.members,
  ...Router.RoutingErrorReason.members,
  // StoreUnavailable is already a member
  Budget.BudgetExceeded,
  Budget.CostUnknown,
  Budget.CurrencyMismatch,
  Budget.InvalidBudgetConfig
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
export class SmsError extends stackless(Schema.TaggedError<SmsError>("smsforge/SmsError")("SmsError", {
  reason: SmsErrorReason
})) {
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
  readonly deadLetters: (options?: { readonly limit?: number | undefined }) => Effect.Effect<ReadonlyArray<MessageStore.StoredMessage>, SmsError>
  /** Sends a failed message again as a new message. */
  readonly retry: (id: string) => Effect.Effect<Receipt, SmsError>
  /**
   * What `send` would do with a request now: number, consent and quiet
   * hours, template, encoding and segments, the route and why, the price,
   * and whether a cap would refuse it. Sends, stores and counts nothing;
   * fails as `send` would for a bad request, number, consent or template.
   */
  readonly estimate: (request: unknown) => Effect.Effect<Estimate, SmsError>
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
  sendAt: message.sendAt,
  cost: message.cost
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
  cryptoModule().createHash("sha256")
    .update(JSON.stringify([to, request.content, request.from, request.purpose, request.sendAt, request.metadata]))
    .digest("base64url")

interface SendOptions {
  /** The confirmation of an opt-out goes even to the person who opted out. */
  readonly bypassConsent: boolean
  /** One-time codes, which some region rules limit per number. */
  readonly verification: boolean
}
const plain: SendOptions = { bypassConsent: false, verification: false }
const verification: SendOptions = { bypassConsent: false, verification: true }

const newId = (): string => randomId("msg_", 16)

// How long a receipt that came before its submit answer is kept for it.
const earlyReportTtl = Duration.minutes(10)

/** The services and settings every part of the pipeline reads. */
interface Pipeline {
  readonly config: SmsConfig
  readonly transports: ReadonlyArray<Transport.Transport>
  readonly phones: PhoneNumbers.PhoneNumbers["Service"]
  readonly templates: Templates.Templates["Service"]
  readonly router: Router.Router["Service"]
  readonly store: MessageStore.MessageStore["Service"]
  readonly keys: Idempotency.IdempotencyStore["Service"]
  readonly outbox: Outbox.Outbox["Service"]
  readonly consent: Option.Option<Consent.Consent["Service"]>
  readonly inbound: Inbound.Inbound["Service"]
  readonly events: Option.Option<Events.Events["Service"]>
  readonly budget: Option.Option<Budget.Budget["Service"]>
  /** Prices, caps or balances are configured: the express lane stays closed. */
  readonly money: boolean
  readonly logNumbers: boolean
  readonly scope: Scope.Scope
  /** Purposes with a frequency cap: only their sends are counted, so memory does not grow otherwise. */
  readonly capped: ReadonlySet<string>
  readonly defaultValidity: number
  /** How every send validates its recipient: one object, so its number policy compiles once. */
  readonly validateOptions: ReturnType<typeof validateOptionsOf>
}

const pipelineOf = Effect.fnUntraced(function*(config: SmsConfig, transports: ReadonlyArray<Transport.Transport>) {
  const budget = yield* Effect.serviceOption(Budget.Budget)
  const priced = Option.isSome(yield* Effect.serviceOption(Pricing.Pricing))
  const monitored = Option.isSome(yield* Effect.serviceOption(BalanceMonitor.BalanceMonitor))
  return {
    config,
    transports,
    phones: yield* PhoneNumbers.PhoneNumbers,
    templates: yield* Templates.Templates,
    router: yield* Router.Router,
    store: yield* MessageStore.MessageStore,
    keys: yield* Idempotency.IdempotencyStore,
    outbox: yield* Outbox.Outbox,
    consent: yield* Effect.serviceOption(Consent.Consent),
    inbound: yield* Inbound.Inbound,
    events: yield* Effect.serviceOption(Events.Events),
    budget,
    money: Option.isSome(budget) || priced || monitored,
    logNumbers: yield* Events.LogPhoneNumbers,
    scope: yield* Effect.scope,
    capped: new Set(Object.keys(config.consent?.frequencyCaps ?? {})),
    defaultValidity: Duration.toMillis(config.validity ?? "48 hours"),
    validateOptions: validateOptionsOf(config)
  } satisfies Pipeline
})

// Every refusal becomes an SmsError once, where a send ends, not at each step.
// By tag, not by class: a store bundle that loaded its own copy of smsforge
// (CommonJS beside ESM) fails with a StoreUnavailable of that copy's class,
// which the reason's schema would refuse; it is rebuilt as this copy's.
const toSmsError = (error: SmsError | { readonly reason: SmsErrorReason } | StoreUnavailable): SmsError => {
  if (error instanceof SmsError) return error
  if (!("_tag" in error && error._tag === "StoreUnavailable")) return new SmsError({ reason: error.reason })
  const { cause, operation, store } = error as StoreUnavailable
  return new SmsError({ reason: error instanceof StoreUnavailable ? error : new StoreUnavailable({ store, operation, cause }) })
}

// status: every change stored, then announced

const makeStatus = (p: Pipeline) => {
  const publish = (event: Events.SmsEvent) => p.events._tag === "Some" ? p.events.value.publish(event) : Effect.void

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
    cost: change?.status === "submitted" ? message.cost : undefined,
    to: p.logNumbers ? message.to : undefined,
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

  const move = (
    message: MessageStore.StoredMessage,
    status: MessageStore.MessageStatus,
    patch?: MessageStore.MessagePatch,
    reason?: string
  ) =>
    withNow((at) =>
      Effect.tap(p.store.transition(message.id, { status, at, reason }, patch), (next) => changed(next, message.status))
    )

  return { publish, statusEvent, changed, inserted, move }
}
type Status = ReturnType<typeof makeStatus>

// receipts: applied to their message, or held until its submit answer

const makeReports = (p: Pipeline, status: Status) => {
  const applyReport = Effect.fnUntraced(function*(message: MessageStore.StoredMessage, report: Transport.DeliveryReport) {
    const target = deliveryToStatus[report.status]
    if (target === undefined) return { outcome: "ignored", messageId: message.id, status: message.status } as const
    let next: MessageStore.MessageStatus = target
    const parts = message.segmentIds
    if (parts !== undefined && parts.length > 1 && parts.includes(report.providerMessageId)) {
      const statuses = { ...message.segmentStatuses, [report.providerMessageId]: target }
      const annotated = yield* Effect.catchTag(
        p.store.annotate(message.id, { segmentStatuses: statuses }),
        "MessageNotFound",
        () => Effect.succeed(message)
      )
      const failedPart = parts.map((id) => statuses[id]).find((s) => s !== undefined && s !== "delivered")
      if (failedPart !== undefined) next = failedPart
      else if (parts.every((id) => statuses[id] === "delivered")) next = "delivered"
      else return { outcome: "applied", messageId: message.id, status: annotated.status } as const
    }
    const moved = yield* Effect.result(Effect.catchTag(
      status.move(message, next, undefined, report.errorCode ?? report.providerStatus),
      "StoreUnavailable",
      Effect.die
    ))
    return Result.isSuccess(moved)
      ? { outcome: "applied", messageId: message.id, status: moved.success.status } as const
      : { outcome: "ignored", messageId: message.id, status: message.status } as const
  })

  const receive = (report: Transport.DeliveryReport): Effect.Effect<ReceiptOutcome, StoreUnavailable> =>
    Effect.flatMap(p.store.findByProviderId(report.transport, report.providerMessageId), (found): Effect.Effect<ReceiptOutcome, StoreUnavailable> =>
      Option.isSome(found)
        ? applyReport(found.value, report)
        : Effect.as(p.store.holdReport(report, earlyReportTtl), { outcome: "pending" } as const))

  const applyHeld = Effect.fnUntraced(function*(message: MessageStore.StoredMessage, transport: string) {
    const ids = [message.providerMessageId, ...(message.segmentIds ?? [])].filter((id) => id !== undefined)
    const held = yield* p.store.takeReports(transport, ids)
    for (const report of held) {
      const current = yield* p.store.get(message.id)
      if (Option.isSome(current)) yield* applyReport(current.value, report)
    }
  })

  const storeCore = MessageStore.cores.of(p.store)
  /** Applies the receipts that came before this message's submit answer. */
  const applyEarly = (message: MessageStore.StoredMessage): Effect.Effect<void, StoreUnavailable> =>
    message.transport === undefined || storeCore?.holdsReports() === false ? Effect.void : applyHeld(message, message.transport)

  return { receive, applyEarly }
}
type Reports = ReturnType<typeof makeReports>

// delivery: route, submit, settle; the Outbox's worker

/** A delivery's answer, and whether the Outbox should run it again. */
interface Delivered {
  readonly receipt: Receipt
  readonly retry: boolean
}

/** What the carrier needs of a template: kept on the message so a later run can send it. */
const templateOfRendered = (rendered: Templates.Rendered | undefined): MessageStore.StoredMessage["template"] =>
  rendered === undefined ? undefined : {
    id: rendered.id,
    version: rendered.version,
    locale: rendered.locale,
    approved: rendered.approved,
    providerTemplateCode: rendered.providerTemplateCode,
    variables: rendered.variables
  }

const routeRequestOf = (
  queued: MessageStore.StoredMessage,
  text: string,
  number: PhoneNumbers.PhoneNumber,
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
  template: queued.template === undefined ? undefined : { id: queued.template.id, approved: queued.template.approved ?? false }
})

const submissionOf = (
  queued: MessageStore.StoredMessage,
  text: string,
  segments: ReadonlyArray<string>
): Router.DispatchSubmission => ({
  to: queued.to,
  from: queued.from,
  text,
  segments,
  encoding: queued.encoding,
  validUntil: queued.validUntil,
  clientReference: queued.id,
  purpose: queued.purpose,
  template: queued.template === undefined ? undefined : {
    id: queued.template.id,
    version: queued.template.version,
    providerTemplateCode: queued.template.providerTemplateCode,
    variables: queued.template.variables ?? {}
  }
})

/**
 * The status change a dispatch ends in. A retryable failure that the Outbox
 * will run again leaves the message queued, with what was tried.
 */
const settlementOf = (result: Result.Result<Router.Dispatch, Router.RoutingError>, final: boolean) => {
  if (Result.isFailure(result)) {
    const error = result.failure
    const patch = { attempts: Router.attemptsOf(error), decisions: Router.decisionsOf(error) }
    return !final && error.isRetryable
      ? { status: undefined, patch, reason: error.reason._tag } as const
      : { status: "failed", patch, reason: error.reason._tag } as const
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
      decisions: sent.decisions,
      cost: sent.cost === undefined ? undefined : Pricing.toJson(sent.cost.total)
    },
    reason: undefined
  } as const
}

/**
 * Reserves the message under the caps, at the cost of the route the router
 * would choose now; the message id makes a repeated run count once.
 */
const reserveFor = (budget: Budget.Budget["Service"], request: Router.RouteRequest, candidates: ReadonlyArray<Router.Candidate>) =>
  budget.reserve({ id: request.messageId, tenant: request.tenant, cost: candidates[0]?.exactCost?.total })

/**
 * Commits the actual cost of the route that carried the message, or gives
 * the reservation back when none did. The message's fate is decided: a
 * failure here is logged, never the send's.
 */
const settleBudget = (
  budget: Budget.Budget["Service"],
  reservation: Budget.Reservation,
  result: Result.Result<Router.Dispatch, Router.RoutingError>
) =>
  Effect.catch(
    Result.isSuccess(result) ? budget.commit(reservation, result.success.cost?.total) : budget.release(reservation),
    (error) => Effect.logWarning(`smsforge: the budget did not record a message's outcome: ${error.reason._tag}`)
  )

/** Ends a keyed send's in-flight entry with the delivery's outcome. */
type Settle = (exit: Exit.Exit<Receipt | undefined, SmsError>) => Effect.Effect<void>

const makeDelivery = (p: Pipeline, status: Status, reports: Reports) => {
  // One-time codes of messages that wait (quiet hours), by message id: in
  // this process's memory only, never in a store.
  const codes = new Map<string, string>()
  // Hands a queued message to the router with the text to send (a message
  // that carried a code stores a placeholder); what `accept` already knows
  // on the immediate path (the recipient and the segments) is passed along.
  const dispatch = Effect.fnUntraced(function*(
    queued: MessageStore.StoredMessage,
    text: string,
    options: SendOptions,
    final: boolean,
    known?: { readonly number: PhoneNumbers.PhoneNumber; readonly segments: ReadonlyArray<string> }
  ) {
    const number = known?.number ?? (yield* Effect.orDie(p.phones.normalize(queued.to)))
    const segments = known?.segments ?? Encoding.analyze(text, { smartEncoding: false }).segments
    const request = routeRequestOf(queued, text, number, options)
    const submission = submissionOf(queued, text, segments)
    let result: Result.Result<Router.Dispatch, Router.RoutingError>
    if (p.budget._tag === "None") {
      result = yield* Effect.result(p.router.dispatch(request, submission))
    } else {
      // a plan that fails (no route) is the dispatch's failure, with nothing sent or counted
      const planned = yield* Effect.result(p.router.plan(request))
      if (Result.isFailure(planned)) {
        result = Result.fail(planned.failure)
      } else {
        // counted before any carrier call; a refusal ends the message here
        const held = yield* Effect.result(reserveFor(p.budget.value, request, planned.success))
        if (Result.isFailure(held)) return yield* refuseOnBudget(queued, held.failure, final)
        result = yield* Effect.result(p.router.dispatch(request, submission))
        yield* settleBudget(p.budget.value, held.success, result)
      }
    }
    const settled = settlementOf(result, final)
    if (settled.status === undefined) {
      const kept = yield* Effect.catchTag(p.store.annotate(queued.id, settled.patch), "MessageNotFound", () => Effect.succeed(queued))
      return { receipt: toReceipt(kept), retry: true } satisfies Delivered
    }
    const next = yield* Effect.catchTag(
      status.move(queued, settled.status, settled.patch, settled.reason),
      ["MessageNotFound", "InvalidTransition"],
      Effect.die
    )
    if (Result.isFailure(result)) return yield* Effect.fail(toSmsError(result.failure))
    yield* reports.applyEarly(next)
    if (p.consent._tag === "Some" && p.capped.has(next.purpose)) {
      // the message went: a count lost to a store outage must not fail it
      yield* Effect.ignore(p.consent.value.record(next.to, next.purpose, next.history[next.history.length - 1]?.at, next.tenant))
    }
    return { receipt: toReceipt(next), retry: false } satisfies Delivered
  })

  /** A cap refused the message: it ends `rejected` with the reason, unless a store outage may pass on a later run. */
  const refuseOnBudget = Effect.fnUntraced(function*(queued: MessageStore.StoredMessage, error: Budget.BudgetError, final: boolean) {
    if (error.reason._tag === "StoreUnavailable" && !final) return { receipt: toReceipt(queued), retry: true } satisfies Delivered
    yield* Effect.catchTag(
      status.move(queued, "rejected", undefined, error.reason._tag),
      ["MessageNotFound", "InvalidTransition"],
      Effect.die
    )
    return yield* fail(error.reason)
  })

  // Consent is asked again when a scheduled message's time comes: the person may have opted out meanwhile.
  const recheckConsent = (message: MessageStore.StoredMessage) =>
    p.consent._tag === "None"
      ? Effect.succeed(true)
      : p.consent.value.check({ to: message.to, country: message.country, purpose: message.purpose, tenant: message.tenant }).pipe(
        Effect.as(true),
        Effect.catchTag("ConsentError", (error) =>
          error.reason._tag === "StoreUnavailable"
            ? Effect.fail(error.reason)
            : Effect.as(status.move(message, "rejected", undefined, error.reason._tag), false))
      )

  /** Ends a message that can no longer be sent, or answers whether it may go now. */
  const due = Effect.fnUntraced(function*(message: MessageStore.StoredMessage) {
    if (message.status !== "accepted" && message.status !== "queued") return false
    const now = yield* Clock.currentTimeMillis
    if (message.validUntil !== undefined && message.validUntil <= now) {
      yield* status.move(message, "expired", undefined, "validity period passed before sending")
      return false
    }
    if (message.withheld === true && !codes.has(message.id)) {
      // The code was kept only by the process that accepted it; the person asks for a new one.
      yield* status.move(message, "failed", undefined, "one-time code not kept for a later run")
      return false
    }
    return message.status === "queued" || (yield* recheckConsent(message))
  })

  /** The Outbox's worker: finishes a message whatever became of the process that accepted it. */
  const runJob: Outbox.Worker = (job, attempt) =>
    Effect.gen(function*() {
      const found = yield* p.store.get(job.messageId)
      // A job may come due before its message is stored (see `commit`): ask again, up to the last run.
      if (Option.isNone(found)) return attempt.last ? undefined : yield* new Outbox.RetryLater({ reason: "message not stored yet" })
      if (!(yield* due(found.value))) return
      const queued = found.value.status === "queued" ? found.value : yield* status.move(found.value, "queued")
      const code = codes.get(queued.id)
      const delivered = yield* dispatch(queued, code ?? queued.text, code === undefined ? plain : verification, attempt.last)
      if (delivered.retry) return yield* new Outbox.RetryLater({ reason: "every route failed transiently" })
    }).pipe(
      Effect.catchTag("SmsError", () => Effect.void),
      Effect.catchTag(["MessageNotFound", "InvalidTransition"], () => Effect.void),
      Effect.catchTag("StoreUnavailable", () =>
        attempt.last ? Effect.logWarning("smsforge: a store was down on a job's last run") : new Outbox.RetryLater({ reason: "store unavailable" })),
      // the code is needed again when the job runs again; any other end is the job's last
      Effect.onExit((exit) =>
        Option.exists(Exit.findErrorOption(exit), (error) => error._tag === "RetryLater")
          ? Effect.void
          : Effect.sync(() => codes.delete(job.messageId)))
    )

  /** Keeps a waiting message's one-time code for its run. */
  const keepCode = (message: MessageStore.StoredMessage, text: string) => {
    if (message.withheld === true && message.sendAt !== undefined) codes.set(message.id, text)
  }

  /**
   * Goes on with a message whose caller was interrupted mid-delivery, in a
   * fiber of the pipeline: dispatches it again unless it settled meanwhile.
   * The cut-off submission may have reached the carrier; the message id
   * travels as its client reference.
   */
  const resume = (
    message: MessageStore.StoredMessage,
    text: string,
    options: SendOptions,
    settle?: Settle
  ) => {
    const again = Effect.gen(function*() {
      const current = yield* Effect.mapError(p.store.get(message.id), toSmsError)
      if (Option.isSome(current) && current.value.status !== "queued") return toReceipt(current.value)
      const delivered = yield* Effect.mapError(dispatch(message, text, options, !p.outbox.durable), toSmsError)
      return delivered.receipt
    })
    return Effect.asVoid(Effect.forkIn(
      settle === undefined ? Effect.ignore(again) : Effect.flatMap(Effect.exit(again), settle),
      p.scope
    ))
  }

  return { dispatch, runJob, keepCode, resume }
}
type Delivery = ReturnType<typeof makeDelivery>

// acceptance: decode, number, consent, template, encoding, idempotency

/** A message ready to be stored, with what its first delivery needs. */
interface Prepared {
  readonly message: MessageStore.StoredMessage
  readonly analysis: Encoding.Analysis
  readonly number: PhoneNumbers.PhoneNumber
  readonly options: SendOptions
}

// A message sent now is stored once, already queued: one write instead of
// two, with the same history.
const messageOf = (
  p: Pipeline,
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
  template: templateOfRendered(rendered),
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
  cost: undefined,
  idempotencyKey: request.idempotencyKey,
  createdAt: now,
  sendAt,
  validUntil: (sendAt ?? now) + (request.validity ?? p.defaultValidity),
  metadata: request.metadata
})

/** The text's encoding and segments, refused when longer than `maxSegments`: both lanes ask this. */
const analyzeWithin = (
  p: Pipeline,
  text: string,
  content: SendRequest.DecodedRequest["content"]
): Result.Result<Encoding.Analysis, SendRequest.InvalidRequest> => {
  const maxSegments = p.config.maxSegments ?? 10
  const analysis = Encoding.analyze(text, { smartEncoding: p.config.smartEncoding ?? false })
  if (analysis.segments.length <= maxSegments) return Result.succeed(analysis)
  return Result.fail(
    new SendRequest.InvalidRequest({
      field: content._tag === "Template" ? "variables" : "text",
      problem: `longer than ${maxSegments} segments`
    })
  )
}

/** Everything `send` decides before it writes anything. */
const prepare = Effect.fnUntraced(function*(
  p: Pipeline,
  request: SendRequest.DecodedRequest,
  number: PhoneNumbers.PhoneNumber,
  id: string,
  options: SendOptions
) {
  const now = yield* currentMillis
  let sendAt = request.sendAt !== undefined && request.sendAt > now ? request.sendAt : undefined
  if (!options.bypassConsent && p.consent._tag === "Some") {
    const decision = yield* p.consent.value.check({
      to: number.e164,
      country: number.country,
      purpose: request.purpose,
      tenant: request.tenant,
      at: sendAt ?? now
    })
    if (decision._tag === "Defer") sendAt = decision.until
  }
  const rendered = request.content._tag === "Template"
    ? yield* p.templates.render({ id: request.content.id, locale: request.content.locale, variables: request.content.variables })
    : undefined
  const analyzed = analyzeWithin(p, rendered?.text ?? (request.content._tag === "Text" ? request.content.text : ""), request.content)
  if (Result.isFailure(analyzed)) return yield* fail(analyzed.failure)
  const message = messageOf(p, request, number, analyzed.success, rendered, id, now, sendAt, options)
  return { message, analysis: analyzed.success, number, options } satisfies Prepared
})

/** A send's idempotency key and its reservation; held for the pipeline's window. */
type SendKey = Omit<MessageStore.AcceptKey, "ttl">

const makeAcceptance = (p: Pipeline, status: Status, delivery: Delivery) => {
  const idempotencyWindow = Duration.fromInputUnsafe(p.config.idempotencyWindow ?? "24 hours")
  // Sends in flight by message id, so a racing duplicate on this instance waits for the first outcome.
  const inflight = new Map<string, Deferred.Deferred<Receipt | undefined, SmsError>>()

  /** A keyed send in flight; whoever ends its delivery, its caller or the fiber that resumes it, settles it. */
  const track = (id: string): Settle => {
    const done = Deferred.makeUnsafe<Receipt | undefined, SmsError>()
    inflight.set(id, done)
    return (exit) =>
      Effect.sync(() => {
        inflight.delete(id)
        Deferred.doneUnsafe(done, exit)
      })
  }

  /**
   * Stores the message and offers its job, with the key's reservation when
   * there is one: in one write where the message store offers it, otherwise
   * in one transaction where the Outbox's backend has them. Answers the
   * earlier reservation when the key was already held.
   */
  const commit = (message: MessageStore.StoredMessage, key?: SendKey) =>
    p.outbox.durable && p.store.accept !== undefined
      ? p.store.accept(message, key === undefined ? undefined : { ...key, ttl: idempotencyWindow })
      : commitEach(message, key)

  const commitEach = (message: MessageStore.StoredMessage, key?: SendKey) =>
    p.outbox.transaction(Effect.gen(function*() {
      if (key !== undefined) {
        const held = yield* p.keys.reserve(key.name, key.reservation, idempotencyWindow)
        if (Option.isSome(held)) return held
      }
      // The job first: where the two are not one transaction (Redis), a stored
      // message without its job would never go, while a job without its
      // message (the insert failed, the caller is told) ends on its own.
      yield* p.outbox.offer({ messageId: message.id }, { at: message.sendAt })
      yield* p.store.insert(message)
      return Option.none<Idempotency.Reservation>()
    }))

  // A message sent now goes at once, in a fiber of the pipeline: a caller
  // that is interrupted stops waiting, and the message goes on.
  const launch = (prepared: Prepared, settle?: Settle): Effect.Effect<Receipt, SmsError> => {
    const { message } = prepared
    if (message.sendAt !== undefined) {
      delivery.keepCode(message, prepared.analysis.text)
      // accepted is this caller's answer, and a racing duplicate's too: nothing is in flight until its time
      const receipt = toReceipt(message)
      return settle === undefined ? Effect.succeed(receipt) : Effect.as(settle(Exit.succeed(receipt)), receipt)
    }
    const text = prepared.analysis.text
    const first = delivery.dispatch(message, text, prepared.options, !p.outbox.durable, {
      number: prepared.number,
      segments: prepared.analysis.segments
    }).pipe(Effect.map((delivered) => delivered.receipt), Effect.mapError(toSmsError))
    // An interrupted caller stops waiting; the message goes on, and a racing
    // duplicate waits for the delivery, not for this caller.
    return Effect.onExit(first, (exit) => {
      if (Exit.hasInterrupts(exit)) return delivery.resume(message, text, prepared.options, settle)
      return settle === undefined ? Effect.void : settle(exit)
    })
  }

  const sendOnce = Effect.fnUntraced(function*(prepared: Prepared) {
    yield* Effect.mapError(commit(prepared.message), toSmsError)
    yield* status.inserted(prepared.message)
    return yield* launch(prepared)
  })

  // The key's first message, from this instance's in-flight sends or the
  // store; a key held for a message that never got stored (its instance
  // died in between, on a store without transactions) is taken over.
  const holderOf = Effect.fnUntraced(function*(key: string, held: Idempotency.Reservation) {
    const running = inflight.get(held.messageId)
    if (running !== undefined) {
      const receipt = yield* Deferred.await(running)
      if (receipt !== undefined) return Option.some(receipt)
    }
    const first = yield* p.store.get(held.messageId).pipe(
      Effect.flatMap((found) => Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail("absent" as const)),
      Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100, while: (e) => e === "absent" }),
      Effect.map((found) => Option.some(toReceipt(found))),
      Effect.catchIf((e): e is "absent" => e === "absent", () => Effect.as(p.keys.release(key, held.messageId), Option.none<Receipt>()))
    )
    return first
  })

  const sendKeyed = (
    prepared: Prepared,
    request: SendRequest.DecodedRequest,
    idempotencyKey: string,
    takeover: boolean
  ): Effect.Effect<Receipt, SmsError> => Effect.suspend(() => {
    const key = Idempotency.scopedKey(request.tenant, idempotencyKey)
    const print = fingerprint(request, prepared.number.e164)
    const id = prepared.message.id
    const settle = track(id)
    let launched = false
    return Effect.gen(function*() {
      const held = yield* commit(prepared.message, { name: key, reservation: { messageId: id, fingerprint: print } }).pipe(
        // The key is freed for the retry only when the message is known not to be
        // stored: a commit whose answer was lost may have committed, and a key
        // left held without its message is taken over by the retry (`holderOf`).
        Effect.catch((error) =>
          Effect.andThen(
            p.store.get(id).pipe(
              Effect.flatMap((stored) => Option.isNone(stored) ? p.keys.release(key, id) : Effect.void),
              Effect.ignore
            ),
            Effect.fail(toSmsError(error))
          )
        )
      )
      if (Option.isNone(held)) {
        yield* status.inserted(prepared.message)
        launched = true
        return yield* launch(prepared, settle)
      }
      if (held.value.fingerprint !== print) {
        return yield* fail(new SendRequest.InvalidRequest({ field: "idempotencyKey", problem: "already used for a different request" }))
      }
      const first = yield* Effect.mapError(holderOf(key, held.value), toSmsError)
      if (Option.isSome(first)) return first.value
      if (takeover) return yield* fail(new MessageStore.MessageNotFound({ field: "idempotencyKey" }))
      return yield* sendKeyed(prepared, request, idempotencyKey, true)
    }).pipe(
      // Whatever ends this caller before a delivery started, a racing duplicate stops waiting.
      Effect.onExit(() => (launched ? Effect.void : settle(Exit.succeed(undefined))))
    )
  })

  const sendDecoded = Effect.fnUntraced(function*(request: SendRequest.DecodedRequest, options: SendOptions) {
    const number = yield* p.phones.validate(request.to, p.validateOptions)
    const prepared = yield* prepare(p, request, number, newId(), options)
    return request.idempotencyKey === undefined
      ? yield* sendOnce(prepared)
      : yield* sendKeyed(prepared, request, request.idempotencyKey, false)
  })

  return { sendDecoded, sendOnce, commit, track, idempotencyWindow }
}
type Acceptance = ReturnType<typeof makeAcceptance>

/** Why a cap would refuse a message now; a store outage fails the estimate. */
const budgetRefusal = (budget: Budget.Budget["Service"], tenant: string | undefined, cost: Pricing.Money | undefined) =>
  Effect.matchEffect(budget.check({ tenant, cost }), {
    onSuccess: () => Effect.succeed(undefined),
    onFailure: (error) => error.reason._tag === "StoreUnavailable" ? Effect.fail(error.reason) : Effect.succeed(error.reason)
  })

// The steps of `send` up to the route, without a write: `prepare` decides
// and stores nothing, `plan` and `check` count nothing.
const estimateWith = (p: Pipeline) => (input: unknown): Effect.Effect<Estimate, SmsError> =>
  Effect.gen(function*() {
    const decoded = decodeGuarded(input)
    if (Result.isFailure(decoded)) return yield* fail(decoded.failure)
    const request = decoded.success
    const number = yield* p.phones.validate(request.to, p.validateOptions)
    const { analysis, message } = yield* prepare(p, request, number, "estimate", plain)
    const routeRequest = routeRequestOf(message, analysis.text, number, plain)
    yield* p.router.checkContent(routeRequest)
    const candidates = yield* p.router.plan(routeRequest)
    const first = candidates[0]
    const cost = first?.exactCost
    const refusal = p.budget._tag === "None" ? undefined : yield* budgetRefusal(p.budget.value, request.tenant, cost?.total)
    return {
      to: number.e164,
      country: number.country,
      numberType: number.type,
      encoding: analysis.encoding,
      segmentCount: analysis.segments.length,
      sendAt: message.sendAt,
      quietHours: message.sendAt !== undefined && message.sendAt !== request.sendAt,
      route: first?.route,
      transport: first?.transport,
      reason: first?.reason,
      candidates,
      unitPrice: cost === undefined ? undefined : Pricing.toJson(cost.unitPrice),
      cost: cost === undefined ? undefined : Pricing.toJson(cost.total),
      refusal
    } satisfies Estimate
  }).pipe(Effect.mapError(toSmsError))

const validateOptionsOf = (config: SmsConfig) => ({
  policy: config.numbers ?? {},
  ...(config.defaultCountry === undefined ? {} : { defaultCountry: config.defaultCountry })
})

// The express lane: a message sent now through the built-in in-memory
// services runs on their synchronous cores (see internal/cores.ts). It does
// what `prepare`, `commit` and `dispatch` do, in the same order, with the same
// results; a property test holds the two lanes to it. A key it reserves is
// tracked in flight as `sendKeyed` tracks it; a key already held goes to the
// general lane, which answers repeats. Its dispatch runs in a fiber of the
// pipeline, as `launch`'s.
const makeExpress = (p: Pipeline, status: Status, reports: Reports, delivery: Delivery, acceptance: Acceptance) => {
  const phonesCore = PhoneNumbers.cores.of(p.phones)
  const keysCore = Idempotency.cores.of(p.keys)
  const keyMillis = Duration.toMillis(acceptance.idempotencyWindow)
  const storeCore = MessageStore.cores.of(p.store)
  // `null`: the service is absent, so nothing to run; `undefined`: present, without a core
  const consentCore = p.consent._tag === "Some" ? Consent.cores.of(p.consent.value) : null
  const eventsCore = p.events._tag === "Some" ? Events.cores.of(p.events.value) : null
  const templatesCore = Templates.cores.of(p.templates)
  const validateOptions = p.validateOptions
  const open = !p.outbox.durable && !p.money && phonesCore !== undefined && storeCore !== undefined && consentCore !== undefined &&
    eventsCore !== undefined

  const announce = (message: MessageStore.StoredMessage, change: MessageStore.StatusChange | undefined, previous: MessageStore.MessageStatus | undefined) => {
    if (eventsCore?.listening() === true) eventsCore.publish(status.statusEvent(message, change, previous))
  }

  // The clock is the fiber's, read when the router answers.
  const settle = (queued: MessageStore.StoredMessage, clock: Clock.Clock) =>
  (result: Result.Result<Router.Dispatch, Router.RoutingError>): Effect.Effect<Receipt, SmsError> => {
    const settled = settlementOf(result, true)
    const change = { status: settled.status ?? "failed", at: clock.currentTimeMillisUnsafe(), reason: settled.reason }
    const moved = storeCore!.transition(queued.id, change, settled.patch)
    if (Result.isFailure(moved)) return Effect.die(moved.failure)
    const next = moved.success
    announce(next, change, queued.status)
    if (Result.isFailure(result)) return Effect.fail(toSmsError(result.failure))
    const receipt = toReceipt(next)
    return storeCore!.holdsReports() ? Effect.as(Effect.orDie(reports.applyEarly(next)), receipt) : Effect.succeed(receipt)
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
    const analyzed = analyzeWithin(p, rendered?.text ?? (content._tag === "Text" ? content.text : ""), content)
    if (Result.isFailure(analyzed)) return fail(analyzed.failure)
    const analysis = analyzed.success
    const queued = messageOf(p, request, number, analysis, rendered, newId(), now, undefined, options)
    let settleKey: Settle | undefined
    if (request.idempotencyKey !== undefined) {
      const reservation = { messageId: queued.id, fingerprint: fingerprint(request, number.e164) }
      const held = keysCore!.reserve(Idempotency.scopedKey(request.tenant, request.idempotencyKey), reservation, keyMillis, now)
      // the key's first message answers a repeat: the general lane knows how
      if (Option.isSome(held)) return undefined
      settleKey = acceptance.track(queued.id)
    }
    storeCore.insert(queued, now)
    announce(queued, queued.history[0], undefined)
    announce(queued, queued.history[1], "accepted")
    const routed = p.router.dispatch(routeRequestOf(queued, analysis.text, number, options), submissionOf(queued, analysis.text, analysis.segments))
    const settleQueued = settle(queued, clock)
    const settled = Effect.matchEffect(routed, {
      onSuccess: (sent) => settleQueued(Result.succeed(sent)),
      onFailure: (error) => settleQueued(Result.fail(error))
    })
    if (settleKey === undefined) return Effect.onInterrupt(settled, () => delivery.resume(queued, analysis.text, options))
    const key = settleKey
    return Effect.onExit(settled, (exit) => Exit.hasInterrupts(exit) ? delivery.resume(queued, analysis.text, options, key) : key(exit))
  }

  const takes = (request: SendRequest.DecodedRequest) =>
    open && (request.idempotencyKey === undefined || keysCore !== undefined) && !p.capped.has(request.purpose) &&
    (request.content._tag === "Text" || templatesCore !== undefined)

  return { sendNow, takes }
}

// The pipeline and, for the verification sender, its send with the
// verification purpose, which the public service does not offer.
const build = Effect.fnUntraced(function*(
  config: SmsConfig,
  transports: ReadonlyArray<Transport.Transport>
) {
  const p = yield* pipelineOf(config, transports)
  const status = makeStatus(p)
  const reports = makeReports(p, status)
  const delivery = makeDelivery(p, status, reports)
  const acceptance = makeAcceptance(p, status, delivery)
  const express = makeExpress(p, status, reports, delivery, acceptance)
  yield* p.outbox.run(delivery.runJob)

  const sendRequest = (
    request: SendRequest.DecodedRequest,
    options: SendOptions,
    fiber: Fiber.Fiber<unknown, unknown>
  ): Effect.Effect<Receipt, SmsError> => {
    const general = Effect.mapError(acceptance.sendDecoded(request, options), toSmsError)
    if (!express.takes(request)) return general
    const clock = fiber.getRef(Clock.Clock)
    const now = clock.currentTimeMillisUnsafe()
    const later = request.sendAt !== undefined && request.sendAt > now
    return (later ? undefined : express.sendNow(request, options, clock, now)) ?? general
  }

  const send = (input: unknown, options: SendOptions = plain): Effect.Effect<Receipt, SmsError> =>
    Effect.withFiber((fiber) => {
      const decoded = decodeGuarded(input)
      return Result.isFailure(decoded) ? fail(decoded.failure) : sendRequest(decoded.success, options, fiber)
    })

  const inbound = makeInbound(p, status, send)
  yield* listenToTransports(p, reports, inbound)
  yield* Effect.forkScoped(Effect.repeat(expireDue(p, status), Schedule.spaced(config.expirySweep ?? "1 minute")))

  const service = Sms.of({
    send: (request) => send(request),
    sendBatch: sendBatchWith(send, config.batchConcurrency ?? 16),
    get: (id) => getMessage(p, id),
    cancel: (id) => cancel(p, status, id),
    deliveryReceipt: (input) => deliveryReceipt(p, reports, input),
    inbound,
    deadLetters: (options) => Effect.mapError(p.store.list({ status: "failed", limit: options?.limit }), toSmsError),
    retry: (id) => retryFailed(p, acceptance, id),
    estimate: estimateWith(p)
  })
  // A code the Verification service built: its own request, not decoded again.
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

// the service's other members

// A non-array is refused whole, before anything is sent; each request then fails or succeeds alone.
const sendBatchWith = (send: (request: unknown) => Effect.Effect<Receipt, SmsError>, concurrency: number) =>
(requests: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<BatchResult>, SmsError> => {
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

const getMessage = (p: Pipeline, id: string): Effect.Effect<MessageStore.StoredMessage, SmsError> =>
  Effect.flatMap(Effect.mapError(p.store.get(id), toSmsError), (found) =>
    Option.isSome(found) ? Effect.succeed(found.value) : fail(new MessageStore.MessageNotFound({ field: "id" })))

// The job stays in the Outbox and ends at once when it finds the message canceled.
const cancel = (p: Pipeline, status: Status, id: string) =>
  Effect.gen(function*() {
    const message = yield* getMessage(p, id)
    const notCancelable = new NotCancelable({ field: "id", status: message.status })
    if (message.status !== "accepted" || message.sendAt === undefined) return yield* fail(notCancelable)
    return yield* status.move(message, "canceled", undefined, "canceled").pipe(
      Effect.catchTag("StoreUnavailable", (error) => Effect.fail(toSmsError(error))),
      Effect.catchTag(["MessageNotFound", "InvalidTransition"], () => fail(notCancelable))
    )
  })

const retryFailed = (p: Pipeline, acceptance: ReturnType<typeof makeAcceptance>, id: string) =>
  Effect.gen(function*() {
    const message = yield* getMessage(p, id)
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
      status: "queued",
      history: [{ status: "accepted", at: now, reason: `retry of ${message.id}` }, { status: "queued", at: now }],
      attempts: 0,
      decisions: [],
      cost: undefined,
      route: undefined,
      transport: undefined,
      providerMessageId: undefined,
      segmentIds: undefined,
      segmentStatuses: undefined,
      idempotencyKey: undefined,
      createdAt: now,
      sendAt: undefined,
      validUntil: now + p.defaultValidity
    }
    const number = yield* Effect.mapError(p.phones.normalize(again.to), (error) => new SmsError({ reason: error.reason }))
    const analysis = Encoding.analyze(again.text, { smartEncoding: false })
    return yield* acceptance.sendOnce({ message: again, analysis, number, options: plain })
  })

const deliveryReceipt = (p: Pipeline, reports: Reports, input: unknown) =>
  Effect.gen(function*() {
    const decoded = decodeReport(input)
    if (Result.isFailure(decoded)) {
      return yield* fail(new SendRequest.InvalidRequest({ field: "receipt", problem: "not a delivery receipt" }))
    }
    const report = decoded.success
    const transport = p.transports.find((t) => t.name === report.transport)
    if (transport === undefined) {
      return yield* fail(new SendRequest.InvalidRequest({ field: "transport", problem: "not a configured transport" }))
    }
    const status = transport.mapStatus(report.status)
    if (status === undefined) {
      return yield* fail(new SendRequest.InvalidRequest({ field: "status", problem: "not a status this transport reports" }))
    }
    const now = yield* Clock.currentTimeMillis
    const at = report.at === undefined ? now : typeof report.at === "number" ? report.at : new Date(report.at).getTime()
    return yield* Effect.mapError(
      reports.receive({
        _tag: "DeliveryReport",
        transport: report.transport,
        providerMessageId: report.providerMessageId,
        status,
        providerStatus: report.status,
        errorCode: report.errorCode,
        at: Number.isFinite(at) ? at : now
      }),
      toSmsError
    )
  })

const makeInbound = (p: Pipeline, status: Status, send: (input: unknown, options: SendOptions) => Effect.Effect<Receipt, SmsError>) =>
  Effect.fnUntraced(function*(input: unknown) {
    const result = yield* p.inbound.handle(input).pipe(
      Effect.mapError((error) => new SmsError({ reason: error.reason }))
    )
    if (!result.complete) return result
    yield* status.publish({
      _tag: "InboundReceived",
      transport: result.message.transport,
      action: result.action,
      text: result.message.text,
      from: p.logNumbers ? result.message.from : undefined,
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

// Receipts and replies a transport's own connection brings: a store outage
// is retried briefly, then logged, since the carrier will not send it again.
const listenToTransports = (
  p: Pipeline,
  reports: Reports,
  inbound: (input: unknown) => Effect.Effect<Inbound.InboundResult, SmsError>
) => {
  const onFeedback = (feedback: Transport.Feedback): Effect.Effect<void> =>
    feedback._tag === "DeliveryReport"
      ? reports.receive(feedback).pipe(
        Effect.retry({ schedule: Schedule.exponential("100 millis"), times: 5 }),
        Effect.catchTag("StoreUnavailable", () => Effect.logWarning("smsforge: a delivery receipt was lost: the message store did not answer")),
        Effect.asVoid
      )
      : Effect.asVoid(Effect.ignore(inbound(feedback)))
  return Effect.forEach(p.transports, (t) => t.listen(onFeedback), { discard: true })
}

// Messages past their validity without a final receipt end `expired`.
const expireDue = (p: Pipeline, status: Status) => {
  const withReceipts = new Set(p.transports.filter((t) => t.capabilities.deliveryReceipts).map((t) => t.name))
  return Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const waiting = yield* p.store.list({ status: "submitted" })
    for (const message of waiting) {
      if (message.validUntil !== undefined && message.validUntil <= now && withReceipts.has(message.transport ?? "")) {
        yield* Effect.ignore(status.move(message, "expired", undefined, "validity period passed"))
      }
    }
  }).pipe(Effect.catchTag("StoreUnavailable", () => Effect.void))
}

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
          yield* Effect.mapError(store.insert({
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
          }), (e) => sendError(e._tag))
          return { messageId: id }
        })
      },
      deliveryStatus: (messageId) =>
        store.get(messageId).pipe(
          Effect.map((m) => (Option.isSome(m) ? verificationStatus[m.value.status] : "pending" as const)),
          Effect.orElseSucceed(() => "pending" as const)
        )
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
  | Outbox.Outbox
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

// money: prices, caps and balances, each only when configured. They are
// services in the context, which the Router and the pipeline look for, so
// an absent one costs a send nothing.

/** Caps on the `BudgetStore` in the context, else in memory; their alerts go on the bus. */
const layerBudget = (options: Budget.BudgetOptions): Layer.Layer<Budget.Budget, Budget.BudgetError, Events.Events> =>
  Layer.effect(
    Budget.Budget,
    Effect.gen(function*() {
      const given = yield* Effect.serviceOption(Budget.BudgetStore)
      const store = Option.isSome(given) ? given.value : yield* Budget.makeStoreMemory
      const budget = yield* Effect.provideService(Budget.make(options), Budget.BudgetStore, store)
      const events = yield* Events.Events
      // subscribed before the first send, so no alert is missed
      const alerts = yield* budget.subscribe
      const pubsubs = yield* loadPubSub
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(pubsubs.take(alerts), events.publish)))
      return budget
    })
  )

/** The monitor, its low and recovered balances on the bus (its first poll's too) and to the user's hook. */
const layerBalances = (options: BalanceMonitor.BalanceMonitorOptions): Layer.Layer<BalanceMonitor.BalanceMonitor, never, Events.Events> =>
  Layer.effect(
    BalanceMonitor.BalanceMonitor,
    Effect.flatMap(Events.Events, (events) =>
      BalanceMonitor.make({
        ...options,
        // the first sends already skip a route whose balance is below its floor
        awaitFirstReading: options.awaitFirstReading ?? "5 seconds",
        onEvent: (event) =>
          Effect.andThen(
            event._tag === "BalanceQueryFailed" ? Effect.void : events.publish(event),
            options.onEvent === undefined ? Effect.void : options.onEvent(event)
          )
      }))
  )

const layerMoney = (config: SmsConfig): Layer.Layer<never, Pricing.PricingError | Budget.BudgetError, Events.Events> =>
  Layer.mergeAll(
    config.pricing === undefined ? Layer.empty : Pricing.layer(config.pricing),
    config.budget === undefined ? Layer.empty : layerBudget(config.budget),
    config.balances === undefined ? Layer.empty : layerBalances(config.balances)
  )

/**
 * The pipeline on stores you provide.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerPipeline = (
  config: SmsConfig = {}
): Layer.Layer<
  Exclude<Services, Stores>,
  SmsError | Router.RoutingError | Templates.TemplateError | Verification.VerificationError | Pricing.PricingError | Budget.BudgetError,
  Stores
> =>
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
        ...(config.circuitBreaker === undefined ? {} : { circuitBreaker: config.circuitBreaker }),
        ...(config.submitTimeout === undefined ? {} : { timeout: config.submitTimeout }),
        ...(config.transportTimeouts === undefined ? {} : { transportTimeouts: config.transportTimeouts }),
        ...(config.unknownOutcome === undefined ? {} : { unknownOutcome: config.unknownOutcome }),
        ...(config.rateMargin === undefined ? {} : { rateMargin: config.rateMargin })
      }),
      Templates.layer({ templates: config.templates ?? [] }),
      Audit.layerMemory(config.audit ?? {})
    ).pipe(Layer.provideMerge(layerMoney(config).pipe(Layer.provideMerge(Events.layer()))))
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
    Outbox.layerMemory(),
    Templates.layerStoreMemory,
    Consent.layerStoreMemory,
    Verification.layerStoreMemory,
    rateLimiterMemory
  )

/**
 * The whole pipeline with in-memory stores: nothing to start.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  config: SmsConfig = {}
): Layer.Layer<
  Services,
  SmsError | Router.RoutingError | Templates.TemplateError | Verification.VerificationError | Pricing.PricingError | Budget.BudgetError
> =>
  layerPipeline(config).pipe(Layer.provideMerge(layerStoresMemory(config)))
