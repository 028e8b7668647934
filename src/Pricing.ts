/**
 * Prices per route and destination, exact money, and the cost of a message.
 *
 * **Details**
 * - Money is exact: an amount is a `bigint` of micro-units (millionths of the
 *   currency's major unit), so `0.0075` USD is `7500n` and sums never touch
 *   floating point. Carrier sheets publish up to six decimals; a price with
 *   more is refused, never rounded. See {@link Money}.
 * - A price table holds rows of route × destination country, optionally
 *   narrowed by number type (`mobile`, `toll-free` …) or by network (MCC and
 *   MNC). It comes from config ({@link PriceInput}) or from CSV text in the
 *   column layout carriers publish (`country,mcc,mnc,price,currency`), both
 *   decoded by Schema; a bad row fails with {@link InvalidPriceTable} naming
 *   the row and the column.
 * - {@link costOf} = segments × the best-matching price: the row for the
 *   recipient's network, else its number type, else the country, else the
 *   route's `"*"` row. A country priced only per network, asked without a
 *   network, costs its highest network price (`basis: "highest-network"`), so
 *   a budget check never under-estimates.
 * - {@link rank} orders candidate routes by cost, keeping the caller's order
 *   (health, then priority) between equal costs; {@link cheapest} is its head.
 *
 * **Gotchas**
 * - Costs in different currencies are compared only through the `rates` you
 *   give; without a rate, a route priced in another currency ranks after the
 *   comparable ones (its reason says so).
 * - `segments` must be a non-negative integer (`Encoding.analyze` gives one);
 *   anything else is a defect (`RangeError`), not a typed failure.
 *
 * **Example** (A price table and a cost)
 *
 * ```ts
 * import { Result } from "effect"
 * import { Encoding, Pricing } from "smsforge"
 *
 * const table = Pricing.fromCsv("twilio-us", "country,mcc,mnc,price,currency\nUS,,,0.0079,USD\n")
 * if (Result.isSuccess(table)) {
 *   const segments = Encoding.analyze("Your code is 123456").segments.length
 *   const cost = Pricing.costOf(table.success, { route: "twilio-us", country: "US", segments })
 *   // Result.getOrThrow(cost).total => 0.0079 USD, as { currency: "USD", micros: 7900n }
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { fieldName, firstProblem } from "./internal/issues.ts"
import * as Csv from "./internal/money/csv.ts"
import * as M from "./internal/money/money.ts"
import * as PhoneNumbers from "./PhoneNumbers.ts"

// models

/**
 * An exact amount of money: `micros` are millionths of the currency's major
 * unit (`0.0075` USD is `{ currency: "USD", micros: 7500n }`).
 *
 * **Details**
 * - Why micro-units: carrier prices carry up to six decimals, which cents
 *   cannot hold; one fixed scale for every currency needs no table of
 *   minor-unit exponents, and keeps every sum an exact integer addition (the
 *   Redis and PostgreSQL budget stores add them with `INCRBY` and `bigint`).
 * - Values built here serialise as `{ "amount": "0.0075", "currency": "USD" }`.
 *
 * @category models
 * @since 0.1.0
 */
export type Money = M.Money

/**
 * The JSON form of {@link Money}: a plain decimal and an ISO 4217 code.
 *
 * @category models
 * @since 0.1.0
 */
export type MoneyJson = M.MoneyJson

/**
 * A price row as written in config. `price` is a decimal string (`"0.0075"`),
 * never a float.
 *
 * @category models
 * @since 0.1.0
 */
export interface PriceInput {
  readonly route: string
  /** ISO 3166 alpha-2 (`"GB"`), `"001"` for non-geographic numbers, or `"*"` for every other country. */
  readonly country: string
  readonly numberType?: PhoneNumbers.NumberType | undefined
  /** Mobile country code, three digits. */
  readonly mcc?: string | undefined
  /** Mobile network code, two or three digits; needs `mcc`. */
  readonly mnc?: string | undefined
  /** Per segment, at most six decimals. */
  readonly price: string
  /** ISO 4217 (`"USD"`). */
  readonly currency: string
}

/**
 * A decoded price row.
 *
 * @category models
 * @since 0.1.0
 */
export interface Price {
  readonly route: string
  readonly country: string
  readonly numberType?: PhoneNumbers.NumberType | undefined
  readonly mcc?: string | undefined
  readonly mnc?: string | undefined
  /** Per segment. */
  readonly price: Money
}

/**
 * A decoded, indexed price table. Immutable; build one with
 * {@link fromInput}, {@link fromCsv} or {@link merge}.
 *
 * @category models
 * @since 0.1.0
 */
export interface PriceTable {
  readonly prices: ReadonlyArray<Price>
  /** @internal */
  readonly index: ReadonlyMap<string, ReadonlyArray<Price>>
}

/**
 * The recipient's network, when it is known (from an HLR lookup, say).
 *
 * @category models
 * @since 0.1.0
 */
export interface Network {
  readonly mcc: string
  readonly mnc: string
}

/**
 * What a cost is asked for.
 *
 * @category models
 * @since 0.1.0
 */
export interface CostRequest {
  readonly route: string
  /** ISO 3166 alpha-2 or `"001"`, as `PhoneNumbers.PhoneNumber.country`. */
  readonly country: string
  readonly numberType?: PhoneNumbers.NumberType | undefined
  readonly network?: Network | undefined
  /** A non-negative integer: `Encoding.analyze(text).segments.length`. */
  readonly segments: number
}

/**
 * Which row priced a message.
 *
 * @category models
 * @since 0.1.0
 */
export type PriceBasis = "network" | "number-type" | "country" | "highest-network" | "default"

/**
 * The cost of one message on one route.
 *
 * @category models
 * @since 0.1.0
 */
export interface Cost {
  readonly route: string
  readonly country: string
  readonly segments: number
  /** Per segment. */
  readonly unitPrice: Money
  /** `segments × unitPrice`, exact. */
  readonly total: Money
  readonly basis: PriceBasis
}

/**
 * The candidates of {@link rank}: routes in the caller's order (health, then
 * priority), and optionally exchange rates into one comparison currency.
 *
 * @category models
 * @since 0.1.0
 */
export interface RankRequest extends Omit<CostRequest, "route"> {
  readonly routes: ReadonlyArray<string>
  /**
   * Units of one comparison currency per unit of each currency, as decimal
   * strings (`{ USD: "1", EUR: "1.08" }`). Needed only when candidates are
   * priced in different currencies.
   */
  readonly rates?: Readonly<Record<string, string>> | undefined
}

/**
 * A candidate as {@link rank} ordered it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Ranked {
  readonly route: string
  readonly cost: Cost | undefined
  /** `"cost 0.0158 USD = 0.0079 × 2 segments"`, `"no price"`, `"no rate for EUR"`. */
  readonly reason: string
}

// errors

/**
 * No row prices this route for this destination.
 *
 * @category errors
 * @since 0.1.0
 */
export class PriceNotFound extends Schema.TaggedError<PriceNotFound>("smsforge/Pricing/PriceNotFound")("PriceNotFound", {
  route: Schema.String,
  country: Schema.String,
  numberType: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `PriceNotFound: route ${this.route}, country ${this.country}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A price row cannot be used. `row` is the 1-based line of the CSV text (the
 * header is line 1) or the 1-based position in the config's `prices`;
 * `column` names the column or field.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidPriceTable extends Schema.TaggedError<InvalidPriceTable>("smsforge/Pricing/InvalidPriceTable")(
  "InvalidPriceTable",
  { source: Schema.String, row: Schema.Number, column: Schema.String, problem: Schema.String }
) {
  override get message(): string {
    return `InvalidPriceTable: ${this.source} row ${this.row}, column ${this.column}: ${this.problem}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Two amounts in different currencies were added or compared.
 *
 * @category errors
 * @since 0.1.0
 */
export class CurrencyMismatch extends Schema.TaggedError<CurrencyMismatch>("smsforge/Pricing/CurrencyMismatch")(
  "CurrencyMismatch",
  { expected: Schema.String, actual: Schema.String }
) {
  override get message(): string {
    return `CurrencyMismatch: expected ${this.expected}, got ${this.actual}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * @category errors
 * @since 0.1.0
 */
export const PricingErrorReason = Schema.Union([PriceNotFound, InvalidPriceTable, CurrencyMismatch])

/**
 * @category errors
 * @since 0.1.0
 */
export type PricingErrorReason = typeof PricingErrorReason.Type

/**
 * Why a price, a table or a sum could not be had.
 *
 * @category errors
 * @since 0.1.0
 */
export class PricingError extends Schema.TaggedError<PricingError>("smsforge/PricingError")("PricingError", {
  reason: PricingErrorReason
}) {
  override get message(): string {
    return this.reason.message
  }
  get isRetryable(): boolean {
    return false
  }
}

// money

/**
 * A money value from a decimal string (`"0.0075"`, `"-3.2"`), or `undefined`
 * when it is not a plain decimal with at most six places or the currency is
 * not three capital letters.
 *
 * @category money
 * @since 0.1.0
 */
export const parseMoney = (amount: string, currency: string): Money | undefined =>
  M.isCurrency(currency) ? M.fromDecimal(amount, currency) : undefined

/**
 * A money value from micro-units.
 *
 * @category money
 * @since 0.1.0
 */
export const fromMicros = (micros: bigint, currency: string): Money => M.make(micros, currency)

/**
 * `"0.0075 USD"`.
 *
 * @category money
 * @since 0.1.0
 */
export const format: (money: Money) => string = M.format

/**
 * `{ amount: "0.0075", currency: "USD" }`.
 *
 * @category money
 * @since 0.1.0
 */
export const toJson: (money: Money) => MoneyJson = M.toJson

/**
 * A money value from its JSON form, or `undefined` when it is not one.
 *
 * @category money
 * @since 0.1.0
 */
export const fromJson = (json: MoneyJson): Money | undefined => parseMoney(json.amount, json.currency)

/**
 * `money × n`, exact (`n` a non-negative integer, a segment count say).
 *
 * @category money
 * @since 0.1.0
 */
export const times = (money: Money, n: number): Money => M.make(money.micros * BigInt(n), money.currency)

/**
 * The exact sum of amounts in one currency; an empty list sums to zero in
 * `currency`.
 *
 * @category money
 * @since 0.1.0
 */
export const sum = (currency: string, amounts: Iterable<Money>): Result.Result<Money, PricingError> => {
  let total = 0n
  for (const amount of amounts) {
    if (amount.currency !== currency) {
      return Result.fail(new PricingError({ reason: new CurrencyMismatch({ expected: currency, actual: amount.currency }) }))
    }
    total += amount.micros
  }
  return Result.succeed(M.make(total, currency))
}

// decoding

const numberTypes = PhoneNumbers.NumberType.literals

const pattern = (regex: RegExp) => Schema.String.check(Schema.isPattern(regex))
const Decimal = Schema.String.check(Schema.makeFilter((s: string) => !s.startsWith("-") && M.parseMicros(s) !== undefined))

/** One price row, as config gives it and as a CSV row decodes to. */
const PriceRow = Schema.Struct({
  route: Schema.NonEmptyString,
  country: pattern(/^(?:[A-Z]{2}|001|\*)$/),
  numberType: Schema.optional(PhoneNumbers.NumberType),
  mcc: Schema.optional(pattern(/^\d{3}$/)),
  mnc: Schema.optional(pattern(/^\d{2,3}$/)),
  price: Decimal,
  currency: pattern(/^[A-Z]{3}$/)
})

const decodeRow = Schema.decodeUnknownResult(PriceRow, { onExcessProperty: "error" })

/** What each field must be, for the error's `problem`. */
const expectations: Readonly<Record<string, string>> = {
  route: "not a non-empty string",
  country: "not an ISO 3166 alpha-2 code, 001 or *",
  numberType: `not one of ${numberTypes.join(", ")}`,
  mcc: "not 3 digits",
  mnc: "not 2 or 3 digits",
  price: "not a non-negative decimal with at most 6 decimal places",
  currency: "not an ISO 4217 code (3 capital letters)"
}

const invalid = (source: string, row: number, column: string, problem: string) =>
  new PricingError({ reason: new InvalidPriceTable({ source, row, column, problem }) })

/** Decodes one row; `columnOf` renames a field as its source calls it. */
const decodePrice = (
  input: unknown,
  source: string,
  row: number,
  columnOf: (field: string) => string
): Result.Result<Price, PricingError> => {
  const decoded = decodeRow(input)
  if (Result.isFailure(decoded)) {
    const { path, problem } = firstProblem(decoded.failure.issue)
    const field = fieldName(path) || "row"
    const words = problem === "missing"
      ? "missing"
      : problem === "unexpected"
      ? "not a known field"
      : expectations[field] ?? "invalid"
    return Result.fail(invalid(source, row, columnOf(field), words))
  }
  const r = decoded.success
  if (r.mnc !== undefined && r.mcc === undefined) return Result.fail(invalid(source, row, columnOf("mnc"), "given without mcc"))
  return Result.succeed({
    route: r.route,
    country: r.country,
    ...(r.numberType !== undefined ? { numberType: r.numberType } : {}),
    ...(r.mcc !== undefined ? { mcc: r.mcc } : {}),
    ...(r.mnc !== undefined ? { mnc: r.mnc } : {}),
    // the filter above guarantees a decimal
    price: M.make(M.parseMicros(r.price) ?? 0n, r.currency)
  })
}

const rowKey = (p: Price) => `${p.route}\u0000${p.country}\u0000${p.numberType ?? ""}\u0000${p.mcc ?? ""}\u0000${p.mnc ?? ""}`
const indexKey = (route: string, country: string) => `${route}\u0000${country}`

/** Indexes rows by route and country, refusing a second row for the same key. */
const build = (
  rows: ReadonlyArray<{ readonly price: Price; readonly source: string; readonly row: number }>
): Result.Result<PriceTable, PricingError> => {
  const seen = new Set<string>()
  const index = new Map<string, Array<Price>>()
  for (const { price, row, source } of rows) {
    const key = rowKey(price)
    if (seen.has(key)) return Result.fail(invalid(source, row, "country", "a second price for the same route, country, number type and network"))
    seen.add(key)
    const at = indexKey(price.route, price.country)
    const list = index.get(at)
    if (list === undefined) index.set(at, [price])
    else list.push(price)
  }
  return Result.succeed({ prices: rows.map((r) => r.price), index })
}

/**
 * Decodes price rows from config.
 *
 * **Details**
 * - A bad field fails with {@link InvalidPriceTable}: `source` `"prices"`,
 *   `row` the 1-based position, `column` the field (`price`, `mnc` …).
 * - Two rows for the same route, country, number type and network are refused.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromInput = (prices: ReadonlyArray<PriceInput>): Result.Result<PriceTable, PricingError> => {
  const rows: Array<{ price: Price; source: string; row: number }> = []
  for (let i = 0; i < prices.length; i++) {
    const decoded = decodePrice(prices[i], "prices", i + 1, (field) => field)
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
    rows.push({ price: decoded.success, source: "prices", row: i + 1 })
  }
  return build(rows)
}

/** CSV header names (lower case, spaces and dashes as `_`) → row fields. */
const csvColumns: ReadonlyMap<string, keyof typeof PriceRow.Encoded> = new Map([
  ["country", "country"],
  ["iso", "country"],
  ["country_code", "country"],
  ["mcc", "mcc"],
  ["mnc", "mnc"],
  ["number_type", "numberType"],
  ["price", "price"],
  ["currency", "currency"]
])

const fieldToColumn: Readonly<Record<string, string>> = { numberType: "number_type" }

/** The header's columns as field → position; unknown columns (network names …) are ignored. */
const readHeader = (
  header: ReadonlyArray<string>,
  source: string,
  hasDefaultCurrency: boolean
): Result.Result<ReadonlyMap<string, number>, PricingError> => {
  const positions = new Map<string, number>()
  header.forEach((name, i) => {
    const field = csvColumns.get(name.trim().toLowerCase().replace(/[\s-]+/g, "_"))
    if (field !== undefined && !positions.has(field)) positions.set(field, i)
  })
  const required = hasDefaultCurrency ? ["country", "price"] : ["country", "price", "currency"]
  for (const field of required) {
    if (!positions.has(field)) return Result.fail(invalid(source, 1, field, "missing from the header"))
  }
  return Result.succeed(positions)
}

/** A record's fields by name; empty cells are absent. */
const recordInput = (
  route: string,
  fields: ReadonlyArray<string>,
  positions: ReadonlyMap<string, number>,
  currency: string | undefined
): Record<string, string> => {
  const input: Record<string, string> = { route }
  if (currency !== undefined) input["currency"] = currency
  for (const [field, position] of positions) {
    const raw = (fields[position] ?? "").trim()
    if (raw === "") continue
    input[field] = field === "country" || field === "currency" ? raw.toUpperCase() : raw
  }
  return input
}

/**
 * Decodes a carrier price sheet for one route.
 *
 * **Details**
 * - The first line is the header. Columns are found by name, in any order and
 *   case: `country` (or `iso`, ISO 3166 alpha-2), `price` and `currency` are
 *   required (`currency` may instead come from `options.currency`); `mcc`,
 *   `mnc` and `number_type` are optional; other columns (network names …) are
 *   ignored. Empty cells are absent.
 * - A bad cell fails with {@link InvalidPriceTable} naming the line (the
 *   header is line 1) and the column as the header writes it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromCsv = (
  route: string,
  text: string,
  options: { readonly currency?: string | undefined } = {}
): Result.Result<PriceTable, PricingError> => {
  const source = `csv:${route}`
  const parsed = Csv.parse(text)
  if ("_tag" in parsed) return Result.fail(invalid(source, parsed.line, `#${parsed.column}`, "unbalanced quotes"))
  const [header, ...records] = parsed.records
  if (header === undefined) return Result.fail(invalid(source, 1, "header", "missing"))
  const positions = readHeader(header.fields, source, options.currency !== undefined)
  if (Result.isFailure(positions)) return Result.fail(positions.failure)
  const names = new Map([...positions.success].map(([field, position]) => [field, header.fields[position]?.trim() ?? field]))
  const columnOf = (field: string) => names.get(field) ?? fieldToColumn[field] ?? field
  const rows: Array<{ price: Price; source: string; row: number }> = []
  for (const record of records) {
    const input = recordInput(route, record.fields, positions.success, options.currency)
    const decoded = decodePrice(input, source, record.line, columnOf)
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
    rows.push({ price: decoded.success, source, row: record.line })
  }
  return build(rows)
}

/**
 * One route's rows as CSV text (`country,mcc,mnc,price,currency`, plus
 * `number_type` when a row has one); {@link fromCsv} reads it back to the same
 * rows.
 *
 * @category constructors
 * @since 0.1.0
 */
export const toCsv = (table: PriceTable, route: string): string => {
  const prices = table.prices.filter((p) => p.route === route)
  const withType = prices.some((p) => p.numberType !== undefined)
  const header = withType
    ? ["country", "mcc", "mnc", "number_type", "price", "currency"]
    : ["country", "mcc", "mnc", "price", "currency"]
  const rows = prices.map((p) => {
    const cells = [p.country, p.mcc ?? "", p.mnc ?? ""]
    if (withType) cells.push(p.numberType ?? "")
    cells.push(M.formatMicros(p.price.micros), p.price.currency)
    return cells
  })
  return Csv.stringify([header, ...rows])
}

/**
 * Joins tables (one per carrier sheet, say); a second row for the same key
 * fails as in {@link fromInput}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const merge = (...tables: ReadonlyArray<PriceTable>): Result.Result<PriceTable, PricingError> =>
  build(tables.flatMap((t) => t.prices.map((price, i) => ({ price, source: `merge:${price.route}`, row: i + 1 }))))

/**
 * The empty table.
 *
 * @category constructors
 * @since 0.1.0
 */
export const empty: PriceTable = { prices: [], index: new Map() }

// costs

/** How well a row fits: -1 when it does not, else network beats number type beats country. */
const fit = (p: Price, request: Omit<CostRequest, "segments">): number => {
  if (p.numberType !== undefined && p.numberType !== request.numberType) return -1
  if (p.mcc !== undefined && p.mcc !== request.network?.mcc) return -1
  if (p.mnc !== undefined && p.mnc !== request.network?.mnc) return -1
  return (p.mnc !== undefined ? 4 : 0) + (p.mcc !== undefined ? 2 : 0) + (p.numberType !== undefined ? 1 : 0)
}

const basisOf = (p: Price, country: string): PriceBasis =>
  country === "*" ? "default" : p.mcc !== undefined ? "network" : p.numberType !== undefined ? "number-type" : "country"

/** The best row of one country list, or the highest network row when only networks price it. */
const bestIn = (
  rows: ReadonlyArray<Price>,
  request: Omit<CostRequest, "segments">,
  country: string
): { readonly price: Price; readonly basis: PriceBasis } | undefined => {
  let best: Price | undefined
  let bestFit = -1
  for (const p of rows) {
    const f = fit(p, request)
    if (f > bestFit) {
      best = p
      bestFit = f
    }
  }
  if (best !== undefined) return { price: best, basis: basisOf(best, country) }
  if (request.network !== undefined || country === "*") return undefined
  // priced per network only, and the network is not known: the dearest, so a cap is never under-estimated
  let highest: Price | undefined
  for (const p of rows) {
    if (p.mcc === undefined || (p.numberType !== undefined && p.numberType !== request.numberType)) continue
    if (highest === undefined || p.price.micros > highest.price.micros) highest = p
  }
  return highest === undefined ? undefined : { price: highest, basis: "highest-network" }
}

/**
 * The price per segment for a route and destination.
 *
 * @category costs
 * @since 0.1.0
 */
export const priceOf = (
  table: PriceTable,
  request: Omit<CostRequest, "segments">
): Result.Result<{ readonly price: Price; readonly basis: PriceBasis }, PricingError> => {
  const found = bestIn(table.index.get(indexKey(request.route, request.country)) ?? [], request, request.country) ??
    bestIn(table.index.get(indexKey(request.route, "*")) ?? [], request, "*")
  return found !== undefined ? Result.succeed(found) : Result.fail(
    new PricingError({
      reason: new PriceNotFound({
        route: request.route,
        country: request.country,
        ...(request.numberType !== undefined ? { numberType: request.numberType } : {})
      })
    })
  )
}

/**
 * The cost of a message: `segments × price`, exact, or `PriceNotFound`.
 *
 * @category costs
 * @since 0.1.0
 */
export const costOf = (table: PriceTable, request: CostRequest): Result.Result<Cost, PricingError> =>
  Result.map(priceOf(table, request), ({ basis, price }) => ({
    route: request.route,
    country: request.country,
    segments: request.segments,
    unitPrice: price.price,
    total: times(price.price, request.segments),
    basis
  }))

const describe = (cost: Cost): string =>
  `cost ${M.format(cost.total)} = ${M.formatMicros(cost.unitPrice.micros)} × ${cost.segments} segment${cost.segments === 1 ? "" : "s"}`

/**
 * A candidate as {@link quote} priced it: its cost and the exact key it is
 * compared by.
 *
 * @category models
 * @since 0.1.0
 */
export interface Quote extends Ranked {
  /**
   * Micro-units of the total when every priced candidate is in one currency,
   * else micro-units × the currency's rate; absent without a price or a rate.
   * Smaller is cheaper.
   */
  readonly key?: bigint | undefined
}

/**
 * Each candidate's cost and comparison key, in the order given; {@link rank}
 * sorts these. A router ranking by more than cost (health, priority) compares
 * the keys itself.
 *
 * @category costs
 * @since 0.1.0
 */
export const quote = (table: PriceTable, request: RankRequest): ReadonlyArray<Quote> => {
  const priced = request.routes.map((route) => {
    const cost = costOf(table, { ...request, route })
    return Result.isSuccess(cost) ? cost.success : undefined
  })
  const currencies = new Set(priced.flatMap((c) => (c === undefined ? [] : [c.total.currency])))
  const rates = new Map<string, bigint>()
  for (const [currency, rate] of Object.entries(request.rates ?? {})) {
    const micros = M.parseMicros(rate)
    if (micros !== undefined && micros > 0n) rates.set(currency, micros)
  }
  // one currency needs no rate; several are compared as amount × rate, exact in bigint
  const single = currencies.size <= 1
  const keyOf = (cost: Cost): bigint | undefined => {
    if (single) return cost.total.micros
    const rate = rates.get(cost.total.currency)
    return rate === undefined ? undefined : cost.total.micros * rate
  }
  return request.routes.map((route, i): Quote => {
    const cost = priced[i]
    const key = cost === undefined ? undefined : keyOf(cost)
    const reason = cost === undefined ? "no price" : key === undefined ? `no rate for ${cost.total.currency}` : describe(cost)
    return { route, cost, reason, key }
  })
}

/**
 * Compares two quotes' keys, cheapest first; a quote without a key goes after
 * every quote with one.
 *
 * @category costs
 * @since 0.1.0
 */
export const compareQuotes = (a: Quote, b: Quote): number => {
  if (a.key === undefined || b.key === undefined) return a.key === undefined ? (b.key === undefined ? 0 : 1) : -1
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}

/**
 * Orders candidate routes by cost, cheapest first.
 *
 * **Details**
 * - Equal costs keep the order of `routes`, so the caller's health and
 *   priority order breaks ties.
 * - Routes without a price go last, in their order; so do routes priced in a
 *   currency that cannot be compared (no common currency and no rate).
 *
 * @category costs
 * @since 0.1.0
 */
export const rank = (table: PriceTable, request: RankRequest): ReadonlyArray<Ranked> =>
  quote(table, request)
    .map((q, i) => ({ q, i }))
    .sort((a, b) => compareQuotes(a.q, b.q) || a.i - b.i)
    .map(({ q }) => ({ route: q.route, cost: q.cost, reason: q.reason }))

/**
 * The cheapest priced route of {@link rank}, or `PriceNotFound` for the first
 * route when none is priced.
 *
 * @category costs
 * @since 0.1.0
 */
export const cheapest = (table: PriceTable, request: RankRequest): Result.Result<Cost, PricingError> => {
  const first = rank(table, request)[0]
  if (first?.cost !== undefined) return Result.succeed(first.cost)
  return Result.fail(
    new PricingError({ reason: new PriceNotFound({ route: request.routes[0] ?? "", country: request.country }) })
  )
}

// service

/**
 * Prices as a service: the table the pipeline reads, replaceable at run time
 * (a new carrier sheet) without rebuilding the pipeline.
 *
 * @category services
 * @since 0.1.0
 */
export class Pricing extends Context.Service<Pricing, {
  readonly table: Effect.Effect<PriceTable>
  readonly setTable: (table: PriceTable) => Effect.Effect<void>
  readonly costOf: (request: CostRequest) => Effect.Effect<Cost, PricingError>
  readonly rank: (request: RankRequest) => Effect.Effect<ReadonlyArray<Ranked>>
  /** {@link quote} on the current table, with the options' `rates` when the request gives none. */
  readonly quote: (request: RankRequest) => Effect.Effect<ReadonlyArray<Quote>>
  readonly cheapest: (request: RankRequest) => Effect.Effect<Cost, PricingError>
}>()("smsforge/Pricing") {}

/**
 * Where a {@link Pricing} service reads its prices: rows from config, carrier
 * sheets (one per route), or both; `rates` become the default for
 * {@link rank} when a request gives none.
 *
 * @category models
 * @since 0.1.0
 */
export interface PricingOptions {
  readonly prices?: ReadonlyArray<PriceInput> | undefined
  readonly csv?: ReadonlyArray<{ readonly route: string; readonly text: string; readonly currency?: string | undefined }> | undefined
  readonly rates?: Readonly<Record<string, string>> | undefined
}

/**
 * Decodes every source of {@link PricingOptions} into one table.
 *
 * @category constructors
 * @since 0.1.0
 */
export const tableOf = (options: PricingOptions): Result.Result<PriceTable, PricingError> => {
  const tables: Array<PriceTable> = []
  const fromConfig = fromInput(options.prices ?? [])
  if (Result.isFailure(fromConfig)) return fromConfig
  tables.push(fromConfig.success)
  for (const sheet of options.csv ?? []) {
    const table = fromCsv(sheet.route, sheet.text, { currency: sheet.currency })
    if (Result.isFailure(table)) return table
    tables.push(table.success)
  }
  return tables.length === 1 ? Result.succeed(fromConfig.success) : merge(...tables)
}

/**
 * Builds the service; a bad row fails with `InvalidPriceTable`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: PricingOptions = {}): Effect.Effect<Pricing["Service"], PricingError> =>
  Effect.gen(function*() {
    const initial = yield* Effect.fromResult(tableOf(options))
    const ref = yield* Ref.make(initial)
    const withRates = (request: RankRequest): RankRequest =>
      request.rates !== undefined || options.rates === undefined ? request : { ...request, rates: options.rates }
    return Pricing.of({
      table: Ref.get(ref),
      setTable: (table) => Ref.set(ref, table),
      costOf: (request) => Effect.flatMap(Ref.get(ref), (table) => Effect.fromResult(costOf(table, request))),
      rank: (request) => Effect.map(Ref.get(ref), (table) => rank(table, withRates(request))),
      quote: (request) => Effect.map(Ref.get(ref), (table) => quote(table, withRates(request))),
      cheapest: (request) => Effect.flatMap(Ref.get(ref), (table) => Effect.fromResult(cheapest(table, withRates(request))))
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: PricingOptions = {}): Layer.Layer<Pricing, PricingError> => Layer.effect(Pricing, make(options))

