import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Layer, Logger, Option, Result, Schema } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import type { InputMatchesSchema } from "../src/internal/routing/rules.ts"
import { pickSticky } from "../src/internal/routing/select.ts"
import * as Router from "../src/Router.ts"
import * as Sandbox from "../src/testing/Sandbox.ts"
import * as Sms from "../src/Sms.ts"
import * as Transport from "../src/Transport.ts"

// helpers

interface Call {
  readonly at: number
  readonly to: string
  readonly from: string | undefined
}

const capabilities = (maxPerSecond?: number): Transport.Capabilities => ({
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: true,
  inbound: false,
  senderTypes: ["alphanumeric", "long-code"],
  ...(maxPerSecond === undefined ? {} : { maxPerSecond })
})

/** A transport that records calls and fails as `behave` says (by call number). */
const fake = (
  name: string,
  behave: (n: number) => Transport.TransportErrorReason | undefined = () => undefined,
  maxPerSecond?: number
) => {
  const calls: Array<Call> = []
  const transport = Transport.make({
    name,
    capabilities: capabilities(maxPerSecond),
    submit: (s) =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        const n = calls.length
        calls.push({ at, to: s.to, from: s.from })
        const reason = behave(n)
        if (reason !== undefined) return yield* Effect.fail(reason)
        return { providerMessageId: `${name}-${n}` }
      })
  })
  return { transport, calls }
}

const down = () => new Transport.Unavailable({})

const request = (
  id: string,
  options: Partial<Router.RouteRequest> & { readonly e164?: string; readonly country?: string } = {}
): Router.RouteRequest => {
  const { e164 = "+447700900123", country = "GB", ...rest } = options
  return {
    messageId: id,
    to: { e164, country },
    purpose: "transactional",
    text: "Hello",
    segmentCount: 1,
    encoding: "GSM-7",
    ...rest
  }
}

const submission = (r: Router.RouteRequest): Router.DispatchSubmission => ({
  to: r.to.e164,
  text: r.text,
  segments: [r.text],
  encoding: r.encoding,
  clientReference: r.messageId,
  purpose: r.purpose === "marketing" ? "marketing" : "transactional"
})

/** Dispatches while moving the TestClock, so backoff and pacing complete. */
const send = (router: Router.Router["Service"], r: Router.RouteRequest, advance: Duration.Input = "1 hour") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.exit(router.dispatch(r, submission(r))))
    yield* TestClock.adjust(advance)
    return yield* Fiber.join(fiber)
  })

const reasonOf = (exit: Exit.Exit<Router.Dispatch, Router.RoutingError>) => {
  assert.isTrue(Exit.isFailure(exit))
  const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
  assert.isTrue(error !== undefined && error._tag === "Some")
  return (error as { value: Router.RoutingError }).value.reason
}

const success = (exit: Exit.Exit<Router.Dispatch, Router.RoutingError>): Router.Dispatch => {
  if (Exit.isSuccess(exit)) return exit.value
  assert.fail(`expected success, got ${String(exit.cause)}`)
}

const invalid = (rules: unknown, transports = ["a", "b"]) =>
  Effect.gen(function*() {
    // untyped on purpose: the rules also arrive from JSON
    const exit = yield* Effect.exit(Router.validateRules(rules as Router.RoutingRulesInput, transports))
    const reason = reasonOf(exit as Exit.Exit<never, Router.RoutingError>)
    assert.strictEqual(reason._tag, "InvalidRoutingRules")
    return reason as Router.InvalidRoutingRules
  })

describe("Router", () => {
  describe("rules", () => {
    it("the public RoutingRulesInput type matches the Schema", () => {
      const matches: InputMatchesSchema<Router.RoutingRulesInput> = true
      assert.isTrue(matches)
    })

    it.effect("decoding errors name the field", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* invalid({ routes: [{ name: "a", transport: "a" }, { name: "b", transport: 3 }] })).field, "routes[1].transport")
        assert.strictEqual((yield* invalid({ routes: [{ name: "a", transport: "zzz" }] })).field, "routes[0].transport")
        assert.strictEqual((yield* invalid({ routes: [{ name: "a", transport: "a" }, { name: "a", transport: "b" }] })).field, "routes[1].name")
        assert.strictEqual((yield* invalid({ routes: [{ name: "a", transport: "a", maxPerSecond: -1 }] })).field, "routes[0].maxPerSecond")
        assert.strictEqual((yield* invalid({ routes: [{ name: "a", transport: "a", price: { GB: "cheap" } }] })).field, "routes[0].price.GB")
        assert.strictEqual((yield* invalid({ routes: [{ name: "a", transport: "a", windows: [{ from: 25, to: 3 }] }] })).field, "routes[0].windows[0].from")
        assert.strictEqual((yield* invalid({ routes: [], strategy: ["cheapest"] })).field, "strategy[0]")
        assert.strictEqual(
          (yield* invalid({ routes: [], regionRules: [{ name: "x", check: { _tag: "TextPattern", pattern: "(" } }] })).field,
          "regionRules[0].check.pattern"
        )
        assert.strictEqual((yield* invalid("nope")).field, "rules")
      }))

    it.effect("messages never carry the offending value", () =>
      Effect.gen(function*() {
        const reason = yield* invalid({ routes: [{ name: "a", transport: "a", senders: { GB: ["+447700900999!"] } }] })
        assert.strictEqual(reason.field, "routes[0].senders.GB[0]")
        assert.notInclude(reason.message, "447700900999")
      }))

    it.effect("hot swap: setRules replaces routing without a restart; bad rules keep the old ones", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a")
        const b = fake("b")
        const router = yield* Router.make({ transports: [a.transport, b.transport] })
        assert.strictEqual(success(yield* send(router, request("1"))).route, "a")
        yield* router.setRules({ routes: [{ name: "only-b", transport: "b" }] })
        assert.strictEqual(success(yield* send(router, request("2"))).route, "only-b")
        const bad = yield* Effect.exit(router.setRules({ routes: [{ name: "x", transport: "nope" }] }))
        assert.strictEqual(reasonOf(bad as Exit.Exit<never, Router.RoutingError>)._tag, "InvalidRoutingRules")
        assert.strictEqual(success(yield* send(router, request("3"))).route, "only-b")
        assert.deepStrictEqual((yield* router.routes).map((r) => r.name), ["only-b"])
      })))
  })

  describe("strategies", () => {
    it.effect("priority with failover records what failed before", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", down)
        const b = fake("b")
        const router = yield* Router.make({ transports: [a.transport, b.transport], retry: { maxAttempts: 2 } })
        const sent = success(yield* send(router, request("m1")))
        assert.strictEqual(sent.route, "b")
        assert.strictEqual(sent.attempts, 3)
        assert.deepStrictEqual(sent.decisions.map((d) => [d.route, d.outcome, d.attempts]), [["a", "Unavailable", 2], ["b", "submitted", 1]])
        assert.include(sent.decisions[0]!.reason, "rank 1/2")
      })))

    it.effect("least-cost orders by per-country price × segments", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({
          transports: [fake("a").transport, fake("b").transport, fake("c").transport],
          rules: {
            strategy: ["least-cost", "priority"],
            routes: [
              { name: "a", transport: "a", price: { "*": 0.05 } },
              { name: "b", transport: "b", price: { GB: 0.03, "*": 0.09 } },
              { name: "c", transport: "c" }
            ]
          }
        })
        const gb = yield* router.plan(request("1", { segmentCount: 3 }))
        assert.deepStrictEqual(gb.map((c) => c.route), ["b", "a", "c"])
        assert.closeTo(gb[0]!.cost!, 0.09, 1e-9)
        assert.include(gb[0]!.reason, "0.03 × 3 segments")
        const us = yield* router.plan(request("2", { e164: "+12025550123", country: "US" }))
        assert.deepStrictEqual(us.map((c) => c.route), ["a", "b", "c"])
      })))

    it.effect("an unknown key is an error naming it, at every level", () =>
      Effect.gen(function*() {
        const typo = yield* invalid({ routes: [{ name: "uk-only", transport: "a", contries: ["GB"] }] })
        assert.strictEqual(typo.field, "routes[0].contries")
        assert.strictEqual(typo.problem, "Unknown key")
        assert.strictEqual((yield* invalid({ routes: [], stratgy: ["priority"] })).field, "stratgy")
        assert.strictEqual(
          (yield* invalid({ routes: [{ name: "a", transport: "a", windows: [{ from: 1, to: 2, tz: "UTC" }] }] })).field,
          "routes[0].windows[0].tz"
        )
        assert.strictEqual(
          (yield* invalid({ routes: [], regionRules: [{ name: "r", check: { _tag: "ApprovedTemplate", strict: true } }] })).field,
          "regionRules[0].check.strict"
        )
      }))

    it.effect("setRules refuses an unknown key and keeps the old rules", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({ transports: [fake("a").transport, fake("b").transport] })
        const rules = { routes: [{ name: "uk-only", transport: "b", contries: ["GB"] }] }
        const bad = yield* Effect.exit(router.setRules(rules as Router.RoutingRulesInput))
        const reason = reasonOf(bad as Exit.Exit<never, Router.RoutingError>) as Router.InvalidRoutingRules
        assert.strictEqual(reason.field, "routes[0].contries")
        assert.deepStrictEqual((yield* router.routes).map((r) => r.name), ["a", "b"])
      })))

    it.effect("Sms.layer refuses routing with an unknown key", () =>
      Effect.gen(function*() {
        const routing = { routes: [{ name: "uk-only", transport: "a", contries: ["GB"] }] }
        const layer = Sms.layer({ transports: [fake("a").transport], routing: routing as Router.RoutingRulesInput })
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
        const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
        assert.strictEqual(error?._tag, "RoutingError")
        const reason = (error as Router.RoutingError).reason as Router.InvalidRoutingRules
        assert.strictEqual(reason.field, "routes[0].contries")
      }))

    it("RoutingConfig refuses an unknown key when decoded strictly, and accepts the typed input", () => {
      const decode = Schema.decodeUnknownExit(Router.RoutingConfig, { onExcessProperty: "error" })
      assert.isTrue(Exit.isFailure(decode({ routes: [{ name: "a", transport: "a", contries: ["GB"] }] })))
      const ok: Router.RoutingRulesInput = { routes: [{ name: "a", transport: "a", countries: ["GB"] }] }
      assert.isTrue(Exit.isSuccess(decode(ok)))
    })

    it("RoutingConfig embeds in a larger config Schema and stays strict there", () => {
      const Config = Schema.Struct({ routing: Schema.optional(Router.RoutingConfig) })
      const decode = Schema.decodeUnknownResult(Config, { onExcessProperty: "error" })
      const bad = decode({ routing: { routes: [{ name: "a", transport: "a", contries: ["GB"] }] } })
      assert.isTrue(Result.isFailure(bad))
      if (Result.isFailure(bad)) assert.include(String(bad.failure), "contries")
      assert.isTrue(Result.isSuccess(decode({ routing: { routes: [{ name: "a", transport: "a", countries: ["GB"] }] } })))
    })

    it.effect("weighted is reproducible for a seed and follows the weights", () =>
      Effect.scoped(Effect.gen(function*() {
        const rules: Router.RoutingRulesInput = {
          strategy: ["weighted"],
          routes: [{ name: "a", transport: "a", weight: 3 }, { name: "b", transport: "b", weight: 1 }]
        }
        const build = (seed: number) => Router.make({ transports: [fake("a").transport, fake("b").transport], rules, seed })
        const r1 = yield* build(42)
        const r2 = yield* build(42)
        let firstA = 0
        for (let i = 0; i < 400; i++) {
          const p1 = yield* r1.plan(request(`m${i}`))
          const p2 = yield* r2.plan(request(`m${i}`))
          assert.deepStrictEqual(p1.map((c) => c.route), p2.map((c) => c.route))
          if (p1[0]!.route === "a") firstA++
        }
        // 3:1 weights: a comes first about 75 % of the time
        assert.isTrue(firstA > 260 && firstA < 340, `a first ${firstA}/400`)
      })))

    it.effect("health-aware: a route whose circuit is open is skipped, then probed after the open time", () =>
      Effect.scoped(Effect.gen(function*() {
        let broken = true
        const a = fake("a", () => (broken ? down() : undefined))
        const b = fake("b")
        const router = yield* Router.make({
          transports: [a.transport, b.transport],
          retry: { maxAttempts: 1 },
          circuitBreaker: { failures: 2, openDuration: "1 minute" }
        })
        yield* send(router, request("1"), "1 second")
        yield* send(router, request("2"), "1 second")
        assert.strictEqual(a.calls.length, 2)
        const third = success(yield* send(router, request("3"), "1 second"))
        assert.strictEqual(a.calls.length, 2)
        assert.deepStrictEqual(third.decisions.map((d) => [d.route, d.outcome]), [["a", "CircuitOpen"], ["b", "submitted"]])
        assert.strictEqual((yield* router.routes).find((r) => r.name === "a")!.circuit, "Open")
        broken = false
        yield* TestClock.adjust("2 minutes")
        const fourth = success(yield* send(router, request("4"), "1 second"))
        assert.strictEqual(fourth.route, "a")
        assert.strictEqual((yield* router.routes).find((r) => r.name === "a")!.circuit, "Closed")
      })))

    it.effect("logs a Warning naming the route when its circuit opens, and Info when it closes again", () => {
      const lines: Array<string> = []
      const logger = Logger.make((options) => {
        lines.push(`${options.logLevel} ${String(options.message)}`)
      })
      return Effect.scoped(Effect.gen(function*() {
        let broken = true
        const a = fake("a", () => (broken ? down() : undefined))
        const b = fake("b")
        const router = yield* Router.make({
          transports: [a.transport, b.transport],
          retry: { maxAttempts: 1 },
          circuitBreaker: { failures: 2, openDuration: "1 minute" }
        })
        yield* send(router, request("1"), "1 second")
        yield* send(router, request("2"), "1 second")
        yield* Effect.yieldNow
        assert.deepStrictEqual(lines, ["Warn route a: circuit open for 1m"])
        broken = false
        yield* TestClock.adjust("2 minutes")
        yield* send(router, request("3"), "1 second")
        yield* Effect.yieldNow
        assert.deepStrictEqual(lines, ["Warn route a: circuit open for 1m", "Info route a: circuit closed again"])
        assert.notInclude(lines.join("\n"), "+44")
      })).pipe(Effect.provide(Logger.layer([logger])))
    })

    it.effect("AllRoutesFailed carries every route's last reason", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", down)
        const b = fake("b", () => new Transport.Rejected({ code: "21610" }))
        const router = yield* Router.make({ transports: [a.transport, b.transport], retry: { maxAttempts: 3 } })
        const reason = reasonOf(yield* send(router, request("1")))
        assert.strictEqual(reason._tag, "AllRoutesFailed")
        const failed = reason as Router.AllRoutesFailed
        assert.deepStrictEqual(failed.failures.map((f) => [f.route, f.reason, f.attempts]), [["a", "Unavailable", 3], ["b", "Rejected", 1]])
        assert.strictEqual(failed.attempts, 4)
        assert.strictEqual(failed.decisions.length, 2)
      })))

    it.effect("InvalidNumber stops failover", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", () => new Transport.InvalidNumber({}))
        const b = fake("b")
        const router = yield* Router.make({ transports: [a.transport, b.transport] })
        const reason = reasonOf(yield* send(router, request("1"))) as Router.AllRoutesFailed
        assert.deepStrictEqual(reason.failures.map((f) => [f.route, f.reason]), [["a", "InvalidNumber"], ["b", "InvalidNumber"]])
        assert.strictEqual(b.calls.length, 0)
      })))

    it.effect("filters: countries or prefixes, purposes, tenants; nothing matching is NoRoute{ field: to }", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({
          transports: [fake("a").transport, fake("b").transport],
          rules: {
            routes: [
              { name: "uk", transport: "a", countries: ["GB"], purposes: ["transactional"] },
              { name: "tenant-x", transport: "b", prefixes: ["+4477"], tenants: ["x"] }
            ]
          }
        })
        assert.deepStrictEqual((yield* router.plan(request("1"))).map((c) => c.route), ["uk"])
        assert.deepStrictEqual((yield* router.plan(request("2", { tenant: "x" }))).map((c) => c.route), ["uk", "tenant-x"])
        const none = reasonOf(yield* send(router, request("3", { e164: "+12025550123", country: "US" })))
        assert.strictEqual(none._tag, "NoRoute")
        assert.strictEqual((none as Router.NoRoute).field, "to")
      })))

    it.effect("time windows are UTC hours and days", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({
          transports: [fake("a").transport, fake("b").transport],
          rules: {
            routes: [
              { name: "night", transport: "a", windows: [{ from: 22, to: 6 }] },
              { name: "weekday", transport: "b", windows: [{ days: [1, 2, 3, 4, 5], from: 8, to: 18 }] }
            ]
          }
        })
        yield* TestClock.setTime(Date.UTC(2026, 10, 23, 23, 0)) // Monday 23:00
        assert.deepStrictEqual((yield* router.plan(request("1"))).map((c) => c.route), ["night"])
        yield* TestClock.setTime(Date.UTC(2026, 10, 24, 9, 0)) // Tuesday 09:00
        assert.deepStrictEqual((yield* router.plan(request("2"))).map((c) => c.route), ["weekday"])
        yield* TestClock.setTime(Date.UTC(2026, 10, 29, 9, 0)) // Sunday 09:00
        const sent = yield* send(router, request("3"), "1 second")
        const reason = reasonOf(sent) as Router.AllRoutesFailed
        assert.deepStrictEqual(reason.failures.map((f) => f.reason), ["OutsideWindow", "OutsideWindow"])
      })))
  })

  describe("senders", () => {
    const rules = {
      regionRules: [],
      routes: [{
        name: "a",
        transport: "a",
        senders: {
          GB: ["ACME", "+447700900001", "+447700900002"],
          US: ["ACME"],
          "*": ["+15550000001", "+15550000002", "+15550000003"]
        }
      }]
    }

    it.effect("the same recipient keeps the same sender", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({ transports: [fake("a").transport], rules })
        const seen = new Map<string, string | undefined>()
        const used = new Set<string | undefined>()
        for (let i = 0; i < 50; i++) {
          const e164 = `+4477009${String(10_000 + (i % 10)).padStart(5, "0")}`
          const plan = yield* router.plan(request(`m${i}`, { e164 }))
          const from = plan[0]!.from
          if (seen.has(e164)) assert.strictEqual(seen.get(e164), from)
          seen.set(e164, from)
          used.add(from)
        }
        assert.isTrue(used.size > 1, "recipients spread over the pool")
      })))

    it.effect("alphanumeric only where allowed, numeric fallback elsewhere", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({ transports: [fake("a").transport], rules })
        // US refuses alphanumeric: its pool has only "ACME", so the "*" pool's numbers are used
        const us = yield* router.plan(request("1", { e164: "+12025550123", country: "US" }))
        assert.match(us[0]!.from!, /^\+1555/)
        assert.include(us[0]!.reason, "numeric fallback")
        // an explicit alphanumeric sender is replaced in the US, kept in GB
        const usExplicit = yield* router.plan(request("2", { e164: "+12025550123", country: "US", from: "ACME" }))
        assert.match(usExplicit[0]!.from!, /^\+1555/)
        const gbExplicit = yield* router.plan(request("3", { from: "ACME" }))
        assert.strictEqual(gbExplicit[0]!.from, "ACME")
        // CN with no numeric sender at all: the route is skipped
        const cnRouter = yield* Router.make({
          transports: [fake("a").transport],
          rules: { regionRules: [], routes: [{ name: "a", transport: "a", senders: { "*": ["ACME"] } }] }
        })
        const cn = reasonOf(yield* send(cnRouter, request("4", { e164: "+8613800138000", country: "CN" }), "1 second"))
        assert.deepStrictEqual((cn as Router.AllRoutesFailed).failures.map((f) => f.reason), ["NoSender"])
      })))

    it.effect("the chosen sender reaches the transport", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a")
        const router = yield* Router.make({ transports: [a.transport], rules })
        const sent = success(yield* send(router, request("1", { e164: "+12025550123", country: "US" })))
        assert.strictEqual(a.calls[0]!.from, sent.from)
        assert.match(sent.from!, /^\+1555/)
      })))

    it("rendezvous hashing: removing a sender only moves that sender's recipients", () => {
      fc.assert(fc.property(
        fc.uniqueArray(fc.stringMatching(/^\+1555[0-9]{7}$/), { minLength: 2, maxLength: 8 }),
        fc.array(fc.stringMatching(/^\+44[0-9]{10}$/), { minLength: 1, maxLength: 30 }),
        fc.nat(),
        (pool, recipients, k) => {
          const removed = pool[k % pool.length]!
          const smaller = pool.filter((s) => s !== removed)
          return recipients.every((r) => {
            const before = pickSticky(pool, r, "route")
            return before === removed || pickSticky(smaller, r, "route") === before
          })
        }
      ))
    })
  })

  describe("region rules", () => {
    const cn = (id: string, extra: Partial<Router.RouteRequest> & { readonly e164?: string } = {}) =>
      request(id, {
        e164: "+8613800138000",
        country: "CN",
        text: "【Acme】Your code is 123456",
        template: { id: "otp", approved: true },
        ...extra
      })

    it.effect("China: a leading 【signature】 and an approved template", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({ transports: [fake("a").transport] })
        const noSignature = reasonOf(yield* send(router, cn("1", { text: "Your code is 123456" })))
        assert.deepStrictEqual([noSignature._tag, (noSignature as Router.RegionRuleViolation).field, (noSignature as Router.RegionRuleViolation).rule], ["RegionRuleViolation", "text", "cn-signature"])
        const emptySignature = reasonOf(yield* send(router, cn("2", { text: "【】code" })))
        assert.strictEqual((emptySignature as Router.RegionRuleViolation).rule, "cn-signature")
        const unapproved = reasonOf(yield* send(router, cn("3", { template: { id: "otp", approved: false } })))
        assert.deepStrictEqual([(unapproved as Router.RegionRuleViolation).field, (unapproved as Router.RegionRuleViolation).rule], ["template", "cn-approved-template"])
        const noTemplate = reasonOf(yield* send(router, cn("4", { template: undefined })))
        assert.strictEqual((noTemplate as Router.RegionRuleViolation).field, "template")
        success(yield* send(router, cn("5")))
      })))

    it.effect("China: verification codes are limited per number (1/min, 5/h, 10/day)", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a")
        const router = yield* Router.make({ transports: [a.transport] })
        const otp = (id: string) => cn(id, { purpose: "verification" })
        success(yield* send(router, otp("1"), "1 second"))
        const second = reasonOf(yield* send(router, otp("2"), "1 second"))
        assert.strictEqual(second._tag, "RateLimited")
        const limited = second as Router.RateLimited
        assert.strictEqual(limited.field, "to")
        assert.strictEqual(limited.rule, "cn-verification-limit")
        assert.isTrue(Duration.toMillis(limited.retryAfter) > 0 && Duration.toMillis(limited.retryAfter) <= 60_000)
        // another number is not affected
        success(yield* send(router, cn("x", { purpose: "verification", e164: "+8613900139000" }), "1 second"))
        // one a minute: four more fit in the hour, the sixth is refused by the hourly limit
        for (let i = 0; i < 4; i++) {
          yield* TestClock.adjust("61 seconds")
          success(yield* send(router, otp(`ok${i}`), "1 second"))
        }
        yield* TestClock.adjust("61 seconds")
        const hourly = reasonOf(yield* send(router, otp("h"), "1 second")) as Router.RateLimited
        assert.strictEqual(hourly._tag, "RateLimited")
        assert.isTrue(Duration.toMillis(hourly.retryAfter) > 60_000)
        // transactional texts to the same number are not limited
        success(yield* send(router, cn("t"), "1 second"))
        assert.strictEqual(a.calls.length, 7)
      })))

    it.effect("UK: marketing needs opt-out wording; transactional does not", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({ transports: [fake("a").transport] })
        const bad = reasonOf(yield* send(router, request("1", { purpose: "marketing", text: "50% off today!" })))
        assert.deepStrictEqual([bad._tag, (bad as Router.RegionRuleViolation).field, (bad as Router.RegionRuleViolation).rule], ["RegionRuleViolation", "text", "uk-marketing-opt-out"])
        success(yield* send(router, request("2", { purpose: "marketing", text: "50% off today! Reply STOP to opt out" })))
        success(yield* send(router, request("3", { purpose: "marketing", text: "50% off. To opt-out visit acme.example" })))
        success(yield* send(router, request("4", { text: "Your parcel is on its way" })))
        // "nonstop" is not opt-out wording
        const nonstop = reasonOf(yield* send(router, request("5", { purpose: "marketing", text: "Nonstop deals" })))
        assert.strictEqual(nonstop._tag, "RegionRuleViolation")
      })))

    it.effect("presets are data users extend, or turn off", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({
          transports: [fake("a").transport],
          rules: {
            routes: [{ name: "a", transport: "a" }],
            regionRules: [...Router.presets.all, { name: "in-dlt-template", countries: ["IN"], check: { _tag: "ApprovedTemplate" } }]
          }
        })
        const india = reasonOf(yield* send(router, request("1", { e164: "+919812345678", country: "IN" })))
        assert.strictEqual((india as Router.RegionRuleViolation).rule, "in-dlt-template")
        const off = yield* Router.make({ transports: [fake("b").transport], rules: { routes: [{ name: "b", transport: "b" }], regionRules: [] } })
        success(yield* send(off, request("2", { e164: "+8613800138000", country: "CN", text: "no signature" })))
      })))
  })

  describe("throughput", () => {
    it.effect("a route's rate is never exceeded: callers wait for their slot", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", undefined, 10)
        const router = yield* Router.make({ transports: [a.transport] })
        const fibers = yield* Effect.forEach(
          Array.from({ length: 30 }, (_, i) => request(`m${i}`)),
          (r) => Effect.forkChild(router.dispatch(r, submission(r)))
        )
        yield* TestClock.adjust("10 seconds")
        for (const fiber of fibers) yield* Fiber.join(fiber)
        assert.strictEqual(a.calls.length, 30)
        for (let i = 1; i < a.calls.length; i++) assert.isTrue(a.calls[i]!.at - a.calls[i - 1]!.at >= 100)
      })))

    it.effect("a rate wait past validUntil fails over instead of waiting", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", undefined, 1)
        const b = fake("b")
        const router = yield* Router.make({ transports: [a.transport, b.transport] })
        const now = yield* Clock.currentTimeMillis
        success(yield* send(router, request("1"), "1 millis"))
        const second = success(yield* send(router, request("2", { validUntil: now + 500 }), "1 millis"))
        assert.strictEqual(second.route, "b")
        assert.strictEqual(second.decisions[0]!.outcome, "DeadlineExceeded")
      })))

    it.effect("maxRateWait fails over rather than waiting long for a slot", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", undefined, 2)
        const b = fake("b")
        const router = yield* Router.make({ transports: [a.transport, b.transport], maxRateWait: "100 millis" })
        success(yield* send(router, request("1"), "1 millis"))
        const second = success(yield* send(router, request("2"), "1 millis"))
        assert.deepStrictEqual(second.decisions.map((d) => [d.route, d.outcome]), [["a", "RouteSaturated"], ["b", "submitted"]])
      })))

    it.effect("retries stop at validUntil; failover happens within it, never after it", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", down)
        const b = fake("b")
        const router = yield* Router.make({
          transports: [a.transport, b.transport],
          retry: { base: "1 second", maxAttempts: 10, jitter: 0 }
        })
        const now = yield* Clock.currentTimeMillis
        const sent = success(yield* send(router, request("1", { validUntil: now + 2_500 })))
        // attempts at 0 s and 1 s; the next (3 s) would start after the deadline, so b goes at 1 s
        assert.deepStrictEqual(a.calls.map((c) => c.at - now), [0, 1_000])
        assert.deepStrictEqual(b.calls.map((c) => c.at - now), [1_000])
        assert.strictEqual(sent.route, "b")

        // a slow carrier answers after the deadline: the next route is not tried
        const slow = Transport.make({
          name: "slow",
          capabilities: capabilities(),
          submit: () => Effect.flatMap(Effect.sleep("2 seconds"), () => Effect.fail(new Transport.Timeout({})))
        })
        const c = fake("c")
        const late = yield* Router.make({ transports: [slow, c.transport] })
        const start = yield* Clock.currentTimeMillis
        const reason = reasonOf(yield* send(late, request("2", { validUntil: start + 1_500 }))) as Router.AllRoutesFailed
        assert.deepStrictEqual(reason.failures.map((f) => [f.route, f.reason, f.attempts]), [["slow", "Timeout", 1], ["c", "DeadlineExceeded", 0]])
        assert.strictEqual(c.calls.length, 0)
      })))

    it.effect("Throttled's retryAfter is honoured before the retry", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", (n) => (n === 0 ? new Transport.Throttled({ retryAfter: Duration.seconds(7) }) : undefined))
        const router = yield* Router.make({ transports: [a.transport] })
        const sent = success(yield* send(router, request("1")))
        assert.strictEqual(sent.attempts, 2)
        assert.isTrue(a.calls[1]!.at - a.calls[0]!.at >= 7_000)
      })))

    it.effect("stores are swappable: routers sharing a store share circuits and rates (as with Redis)", () =>
      Effect.gen(function*() {
        const a1 = fake("a", down, 10)
        const a2 = fake("a", undefined, 10)
        const b = fake("b")
        const options = { retry: { maxAttempts: 1 }, circuitBreaker: { failures: 1, openDuration: "1 minute" } } as const
        const [one, two] = yield* Effect.all([
          Router.make({ transports: [a1.transport, b.transport], ...options }),
          Router.make({ transports: [a2.transport, b.transport], ...options })
        ])
        // the first router's failure opens the circuit the second one reads
        assert.strictEqual(success(yield* send(one, request("1"), "1 second")).route, "b")
        const second = success(yield* send(two, request("2"), "1 second"))
        assert.strictEqual(second.route, "b")
        assert.strictEqual(second.decisions[0]!.outcome, "CircuitOpen")
        assert.strictEqual(a2.calls.length, 0)
        assert.strictEqual((yield* two.routes).find((r) => r.name === "a")!.circuit, "Open")
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.mergeAll(RateLimiter.layerStoreMemory, CircuitBreaker.layerStoreMemory()))
      ))

    it.effect("on a shared store a route that succeeded is steady for a second: another router's open circuit is seen at most that late", () =>
      Effect.gen(function*() {
        const a1 = fake("a", down)
        const a2 = fake("a")
        const b = fake("b")
        const options = { retry: { maxAttempts: 1 }, circuitBreaker: { failures: 1, openDuration: "1 minute" } } as const
        const [one, two] = yield* Effect.all([
          Router.make({ transports: [a1.transport, b.transport], ...options }),
          Router.make({ transports: [a2.transport, b.transport], ...options })
        ])
        assert.strictEqual(success(yield* send(two, request("1"), "0 millis")).route, "a")
        // the first router's failure opens the shared circuit
        assert.strictEqual(success(yield* send(one, request("2"), "0 millis")).route, "b")
        // within the second the second router sends on a without asking the store
        assert.strictEqual(success(yield* send(two, request("3"), "999 millis")).route, "a")
        yield* TestClock.adjust("1 millis")
        const late = success(yield* send(two, request("4"), "0 millis"))
        assert.strictEqual(late.route, "b")
        assert.strictEqual(late.decisions[0]!.outcome, "CircuitOpen")
        assert.strictEqual(a2.calls.length, 2)
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.mergeAll(RateLimiter.layerStoreMemory, CircuitBreaker.layerStoreMemory()))
      ))

    it.effect("explicit stores option", () =>
      Effect.scoped(Effect.gen(function*() {
        const a = fake("a", undefined, 5)
        const router = yield* Router.make({
          transports: [a.transport],
          stores: { rateLimiter: RateLimiter.layerStoreMemory, circuitBreaker: CircuitBreaker.layerStoreMemory() }
        })
        const fibers = yield* Effect.forEach(["1", "2", "3"], (id) => Effect.forkChild(router.dispatch(request(id), submission(request(id)))))
        yield* TestClock.adjust("1 second")
        for (const fiber of fibers) yield* Fiber.join(fiber)
        // a store the router does not own may be shared between processes: its
        // slots carry the margin (10 ms) and 1 ms of store resolution
        assert.deepStrictEqual(a.calls.map((c) => c.at - a.calls[0]!.at), [0, 203, 406])
      })))

    it.effect("works with the Sandbox carrier", () =>
      Effect.scoped(Effect.gen(function*() {
        const primary = yield* Sandbox.make({ name: "primary" })
        const backup = yield* Sandbox.make({ name: "backup" })
        yield* primary.failAlways()
        const router = yield* Router.make({ transports: [primary, backup] })
        const sent = success(yield* send(router, request("1")))
        assert.strictEqual(sent.route, "backup")
        assert.strictEqual((yield* backup.outbox).length, 1)
        assert.strictEqual((yield* primary.outbox).length, 0)
      })))
  })
})
