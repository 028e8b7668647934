/**
 * The Alibaba Cloud account's balance.
 *
 * **Details**
 * - Alibaba Cloud SMS (dysmsapi) has no balance action: SMS is paid from the
 *   account's balance (or from resource packages, counted in messages, which
 *   no API reports as money). The balance comes from the billing API,
 *   BssOpenApi `QueryAccountBalance` (version 2017-12-14, host
 *   `business.aliyuncs.com`; `business.ap-southeast-1.aliyuncs.com` for
 *   international accounts), signed like `SendSms` (POP signature v1) with
 *   the transport's AccessKey.
 * - The answer's `Data.AvailableAmount` (a decimal string) in
 *   `Data.Currency` (`CNY`, `USD`, `JPY`) is the balance, read exactly.
 *
 * **Gotchas**
 * - The AccessKey's RAM user needs the billing read permission
 *   (`bss:DescribeAcccount`), which the SMS permission does not include;
 *   without it the query fails with `AuthenticationFailed` (`NotAuthorized`).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Transport } from "smsforge"
import * as Http from "../../src/internal/http.ts"
import { reasonOfHttpFailure } from "../internal/httpFailure.ts"
import * as M from "../../src/internal/money/money.ts"
import { InvalidConfig, invalidSecret, toRedacted } from "../internal/secret.ts"
import type { AliyunConfig } from "./AliyunTransport.ts"
import { signedQuery } from "./AliyunTransport.ts"
import { classify } from "./internal/classify.ts"
import * as Pop from "./internal/pop.ts"

/**
 * An exact amount: micro-units of the currency's major unit.
 *
 * @category models
 * @since 0.1.0
 */
export type Money = M.Money

/**
 * Where the billing API is, default `https://business.aliyuncs.com`.
 *
 * @category models
 * @since 0.1.0
 */
export interface AliyunBalanceOptions {
  readonly baseUrl?: string | undefined
}

const fail = (name: string, reason: Transport.TransportErrorReason) =>
  Effect.fail(new Transport.TransportError({ transport: name, reason }))

/** Billing codes for a key that may not read the balance. */
const notAllowed = new Set(["NotAuthorized", "NotApplicable", "Forbidden"])

/**
 * Queries the account's available balance.
 *
 * **Details**
 * - Fails with `TransportError` (codes classified as for `SendSms`, plus
 *   `NotAuthorized`/`NotApplicable` → `AuthenticationFailed`; `Unavailable`
 *   with code `smsforge/MalformedAnswer` when no balance can be read), or with
 *   `InvalidConfig` naming the credential field. No error shows a secret.
 *
 * @category balance
 * @since 0.1.0
 */
export const balance = (
  config: AliyunConfig,
  options: AliyunBalanceOptions = {}
): Effect.Effect<Money, Transport.TransportError | InvalidConfig> =>
  Effect.gen(function*() {
    const name = config.name ?? "aliyun"
    if (typeof config.accessKeyId !== "string" || config.accessKeyId === "") {
      return yield* Effect.fail(new InvalidConfig({ transport: name, field: "accessKeyId", problem: "not a non-empty string" }))
    }
    const secret = toRedacted(config.accessKeySecret)
    if (secret === undefined) return yield* Effect.fail(invalidSecret(name, "accessKeySecret"))
    const client = yield* Http.client
    const now = yield* Clock.currentTimeMillis
    const params: Record<string, string> = {
      AccessKeyId: config.accessKeyId,
      Action: "QueryAccountBalance",
      Format: "JSON",
      SignatureMethod: "HMAC-SHA1",
      SignatureNonce: Http.randomNonce(),
      SignatureVersion: "1.0",
      Timestamp: Pop.timestamp(now),
      Version: "2017-12-14"
    }
    const baseUrl = (options.baseUrl ?? "https://business.aliyuncs.com").replace(/\/+$/, "")
    const response = yield* Http.request(client, {
      method: "GET",
      url: `${baseUrl}/?${signedQuery("GET", secret, params)}`,
      headers: { accept: "application/json" },
      timeout: config.timeout ?? Duration.seconds(10)
    }).pipe(
      Effect.catch((failure) =>
        fail(name, reasonOfHttpFailure(failure))
      )
    )
    const code = Http.asString(Http.getPath(response.json, "Code"))
    const ok = response.status >= 200 && response.status < 300 && Http.getPath(response.json, "Success") === true
    if (!ok) {
      if (code !== undefined && notAllowed.has(code)) return yield* fail(name, new Transport.AuthenticationFailed({ code }))
      return yield* fail(name, classify(response.status, code === "200" ? undefined : code))
    }
    const amount = Http.asString(Http.getPath(response.json, "Data.AvailableAmount"))
    const currency = Http.asString(Http.getPath(response.json, "Data.Currency"))
    // thousands separators appear in some console-facing answers
    const micros = amount === undefined ? undefined : M.parseDecimalMicros(amount.replaceAll(",", ""), { truncate: true })
    if (micros === undefined || currency === undefined || !M.isCurrency(currency)) {
      return yield* fail(name, new Transport.Unavailable({ code: "smsforge/MalformedAnswer" }))
    }
    return M.make(micros, currency)
  })
