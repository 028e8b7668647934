/**
 * A transport for any REST SMS gateway, configured by a small mapping
 * instead of code.
 *
 * **Details**
 * - `fields` maps request fields to submission values (`"to"`, `"text"`,
 *   `"clientReference"`, …), constants (`{ value }`, secrets as `Redacted`) or
 *   mapped values (`{ field: "encoding", map: { "UCS-2": "unicode" } }`).
 *   Dotted names nest in a JSON body (`"message.to"`).
 * - The body is `json` (default), `form`, or `query` (the only choice for GET).
 * - `response.messageId` is a dotted path into the JSON answer
 *   (`"messages.0.id"`); `response.segmentIds` reads an array of ids.
 * - A 2xx answer is a success unless `response.code` names a field whose value
 *   is not in `response.successCodes` (for gateways that answer `200` with an
 *   error status inside).
 * - Failures are classified by `errors.byCode` (the value at `response.code`),
 *   then `errors.byStatus` (`"429"`, `"4xx"`, `"5xx"`), then defaults: 429 →
 *   `Throttled` (with `Retry-After`), 401/403 → `AuthenticationFailed`, 402 →
 *   `InsufficientFunds`, 408 → `Timeout`, 5xx → `Unavailable`, others →
 *   `Rejected`.
 *
 * **Gotchas**
 * - `auth` secrets and header values may be plain strings or `Redacted`: they
 *   are held as `Redacted` from `make` on. A `{ value }` constant is sent as
 *   written and shown like any field unless it is `Redacted`.
 * - A 2xx answer without a message id at `response.messageId` fails as
 *   `Unavailable` with code `smsforge/MalformedAnswer`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Transport } from "smsforge"
import * as Http from "../../src/internal/http.ts"
import { reasonOfHttpFailure } from "../internal/httpFailure.ts"
import { InvalidConfig, invalidSecret, type Secret, toRedacted } from "../internal/secret.ts"
import * as Mapping from "./internal/mapping.ts"
import type { FieldSource, ReasonTag } from "./internal/mapping.ts"

export { InvalidConfig, type Secret }

// models

/**
 * Request fields and reason tags (declared beside the mapping that reads them).
 *
 * @category models
 * @since 0.1.0
 */
export type { FieldSource, ReasonTag, SubmissionField } from "./internal/mapping.ts"

/**
 * The mapping from a submission to a gateway's request and back.
 *
 * @category models
 * @since 0.1.0
 */
export interface HttpTransportConfig {
  readonly name: string
  readonly url: string
  /** Default `POST`. */
  readonly method?: "POST" | "PUT" | "GET" | undefined
  /** Default `json`; GET always sends the fields as the query. */
  readonly body?: "json" | "form" | "query" | undefined
  /** Header values are held as `Redacted` from `make` on (an API key header is a secret too). */
  readonly headers?: Readonly<Record<string, Secret>> | undefined
  /** A plain-string `token` or `password` is wrapped in a `Redacted` at `make`. */
  readonly auth?:
    | { readonly type: "bearer"; readonly token: Secret }
    | { readonly type: "basic"; readonly username: string; readonly password: Secret }
    | undefined
  readonly fields: Readonly<Record<string, FieldSource>>
  readonly response: {
    /** Dotted path of the message id in the JSON answer. */
    readonly messageId: string
    /** Dotted path of an array of per-segment ids. */
    readonly segmentIds?: string | undefined
    /** Dotted path of a status or error code in the JSON answer. */
    readonly code?: string | undefined
    /** Values at `code` that mean the message was accepted. */
    readonly successCodes?: ReadonlyArray<string> | undefined
  }
  readonly errors?: {
    readonly byStatus?: Readonly<Record<string, ReasonTag>> | undefined
    readonly byCode?: Readonly<Record<string, ReasonTag>> | undefined
  } | undefined
  /** Request timeout, default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
  readonly capabilities?: Partial<Transport.Capabilities> | undefined
}

/**
 * What a generic gateway is assumed to carry; override with `config.capabilities`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const defaultCapabilities: Transport.Capabilities = {
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: false,
  inbound: false,
  senderTypes: ["alphanumeric", "long-code"]
}

// constructors

type Checked = Omit<HttpTransportConfig, "headers" | "auth"> & {
  readonly headers: ReadonlyArray<readonly [string, Redacted.Redacted<string>]>
  readonly auth:
    | { readonly type: "bearer"; readonly token: Redacted.Redacted<string> }
    | { readonly type: "basic"; readonly username: string; readonly password: Redacted.Redacted<string> }
    | undefined
}

// secrets become Redacted here, once: a plain string never travels further
const check = (config: HttpTransportConfig): Effect.Effect<Checked, InvalidConfig> => {
  const name = typeof config.name === "string" ? config.name : "http"
  const headers: Array<readonly [string, Redacted.Redacted<string>]> = []
  for (const [key, value] of Object.entries(config.headers ?? {})) {
    const redacted = toRedacted(value)
    if (redacted === undefined) return Effect.fail(invalidSecret(name, `headers.${key}`))
    headers.push([key.toLowerCase(), redacted])
  }
  const auth = config.auth
  if (auth === undefined) return Effect.succeed({ ...config, headers, auth: undefined })
  if (auth.type === "bearer") {
    const token = toRedacted(auth.token)
    return token === undefined
      ? Effect.fail(invalidSecret(name, "auth.token"))
      : Effect.succeed({ ...config, headers, auth: { type: "bearer", token } })
  }
  if (auth.type === "basic") {
    const password = toRedacted(auth.password)
    return password === undefined
      ? Effect.fail(invalidSecret(name, "auth.password"))
      : Effect.succeed({ ...config, headers, auth: { type: "basic", username: auth.username, password } })
  }
  return Effect.fail(new InvalidConfig({ transport: name, field: "auth.type", problem: "not \"bearer\" or \"basic\"" }))
}

/**
 * Builds a transport from a mapping.
 *
 * **Details**
 * - A secret of the wrong type (`auth.token: undefined`, a number header)
 *   fails here with {@link InvalidConfig} naming the field, not at the first send.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: HttpTransportConfig): Effect.Effect<Transport.Transport, InvalidConfig> =>
  Effect.flatMap(Effect.suspend(() => check(config)), (config) => Effect.map(Http.client, (client) => {
    const method = config.method ?? "POST"
    const bodyKind = method === "GET" ? "query" : config.body ?? "json"
    const timeout = config.timeout ?? Duration.seconds(10)

    const build = (submission: Transport.Submission, now: number) => {
      const headers: Record<string, string> = { accept: "application/json" }
      for (const [key, value] of config.headers) headers[key] = Redacted.value(value)
      if (config.auth?.type === "bearer") headers["authorization"] = `Bearer ${Redacted.value(config.auth.token)}`
      if (config.auth?.type === "basic") {
        headers["authorization"] = Http.basicAuth(config.auth.username, Redacted.value(config.auth.password))
      }
      const values: Array<readonly [string, Exclude<ReturnType<typeof Mapping.resolve>, undefined>]> = []
      for (const [key, source] of Object.entries(config.fields)) {
        const value = Mapping.resolve(source, submission, now)
        if (value !== undefined) values.push([key, value])
      }
      const flat = values.map(([key, value]) =>
        [key, typeof value === "object" ? JSON.stringify(value) : String(value)] as const
      )
      if (bodyKind === "json") {
        const body: Record<string, unknown> = {}
        for (const [key, value] of values) Mapping.setPath(body, key, value)
        headers["content-type"] = "application/json"
        return { url: config.url, headers, body: JSON.stringify(body) }
      }
      if (bodyKind === "form") {
        headers["content-type"] = "application/x-www-form-urlencoded"
        return { url: config.url, headers, body: Http.formEncode(flat) }
      }
      const url = new URL(config.url)
      for (const [key, value] of flat) url.searchParams.append(key, value)
      return { url: url.toString(), headers, body: undefined }
    }

    const submit = (submission: Transport.Submission): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const request = build(submission, now)
        const response = yield* Http.request(client, { method, timeout, ...request }).pipe(
          Effect.mapError(reasonOfHttpFailure)
        )
        const code = config.response.code === undefined
          ? undefined
          : Http.asString(Http.getPath(response.json, config.response.code))
        const accepted = response.status >= 200 && response.status < 300 &&
          (config.response.successCodes === undefined || (code !== undefined && config.response.successCodes.includes(code)))
        if (!accepted) {
          const tag = Mapping.classify(response.status, code, config.errors ?? {})
          return yield* Effect.fail(
            Mapping.reason(tag, code ?? `http-${response.status}`, Http.retryAfterMillis(response.headers, now))
          )
        }
        const id = Http.asString(Http.getPath(response.json, config.response.messageId))
        if (id === undefined || id === "") {
          return yield* Effect.fail(new Transport.Unavailable({ code: "smsforge/MalformedAnswer" }))
        }
        if (config.response.segmentIds !== undefined) {
          const segments = Http.getPath(response.json, config.response.segmentIds)
          if (Array.isArray(segments)) {
            const ids = segments.map(Http.asString).filter((s): s is string => s !== undefined)
            return { providerMessageId: id, segmentIds: ids }
          }
        }
        return { providerMessageId: id }
      })

    return Transport.make({
      name: config.name,
      capabilities: { ...defaultCapabilities, ...config.capabilities },
      submit
    })
  }))

// layers

/**
 * Provides a mapped HTTP transport as the `Transport` service.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: HttpTransportConfig): Layer.Layer<Transport.Transport, InvalidConfig> =>
  Layer.effect(Transport.Transport, make(config))
