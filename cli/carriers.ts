/**
 * Real carriers from the configuration file for `smsforge serve`: Twilio and
 * Vonage, their secrets read from the environment (never the file), and
 * their signed webhooks served at `/webhooks/<name>`.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { Transport } from "smsforge"
import * as Twilio from "smsforge/transports/twilio"
import * as Vonage from "smsforge/transports/vonage"
import type { WebhookClient } from "../console/Server.ts"

/**
 * A Twilio account; the auth token is read from the environment variable
 * `authTokenEnv` (default `TWILIO_AUTH_TOKEN`).
 *
 * @category schemas
 * @since 0.2.0
 */
export const TwilioRoute = Schema.Struct({
  name: Schema.String.check(Schema.isMinLength(1)),
  type: Schema.Literal("twilio"),
  accountSid: Schema.String.check(Schema.isPattern(/^AC[0-9a-fA-F]{32}$/)),
  authTokenEnv: Schema.optional(Schema.String),
  from: Schema.optional(Schema.String),
  messagingServiceSid: Schema.optional(Schema.String),
  statusCallback: Schema.optional(Schema.String)
})

/**
 * A Vonage account; the secrets are read from the environment variables
 * `apiSecretEnv` (default `VONAGE_API_SECRET`) and `signatureSecretEnv`
 * (default `VONAGE_SIGNATURE_SECRET`).
 *
 * @category schemas
 * @since 0.2.0
 */
export const VonageRoute = Schema.Struct({
  name: Schema.String.check(Schema.isMinLength(1)),
  type: Schema.Literal("vonage"),
  apiKey: Schema.String.check(Schema.isMinLength(1)),
  apiSecretEnv: Schema.optional(Schema.String),
  signatureSecretEnv: Schema.optional(Schema.String),
  from: Schema.optional(Schema.String),
  callback: Schema.optional(Schema.String)
})

/**
 * @category models
 * @since 0.2.0
 */
export type CarrierRoute = typeof TwilioRoute.Type | typeof VonageRoute.Type

/**
 * A carrier's secret is missing from the environment; `variable` names it.
 *
 * @category errors
 * @since 0.2.0
 */
export class MissingSecret extends Schema.TaggedError<MissingSecret>("smsforge/cli/MissingSecret")("MissingSecret", {
  transport: Schema.String,
  variable: Schema.String
}) {
  override get message(): string {
    return `${this.transport}: set the environment variable ${this.variable}`
  }
}

const secret = (env: NodeJS.ProcessEnv, transport: string, variable: string): Effect.Effect<Redacted.Redacted<string>, MissingSecret> => {
  const value = env[variable]
  return value === undefined || value === "" ? Effect.fail(new MissingSecret({ transport, variable })) : Effect.succeed(Redacted.make(value))
}

const optionalSecret = (env: NodeJS.ProcessEnv, variable: string): Redacted.Redacted<string> | undefined => {
  const value = env[variable]
  return value === undefined || value === "" ? undefined : Redacted.make(value)
}

/**
 * A configured carrier: its transport and its webhook handler.
 *
 * @category models
 * @since 0.2.0
 */
export interface Carrier {
  readonly transport: Effect.Effect<Transport.Transport, unknown>
  readonly webhook: (client: WebhookClient) => (request: Request) => Promise<Response>
}

/**
 * Builds a configured carrier, reading its secrets from the environment.
 *
 * @category constructors
 * @since 0.2.0
 */
export const make = (route: CarrierRoute, env: NodeJS.ProcessEnv = process.env): Effect.Effect<Carrier, MissingSecret> => {
  if (route.type === "twilio") {
    return Effect.map(secret(env, route.name, route.authTokenEnv ?? "TWILIO_AUTH_TOKEN"), (authToken) => ({
      transport: Twilio.make({
        name: route.name,
        accountSid: route.accountSid,
        authToken,
        ...(route.from === undefined ? {} : { from: route.from }),
        ...(route.messagingServiceSid === undefined ? {} : { messagingServiceSid: route.messagingServiceSid }),
        ...(route.statusCallback === undefined ? {} : { statusCallback: route.statusCallback })
      }),
      webhook: (client) => Twilio.webhookHandler({ authToken, client, name: route.name })
    }))
  }
  const signatureSecret = optionalSecret(env, route.signatureSecretEnv ?? "VONAGE_SIGNATURE_SECRET")
  const apiSecret = optionalSecret(env, route.apiSecretEnv ?? "VONAGE_API_SECRET")
  if (signatureSecret === undefined && apiSecret === undefined) {
    return Effect.fail(new MissingSecret({ transport: route.name, variable: route.apiSecretEnv ?? "VONAGE_API_SECRET" }))
  }
  return Effect.succeed({
    transport: Vonage.make({
      name: route.name,
      apiKey: route.apiKey,
      ...(apiSecret === undefined ? {} : { apiSecret }),
      ...(signatureSecret === undefined ? {} : { signatureSecret }),
      ...(route.from === undefined ? {} : { from: route.from }),
      ...(route.callback === undefined ? {} : { callback: route.callback })
    }),
    webhook: (client) => Vonage.webhookHandler({ client, name: route.name, ...(signatureSecret === undefined ? {} : { signatureSecret }) })
  })
}
