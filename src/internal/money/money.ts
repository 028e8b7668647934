/**
 * Exact money: an amount in millionths (micro-units) of a currency's major
 * unit, as a `bigint`, with its ISO 4217 code.
 *
 * Why micro-units: carrier price sheets publish per-message prices with up to
 * five or six decimals (`0.0075` USD, `0.00645` EUR), which integer minor
 * units (cents) cannot hold. A fixed scale of 10⁻⁶, the same for every
 * currency, keeps sums plain integer additions, needs no table of minor-unit
 * exponents (JPY 0, USD 2, KWD 3), and is what the Redis and PostgreSQL budget
 * stores add atomically (`INCRBY`, `bigint`).
 *
 * Plain data, no class: the transports bundle their own copy of this file,
 * and a value built there must be the same as one built here.
 *
 * @internal
 */

/**
 * An exact amount of money. `toJSON` gives `{ amount: "0.0075", currency: "USD" }`,
 * so events and errors that carry one stay JSON-serialisable.
 */
export interface Money {
  readonly currency: string
  /** Millionths of the currency's major unit: `0.0075` USD is `7500n`. */
  readonly micros: bigint
}

/** The JSON form of {@link Money}. */
export interface MoneyJson {
  readonly amount: string
  readonly currency: string
}

/** Micro-units per major unit. */
export const SCALE = 1_000_000n

/** The most decimal places an amount may have. */
export const MAX_DECIMALS = 6

const decimalPattern = /^(-)?(\d+)(?:\.(\d+))?$/

function toJSON(this: Money): MoneyJson {
  return { amount: formatMicros(this.micros), currency: this.currency }
}

/** Builds a money value (frozen, with a non-enumerable `toJSON`). */
export const make = (micros: bigint, currency: string): Money => {
  const money = { currency, micros }
  Object.defineProperty(money, "toJSON", { value: toJSON, enumerable: false })
  return Object.freeze(money)
}

/**
 * Parses a plain decimal (`"0.0075"`, `"-1.5"`, `"12"`) into micro-units;
 * `undefined` for anything else, or for more than {@link MAX_DECIMALS} places.
 */
export const parseMicros = (text: string, options?: { readonly truncate?: boolean }): bigint | undefined => {
  const match = decimalPattern.exec(text)
  if (match === null) return undefined
  const [, sign, whole = "0", fraction = ""] = match
  if (fraction.length > MAX_DECIMALS && options?.truncate !== true) {
    // trailing zeros past the sixth place change nothing: "0.00750000" is fine
    if (!/^0*$/.test(fraction.slice(MAX_DECIMALS))) return undefined
  }
  const micros = BigInt(whole) * SCALE + BigInt(fraction.slice(0, MAX_DECIMALS).padEnd(MAX_DECIMALS, "0"))
  return sign === "-" ? -micros : micros
}

/** The shortest plain decimal for an amount: `7500n` → `"0.0075"`, `2_000_000n` → `"2"`. */
export const formatMicros = (micros: bigint): string => {
  const negative = micros < 0n
  const abs = negative ? -micros : micros
  const whole = abs / SCALE
  const fraction = (abs % SCALE).toString().padStart(MAX_DECIMALS, "0").replace(/0+$/, "")
  return `${negative ? "-" : ""}${whole}${fraction === "" ? "" : `.${fraction}`}`
}

/** A money value from a decimal text, or `undefined` when the text is not one. */
export const fromDecimal = (amount: string, currency: string): Money | undefined => {
  const micros = parseMicros(amount)
  return micros === undefined ? undefined : make(micros, currency)
}

/** `"0.0075 USD"`. */
export const format = (money: Money): string => `${formatMicros(money.micros)} ${money.currency}`

/** The JSON form. */
export const toJson = (money: Money): MoneyJson => ({ amount: formatMicros(money.micros), currency: money.currency })

export const isCurrency = (code: string): boolean => /^[A-Z]{3}$/.test(code)

/**
 * Micro-units of a decimal that may carry an exponent (`1.5E-3`, as a JSON
 * number may); `undefined` past six decimal places (or, with `truncate`,
 * cut toward zero there: balances, unlike prices, may be read to the
 * micro-unit) or for anything else.
 */
export const parseDecimalMicros = (text: string, options?: { readonly truncate?: boolean }): bigint | undefined => {
  const match = /^(-?\d+(?:\.\d+)?)[eE]([+-]?\d+)$/.exec(text.trim())
  if (match === null) return parseMicros(text.trim(), options)
  const exponent = Number(match[2])
  const base = parseMicros(match[1] ?? "", options)
  if (base !== undefined && exponent >= 0 && exponent <= 30) return base * 10n ** BigInt(exponent)
  // a negative exponent: shift the digits, then read as a plain decimal
  const [whole = "", fraction = ""] = (match[1] ?? "").replace("-", "").split(".")
  const digits = whole + fraction
  const point = whole.length + exponent
  if (exponent < -30) return undefined
  const unsigned = point <= 0 ? `0.${"0".repeat(-point)}${digits}` : `${digits.slice(0, point)}.${digits.slice(point)}`
  return parseMicros(`${(match[1] ?? "").startsWith("-") ? "-" : ""}${unsigned.replace(/\.$/, "")}`, options)
}

/**
 * The literal text of the first number at `"key":` in a JSON text: carriers
 * send balances as JSON numbers, and `JSON.parse` would round them to a double.
 */
export const jsonNumberLiteral = (text: string, key: string): string | undefined => {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  return new RegExp(`"${escaped}"\\s*:\\s*(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)`).exec(text)?.[1]
}
