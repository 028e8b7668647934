import type { Events } from "smsforge"
import * as fc from "fast-check"
import { assert, describe, it } from "vitest"
import { Aggregates } from "../console/index.ts"

const countries = ["GB", "DE", "ES", "CN", "US"] as const
const routes = ["eu-primary", "global"] as const

// One message's events as the pipeline publishes them: accepted, queued,
// submitted, then a final receipt 100 ms to ~5 s later.
const fold = (aggregates: Aggregates.Aggregates, n: number) => {
  const facts = new Map<string, Aggregates.MessageFacts>()
  const event = (messageId: string, status: Events.StatusChanged["status"], at: number, route?: string, reason?: string): Events.StatusChanged => ({
    _tag: "StatusChanged", messageId, status, at, route, reason
  })
  for (let i = 0; i < n; i++) {
    const id = `m${i}`
    const at = 1_800_000_000_000 + i * 5
    const route = routes[i % 2]!
    facts.set(id, { country: countries[i % 5]!, segments: 1 + (i % 3), template: i % 4 === 0 ? "otp" : undefined, prices: { "eu-primary": 0.04, global: 0.05 } })
    const known = () => facts.get(id)
    aggregates.observe(event(id, "accepted", at), known)
    aggregates.observe(event(id, "queued", at), known)
    aggregates.observe(event(id, "submitted", at + 1, route), known)
    const final = i % 20 === 0 ? event(id, "undelivered", at + 900, route, "EC_ABSENT_SUBSCRIBER") : event(id, "delivered", at + 101 + (i % 50) * 100, route)
    aggregates.observe(final, known)
    facts.delete(id)
  }
}

describe("report aggregates", () => {
  it("counts volume, delivery, failure reasons, cost and latency percentiles", () => {
    const aggregates = Aggregates.make()
    fold(aggregates, 1_000)
    const report = aggregates.report()
    assert.strictEqual(report.total, 1_000)
    assert.strictEqual(report.failed, 50)
    assert.strictEqual(report.delivered, 950)
    assert.strictEqual(report.deliveredPercent, 95)
    assert.deepStrictEqual(report.failureReasons, [{ reason: "EC_ABSENT_SUBSCRIBER", count: 50 }])
    assert.strictEqual(report.byCountry.length, 5)
    assert.strictEqual(report.byTemplate.find((t) => t.key === "otp")!.sent, 250)
    assert.closeTo(report.cost, 500 * 0.04 * 2 + 500 * 0.05 * 2, 1)
    // 100 ms to 5 s uniformly: the median is near 2.5 s, within the histogram's 5 %.
    assert.closeTo(report.latency.p50!, 2_550, 2_550 * 0.06)
    assert.isAbove(report.latency.p99!, report.latency.p90!)
  })

  it("folds 1,000,000 messages' events and answers a report in well under 200 ms", () => {
    const aggregates = Aggregates.make()
    fold(aggregates, 1_000_000)
    const started = performance.now()
    const report = aggregates.report()
    const elapsed = performance.now() - started
    assert.strictEqual(report.total, 1_000_000)
    assert.strictEqual(report.failed, 50_000)
    assert.strictEqual(report.byRoute.reduce((n, r) => n + r.sent, 0), 1_000_000)
    // The budget is 200 ms; a report reads a few hundred counters, so this
    // generous bound only fails if a report ever scans messages.
    assert.isBelow(elapsed, 200)
  })
})

describe("spend in money", () => {
  const currencies = ["GBP", "USD"] as const
  // A price of up to six decimals, as a decimal string, and its value in micro-units.
  const amount = fc.tuple(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 999_999 }))
    .map(([units, micros]) => ({ text: `${units}.${String(micros).padStart(6, "0")}`, micros: BigInt(units) * 1_000_000n + BigInt(micros) }))
  const message = fc.record({
    tenant: fc.constantFrom("acme", "shoplane", undefined),
    country: fc.constantFrom(...countries),
    route: fc.constantFrom(...routes),
    template: fc.constantFrom("order-shipped", "otp", undefined),
    segments: fc.integer({ min: 1, max: 4 }),
    currency: fc.constantFrom(...currencies),
    price: amount,
    at: fc.integer({ min: 1_800_000_000_000, max: 1_800_000_000_000 + 10 * 86_400_000 })
  })

  const foldPriced = (aggregates: Aggregates.Aggregates, messages: ReadonlyArray<typeof message extends fc.Arbitrary<infer A> ? A : never>) =>
    messages.forEach((m, i) => {
      const facts = () => ({ country: m.country, segments: m.segments, template: m.template, tenant: m.tenant })
      const id = `m${i}`
      aggregates.observe({ _tag: "StatusChanged", messageId: id, status: "queued", at: m.at, tenant: m.tenant }, facts)
      aggregates.observe({
        _tag: "StatusChanged",
        messageId: id,
        status: "submitted",
        previous: "queued",
        at: m.at,
        tenant: m.tenant,
        route: m.route,
        cost: { amount: m.price.text, currency: m.currency }
      }, facts)
    })

  const micros = (row: Aggregates.SpendRow) => {
    const [units, fraction = ""] = row.amount.split(".")
    return BigInt(units!) * 1_000_000n + BigInt(fraction.padEnd(6, "0"))
  }

  it("every breakdown sums, per currency, to the exact total of the events' costs", () =>
    fc.assert(fc.property(fc.array(message, { maxLength: 200 }), (messages) => {
      const aggregates = Aggregates.make()
      foldPriced(aggregates, messages)
      const { spend } = aggregates.report()
      for (const currency of currencies) {
        const expected = messages.filter((m) => m.currency === currency).reduce((sum, m) => sum + m.price.micros, 0n)
        const count = messages.filter((m) => m.currency === currency).length
        const total = spend.total.find((r) => r.currency === currency)
        assert.strictEqual(total === undefined ? 0n : micros(total), expected)
        assert.strictEqual(total?.messages ?? 0, count)
        for (const rows of [spend.byTenant, spend.byCountry, spend.byRoute, spend.byTemplate, spend.byDay]) {
          const mine = rows.filter((r) => r.currency === currency)
          assert.strictEqual(mine.reduce((sum, r) => sum + micros(r), 0n), expected)
          assert.strictEqual(mine.reduce((n, r) => n + r.messages, 0), count)
        }
      }
    })))

  it("names the tenant, template and day of each cost, days in the configured zone", () => {
    const aggregates = Aggregates.make({ timeZone: "Asia/Shanghai" })
    const lateUtc = Date.UTC(2026, 11, 2, 23, 30) // 07:30 on 3 December in Shanghai
    foldPriced(aggregates, [
      { tenant: "acme", country: "CN", route: "global", template: "order-shipped", segments: 2, currency: "USD", price: { text: "0.060000", micros: 60_000n }, at: lateUtc },
      { tenant: "acme", country: "GB", route: "eu-primary", template: undefined, segments: 1, currency: "USD", price: { text: "0.040000", micros: 40_000n }, at: Date.UTC(2026, 11, 2, 12) },
      { tenant: undefined, country: "GB", route: "eu-primary", template: "otp", segments: 1, currency: "GBP", price: { text: "0.031", micros: 31_000n }, at: Date.UTC(2026, 11, 2, 12) }
    ])
    const { spend } = aggregates.report()
    assert.strictEqual(spend.timeZone, "Asia/Shanghai")
    assert.deepStrictEqual(spend.byDay, [
      { key: "2026-12-02", currency: "GBP", amount: "0.031", messages: 1, segments: 1 },
      { key: "2026-12-02", currency: "USD", amount: "0.04", messages: 1, segments: 1 },
      { key: "2026-12-03", currency: "USD", amount: "0.06", messages: 1, segments: 2 }
    ])
    assert.deepStrictEqual(spend.byTenant.map((r) => [r.key, r.currency, r.amount]), [["acme", "USD", "0.1"], ["(none)", "GBP", "0.031"]])
    assert.deepStrictEqual(spend.byTemplate.map((r) => r.key).sort(), ["(text)", "order-shipped", "otp"])
    assert.deepStrictEqual(spend.total.map((r) => [r.key, r.amount]), [["USD", "0.1"], ["GBP", "0.031"]])
  })

  it("a message without a cost adds to volume, never to spend", () => {
    const aggregates = Aggregates.make()
    fold(aggregates, 10)
    const report = aggregates.report()
    assert.strictEqual(report.total, 10)
    assert.deepStrictEqual(report.spend.total, [])
    assert.deepStrictEqual(report.spend.byDay, [])
  })
})
