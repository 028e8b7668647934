/**
 * Dependencies loaded at first use instead of at import. libphonenumber-js
 * and otplib are runtime dependencies (so `npm update` brings new number
 * metadata); loading them at import was most of `import "smsforge"`'s cold
 * cost, and not every program parses a number or makes a code. Synchronous,
 * because `PhoneNumbers.parse` and the code functions are.
 *
 * @internal
 */
import { createRequire } from "node:module"

/** Node's `require`, here for the dependencies' CommonJS builds. @internal */
export const nodeRequire = createRequire(import.meta.url)

/** `make()` once, on the first call. @internal */
export const once = <A>(make: () => A): (() => A) => {
  let made: { readonly value: A } | undefined
  return () => (made ??= { value: make() }).value
}
