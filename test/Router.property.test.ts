import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { prng } from "../src/internal/seededHash.ts"
import * as RouteRegion from "../src/internal/routing/region.ts"
import { decodeRules, type Rules } from "../src/internal/routing/rules.ts"
import { alphanumericRefused, isNumericSender, plan } from "../src/internal/routing/select.ts"
import * as Router from "../src/Router.ts"
import * as Transport from "../src/Transport.ts"

// fault patterns a carrier can show

type Fault =
  | { readonly _tag: "Healthy" }
  | { readonly _tag: "FailNext"; readonly n: number }
  | { readonly _tag: "FailAlways" }
  | { readonly _tag: "DownFor"; readonly from: number; readonly duration: number }
  | { readonly _tag: "Throttled"; readonly every: number; readonly retryAfter: number }
  | { readonly _tag: "Flaky"; readonly seed: number; readonly rate: number }

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.constant<Fault>({ _tag: "Healthy" }),
  fc.record({ _tag: fc.constant("FailNext" as const), n: fc.integer({ min: 1, max: 12 }) }),
  fc.constant<Fault>({ _tag: "FailAlways" }),
  fc.record({ _tag: fc.constant("DownFor" as const), from: fc.integer({ min: 0, max: 5_000 }), duration: fc.integer({ min: 100, max: 60_000 }) }),
  fc.record({ _tag: fc.constant("Throttled" as const), every: fc.integer({ min: 1, max: 4 }), retryAfter: fc.integer({ min: 0, max: 3_000 }) }),
  fc.record({ _tag: fc.constant("Flaky" as const), seed: fc.nat(), rate: fc.double({ min: 0.05, max: 0.9, noNaN: true }) })
)

interface RouteSpec {
  readonly fault: Fault
  /** Carrier TPS in capabilities, or a route rule maxPerSecond. */
  readonly rate: { readonly where: "transport" | "route"; readonly perSecond: number } | undefined
}

const routeArb: fc.Arbitrary<RouteSpec> = fc.record({
  fault: faultArb,
  rate: fc.option(
    fc.record({ where: fc.constantFrom("transport" as const, "route" as const), perSecond: fc.constantFrom(1, 2, 5, 10, 20, 50) }),
    { nil: undefined }
  )
})

interface Scenario {
  readonly routes: ReadonlyArray<RouteSpec>
  readonly messages: number
  readonly concurrent: boolean
  readonly gaps: ReadonlyArray<number>
  readonly maxAttempts: number
  readonly base: number
  readonly failures: number
  readonly openMillis: number
  readonly validity: number | undefined
  readonly strategy: ReadonlyArray<"priority" | "weighted" | "least-cost" | "health">
  readonly seed: number
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  routes: fc.array(routeArb, { minLength: 1, maxLength: 4 }),
  messages: fc.integer({ min: 1, max: 20 }),
  concurrent: fc.boolean(),
  gaps: fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 20, maxLength: 20 }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
  base: fc.integer({ min: 10, max: 2_000 }),
  failures: fc.integer({ min: 1, max: 5 }),
  openMillis: fc.integer({ min: 100, max: 30_000 }),
  validity: fc.option(fc.integer({ min: 1, max: 120_000 }), { nil: undefined }),
  strategy: fc.shuffledSubarray(["priority", "weighted", "least-cost", "health"] as const, { minLength: 1 }),
  seed: fc.nat()
})

const isHealthy = (spec: RouteSpec) => spec.fault._tag === "Healthy"

interface Submit {
  readonly route: string
  readonly message: string
  readonly at: number
  readonly circuit: string
  readonly accepted: boolean
}

const run = (scenario: Scenario) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const submits: Array<Submit> = []
    let router: Router.Router["Service"] | undefined
    const transports = scenario.routes.map((spec, i) => {
      const name = `r${i}`
      const random = spec.fault._tag === "Flaky" ? prng(spec.fault.seed) : () => 1
      let calls = 0
      return Transport.make({
        name,
        capabilities: {
          channel: "sms",
          unicode: true,
          concatenation: true,
          deliveryReceipts: true,
          inbound: false,
          senderTypes: ["long-code"],
          ...(spec.rate?.where === "transport" ? { maxPerSecond: spec.rate.perSecond } : {})
        },
        submit: (s) =>
          Effect.gen(function*() {
            const at = yield* Clock.currentTimeMillis
            const status = yield* router!.routes
            const circuit = status.find((r) => r.name === name)?.circuit ?? "missing"
            const n = calls++
            const fault = spec.fault
            let reason: Transport.TransportErrorReason | undefined
            switch (fault._tag) {
              case "FailNext":
                if (n < fault.n) reason = new Transport.Unavailable({})
                break
              case "FailAlways":
                reason = new Transport.Timeout({})
                break
              case "DownFor":
                if (at >= start + fault.from && at < start + fault.from + fault.duration) reason = new Transport.Unavailable({})
                break
              case "Throttled":
                if (n % fault.every === 0) reason = new Transport.Throttled({ retryAfter: Duration.millis(fault.retryAfter) })
                break
              case "Flaky":
                if (random() < fault.rate) reason = new Transport.Unavailable({})
                break
            }
            submits.push({ route: name, message: s.clientReference, at, circuit, accepted: reason === undefined })
            if (reason !== undefined) return yield* Effect.fail(reason)
            return { providerMessageId: `${name}-${n}` }
          })
      })
    })
    router = yield* Router.make({
      transports,
      seed: scenario.seed,
      retry: { maxAttempts: scenario.maxAttempts, base: Duration.millis(scenario.base) },
      circuitBreaker: { failures: scenario.failures, openDuration: Duration.millis(scenario.openMillis) },
      rules: {
        strategy: scenario.strategy,
        routes: scenario.routes.map((spec, i) => ({
          name: `r${i}`,
          transport: `r${i}`,
          weight: i + 1,
          price: { "*": (i * 7) % 3 },
          ...(spec.rate?.where === "route" ? { maxPerSecond: spec.rate.perSecond } : {})
        }))
      }
    })
    const messages = Array.from({ length: scenario.messages }, (_, i) => `m${i}`)
    const one = (id: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const request: Router.RouteRequest = {
          messageId: id,
          to: { e164: "+447700900123", country: "GB" },
          purpose: "transactional",
          text: "Hello",
          segmentCount: 1,
          encoding: "GSM-7",
          validUntil: scenario.validity === undefined ? undefined : now + scenario.validity
        }
        return yield* router!.dispatch(request, {
          to: request.to.e164,
          text: "Hello",
          segments: ["Hello"],
          encoding: "GSM-7",
          clientReference: id,
          purpose: "transactional",
          validUntil: request.validUntil
        })
      })
    const exits: Array<Exit.Exit<Router.Dispatch, Router.RoutingError>> = []
    if (scenario.concurrent) {
      const fibers = yield* Effect.forEach(messages, (id, i) =>
        Effect.forkChild(Effect.delay(Effect.exit(one(id)), Duration.millis(scenario.gaps[i % scenario.gaps.length]!))))
      yield* TestClock.adjust("2 days")
      for (const fiber of fibers) exits.push(yield* Fiber.join(fiber))
    } else {
      const fiber = yield* Effect.forkChild(Effect.forEach(messages, (id, i) =>
        Effect.delay(Effect.exit(one(id)), Duration.millis(scenario.gaps[i % scenario.gaps.length]!))))
      yield* TestClock.adjust("2 days")
      exits.push(...(yield* Fiber.join(fiber)))
    }
    return { exits, submits }
  })

const check = (scenario: Scenario) =>
  Effect.gen(function*() {
    const { exits, submits } = yield* run(scenario)
    // 1. every dispatch ends in exactly one outcome: a Dispatch or a typed RoutingError
    assert.strictEqual(exits.length, scenario.messages)
    for (const exit of exits) {
      if (Exit.isFailure(exit)) {
        assert.isFalse(Cause.hasDies(exit.cause), "no defects")
        assert.isFalse(Cause.hasInterrupts(exit.cause), "no interruptions")
        const error = Exit.findErrorOption(exit)
        assert.isTrue(error._tag === "Some" && error.value instanceof Router.RoutingError)
      }
    }
    for (let i = 0; i < exits.length; i++) {
      const id = `m${i}`
      const exit = exits[i]!
      const mine = submits.filter((s) => s.message === id)
      // 2. one submission per attempt, never a duplicate acceptance
      const accepted = mine.filter((s) => s.accepted)
      assert.isAtMost(accepted.length, 1, `${id} accepted more than once`)
      if (Exit.isSuccess(exit)) {
        assert.strictEqual(mine.length, exit.value.attempts)
        assert.strictEqual(accepted.length, 1)
        assert.strictEqual(accepted[0]!.route, exit.value.route)
        assert.strictEqual(exit.value.decisions.at(-1)!.outcome, "submitted")
        assert.strictEqual(exit.value.decisions.reduce((n, d) => n + d.attempts, 0), mine.length)
      } else {
        assert.strictEqual(accepted.length, 0)
        assert.strictEqual(mine.length, Router.attemptsOf(Exit.findErrorOption(exit).pipe((o) => o._tag === "Some" ? o.value : assert.fail("no error"))))
      }
      // per route: no more submissions than maxAttempts
      for (let r = 0; r < scenario.routes.length; r++) {
        assert.isAtMost(mine.filter((s) => s.route === `r${r}`).length, scenario.maxAttempts)
      }
    }
    // 3. never to a route whose circuit is open
    for (const s of submits) assert.notStrictEqual(s.circuit, "Open", `${s.route} submitted while open`)
    // 4. never faster than a route's rate: no one-second window holds more than perSecond
    scenario.routes.forEach((spec, r) => {
      if (spec.rate === undefined) return
      const times = submits.filter((s) => s.route === `r${r}`).map((s) => s.at).sort((a, b) => a - b)
      const limit = spec.rate.perSecond
      for (let i = limit; i < times.length; i++) {
        assert.isAtLeast(times[i]! - times[i - limit]!, 1000 - 1e-6, `r${r} over ${limit}/s`)
      }
    })
    // 5. a healthy eligible route means success (without a deadline that could cut it short)
    if (scenario.validity === undefined && scenario.routes.some(isHealthy)) {
      for (const exit of exits) assert.isTrue(Exit.isSuccess(exit), "a healthy route exists")
    }
  })

describe("Router properties", () => {
  it("hold for any fault pattern of the carriers (TestClock)", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (scenario) =>
        Effect.runPromise(check(scenario).pipe(Effect.scoped, Effect.provide(TestClock.layer())))),
      { numRuns: 150 }
    )
  })

  it.effect("concurrent dispatches on one rate-limited route keep its pace", () =>
    Effect.scoped(check({
      routes: [{ fault: { _tag: "Flaky", seed: 3, rate: 0.3 }, rate: { where: "transport", perSecond: 20 } }, {
        fault: { _tag: "Healthy" },
        rate: { where: "route", perSecond: 5 }
      }],
      messages: 200,
      concurrent: true,
      gaps: [0],
      maxAttempts: 3,
      base: 100,
      failures: 5,
      openMillis: 1_000,
      validity: undefined,
      strategy: ["health", "priority"],
      seed: 1
    })))
})

// pure selection rules

const countryArb = fc.constantFrom("GB", "US", "CN", "DE", "FR", "BR")
const senderArb = fc.oneof(fc.constantFrom("ACME", "Shop", "Bank1"), fc.stringMatching(/^\+1555[0-9]{7}$/))
const routeInputArb = (i: number) =>
  fc.record({
    name: fc.constant(`r${i}`),
    transport: fc.constant(`t${i % 2}`),
    priority: fc.integer({ min: 0, max: 5 }),
    weight: fc.integer({ min: 0, max: 5 }),
    countries: fc.option(fc.uniqueArray(countryArb, { maxLength: 3 }), { nil: undefined }),
    purposes: fc.option(fc.uniqueArray(fc.constantFrom("transactional", "marketing", "verification") as fc.Arbitrary<Router.Purpose>, { minLength: 1 }), { nil: undefined }),
    senders: fc.option(fc.dictionary(fc.oneof(countryArb, fc.constant("*")), fc.array(senderArb, { maxLength: 3 })), { nil: undefined }),
    price: fc.option(fc.dictionary(fc.oneof(countryArb, fc.constant("*")), fc.double({ min: 0, max: 1, noNaN: true })), { nil: undefined }),
    windows: fc.option(fc.array(fc.record({ from: fc.integer({ min: 0, max: 23 }), to: fc.integer({ min: 0, max: 24 }) }), { maxLength: 2 }), { nil: undefined })
  })

const rulesArb = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc.record({
    strategy: fc.shuffledSubarray(["priority", "weighted", "least-cost", "health"] as const),
    routes: fc.tuple(...Array.from({ length: n }, (_, i) => routeInputArb(i)))
  })
)

const requestArb = fc.record({
  messageId: fc.string(),
  country: countryArb,
  national: fc.stringMatching(/^[0-9]{9}$/),
  purpose: fc.constantFrom("transactional", "marketing", "verification") as fc.Arbitrary<Router.Purpose>,
  from: fc.option(senderArb, { nil: undefined }),
  segmentCount: fc.integer({ min: 1, max: 10 })
}).map((r) => ({
  messageId: r.messageId,
  to: { e164: `+${r.country === "US" ? "1" : "44"}${r.national}`, country: r.country },
  purpose: r.purpose,
  from: r.from,
  segmentCount: r.segmentCount
}))

const decoded = (input: unknown): Rules => {
  const result = decodeRules(input, { transports: ["t0", "t1"], defaultRegionRules: RouteRegion.all, defaultAlphanumericRefused: alphanumericRefused })
  if (result._tag === "Problem") throw new Error(`${result.problem.field}: ${result.problem.problem}`)
  return result.rules
}

describe("selection properties", () => {
  it("generated rules decode; plans are deterministic, complete and ordered by the strategy", () => {
    fc.assert(fc.property(rulesArb, requestArb, fc.nat(), fc.integer({ min: 0, max: 7 * 86_400_000 }), (input, request, seed, now) => {
      const rules = decoded(input)
      const ctx = { now, seed, health: () => "Closed" as const }
      const p1 = plan(rules, request, ctx)
      const p2 = plan(rules, request, ctx)
      assert.deepStrictEqual(p1.candidates.map((c) => [c.route.name, c.from, c.reason]), p2.candidates.map((c) => [c.route.name, c.from, c.reason]))
      // every matching route is either a candidate or skipped with a reason
      assert.strictEqual(p1.candidates.length + p1.skipped.length, p1.matched)
      // the first strategy key orders the candidates
      const first = rules.strategy[0]
      for (let i = 1; i < p1.candidates.length; i++) {
        const a = p1.candidates[i - 1]!
        const b = p1.candidates[i]!
        if (first === "priority") assert.isAtMost(a.route.priority, b.route.priority)
        if (first === "least-cost") assert.isAtMost(a.cost ?? Infinity, b.cost ?? Infinity)
      }
      // senders: numeric only where alphanumeric is refused; from a pool when the route has one
      for (const c of p1.candidates) {
        if (c.from !== undefined && rules.alphanumericRefused.has(request.to.country)) assert.isTrue(isNumericSender(c.from))
        if (c.from === undefined) assert.isTrue(c.route.senders === undefined && request.from === undefined)
      }
    }), { numRuns: 300 })
  })

  it("a route's weighted draw does not depend on the other routes' filters", () => {
    fc.assert(fc.property(rulesArb, requestArb, fc.nat(), (input, request, seed) => {
      const rules = decoded({ ...input, strategy: ["weighted"] })
      const all = plan(rules, request, { now: 0, seed, health: () => "Closed" })
      const names = all.candidates.map((c) => c.route.name)
      // dropping a candidate keeps the others' relative order
      const without = plan({ ...rules, routes: rules.routes.map((r) => r.name === names[0] ? { ...r, enabled: false } : r) }, request, { now: 0, seed, health: () => "Closed" })
      assert.deepStrictEqual(without.candidates.map((c) => c.route.name), names.slice(1))
    }), { numRuns: 200 })
  })

  it("region presets: a leading 【signature】 passes, anything else fails, for CN only", () => {
    const rules = decoded({ routes: [] }).regionRules
    fc.assert(fc.property(fc.string({ minLength: 1 }).filter((s) => !s.includes("】")), fc.string(), countryArb, (signature, body, country) => {
      const to = { e164: country === "CN" ? "+8613800138000" : "+447700900123", country }
      const template = { id: "t", approved: true }
      const signed = RouteRegion.checkContent(rules, { to, purpose: "transactional", text: `【${signature}】${body}`, template })
      assert.isUndefined(signed)
      const unsigned = RouteRegion.checkContent(rules, { to, purpose: "transactional", text: body.startsWith("【") ? `x${body}` : body, template })
      assert.strictEqual(unsigned?.rule, country === "CN" ? "cn-signature" : undefined)
    }))
  })

  it("UK marketing passes exactly when it carries opt-out wording", () => {
    const rules = decoded({ routes: [] }).regionRules
    const to = { e164: "+447700900123", country: "GB" }
    fc.assert(fc.property(fc.stringMatching(/^[a-z ]{0,40}$/), fc.constantFrom("STOP", "Reply STOP", "opt out", "Opt-out", "unsubscribe"), (text, wording) => {
      assert.isUndefined(RouteRegion.checkContent(rules, { to, purpose: "marketing", text: `${text} ${wording}` }))
      assert.isUndefined(RouteRegion.checkContent(rules, { to, purpose: "transactional", text }))
      const bare = RouteRegion.checkContent(rules, { to, purpose: "marketing", text })
      const hasWording = /\b(?:stop|opt[ -]?out|unsubscribe)\b/i.test(text)
      assert.strictEqual(bare === undefined, hasWording)
    }))
  })
})

describe("strict rules properties", () => {
  const known = {
    top: new Set(["strategy", "routes", "regionRules", "alphanumericRefused"]),
    route: new Set(["name", "transport", "enabled", "priority", "weight", "countries", "prefixes", "purposes", "tenants", "senders", "price", "maxPerSecond", "windows", "timeout"]),
    window: new Set(["days", "from", "to"])
  }
  const extraKey = (taken: ReadonlySet<string>) =>
    fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !taken.has(k) && k !== "__proto__")
  const options = { transports: ["a"], defaultRegionRules: [], defaultAlphanumericRefused: [] }
  const field = (input: unknown) => {
    const decoded = decodeRules(input, options)
    return decoded._tag === "Problem" ? decoded.problem.field : undefined
  }

  it("any extra key, at the top, in a route or in a window, is refused and named", () => {
    fc.assert(fc.property(extraKey(known.top), fc.anything(), (key, value) => {
      const input: Record<string, unknown> = { routes: [] }
      input[key] = value
      assert.strictEqual(field(input), key)
    }))
    fc.assert(fc.property(extraKey(known.route), fc.anything(), (key, value) => {
      const route: Record<string, unknown> = { name: "r", transport: "a" }
      route[key] = value
      assert.strictEqual(field({ routes: [route] }), `routes[0].${key}`)
    }))
    fc.assert(fc.property(extraKey(known.window), fc.anything(), (key, value) => {
      const window: Record<string, unknown> = { from: 1, to: 2 }
      window[key] = value
      assert.strictEqual(field({ routes: [{ name: "r", transport: "a", windows: [window] }] }), `routes[0].windows[0].${key}`)
    }))
  })
})
