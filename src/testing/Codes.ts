/**
 * Pulls a verification code out of the text a person received, as a test's
 * fake phone would.
 *
 * @since 0.1.0
 */

/**
 * The code in a received text: the first standalone run of `length` digits
 * (4 to 10 when no length is given). Digits joined to letters or other digits,
 * such as order numbers, are not a code.
 *
 * **Example** (Reading the code a sign-up sent)
 * ```ts
 * import { Codes } from "smsforge/testing"
 *
 * Codes.extract("Your code is 482913. It expires in 10 minutes.")
 * // => "482913"
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const extract = (text: string, options?: { readonly length?: number | undefined }): string | undefined => {
  const length = options?.length
  const digits = length === undefined ? "\\d{4,10}" : `\\d{${Math.max(1, Math.floor(length))}}`
  // Codes are sometimes grouped for reading ("482 913", "482-913").
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(${digits}|\\d{3}[ -]\\d{3})(?![\\p{L}\\p{N}])`, "u")
  const found = pattern.exec(text)?.[1]
  if (found === undefined) return undefined
  const code = found.replace(/[ -]/g, "")
  return length === undefined || code.length === length ? code : undefined
}
