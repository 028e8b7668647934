/**
 * TC3-HMAC-SHA256, Tencent Cloud API 3.0's request signature, for a JSON
 * `POST /` signing `content-type` and `host`.
 *
 * Steps, as https://www.tencentcloud.com/document/product/382/40467 gives them:
 * canonical request → string to sign (`TC3-HMAC-SHA256\n<timestamp>\n<date>/<service>/tc3_request\n<sha256 hex>`)
 * → derived key (HMAC chain from `"TC3" + SecretKey` over date, service,
 * `"tc3_request"`) → hex HMAC of the string to sign.
 *
 * @internal
 */
import * as Crypto from "node:crypto"

/** The content type every request carries and signs. */
export const contentType = "application/json; charset=utf-8"

/** The headers every signature covers, in canonical order. */
export const signedHeaders = "content-type;host"

const sha256Hex = (data: string): string => Crypto.createHash("sha256").update(data, "utf8").digest("hex")

const hmac = (key: string | Buffer, data: string): Buffer => Crypto.createHmac("sha256", key).update(data, "utf8").digest()

/** `2019-02-25`: the UTC date of a Unix timestamp in seconds. */
export const date = (timestamp: number): string => new Date(timestamp * 1000).toISOString().slice(0, 10)

/** `POST\n/\n\ncontent-type:…\nhost:…\n\ncontent-type;host\n<sha256 hex of the body>`. */
export const canonicalRequest = (host: string, payload: string): string =>
  ["POST", "/", "", `content-type:${contentType}`, `host:${host.toLowerCase()}`, "", signedHeaders, sha256Hex(payload)].join("\n")

/** The credential scope: `<date>/<service>/tc3_request`. */
export const credentialScope = (timestamp: number, service: string): string => `${date(timestamp)}/${service}/tc3_request`

/** `TC3-HMAC-SHA256\n<timestamp>\n<scope>\n<sha256 hex of the canonical request>`. */
export const stringToSign = (timestamp: number, service: string, canonical: string): string =>
  ["TC3-HMAC-SHA256", String(timestamp), credentialScope(timestamp, service), sha256Hex(canonical)].join("\n")

/** The hex signature of a string to sign. */
export const signature = (secretKey: string, timestamp: number, service: string, toSign: string): string => {
  const secretDate = hmac(`TC3${secretKey}`, date(timestamp))
  const secretService = hmac(secretDate, service)
  const secretSigning = hmac(secretService, "tc3_request")
  return Crypto.createHmac("sha256", secretSigning).update(toSign, "utf8").digest("hex")
}

/** The `Authorization` header for a JSON `POST /` to `host` with this body. */
export const authorization = (options: {
  readonly secretId: string
  readonly secretKey: string
  readonly service: string
  readonly host: string
  readonly timestamp: number
  readonly payload: string
}): string => {
  const toSign = stringToSign(options.timestamp, options.service, canonicalRequest(options.host, options.payload))
  return `TC3-HMAC-SHA256 Credential=${options.secretId}/${credentialScope(options.timestamp, options.service)}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature(options.secretKey, options.timestamp, options.service, toSign)}`
}
