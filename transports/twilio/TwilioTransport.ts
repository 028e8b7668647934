/**
 * Twilio Programmable Messaging as a smsforge transport.
 *
 * **Details**
 * - `submit` posts to `/2010-04-01/Accounts/{AccountSid}/Messages.json`,
 *   form-encoded, with HTTP Basic authentication (the account SID and auth
 *   token, or an API key SID and secret).
 * - A `From` number or a `MessagingServiceSid` names the sender; a
 *   submission's `from` wins over the configured one.
 * - `validUntil` becomes `ValidityPeriod` (seconds, 1–36000).
 * - Twilio error codes are classified once, here: `429`/`20429` → `Throttled`
 *   (with `Retry-After`), `21211`/`21614`/… → `InvalidNumber`, `21612` →
 *   `Rejected` (another route may connect the pair), `21610` →
 *   `Blocked`, `20003` → `AuthenticationFailed`, `20005` → `InsufficientFunds`,
 *   5xx → `Unavailable`, other 4xx → `Rejected`.
 * - Status callbacks and inbound webhooks are verified with the
 *   `X-Twilio-Signature` header (HMAC-SHA1 of the full URL and the sorted
 *   POST parameters, keyed by the auth token) before they are decoded. As
 *   Twilio's own validator, the URL is tried without its port and with the
 *   default port, whatever the port; a `GET` webhook is signed over the URL
 *   alone and read from its query. Parameters that no form parser gives for a
 *   Twilio request (bracket names decoded into objects, numbers, `null`) are a
 *   typed `MalformedWebhook`, never a defect.
 *
 * **Gotchas**
 * - The URL handed to {@link TwilioTransport.parseStatusCallback} must be the
 *   exact URL Twilio called (scheme, host, port, query), as configured in
 *   Twilio; behind a proxy, rebuild it from the forwarded headers.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { Transport } from "smsforge"
import * as Http from "../../src/internal/http.ts"
import { reasonOfHttpFailure } from "../internal/httpFailure.ts"
import { InvalidConfig, invalidSecret, reveal, type Secret, toRedacted } from "../internal/secret.ts"
import { classify } from "./internal/classify.ts"

export { InvalidConfig, type Secret }

// models

/**
 * How to reach and authenticate with Twilio.
 *
 * @category models
 * @since 0.1.0
 */
export interface TwilioConfig {
  readonly accountSid: string
  /**
   * The account's auth token: signs webhooks, and authenticates requests when
   * no `apiKey` is given. A plain string is wrapped in a `Redacted` at `make`.
   */
  readonly authToken: Secret
  /** An API key (SID + secret) to authenticate REST requests with instead of the auth token. */
  readonly apiKey?: { readonly sid: string; readonly secret: Secret } | undefined
  /** Default sender number or alphanumeric sender ID. */
  readonly from?: string | undefined
  /** Sends through a Messaging Service (used when neither the submission nor `from` names a sender). */
  readonly messagingServiceSid?: string | undefined
  /** URL Twilio posts status callbacks to. */
  readonly statusCallback?: string | undefined
  /** Defaults to `https://api.twilio.com`; override for tests or a proxy. */
  readonly baseUrl?: string | undefined
  /** Request timeout, default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
  /** Transport name, default `"twilio"`. */
  readonly name?: string | undefined
  readonly capabilities?: Partial<Transport.Capabilities> | undefined
}

/**
 * A webhook request as the host's HTTP server received it.
 *
 * @category models
 * @since 0.1.0
 */
export interface TwilioWebhook {
  /** The full URL Twilio called, query string included. */
  readonly url: string
  /**
   * The HTTP method, default `"POST"`. For a `"GET"`, Twilio signs the URL
   * alone and the parameters are read from its query string; `params` is
   * then ignored.
   */
  readonly method?: string | undefined
  /** The decoded form parameters of the POST body. */
  readonly params?: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | undefined
  /** The `X-Twilio-Signature` header. */
  readonly signature: string | undefined
}

/**
 * The Twilio transport, with decoders for its webhooks.
 *
 * @category models
 * @since 0.1.0
 */
export interface TwilioTransport extends Transport.Transport {
  /** Verifies and decodes a message status callback. */
  readonly parseStatusCallback: (webhook: TwilioWebhook) => Effect.Effect<Transport.DeliveryReport, TwilioWebhookError>
  /** Verifies and decodes an incoming message webhook. */
  readonly parseInbound: (webhook: TwilioWebhook) => Effect.Effect<Transport.InboundMessage, TwilioWebhookError>
}

// errors

/**
 * The webhook's `X-Twilio-Signature` is missing or does not match.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>("smsforge/transports/twilio/InvalidSignature")(
  "InvalidSignature",
  { field: Schema.String }
) {}

/**
 * The webhook lacks a parameter or carries an unknown value.
 *
 * @category errors
 * @since 0.1.0
 */
export class MalformedWebhook extends Schema.TaggedError<MalformedWebhook>("smsforge/transports/twilio/MalformedWebhook")(
  "MalformedWebhook",
  { field: Schema.String }
) {}

/**
 * Why a Twilio webhook was refused.
 *
 * @category errors
 * @since 0.1.0
 */
export class TwilioWebhookError extends Schema.TaggedError<TwilioWebhookError>("smsforge/transports/twilio/TwilioWebhookError")(
  "TwilioWebhookError",
  { reason: Schema.Union([InvalidSignature, MalformedWebhook]) }
) {
  override get message(): string {
    return `twilio webhook: ${this.reason._tag} (${this.reason.field})`
  }
}

// signatures

type Params = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * The parameters as name → values, or `undefined` when they are not what a
 * form or query parser gives for a Twilio request: a record whose values are
 * strings, arrays of strings or `undefined`. Bracket names decoded into
 * objects (qs, Express's extended parser), numbers, booleans and `null` are
 * refused here, before anything touches them.
 */
const normalize = (params: unknown): ReadonlyArray<readonly [string, ReadonlyArray<string>]> | undefined => {
  if (params === null || typeof params !== "object" || Array.isArray(params)) return undefined
  const pairs: Array<readonly [string, ReadonlyArray<string>]> = []
  for (const key of Object.keys(params)) {
    const value: unknown = (params as Record<string, unknown>)[key]
    if (value === undefined) continue
    if (typeof value === "string") pairs.push([key, [value]])
    else if (Array.isArray(value) && value.every((v): v is string => typeof v === "string")) pairs.push([key, value])
    else return undefined
  }
  return pairs
}

const signedData = (url: string, pairs: ReadonlyArray<readonly [string, ReadonlyArray<string>]>): string => {
  let data = url
  // as Twilio's validator: names in code-unit order, each name's distinct values sorted
  for (const [key, values] of [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const v of [...new Set(values)].sort()) data += key + v
  }
  return data
}

/**
 * Computes the `X-Twilio-Signature` Twilio sends with a webhook: the base64
 * HMAC-SHA1, keyed by the auth token, of the full URL followed by each POST
 * parameter's name and value in name order (for a GET, pass no parameters:
 * Twilio signs the URL alone).
 *
 * **Gotchas**
 * - Parameters that are not strings or arrays of strings cannot come from
 *   Twilio; they are left out here, and {@link verifySignature} refuses them.
 *
 * @category signatures
 * @since 0.1.0
 */
export const computeSignature = (authToken: Secret, url: string, params: Params = {}): string =>
  Http.hmac("sha1", reveal(authToken), signedData(url, normalize(params) ?? []), "base64")

/**
 * Checks a webhook's signature in constant time, as Twilio's own validator
 * does: the URL with its port removed and with the scheme's default port
 * added, whatever the port (Twilio signs `https://host:8443/…` without it).
 * A `GET` webhook is signed over the URL alone. Hostile input (a non-string
 * URL or signature, parameters that are not strings) never verifies.
 *
 * @category signatures
 * @since 0.1.0
 */
export const verifySignature = (authToken: Secret, webhook: TwilioWebhook): boolean => {
  if (webhook === null || typeof webhook !== "object") return false
  const { signature, url } = webhook
  if (typeof signature !== "string" || typeof url !== "string") return false
  const pairs = isGet(webhook) ? [] : normalize(webhook.params)
  if (pairs === undefined) return false
  const token = toRedacted(authToken)
  if (token === undefined) return false
  let matched = false
  // no short-circuit: every candidate costs the same
  for (const candidate of urlVariants(url)) {
    const expected = Http.hmac("sha1", Redacted.value(token), signedData(candidate, pairs), "base64")
    if (Http.safeEqual(expected, signature)) matched = true
  }
  return matched
}

const isGet = (webhook: TwilioWebhook): boolean => typeof webhook.method === "string" && webhook.method.toUpperCase() === "GET"

/**
 * The URL without its port and with the scheme's default port added when it
 * has none: the candidates Twilio's `validateRequest` tries, for any port.
 */
const urlVariants = (url: string): ReadonlyArray<string> => {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i.exec(url)
  if (match === null) return [url]
  const [prefix, scheme = "", authority = ""] = match
  const userInfoEnd = authority.lastIndexOf("@")
  const userInfo = authority.slice(0, userInfoEnd + 1)
  const hostAndPort = authority.slice(userInfoEnd + 1)
  // a colon starts the port only after an IPv6 literal's closing bracket
  const portStart = hostAndPort.indexOf(":", hostAndPort.lastIndexOf("]") + 1)
  const host = portStart === -1 ? hostAndPort : hostAndPort.slice(0, portStart)
  const rest = url.slice(prefix.length)
  const withoutPort = scheme + userInfo + host + rest
  const withPort = portStart !== -1 ? url : scheme + userInfo + host + (scheme.toLowerCase() === "https://" ? ":443" : ":80") + rest
  return withoutPort === withPort ? [url] : [withoutPort, withPort]
}

// webhooks

/** The webhook's parameters, decoded once: a GET's from its (signed) query. */
const paramsOf = (webhook: TwilioWebhook): Map<string, string> | undefined => {
  const out = new Map<string, string>()
  if (isGet(webhook)) {
    const query = webhook.url.indexOf("?")
    if (query === -1) return out
    const hash = webhook.url.indexOf("#", query)
    try {
      for (const [k, v] of new URLSearchParams(webhook.url.slice(query + 1, hash === -1 ? undefined : hash))) {
        if (!out.has(k)) out.set(k, v)
      }
    } catch {
      return undefined
    }
    return out
  }
  const pairs = normalize(webhook.params)
  if (pairs === undefined) return undefined
  for (const [k, values] of pairs) if (values[0] !== undefined) out.set(k, values[0])
  return out
}

const malformed = (field: string) => new TwilioWebhookError({ reason: new MalformedWebhook({ field }) })

/** Refuses anything that is not a signed webhook, then decodes its parameters. */
const verified = (
  authToken: Redacted.Redacted<string> | undefined,
  webhook: TwilioWebhook
): Effect.Effect<Map<string, string>, TwilioWebhookError> =>
  Effect.suspend(() => {
    if (webhook === null || typeof webhook !== "object") return Effect.fail(malformed("webhook"))
    if (typeof webhook.url !== "string") return Effect.fail(malformed("url"))
    if (!isGet(webhook) && normalize(webhook.params) === undefined) return Effect.fail(malformed("params"))
    if (authToken === undefined || !verifySignature(authToken, webhook)) {
      return Effect.fail(new TwilioWebhookError({ reason: new InvalidSignature({ field: "X-Twilio-Signature" }) }))
    }
    const params = paramsOf(webhook)
    return params === undefined ? Effect.fail(malformed("params")) : Effect.succeed(params)
  })

const required = (
  params: Map<string, string>,
  ...names: ReadonlyArray<string>
): Effect.Effect<string, TwilioWebhookError> => {
  for (const name of names) {
    const value = params.get(name)
    if (value !== undefined && value !== "") return Effect.succeed(value)
  }
  return Effect.fail(malformed(names[0] ?? "params"))
}

/**
 * Maps Twilio's `MessageStatus` to a delivery status; `undefined` for values
 * that are not about an outbound message.
 *
 * @category webhooks
 * @since 0.1.0
 */
export const deliveryStatus = (messageStatus: string, errorCode?: string): Transport.DeliveryStatus | undefined => {
  switch (messageStatus) {
    case "accepted":
    case "scheduled":
    case "queued":
    case "sending":
    case "sent":
      return "enroute"
    case "delivered":
    case "read":
      return "delivered"
    case "undelivered":
      return errorCode === "30036" ? "expired" : "undelivered"
    // some segments of a multi-segment message reached the phone, others did
    // not: the text as sent was not delivered, and a resend would repeat the
    // parts that arrived
    case "partially_delivered":
      return "undelivered"
    case "failed":
      return errorCode === "30036" ? "expired" : "failed"
    case "canceled":
      return "failed"
    default:
      return undefined
  }
}

/**
 * Builds the webhook decoders for one account.
 *
 * **Gotchas**
 * - An `authToken` that is not a string or a `Redacted` string verifies
 *   nothing: every webhook fails with `InvalidSignature`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWebhooks = (config: { readonly authToken: Secret; readonly name?: string | undefined }): {
  readonly parseStatusCallback: TwilioTransport["parseStatusCallback"]
  readonly parseInbound: TwilioTransport["parseInbound"]
} => {
  const transport = config.name ?? "twilio"
  const authToken = toRedacted(config.authToken)
  return {
    parseStatusCallback: (webhook) =>
      Effect.gen(function*() {
        const params = yield* verified(authToken, webhook)
        const providerMessageId = yield* required(params, "MessageSid", "SmsSid")
        const providerStatus = yield* required(params, "MessageStatus", "SmsStatus")
        const errorCode = params.get("ErrorCode")
        const status = deliveryStatus(providerStatus, errorCode)
        if (status === undefined) return yield* Effect.fail(malformed("MessageStatus"))
        const at = yield* Clock.currentTimeMillis
        const report: Transport.DeliveryReport = {
          _tag: "DeliveryReport",
          transport,
          providerMessageId,
          status,
          providerStatus,
          at,
          ...(errorCode !== undefined && errorCode !== "" ? { errorCode } : {})
        }
        return report
      }),
    parseInbound: (webhook) =>
      Effect.gen(function*() {
        const params = yield* verified(authToken, webhook)
        const from = yield* required(params, "From")
        const to = yield* required(params, "To")
        const providerMessageId = yield* required(params, "MessageSid", "SmsMessageSid", "SmsSid")
        const text = params.get("Body") ?? ""
        const receivedAt = yield* Clock.currentTimeMillis
        const message: Transport.InboundMessage = {
          _tag: "InboundMessage",
          transport,
          from,
          to,
          text,
          receivedAt,
          providerMessageId
        }
        return message
      })
  }
}

// constructors

/**
 * What Twilio can carry; override with `config.capabilities`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const defaultCapabilities: Transport.Capabilities = {
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: true,
  inbound: true,
  senderTypes: ["alphanumeric", "long-code", "short-code", "toll-free"]
}

const twilioError = (json: unknown): { code: number | undefined; message: string | undefined } => {
  const code = Http.getPath(json, "code")
  const message = Http.getPath(json, "message")
  return {
    code: typeof code === "number" ? code : typeof code === "string" && /^\d+$/.test(code) ? Number(code) : undefined,
    message: typeof message === "string" ? message : undefined
  }
}

type Checked = Omit<TwilioConfig, "authToken" | "apiKey"> & {
  readonly authToken: Redacted.Redacted<string>
  readonly apiKey: { readonly sid: string; readonly secret: Redacted.Redacted<string> } | undefined
}

// secrets become Redacted here, once: a plain string never travels further
const check = (config: TwilioConfig): Effect.Effect<Checked, InvalidConfig> => {
  const name = config.name ?? "twilio"
  if (typeof config.accountSid !== "string" || config.accountSid === "") {
    return Effect.fail(new InvalidConfig({ transport: name, field: "accountSid", problem: "not a non-empty string" }))
  }
  const authToken = toRedacted(config.authToken)
  if (authToken === undefined) return Effect.fail(invalidSecret(name, "authToken"))
  if (config.apiKey === undefined) return Effect.succeed({ ...config, authToken, apiKey: undefined })
  const secret = toRedacted(config.apiKey.secret)
  if (secret === undefined) return Effect.fail(invalidSecret(name, "apiKey.secret"))
  return Effect.succeed({ ...config, authToken, apiKey: { sid: config.apiKey.sid, secret } })
}

/**
 * Builds a Twilio transport.
 *
 * **Details**
 * - Secrets may be plain strings or `Redacted`; strings are wrapped here, so
 *   they never show in an error, a log or JSON.
 * - A secret of the wrong type (a number, `undefined`) fails here with
 *   {@link InvalidConfig} naming the field, not at the first send.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: TwilioConfig): Effect.Effect<TwilioTransport, InvalidConfig> =>
  Effect.flatMap(Effect.suspend(() => check(config)), (config) => Effect.map(Http.client, (client) => build(config, client)))

const build = (config: Checked, client: Http.Client): TwilioTransport => {
  const name = config.name ?? "twilio"
  const baseUrl = (config.baseUrl ?? "https://api.twilio.com").replace(/\/+$/, "")
  const url = `${baseUrl}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`
  const timeout = config.timeout ?? Duration.seconds(10)
  const authorization = config.apiKey !== undefined
    ? Redacted.make(Http.basicAuth(config.apiKey.sid, Redacted.value(config.apiKey.secret)))
    : Redacted.make(Http.basicAuth(config.accountSid, Redacted.value(config.authToken)))

  const submit = (submission: Transport.Submission): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const params: Array<readonly [string, string]> = [["To", submission.to]]
      const from = submission.from ?? config.from
      if (from !== undefined) params.push(["From", from])
      else if (config.messagingServiceSid !== undefined) params.push(["MessagingServiceSid", config.messagingServiceSid])
      else return yield* Effect.fail(new Transport.Rejected({ code: "smsforge/NoSender", detail: "field from" }))
      params.push(["Body", submission.text])
      if (config.statusCallback !== undefined) params.push(["StatusCallback", config.statusCallback])
      if (submission.validUntil !== undefined) {
        const seconds = Math.floor((submission.validUntil - now) / 1000)
        if (seconds < 1) {
          return yield* Effect.fail(new Transport.Rejected({ code: "smsforge/ValidityExpired", detail: "field validUntil" }))
        }
        params.push(["ValidityPeriod", String(Math.min(seconds, 36000))])
      }
      const response = yield* Http.request(client, {
        method: "POST",
        url,
        headers: {
          authorization: Redacted.value(authorization),
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json"
        },
        body: Http.formEncode(params),
        timeout
      }).pipe(
        Effect.mapError(reasonOfHttpFailure)
      )
      if (response.status >= 200 && response.status < 300) {
        const sid = Http.getPath(response.json, "sid")
        // Twilio answered 2xx: the message may well be queued, so resending
        // is not safe; an unknown outcome, as a timeout
        if (typeof sid !== "string" || sid === "") {
          return yield* Effect.fail(new Transport.Timeout({ code: "smsforge/MalformedAnswer" }))
        }
        return { providerMessageId: sid }
      }
      const { code, message } = twilioError(response.json)
      return yield* Effect.fail(classify(response.status, code, Http.retryAfterMillis(response.headers, now), message))
    })

  const webhooks = makeWebhooks({ authToken: config.authToken, name })
  const transport = Transport.make({
    name,
    capabilities: { ...defaultCapabilities, ...config.capabilities },
    submit,
    mapStatus: (status: string) => deliveryStatus(status)
  })
  return { ...transport, ...webhooks }
}

// layers

/**
 * Provides a Twilio transport as the `Transport` service.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: TwilioConfig): Layer.Layer<Transport.Transport, InvalidConfig> =>
  Layer.effect(Transport.Transport, make(config))

/**
 * Provides a Twilio transport read from `Config`, for example
 * `{ accountSid: Config.String("TWILIO_ACCOUNT_SID"), authToken: Config.Redacted("TWILIO_AUTH_TOKEN") }`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<TwilioConfig>
): Layer.Layer<Transport.Transport, Config.ConfigError | InvalidConfig> =>
  Layer.effect(Transport.Transport, Effect.flatMap(Config.unwrap(config), make))
