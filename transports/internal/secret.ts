/**
 * Secrets in transport config: a plain string or a `Redacted`, held as a
 * `Redacted` from `make` on, so no error, log or JSON ever shows one.
 *
 * @internal
 */
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * A secret as a user writes it: a plain string (from `process.env`, say) or a
 * `Redacted` (from `Config.Redacted`). Strings are wrapped at `make` time.
 *
 * @category models
 * @since 0.1.0
 */
export type Secret = string | Redacted.Redacted<string>

/**
 * A transport's config cannot be used as written; `field` names the key
 * (`authToken`, `apiKey.secret`), never its value.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>("smsforge/transports/InvalidConfig")(
  "InvalidConfig",
  { transport: Schema.String, field: Schema.String, problem: Schema.String }
) {
  override get message(): string {
    return `InvalidConfig: ${this.transport}: ${this.field} is ${this.problem}`
  }
}

/**
 * The secret as a `Redacted`, or `undefined` when it is not a non-empty
 * string, plain or `Redacted`: an empty one is usually an unset environment
 * variable (`process.env.TOKEN ?? ""`), better refused at `make` than at the
 * carrier.
 */
export const toRedacted = (
  value: unknown,
  options?: { readonly allowEmpty?: boolean }
): Redacted.Redacted<string> | undefined => {
  const allowEmpty = options?.allowEmpty === true
  if (typeof value === "string") return value === "" && !allowEmpty ? undefined : Redacted.make(value)
  if (!Redacted.isRedacted(value)) return undefined
  const revealed: unknown = Redacted.value(value)
  return typeof revealed === "string" && (revealed !== "" || allowEmpty) ? value as Redacted.Redacted<string> : undefined
}

/** The error for a secret of the wrong type: it names the field and never shows the value. */
export const invalidSecret = (transport: string, field: string): InvalidConfig =>
  new InvalidConfig({ transport, field, problem: "not a non-empty string or a Redacted string" })

/** The secret's value, for signing at the edge; never for messages or logs. */
export const reveal = (secret: Secret): string => typeof secret === "string" ? secret : Redacted.value(secret)
