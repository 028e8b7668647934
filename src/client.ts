/**
 * The Promise facade, for applications that do not use Effect.
 *
 * **Details**
 * - `createSmsClient(config)` builds the same pipeline as `Sms.layer(config)`
 *   on one managed runtime.
 * - Every rejection is an `Error` whose `_tag` names the reason
 *   (`InvalidPhoneNumber`, `ConsentRequired`, `AllRoutesFailed` …) with the
 *   same fields as the Effect error.
 * - `close()` releases transports, timers and connections; after it every
 *   method rejects with `ClientClosed`. `await using` closes it too.
 * - `ready()` builds the pipeline ahead of the first send.
 * - `observability` records spans in an OpenTelemetry `TracerProvider` or runs
 *   the client with an Effect layer (a tracer, a logger, a metrics exporter).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import * as Budget from "./Budget.ts"
import * as Consent from "./Consent.ts"
import * as Events from "./Events.ts"
import type * as Inbound from "./Inbound.ts"
import * as OtelBridge from "./internal/client/otel.ts"
import { fieldName, firstProblem, firstUnknownKey } from "./internal/issues.ts"
import { loadPubSub } from "./internal/lazy.ts"
import type * as MessageStore from "./MessageStore.ts"
import * as PhoneNumbers from "./PhoneNumbers.ts"
import * as Pricing from "./Pricing.ts"
import * as Router from "./Router.ts"
import * as SendRequest from "./SendRequest.ts"
import * as Sms from "./Sms.ts"
import * as Verification from "./Verification.ts"

/**
 * The client's configuration: the pipeline's, as a plain object.
 *
 * @category models
 * @since 0.1.0
 */
export type SmsClientConfig = Sms.SmsConfig & {
  /** Where the client's spans, logs and metrics go. Nothing is recorded without it. */
  readonly observability?: ObservabilityOptions | undefined
  /**
   * The stores and the Outbox, for example `PostgresStores.layer()` from
   * `smsforge/stores/postgres` provided with its SQL client: with a durable
   * Outbox every accepted message finishes across crashes and restarts.
   * Default: memory (`Sms.layerStoresMemory`).
   */
  readonly stores?: Layer.Layer<Sms.Stores, unknown> | undefined
}

/**
 * An OpenTelemetry `TracerProvider` (from `@opentelemetry/api` 1.x or an SDK), typed
 * by the members smsforge calls so the core needs no OpenTelemetry package.
 *
 * @category models
 * @since 0.1.0
 */
export type OtelTracerProvider = OtelBridge.OtelTracerProvider

/**
 * Where the client's spans, logs and metrics go.
 *
 * **Details**
 * - `tracerProvider`: smsforge's spans (`smsforge/Router.dispatch`,
 *   `smsforge/Templates.render`, `smsforge/Transport.submit` …) are made by this
 *   provider's tracer, under the application's active span.
 * - `layer`: an Effect layer the client's runtime is built with, for example
 *   `Otlp.layerJson(…)` from `effect/observability` (spans, logs and metrics
 *   over OTLP/HTTP), a `Logger` layer or a `Tracer`.
 * - With either, the client logs each event through Effect's logger: status
 *   changes, verifications and consent changes at `Debug`, blocks at `Info`,
 *   with ids, statuses and routes only — never a number, a code or a text.
 *
 * @category models
 * @since 0.1.0
 */
export interface ObservabilityOptions {
  readonly tracerProvider?: OtelTracerProvider | undefined
  readonly layer?: Layer.Layer<never, unknown> | undefined
}

/**
 * A rejection of the client: an `Error` whose `_tag` names the reason.
 *
 * @category models
 * @since 0.1.0
 */
export type SmsClientError = Sms.SmsErrorReason | Verification.VerificationErrorReason | ClientClosed

/**
 * The client.
 *
 * @category models
 * @since 0.1.0
 */
export interface SmsClient {
  /** Sends one message: `{ to, text }` or `{ to, template, variables, locale? }`. */
  readonly send: (request: SendInput) => Promise<Sms.Receipt>
  readonly sendBatch: (
    requests: ReadonlyArray<SendInput>
  ) => Promise<Array<{ readonly ok: true; readonly receipt: Sms.Receipt } | { readonly ok: false; readonly error: SmsClientError }>>
  /**
   * What `send` would do now — number, consent and quiet hours, encoding and
   * segments, the route and why, the price, whether a cap would refuse —
   * without sending, storing or counting anything; rejects as `send` would.
   */
  readonly estimate: (request: SendInput) => Promise<Sms.Estimate>
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
    readonly setRules: (rules: Router.RoutingRulesInput) => Promise<void>
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
  /**
   * Calls `listener` for every event until the returned function is called.
   * A listener that throws stays subscribed: each throw is a `ListenerFailed`,
   * handed to `options.onError`, or logged as a warning without one.
   */
  readonly subscribe: (
    listener: (event: Events.SmsEvent) => void,
    options?: { readonly onError?: ((failure: ListenerFailed) => void) | undefined }
  ) => () => void
  /** Messages that ended `failed`. */
  readonly deadLetters: (options?: { readonly limit?: number }) => Promise<ReadonlyArray<MessageStore.StoredMessage>>
  /**
   * Every metric of the client's runtime (`smsforge_transport_submissions` …) in
   * the Prometheus text format, for a `/metrics` endpoint.
   */
  readonly prometheus: (options?: { readonly prefix?: string | undefined }) => Promise<string>
  /**
   * Builds the pipeline now and resolves once it can send, so the first send
   * does not pay for the set-up; rejects with the typed reason when it cannot be built.
   */
  readonly ready: () => Promise<void>
  /** Releases transports, timers and connections; calling it again is harmless. */
  readonly close: () => Promise<void>
  /** `await using client = createSmsClient(…)` closes the client at the end of the block (Node 20.4+, TypeScript 5.2+). */
  readonly [Symbol.asyncDispose]: () => Promise<void>
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

/**
 * The client was closed: create a new one to go on. `method` names the call.
 *
 * @category errors
 * @since 0.1.0
 */
export class ClientClosed extends Schema.TaggedError<ClientClosed>("smsforge/client/ClientClosed")("ClientClosed", {
  method: Schema.String
}) {
  override get message(): string {
    return `The smsforge client is closed (${this.method})`
  }
}

/**
 * A `subscribe` listener threw on an event. The listener stays subscribed;
 * `event` is the event's `_tag` and `cause` what the listener threw.
 *
 * @category errors
 * @since 0.1.0
 */
export class ListenerFailed extends Schema.TaggedError<ListenerFailed>("smsforge/client/ListenerFailed")("ListenerFailed", {
  event: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `A subscribe listener threw on a ${this.event} event`
  }
}

const isTransportLike = (u: unknown): boolean =>
  typeof u === "object" && u !== null && (Effect.isEffect(u) || ("submit" in u && "name" in u))

const isTracerProvider = (u: unknown): boolean =>
  typeof u === "object" && u !== null && typeof (u as { readonly getTracer?: unknown }).getTracer === "function"

const DurationInput = Schema.Union([Schema.Finite, Schema.String])
const ConfigSchema = Schema.Struct({
  transports: Schema.optional(Schema.Array(Schema.Unknown.check(Schema.makeFilter(isTransportLike, {
    expected: "a transport"
  })))),
  routing: Schema.optional(Router.RoutingConfig),
  retry: Schema.optional(Schema.Struct({
    base: Schema.optional(DurationInput),
    factor: Schema.optional(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1))),
    cap: Schema.optional(DurationInput),
    maxAttempts: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 }))),
    jitter: Schema.optional(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })))
  })),
  submitTimeout: Schema.optional(DurationInput),
  transportTimeouts: Schema.optional(Schema.Record(Schema.String, DurationInput)),
  unknownOutcome: Schema.optional(Schema.Literals(["retry", "fail"])),
  rateMargin: Schema.optional(DurationInput),
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
  verification: Schema.optional(Schema.Unknown),
  audit: Schema.optional(Schema.Struct({
    logPhoneNumbers: Schema.optional(Schema.Boolean),
    phoneNumbers: Schema.optional(Schema.Literals(["hash", "redact"])),
    hashKey: Schema.optional(Schema.Union([
      Schema.String.check(Schema.isMinLength(1)),
      Schema.Unknown.check(Schema.makeFilter(Redacted.isRedacted, { expected: "a string or a Redacted string" }))
    ])),
    storeBodies: Schema.optional(Schema.Boolean),
    retention: Schema.optional(DurationInput)
  })),
  // decoded when the pipeline is built, with errors naming the row, column or field
  pricing: Schema.optional(Schema.Unknown),
  budget: Schema.optional(Schema.Unknown),
  balances: Schema.optional(Schema.Unknown),
  stores: Schema.optional(Schema.Unknown.check(Schema.makeFilter(Layer.isLayer, { expected: "an Effect Layer" }))),
  observability: Schema.optional(Schema.Struct({
    tracerProvider: Schema.optional(Schema.Unknown.check(Schema.makeFilter(isTracerProvider, {
      expected: "an OpenTelemetry TracerProvider"
    }))),
    layer: Schema.optional(Schema.Unknown.check(Schema.makeFilter(Layer.isLayer, { expected: "an Effect Layer" })))
  }))
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
  if (Result.isSuccess(decoded)) {
    const money = moneyProblem(config as SmsClientConfig)
    return money === undefined ? Result.succeed(config as SmsClientConfig) : Result.fail(money)
  }
  const { path, problem } = firstProblem(decoded.failure.issue)
  return Result.fail(new InvalidConfig({ field: fieldName(path) || "config", problem }))
}

// Price tables and caps are decoded here too, so a bad row or cap throws
// from createSmsClient as every other config mistake does.
const moneyProblem = (config: SmsClientConfig): InvalidConfig | undefined => {
  if (config.pricing !== undefined) {
    const table = Pricing.tableOf(config.pricing)
    if (Result.isFailure(table)) {
      const reason = table.failure.reason
      if (reason._tag !== "InvalidPriceTable") return new InvalidConfig({ field: "pricing", problem: reason.message })
      const field = reason.source === "prices"
        ? `pricing.prices[${reason.row - 1}].${reason.column}`
        : `pricing.csv (${reason.source} row ${reason.row}, column ${reason.column})`
      return new InvalidConfig({ field, problem: reason.problem })
    }
  }
  if (config.budget !== undefined) {
    const checked = Budget.validateOptions(config.budget)
    if (Result.isFailure(checked)) {
      const reason = checked.failure.reason
      return reason._tag === "InvalidBudgetConfig"
        ? new InvalidConfig({ field: `budget.${reason.field}`, problem: reason.problem })
        : new InvalidConfig({ field: "budget", problem: reason.message })
    }
  }
  return undefined
}

const CONSENT_CHANGE_KEYS: ReadonlySet<string> = new Set([
  "to",
  "purpose",
  "topic",
  "tenant",
  "source",
  "text",
  "keyword",
  "origin",
  "at"
])

// A consent change is evidence: a typo such as `purpse` would otherwise grant the
// default purpose (marketing), so an unknown key is refused by name.
const unknownConsentKey = (change: object): SendRequest.InvalidRequest | undefined => {
  if (typeof change !== "object" || change === null) {
    return new SendRequest.InvalidRequest({ field: "change", problem: "a consent change object" })
  }
  const key = firstUnknownKey(change, CONSENT_CHANGE_KEYS)
  return key === undefined ? undefined : new SendRequest.InvalidRequest({ field: key, problem: "not allowed" })
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
  const client: ClientState = {
    runtime: makeRuntime(checked.success),
    closing: undefined,
    sms: undefined,
    verification: undefined
  }
  const close = () => closeClient(client)
  return {
    send: (request) => withSms(client, "send", (s) => s.send(request)),
    sendBatch: (requests) => withSms(client, "sendBatch", (s) => sendBatch(s, requests)),
    estimate: (request) => withSms(client, "estimate", (s) => s.estimate(request)),
    get: (id) => withSms(client, "get", (s) => s.get(id)),
    cancel: (id) => withSms(client, "cancel", (s) => s.cancel(id)),
    verify: verifyMethods(client),
    routing: {
      setRules: (rules) => run(client, "routing.setRules", Effect.flatMap(Router.Router, (r) => r.setRules(rules))),
      routes: () => run(client, "routing.routes", Effect.flatMap(Router.Router, (r) => r.routes))
    },
    consent: consentMethods(client),
    inbound: (message) => withSms(client, "inbound", (s) => s.inbound(message)),
    deliveryReceipt: (receipt) => withSms(client, "deliveryReceipt", (s) => s.deliveryReceipt(receipt)),
    subscribe: (listener, options) => subscribe(client, listener, options?.onError),
    deadLetters: (options) => withSms(client, "deadLetters", (s) => s.deadLetters(options)),
    prometheus: (options) => run(client, "prometheus", prometheusText(options?.prefix)),
    ready: () => run(client, "ready", lookUpServices(client)),
    close,
    [asyncDispose]: close
  }
}

// What every method of one client shares. The services are looked up once:
// every call after the first runs the operation alone, with no lookup around it.
interface ClientState {
  readonly runtime: ManagedRuntime.ManagedRuntime<Sms.Services, unknown>
  closing: Promise<void> | undefined
  sms: Sms.Sms["Service"] | undefined
  verification: Verification.Verification["Service"] | undefined
}

const makeRuntime = (config: SmsClientConfig): ManagedRuntime.ManagedRuntime<Sms.Services, unknown> => {
  const { observability, stores, ...pipelineConfig } = config
  const pipeline: Layer.Layer<Sms.Services, unknown> = stores === undefined
    ? Sms.layer(pipelineConfig)
    : Sms.layerPipeline(pipelineConfig).pipe(Layer.provideMerge(stores))
  return ManagedRuntime.make(
    observability === undefined
      ? pipeline
      : Layer.provideMerge(Layer.provideMerge(logEvents, pipeline), observabilityLayer(observability))
  )
}

const closeClient = (client: ClientState): Promise<void> => {
  client.closing ??= client.runtime.dispose()
  return client.closing
}

// A call after close() is refused before it reaches the disposed runtime;
// one in flight when the runtime goes down settles as ClientClosed too.
const run = <A, E extends { readonly reason: SmsClientError }>(
  client: ClientState,
  method: string,
  effect: Effect.Effect<A, E, Sms.Services>
): Promise<A> => {
  if (client.closing !== undefined) return Promise.reject(new ClientClosed({ method }))
  const promise = client.runtime.runPromise(Effect.mapError(effect, (error) => error.reason))
  // Once the pipeline is built, a rejection is already the typed reason: the
  // send path keeps its single promise.
  return client.runtime.cachedContext === undefined ? promise.then(undefined, settle(client, method)) : promise
}

const settle = (client: ClientState, method: string) => (error: unknown): Promise<never> =>
  Promise.reject(client.closing !== undefined && !isTagged(error) ? new ClientClosed({ method }) : reasonOf(error))

const withSms = <A>(
  client: ClientState,
  method: string,
  f: (sms: Sms.Sms["Service"]) => Effect.Effect<A, Sms.SmsError>
): Promise<A> =>
  run(
    client,
    method,
    client.sms !== undefined ? f(client.sms) : Effect.flatMap(Sms.Sms, (service) => f(client.sms = service))
  )

const withVerification = <A>(
  client: ClientState,
  method: string,
  f: (v: Verification.Verification["Service"]) => Effect.Effect<A, Verification.StartError>
): Promise<A> =>
  run(
    client,
    method,
    client.verification !== undefined
      ? f(client.verification)
      : Effect.flatMap(Verification.Verification, (service) => f(client.verification = service))
  )

const lookUpServices = (client: ClientState) =>
  Effect.flatMap(Sms.Sms, (service) =>
    Effect.map(Verification.Verification, (v) => {
      client.sms = service
      client.verification = v
    }))

const sendBatch = (sms: Sms.Sms["Service"], requests: ReadonlyArray<SendInput>) =>
  Effect.map(sms.sendBatch(requests), (results) =>
    results.map((r) => (r.ok ? r : { ok: false as const, error: r.error.reason })))

const verifyMethods = (client: ClientState): SmsClient["verify"] => ({
  start: (request) => withVerification(client, "verify.start", (v) => v.start(request)),
  check: (request) => withVerification(client, "verify.check", (v) => v.check(request)),
  cancel: (verificationId) => withVerification(client, "verify.cancel", (v) => v.cancel({ verificationId })),
  resend: (request) => withVerification(client, "verify.resend", (v) => v.resend(request)),
  totp: {
    enroll: (request) =>
      withVerification(client, "verify.totp.enroll", (v) =>
        Effect.map(v.totp.enroll(request), (e) => ({
          subject: e.subject,
          uri: Redacted.value(e.uri),
          secret: Redacted.value(e.secret)
        }))),
    check: (request) => withVerification(client, "verify.totp.check", (v) => v.totp.check(request))
  }
})

// Consent is kept per E.164 number, so national formats are normalised first.
const recipient = (to: string) =>
  Effect.flatMap(PhoneNumbers.PhoneNumbers, (phones) => Effect.map(phones.normalize(to), (n) => n.e164))

const withConsent = <A>(
  client: ClientState,
  method: string,
  change: { readonly to: string },
  f: (c: Consent.Consent["Service"], to: string) => Effect.Effect<A, Consent.ConsentError>
): Promise<A> => {
  const unknown = unknownConsentKey(change)
  return run(
    client,
    method,
    unknown !== undefined
      ? Effect.fail<{ readonly reason: SmsClientError }>(new Sms.SmsError({ reason: unknown }))
      : Effect.flatMap(recipient(change.to), (to) => Effect.flatMap(Consent.Consent, (c) => f(c, to)))
  )
}

const consentMethods = (client: ClientState): SmsClient["consent"] => ({
  grant: (change) => withConsent(client, "consent.grant", change, (c, to) => c.grant({ ...change, to })),
  revoke: (change) => withConsent(client, "consent.revoke", change, (c, to) => c.revoke({ ...change, to })),
  get: (to, tenant) =>
    withConsent(client, "consent.get", { to }, (c, e164) => Effect.map(c.get(e164, tenant), Option.getOrUndefined)),
  requestConfirmation: (change) => run(client, "consent.requestConfirmation", requestConfirmation(change))
})

const requestConfirmation = Effect.fnUntraced(function*(change: Consent.ConsentChange) {
  const unknown = unknownConsentKey(change)
  if (unknown !== undefined) return yield* Effect.fail(new Sms.SmsError({ reason: unknown }))
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
})

const subscribe = (
  client: ClientState,
  listener: (event: Events.SmsEvent) => void,
  onError: ((failure: ListenerFailed) => void) | undefined
): () => void => {
  if (client.closing !== undefined) throw new ClientClosed({ method: "subscribe" })
  const fiber = client.runtime.runFork(Effect.scoped(Effect.gen(function*() {
    const events = yield* Events.Events
    const subscription = yield* events.subscribe
    const pubsubs = yield* loadPubSub
    while (true) {
      const event = yield* pubsubs.take(subscription)
      const failure = callListener(listener, event)
      if (failure !== undefined) yield* reportListenerFailure(failure, onError)
    }
  })))
  return () => {
    if (client.closing === undefined) client.runtime.runFork(Fiber.interrupt(fiber))
  }
}

const prometheusText = (prefix: string | undefined) =>
  Effect.flatMap(
    // Loaded on first use: the exporter's module is not on the send path.
    Effect.promise(() => import("effect/observability/PrometheusMetrics")),
    (prometheus) => prometheus.format(prefix === undefined ? undefined : { prefix })
  )

// Node 20.4+ has Symbol.asyncDispose; the fallback is TypeScript's own, so
// `await using` compiled for an older runtime finds the same method.
const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ??
  (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose)

const isTagged = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error

// A layer that failed to build rejects with the wrapper error (SmsError,
// RoutingError …); the facade answers its reason, as for every other call.
const reasonOf = (error: unknown): unknown =>
  typeof error === "object" && error !== null && "reason" in error && isTagged(error.reason) ? error.reason : error

const callListener = (listener: (event: Events.SmsEvent) => void, event: Events.SmsEvent): ListenerFailed | undefined => {
  try {
    listener(event)
    return undefined
  } catch (cause) {
    return new ListenerFailed({ event: event._tag, cause })
  }
}

// The listener's own error is not logged: it is the application's text. The
// hook gets it whole; a hook that throws falls back to the log line.
const reportListenerFailure = (failure: ListenerFailed, onError: ((failure: ListenerFailed) => void) | undefined) =>
  onError !== undefined && callListener(() => onError(failure), { _tag: failure.event } as Events.SmsEvent) === undefined
    ? Effect.void
    : Effect.logWarning(`smsforge: ${failure.message}; it stays subscribed`)

const observabilityLayer = (options: ObservabilityOptions): Layer.Layer<never, unknown> => {
  const tracer = options.tracerProvider === undefined
    ? Layer.empty
    : Layer.succeed(Tracer.Tracer, OtelBridge.make(options.tracerProvider, "0.1.0"))
  return options.layer === undefined ? tracer : Layer.merge(options.layer, tracer)
}

// One log line per event, with ids, statuses and routes only: numbers, texts
// and codes stay out (events hold a number only when LogPhoneNumbers is on).
const logLine = (event: Events.SmsEvent): Effect.Effect<void> => {
  switch (event._tag) {
    case "StatusChanged":
      return Effect.logDebug(
        `smsforge: message ${event.messageId} ${event.previous ?? "new"} -> ${event.status}${
          event.route === undefined ? "" : ` via ${event.route}`
        }`
      )
    case "Blocked":
      return Effect.logInfo(`smsforge: blocked by ${event.scope}: ${event.reason}`)
    case "VerificationChanged":
      return Effect.logDebug(`smsforge: verification ${event.verificationId} ${event.status}`)
    case "InboundReceived":
      return Effect.logDebug(`smsforge: inbound on ${event.transport}: ${event.action}`)
    // money: what an operator acts on is a warning; a tenant name is not personal data
    case "BudgetThresholdReached":
      return Effect.logInfo(`smsforge: cap ${event.cap} at ${event.percent}% (${event.used} of ${event.limit})`)
    case "BudgetRefused":
      return Effect.logWarning(`smsforge: cap ${event.cap} refused a message (${event.used} of ${event.limit})`)
    case "BalanceLow":
      return Effect.logWarning(`smsforge: route ${event.route} balance ${Pricing.format(event.balance)} below ${Pricing.format(event.threshold)}`)
    case "BalanceRecovered":
      return Effect.logInfo(`smsforge: route ${event.route} balance ${Pricing.format(event.balance)} recovered`)
    default:
      return Effect.logDebug(`smsforge: ${event._tag}`)
  }
}

const logAll = (batch: ReadonlyArray<Events.SmsEvent>) => Effect.forEach(batch, logLine, { discard: true })

// close() logs what was published before it: the events still queued are
// drained once the logging fiber stops.
const logEvents = Layer.effectDiscard(Effect.gen(function*() {
  const events = yield* Events.Events
  const subscription = yield* events.subscribe
  const pubsubs = yield* loadPubSub
  yield* Effect.addFinalizer(() => Effect.flatMap(pubsubs.takeUpTo(subscription, Number.MAX_SAFE_INTEGER), logAll))
  yield* Effect.forkScoped(Effect.forever(Effect.flatMap(pubsubs.takeAll(subscription), logAll)))
}))
