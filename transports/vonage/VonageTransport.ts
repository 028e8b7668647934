/**
 * The Vonage (Nexmo) SMS API as a smsforge transport.
 *
 * **Details**
 * - `submit` posts a form to `https://rest.nexmo.com/sms/json` with `api_key`
 *   and either `api_secret` or, when a signature secret is configured, a
 *   `timestamp` and a `sig` (md5hash, or HMAC md5/sha1/sha256/sha512, as in
 *   Vonage's signing guide).
 * - UCS-2 texts go out with `type=unicode`.
 * - Vonage answers `200` with one entry per part in `messages`; every part's
 *   `message-id` is kept as `segmentIds`, the first one is the
 *   `providerMessageId`. A non-zero part `status` is classified: `1` →
 *   `Throttled`, `4`/`14` → `AuthenticationFailed`, `5` → `Unavailable`, `7`/`29`
 *   → `Blocked`, `9` → `InsufficientFunds`, `33` → `InvalidNumber`, others →
 *   `Rejected`.
 * - Delivery receipts and inbound webhooks are decoded by
 *   {@link VonageTransport.parseDeliveryReceipt} and
 *   {@link VonageTransport.parseInbound}; with a signature secret configured,
 *   unsigned, mis-signed or stale (older than `webhookMaxAge`, default 24
 *   hours: Vonage's retry span) webhooks are refused, and so is a replay of a
 *   signed webhook already decoded (`ReplayedWebhook`; answer it 200, it was
 *   applied).
 *
 * **Gotchas**
 * - A multipart message whose parts were answered differently fails with the
 *   first failed part's reason, though the other parts may reach the phone.
 * - Vonage sends one receipt per part, each with that part's message id.
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
import { classifyHttp, classifyStatus } from "./internal/classify.ts"
import { type SignatureMethod, sign } from "./internal/signature.ts"

export { InvalidConfig, type Secret }

// models

/**
 * How to reach and authenticate with Vonage.
 *
 * @category models
 * @since 0.1.0
 */
export interface VonageConfig {
  readonly apiKey: string
  /** Sent as `api_secret` when no signature secret is configured. A plain string is wrapped in a `Redacted` at `make`. */
  readonly apiSecret?: Secret | undefined
  /** Signs requests (instead of sending `api_secret`) and verifies webhooks. */
  readonly signatureSecret?: Secret | undefined
  /** Default `md5hash`. */
  readonly signatureMethod?: SignatureMethod | undefined
  /** Default sender ID or number. */
  readonly from?: string | undefined
  /** Per-request delivery receipt URL (`callback`); the account's default otherwise. */
  readonly callback?: string | undefined
  /**
   * Oldest signed webhook accepted, default 24 hours: Vonage retries an
   * unanswered webhook for 24 hours, and its `timestamp` is when it started
   * pushing, so a shorter window loses every receipt retried after an outage.
   */
  readonly webhookMaxAge?: Duration.Input | undefined
  /**
   * How many applied signed webhooks are remembered to refuse replays inside
   * `webhookMaxAge` (default 100 000; `0` remembers none). Memory only, per
   * transport; an entry is dropped once its webhook is too old to be accepted,
   * or, past the bound, oldest first.
   */
  readonly webhookReplayCapacity?: number | undefined
  /** Defaults to `https://rest.nexmo.com`. */
  readonly baseUrl?: string | undefined
  /** Request timeout, default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
  /** Transport name, default `"vonage"`. */
  readonly name?: string | undefined
  readonly capabilities?: Partial<Transport.Capabilities> | undefined
}

/**
 * The Vonage transport, with decoders for its webhooks. `params` are the
 * query parameters of a GET webhook or the decoded body of a POST one.
 *
 * @category models
 * @since 0.1.0
 */
export interface VonageTransport extends Transport.Transport {
  readonly parseDeliveryReceipt: (params: unknown) => Effect.Effect<Transport.DeliveryReport, VonageWebhookError>
  readonly parseInbound: (params: unknown) => Effect.Effect<Transport.InboundMessage, VonageWebhookError>
}

/**
 * Vonage's signing methods: `md5hash` appends the secret before hashing; the
 * others are HMACs keyed by the secret.
 *
 * @category models
 * @since 0.1.0
 */
export type { SignatureMethod } from "./internal/signature.ts"

// errors

/**
 * A webhook's `sig` is missing, wrong or too old.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>("smsforge/transports/vonage/InvalidSignature")(
  "InvalidSignature",
  { field: Schema.String }
) {}

/**
 * A webhook lacks a parameter or carries an unknown value.
 *
 * @category errors
 * @since 0.1.0
 */
export class MalformedWebhook extends Schema.TaggedError<MalformedWebhook>("smsforge/transports/vonage/MalformedWebhook")(
  "MalformedWebhook",
  { field: Schema.String }
) {}

/**
 * A signed webhook this transport has already decoded (same `sig`) came again
 * inside the age window: a replay, or Vonage retrying one whose answer was
 * lost. It was applied once; answer it `200` so Vonage stops retrying.
 *
 * @category errors
 * @since 0.1.0
 */
export class ReplayedWebhook extends Schema.TaggedError<ReplayedWebhook>("smsforge/transports/vonage/ReplayedWebhook")(
  "ReplayedWebhook",
  { field: Schema.String }
) {}

/**
 * Why a Vonage webhook was refused.
 *
 * @category errors
 * @since 0.1.0
 */
export class VonageWebhookError extends Schema.TaggedError<VonageWebhookError>("smsforge/transports/vonage/VonageWebhookError")(
  "VonageWebhookError",
  { reason: Schema.Union([InvalidSignature, MalformedWebhook, ReplayedWebhook]) }
) {
  override get message(): string {
    return `vonage webhook: ${this.reason._tag} (${this.reason.field})`
  }
}

// signatures

/**
 * Computes Vonage's `sig` for a set of parameters (`sig` itself is ignored).
 *
 * @category signatures
 * @since 0.1.0
 */
export const computeSignature = (
  secret: Secret,
  params: Readonly<Record<string, string>>,
  method: SignatureMethod = "md5hash"
): string => sign(method, reveal(secret), params)

// webhooks

/**
 * Maps a receipt's `status` to a delivery status; `undefined` when unknown.
 *
 * @category webhooks
 * @since 0.1.0
 */
export const deliveryStatus = (status: string): Transport.DeliveryStatus | undefined => {
  switch (status) {
    case "delivered":
      return "delivered"
    case "expired":
      return "expired"
    case "failed":
      return "failed"
    case "rejected":
      return "rejected"
    case "accepted":
    case "buffered":
      return "enroute"
    case "unknown":
      return "undelivered"
    default:
      return undefined
  }
}

/** `2020-01-01 12:00:00` (UTC) → epoch milliseconds. */
const parseTimestamp = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(value)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s] = match
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))
}

const malformed = (field: string) => new VonageWebhookError({ reason: new MalformedWebhook({ field }) })
const replayed = () => new VonageWebhookError({ reason: new ReplayedWebhook({ field: "sig" }) })

/** How far ahead of our clock a signed `timestamp` may be (clock skew). */
const maxSkew = 5 * 60 * 1000

/**
 * The signatures of applied webhooks, each until its webhook is too old to
 * be accepted anyway: insertion-ordered, at most `capacity` entries.
 */
const replayMemory = (capacity: number) => {
  const seen = new Map<string, number>()
  return {
    /** Records the key; `false` when it was already there (a replay). */
    add: (key: string, expiresAt: number, now: number): boolean => {
      if (capacity <= 0) return true
      const known = seen.get(key)
      if (known !== undefined && known > now) return false
      for (const [k, expiry] of seen) {
        if (expiry > now && seen.size < capacity) break
        seen.delete(k)
      }
      seen.delete(key)
      seen.set(key, expiresAt)
      return true
    }
  }
}
const forged = (field: string) => new VonageWebhookError({ reason: new InvalidSignature({ field }) })

/**
 * Builds the webhook decoders.
 *
 * **Gotchas**
 * - A `signatureSecret` that is not a string or a `Redacted` string verifies
 *   nothing: every webhook fails with `InvalidSignature`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWebhooks = (config: {
  readonly signatureSecret?: Secret | undefined
  readonly signatureMethod?: SignatureMethod | undefined
  readonly webhookMaxAge?: Duration.Input | undefined
  readonly webhookReplayCapacity?: number | undefined
  readonly name?: string | undefined
}): {
  readonly parseDeliveryReceipt: VonageTransport["parseDeliveryReceipt"]
  readonly parseInbound: VonageTransport["parseInbound"]
} => {
  const transport = config.name ?? "vonage"
  const maxAge = Duration.toMillis(Duration.fromInputUnsafe(config.webhookMaxAge ?? Duration.hours(24)))
  const capacity = config.webhookReplayCapacity ?? 100_000
  const memory = replayMemory(Number.isFinite(capacity) ? Math.floor(capacity) : 100_000)
  const method = config.signatureMethod ?? "md5hash"
  // given but unusable is not the same as absent: it must refuse, never skip the check
  const secret = config.signatureSecret === undefined ? undefined : toRedacted(config.signatureSecret) ?? null

  interface Decoded {
    readonly params: Record<string, string>
    /** For a signed webhook: its signature and when it leaves the window. */
    readonly replayKey: { readonly sig: string; readonly expiresAt: number } | undefined
  }

  const decode = (input: unknown): Effect.Effect<Decoded, VonageWebhookError> =>
    Effect.gen(function*() {
      const params = Http.stringParams(input)
      if (params === undefined) return yield* Effect.fail(malformed("params"))
      if (secret === undefined) return { params, replayKey: undefined }
      const sig = params["sig"]
      if (sig === undefined || secret === null) return yield* Effect.fail(forged("sig"))
      const expected = sign(method, Redacted.value(secret), params)
      if (!Http.safeEqual(expected, sig.toLowerCase())) return yield* Effect.fail(forged("sig"))
      const raw = params["timestamp"]
      const timestamp = raw !== undefined && /^\d{1,12}$/.test(raw) ? Number(raw) * 1000 : Number.NaN
      const now = yield* Clock.currentTimeMillis
      if (!Number.isFinite(timestamp) || now - timestamp > maxAge || timestamp - now > maxSkew) {
        return yield* Effect.fail(forged("timestamp"))
      }
      return { params, replayKey: { sig: sig.toLowerCase(), expiresAt: timestamp + maxAge } }
    })

  /** Records a decoded signed webhook; a second one with the same `sig` is a replay. */
  const applied = <A>(decoded: Decoded, value: A): Effect.Effect<A, VonageWebhookError> =>
    decoded.replayKey === undefined
      ? Effect.succeed(value)
      : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        memory.add(decoded.replayKey!.sig, decoded.replayKey!.expiresAt, now) ? Effect.succeed(value) : Effect.fail(replayed()))

  const required = (params: Record<string, string>, name: string): Effect.Effect<string, VonageWebhookError> => {
    const value = params[name]
    return value === undefined || value === "" ? Effect.fail(malformed(name)) : Effect.succeed(value)
  }

  return {
    parseDeliveryReceipt: (input) =>
      Effect.gen(function*() {
        const decoded = yield* decode(input)
        const params = decoded.params
        const providerMessageId = yield* required(params, "messageId")
        const providerStatus = yield* required(params, "status")
        const status = deliveryStatus(providerStatus)
        if (status === undefined) return yield* Effect.fail(malformed("status"))
        const at = parseTimestamp(params["message-timestamp"]) ?? (yield* Clock.currentTimeMillis)
        const errorCode = params["err-code"]
        const report: Transport.DeliveryReport = {
          _tag: "DeliveryReport",
          transport,
          providerMessageId,
          status,
          providerStatus,
          at,
          ...(errorCode !== undefined && errorCode !== "" ? { errorCode } : {})
        }
        return yield* applied(decoded, report)
      }),
    parseInbound: (input) =>
      Effect.gen(function*() {
        const decoded = yield* decode(input)
        const params = decoded.params
        const msisdn = yield* required(params, "msisdn")
        const to = yield* required(params, "to")
        const providerMessageId = yield* required(params, "messageId")
        const receivedAt = parseTimestamp(params["message-timestamp"]) ?? (yield* Clock.currentTimeMillis)
        const concat = params["concat"] === "true"
        const part = concat
          ? {
            reference: Number.parseInt(params["concat-ref"] ?? "", 10),
            index: Number.parseInt(params["concat-part"] ?? "", 10),
            count: Number.parseInt(params["concat-total"] ?? "", 10)
          }
          : undefined
        if (part !== undefined && (!Number.isInteger(part.reference) || !Number.isInteger(part.index) || !Number.isInteger(part.count))) {
          return yield* Effect.fail(malformed("concat-ref"))
        }
        const message: Transport.InboundMessage = {
          _tag: "InboundMessage",
          transport,
          from: `+${msisdn.replace(/^\+/, "")}`,
          to: /^\d+$/.test(to) ? `+${to}` : to,
          text: params["text"] ?? "",
          receivedAt,
          providerMessageId,
          ...(part !== undefined ? { part } : {})
        }
        return yield* applied(decoded, message)
      })
  }
}

// constructors

/**
 * What Vonage can carry; override with `config.capabilities`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const defaultCapabilities: Transport.Capabilities = {
  channel: "sms",
  unicode: true,
  concatenation: true,
  maxPerSecond: 30,
  deliveryReceipts: true,
  inbound: true,
  senderTypes: ["alphanumeric", "long-code", "short-code", "toll-free"]
}

interface PartAnswer {
  readonly status: string
  readonly messageId: string | undefined
}

const parts = (json: unknown): ReadonlyArray<PartAnswer> | undefined => {
  const messages = Http.getPath(json, "messages")
  if (!Array.isArray(messages) || messages.length === 0) return undefined
  return messages.map((m: unknown) => ({
    status: Http.asString(Http.getPath(m, "status")) ?? "",
    messageId: Http.asString(Http.getPath(m, "message-id"))
  }))
}

type Checked = Omit<VonageConfig, "apiSecret" | "signatureSecret"> & {
  readonly apiSecret: Redacted.Redacted<string> | undefined
  readonly signatureSecret: Redacted.Redacted<string> | undefined
}

// secrets become Redacted here, once: a plain string never travels further
const check = (config: VonageConfig): Effect.Effect<Checked, InvalidConfig> => {
  const name = config.name ?? "vonage"
  if (typeof config.apiKey !== "string" || config.apiKey === "") {
    return Effect.fail(new InvalidConfig({ transport: name, field: "apiKey", problem: "not a non-empty string" }))
  }
  const apiSecret = config.apiSecret === undefined ? undefined : toRedacted(config.apiSecret)
  if (config.apiSecret !== undefined && apiSecret === undefined) return Effect.fail(invalidSecret(name, "apiSecret"))
  const signatureSecret = config.signatureSecret === undefined ? undefined : toRedacted(config.signatureSecret)
  if (config.signatureSecret !== undefined && signatureSecret === undefined) return Effect.fail(invalidSecret(name, "signatureSecret"))
  if (apiSecret === undefined && signatureSecret === undefined) {
    return Effect.fail(new InvalidConfig({ transport: name, field: "apiSecret", problem: "missing (give apiSecret or signatureSecret)" }))
  }
  return Effect.succeed({ ...config, apiSecret, signatureSecret })
}

/**
 * Builds a Vonage SMS API transport.
 *
 * **Details**
 * - Secrets may be plain strings or `Redacted`; strings are wrapped here, so
 *   they never show in an error, a log or JSON.
 * - A secret of the wrong type, or neither `apiSecret` nor `signatureSecret`,
 *   fails here with {@link InvalidConfig} naming the field.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: VonageConfig): Effect.Effect<VonageTransport, InvalidConfig> =>
  Effect.flatMap(Effect.suspend(() => check(config)), (config) => Effect.map(Http.client, (client) => build(config, client)))

const build = (config: Checked, client: Http.Client): VonageTransport => {
  const name = config.name ?? "vonage"
  const url = `${(config.baseUrl ?? "https://rest.nexmo.com").replace(/\/+$/, "")}/sms/json`
  const timeout = config.timeout ?? Duration.seconds(10)
  const method = config.signatureMethod ?? "md5hash"

  const submit = (submission: Transport.Submission): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const from = submission.from ?? config.from
      if (from === undefined) {
        return yield* Effect.fail(new Transport.Rejected({ code: "smsforge/NoSender", detail: "field from" }))
      }
      const params: Record<string, string> = {
        api_key: config.apiKey,
        from,
        to: submission.to.replace(/^\+/, ""),
        text: submission.text,
        type: submission.encoding === "UCS-2" ? "unicode" : "text",
        "client-ref": submission.clientReference
      }
      if (config.callback !== undefined) params["callback"] = config.callback
      if (submission.validUntil !== undefined) {
        const ttl = submission.validUntil - now
        if (ttl < 1000) {
          return yield* Effect.fail(new Transport.Rejected({ code: "smsforge/ValidityExpired", detail: "field validUntil" }))
        }
        params["ttl"] = String(Math.min(Math.max(ttl, 20_000), 604_800_000))
      }
      if (config.signatureSecret !== undefined) {
        params["timestamp"] = String(Math.floor(now / 1000))
        params["sig"] = sign(method, Redacted.value(config.signatureSecret), params)
      } else if (config.apiSecret !== undefined) {
        params["api_secret"] = Redacted.value(config.apiSecret)
      } else {
        return yield* Effect.fail(new Transport.AuthenticationFailed({ code: "smsforge/NoCredentials" }))
      }
      const response = yield* Http.request(client, {
        method: "POST",
        url,
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: Http.formEncode(Object.entries(params)),
        timeout
      }).pipe(
        Effect.mapError(reasonOfHttpFailure)
      )
      const answered = parts(response.json)
      if (answered === undefined) {
        return yield* Effect.fail(classifyHttp(response.status, Http.retryAfterMillis(response.headers, now)))
      }
      const failed = answered.find((part) => part.status !== "0")
      if (failed !== undefined) return yield* Effect.fail(classifyStatus(failed.status))
      const ids = answered.map((part) => part.messageId)
      const first = ids[0]
      if (first === undefined || ids.some((id) => id === undefined)) {
        return yield* Effect.fail(new Transport.Unavailable({ code: "smsforge/MalformedAnswer" }))
      }
      const result: Transport.SubmitResult = ids.length > 1
        ? { providerMessageId: first, segmentIds: ids as ReadonlyArray<string> }
        : { providerMessageId: first }
      return result
    })

  const transport = Transport.make({
    name,
    capabilities: { ...defaultCapabilities, ...config.capabilities },
    submit,
    mapStatus: deliveryStatus
  })
  return { ...transport, ...makeWebhooks({ ...config, name }) }
}

// layers

/**
 * Provides a Vonage transport as the `Transport` service.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: VonageConfig): Layer.Layer<Transport.Transport, InvalidConfig> =>
  Layer.effect(Transport.Transport, make(config))

/**
 * Provides a Vonage transport read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<VonageConfig>
): Layer.Layer<Transport.Transport, Config.ConfigError | InvalidConfig> =>
  Layer.effect(Transport.Transport, Effect.flatMap(Config.unwrap(config), make))
