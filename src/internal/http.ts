/**
 * Small HTTP and signing helpers shared by the HTTP carrier transports.
 * Never exported from the package; depends only on `effect` and `node:crypto`.
 *
 * @internal
 */
import { cryptoModule } from "./lazy.ts"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpHeaders from "effect/http/Headers"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpMethod from "effect/http/HttpMethod"
import * as UrlParams from "effect/http/UrlParams"
import * as Option from "effect/Option"
import { equalBytes } from "./constantTime.ts"

/** @internal */
export interface HttpRequest {
  readonly method: HttpMethod.HttpMethod
  readonly url: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: string | undefined
  readonly timeout: Duration.Input
}

/** @internal */
export interface HttpResponse {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The body parsed as JSON, `undefined` when it is not JSON. */
  readonly json: unknown
}

/** @internal */
export type HttpFailure =
  | { readonly _tag: "HttpTimeout" }
  | { readonly _tag: "HttpNetwork"; readonly cause: unknown }

const parseJson = (text: string): unknown => {
  if (text.length === 0) return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/**
 * The client used when the context has none: effect's fetch client (Node's
 * global `fetch`), with redirects returned, not followed, so credentials never
 * go to another host and a 3xx is classified like any non-2xx answer.
 */
const defaultClient: Effect.Effect<HttpClient.HttpClient> = Effect.map(
  Effect.provide(Effect.service(HttpClient.HttpClient), FetchHttpClient.layer),
  HttpClient.transformResponse((effect) =>
    Effect.provideService(effect, FetchHttpClient.RequestInit, { redirect: "manual" })
  )
)

/** @internal */
export type Client = HttpClient.HttpClient

/**
 * The `HttpClient` a transport sends with: the one in the context when the
 * user provides one (a proxy agent, a mock, tracing setup), else the fetch
 * client. Adds no requirement: transports stay usable without providing one.
 *
 * @internal
 */
export const client: Effect.Effect<HttpClient.HttpClient> = Effect.flatMap(
  Effect.serviceOption(HttpClient.HttpClient),
  Option.match({ onNone: () => defaultClient, onSome: Effect.succeed })
)

/**
 * Only the underlying cause of a client error: the error itself holds the
 * request, whose headers, query and body carry credentials.
 */
const failureCause = (error: HttpClientError.HttpClientError): unknown => {
  const reason = error.reason
  return reason.cause ?? new Error(`${reason._tag}${reason.description !== undefined ? `: ${reason.description}` : ""}`)
}

/** Headers a transport sends that hold nothing secret. */
const plainHeaders: ReadonlySet<string> = new Set(["accept", "content-type"])

/** Every query parameter: carrier queries hold numbers, texts and signatures. */
const allQueryNames: ReadonlyArray<RegExp> = [/^/]

/**
 * Runs one request with the given `HttpClient` and reads the whole body.
 * Interrupting the effect (as the timeout does) aborts the request. The client
 * adds an `http.client` span (a child of the current one) and `traceparent` /
 * `b3` headers; the span records no header (and a header it is told to record
 * shows as `<redacted>` when the transport set it, bar `accept` and
 * `content-type`), and every query value shows as `REDACTED` in its `url.full`,
 * so no phone number, text, signature or credential reaches a trace.
 *
 * @internal
 */
export const request = (
  httpClient: HttpClient.HttpClient,
  req: HttpRequest
): Effect.Effect<HttpResponse, HttpFailure> => {
  const headers = { ...req.headers }
  let built = HttpClientRequest.make(req.method)(req.url, { headers })
  if (req.body !== undefined) {
    const contentType = Object.entries(headers).find(([key]) => key.toLowerCase() === "content-type")?.[1]
    built = HttpClientRequest.setBody(built, HttpBody.text(req.body, contentType))
  }
  const sentNames = Object.keys(headers).filter((name) => !plainHeaders.has(name.toLowerCase()))
  const run = httpClient.execute(built).pipe(
    Effect.flatMap((response) =>
      Effect.map(response.text, (text): HttpResponse => ({
        status: response.status,
        headers: new Headers(Object.entries(response.headers)),
        text,
        json: parseJson(text)
      }))
    ),
    Effect.mapError((error): HttpFailure => ({ _tag: "HttpNetwork", cause: failureCause(error) })),
    Effect.timeoutOrElse({
      duration: req.timeout,
      orElse: () => Effect.fail<HttpFailure>({ _tag: "HttpTimeout" })
    }),
    Effect.provideService(UrlParams.CurrentRedactedNames, allQueryNames)
  )
  return Effect.flatMap(
    Effect.service(HttpHeaders.CurrentRedactedNames),
    (names) => Effect.provideService(run, HttpHeaders.CurrentRedactedNames, [...names, ...sentNames])
  )
}

/**
 * Reads a `Retry-After` header (delta seconds or an HTTP date) as milliseconds.
 *
 * @internal
 */
export const retryAfterMillis = (headers: Headers, now: number): number | undefined => {
  const value = headers.get("retry-after")
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/**
 * `application/x-www-form-urlencoded` body, keeping the given order.
 *
 * @internal
 */
export const formEncode = (params: ReadonlyArray<readonly [string, string]>): string => {
  const search = new URLSearchParams()
  for (const [key, value] of params) search.append(key, value)
  return search.toString()
}

/** @internal */
export const basicAuth = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`

/** @internal */
export const hmac = (
  algorithm: string,
  key: string,
  data: string,
  encoding: "base64" | "hex"
): string => cryptoModule().createHmac(algorithm, key).update(data, "utf8").digest(encoding)

/** @internal */
export const hash = (algorithm: string, data: string, encoding: "base64" | "hex"): string =>
  cryptoModule().createHash(algorithm).update(data, "utf8").digest(encoding)

/**
 * Compares two strings in constant time (for their common length).
 *
 * @internal
 */
export const safeEqual = (a: string, b: string): boolean =>
  equalBytes(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))

/** @internal */
export const randomNonce = (): string => cryptoModule().randomUUID()

/**
 * Reads a value at a dotted path (`data.messages.0.id`) of a JSON value.
 *
 * @internal
 */
export const getPath = (value: unknown, path: string): unknown => {
  let current: unknown = value
  for (const key of path.split(".")) {
    if (key === "") continue
    if (current === null || typeof current !== "object") return undefined
    if (Array.isArray(current)) {
      const index = Number(key)
      if (!Number.isInteger(index)) return undefined
      current = current[index]
    } else {
      current = (current as Record<string, unknown>)[key]
    }
  }
  return current
}

/**
 * Turns a primitive JSON value into a string, anything else into `undefined`.
 *
 * @internal
 */
export const asString = (value: unknown): string | undefined =>
  typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : undefined

/**
 * Webhook parameters as strings: a form / query record, or a parsed JSON object.
 *
 * @internal
 */
export const stringParams = (input: unknown): Record<string, string> | undefined => {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return undefined
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    const s = Array.isArray(value) ? asString(value[0]) : asString(value)
    if (s !== undefined) out[key] = s
  }
  return out
}
