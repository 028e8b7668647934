/**
 * The Vonage account's balance, from the Account API
 * (`GET https://rest.nexmo.com/account/get-balance`).
 *
 * **Details**
 * - Authenticates with HTTP Basic (`api_key:api_secret`), so no secret goes
 *   into the URL; sends with the transport's `HttpClient`.
 * - Vonage answers the balance in EUR as a JSON number
 *   (`{ "value": 10.28, "autoReload": false }`); the number is read from the
 *   answer's text, digit for digit, never through a double.
 *
 * **Gotchas**
 * - The Account API takes no request signature: the config needs
 *   `apiSecret` even when the transport signs its messages with
 *   `signatureSecret`.
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
import { classifyHttp } from "./internal/classify.ts"
import type { VonageConfig } from "./VonageTransport.ts"

/**
 * An exact amount: micro-units of the currency's major unit.
 *
 * @category models
 * @since 0.1.0
 */
export type Money = M.Money

const fail = (name: string, reason: Transport.TransportErrorReason) =>
  Effect.fail(new Transport.TransportError({ transport: name, reason }))

const authorization = (config: VonageConfig, name: string): Effect.Effect<Redacted.Redacted<string>, InvalidConfig> => {
  if (typeof config.apiKey !== "string" || config.apiKey === "") {
    return Effect.fail(new InvalidConfig({ transport: name, field: "apiKey", problem: "not a non-empty string" }))
  }
  if (config.apiSecret === undefined) {
    return Effect.fail(new InvalidConfig({ transport: name, field: "apiSecret", problem: "missing (the Account API needs it)" }))
  }
  const secret = toRedacted(config.apiSecret)
  if (secret === undefined) return Effect.fail(invalidSecret(name, "apiSecret"))
  return Effect.succeed(Redacted.make(Http.basicAuth(config.apiKey, Redacted.value(secret))))
}

/**
 * Queries the account's balance, in EUR unless `options.currency` says
 * otherwise.
 *
 * **Details**
 * - Fails with `TransportError` (`AuthenticationFailed` on 401, `Throttled`,
 *   `Unavailable`, `Timeout`; `Unavailable` with code
 *   `smsforge/MalformedAnswer` when no balance can be read), or with
 *   `InvalidConfig` naming the credential field. No error shows a secret.
 *
 * @category balance
 * @since 0.1.0
 */
export const balance = (
  config: VonageConfig,
  options: { readonly currency?: string | undefined } = {}
): Effect.Effect<Money, Transport.TransportError | InvalidConfig> =>
  Effect.gen(function*() {
    const name = config.name ?? "vonage"
    const auth = yield* authorization(config, name)
    const client = yield* Http.client
    const baseUrl = (config.baseUrl ?? "https://rest.nexmo.com").replace(/\/+$/, "")
    const response = yield* Http.request(client, {
      method: "GET",
      url: `${baseUrl}/account/get-balance`,
      headers: { authorization: Redacted.value(auth), accept: "application/json" },
      timeout: config.timeout ?? Duration.seconds(10)
    }).pipe(
      Effect.catch((failure) =>
        fail(name, reasonOfHttpFailure(failure))
      )
    )
    if (response.status < 200 || response.status >= 300) {
      const now = yield* Clock.currentTimeMillis
      return yield* fail(name, classifyHttp(response.status, Http.retryAfterMillis(response.headers, now)))
    }
    const literal = M.jsonNumberLiteral(response.text, "value")
    const micros = literal === undefined ? undefined : M.parseDecimalMicros(literal, { truncate: true })
    if (micros === undefined) return yield* fail(name, new Transport.Unavailable({ code: "smsforge/MalformedAnswer" }))
    return M.make(micros, options.currency ?? "EUR")
  })
