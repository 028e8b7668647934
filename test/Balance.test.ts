import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, PubSub, Ref, Schedule, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as BalanceMonitor from "../src/BalanceMonitor.ts"
import * as Pricing from "../src/Pricing.ts"

const usd = (amount: string) => Pricing.parseMoney(amount, "USD")!

class Unreachable {
  readonly _tag = "Unreachable"
}

/** A carrier whose balance the test sets, counting the reads. */
const carrier = (initial: string) =>
  Effect.gen(function*() {
    const balance = yield* Ref.make<Pricing.Money | Unreachable>(usd(initial))
    const reads = yield* Ref.make(0)
    const query = Effect.flatMap(Ref.getAndUpdate(reads, (n) => n + 1), () =>
      Effect.flatMap(Ref.get(balance), (b) => (b instanceof Unreachable ? Effect.fail(b) : Effect.succeed(b))))
    return { balance, reads, query }
  })

const drain = (subscription: PubSub.Subscription<BalanceMonitor.BalanceEvent>) =>
  Effect.map(PubSub.takeUpTo(subscription, 100), (events) =>
    [...events].map((e) => (e._tag === "BalanceQueryFailed" ? [e._tag, e.route, e.reason] : [e._tag, e.route, Pricing.format(e.balance)])))

describe("BalanceMonitor", () => {
  it.effect("polls on the schedule, alerts once below the threshold, skips below the floor", () =>
    Effect.gen(function*() {
      const a = yield* carrier("30")
      const b = yield* carrier("100")
      const scope = yield* Scope.make()
      const monitor = yield* Scope.provide(
        BalanceMonitor.make({
          schedule: Schedule.spaced("1 minute"),
          sources: [
            { route: "a", query: a.query, alertBelow: usd("20"), floor: usd("5") },
            { route: "b", query: b.query, floor: usd("5") }
          ]
        }),
        scope
      )
      const events = yield* Scope.provide(monitor.subscribe, scope)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(a.reads), 1)
      assert.isFalse(yield* monitor.isBelowFloor("a"))

      yield* Ref.set(a.balance, usd("12.5"))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Ref.get(a.reads), 2)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* drain(events), [["BalanceLow", "a", "12.5 USD"]])
      assert.isFalse(yield* monitor.isBelowFloor("a"))

      yield* Ref.set(a.balance, usd("4.99"))
      yield* TestClock.adjust("1 minute")
      assert.isTrue(yield* monitor.isBelowFloor("a"))
      assert.deepStrictEqual([...(yield* monitor.belowFloor)], ["a"])
      assert.deepStrictEqual(yield* drain(events), [])

      yield* Ref.set(a.balance, usd("50"))
      yield* TestClock.adjust("1 minute")
      assert.isFalse(yield* monitor.isBelowFloor("a"))
      assert.deepStrictEqual(yield* drain(events), [["BalanceRecovered", "a", "50 USD"]])
      assert.isFalse(yield* monitor.isBelowFloor("unknown-route"))
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a failed read keeps the last balance until it is stale, and says why", () =>
    Effect.gen(function*() {
      const a = yield* carrier("1")
      const scope = yield* Scope.make()
      const monitor = yield* Scope.provide(
        BalanceMonitor.make({
          schedule: Schedule.spaced("10 minutes"),
          maxAge: "30 minutes",
          sources: [{ route: "a", query: a.query, floor: usd("5") }]
        }),
        scope
      )
      const events = yield* Scope.provide(monitor.subscribe, scope)
      yield* TestClock.adjust("1 millis")
      assert.isTrue(yield* monitor.isBelowFloor("a"))
      yield* Ref.set(a.balance, new Unreachable())
      yield* TestClock.adjust("10 minutes")
      assert.isTrue(yield* monitor.isBelowFloor("a"))
      const [reading] = yield* monitor.readings
      assert.deepStrictEqual([reading?.failure, reading?.balance && Pricing.format(reading.balance)], ["Unreachable", "1 USD"])
      yield* TestClock.adjust("30 minutes")
      // nothing fresh says the route is short: it is not taken out on old news
      assert.isFalse(yield* monitor.isBelowFloor("a"))
      const seen = yield* drain(events)
      assert.deepStrictEqual(seen[0], ["BalanceLow", "a", "1 USD"])
      assert.deepStrictEqual(seen.slice(1).map((e) => e[0]), ["BalanceQueryFailed", "BalanceQueryFailed", "BalanceQueryFailed", "BalanceQueryFailed"])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a balance in another currency is not compared with the floor", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const monitor = yield* Scope.provide(
        BalanceMonitor.make({ sources: [{ route: "v", query: Effect.succeed(Pricing.fromMicros(1n, "EUR")), floor: usd("5") }] }),
        scope
      )
      const events = yield* Scope.provide(monitor.subscribe, scope)
      yield* monitor.refresh
      assert.isFalse(yield* monitor.isBelowFloor("v"))
      assert.deepStrictEqual(yield* drain(events), [["BalanceQueryFailed", "v", "CurrencyMismatch"]])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("the layer stops polling when it is released", () =>
    Effect.gen(function*() {
      const a = yield* carrier("10")
      const scope = yield* Scope.make()
      yield* Scope.provide(BalanceMonitor.make({ schedule: Schedule.spaced("1 minute"), sources: [{ route: "a", query: a.query }] }), scope)
      yield* TestClock.adjust("2 minutes")
      const before = yield* Ref.get(a.reads)
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(yield* Ref.get(a.reads), before)
      assert.strictEqual(before, 3)
    }))

  it.effect("onEvent sees the first poll's alert, and racing polls raise it once", () =>
    Effect.gen(function*() {
      const a = yield* carrier("3")
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const scope = yield* Scope.make()
      const monitor = yield* Scope.provide(
        BalanceMonitor.make({
          sources: [{ route: "a", query: a.query, floor: usd("5") }],
          onEvent: (event) => Ref.update(seen, (list) => [...list, event._tag])
        }),
        scope
      )
      yield* Effect.all([monitor.refresh, monitor.refresh, monitor.refresh, monitor.refresh], { concurrency: "unbounded" })
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Ref.get(seen), ["BalanceLow"])
      assert.isTrue((yield* Ref.get(a.reads)) >= 5)
      yield* Scope.close(scope, Exit.void)
    }))
})
