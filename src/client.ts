/**
 * The Promise facade, for applications that do not use Effect.
 *
 * **Details**
 * - `createSmsClient(config)` builds the same pipeline as `Sms.layer(config)`
 *   on one managed runtime.
 * - Every rejection is an `Error` whose `_tag` names the reason
 *   (`InvalidPhoneNumber`, `ConsentRequired`, `AllRoutesFailed` …) with the
 *   same fields as the Effect error.
 * - `close()` releases transports, timers and connections.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as PubSub from "effect/PubSub"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Consent from "./Consent.ts"
import * as Events from "./Events.ts"
import type * as Inbound from "./Inbound.ts"
import { fieldName, firstProblem } from "./internal/issues.ts"
import type * as MessageStore from "./MessageStore.ts"
import * as PhoneNumbers from "./PhoneNumbers.ts"
import * as Router from "./Router.ts"
import * as Sms from "./Sms.ts"
import * as Verification from "./Verification.ts"

/**
 * The client's configuration: the pipeline's, as a plain object.
 *
 * @category models
 * @since 0.1.0
 */
export type SmsClientConfig = Sms.SmsConfig

/**
 * A rejection of the client: an `Error` whose `_tag` names the reason.
 *
 * @category models
 * @since 0.1.0
 */
export type SmsClientError = Sms.SmsErrorReason | Verification.VerificationErrorReason

/**
 * The client.
 *
 * @category models
 * @since 0.1.0
 */
export interface SmsClient {
  /** Sends one message: `{ to, text }` or `{ to, template, variables, locale? }`. */
  readonly send: (request: SendInput) => Promise<Sms.Receipt>
  /** One result per request, in order; one bad request never fails the others. */
  readonly sendBatch: (
    requests: ReadonlyArray<SendInput>
  ) => Promise<Array<{ readonly ok: true; readonly receipt: Sms.Receipt } | { readonly ok: false; readonly error: SmsClientError }>>
  /** A stored message with its status history. */
  readonly get: (id: string) => Promise<MessageStore.StoredMessage>
  /** Cancels a scheduled message. */
  readonly cancel: (id: string) => Promise<MessageStore.StoredMessage>
  readonly verify: {
    readonly start: (request: Verification.StartInput) => Promise<Verification.StartResult>
    readonly check: (request: Verification.CheckInput) => Promise<Verification.CheckResult>
    readonly cancel: (verificationId: string) => Promise<Verification.CheckResult>
    /** Sends a new code; the previous one stops working. */
    readonly resend: (request: Verification.ResendRequest) => Promise<Verification.StartResult>
    /** Authenticator apps: the same API for app codes. */
    readonly totp: {
      /** The `otpauth://` URI and secret hold the key: show them once, never log them. */
      readonly enroll: (request: { readonly subject: string; readonly label?: string; readonly tenant?: string }) => Promise<{
        readonly subject: string
        readonly uri: string
        readonly secret: string
      }>
      readonly check: (request: { readonly subject: string; readonly code: string; readonly tenant?: string }) => Promise<
        Verification.TotpCheckResult
      >
    }
  }
  /** Routing rules, replaced at run time without a restart. */
  readonly routing: {
    readonly setRules: (rules: unknown) => Promise<void>
    readonly routes: () => Promise<ReadonlyArray<Router.RouteStatus>>
  }
  /** Consent records: marketing goes only to people who agreed to it. */
  readonly consent: {
    readonly grant: (change: Consent.ConsentChange) => Promise<Consent.ConsentRecord>
    readonly revoke: (change: Consent.ConsentChange) => Promise<Consent.ConsentRecord>
    readonly get: (to: string, tenant?: string) => Promise<Consent.ConsentRecord | undefined>
    /** Double opt-in: records a pending consent and sends the confirmation; a positive reply confirms it. */
    readonly requestConfirmation: (change: Consent.ConsentChange) => Promise<Sms.Receipt>
  }
  /** Feeds a reply in; STOP-type keywords opt the sender out of marketing. */
  readonly inbound: (message: InboundInput) => Promise<Inbound.InboundResult>
  /** Feeds a delivery receipt in. */
  readonly deliveryReceipt: (receipt: ReceiptInput) => Promise<Sms.ReceiptOutcome>
  /** Calls `listener` for every event until the returned function is called. */
  readonly subscribe: (listener: (event: Events.SmsEvent) => void) => () => void
  /** Messages that ended `failed`. */
  readonly deadLetters: (options?: { readonly limit?: number }) => Promise<ReadonlyArray<MessageStore.StoredMessage>>
  /** Releases transports, timers and connections. */
  readonly close: () => Promise<void>
}

/**
 * @category models
 * @since 0.1.0
 */
export type SendInput =
  & {
    readonly to: string
    readonly from?: string
    readonly purpose?: "transactional" | "marketing"
    readonly idempotencyKey?: string
    readonly sendAt?: Date | number | string
    readonly validity?: number | string
    readonly tenant?: string
    readonly metadata?: Readonly<Record<string, string | number | boolean>>
  }
  & (
    | { readonly text: string }
    | { readonly template: string; readonly variables?: Readonly<Record<string, unknown>>; readonly locale?: string }
  )

/**
 * @category models
 * @since 0.1.0
 */
export interface InboundInput {
  readonly from: string
  readonly to: string
  readonly text: string
  readonly receivedAt?: Date | number | string
  readonly transport: string
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ReceiptInput {
  readonly providerMessageId: string
  readonly transport: string
  /** Ours or the carrier's own status word. */
  readonly status: string
  readonly errorCode?: string
  readonly at?: Date | number | string
}

/**
 * A configuration the client cannot start with; `field` names the key.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>("smsforge/client/InvalidConfig")("InvalidConfig", {
  field: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `Invalid smsforge config: ${this.field} is ${this.problem}`
  }
}

const isTransportLike = (u: unknown): boolean =>
  typeof u === "object" && u !== null && (Effect.isEffect(u) || ("submit" in u && "name" in u))

const DurationInput = Schema.Union([Schema.Finite, Schema.String])
const ConfigSchema = Schema.Struct({
  transports: Schema.optional(Schema.Array(Schema.Unknown.check(Schema.makeFilter(isTransportLike, {
    expected: "a transport"
  })))),
  routing: Schema.optional(Schema.Unknown),
  retry: Schema.optional(Schema.Struct({
    base: Schema.optional(DurationInput),
    factor: Schema.optional(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1))),
    cap: Schema.optional(DurationInput),
    maxAttempts: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 }))),
    jitter: Schema.optional(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })))
  })),
  circuitBreaker: Schema.optional(Schema.Struct({
    failures: Schema.optional(Schema.Int.check(Schema.isGreaterThan(0))),
    openDuration: Schema.optional(DurationInput)
  })),
  defaultCountry: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Z]{2}$/))),
  numbers: Schema.optional(Schema.Struct({
    allowedCountries: Schema.optional(Schema.Array(Schema.String)),
    deniedCountries: Schema.optional(Schema.Array(Schema.String)),
    allowedTypes: Schema.optional(Schema.Array(Schema.String))
  })),
  smartEncoding: Schema.optional(Schema.Boolean),
  maxSegments: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 255 }))),
  idempotencyWindow: Schema.optional(DurationInput),
  validity: Schema.optional(DurationInput),
  batchConcurrency: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 }))),
  expirySweep: Schema.optional(DurationInput),
  templates: Schema.optional(Schema.Array(Schema.Unknown)),
  messages: Schema.optional(Schema.Struct({
    capacity: Schema.optional(Schema.Int.check(Schema.isGreaterThan(0))),
    retention: Schema.optional(DurationInput)
  })),
  consent: Schema.optional(Schema.Unknown),
  inbound: Schema.optional(Schema.Unknown),
  verification: Schema.optional(Schema.Unknown)
})
const decodeConfig = Schema.decodeUnknownResult(ConfigSchema, { onExcessProperty: "error" })

/**
 * Checks a client configuration; answers the first wrong key.
 *
 * @category validation
 * @since 0.1.0
 */
export const validateConfig = (config: unknown): Result.Result<SmsClientConfig, InvalidConfig> => {
  const decoded = decodeConfig(config)
  if (Result.isSuccess(decoded)) return Result.succeed(config as SmsClientConfig)
  const { path, problem } = firstProblem(decoded.failure.issue)
  return Result.fail(new InvalidConfig({ field: fieldName(path) || "config", problem }))
}

/**
 * Builds the pipeline and answers its Promise facade.
 *
 * **Details**
 * Throws an `InvalidConfig` error (with `field` and `problem`) synchronously for a configuration it cannot
 * use; every other failure is a rejected Promise.
 *
 * **Example** (Sending through the sandbox)
 * ```ts
 * import { createSmsClient } from "smsforge"
 * import { Sandbox } from "smsforge/testing"
 *
 * const client = createSmsClient({ transports: [Sandbox.make()] })
 * const receipt = await client.send({ to: "+447700900123", text: "Your order has shipped" })
 * await client.close()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const createSmsClient = (config: SmsClientConfig = {}): SmsClient => {
  const checked = validateConfig(config)
  if (Result.isFailure(checked)) throw checked.failure
  const runtime = ManagedRuntime.make(Sms.layer(checked.success))
  const run = <A, E extends { readonly reason: SmsClientError }>(
    effect: Effect.Effect<A, E, Sms.Services>
  ): Promise<A> => runtime.runPromise(Effect.mapError(effect, (error) => error.reason))
  // The services are looked up once: every call after the first runs the
  // operation alone, with no lookup around it.
  let smsService: Sms.Sms["Service"] | undefined
  let verificationService: Verification.Verification["Service"] | undefined
  const sms = <A>(f: (sms: Sms.Sms["Service"]) => Effect.Effect<A, Sms.SmsError>) =>
    run(smsService !== undefined ? f(smsService) : Effect.flatMap(Sms.Sms, (service) => f(smsService = service)))
  const verification = <A>(f: (v: Verification.Verification["Service"]) => Effect.Effect<A, Verification.StartError>) =>
    run(
      verificationService !== undefined
        ? f(verificationService)
        : Effect.flatMap(Verification.Verification, (service) => f(verificationService = service))
    )

  // Consent is kept per E.164 number, so national formats are normalised first.
  const recipient = (to: string) =>
    Effect.flatMap(PhoneNumbers.PhoneNumbers, (phones) => Effect.map(phones.normalize(to), (n) => n.e164))
  const consent = <A>(change: { readonly to: string }, f: (c: Consent.Consent["Service"], to: string) => Effect.Effect<A>) =>
    run(Effect.flatMap(recipient(change.to), (to) => Effect.flatMap(Consent.Consent, (c) => f(c, to))))

  return {
    send: (request) => sms((s) => s.send(request)),
    sendBatch: (requests) =>
      sms((s) =>
        Effect.map(s.sendBatch(requests), (results) =>
          results.map((r) => (r.ok ? r : { ok: false as const, error: r.error.reason })))
      ),
    get: (id) => sms((s) => s.get(id)),
    cancel: (id) => sms((s) => s.cancel(id)),
    verify: {
      start: (request) => verification((v) => v.start(request)),
      check: (request) => verification((v) => v.check(request)),
      cancel: (verificationId) => verification((v) => v.cancel({ verificationId })),
      resend: (request) => verification((v) => v.resend(request)),
      totp: {
        enroll: (request) =>
          verification((v) =>
            Effect.map(v.totp.enroll(request), (e) => ({
              subject: e.subject,
              uri: Redacted.value(e.uri),
              secret: Redacted.value(e.secret)
            }))
          ),
        check: (request) => verification((v) => v.totp.check(request))
      }
    },
    routing: {
      setRules: (rules) => run(Effect.flatMap(Router.Router, (r) => r.setRules(rules))),
      routes: () => run(Effect.flatMap(Router.Router, (r) => r.routes))
    },
    consent: {
      grant: (change) => consent(change, (c, to) => c.grant({ ...change, to })),
      revoke: (change) => consent(change, (c, to) => c.revoke({ ...change, to })),
      get: (to, tenant) =>
        consent({ to }, (c, e164) => Effect.map(c.get(e164, tenant), Option.getOrUndefined)),
      requestConfirmation: (change) =>
        run(Effect.gen(function*() {
          const service = yield* Consent.Consent
          const to = yield* recipient(change.to)
          const confirmation = yield* service.requestConfirmation({ ...change, to })
          const pipeline = yield* Sms.Sms
          return yield* pipeline.send({
            to,
            text: confirmation.text,
            purpose: confirmation.messagePurpose,
            ...(change.tenant === undefined ? {} : { tenant: change.tenant })
          })
        }))
    },
    inbound: (message) => sms((s) => s.inbound(message)),
    deliveryReceipt: (receipt) => sms((s) => s.deliveryReceipt(receipt)),
    subscribe: (listener) => {
      const fiber = runtime.runFork(Effect.scoped(Effect.gen(function*() {
        const events = yield* Events.Events
        const subscription = yield* events.subscribe
        while (true) {
          const event = yield* PubSub.take(subscription)
          yield* Effect.sync(() => listener(event))
        }
      })))
      return () => {
        runtime.runFork(Fiber.interrupt(fiber))
      }
    },
    deadLetters: (options) => sms((s) => s.deadLetters(options)),
    close: () => runtime.dispose()
  }
}

