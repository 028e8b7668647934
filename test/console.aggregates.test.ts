import type { Events } from "smsforge"
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
