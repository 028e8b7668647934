/**
 * BCP 47 locale handling for templates: case canonicalisation and the
 * fallback chain (`zh-Hant-TW → zh-Hant → zh → default`).
 *
 * Not exported from the package.
 */

/** The locale key every chain ends with. */
export const DEFAULT_LOCALE = "default"

const ALPHANUM = /^[A-Za-z0-9]{1,8}$/
const LANGUAGE = /^[A-Za-z]{2,8}$/

/**
 * Canonical case of a BCP 47 tag: language lower case, script title case,
 * region upper case, every other subtag lower case. `_` is read as `-`.
 * Returns `undefined` for a malformed tag. `"default"` (any case) stays
 * `"default"`.
 */
export const canonicalLocale = (tag: string): string | undefined => {
  const trimmed = tag.trim()
  if (trimmed.toLowerCase() === DEFAULT_LOCALE) return DEFAULT_LOCALE
  if (trimmed.length === 0 || trimmed.length > 64) return undefined
  const subtags = trimmed.split(/[-_]/)
  const first = subtags[0]
  if (first === undefined || !LANGUAGE.test(first)) return undefined
  const out: Array<string> = [first.toLowerCase()]
  let singleton = false
  for (let i = 1; i < subtags.length; i++) {
    const subtag = subtags[i]!
    if (!ALPHANUM.test(subtag)) return undefined
    if (singleton) {
      out.push(subtag.toLowerCase())
    } else if (subtag.length === 1) {
      singleton = true
      out.push(subtag.toLowerCase())
    } else if (subtag.length === 4 && /^[A-Za-z]{4}$/.test(subtag) && i === 1) {
      out.push(subtag[0]!.toUpperCase() + subtag.slice(1).toLowerCase())
    } else if ((subtag.length === 2 && /^[A-Za-z]{2}$/.test(subtag)) || /^[0-9]{3}$/.test(subtag)) {
      out.push(subtag.toUpperCase())
    } else {
      out.push(subtag.toLowerCase())
    }
  }
  return out.join("-")
}

/**
 * The locales to try, most specific first, ending with `"default"`.
 *
 * Extensions and private-use parts (`-u-…`, `-x-…`) are dropped before
 * truncating; a malformed or absent tag yields `["default"]`.
 */
export const fallbackChain = (tag: string | undefined): ReadonlyArray<string> => {
  if (tag === undefined) return [DEFAULT_LOCALE]
  const canonical = canonicalLocale(tag)
  if (canonical === undefined || canonical === DEFAULT_LOCALE) return [DEFAULT_LOCALE]
  const subtags = canonical.split("-")
  const singleton = subtags.findIndex((subtag) => subtag.length === 1)
  const base = singleton === -1 ? subtags : subtags.slice(0, singleton)
  const chain: Array<string> = []
  if (singleton !== -1) chain.push(canonical)
  for (let n = base.length; n > 0; n--) chain.push(base.slice(0, n).join("-"))
  chain.push(DEFAULT_LOCALE)
  return chain
}
