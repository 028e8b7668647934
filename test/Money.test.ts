// Money in the send path: prices on receipts, stored messages and events,
// caps enforced before any carrier call, low balances taking routes out, and
// estimate answering what send then does.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, PubSub, Ref } from "effect"
import type { Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { Budget, createSmsClient, Encoding, Events, Pricing, Sms } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { gsm7ExtendedText, gsm7Text, ucs2Text } from "../src/testing/internal/textArbitraries.ts"

const UK = "+447400123456"
const usd = (amount: string) => Pricing.parseMoney(amount, "USD")!

// sandbox-1 is the cheaper route for UK mobiles, sandbox-2 the dearer
const prices: ReadonlyArray<Pricing.PriceInput> = [
  { route: "sandbox-1", country: "GB", numberType: "mobile", price: "0.0310", currency: "USD" },
  { route: "sandbox-1", country: "GB", price: "0.0500", currency: "USD" },
  { route: "sandbox-2", country: "GB", price: "0.0420", currency: "USD" }
]
const leastCost = {
  strategy: ["health", "least-cost", "priority"] as const,
  routes: [{ name: "sandbox-2", transport: "sandbox-2" }, { name: "sandbox-1", transport: "sandbox-1" }]
}

const withPipeline = <A, E>(
  config: Sms.SmsConfig,
  body: (sms: Sms.Sms["Service"], sandboxes: ReadonlyArray<Sandbox.SandboxTransport>) => Effect.Effect<A, E, Sms.Services | Scope.Scope>,
  count = 2
) =>
  Effect.scoped(Effect.gen(function*() {
    const sandboxes = yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => Sandbox.make({ name: `sandbox-${i + 1}` }))
    const context = yield* Layer.build(Sms.layer({ transports: sandboxes, ...config }))
    return yield* Effect.provide(Effect.flatMap(Sms.Sms, (sms) => body(sms, sandboxes)), context)
  }))

const reasonOf = <A>(effect: Effect.Effect<A, Sms.SmsError>) => Effect.map(Effect.flip(effect), (e) => e.reason)

const outboxSizes = (sandboxes: ReadonlyArray<Sandbox.SandboxTransport>) => sandboxes.map((s) => s.controls.sent().length)

describe("cost of a message", () => {
  it("equals segments × the carrying route's price for generated texts, on the receipt and the stored message, as estimated", async () => {
    const sandboxes = [Sandbox.makeUnsafe({ name: "sandbox-1" }), Sandbox.makeUnsafe({ name: "sandbox-2" })]
    const client = createSmsClient({ transports: sandboxes, routing: leastCost, pricing: { prices } })
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(gsm7Text, gsm7ExtendedText, ucs2Text).filter((t) => t.length > 0 && t.length < 600), async (text) => {
          const estimate = await client.estimate({ to: UK, text })
          const receipt = await client.send({ to: UK, text })
          const segments = Encoding.analyze(text).segments.length
          assert.deepStrictEqual(
            [estimate.route, estimate.encoding, estimate.segmentCount, estimate.cost],
            [receipt.route, receipt.encoding, receipt.segmentCount, receipt.cost]
          )
          assert.strictEqual(receipt.segmentCount, segments)
          assert.strictEqual(receipt.route, "sandbox-1")
          // exact: 0.031 × n in micro-units, never a float sum
          assert.deepStrictEqual(receipt.cost, Pricing.toJson(Pricing.fromMicros(31_000n * BigInt(segments), "USD")))
          assert.deepStrictEqual((await client.get(receipt.id)).cost, receipt.cost)
        }),
        { numRuns: 60 }
      )
    } finally {
      await client.close()
    }
  })

  it.effect("is the price of the route that carried it after failover, on the submitted event too", () =>
    withPipeline({ routing: leastCost, pricing: { prices } }, (sms, [cheap, dear]) =>
      Effect.gen(function*() {
        const events = yield* Events.Events
        const subscription = yield* events.subscribe
        yield* cheap!.failAlways("Unavailable")
        const text = "Your parcel arrives today between 10:00 and 12:00. Reply STOP to opt out — thanks for ordering!"
        const sending = yield* Effect.forkChild(sms.send({ to: UK, text }))
        // the cheap route's retries back off on the test clock
        yield* TestClock.adjust("1 minute")
        const receipt = yield* Fiber.join(sending)
        assert.strictEqual(receipt.route, "sandbox-2")
        assert.strictEqual(receipt.segmentCount, 2)
        assert.deepStrictEqual(receipt.cost, { amount: "0.084", currency: "USD" })
        assert.strictEqual((yield* dear!.outbox).length, 1)
        const all = yield* PubSub.takeAll(subscription)
        const submitted = all.find((e) => e._tag === "StatusChanged" && e.status === "submitted")
        assert.deepStrictEqual(submitted?._tag === "StatusChanged" ? submitted.cost : undefined, receipt.cost)
        const queued = all.find((e) => e._tag === "StatusChanged" && e.status === "queued")
        assert.strictEqual(queued?._tag === "StatusChanged" ? queued.cost : "absent", undefined)
      })))

  it.effect("is absent when the carrying route has no price", () =>
    withPipeline({ pricing: { prices: [{ route: "elsewhere", country: "GB", price: "0.01", currency: "USD" }] } }, (sms) =>
      Effect.gen(function*() {
        const receipt = yield* sms.send({ to: UK, text: "hi" })
        assert.strictEqual(receipt.route, "sandbox-1")
        assert.isUndefined(receipt.cost)
      })))
})

describe("caps", () => {
  const messagesCap = (limit: number): Budget.BudgetOptions => ({
    caps: [{ name: "daily", metric: "messages", period: "day", limit: String(limit) }]
  })

  it.effect("a hard cap refuses before any carrier call: BudgetExceeded, the message rejected, the outbox untouched", () =>
    withPipeline({ budget: messagesCap(0) }, (sms, sandboxes) =>
      Effect.gen(function*() {
        const events = yield* Events.Events
        const subscription = yield* events.subscribe
        const error = yield* Effect.flip(sms.send({ to: UK, text: "Your code is ready" }))
        assert.strictEqual(error.reason._tag, "BudgetExceeded")
        assert.strictEqual(error.reason._tag === "BudgetExceeded" ? error.reason.cap : "", "daily")
        assert.notInclude(error.message, UK)
        assert.deepStrictEqual(outboxSizes(sandboxes), [0, 0])
        assert.strictEqual(sandboxes[0]!.controls.attempts(), 0)
        const [rejected] = yield* Effect.map(PubSub.takeAll(subscription), (all) =>
          all.filter((e) => e._tag === "StatusChanged" && e.status === "rejected"))
        assert.strictEqual(rejected?._tag === "StatusChanged" ? rejected.reason : undefined, "BudgetExceeded")
        const stored = yield* sms.get(rejected?._tag === "StatusChanged" ? rejected.messageId : "")
        assert.strictEqual(stored.status, "rejected")
        assert.strictEqual(stored.history[stored.history.length - 1]!.reason, "BudgetExceeded")
      })))

  it.effect("a spend cap counts the priced cost, and its alerts and refusal go on the bus", () =>
    withPipeline({
      routing: leastCost,
      pricing: { prices },
      budget: { caps: [{ name: "spend", metric: "spend", period: "day", limit: "0.062", currency: "USD" }] }
    }, (sms, sandboxes) =>
      Effect.gen(function*() {
        const events = yield* Events.Events
        const subscription = yield* events.subscribe
        yield* sms.send({ to: UK, text: "one" })
        yield* sms.send({ to: UK, text: "two" })
        const reason = yield* reasonOf(sms.send({ to: UK, text: "three" }))
        assert.strictEqual(reason._tag, "BudgetExceeded")
        assert.deepStrictEqual(outboxSizes(sandboxes), [2, 0])
        const money = (yield* PubSub.takeAll(subscription)).filter((e) => e._tag.startsWith("Budget"))
        assert.deepStrictEqual(money.map((e) => e._tag === "BudgetThresholdReached" ? `${e._tag} ${e.percent}` : e._tag), [
          "BudgetThresholdReached 50",
          "BudgetThresholdReached 80",
          "BudgetThresholdReached 100",
          "BudgetRefused"
        ])
      })))

  it.effect("an unpriced message under a spend cap is refused with CostUnknown, before any carrier call", () =>
    withPipeline({ budget: { caps: [{ name: "spend", metric: "spend", period: "day", limit: "10", currency: "USD" }] } }, (sms, sandboxes) =>
      Effect.gen(function*() {
        const reason = yield* reasonOf(sms.send({ to: UK, text: "hi" }))
        assert.strictEqual(reason._tag, "CostUnknown")
        assert.deepStrictEqual(outboxSizes(sandboxes), [0, 0])
      })))

  it.effect("a message with no route fails as without a budget: NoRoute, not a budget refusal", () =>
    withPipeline({
      routing: { routes: [{ name: "us", transport: "sandbox-1", countries: ["US"] }] },
      budget: { caps: [{ name: "spend", metric: "spend", period: "day", limit: "10", currency: "USD" }] }
    }, (sms, sandboxes) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* reasonOf(sms.send({ to: UK, text: "hi" })))._tag, "NoRoute")
        assert.strictEqual((yield* reasonOf(sms.estimate({ to: UK, text: "hi" })))._tag, "NoRoute")
        assert.deepStrictEqual(outboxSizes(sandboxes), [0, 0])
      })))

  it.effect("a message that fails on every route gives its count back", () =>
    withPipeline({ budget: messagesCap(1) }, (sms, [a, b]) =>
      Effect.gen(function*() {
        yield* a!.failAlways("Rejected")
        yield* b!.failAlways("Rejected")
        const failed = yield* reasonOf(sms.send({ to: UK, text: "first" }))
        assert.strictEqual(failed._tag, "AllRoutesFailed")
        yield* a!.recover
        yield* b!.recover
        // the failure was released: the one message the cap allows still goes
        const receipt = yield* sms.send({ to: UK, text: "second" })
        assert.strictEqual(receipt.status, "submitted")
        assert.strictEqual((yield* reasonOf(sms.send({ to: UK, text: "third" })))._tag, "BudgetExceeded")
      })))

  it.effect("concurrent sends never pass a message cap", () =>
    withPipeline({ budget: messagesCap(7) }, (sms, sandboxes) =>
      Effect.gen(function*() {
        yield* Effect.forEach(sandboxes, (s) => s.setLatency("20 millis"), { discard: true })
        const fiber = yield* Effect.forkChild(
          Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => Effect.result(sms.send({ to: UK, text: `n${i}` })), {
            concurrency: "unbounded"
          })
        )
        yield* TestClock.adjust("1 second")
        const results = yield* Fiber.join(fiber)
        const sent = results.filter((r) => r._tag === "Success").length
        const refused = results.filter((r) => r._tag === "Failure" && r.failure.reason._tag === "BudgetExceeded").length
        assert.strictEqual(sent, 7)
        assert.strictEqual(refused, 33)
        assert.strictEqual(outboxSizes(sandboxes).reduce((a, b) => a + b, 0), 7)
      })))

  it.effect("instances sharing a budget store never pass a spend cap together", () =>
    Effect.scoped(Effect.gen(function*() {
      const store = yield* Budget.makeStoreMemory
      const sandboxes = yield* Effect.forEach(["sandbox-1", "sandbox-2"], (name) => Sandbox.make({ name, latency: "5 millis" }))
      // one price and one cap, two pipelines: what two processes on one Redis or PostgreSQL store do
      const instance = (sandbox: Sandbox.SandboxTransport) =>
        Effect.provideService(
          Layer.build(Sms.layer({
            transports: [sandbox],
            pricing: { prices: [{ route: sandbox.name, country: "*", price: "0.05", currency: "USD" }] },
            budget: { caps: [{ name: "spend", metric: "spend", period: "month", limit: "0.50", currency: "USD" }] }
          })),
          Budget.BudgetStore,
          store
        )
      const contexts = yield* Effect.forEach(sandboxes, instance)
      const fiber = yield* Effect.forkChild(Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) =>
        Effect.result(Effect.provide(Effect.flatMap(Sms.Sms, (sms) => sms.send({ to: UK, text: `n${i}` })), contexts[i % 2]!)), {
        concurrency: "unbounded"
      }))
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(results.filter((r) => r._tag === "Success").length, 10)
      assert.strictEqual(outboxSizes(sandboxes).reduce((a, b) => a + b, 0), 10)
      assert.isAbove(outboxSizes(sandboxes)[1]!, 0)
    })))
})

describe("balances", () => {
  it.effect("a route below its floor is skipped with its reason, and BalanceLow goes on the bus", () =>
    Effect.gen(function*() {
      const balance = yield* Ref.make(usd("100"))
      yield* withPipeline({
        balances: {
          sources: [{ route: "sandbox-1", query: Ref.get(balance), floor: usd("5"), alertBelow: usd("20") }]
        }
      }, (sms, [first, second]) =>
        Effect.gen(function*() {
          const events = yield* Events.Events
          const subscription = yield* events.subscribe
          assert.strictEqual((yield* sms.send({ to: UK, text: "before" })).route, "sandbox-1")
          yield* Ref.set(balance, usd("1.50"))
          yield* TestClock.adjust("5 minutes")
          const low = (yield* PubSub.takeAll(subscription)).find((e) => e._tag === "BalanceLow")
          assert.strictEqual(low?._tag === "BalanceLow" ? low.route : undefined, "sandbox-1")
          assert.strictEqual(low?._tag === "BalanceLow" ? low.belowFloor : undefined, true)
          const receipt = yield* sms.send({ to: UK, text: "after" })
          assert.strictEqual(receipt.route, "sandbox-2")
          const stored = yield* sms.get(receipt.id)
          const skipped = stored.decisions.find((d) => d.route === "sandbox-1")
          assert.include(skipped?.reason ?? "", "balance below floor")
          assert.strictEqual(skipped?.attempts, 0)
          assert.strictEqual((yield* first!.outbox).length, 1)
          assert.strictEqual((yield* second!.outbox).length, 1)
        }))
    }))

  it.effect("a route already below its floor when the pipeline starts is skipped from the first send", () =>
    withPipeline({
      balances: { sources: [{ route: "sandbox-1", query: Effect.succeed(usd("1")), floor: usd("5") }] }
    }, (sms) =>
      Effect.gen(function*() {
        const receipt = yield* sms.send({ to: UK, text: "first" })
        assert.strictEqual(receipt.route, "sandbox-2")
        const estimate = yield* sms.estimate({ to: UK, text: "next" })
        assert.deepStrictEqual(estimate.candidates.map((c) => c.route), ["sandbox-2"])
      })))
})

describe("estimate", () => {
  it.effect("answers the route, why, the price and the segments that send then uses, sending and counting nothing", () =>
    withPipeline({ routing: leastCost, pricing: { prices }, budget: { caps: [{ name: "one", metric: "messages", period: "day", limit: "1" }] } }, (sms, sandboxes) =>
      Effect.gen(function*() {
        const text = "Votre colis arrive aujourd’hui 🚚"
        const estimate = yield* sms.estimate({ to: UK, text })
        yield* sms.estimate({ to: UK, text })
        assert.deepStrictEqual(outboxSizes(sandboxes), [0, 0])
        assert.strictEqual(estimate.route, "sandbox-1")
        assert.include(estimate.reason ?? "", "cost 0.031 USD = 0.031 × 1 segment")
        assert.deepStrictEqual(estimate.candidates.map((c) => c.route), ["sandbox-1", "sandbox-2"])
        assert.strictEqual(estimate.numberType, "mobile")
        assert.deepStrictEqual(estimate.unitPrice, { amount: "0.031", currency: "USD" })
        assert.isUndefined(estimate.refusal)
        assert.isFalse(estimate.quietHours)
        const receipt = yield* sms.send({ to: UK, text })
        assert.strictEqual(receipt.route, estimate.route)
        assert.strictEqual(receipt.encoding, estimate.encoding)
        assert.strictEqual(receipt.segmentCount, estimate.segmentCount)
        assert.deepStrictEqual(receipt.cost, estimate.cost)
        // the cap is now full: estimate says so, and send refuses
        const full = yield* sms.estimate({ to: UK, text })
        assert.strictEqual(full.refusal?._tag, "BudgetExceeded")
        assert.strictEqual((yield* reasonOf(sms.send({ to: UK, text })))._tag, "BudgetExceeded")
      })))

  it.effect("fails as send does, and reports quiet hours", () =>
    withPipeline({
      consent: { quietHours: { start: "21:00", end: "08:00", purposes: ["transactional"] } }
    }, (sms, sandboxes) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* reasonOf(sms.estimate({ to: "+44 12", text: "hi" })))._tag, "InvalidPhoneNumber")
        assert.strictEqual((yield* reasonOf(sms.estimate({ to: UK, template: "missing" })))._tag, "TemplateNotFound")
        assert.strictEqual((yield* reasonOf(sms.estimate("not a request")))._tag, "InvalidRequest")
        // China's preset wants a leading 【signature】: estimate refuses as send does
        const china = { to: "+8613800138000", text: "Your code is 123456" }
        const refusedEstimate = yield* reasonOf(sms.estimate(china))
        assert.strictEqual(refusedEstimate._tag, "RegionRuleViolation")
        assert.strictEqual((yield* reasonOf(sms.send(china)))._tag, refusedEstimate._tag)
        // the test clock starts at midnight: inside quiet hours
        const estimate = yield* sms.estimate({ to: UK, text: "hi" })
        assert.isTrue(estimate.quietHours)
        assert.isDefined(estimate.sendAt)
        const receipt = yield* sms.send({ to: UK, text: "hi" })
        assert.strictEqual(receipt.status, "accepted")
        assert.strictEqual(receipt.sendAt, estimate.sendAt)
        assert.deepStrictEqual(outboxSizes(sandboxes), [0, 0])
      })))

  it("client.estimate answers through the facade, and a bad price row throws naming it", async () => {
    const client = createSmsClient({ transports: [Sandbox.makeUnsafe({ name: "sandbox-1" })], pricing: { prices: [{ route: "sandbox-1", country: "GB", price: "0.04", currency: "GBP" }] } })
    try {
      const estimate = await client.estimate({ to: UK, text: "hi" })
      assert.deepStrictEqual(estimate.cost, { amount: "0.04", currency: "GBP" })
    } finally {
      await client.close()
    }
    assert.throws(
      () => createSmsClient({ pricing: { prices: [{ route: "a", country: "GB", price: "0.0O4", currency: "GBP" }] } }),
      /pricing\.prices\[0\]\.price/
    )
    assert.throws(
      () => createSmsClient({ budget: { caps: [{ name: "x", metric: "spend", period: "day", limit: "1" }] } }),
      /budget\.caps\[0\]\.currency/
    )
  })
})

describe("the express lane", () => {
  it.effect("is unchanged without money: no cost, and no budget service in the context", () =>
    withPipeline({}, (sms) =>
      Effect.gen(function*() {
        const receipt = yield* sms.send({ to: UK, text: "hi" })
        assert.isUndefined(receipt.cost)
        assert.isTrue(Option.isNone(yield* Effect.serviceOption(Budget.Budget)))
        assert.isTrue(Option.isNone(yield* Effect.serviceOption(Pricing.Pricing)))
      })))
})
