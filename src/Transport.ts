/**
 * The extension point for carriers: a transport submits one message and
 * answers with the provider's message id or a typed failure.
 *
 * **Details**
 * - A transport author writes `submit` and fails with one of the reasons below;
 *   {@link make} wraps them in {@link TransportError}, adds a tracing span and
 *   counts submissions, the way `SqlClient.make` does for database drivers.
 * - Reasons say whether a retry can help: `Throttled`, `Unavailable` and
 *   `Timeout` are retryable, the others are permanent.
 * - Connection life-cycles belong to the Layer scope a transport is built in.
 * - Delivery receipts and inbound replies that a transport receives on its own
 *   connection (SMPP `deliver_sm`) are handed to the pipeline through
 *   `listen`; the handler's effect completes once the report is stored, so a
 *   transport acknowledges only what was kept.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import { stackless } from "./internal/errors.ts"

// models

/**
 * The body encoding a message is submitted with.
 *
 * @category models
 * @since 0.1.0
 */
export type MessageEncoding = "GSM-7" | "UCS-2"

/**
 * One message handed to a carrier.
 *
 * @category models
 * @since 0.1.0
 */
export interface Submission {
  /** Recipient in E.164, for example `+447700900123`. */
  readonly to: string
  /** Sender ID or number; the transport's default when absent. */
  readonly from?: string | undefined
  /** The whole text, as it will reach the phone. */
  readonly text: string
  /** The text split into segments; they concatenate to `text`. */
  readonly segments: ReadonlyArray<string>
  readonly encoding: MessageEncoding
  /** Absolute time (epoch milliseconds) after which the carrier should stop trying. */
  readonly validUntil?: number | undefined
  /** Our message id; carriers that support it use it to drop duplicate submissions. */
  readonly clientReference: string
  readonly purpose: "transactional" | "marketing"
  /** For carriers that send by template code (Chinese domestic providers). */
  readonly template?: {
    readonly id: string
    readonly version: number
    readonly providerTemplateCode?: string | undefined
    readonly variables: Readonly<Record<string, string | number>>
  } | undefined
}

/**
 * A carrier's answer to an accepted submission.
 *
 * @category models
 * @since 0.1.0
 */
export interface SubmitResult {
  readonly providerMessageId: string
  /** One id per segment where the carrier answers per segment (SMPP UDH parts). */
  readonly segmentIds?: ReadonlyArray<string> | undefined
}

/**
 * What a transport can carry.
 *
 * @category models
 * @since 0.1.0
 */
export interface Capabilities {
  readonly channel: "sms" | "voice" | "email"
  readonly unicode: boolean
  readonly concatenation: boolean
  /** Submissions per second the carrier allows; routes never exceed it. */
  readonly maxPerSecond?: number | undefined
  readonly deliveryReceipts: boolean
  readonly inbound: boolean
  readonly senderTypes: ReadonlyArray<"alphanumeric" | "long-code" | "short-code" | "toll-free">
}

/**
 * A delivery status in our vocabulary, mapped from the carrier's own by the
 * transport.
 *
 * @category models
 * @since 0.1.0
 */
export type DeliveryStatus = "enroute" | "delivered" | "undelivered" | "expired" | "rejected" | "failed"

/**
 * A delivery receipt (DLR) for a message a transport submitted.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeliveryReport {
  readonly _tag: "DeliveryReport"
  readonly transport: string
  readonly providerMessageId: string
  readonly status: DeliveryStatus
  /** The carrier's own status and error code, kept for support tickets. */
  readonly providerStatus?: string | undefined
  readonly errorCode?: string | undefined
  /** Epoch milliseconds. */
  readonly at: number
}

/**
 * A message a person sent to one of our numbers (MO).
 *
 * @category models
 * @since 0.1.0
 */
export interface InboundMessage {
  readonly _tag: "InboundMessage"
  readonly transport: string
  readonly from: string
  readonly to: string
  readonly text: string
  /** Epoch milliseconds. */
  readonly receivedAt: number
  readonly providerMessageId?: string | undefined
  /** Present on one part of a concatenated message. */
  readonly part?: { readonly reference: number; readonly index: number; readonly count: number } | undefined
}

/**
 * Receipts and replies that reach a transport on its own connection.
 *
 * @category models
 * @since 0.1.0
 */
export type Feedback = DeliveryReport | InboundMessage

/**
 * Stores one piece of feedback; completes when it is kept.
 *
 * @category models
 * @since 0.1.0
 */
export type FeedbackHandler = (feedback: Feedback) => Effect.Effect<void>

// errors

// A carrier's refusal or outage is an answer, not a bug: its fields say what
// happened, and a stack of the transport's frames cost more than the rest of
// a failed attempt (about 9 µs of a failover's). Built without one.

/**
 * The carrier asks us to slow down.
 *
 * @category errors
 * @since 0.1.0
 */
export class Throttled extends stackless(Schema.TaggedError<Throttled>("smsforge/Transport/Throttled")("Throttled", {
  retryAfter: Schema.optional(Schema.DurationFromMillis),
  code: Schema.optional(Schema.String)
})) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The carrier cannot be reached or answered with a server error.
 *
 * @category errors
 * @since 0.1.0
 */
export class Unavailable extends stackless(Schema.TaggedError<Unavailable>("smsforge/Transport/Unavailable")("Unavailable", {
  code: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
})) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The carrier did not answer in time; the submission may or may not have
 * been accepted, so only transports that dedupe by `clientReference` are safe
 * to retry without a duplicate.
 *
 * @category errors
 * @since 0.1.0
 */
export class Timeout extends stackless(Schema.TaggedError<Timeout>("smsforge/Transport/Timeout")("Timeout", {
  code: Schema.optional(Schema.String)
})) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The carrier refused this message; sending it again will not help.
 *
 * @category errors
 * @since 0.1.0
 */
export class Rejected extends stackless(Schema.TaggedError<Rejected>("smsforge/Transport/Rejected")("Rejected", {
  code: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String)
})) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The carrier says the destination does not exist or cannot receive SMS.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidNumber extends stackless(Schema.TaggedError<InvalidNumber>("smsforge/Transport/InvalidNumber")("InvalidNumber", {
  code: Schema.optional(Schema.String)
})) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The carrier blocked the message (opt-out list, spam filter, sender not allowed).
 *
 * @category errors
 * @since 0.1.0
 */
export class Blocked extends stackless(Schema.TaggedError<Blocked>("smsforge/Transport/Blocked")("Blocked", {
  code: Schema.optional(Schema.String)
})) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The account has no credit left.
 *
 * @category errors
 * @since 0.1.0
 */
export class InsufficientFunds extends stackless(Schema.TaggedError<InsufficientFunds>("smsforge/Transport/InsufficientFunds")(
  "InsufficientFunds",
  { code: Schema.optional(Schema.String) }
)) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The carrier refused our credentials.
 *
 * @category errors
 * @since 0.1.0
 */
export class AuthenticationFailed extends stackless(Schema.TaggedError<AuthenticationFailed>(
  "smsforge/Transport/AuthenticationFailed"
)("AuthenticationFailed", { code: Schema.optional(Schema.String) })) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The transport broke its contract: its `submit` threw, died, failed with
 * something other than a `TransportError`, did not return an Effect, or
 * answered with a result that is not a `SubmitResult` (`problem` says which,
 * never with the carrier's payload). The router classifies this at the edge,
 * where it calls `submit`, so a misbehaving transport is one failed route.
 *
 * **Details**
 * - Not retryable on the same route: the transport's code, not the carrier,
 *   is at fault, and a retry would most likely break the same way. The router
 *   fails over to the next route, and the route's circuit counts it.
 * - `code` is there for symmetry with the other reasons; the router leaves it out.
 * - `unknownOutcome` is `true` when the carrier answered "accepted" with a
 *   malformed result: the message may have been accepted, so failing over
 *   risks a duplicate (see the router's `unknownOutcome` option).
 *
 * @category errors
 * @since 0.2.0
 */
export class ContractViolation extends stackless(Schema.TaggedError<ContractViolation>("smsforge/Transport/ContractViolation")(
  "ContractViolation",
  { problem: Schema.String, unknownOutcome: Schema.Boolean, code: Schema.optional(Schema.String) }
)) {
  override get message(): string {
    return `ContractViolation: ${this.problem}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Every reason a submission can fail for.
 *
 * @category errors
 * @since 0.1.0
 */
export const TransportErrorReason = Schema.Union([
  Throttled,
  Unavailable,
  Timeout,
  Rejected,
  InvalidNumber,
  Blocked,
  InsufficientFunds,
  AuthenticationFailed,
  ContractViolation
])

/**
 * @category errors
 * @since 0.1.0
 */
export type TransportErrorReason = typeof TransportErrorReason.Type

/**
 * The reason for a tag, for transports that classify carrier codes into tags
 * by a table and build the reason afterwards. Like every reason, built
 * without a stack trace.
 *
 * @category constructors
 * @since 0.1.0
 */
export const reasonFromTag = (
  tag: TransportErrorReason["_tag"],
  options: { readonly code?: string | undefined; readonly retryAfter?: Duration.Duration | undefined } = {}
): TransportErrorReason => {
  const code = options.code === undefined ? {} : { code: options.code }
  switch (tag) {
    case "Throttled":
      return new Throttled(options.retryAfter === undefined ? code : { ...code, retryAfter: options.retryAfter })
    case "Unavailable":
      return new Unavailable(code)
    case "Timeout":
      return new Timeout(code)
    case "Rejected":
      return new Rejected(code)
    case "InvalidNumber":
      return new InvalidNumber(code)
    case "Blocked":
      return new Blocked(code)
    case "InsufficientFunds":
      return new InsufficientFunds(code)
    case "AuthenticationFailed":
      return new AuthenticationFailed(code)
    case "ContractViolation":
      return new ContractViolation({ ...code, problem: "reported by the transport", unknownOutcome: false })
  }
}

/**
 * A failed submission: which transport, and why.
 *
 * @category errors
 * @since 0.1.0
 */
export class TransportError extends stackless(Schema.TaggedError<TransportError>("smsforge/TransportError")("TransportError", {
  transport: Schema.String,
  reason: TransportErrorReason
})) {
  override get message(): string {
    return `${this.transport}: ${this.reason._tag}`
  }
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

// service

/**
 * A carrier connection.
 *
 * @category models
 * @since 0.1.0
 */
export interface Transport {
  readonly name: string
  readonly capabilities: Capabilities
  readonly submit: (submission: Submission) => Effect.Effect<SubmitResult, TransportError>
  /**
   * Registers the pipeline's handler for receipts and replies arriving on the
   * transport's own connection. Transports fed by webhooks instead leave the
   * default, which ignores the handler.
   */
  readonly listen: (handler: FeedbackHandler) => Effect.Effect<void>
  /**
   * Maps the carrier's own delivery status word (`DELIVRD`, `undelivered`,
   * `2`) to ours, for receipts the host feeds in from a webhook.
   */
  readonly mapStatus: (providerStatus: string) => DeliveryStatus | undefined
}

/**
 * The transport of a pipeline with a single carrier.
 *
 * @category services
 * @since 0.1.0
 */
export const Transport: Context.Service<Transport, Transport> = Context.Service<Transport>("smsforge/Transport")

// One counter per series, with its attributes fixed: `Metric.withAttributes`
// rebuilds the context and the series key on every update (about 600 bytes).
const submissions = (transport: string, outcome: string) =>
  Metric.counter("smsforge_transport_submissions", {
    description: "Submissions handed to a carrier, by transport and outcome",
    attributes: { transport, outcome }
  })

/**
 * Builds a transport from a carrier author's `submit`.
 *
 * **Details**
 * The author's `submit` fails with a `TransportErrorReason`; `make` wraps
 * it in {@link TransportError}, adds the `smsforge/Transport.submit` span and
 * counts outcomes on `smsforge_transport_submissions`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: {
  readonly name: string
  readonly capabilities: Capabilities
  readonly submit: (submission: Submission) => Effect.Effect<SubmitResult, TransportErrorReason>
  readonly listen?: ((handler: FeedbackHandler) => Effect.Effect<void>) | undefined
  readonly mapStatus?: ((providerStatus: string) => DeliveryStatus | undefined) | undefined
}): Transport => {
  const ok = submissions(options.name, "accepted")
  // Built once per transport, not per submission: the counters by outcome.
  const failed = new Map<string, Metric.Counter<number>>()
  const failedCounter = (tag: string) => {
    let counter = failed.get(tag)
    if (counter === undefined) {
      counter = submissions(options.name, tag)
      failed.set(tag, counter)
    }
    return counter
  }
  const attributes = { transport: options.name }
  // Counted in place, with the fiber's context: `Metric.update` as an effect
  // costs as much as the rest of this wrapper.
  const submit = (submission: Submission): Effect.Effect<SubmitResult, TransportError> =>
    Effect.withFiber((fiber) => {
      const counted = Effect.matchEffect(options.submit(submission), {
        onFailure: (reason: TransportErrorReason) => {
          failedCounter(reason._tag).updateUnsafe(1, fiber.context)
          return Effect.fail(new TransportError({ transport: options.name, reason }))
        },
        onSuccess: (result: SubmitResult) => {
          ok.updateUnsafe(1, fiber.context)
          return Effect.succeed(result)
        }
      })
      return fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
        ? counted
        : Effect.withSpan(counted, "smsforge/Transport.submit", { attributes, captureStackTrace: false })
    })
  return {
    name: options.name,
    capabilities: options.capabilities,
    submit,
    listen: options.listen ?? (() => Effect.void),
    mapStatus: (status) => options.mapStatus?.(status) ?? mapCommonStatus(status)
  }
}

const commonStatuses = new Map<string, DeliveryStatus>(Object.entries({
  // ours
  enroute: "enroute",
  delivered: "delivered",
  undelivered: "undelivered",
  expired: "expired",
  rejected: "rejected",
  failed: "failed",
  // SMPP 3.4 receipt `stat:` words and message_state names
  delivrd: "delivered",
  undeliv: "undelivered",
  rejectd: "rejected",
  deleted: "failed",
  unknown: "enroute",
  acceptd: "enroute",
  // words HTTP carriers commonly use
  accepted: "enroute",
  queued: "enroute",
  sending: "enroute",
  sent: "enroute",
  buffered: "enroute",
  scheduled: "enroute"
} satisfies Record<string, DeliveryStatus>))

/**
 * Our status for the delivery status words carriers commonly use (SMPP's
 * `DELIVRD`/`UNDELIV`/`EXPIRED`, HTTP carriers' `delivered`/`failed`), or
 * `undefined` for a word it does not know.
 *
 * @category utils
 * @since 0.1.0
 */
export const mapCommonStatus = (providerStatus: string): DeliveryStatus | undefined =>
  commonStatuses.get(providerStatus.trim().toLowerCase())

/**
 * Provides a single transport as the `Transport` service.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <E, R>(transport: Effect.Effect<Transport, E, R>) => Layer.effect(Transport, transport)
