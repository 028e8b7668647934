// Budget caps on real Redis and PostgreSQL: many reservations racing from two
// independent store instances (each its own connection) never pass a cap, and
// release/commit made on one instance apply once for all.
import { assert, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Layer } from "effect"
import { Redis } from "effect/persistence"
import { SqlClient } from "effect/sql"
import { createHash, randomUUID } from "node:crypto"
import * as Budget from "../../src/Budget.ts"
import * as Pricing from "../../src/Pricing.ts"
import * as PgBudget from "../../stores/postgres/BudgetStore.ts"
import * as PgStores from "../../stores/postgres/index.ts"
import * as RedisBudget from "../../stores/redis/BudgetStore.ts"
import * as RedisStores from "../../stores/redis/index.ts"
import { describeWith, proxyTo } from "./env.ts"

const redisUrl = process.env.REDIS_URL
const pgUrl = process.env.DATABASE_URL
const run = randomUUID().replaceAll("-", "").slice(0, 12)
const usd = (amount: string) => Pricing.parseMoney(amount, "USD")!

type StoreLayer = Layer.Layer<Budget.BudgetStore, unknown>

/** Two budgets on two independently built store layers: two instances of an application. */
const twoInstances = (storeLayer: () => StoreLayer, options: Budget.BudgetOptions) =>
  Effect.gen(function*() {
    const a = yield* Layer.build(storeLayer())
    const b = yield* Layer.build(storeLayer())
    return [
      yield* Effect.provide(Budget.make(options), a),
      yield* Effect.provide(Budget.make(options), b)
    ] as const
  })

const race = (budgets: ReadonlyArray<Budget.Budget["Service"]>, count: number, request: () => Budget.ReserveRequest) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) => Effect.exit(budgets[i % budgets.length]!.reserve(request())),
    { concurrency: "unbounded" }
  )

const conformance = (name: string, storeLayer: () => StoreLayer) => {
  const caps = (tag: string): Budget.BudgetOptions => ({
    caps: [
      { name: `${tag}-spend`, metric: "spend", period: "day", limit: "1", currency: "USD" },
      { name: `${tag}-count`, scope: "tenant", metric: "messages", period: "month", limit: "40" }
    ]
  })

  it.live(`${name}: racing reservations from two instances never pass a spend cap`, () =>
    Effect.gen(function*() {
      const tag = randomUUID()
      const budgets = yield* twoInstances(storeLayer, { caps: [caps(tag).caps[0]!] })
      const exits = yield* race(budgets, 300, () => ({ cost: usd("0.0075") }))
      const won = exits.filter(Exit.isSuccess).length
      assert.strictEqual(won, 133) // floor(1 / 0.0075): every refusal was a real lack of room
      for (const exit of exits) {
        if (Exit.isSuccess(exit)) continue
        const error = Cause.squash(exit.cause)
        assert.instanceOf(error, Budget.BudgetError)
        assert.strictEqual((error as Budget.BudgetError).reason._tag, "BudgetExceeded")
      }
      const [usageA, usageB] = [yield* budgets[0].usage(), yield* budgets[1].usage()]
      assert.strictEqual(usageA[0]?.used, "0.9975")
      assert.deepStrictEqual(usageA, usageB)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live(`${name}: racing per-tenant message caps hold for every tenant`, () =>
    Effect.gen(function*() {
      const tag = randomUUID()
      const budgets = yield* twoInstances(storeLayer, { caps: [caps(tag).caps[1]!] })
      let n = 0
      const exits = yield* race(budgets, 200, () => ({ tenant: n++ % 2 === 0 ? "acme" : "globex" }))
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 80)
      for (const tenant of ["acme", "globex"]) {
        assert.strictEqual((yield* budgets[1].usage(tenant))[0]?.used, "40")
      }
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live(`${name}: release and commit on the other instance apply once`, () =>
    Effect.gen(function*() {
      const tag = randomUUID()
      const [a, b] = yield* twoInstances(storeLayer, caps(tag))
      const first = yield* a.reserve({ id: `${tag}-1`, tenant: "acme", cost: usd("0.25") })
      yield* a.reserve({ id: `${tag}-1`, tenant: "acme", cost: usd("0.25") })
      const second = yield* b.reserve({ id: `${tag}-2`, tenant: "acme", cost: usd("0.5") })
      yield* b.release(first)
      yield* a.release(first)
      yield* a.commit(second, usd("0.4321"))
      yield* b.commit(second, usd("0.9"))
      const usage = yield* a.usage("acme")
      assert.deepStrictEqual(usage.map((u) => u.used), ["0.4321", "1"])
      const refused = yield* Effect.flip(b.reserve({ tenant: "acme", cost: usd("0.6") }))
      assert.deepStrictEqual(refused.reason._tag === "BudgetExceeded" && refused.reason.cap, `${tag}-spend`)
      const after = yield* b.usage("acme")
      assert.deepStrictEqual(after.map((u) => u.used), ["0.4321", "1"])
    }).pipe(Effect.scoped), { timeout: 60_000 })
}

/**
 * A store behind a proxy that is cut or black-holed: every call fails with
 * StoreUnavailable within its time limit (real time: what is tested is how
 * long the store waits for a server that does not answer).
 */
const outages = (name: string, url: () => string, storeLayer: (proxied: string) => StoreLayer) => {
  for (const outage of ["cut", "blackhole"] as const) {
    it.live(`${name}: a ${outage === "cut" ? "cut" : "black-holed"} store fails with StoreUnavailable within its timeout`, () =>
      Effect.gen(function*() {
        const proxy = yield* proxyTo(url())
        const budget = yield* Effect.provide(
          Budget.make({ caps: [{ name: randomUUID(), scope: "tenant", metric: "messages", period: "day", limit: "5" }] }),
          yield* Layer.build(storeLayer(proxy.url))
        )
        yield* budget.reserve({ tenant: "acme" })
        // Runs before the client's own finalizer, which would wait for black-holed sockets.
        yield* Effect.addFinalizer(() => proxy.cut)
        yield* proxy[outage]
        const calls: ReadonlyArray<Effect.Effect<unknown, Budget.BudgetError>> = [budget.reserve({ tenant: "acme" }), budget.usage("acme")]
        for (const call of calls) {
          const start = yield* Clock.currentTimeMillis
          const error = yield* Effect.flip(call)
          assert.strictEqual(error.reason._tag, "StoreUnavailable")
          assert.notInclude(error.message, "acme")
          assert.isBelow((yield* Clock.currentTimeMillis) - start, 2_500)
        }
      }).pipe(Effect.scoped), { timeout: 30_000 })
  }
}

describeWith(redisUrl, "Budget on Redis", "REDIS_URL", () => {
  const prefix = `smsforge-test:${run}:`
  const storeLayer = () =>
    RedisBudget.layerBudgetStore({ prefix }).pipe(Layer.provide(RedisStores.layerFromUrl(redisUrl ?? ""))) as StoreLayer
  conformance("Redis", storeLayer)
  outages("Redis", () => redisUrl ?? "", (proxied) =>
    RedisBudget.layerBudgetStore({ prefix, timeout: "1 second" }).pipe(
      Layer.provide(RedisStores.layerFromUrl(proxied, { closeTimeout: "200 millis" }))
    ) as StoreLayer)

  it.live("Redis: counters expire with their period, reservations with their ttl", () =>
    Effect.gen(function*() {
      const tag = randomUUID()
      const redis = yield* Redis.Redis
      const budget = yield* Effect.provide(
        Budget.make({ caps: [{ name: tag, metric: "messages", period: "day", limit: "5" }], reservationTtl: "1 hour" }),
        RedisBudget.layerBudgetStore({ prefix })
      )
      const r = yield* budget.reserve({ tenant: "acme" })
      const name = r.holds[0]?.key ?? ""
      const counterTtl = yield* redis.send<number>("PTTL", `${prefix}budget:c:${createHash("sha256").update(name).digest("base64url")}`)
      const reservationTtl = yield* redis.send<number>("PTTL", `${prefix}budget:r:${r.id}`)
      assert.isTrue(counterTtl > 2 * 86_400_000 && counterTtl <= 3 * 86_400_000, String(counterTtl))
      assert.isTrue(reservationTtl > 0 && reservationTtl <= 3_600_000, String(reservationTtl))
      const keys = yield* redis.send<ReadonlyArray<string>>("KEYS", `${prefix}budget:*`)
      // no key name holds the tenant
      assert.isFalse(keys.some((key) => key.includes("acme")), keys.join(" "))
      yield* redis.send("DEL", ...keys)
    }).pipe(Effect.provide(RedisStores.layerFromUrl(redisUrl ?? ""))), { timeout: 30_000 })
})

describeWith(pgUrl, "Budget on PostgreSQL", "DATABASE_URL", () => {
  const tablePrefix = `smsforge_test_${run}_`
  const storeLayer = () =>
    PgBudget.layerBudgetStore({ tablePrefix }).pipe(Layer.provide(PgStores.layerFromUrl(pgUrl ?? ""))) as StoreLayer
  conformance("PostgreSQL", storeLayer)
  outages("PostgreSQL", () => pgUrl ?? "", (proxied) =>
    PgBudget.layerBudgetStore({ tablePrefix, timeout: "1 second" }).pipe(
      Layer.provide(PgStores.layerFromUrl(proxied, { connectTimeout: "1 second" }))
    ) as StoreLayer)

  it.live("PostgreSQL: purge deletes expired rows and drops the test tables", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* Layer.build(PgBudget.layerBudgetStore({ tablePrefix }))
      yield* PgBudget.purgeBudget({ tablePrefix })
      const live = yield* sql<{ readonly n: string }>`
        SELECT count(*)::text AS n FROM ${sql(`${tablePrefix}budget_counters`)} WHERE expires_at <= ${Date.now()}`
      assert.strictEqual(live[0]?.n, "0")
      // the conformance runs counted for tenant "acme": no key column holds it
      const clear = yield* sql<{ readonly n: string }>`
        SELECT count(*)::text AS n FROM ${sql(`${tablePrefix}budget_counters`)} WHERE key LIKE '%acme%'`
      const all = yield* sql<{ readonly n: string }>`SELECT count(*)::text AS n FROM ${sql(`${tablePrefix}budget_counters`)}`
      assert.strictEqual(clear[0]?.n, "0")
      assert.notStrictEqual(all[0]?.n, "0")
      yield* sql`DROP TABLE IF EXISTS ${sql(`${tablePrefix}budget_counters`)}, ${sql(`${tablePrefix}budget_reservations`)}`
    }).pipe(Effect.scoped, Effect.provide(PgStores.layerFromUrl(pgUrl ?? ""))), { timeout: 30_000 })
})
