import * as Http from "../../../src/internal/http.ts"

/**
 * POP's percent-encoding: RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`)
 * stay, everything else is `%XX` of its UTF-8 bytes, upper-case hex; so a space
 * is `%20` (never `+`), `*` is `%2A` and `~` stays.
 */
export const percentEncode = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** The sorted, encoded `k=v&k=v` query every signature covers. */
export const canonicalQuery = (params: Readonly<Record<string, string>>): string =>
  Object.keys(params)
    .filter((key) => key !== "Signature")
    .sort()
    .map((key) => `${percentEncode(key)}=${percentEncode(params[key] ?? "")}`)
    .join("&")

/** `METHOD&%2F&percentEncode(canonicalQuery)`. */
export const stringToSign = (method: string, params: Readonly<Record<string, string>>): string =>
  `${method}&${percentEncode("/")}&${percentEncode(canonicalQuery(params))}`

/** Signature v1: base64 HMAC-SHA1 keyed by `AccessKeySecret + "&"`. */
export const signature = (method: string, secret: string, params: Readonly<Record<string, string>>): string =>
  Http.hmac("sha1", `${secret}&`, stringToSign(method, params), "base64")

/** `2026-01-02T03:04:05Z`, as POP's `Timestamp` wants it (UTC, no milliseconds). */
export const timestamp = (millis: number): string => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")
