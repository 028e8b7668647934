import * as Http from "../../../src/internal/http.ts"

/** Vonage's signing methods; see `SignatureMethod` in VonageTransport.ts. */
export type SignatureMethod = "md5hash" | "md5" | "sha1" | "sha256" | "sha512"

/**
 * Vonage's request / webhook signature: the parameters other than `sig`,
 * sorted by name, as `&name=value` with `&` and `=` in values replaced by `_`;
 * then `md5(string + secret)` or `HMAC(secret, string)`, hex.
 */
export const sign = (
  method: SignatureMethod,
  secret: string,
  params: Readonly<Record<string, string>>
): string => {
  let data = ""
  for (const key of Object.keys(params).sort()) {
    if (key === "sig") continue
    data += `&${key}=${(params[key] ?? "").replace(/[&=]/g, "_")}`
  }
  return method === "md5hash"
    ? Http.hash("md5", data + secret, "hex")
    : Http.hmac(method, secret, data, "hex")
}
