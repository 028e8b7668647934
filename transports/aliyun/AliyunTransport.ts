/**
 * Alibaba Cloud SMS (dysmsapi `SendSms`, RPC style, version 2017-05-25) as a
 * smsforge transport, for Chinese domestic and international traffic.
 *
 * **Details**
 * - Alibaba Cloud sends by template: the submission's
 *   `template.providerTemplateCode` becomes `TemplateCode` and its variables
 *   `TemplateParam` (JSON, values as strings); the text itself is not sent.
 *   A submission without a template code is `Rejected` with code
 *   `smsforge/MissingTemplateCode`.
 * - `SignName` is the submission's `from`, else the configured `signName`.
 * - `PhoneNumbers` drops the `+`; mainland China (`+86`) numbers go as the
 *   domestic 11-digit number.
 * - Requests are signed with POP signature v1 (HMAC-SHA1 of
 *   `GET&%2F&<encoded sorted query>`), with a fresh `SignatureNonce` and a UTC
 *   `Timestamp` read from Effect's `Clock`.
 * - Codes are classified here: `isv.BUSINESS_LIMIT_CONTROL` → `Throttled`,
 *   `isv.MOBILE_NUMBER_ILLEGAL` → `InvalidNumber`, `isv.AMOUNT_NOT_ENOUGH` →
 *   `InsufficientFunds`, `InvalidAccessKeyId.NotFound` / `SignatureDoesNotMatch`
 *   → `AuthenticationFailed`, `isv.BLACK_KEY_CONTROL_LIMIT` → `Blocked`,
 *   template and signature problems → `Rejected`.
 * - {@link AliyunTransport.parseReports} decodes `SmsReport` messages (the HTTP
 *   batch push or MNS queue body) and {@link AliyunTransport.parseInbound}
 *   `SmsUp` messages.
 *
 * **Gotchas**
 * - Alibaba Cloud does not sign its HTTP pushes: keep the push URL secret (a
 *   random path segment) or consume reports from the MNS queue instead.
 * - `report_time` and `send_time` are China Standard Time (UTC+8).
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
import * as Pop from "./internal/pop.ts"

export { InvalidConfig, type Secret }

// models

/**
 * How to reach and authenticate with Alibaba Cloud SMS.
 *
 * @category models
 * @since 0.1.0
 */
export interface AliyunConfig {
  readonly accessKeyId: string
  /** A plain string is wrapped in a `Redacted` at `make`. */
  readonly accessKeySecret: Secret
  /** The approved SMS signature (签名) used when a submission has no `from`. */
  readonly signName?: string | undefined
  /** Default `cn-hangzhou`. */
  readonly regionId?: string | undefined
  /** Defaults to `https://dysmsapi.aliyuncs.com`. */
  readonly baseUrl?: string | undefined
  /** Request timeout, default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
  /** Transport name, default `"aliyun"`. */
  readonly name?: string | undefined
  readonly capabilities?: Partial<Transport.Capabilities> | undefined
}

/**
 * The Alibaba Cloud transport, with decoders for its pushed reports.
 *
 * @category models
 * @since 0.1.0
 */
export interface AliyunTransport extends Transport.Transport {
  /** Decodes a `SmsReport` push: one report object or an array of them. */
  readonly parseReports: (body: unknown) => Effect.Effect<ReadonlyArray<Transport.DeliveryReport>, AliyunWebhookError>
  /** Decodes a `SmsUp` push: one message object or an array of them. */
  readonly parseInbound: (body: unknown) => Effect.Effect<ReadonlyArray<Transport.InboundMessage>, AliyunWebhookError>
}

// errors

/**
 * A pushed report lacks a field or carries an unusable value.
 *
 * @category errors
 * @since 0.1.0
 */
export class MalformedWebhook extends Schema.TaggedError<MalformedWebhook>("smsforge/transports/aliyun/MalformedWebhook")(
  "MalformedWebhook",
  { field: Schema.String }
) {}

/**
 * Why an Alibaba Cloud push was refused.
 *
 * @category errors
 * @since 0.1.0
 */
export class AliyunWebhookError extends Schema.TaggedError<AliyunWebhookError>("smsforge/transports/aliyun/AliyunWebhookError")(
  "AliyunWebhookError",
  { reason: MalformedWebhook }
) {
  override get message(): string {
    return `aliyun webhook: ${this.reason._tag} (${this.reason.field})`
  }
}

// pure helpers

/**
 * The `PhoneNumbers` value for an E.164 number: no `+`, and the domestic
 * number for mainland China.
 *
 * @category helpers
 * @since 0.1.0
 */
export const phoneNumber = (e164: string): string => {
  const digits = e164.replace(/^\+/, "")
  return digits.startsWith("86") && digits.length === 13 ? digits.slice(2) : digits
}

/**
 * Signs a dysmsapi request (POP signature v1) and returns the query string to
 * append to `/?`.
 *
 * @category helpers
 * @since 0.1.0
 */
export const signedQuery = (
  method: "GET" | "POST",
  secret: Secret,
  params: Readonly<Record<string, string>>
): string =>
  `Signature=${Pop.percentEncode(Pop.signature(method, reveal(secret), params))}&${Pop.canonicalQuery(params)}`

/** `2017-02-02 22:23:24` in UTC+8 → epoch milliseconds. */
const parseChinaTime = (value: unknown): number | undefined => {
  if (typeof value !== "string") return undefined
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(value)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s] = match
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h) - 8, Number(mi), Number(s))
}

const malformed = (field: string) => new AliyunWebhookError({ reason: new MalformedWebhook({ field }) })

/**
 * Maps a `SmsReport`'s `success` and `err_code` to a delivery status.
 *
 * @category webhooks
 * @since 0.1.0
 */
export const deliveryStatus = (success: boolean, errCode: string | undefined): Transport.DeliveryStatus => {
  if (success) return "delivered"
  const code = (errCode ?? "").toUpperCase()
  if (code.includes("EXPIRED")) return "expired"
  if (code.includes("REJECT")) return "rejected"
  return "undelivered"
}

const list = (body: unknown): ReadonlyArray<unknown> | undefined => {
  if (typeof body === "string") {
    try {
      return list(JSON.parse(body) as unknown)
    } catch {
      return undefined
    }
  }
  if (Array.isArray(body)) return body
  if (body !== null && typeof body === "object") return [body]
  return undefined
}

/**
 * Builds the push decoders.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWebhooks = (config: { readonly name?: string | undefined } = {}): {
  readonly parseReports: AliyunTransport["parseReports"]
  readonly parseInbound: AliyunTransport["parseInbound"]
} => {
  const transport = config.name ?? "aliyun"
  return {
    parseReports: (body) =>
      Effect.gen(function*() {
        const items = list(body)
        if (items === undefined) return yield* Effect.fail(malformed("body"))
        const now = yield* Clock.currentTimeMillis
        const reports: Array<Transport.DeliveryReport> = []
        for (const item of items) {
          const providerMessageId = Http.asString(Http.getPath(item, "biz_id"))
          if (providerMessageId === undefined || providerMessageId === "") return yield* Effect.fail(malformed("biz_id"))
          const rawSuccess = Http.getPath(item, "success")
          if (rawSuccess !== true && rawSuccess !== false && rawSuccess !== "true" && rawSuccess !== "false") {
            return yield* Effect.fail(malformed("success"))
          }
          const success = rawSuccess === true || rawSuccess === "true"
          const errCode = Http.asString(Http.getPath(item, "err_code"))
          reports.push({
            _tag: "DeliveryReport",
            transport,
            providerMessageId,
            status: deliveryStatus(success, errCode),
            providerStatus: success ? "success" : "failure",
            at: parseChinaTime(Http.getPath(item, "report_time")) ?? now,
            ...(errCode !== undefined && errCode !== "" ? { errorCode: errCode } : {})
          })
        }
        return reports
      }),
    parseInbound: (body) =>
      Effect.gen(function*() {
        const items = list(body)
        if (items === undefined) return yield* Effect.fail(malformed("body"))
        const now = yield* Clock.currentTimeMillis
        const messages: Array<Transport.InboundMessage> = []
        for (const item of items) {
          const phone = Http.asString(Http.getPath(item, "phone_number"))
          if (phone === undefined || !/^\+?\d{5,20}$/.test(phone)) return yield* Effect.fail(malformed("phone_number"))
          const content = Http.asString(Http.getPath(item, "content"))
          if (content === undefined) return yield* Effect.fail(malformed("content"))
          const sequence = Http.asString(Http.getPath(item, "sequence_id"))
          messages.push({
            _tag: "InboundMessage",
            transport,
            from: phone.startsWith("+") ? phone : /^1\d{10}$/.test(phone) ? `+86${phone}` : `+${phone}`,
            to: Http.asString(Http.getPath(item, "dest_code")) ?? Http.asString(Http.getPath(item, "sign_name")) ?? "",
            text: content,
            receivedAt: parseChinaTime(Http.getPath(item, "send_time")) ?? now,
            ...(sequence !== undefined ? { providerMessageId: sequence } : {})
          })
        }
        return messages
      })
  }
}

// constructors

/**
 * What Alibaba Cloud SMS can carry; override with `config.capabilities`.
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
  senderTypes: ["alphanumeric"]
}

/**
 * Builds an Alibaba Cloud SMS transport.
 *
 * **Details**
 * - `accessKeySecret` may be a plain string or a `Redacted`; a string is
 *   wrapped here, so it never shows in an error, a log or JSON. A wrong type
 *   fails here with {@link InvalidConfig} naming the field.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: AliyunConfig): Effect.Effect<AliyunTransport, InvalidConfig> =>
  Effect.flatMap(Effect.suspend(() => check(config)), (config) => Effect.map(Http.client, (client) => build(config, client)))

type Checked = Omit<AliyunConfig, "accessKeySecret"> & { readonly accessKeySecret: Redacted.Redacted<string> }

// secrets become Redacted here, once: a plain string never travels further
const check = (config: AliyunConfig): Effect.Effect<Checked, InvalidConfig> => {
  const name = config.name ?? "aliyun"
  if (typeof config.accessKeyId !== "string" || config.accessKeyId === "") {
    return Effect.fail(new InvalidConfig({ transport: name, field: "accessKeyId", problem: "not a non-empty string" }))
  }
  const accessKeySecret = toRedacted(config.accessKeySecret)
  if (accessKeySecret === undefined) return Effect.fail(invalidSecret(name, "accessKeySecret"))
  return Effect.succeed({ ...config, accessKeySecret })
}

const build = (config: Checked, client: Http.Client): AliyunTransport => {
  const name = config.name ?? "aliyun"
  const baseUrl = (config.baseUrl ?? "https://dysmsapi.aliyuncs.com").replace(/\/+$/, "")
  const timeout = config.timeout ?? Duration.seconds(10)

  const submit = (submission: Transport.Submission): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> =>
    Effect.gen(function*() {
      const templateCode = submission.template?.providerTemplateCode
      if (templateCode === undefined || templateCode === "") {
        return yield* Effect.fail(
          new Transport.Rejected({ code: "smsforge/MissingTemplateCode", detail: "field template.providerTemplateCode" })
        )
      }
      const signName = submission.from ?? config.signName
      if (signName === undefined || signName === "") {
        return yield* Effect.fail(new Transport.Rejected({ code: "smsforge/MissingSignName", detail: "field from" }))
      }
      const now = yield* Clock.currentTimeMillis
      const params: Record<string, string> = {
        AccessKeyId: config.accessKeyId,
        Action: "SendSms",
        Format: "JSON",
        OutId: submission.clientReference,
        PhoneNumbers: phoneNumber(submission.to),
        RegionId: config.regionId ?? "cn-hangzhou",
        SignName: signName,
        SignatureMethod: "HMAC-SHA1",
        SignatureNonce: Http.randomNonce(),
        SignatureVersion: "1.0",
        TemplateCode: templateCode,
        Timestamp: Pop.timestamp(now),
        Version: "2017-05-25"
      }
      const variables = submission.template?.variables ?? {}
      if (Object.keys(variables).length > 0) {
        params["TemplateParam"] = JSON.stringify(
          Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, String(value)]))
        )
      }
      const response = yield* Http.request(client, {
        method: "GET",
        url: `${baseUrl}/?${signedQuery("GET", config.accessKeySecret, params)}`,
        headers: { accept: "application/json" },
        timeout
      }).pipe(
        Effect.mapError(reasonOfHttpFailure)
      )
      const code = Http.asString(Http.getPath(response.json, "Code"))
      if (code === "OK" && response.status >= 200 && response.status < 300) {
        const bizId = Http.asString(Http.getPath(response.json, "BizId"))
        if (bizId === undefined || bizId === "") {
          return yield* Effect.fail(new Transport.Unavailable({ code: "smsforge/MalformedAnswer" }))
        }
        return { providerMessageId: bizId }
      }
      return yield* Effect.fail(classify(response.status, code))
    })

  const transport = Transport.make({
    name,
    capabilities: { ...defaultCapabilities, ...config.capabilities },
    submit,
    mapStatus: (status: string) => status === "success" || status === "DELIVERED" ? "delivered" : status === "failure" ? "undelivered" : undefined
  })
  return { ...transport, ...makeWebhooks({ name }) }
}

// layers

/**
 * Provides an Alibaba Cloud SMS transport as the `Transport` service.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: AliyunConfig): Layer.Layer<Transport.Transport, InvalidConfig> =>
  Layer.effect(Transport.Transport, make(config))

/**
 * Provides an Alibaba Cloud SMS transport read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<AliyunConfig>
): Layer.Layer<Transport.Transport, Config.ConfigError | InvalidConfig> =>
  Layer.effect(Transport.Transport, Effect.flatMap(Config.unwrap(config), make))
