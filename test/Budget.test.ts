import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, PubSub, Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Budget from "../src/Budget.ts"
import * as Pricing from "../src/Pricing.ts"

const usd = (amount: string) => Pricing.parseMoney(amount, "USD")!

const budgetOf = (options: Budget.BudgetOptions) => Effect.provide(Budget.make(options), Budget.layerStoreMemory)

/** The reason of a failed effect, or undefined when it succeeded. */
const reasonOf = <A>(effect: Effect.Effect<A, Budget.BudgetError>) =>
  Effect.map(Effect.flip(effect), (error) => error.reason)

const drain = (subscription: PubSub.Subscription<Budget.BudgetEvent>) =>
  Effect.map(PubSub.takeUpTo(subscription, 1000), (events) => [...events])

const usedNow = (budget: Budget.Budget["Service"]) =>
  Effect.map(budget.usage(), (usage) => Pricing.parseMoney(usage[0]?.used ?? "0", "USD")?.micros ?? -1n)

const at = (iso: string) => TestClock.setTime(Date.parse(iso))

describe("Budget", () => {
  it.effect("a hard spend cap refuses before counting, naming the cap", () =>
    Effect.gen(function*() {
      const budget = yield* budgetOf({
        caps: [{ name: "daily-usd", metric: "spend", period: "day", limit: "0.10", currency: "USD" }]
      })
      yield* budget.reserve({ cost: usd("0.06") })
      const reason = yield* reasonOf(budget.reserve({ cost: usd("0.05") }))
      assert.strictEqual(reason._tag, "BudgetExceeded")
      if (reason._tag !== "BudgetExceeded") return
      assert.deepStrictEqual([reason.cap, reason.limit, reason.used, reason.requested], ["daily-usd", "0.1", "0.06", "0.05"])
      assert.include(reason.message, "daily-usd")
      const [usage] = yield* budget.usage()
      assert.strictEqual(usage?.used, "0.06")
      yield* budget.reserve({ cost: usd("0.04") })
      assert.strictEqual((yield* budget.usage())[0]?.used, "0.1")
    }))

  it.effect("counts messages; release gives back, commit takes the actual cost, both once", () =>
    Effect.gen(function*() {
      const budget = yield* budgetOf({
        caps: [
          { name: "count", metric: "messages", period: "day", limit: "2" },
          { name: "spend", metric: "spend", period: "month", limit: "1", currency: "USD" }
        ]
      })
      const a = yield* budget.reserve({ id: "m1", cost: usd("0.01") })
      yield* budget.reserve({ id: "m1", cost: usd("0.01") }) // a retried reserve counts once
      const b = yield* budget.reserve({ id: "m2", cost: usd("0.01") })
      const full = yield* reasonOf(budget.reserve({ id: "m3", cost: usd("0.01") }))
      assert.deepStrictEqual(full._tag === "BudgetExceeded" && full.cap, "count")
      yield* budget.release(b)
      yield* budget.release(b)
      yield* budget.commit(a, usd("0.0125"))
      yield* budget.commit(a, usd("5"))
      const usage = yield* budget.usage()
      assert.deepStrictEqual(usage.map((u) => u.used), ["1", "0.0125"])
    }))

  it.effect("caps per tenant, one tenant, and global", () =>
    Effect.gen(function*() {
      const budget = yield* budgetOf({
        caps: [
          { name: "each", scope: "tenant", metric: "messages", period: "day", limit: "1" },
          { name: "acme", scope: "tenant", tenant: "acme", metric: "messages", period: "day", limit: "5" },
          { name: "all", metric: "messages", period: "day", limit: "3" }
        ]
      })
      yield* budget.reserve({ tenant: "acme" })
      const again = yield* reasonOf(budget.reserve({ tenant: "acme" }))
      assert.deepStrictEqual(again._tag === "BudgetExceeded" && [again.cap, again.tenant], ["each", "acme"])
      yield* budget.reserve({ tenant: "globex" })
      yield* budget.reserve({})
      const global = yield* reasonOf(budget.reserve({ tenant: "initech" }))
      assert.deepStrictEqual(global._tag === "BudgetExceeded" && global.cap, "all")
      const acme = yield* budget.usage("acme")
      assert.deepStrictEqual(acme.map((u) => [u.cap, u.used]), [["each", "1"], ["acme", "1"], ["all", "3"]])
    }))

  it.effect("soft caps never refuse and alert once at 50, 80 and 100%", () =>
    Effect.gen(function*() {
      const budget = yield* budgetOf({
        caps: [{ name: "soft", mode: "soft", metric: "spend", period: "day", limit: "1.00", currency: "USD" }]
      })
      const scope = yield* Scope.make()
      const events = yield* Scope.provide(budget.subscribe, scope)
      for (let i = 0; i < 13; i++) yield* budget.reserve({ cost: usd("0.1") })
      const seen = yield* drain(events)
      assert.deepStrictEqual(
        seen.map((e) => e._tag === "BudgetThresholdReached" && [e.percent, e.used]),
        [[50, "0.5"], [80, "0.8"], [100, "1"]]
      )
      assert.strictEqual((yield* budget.usage())[0]?.used, "1.3")
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a refusal is an event too", () =>
    Effect.gen(function*() {
      const budget = yield* budgetOf({ caps: [{ name: "c", metric: "messages", period: "day", limit: "0", alerts: [] }] })
      const scope = yield* Scope.make()
      const events = yield* Scope.provide(budget.subscribe, scope)
      yield* Effect.flip(budget.reserve({}))
      const seen = yield* drain(events)
      assert.deepStrictEqual(seen.map((e) => e._tag === "BudgetRefused" && [e.cap, e.requested]), [["c", "1"]])
    }))

  it.effect("refuses what it cannot judge: no cost, another currency", () =>
    Effect.gen(function*() {
      const caps: ReadonlyArray<Budget.CapInput> = [{ name: "s", metric: "spend", period: "day", limit: "1", currency: "USD" }]
      const budget = yield* budgetOf({ caps })
      assert.strictEqual((yield* reasonOf(budget.reserve({})))._tag, "CostUnknown")
      const other = yield* reasonOf(budget.reserve({ cost: Pricing.parseMoney("0.01", "EUR")! }))
      assert.deepStrictEqual(other._tag === "CurrencyMismatch" && [other.cap, other.expected, other.actual], ["s", "USD", "EUR"])
      const lenient = yield* budgetOf({ caps, unpriced: "count-zero" })
      yield* lenient.reserve({})
    }))

  it.effect("config errors name the field", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Budget.BudgetOptions, string]> = [
        [{ caps: [{ name: "a", metric: "spend", period: "day", limit: "1.5" }] }, "caps[0].currency"],
        [{ caps: [{ name: "a", metric: "messages", period: "day", limit: "1.5" }] }, "caps[0].limit"],
        [{ caps: [{ name: "a", metric: "spend", period: "day", limit: "0.0000001", currency: "USD" }] }, "caps[0].limit"],
        [{ caps: [{ name: "a", metric: "messages", period: "week" as "day", limit: "1" }] }, "caps[0].period"],
        [{ caps: [{ name: "a", metric: "messages", period: "day", limit: "1", timeZone: "Mars/Olympus" }] }, "caps[0].timeZone"],
        [{ caps: [{ name: "a", metric: "messages", period: "day", limit: "1" }, { name: "a", metric: "messages", period: "day", limit: "1" }] }, "caps[1].name"],
        [{ caps: [{ name: "a", metric: "messages", period: "day", limit: "1", tenant: "x" }] }, "caps[0].scope"],
        [{ caps: [], timeZone: "Nowhere" }, "timeZone"]
      ]
      for (const [options, field] of cases) {
        const reason = yield* reasonOf(budgetOf(options))
        assert.deepStrictEqual(reason._tag === "InvalidBudgetConfig" && reason.field, field, JSON.stringify(options))
      }
    }))

  it.effect("a day cap rolls over at UTC midnight, a month cap at the month's end", () =>
    Effect.gen(function*() {
      yield* at("2026-01-31T23:59:00Z")
      const budget = yield* budgetOf({
        caps: [
          { name: "day", metric: "messages", period: "day", limit: "1" },
          { name: "month", metric: "messages", period: "month", limit: "2" }
        ]
      })
      yield* budget.reserve({})
      assert.strictEqual((yield* reasonOf(budget.reserve({}))).message, "BudgetExceeded: cap day (messages per day)")
      yield* TestClock.adjust("1 minute") // 1 February: both periods are new
      yield* budget.reserve({})
      yield* TestClock.adjust("1 day")
      yield* budget.reserve({})
      yield* TestClock.adjust("1 day")
      const month = yield* reasonOf(budget.reserve({}))
      assert.deepStrictEqual(month._tag === "BudgetExceeded" && [month.cap, month.periodKey], ["month", "2026-02"])
      yield* TestClock.adjust("28 days") // 3 March
      yield* budget.reserve({})
      const usage = yield* budget.usage()
      assert.deepStrictEqual(usage.map((u) => [u.periodKey, u.used]), [["2026-03-03", "1"], ["2026-03", "1"]])
    }))

  it.effect("a cap in an IANA zone follows that zone's calendar", () =>
    Effect.gen(function*() {
      yield* at("2026-12-02T15:30:00Z") // 23:30 in Shanghai
      const budget = yield* budgetOf({
        timeZone: "Asia/Shanghai",
        caps: [
          { name: "shanghai", metric: "messages", period: "day", limit: "1" },
          { name: "utc", metric: "messages", period: "day", limit: "5", timeZone: "UTC" }
        ]
      })
      yield* budget.reserve({})
      yield* TestClock.adjust("1 hour") // 00:30 on 3 December in Shanghai, still 2 December in UTC
      yield* budget.reserve({})
      const usage = yield* budget.usage()
      assert.deepStrictEqual(usage.map((u) => [u.periodKey, u.used]), [["2026-12-03", "1"], ["2026-12-02", "2"]])
    }))

  it.effect("forgets a reservation after its ttl, keeping its count", () =>
    Effect.gen(function*() {
      const budget = yield* budgetOf({ caps: [{ name: "c", metric: "messages", period: "month", limit: "5" }], reservationTtl: "1 hour" })
      const r = yield* budget.reserve({ id: "x" })
      yield* TestClock.adjust("2 hours")
      yield* budget.release(r)
      assert.strictEqual((yield* budget.usage())[0]?.used, "1")
    }))

  it.effect("concurrent reservations never pass a hard cap", () =>
    Effect.gen(function*() {
      const budget = yield* budgetOf({ caps: [{ name: "c", metric: "spend", period: "day", limit: "1", currency: "USD" }] })
      const exits = yield* Effect.forEach(
        Array.from({ length: 300 }, (_, i) => i),
        () => Effect.exit(budget.reserve({ cost: usd("0.0075") })),
        { concurrency: "unbounded" }
      )
      const won = exits.filter(Exit.isSuccess).length
      assert.strictEqual(won, 133) // floor(1 / 0.0075)
      assert.strictEqual((yield* budget.usage())[0]?.used, "0.9975")
    }))

  it.effect("a message no cap applies to never reaches the store", () =>
    Effect.gen(function*() {
      const untouchable = Budget.BudgetStore.of({
        reserve: () => Effect.die("reserve"),
        release: () => Effect.die("release"),
        commit: () => Effect.die("commit"),
        get: () => Effect.die("get")
      })
      const budget = yield* Effect.provideService(
        Budget.make({ caps: [{ name: "acme", scope: "tenant", tenant: "acme", metric: "messages", period: "day", limit: "1" }] }),
        Budget.BudgetStore,
        untouchable
      )
      const r = yield* budget.reserve({ tenant: "globex", cost: usd("0.01") })
      assert.deepStrictEqual(r.holds, [])
      yield* budget.commit(r)
      yield* budget.release(r)
    }))

  it("property: any sequence of reserve, release and commit keeps a hard cap at reserve time", async () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant("reserve" as const), micros: fc.integer({ min: 0, max: 400_000 }) }),
      fc.record({ op: fc.constantFrom("release" as const, "commit" as const), pick: fc.nat(), micros: fc.integer({ min: 0, max: 400_000 }) })
    )
    await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 60 }), (steps) =>
      Effect.runPromise(Effect.gen(function*() {
        const budget = yield* budgetOf({ caps: [{ name: "c", metric: "spend", period: "day", limit: "1", currency: "USD" }] })
        const open: Array<Budget.Reservation> = []
        let committed = 0n
        for (const s of steps) {
          if (s.op === "reserve") {
            const exit = yield* Effect.exit(budget.reserve({ cost: Pricing.fromMicros(BigInt(s.micros), "USD") }))
            if (Exit.isSuccess(exit)) {
              open.push(exit.value)
              // a reservation that got through left the counter within the cap
              if ((yield* usedNow(budget)) > 1_000_000n) return false
            }
          } else if (open.length > 0) {
            const [r] = open.splice(s.pick % open.length, 1)
            if (r === undefined) continue
            if (s.op === "release") yield* budget.release(r)
            else {
              yield* budget.commit(r, Pricing.fromMicros(BigInt(s.micros), "USD"))
              committed += BigInt(s.micros)
            }
          }
          const held = open.reduce((sum, r) => sum + (r.cost?.micros ?? 0n), 0n)
          // the counter is exactly what is held and committed: nothing lost, nothing twice
          if ((yield* usedNow(budget)) !== held + committed) return false
        }
        return true
      }))
    ), { numRuns: 100 })
  })
})
