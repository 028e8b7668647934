/**
 * The Tencent Cloud account's balance.
 *
 * **Details**
 * - Tencent Cloud SMS has no money balance: its API reports only SMS
 *   packages, counted in messages (`SmsPackagesStatistics`). SMS beyond the
 *   packages is paid from the account, whose balance comes from the billing
 *   API, `DescribeAccountBalance` (version 2018-07-09, host
 *   `billing.tencentcloudapi.com`; `billing.intl.tencentcloudapi.com` for
 *   international accounts), signed like `SendSms` (TC3-HMAC-SHA256) with the
 *   transport's SecretId and SecretKey.
 * - The answer's `RealBalance` is in cents (分) of the account's currency,
 *   which the answer does not name: `CNY` unless `options.currency` says
 *   otherwise (international accounts are billed in `USD`). It is read from
 *   the answer's text, digit for digit, never through a double.
 *
 * **Gotchas**
 * - The key's CAM user needs the billing read permission
 *   (`finance:DescribeAccountBalance`); without it the query fails with
 *   `AuthenticationFailed` (`UnauthorizedOperation…`).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Transport } from "smsforge"
import * as Http from "../../src/internal/http.ts"
import { reasonOfHttpFailure } from "../internal/httpFailure.ts"
import * as M from "../../src/internal/money/money.ts"
import { InvalidConfig, invalidSecret, toRedacted } from "../internal/secret.ts"
import { classify } from "./internal/classify.ts"
import * as Tc3 from "./internal/tc3.ts"
import type { TencentConfig } from "./TencentTransport.ts"

/**
 * An exact amount: micro-units of the currency's major unit.
 *
 * @category models
 * @since 0.1.0
 */
export type Money = M.Money

/**
 * Where the billing API is (default `https://billing.tencentcloudapi.com`)
 * and the account's currency (default `CNY`).
 *
 * @category models
 * @since 0.1.0
 */
export interface TencentBalanceOptions {
  readonly baseUrl?: string | undefined
  readonly currency?: string | undefined
}

const fail = (name: string, reason: Transport.TransportErrorReason) =>
  Effect.fail(new Transport.TransportError({ transport: name, reason }))

/** Cents as a decimal literal → micro-units of the major unit (to the micro-unit, toward zero). */
const fromCents = (literal: string | undefined): bigint | undefined => {
  const centMicros = literal === undefined ? undefined : M.parseDecimalMicros(literal, { truncate: true })
  return centMicros === undefined ? undefined : centMicros / 100n
}

/**
 * Queries the account's available balance.
 *
 * **Details**
 * - Fails with `TransportError` (codes classified as for `SendSms`:
 *   `AuthFailure…`/`UnauthorizedOperation…` → `AuthenticationFailed`,
 *   `RequestLimitExceeded` → `Throttled`; `Unavailable` with code
 *   `smsforge/MalformedAnswer` when no balance can be read), or with
 *   `InvalidConfig` naming the credential field. No error shows a secret.
 *
 * @category balance
 * @since 0.1.0
 */
export const balance = (
  config: TencentConfig,
  options: TencentBalanceOptions = {}
): Effect.Effect<Money, Transport.TransportError | InvalidConfig> =>
  Effect.gen(function*() {
    const name = config.name ?? "tencent"
    if (typeof config.secretId !== "string" || config.secretId === "") {
      return yield* Effect.fail(new InvalidConfig({ transport: name, field: "secretId", problem: "not a non-empty string" }))
    }
    const secretKey = toRedacted(config.secretKey)
    if (secretKey === undefined) return yield* Effect.fail(invalidSecret(name, "secretKey"))
    let url: URL
    try {
      url = new URL(options.baseUrl ?? "https://billing.tencentcloudapi.com")
    } catch {
      return yield* Effect.fail(new InvalidConfig({ transport: name, field: "balance.baseUrl", problem: "not a URL" }))
    }
    const client = yield* Http.client
    const timestamp = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const payload = "{}"
    const authorization = Tc3.authorization({
      secretId: config.secretId,
      secretKey: Redacted.value(secretKey),
      service: "billing",
      host: url.host,
      timestamp,
      payload
    })
    const response = yield* Http.request(client, {
      method: "POST",
      url: `${url.origin}/`,
      headers: {
        authorization,
        "content-type": Tc3.contentType,
        "x-tc-action": "DescribeAccountBalance",
        "x-tc-version": "2018-07-09",
        "x-tc-timestamp": String(timestamp)
      },
      body: payload,
      timeout: config.timeout ?? Duration.seconds(10)
    }).pipe(
      Effect.catch((failure) =>
        fail(name, reasonOfHttpFailure(failure))
      )
    )
    const errorCode = Http.asString(Http.getPath(response.json, "Response.Error.Code"))
    if (errorCode !== undefined || response.status < 200 || response.status >= 300) {
      return yield* fail(name, classify(response.status, errorCode))
    }
    const micros = fromCents(M.jsonNumberLiteral(response.text, "RealBalance")) ??
      fromCents(M.jsonNumberLiteral(response.text, "Balance"))
    if (micros === undefined) return yield* fail(name, new Transport.Unavailable({ code: "smsforge/MalformedAnswer" }))
    return M.make(micros, options.currency ?? "CNY")
  })
