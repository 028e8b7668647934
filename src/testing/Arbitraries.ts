/**
 * fast-check arbitraries for tests of code that sends SMS: valid phone
 * numbers by country and type, GSM-7 and UCS-2 texts, and send requests.
 *
 * **Details**
 * Phone numbers come from libphonenumber-js's example numbers with their
 * trailing digits varied, each checked valid and of the asked type, so every
 * country libphonenumber knows is covered without a hand-kept list. fast-check
 * is an optional peer dependency of smsforge: install it to use this module.
 *
 * **Example** (Any valid UK or German mobile number)
 * ```ts
 * import * as fc from "fast-check"
 * import { Arbitraries } from "smsforge/testing/arbitraries"
 *
 * fc.sample(Arbitraries.phoneNumber({ countries: ["GB", "DE"] }), 3)
 * ```
 *
 * @since 0.1.0
 */
import * as fc from "fast-check"
import { e164, phoneNumber } from "./internal/phoneArbitraries.ts"
import { gsm7Text, ucs2Text } from "./internal/textArbitraries.ts"

export {
  e164,
  exampleNumber,
  type GeneratedNumberType,
  type GeneratedPhoneNumber,
  malformedPhoneInput,
  phoneCountries,
  phoneNumber
} from "./internal/phoneArbitraries.ts"
export { gsm7ExtendedText, gsm7Text, ucs2Text } from "./internal/textArbitraries.ts"

/**
 * A valid plain-text send request: a real number in E.164 or national format,
 * GSM-7 or UCS-2 text, and the optional fields a caller may set.
 *
 * @category arbitraries
 * @since 0.1.0
 */
export const sendRequest = (options?: {
  readonly countries?: ReadonlyArray<string> | undefined
}): fc.Arbitrary<{
  readonly to: string
  readonly text: string
  readonly purpose?: "transactional" | "marketing"
  readonly idempotencyKey?: string
}> =>
  fc.record(
    {
      to: options?.countries === undefined ? e164 : phoneNumber({ countries: options.countries }).map((n) => n.e164),
      text: fc.oneof(gsm7Text, ucs2Text).filter((text) => text.length > 0),
      purpose: fc.constantFrom("transactional" as const, "marketing" as const),
      idempotencyKey: fc.uuid()
    },
    { requiredKeys: ["to", "text"] }
  )
