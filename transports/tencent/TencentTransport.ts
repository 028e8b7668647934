/**
 * Tencent Cloud SMS (`SendSms`, API version 2021-01-11) as a smsforge
 * transport, for Chinese domestic and international traffic.
 *
 * **Details**
 * - Tencent Cloud sends by template: the submission's
 *   `template.providerTemplateCode` becomes `TemplateId` and its variables the
 *   positional `TemplateParamSet` (`{1}`, `{2}`, … in the approved template);
 *   the text itself is not sent. A submission without a template code is
 *   `Rejected` with code `smsforge/MissingTemplateCode`.
 * - Variables to positions: the order `config.templateParams[templateId]`
 *   declares; else keys `"1"` … `"n"` in numeric order; else named keys in the
 *   order they are written. Gaps (`"1"`, `"3"`), numbered and named keys
 *   mixed, or a declared variable that is missing are `Rejected`
 *   (`smsforge/TemplateParamOrder`, `smsforge/MissingTemplateParam`) before
 *   any request.
 * - `SignName` is the submission's `from`, else the configured `signName`;
 *   mainland China (`+86`) needs one (`smsforge/MissingSignName`).
 * - `PhoneNumberSet` is the E.164 number with its `+`; `SessionContext` is the
 *   message id (`clientReference`), which Tencent echoes in receipts.
 * - Requests are `POST /` with a JSON body, signed with TC3-HMAC-SHA256 over
 *   `content-type;host`, with `X-TC-Timestamp` read from Effect's `Clock`.
 * - `SerialNo` is the provider message id. A 2xx answer that is not a
 *   `SendStatusSet` is an unknown outcome: `Timeout` with code
 *   `smsforge/MalformedAnswer`, never a safe retry.
 * - {@link TencentTransport.parseReports} decodes status report pushes and
 *   {@link TencentTransport.parseInbound} reply pushes; answer both with
 *   {@link callbackAnswer}.
 *
 * **Gotchas**
 * - Tencent Cloud does not sign its callbacks: keep the callback URL secret (a
 *   random path segment).
 * - `user_receive_time` is China Standard Time (UTC+8).
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
import { InvalidConfig, invalidSecret, type Secret, toRedacted } from "../internal/secret.ts"
import { classify } from "./internal/classify.ts"
import * as Tc3 from "./internal/tc3.ts"

export { InvalidConfig, type Secret }

// models

/**
 * How to reach and authenticate with Tencent Cloud SMS.
 *
 * @category models
 * @since 0.1.0
 */
export interface TencentConfig {
  /** The API key's `SecretId` (`AKID…`). */
  readonly secretId: string
  /** The API key's `SecretKey`; a plain string is wrapped in a `Redacted` at `make`. */
  readonly secretKey: Secret
  /** The SMS application's `SdkAppId` (`1400…`). */
  readonly sdkAppId: string
  /** The approved SMS signature (签名) used when a submission has no `from`. */
  readonly signName?: string | undefined
  /** `X-TC-Region`, default `ap-guangzhou`. */
  readonly region?: string | undefined
  /** The API host, default `sms.tencentcloudapi.com`. */
  readonly endpoint?: string | undefined
  /** Where requests go, default `https://<endpoint>`; the signature covers its host. */
  readonly baseUrl?: string | undefined
  /** Request timeout, default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
  /**
   * Per `TemplateId`, the variable names in placeholder order:
   * `{ "1234567": ["code", "minutes"] }` sends `code` as `{1}`, `minutes` as `{2}`.
   */
  readonly templateParams?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /** Transport name, default `"tencent"`. */
  readonly name?: string | undefined
  readonly capabilities?: Partial<Transport.Capabilities> | undefined
}

/**
 * The Tencent Cloud transport, with decoders for its callbacks.
 *
 * @category models
 * @since 0.1.0
 */
export interface TencentTransport extends Transport.Transport {
  /** Decodes a status report push: an array of reports, one report, or their JSON text. */
  readonly parseReports: (body: unknown) => Effect.Effect<ReadonlyArray<Transport.DeliveryReport>, TencentWebhookError>
  /** Decodes a reply push: one reply, an array of them, or their JSON text. */
  readonly parseInbound: (body: unknown) => Effect.Effect<ReadonlyArray<Transport.InboundMessage>, TencentWebhookError>
}

// errors

/**
 * A pushed callback lacks a field or carries an unusable value.
 *
 * @category errors
 * @since 0.1.0
 */
export class MalformedWebhook extends Schema.TaggedError<MalformedWebhook>("smsforge/transports/tencent/MalformedWebhook")(
  "MalformedWebhook",
  { field: Schema.String }
) {}

/**
 * Why a Tencent Cloud callback was refused.
 *
 * @category errors
 * @since 0.1.0
 */
export class TencentWebhookError extends Schema.TaggedError<TencentWebhookError>("smsforge/transports/tencent/TencentWebhookError")(
  "TencentWebhookError",
  { reason: MalformedWebhook }
) {
  override get message(): string {
    return `tencent webhook: ${this.reason._tag} (${this.reason.field})`
  }
}

// pure helpers

/**
 * The JSON body Tencent Cloud expects in answer to a callback it may stop
 * retrying: `{"result":0,"errmsg":"OK"}`.
 *
 * @category webhooks
 * @since 0.1.0
 */
export const callbackAnswer: { readonly result: 0; readonly errmsg: "OK" } = { result: 0, errmsg: "OK" }

/**
 * Signs a `SendSms`-style request: the `Authorization` header for a JSON
 * `POST /` to `host` with `payload` as the body, at `timestamp` (Unix seconds).
 *
 * @category helpers
 * @since 0.1.0
 */
export const authorization = (options: {
  readonly secretId: string
  readonly secretKey: Secret
  readonly host: string
  readonly timestamp: number
  readonly payload: string
  /** Default `sms`. */
  readonly service?: string | undefined
}): string =>
  Tc3.authorization({
    secretId: options.secretId,
    secretKey: typeof options.secretKey === "string" ? options.secretKey : Redacted.value(options.secretKey),
    service: options.service ?? "sms",
    host: options.host,
    timestamp: options.timestamp,
    payload: options.payload
  })

type Params =
  | { readonly _tag: "Params"; readonly params: ReadonlyArray<string> }
  | { readonly _tag: "Refused"; readonly reason: Transport.Rejected }

const positional = /^[1-9]\d*$/

const templateParamSet = (
  variables: Readonly<Record<string, string | number>>,
  order: ReadonlyArray<string> | undefined
): Params => {
  if (order !== undefined) {
    const params: Array<string> = []
    for (const name of order) {
      if (!Object.hasOwn(variables, name)) {
        return {
          _tag: "Refused",
          reason: new Transport.Rejected({ code: "smsforge/MissingTemplateParam", detail: `field template.variables.${name}` })
        }
      }
      params.push(String(variables[name]))
    }
    return { _tag: "Params", params }
  }
  const keys = Object.keys(variables)
  const numbered = keys.filter((key) => positional.test(key))
  if (numbered.length === 0) return { _tag: "Params", params: keys.map((key) => String(variables[key])) }
  const dense = numbered.length === keys.length && keys.every((key) => Number(key) <= keys.length)
  if (!dense) {
    return {
      _tag: "Refused",
      reason: new Transport.Rejected({ code: "smsforge/TemplateParamOrder", detail: "field template.variables" })
    }
  }
  return { _tag: "Params", params: keys.map((_, i) => String(variables[String(i + 1)])) }
}

/** `2015-10-17 08:03:04` in UTC+8 → epoch milliseconds. */
const parseChinaTime = (value: unknown): number | undefined => {
  if (typeof value !== "string") return undefined
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(value)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s] = match
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h) - 8, Number(mi), Number(s))
}

/** Unix seconds (a number or digits) → epoch milliseconds. */
const parseUnixSeconds = (value: unknown): number | undefined => {
  const text = Http.asString(value)
  return text !== undefined && /^\d{1,12}$/.test(text) ? Number(text) * 1000 : undefined
}

const malformed = (field: string) => new TencentWebhookError({ reason: new MalformedWebhook({ field }) })

/**
 * Maps a status report's `report_status` and `errmsg` to a delivery status.
 *
 * @category webhooks
 * @since 0.1.0
 */
export const deliveryStatus = (reportStatus: "SUCCESS" | "FAIL", errmsg: string | undefined): Transport.DeliveryStatus => {
  if (reportStatus === "SUCCESS") return "delivered"
  const code = (errmsg ?? "").toUpperCase()
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

const nonEmpty = (value: unknown): string | undefined => {
  const text = Http.asString(value)
  return text === undefined || text === "" ? undefined : text
}

/**
 * Builds the callback decoders.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWebhooks = (config: { readonly name?: string | undefined } = {}): {
  readonly parseReports: TencentTransport["parseReports"]
  readonly parseInbound: TencentTransport["parseInbound"]
} => {
  const transport = config.name ?? "tencent"
  return {
    parseReports: (body) =>
      Effect.gen(function*() {
        const items = list(body)
        if (items === undefined) return yield* Effect.fail(malformed("body"))
        const now = yield* Clock.currentTimeMillis
        const reports: Array<Transport.DeliveryReport> = []
        for (const item of items) {
          if (item === null || typeof item !== "object" || Array.isArray(item)) return yield* Effect.fail(malformed("body"))
          const providerMessageId = nonEmpty(Http.getPath(item, "sid")) ?? nonEmpty(Http.getPath(item, "serial_no"))
          if (providerMessageId === undefined) return yield* Effect.fail(malformed("sid"))
          const reportStatus = Http.getPath(item, "report_status")
          if (reportStatus !== "SUCCESS" && reportStatus !== "FAIL") return yield* Effect.fail(malformed("report_status"))
          const errmsg = nonEmpty(Http.getPath(item, "errmsg"))
          reports.push({
            _tag: "DeliveryReport",
            transport,
            providerMessageId,
            status: deliveryStatus(reportStatus, errmsg),
            providerStatus: reportStatus,
            at: parseChinaTime(Http.getPath(item, "user_receive_time")) ?? now,
            ...(errmsg !== undefined && reportStatus === "FAIL" ? { errorCode: errmsg } : {})
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
          if (item === null || typeof item !== "object" || Array.isArray(item)) return yield* Effect.fail(malformed("body"))
          const nationcode = Http.asString(Http.getPath(item, "nationcode"))
          if (nationcode === undefined || !/^\d{1,4}$/.test(nationcode)) return yield* Effect.fail(malformed("nationcode"))
          const mobile = Http.asString(Http.getPath(item, "mobile"))
          if (mobile === undefined || !/^\d{4,17}$/.test(mobile)) return yield* Effect.fail(malformed("mobile"))
          const text = Http.getPath(item, "text")
          if (typeof text !== "string") return yield* Effect.fail(malformed("text"))
          messages.push({
            _tag: "InboundMessage",
            transport,
            from: `+${nationcode}${mobile}`,
            to: nonEmpty(Http.getPath(item, "extend")) ?? nonEmpty(Http.getPath(item, "sign")) ?? "",
            text,
            receivedAt: parseUnixSeconds(Http.getPath(item, "time")) ?? now
          })
        }
        return messages
      })
  }
}

// constructors

/**
 * What Tencent Cloud SMS can carry; override with `config.capabilities`.
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
 * Builds a Tencent Cloud SMS transport.
 *
 * **Details**
 * - `secretKey` may be a plain string or a `Redacted`; a string is wrapped
 *   here, so it never shows in an error, a log or JSON. A wrong type or an
 *   empty value fails here with {@link InvalidConfig} naming the field.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: TencentConfig): Effect.Effect<TencentTransport, InvalidConfig> =>
  Effect.flatMap(Effect.suspend(() => check(config)), (checked) => Effect.map(Http.client, (client) => build(checked, client)))

type Checked = Omit<TencentConfig, "secretKey"> & { readonly secretKey: Redacted.Redacted<string>; readonly url: URL }

const nonEmptyString = (value: unknown): value is string => typeof value === "string" && value !== ""

// secrets become Redacted here, once: a plain string never travels further
const check = (config: TencentConfig): Effect.Effect<Checked, InvalidConfig> => {
  const name = config.name ?? "tencent"
  const invalid = (field: string, problem: string) => Effect.fail(new InvalidConfig({ transport: name, field, problem }))
  if (!nonEmptyString(config.secretId)) return invalid("secretId", "not a non-empty string")
  const secretKey = toRedacted(config.secretKey)
  if (secretKey === undefined) return Effect.fail(invalidSecret(name, "secretKey"))
  if (!nonEmptyString(config.sdkAppId)) return invalid("sdkAppId", "not a non-empty string")
  if (config.endpoint !== undefined && !nonEmptyString(config.endpoint)) return invalid("endpoint", "not a non-empty string")
  if (config.region !== undefined && !nonEmptyString(config.region)) return invalid("region", "not a non-empty string")
  const base = config.baseUrl ?? `https://${config.endpoint ?? "sms.tencentcloudapi.com"}`
  let url: URL
  try {
    url = new URL(base)
  } catch {
    return invalid("baseUrl", "not a URL")
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return invalid("baseUrl", "not an http(s) URL")
  return Effect.succeed({ ...config, secretKey, url })
}

const build = (config: Checked, client: Http.Client): TencentTransport => {
  const name = config.name ?? "tencent"
  const target = `${config.url.origin}/`
  const host = config.url.host
  const region = config.region ?? "ap-guangzhou"
  const timeout = config.timeout ?? Duration.seconds(10)
  const malformedAnswer = new Transport.Timeout({ code: "smsforge/MalformedAnswer" })

  const submit = (submission: Transport.Submission): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> =>
    Effect.gen(function*() {
      const templateId = submission.template?.providerTemplateCode
      if (templateId === undefined || templateId === "") {
        return yield* Effect.fail(
          new Transport.Rejected({ code: "smsforge/MissingTemplateCode", detail: "field template.providerTemplateCode" })
        )
      }
      const phone = submission.to.startsWith("+") ? submission.to : `+${submission.to}`
      const signName = submission.from ?? config.signName
      if ((signName === undefined || signName === "") && phone.startsWith("+86")) {
        return yield* Effect.fail(new Transport.Rejected({ code: "smsforge/MissingSignName", detail: "field from" }))
      }
      const declared = config.templateParams !== undefined && Object.hasOwn(config.templateParams, templateId)
        ? config.templateParams[templateId]
        : undefined
      const params = templateParamSet(submission.template?.variables ?? {}, declared)
      if (params._tag === "Refused") return yield* Effect.fail(params.reason)
      const payload = JSON.stringify({
        PhoneNumberSet: [phone],
        SmsSdkAppId: config.sdkAppId,
        ...(signName !== undefined && signName !== "" ? { SignName: signName } : {}),
        TemplateId: templateId,
        TemplateParamSet: params.params,
        SessionContext: submission.clientReference
      })
      const timestamp = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const response = yield* Http.request(client, {
        method: "POST",
        url: target,
        headers: {
          "authorization": Tc3.authorization({
            secretId: config.secretId,
            secretKey: Redacted.value(config.secretKey),
            service: "sms",
            host,
            timestamp,
            payload
          }),
          "content-type": Tc3.contentType,
          "x-tc-action": "SendSms",
          "x-tc-version": "2021-01-11",
          "x-tc-timestamp": String(timestamp),
          "x-tc-region": region
        },
        body: payload,
        timeout
      }).pipe(
        Effect.mapError(reasonOfHttpFailure)
      )
      const ok = response.status >= 200 && response.status < 300
      const errorCode = Http.asString(Http.getPath(response.json, "Response.Error.Code"))
      if (errorCode !== undefined) return yield* Effect.fail(classify(response.status, errorCode))
      const sent = Http.getPath(response.json, "Response.SendStatusSet.0")
      const code = Http.asString(Http.getPath(sent, "Code"))
      if (code === undefined) return yield* Effect.fail(ok ? malformedAnswer : classify(response.status, undefined))
      if (code !== "Ok") return yield* Effect.fail(classify(response.status, code))
      const serialNo = nonEmpty(Http.getPath(sent, "SerialNo"))
      if (serialNo === undefined) return yield* Effect.fail(malformedAnswer)
      return { providerMessageId: serialNo }
    })

  const transport = Transport.make({
    name,
    capabilities: { ...defaultCapabilities, ...config.capabilities },
    submit,
    mapStatus: (status: string) => status === "SUCCESS" ? "delivered" : status === "FAIL" ? "undelivered" : undefined
  })
  return { ...transport, ...makeWebhooks({ name }) }
}

// layers

/**
 * Provides a Tencent Cloud SMS transport as the `Transport` service.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: TencentConfig): Layer.Layer<Transport.Transport, InvalidConfig> =>
  Layer.effect(Transport.Transport, make(config))

/**
 * Provides a Tencent Cloud SMS transport read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<TencentConfig>
): Layer.Layer<Transport.Transport, Config.ConfigError | InvalidConfig> =>
  Layer.effect(Transport.Transport, Effect.flatMap(Config.unwrap(config), make))
