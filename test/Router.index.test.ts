/**
 * Route planning through the index (countries by map, prefixes by trie)
 * decides exactly what walking every route and prefix in rule order decides.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { hash32, prng, prngAt, seedOf } from "../src/internal/seededHash.ts"
import { decodeRules, type RouteRule, type Rules } from "../src/internal/routing/rules.ts"
import {
  alphanumericRefused,
  chooseSender,
  type Health,
  inWindow,
  matchesRecipient,
  plan,
  type PlanContext,
  priceOf,
  recipientRoutes,
  type SelectRequest
} from "../src/internal/routing/select.ts"

// the model: the linear planner, every route in rule order

const healthRank = (h: Health): number => (h === "Closed" || h === "HalfOpen" ? 0 : h === "Unknown" ? 1 : 2)

interface ModelCandidate {
  readonly route: RouteRule
  readonly from: string | undefined
  readonly cost: number | undefined
  readonly health: Health
  readonly draw: number
}

const compareBy = (key: Rules["strategy"][number], a: ModelCandidate, b: ModelCandidate): number => {
  switch (key) {
    case "priority":
      return a.route.priority - b.route.priority
    case "weighted":
      return b.draw - a.draw
    case "least-cost": {
      const ca = a.cost ?? Number.POSITIVE_INFINITY
      const cb = b.cost ?? Number.POSITIVE_INFINITY
      return ca === cb ? 0 : ca < cb ? -1 : 1
    }
    case "health":
      return healthRank(a.health) - healthRank(b.health)
  }
}

const linearPlan = (rules: Rules, request: SelectRequest, ctx: PlanContext) => {
  const random = rules.strategy.includes("weighted") ? prng(hash32(request.messageId, seedOf(ctx.seed))) : undefined
  const candidates: Array<ModelCandidate> = []
  const skipped: Array<readonly [string, string]> = []
  let matched = 0
  for (const route of rules.routes) {
    const u = random === undefined ? 0 : random()
    const draw = random === undefined ? 0 : route.weight <= 0 ? -1 + u * 1e-9 : Math.pow(u, 1 / route.weight)
    const accepts = route.enabled &&
      matchesRecipient(route.countries, route.prefixes, request.to) &&
      (route.purposes === undefined || route.purposes.includes(request.purpose)) &&
      (route.tenants === undefined || (request.tenant !== undefined && route.tenants.includes(request.tenant)))
    if (!accepts) continue
    matched++
    if (!inWindow(route, ctx.now)) {
      skipped.push([route.name, "OutsideWindow"])
      continue
    }
    const sender = chooseSender(route, request, rules.alphanumericRefused)
    if (sender._tag === "NoSender") {
      skipped.push([route.name, "NoSender"])
      continue
    }
    const health = ctx.health(route)
    if (health === "Open") {
      skipped.push([route.name, "CircuitOpen"])
      continue
    }
    const price = priceOf(route, request.to.country)
    candidates.push({ route, from: sender.from, cost: price === undefined ? undefined : price * request.segmentCount, health, draw })
  }
  candidates.sort((a, b) => {
    for (const key of rules.strategy) {
      const c = compareBy(key, a, b)
      if (c !== 0) return c
    }
    return a.route.index - b.route.index
  })
  return { matched, candidates: candidates.map((c) => [c.route.name, c.from, c.cost, c.health] as const), skipped }
}

const indexedPlan = (rules: Rules, request: SelectRequest, ctx: PlanContext) => {
  const planned = plan(rules, request, ctx)
  return {
    matched: planned.matched,
    candidates: planned.candidates.map((c) => [c.route.name, c.from, c.cost, c.health] as const),
    skipped: planned.skipped.map((s) => [s.route.name, s.tag] as const)
  }
}

// generators: small vocabularies, so routes and recipients meet often

const numbers: ReadonlyArray<{ readonly e164: string; readonly country: string }> = [
  { e164: "+447700900123", country: "GB" },
  { e164: "+447911123456", country: "GB" },
  { e164: "+4915123456789", country: "DE" },
  { e164: "+12025550123", country: "US" },
  { e164: "+8613800138000", country: "CN" },
  { e164: "+88213000000", country: "001" }
]
const prefixes = ["+4", "+44", "+447", "+4477", "+44770", "+49", "+1", "+1202", "+86", "+8613", "+882"]
const countries = ["GB", "DE", "US", "CN", "001", "FR"]

const routeArb = fc.record({
  enabled: fc.option(fc.boolean(), { nil: undefined }),
  priority: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  weight: fc.option(fc.constantFrom(0, 0.5, 1, 3), { nil: undefined }),
  countries: fc.option(fc.uniqueArray(fc.constantFrom(...countries), { maxLength: 3 }), { nil: undefined }),
  prefixes: fc.option(fc.array(fc.constantFrom(...prefixes), { maxLength: 3 }), { nil: undefined }),
  purposes: fc.option(fc.uniqueArray(fc.constantFrom("transactional" as const, "marketing" as const, "verification" as const), { maxLength: 2 }), { nil: undefined }),
  tenants: fc.option(fc.uniqueArray(fc.constantFrom("t1", "t2"), { maxLength: 2 }), { nil: undefined }),
  senders: fc.option(fc.constantFrom({ "*": ["ACME"] }, { GB: ["ACME", "+447700900001"], "*": ["+15550001111"] }), { nil: undefined }),
  price: fc.option(fc.constantFrom({ "*": 0.05 }, { GB: 0.03, CN: 0.02 }), { nil: undefined }),
  windows: fc.option(fc.constantFrom([{ from: 8, to: 18 }], [{ days: [1, 2, 3, 4, 5], from: 22, to: 6 }]), { nil: undefined })
}, { requiredKeys: [] })

const rulesArb = fc.record({
  routes: fc.array(routeArb, { maxLength: 30 }),
  strategy: fc.constantFrom(
    ["health", "priority"] as const,
    ["weighted"] as const,
    ["health", "least-cost", "priority"] as const,
    ["priority", "weighted"] as const
  )
})

const toRules = (input: { readonly routes: ReadonlyArray<object>; readonly strategy: ReadonlyArray<string> }): Rules => {
  const decoded = decodeRules(
    { strategy: input.strategy, regionRules: [], routes: input.routes.map((r, i) => ({ name: `r${i}`, transport: "t", ...r })) },
    { transports: ["t"], defaultRegionRules: [], defaultAlphanumericRefused: alphanumericRefused }
  )
  if (decoded._tag !== "Ok") throw new Error(`${decoded.problem.field}: ${decoded.problem.problem}`)
  return decoded.rules
}

const requestArb = fc.record({
  to: fc.constantFrom(...numbers),
  purpose: fc.constantFrom("transactional" as const, "marketing" as const, "verification" as const),
  tenant: fc.option(fc.constantFrom("t1", "t2", "t3"), { nil: undefined }),
  from: fc.option(fc.constantFrom("ACME", "+447700900001"), { nil: undefined }),
  segmentCount: fc.integer({ min: 1, max: 4 }),
  messageId: fc.string({ maxLength: 8 })
})

const healths: ReadonlyArray<Health> = ["Closed", "Open", "HalfOpen", "Unknown"]

describe("route index", () => {
  it("prngAt(seed, n) is prng(seed)'s n-th number", () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 1, max: 200 }), (seed, n) => {
      const next = prng(seed)
      let value = 0
      for (let i = 0; i < n; i++) value = next()
      return prngAt(seed, n) === value
    }))
  })

  it("property: recipientRoutes finds exactly the routes whose countries or prefixes accept the number, in rule order", () => {
    fc.assert(fc.property(rulesArb, fc.constantFrom(...numbers), (input, to) => {
      const rules = toRules(input)
      const expected = rules.routes.filter((r) => matchesRecipient(r.countries, r.prefixes, to)).map((r) => r.index)
      assert.deepStrictEqual([...recipientRoutes(rules.routes, to)], expected)
    }), { numRuns: 500 })
  })

  it("property: the indexed planner decides what the linear planner decides (matched, order, senders, costs, skips, draws)", () => {
    fc.assert(fc.property(
      rulesArb,
      requestArb,
      fc.integer({ min: 0, max: 7 * 24 - 1 }),
      fc.nat(),
      fc.array(fc.constantFrom(...healths), { minLength: 30, maxLength: 30 }),
      (input, request, hour, seed, health) => {
        const rules = toRules(input)
        const ctx: PlanContext = { now: Date.UTC(2024, 0, 7) + hour * 3_600_000, seed, health: (route) => health[route.index]! }
        assert.deepStrictEqual(indexedPlan(rules, request, ctx), linearPlan(rules, request, ctx))
      }
    ), { numRuns: 500 })
  })

  it("10,000 routes by prefix and country: a number visits only its own routes", () => {
    const routes = Array.from({ length: 10_000 }, (_, i) =>
      i % 2 === 0 ? { prefixes: [`+1${String(i).padStart(5, "0")}`] } : { countries: [i === 9_999 ? "GB" : "FR"] })
    const rules = toRules({ routes, strategy: ["health", "priority"] })
    assert.deepStrictEqual([...recipientRoutes(rules.routes, { e164: "+10123456789", country: "US" })], [1234])
    assert.deepStrictEqual([...recipientRoutes(rules.routes, { e164: "+447700900123", country: "GB" })], [9_999])
    const planned = plan(rules, { to: { e164: "+10123456789", country: "US" }, purpose: "transactional", segmentCount: 1, messageId: "m" }, {
      now: 0,
      seed: 1,
      health: () => "Closed"
    })
    assert.deepStrictEqual(planned.candidates.map((c) => c.route.name), ["r1234"])
  })
})
