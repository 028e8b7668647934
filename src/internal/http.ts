/**
 * Small HTTP and signing helpers shared by the HTTP carrier transports.
 * Never exported from the package; depends only on `effect` and `node:crypto`.
 *
 * @internal
 */
import * as Crypto from "node:crypto"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { equalBytes } from "./constantTime.ts"

/** @internal */
export interface HttpRequest {
  readonly method: string
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
 * Runs one request with Node's global `fetch`. Interrupting the effect (as the
 * timeout does) aborts the request.
 *
 * @internal
 */
export const request = (req: HttpRequest): Effect.Effect<HttpResponse, HttpFailure> =>
  Effect.tryPromise({
    try: async (signal) => {
      const init: RequestInit = { method: req.method, signal, redirect: "manual" }
      if (req.headers !== undefined) init.headers = { ...req.headers }
      if (req.body !== undefined) init.body = req.body
      const response = await fetch(req.url, init)
      const text = await response.text()
      return { status: response.status, headers: response.headers, text, json: parseJson(text) }
    },
    catch: (cause): HttpFailure => ({ _tag: "HttpNetwork", cause })
  }).pipe(
    Effect.timeoutOrElse({
      duration: req.timeout,
      orElse: () => Effect.fail<HttpFailure>({ _tag: "HttpTimeout" })
    })
  )

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
): string => Crypto.createHmac(algorithm, key).update(data, "utf8").digest(encoding)

/** @internal */
export const hash = (algorithm: string, data: string, encoding: "base64" | "hex"): string =>
  Crypto.createHash(algorithm).update(data, "utf8").digest(encoding)

/**
 * Compares two strings in constant time (for their common length).
 *
 * @internal
 */
export const safeEqual = (a: string, b: string): boolean =>
  equalBytes(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))

/** @internal */
export const randomNonce = (): string => Crypto.randomUUID()

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
