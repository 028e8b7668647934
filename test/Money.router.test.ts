// The router with a price table and a balance monitor in its context:
// least-cost by exact costs, ties by the strategy's next keys, failover in
// cost order, and routes below their balance floor skipped.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import { BalanceMonitor, Pricing, Router } from "smsforge"
import { Sandbox } from "smsforge/testing"

const UK = { e164: "+447400123456", country: "GB", type: "mobile" as const }

const request = (id: string, segmentCount = 1): Router.RouteRequest => ({
  messageId: id,
  to: UK,
  purpose: "transactional",
  text: "hi",
  segmentCount,
  encoding: "GSM-7"
})
const submission = (id: string): Router.DispatchSubmission => ({
  to: UK.e164,
  text: "hi",
  segments: ["hi"],
  encoding: "GSM-7",
  clientReference: id,
  purpose: "transactional"
})

const routerWith = (
  names: ReadonlyArray<string>,
  rules: Router.RoutingRulesInput,
  money: Layer.Layer<Pricing.Pricing | BalanceMonitor.BalanceMonitor, Pricing.PricingError>
) =>
  Effect.gen(function*() {
    const sandboxes = names.map((name) => Sandbox.makeUnsafe({ name }))
    const context = yield* Layer.build(money)
    const router = yield* Effect.provide(Router.make({ transports: sandboxes, rules }), context)
    return { router, sandboxes, context }
  })

const noBalances = BalanceMonitor.layer({ sources: [] })

describe("least-cost with a price table", () => {
  it.effect("ranks by exact cost for the recipient's number type, unpriced routes last, and prices the dispatch", () =>
    Effect.scoped(Effect.gen(function*() {
      const { router } = yield* routerWith(["a", "b", "c", "d"], {
        strategy: ["least-cost", "priority"],
        // the float prices say otherwise: the table wins
        routes: ["a", "b", "c", "d"].map((name) => ({ name, transport: name, price: { "*": name === "d" ? 0.0001 : 1 } }))
      }, Layer.merge(
        Pricing.layer({
          prices: [
            { route: "a", country: "GB", price: "0.040", currency: "USD" },
            { route: "b", country: "GB", price: "0.050", currency: "USD" },
            { route: "b", country: "GB", numberType: "mobile", price: "0.030", currency: "USD" },
            { route: "c", country: "*", price: "0.035", currency: "USD" }
          ]
        }),
        noBalances
      ))
      const plan = yield* router.plan(request("m1", 3))
      assert.deepStrictEqual(plan.map((c) => c.route), ["b", "c", "a", "d"])
      assert.deepStrictEqual(plan[0]!.exactCost?.total, Pricing.fromMicros(90_000n, "USD"))
      assert.strictEqual(plan[0]!.exactCost?.basis, "number-type")
      assert.include(plan[0]!.reason, "cost 0.09 USD = 0.03 × 3 segments")
      assert.include(plan[3]!.reason, "no price")
      const sent = yield* router.dispatch(request("m1", 3), submission("m1"))
      assert.strictEqual(sent.route, "b")
      assert.deepStrictEqual(sent.cost?.total, Pricing.fromMicros(90_000n, "USD"))
    })))

  it.effect("fails over in cost order, and the dispatch's cost is the carrying route's", () =>
    Effect.scoped(Effect.gen(function*() {
      const { router, sandboxes } = yield* routerWith(["a", "b", "c"], {
        strategy: ["health", "least-cost", "priority"],
        routes: ["a", "b", "c"].map((name) => ({ name, transport: name }))
      }, Layer.merge(
        Pricing.layer({
          prices: [
            { route: "a", country: "GB", price: "0.07", currency: "EUR" },
            { route: "b", country: "GB", price: "0.05", currency: "USD" },
            { route: "c", country: "GB", price: "0.06", currency: "USD" }
          ],
          // a EUR is 1.08 USD: a costs 0.0756 USD
          rates: { USD: "1", EUR: "1.08" }
        }),
        noBalances
      ))
      sandboxes[1]!.controls.failAlways("Rejected")
      const sent = yield* router.dispatch(request("m2"), submission("m2"))
      assert.strictEqual(sent.route, "c")
      assert.deepStrictEqual(sent.decisions.map((d) => d.route), ["b", "c"])
      assert.deepStrictEqual(sent.cost?.total, Pricing.fromMicros(60_000n, "USD"))
      sandboxes[2]!.controls.failAlways("Rejected")
      const last = yield* router.dispatch(request("m3"), submission("m3"))
      assert.strictEqual(last.route, "a")
      assert.deepStrictEqual(last.cost?.total, Pricing.fromMicros(70_000n, "EUR"))
    })))

  it("equal costs fall to the next strategy key (priority); the first candidate is always the cheapest", async () => {
    const route = fc.record({ price: fc.integer({ min: 0, max: 5 }), priority: fc.integer({ min: 0, max: 3 }), priced: fc.boolean() })
    await fc.assert(fc.asyncProperty(fc.array(route, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4 }), async (routes, segments) => {
      const names = routes.map((_, i) => `r${i}`)
      const prices = routes.flatMap((r, i) =>
        r.priced ? [{ route: names[i]!, country: "GB", price: `0.0${r.price}`, currency: "USD" }] : []
      )
      const plan = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const { router } = yield* routerWith(names, {
          strategy: ["least-cost", "priority"],
          routes: names.map((name, i) => ({ name, transport: name, priority: routes[i]!.priority }))
        }, Layer.merge(Pricing.layer({ prices }), noBalances))
        return yield* router.plan(request("p", segments))
      })))
      const costOf = (name: string) => {
        const r = routes[Number(name.slice(1))]!
        return r.priced ? r.price * segments : Infinity
      }
      for (let i = 1; i < plan.length; i++) {
        const [a, b] = [plan[i - 1]!, plan[i]!]
        assert.isAtMost(costOf(a.route), costOf(b.route))
        if (costOf(a.route) === costOf(b.route)) {
          assert.isAtMost(routes[Number(a.route.slice(1))]!.priority, routes[Number(b.route.slice(1))]!.priority)
        }
        if (a.exactCost !== undefined) assert.strictEqual(a.exactCost.total.micros, BigInt(costOf(a.route)) * 10_000n)
      }
    }), { numRuns: 80 })
  })

  it.effect("without a table, the routes' float prices still rank", () =>
    Effect.scoped(Effect.gen(function*() {
      const sandboxes = ["a", "b"].map((name) => Sandbox.makeUnsafe({ name }))
      const router = yield* Router.make({
        transports: sandboxes,
        rules: { strategy: ["least-cost"], routes: [{ name: "a", transport: "a", price: { GB: 0.05 } }, { name: "b", transport: "b", price: { GB: 0.03 } }] }
      })
      const plan = yield* router.plan(request("f", 2))
      assert.deepStrictEqual(plan.map((c) => c.route), ["b", "a"])
      assert.isUndefined(plan[0]!.exactCost)
      assert.isUndefined((yield* router.dispatch(request("f", 2), submission("f"))).cost)
    })))
})

describe("balance floors", () => {
  it.effect("a route below its floor is skipped; one whose reading is unknown is not", () =>
    Effect.scoped(Effect.gen(function*() {
      const usd = (amount: string) => Pricing.parseMoney(amount, "USD")!
      const { context, router } = yield* routerWith(["a", "b", "c"], {
        routes: ["a", "b", "c"].map((name) => ({ name, transport: name }))
      }, Layer.merge(
        Pricing.layer({}),
        BalanceMonitor.layer({
          sources: [
            { route: "a", query: Effect.succeed(usd("2")), floor: usd("5") },
            { route: "b", query: Effect.fail("down"), floor: usd("5") }
          ]
        })
      ))
      // the first poll runs in the background: wait for a reading
      yield* Effect.provide(Effect.flatMap(BalanceMonitor.BalanceMonitor, (m) => m.refresh), context)
      const sent = yield* router.dispatch(request("b1"), submission("b1"))
      assert.strictEqual(sent.route, "b")
      assert.deepStrictEqual(sent.decisions.map((d) => [d.route, d.outcome]), [["a", "BalanceBelowFloor"], ["b", "submitted"]])
      assert.include(sent.decisions[0]!.reason, "balance below floor")
      const plan = yield* router.plan(request("b2"))
      assert.deepStrictEqual(plan.map((c) => c.route), ["b", "c"])
    })))
})
