/**
 * The Twilio account's balance, from the Balance resource
 * (`GET /2010-04-01/Accounts/{AccountSid}/Balance.json`).
 *
 * **Details**
 * - Authenticates as the transport does (the API key when given, else the
 *   account SID and auth token) and sends with the same `HttpClient`.
 * - Twilio answers the balance as a decimal string in the account's currency
 *   (`{ "balance": "12.3456", "currency": "USD" }`); it is read exactly.
 *
 * **Gotchas**
 * - Subaccounts have no balance of their own: query the main account.
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
import type { TwilioConfig } from "./TwilioTransport.ts"

/**
 * An exact amount: micro-units of the currency's major unit.
 *
 * @category models
 * @since 0.1.0
 */
export type Money = M.Money

const authorization = (config: TwilioConfig, name: string): Effect.Effect<Redacted.Redacted<string>, InvalidConfig> => {
  if (typeof config.accountSid !== "string" || config.accountSid === "") {
    return Effect.fail(new InvalidConfig({ transport: name, field: "accountSid", problem: "not a non-empty string" }))
  }
  if (config.apiKey !== undefined) {
    const secret = toRedacted(config.apiKey.secret)
    if (secret === undefined) return Effect.fail(invalidSecret(name, "apiKey.secret"))
    return Effect.succeed(Redacted.make(Http.basicAuth(config.apiKey.sid, Redacted.value(secret))))
  }
  const token = toRedacted(config.authToken)
  if (token === undefined) return Effect.fail(invalidSecret(name, "authToken"))
  return Effect.succeed(Redacted.make(Http.basicAuth(config.accountSid, Redacted.value(token))))
}

const fail = (name: string, reason: Transport.TransportErrorReason) =>
  Effect.fail(new Transport.TransportError({ transport: name, reason }))

/**
 * Queries the account's balance.
 *
 * **Details**
 * - Fails with `TransportError` whose reason classifies Twilio's answer as a
 *   submission's would (`AuthenticationFailed`, `Throttled`, `Unavailable`,
 *   `Timeout`), or `Unavailable` with code `smsforge/MalformedAnswer` when
 *   the answer holds no readable balance; with `InvalidConfig` naming a bad
 *   credential field. No error shows a credential.
 *
 * @category balance
 * @since 0.1.0
 */
export const balance = (config: TwilioConfig): Effect.Effect<Money, Transport.TransportError | InvalidConfig> =>
  Effect.gen(function*() {
    const name = config.name ?? "twilio"
    const auth = yield* authorization(config, name)
    const client = yield* Http.client
    const baseUrl = (config.baseUrl ?? "https://api.twilio.com").replace(/\/+$/, "")
    const response = yield* Http.request(client, {
      method: "GET",
      url: `${baseUrl}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Balance.json`,
      headers: { authorization: Redacted.value(auth), accept: "application/json" },
      timeout: config.timeout ?? Duration.seconds(10)
    }).pipe(
      Effect.catch((failure) =>
        fail(name, reasonOfHttpFailure(failure))
      )
    )
    if (response.status < 200 || response.status >= 300) {
      const code = Http.getPath(response.json, "code")
      const now = yield* Clock.currentTimeMillis
      return yield* fail(name, classify(response.status, typeof code === "number" ? code : undefined, Http.retryAfterMillis(response.headers, now)))
    }
    const amount = Http.getPath(response.json, "balance")
    const currency = Http.getPath(response.json, "currency")
    const micros = typeof amount === "string" ? M.parseDecimalMicros(amount, { truncate: true }) : undefined
    if (micros === undefined || typeof currency !== "string" || !M.isCurrency(currency.toUpperCase())) {
      return yield* fail(name, new Transport.Unavailable({ code: "smsforge/MalformedAnswer" }))
    }
    return M.make(micros, currency.toUpperCase())
  })
