import { cryptoModule } from "./lazy.ts"

/**
 * Compares two byte strings in constant time. Different lengths are a
 * mismatch that still spends the time of one comparison.
 */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) {
    cryptoModule().timingSafeEqual(a, a)
    return false
  }
  return cryptoModule().timingSafeEqual(a, b)
}
