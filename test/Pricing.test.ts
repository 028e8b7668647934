import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import fc from "fast-check"
import { Encoding } from "smsforge"
import * as Pricing from "../src/Pricing.ts"
import { Arbitraries } from "smsforge/testing/arbitraries"

const ok = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) throw new Error(`expected success, got ${String(result.failure)}`)
  return result.success
}
const failure = <A>(result: Result.Result<A, Pricing.PricingError>): Pricing.PricingErrorReason => {
  if (Result.isSuccess(result)) throw new Error("expected a failure")
  return result.failure.reason
}

const SHEET = `country,network,mcc,mnc,price,currency
GB,Vodafone,234,15,0.0345,GBP
GB,O2,234,10,0.0360,GBP
US,,,,0.0079,USD
"DE","Telekom, D1",262,01,0.0750,EUR
`

describe("money", () => {
  it("parses and formats decimals exactly", () => {
    const m = Pricing.parseMoney("0.0075", "USD")
    assert.deepStrictEqual(m && { currency: m.currency, micros: m.micros }, { currency: "USD", micros: 7500n })
    assert.strictEqual(Pricing.format(Pricing.fromMicros(2_000_000n, "EUR")), "2 EUR")
    assert.strictEqual(Pricing.format(Pricing.fromMicros(-1_500_000n, "EUR")), "-1.5 EUR")
    assert.strictEqual(Pricing.parseMoney("0.0000001", "USD"), undefined)
    assert.strictEqual(Pricing.parseMoney("1e-3", "USD"), undefined)
    assert.strictEqual(Pricing.parseMoney("1", "usd"), undefined)
  })

  it("serialises as a decimal string, never a bigint", () => {
    assert.strictEqual(JSON.stringify(Pricing.fromMicros(7500n, "USD")), `{"amount":"0.0075","currency":"USD"}`)
    const back = Pricing.fromJson(JSON.parse(JSON.stringify(Pricing.fromMicros(-12_345n, "EUR"))))
    assert.deepStrictEqual(back && [back.micros, back.currency], [-12_345n, "EUR"])
    assert.strictEqual(Pricing.fromJson({ amount: "1.2.3", currency: "EUR" }), undefined)
  })

  it("sums in one currency and refuses another", () => {
    const a = Pricing.fromMicros(100n, "USD")
    assert.strictEqual(ok(Pricing.sum("USD", [a, a, a])).micros, 300n)
    assert.strictEqual(failure(Pricing.sum("USD", [a, Pricing.fromMicros(1n, "EUR")]))._tag, "CurrencyMismatch")
  })
})

describe("price tables", () => {
  const table = ok(Pricing.fromCsv("carrier-a", SHEET))

  it("reads a carrier sheet, quoted cells and extra columns included", () => {
    assert.strictEqual(table.prices.length, 4)
    const de = table.prices.find((p) => p.country === "DE")
    assert.deepStrictEqual(de && [de.mcc, de.mnc, de.price.micros, de.price.currency], ["262", "01", 75_000n, "EUR"])
  })

  it("prices the recipient's network, else the highest network of the country", () => {
    const known = ok(Pricing.costOf(table, { route: "carrier-a", country: "GB", network: { mcc: "234", mnc: "15" }, segments: 2 }))
    assert.deepStrictEqual([known.total.micros, known.basis], [69_000n, "network"])
    const unknown = ok(Pricing.costOf(table, { route: "carrier-a", country: "GB", segments: 1 }))
    assert.deepStrictEqual([unknown.total.micros, unknown.basis], [36_000n, "highest-network"])
  })

  it("prefers a number type row over the country row, and falls back to *", () => {
    const t = ok(Pricing.fromInput([
      { route: "r", country: "US", price: "0.0079", currency: "USD" },
      { route: "r", country: "US", numberType: "toll-free", price: "0.0083", currency: "USD" },
      { route: "r", country: "*", price: "0.05", currency: "USD" }
    ]))
    assert.strictEqual(ok(Pricing.costOf(t, { route: "r", country: "US", segments: 1 })).total.micros, 7900n)
    const tollFree = ok(Pricing.costOf(t, { route: "r", country: "US", numberType: "toll-free", segments: 1 }))
    assert.deepStrictEqual([tollFree.total.micros, tollFree.basis], [8300n, "number-type"])
    const elsewhere = ok(Pricing.costOf(t, { route: "r", country: "FR", segments: 3 }))
    assert.deepStrictEqual([elsewhere.total.micros, elsewhere.basis], [150_000n, "default"])
  })

  it("fails with PriceNotFound naming the route and country", () => {
    const reason = failure(Pricing.costOf(table, { route: "carrier-a", country: "FR", segments: 1 }))
    assert.strictEqual(reason._tag, "PriceNotFound")
    assert.include(reason.message, "carrier-a")
    assert.include(reason.message, "FR")
  })

  it("refuses bad rows naming the row and the column", () => {
    const cases: ReadonlyArray<readonly [string, number, string]> = [
      ["country,price,currency\nGB,0.03,GBP\nGB,abc,GBP\n", 3, "price"],
      ["country,price,currency\nGB,0.0000001,GBP\n", 2, "price"],
      ["country,price,currency\nGB,-0.03,GBP\n", 2, "price"],
      ["Country,Price,Currency\nGreat Britain,0.03,GBP\n", 2, "Country"],
      ["country,price,currency\nGB,0.03,POUNDS\n", 2, "currency"],
      ["country,mcc,mnc,price,currency\nGB,2340,15,0.03,GBP\n", 2, "mcc"],
      ["country,mcc,mnc,price,currency\nGB,,15,0.03,GBP\n", 2, "mnc"],
      ["country,number_type,price,currency\nGB,cellphone,0.03,GBP\n", 2, "number_type"],
      ["country,price,currency\nGB,,GBP\n", 2, "price"],
      ["country,price\nGB,0.03\n", 1, "currency"],
      ["country,price,currency\nGB,0.03,GBP\nGB,0.04,GBP\n", 3, "country"],
      ["country,price,currency\nGB,\"0.03,GBP\n", 2, "#2"]
    ]
    for (const [csv, row, column] of cases) {
      const reason = failure(Pricing.fromCsv("r", csv))
      assert.strictEqual(reason._tag, "InvalidPriceTable", csv)
      if (reason._tag !== "InvalidPriceTable") continue
      assert.deepStrictEqual([reason.row, reason.column], [row, column], csv)
      assert.include(reason.message, `row ${row}`)
    }
  })

  it("names the position and field of a bad config row", () => {
    const reason = failure(Pricing.fromInput([
      { route: "r", country: "GB", price: "0.03", currency: "GBP" },
      { route: "r", country: "GB", price: "0.03", currency: "GBP", mnc: "15" }
    ]))
    assert.deepStrictEqual(reason._tag === "InvalidPriceTable" && [reason.row, reason.column], [2, "mnc"])
    const typo = failure(Pricing.fromInput([{ route: "r", country: "GB", price: "0.03", currency: "GBP", contry: "x" } as Pricing.PriceInput]))
    assert.deepStrictEqual(typo._tag === "InvalidPriceTable" && [typo.row, typo.column, typo.problem], [1, "contry", "not a known field"])
  })
})

describe("ranking", () => {
  const table = ok(Pricing.fromInput([
    { route: "a", country: "GB", price: "0.04", currency: "GBP" },
    { route: "b", country: "GB", price: "0.03", currency: "GBP" },
    { route: "c", country: "GB", price: "0.03", currency: "GBP" },
    { route: "d", country: "GB", price: "0.02", currency: "EUR" }
  ]))

  it("orders by cost, keeps the given order between equal costs, unpriced last", () => {
    const ranked = Pricing.rank(table, { routes: ["x", "c", "a", "b"], country: "GB", segments: 2 })
    assert.deepStrictEqual(ranked.map((r) => r.route), ["c", "b", "a", "x"])
    assert.strictEqual(ranked[0]?.reason, "cost 0.06 GBP = 0.03 × 2 segments")
    assert.strictEqual(ranked[3]?.reason, "no price")
    const other = Pricing.rank(table, { routes: ["b", "c"], country: "GB", segments: 1 })
    assert.deepStrictEqual(other.map((r) => r.route), ["b", "c"])
  })

  it("compares currencies through rates only", () => {
    const withoutRates = Pricing.rank(table, { routes: ["d", "a"], country: "GB", segments: 1 })
    assert.deepStrictEqual(withoutRates.map((r) => r.reason), ["no rate for EUR", "no rate for GBP"])
    const rates = { GBP: "1.17", EUR: "1" }
    const ranked = Pricing.rank(table, { routes: ["a", "d", "b"], country: "GB", segments: 1, rates })
    assert.deepStrictEqual(ranked.map((r) => r.route), ["d", "b", "a"])
    assert.strictEqual(ok(Pricing.cheapest(table, { routes: ["a", "b"], country: "GB", segments: 1 })).route, "b")
    assert.strictEqual(failure(Pricing.cheapest(table, { routes: ["x"], country: "GB", segments: 1 }))._tag, "PriceNotFound")
  })

  it.effect("the service answers from its table and takes a new one", () =>
    Effect.gen(function*() {
      const pricing = yield* Pricing.make({ csv: [{ route: "us", text: "country,price\nUS,0.0079\n", currency: "USD" }] })
      assert.strictEqual((yield* pricing.costOf({ route: "us", country: "US", segments: 3 })).total.micros, 23_700n)
      yield* pricing.setTable(Pricing.empty)
      const exit = yield* Effect.exit(pricing.costOf({ route: "us", country: "US", segments: 3 }))
      assert.isTrue(Exit.isFailure(exit))
      const bad = yield* Effect.exit(Pricing.make({ prices: [{ route: "r", country: "GB", price: "x", currency: "GBP" }] }))
      assert.isTrue(Exit.isFailure(bad))
    }))
})

describe("properties", () => {
  const decimal = fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 999_999 })).map(([whole, micros]) => ({
    text: `${whole}.${String(micros).padStart(6, "0")}`,
    micros: BigInt(whole) * 1_000_000n + BigInt(micros)
  }))
  const text = fc.oneof(Arbitraries.gsm7Text, Arbitraries.gsm7ExtendedText, Arbitraries.ucs2Text, fc.string({ maxLength: 500 }))

  it("cost = segments × price for every encoding and split", () => {
    fc.assert(fc.property(text, decimal, fc.boolean(), (body, price, smart) => {
      const table = ok(Pricing.fromInput([{ route: "r", country: "GB", price: price.text, currency: "GBP" }]))
      const segments = Encoding.analyze(body, { smartEncoding: smart }).segments.length
      const cost = ok(Pricing.costOf(table, { route: "r", country: "GB", segments }))
      return cost.total.micros === BigInt(segments) * price.micros && cost.total.currency === "GBP"
    }))
  })

  it("sums of costs are exact: the sum equals total segments × price", () => {
    fc.assert(fc.property(fc.array(text, { maxLength: 30 }), decimal, (bodies, price) => {
      const table = ok(Pricing.fromInput([{ route: "r", country: "US", price: price.text, currency: "USD" }]))
      const counts = bodies.map((b) => Encoding.analyze(b).segments.length)
      const costs = counts.map((segments) => ok(Pricing.costOf(table, { route: "r", country: "US", segments })).total)
      const total = ok(Pricing.sum("USD", costs))
      const segments = counts.reduce((a, b) => a + b, 0)
      // the float sum of the same prices is what this representation avoids
      return total.micros === BigInt(segments) * price.micros &&
        Pricing.parseMoney(Pricing.toJson(total).amount, "USD")?.micros === total.micros
    }))
  })

  it("rank orders by cost, keeps the caller's order between equal costs, unpriced last", () => {
    const routes = fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 12 })
    const prices = fc.array(fc.constantFrom("0.01", "0.02", "0.0075", "0.03"), { minLength: 12, maxLength: 12 })
    const priced = fc.array(fc.boolean(), { minLength: 12, maxLength: 12 })
    fc.assert(fc.property(routes, prices, priced, fc.integer({ min: 1, max: 5 }), (names, amounts, has, segments) => {
      const table = ok(Pricing.fromInput(names.flatMap((route, i) =>
        has[i] ? [{ route, country: "GB", price: amounts[i]!, currency: "GBP" }] : []
      )))
      const ranked = Pricing.rank(table, { routes: names, country: "GB", segments })
      const position = (route: string) => names.indexOf(route)
      for (let i = 1; i < ranked.length; i++) {
        const a = ranked[i - 1]!
        const b = ranked[i]!
        if (a.cost === undefined && b.cost !== undefined) return false
        if (a.cost !== undefined && b.cost !== undefined) {
          if (a.cost.total.micros > b.cost.total.micros) return false
          if (a.cost.total.micros === b.cost.total.micros && position(a.route) > position(b.route)) return false
        }
        if (a.cost === undefined && b.cost === undefined && position(a.route) > position(b.route)) return false
      }
      return ranked.length === names.length
    }))
  })

  const cell = fc.stringMatching(/^[A-Z]{2}$/)
  const row = fc.record({
    country: cell,
    mcc: fc.option(fc.stringMatching(/^\d{3}$/), { nil: undefined }),
    mnc: fc.option(fc.stringMatching(/^\d{2,3}$/), { nil: undefined }),
    numberType: fc.option(fc.constantFrom("mobile", "toll-free", "fixed-line"), { nil: undefined }),
    price: decimal.map((d) => d.text),
    currency: fc.constantFrom("USD", "EUR", "GBP")
  }).map((r) => (r.mcc === undefined ? { ...r, mnc: undefined } : r))

  it("CSV round trip: toCsv then fromCsv gives the same rows", () => {
    fc.assert(fc.property(fc.uniqueArray(row, { selector: (r) => `${r.country}|${r.mcc}|${r.mnc}|${r.numberType}`, maxLength: 40 }), (rows) => {
      const table = ok(Pricing.fromInput(rows.map((r) => ({ route: "r", ...r }))))
      const again = ok(Pricing.fromCsv("r", Pricing.toCsv(table, "r")))
      const plain = (t: Pricing.PriceTable) =>
        t.prices.map((p) => [p.route, p.country, p.numberType, p.mcc, p.mnc, p.price.micros, p.price.currency])
      assert.deepStrictEqual(plain(again), plain(table))
    }))
  })

  it("a bad cell anywhere is refused naming its row and column", () => {
    const columns = ["country", "mcc", "mnc", "price", "currency"] as const
    const bad: Record<(typeof columns)[number], fc.Arbitrary<string>> = {
      country: fc.constantFrom("GBR", "g1", "United Kingdom"),
      mcc: fc.constantFrom("23", "2345", "abc"),
      mnc: fc.constantFrom("1", "1234", "xx"),
      price: fc.constantFrom("abc", "0.0000001", "-1", "1,5", "1e3"),
      currency: fc.constantFrom("US", "DOLLAR", "U$D")
    }
    const good = { country: "GB", mcc: "234", mnc: "15", price: "0.03", currency: "GBP" }
    const cell = (value: string) => (/[",]/.test(value) ? `"${value.replaceAll("\"", "\"\"")}"` : value)
    const badCell = fc.constantFrom(...columns).chain((column) => fc.tuple(fc.constant(column), bad[column]))
    fc.assert(fc.property(fc.nat({ max: 20 }), badCell, (before, [column, value]) => {
      const lines = Array.from({ length: before }, (_, i) => ["GB", "234", String(10 + i), "0.03", "GBP"].join(","))
      const broken = columns.map((c) => cell(c === column ? value : good[c])).join(",")
      const reason = failure(Pricing.fromCsv("r", ["country,mcc,mnc,price,currency", ...lines, broken].join("\n")))
      return reason._tag === "InvalidPriceTable" && reason.row === before + 2 && reason.column === column
    }))
  })
})
