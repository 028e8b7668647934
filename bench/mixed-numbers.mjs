// Recipients as users type them, for the phone and pipeline benchmarks: not
// only valid international numbers (the easy case) but a mix, deterministic
// for a seed:
//   about 37 %  valid mobile numbers of every country in international format ("+49 1512 3456789")
//   about 37 %  valid mobile numbers in national format ("01512 3456789"), read with their default country
//   about 26 %  refused: a digit short or long of a valid number, a number in
//               no assigned range, too few digits, text, a national number
//               without a default country
// Every input is distinct, so nothing is answered from a cache.
import examples from "libphonenumber-js/examples.mobile.json"
import { getCountries, getExampleNumber, parsePhoneNumberWithError } from "libphonenumber-js/max"

export const allCountries = getCountries().filter((c) => getExampleNumber(c, examples) !== undefined)

const prng = (seed) => () => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 0x100000000
}

const validity = (input, defaultCountry) => {
  try {
    const parsed = parsePhoneNumberWithError(input, { defaultCountry, extract: false })
    return parsed.isValid() && parsed.getType() === "MOBILE" ? parsed : undefined
  } catch {
    return undefined
  }
}

// A valid mobile number of `country` near its example, or undefined.
const nearExample = (random) => (country) => {
  const example = getExampleNumber(country, examples)
  const tail = String(Math.floor(random() * 10_000)).padStart(4, "0")
  const candidate = `+${example.countryCallingCode}${example.nationalNumber.slice(0, -4)}${tail}`
  return validity(candidate, undefined)
}

/** `count` distinct valid mobile numbers of every country, in international format, none in `taken`. */
export const validInternational = (count, { seed = 0x5eed, countries = allCountries, taken = new Set() } = {}) => {
  const random = prng(seed)
  const near = nearExample(random)
  const out = []
  for (let guard = 0; out.length < count && guard < count * 100; guard++) {
    const parsed = near(countries[Math.floor(random() * countries.length)])
    if (parsed === undefined || taken.has(parsed.number)) continue
    taken.add(parsed.number)
    out.push(parsed.formatInternational())
  }
  if (out.length < count) throw new Error(`only ${out.length} of ${count} valid numbers`)
  return out
}

/**
 * `count` distinct inputs `{ input, defaultCountry, valid }`, none of them in
 * `taken` (which they are added to). `nationalCountries` limits the countries
 * of national-format numbers (a pipeline has one default country). A refused
 * input is not a valid mobile number read with its own default country.
 */
export const mixedNumbers = (count, { seed = 0x2545f491, countries = allCountries, nationalCountries = countries, taken = new Set() } = {}) => {
  const random = prng(seed)
  const pick = (list) => list[Math.floor(random() * list.length)]
  const out = []
  const push = (input, defaultCountry, valid) => {
    const key = `${defaultCountry ?? ""}|${input}`
    if (taken.has(key)) return
    taken.add(key)
    out.push({ input, defaultCountry, valid })
  }
  const near = nearExample(random)
  for (let guard = 0; out.length < count && guard < count * 100; guard++) {
    const roll = random()
    if (roll < 0.35) {
      const parsed = near(pick(countries))
      if (parsed !== undefined) push(parsed.formatInternational(), undefined, true)
    } else if (roll < 0.7) {
      const country = pick(nationalCountries)
      const parsed = near(country)
      if (parsed !== undefined) push(parsed.formatNational(), country, true)
    } else {
      const country = pick(nationalCountries)
      const parsed = near(country)
      if (parsed === undefined) continue
      const digits = parsed.number
      const kind = Math.floor(random() * 6)
      const input = kind === 0
        ? digits.slice(0, -1) // a digit short
        : kind === 1
        ? `${digits}${Math.floor(random() * 10)}` // a digit long
        : kind === 2
        ? `${digits.slice(0, -7)}0000000`.slice(0, digits.length) // in no assigned range, mostly
        : kind === 3
        ? `+${parsed.countryCallingCode}${Math.floor(random() * 100)}` // too few digits
        : kind === 4
        ? `call me ${Math.floor(random() * 1e6)}` // text
        : parsed.formatNational() // national, and no default country
      const defaultCountry = kind === 5 ? undefined : kind === 2 || kind === 3 ? undefined : country
      if (validity(input, defaultCountry) !== undefined) continue
      push(input, defaultCountry, false)
    }
  }
  if (out.length < count) throw new Error(`only ${out.length} of ${count} mixed numbers`)
  return out
}
