import { assert, it, layer } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Layer, Option } from "effect"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Consent, Idempotency, MessageStore, Outbox, Sms, Verification } from "smsforge"
import { Sandbox } from "smsforge/testing"
import fc from "fast-check"
import { OrderProgressSql } from "../../commerce/index.ts"
import * as Erasure from "../fixtures/erasure.ts"
import { lastWriteLosesToAnotherInstance } from "../fixtures/instances.ts"
import * as StoreConformance from "../../src/testing/StoreConformance.ts"
import * as PgStores from "../../stores/postgres/index.ts"
import { closedPort, describeWith, proxyTo } from "./env.ts"

const url = process.env.DATABASE_URL
const tablePrefix = `smsforge_test_${randomUUID().replaceAll("-", "").slice(0, 12)}_`

const dropTablesWith = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const tables = yield* sql<{ readonly name: string }>`
      SELECT tablename AS name FROM pg_tables WHERE tablename LIKE ${`${tablePrefix}%`}`
    for (const { name } of tables) yield* sql`DROP TABLE IF EXISTS ${sql(name)} CASCADE`
  }).pipe(Effect.ignore)

/** Drops every table of this run. */
const dropTables = Effect.flatMap(Effect.service(SqlClient.SqlClient), dropTablesWith).pipe(
  Effect.provide(PgStores.layerFromUrl(url ?? "")),
  Effect.ignore
)

/** Drops every table of this run when the layer closes. */
const Cleanup = Layer.effectDiscard(
  Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) => Effect.addFinalizer(() => dropTablesWith(sql)))
)

const Live = Layer.mergeAll(PgStores.layer({ tablePrefix }), Cleanup).pipe(
  Layer.provideMerge(PgStores.layerFromUrl(url ?? "postgres://postgres@127.0.0.1:5432/test"))
)

const message = (id: string, createdAt: number): MessageStore.StoredMessage => ({
  id, to: "+447700900123", country: "GB", purpose: "transactional", text: "hi", encoding: "GSM-7",
  segmentCount: 1, status: "accepted", history: [], attempts: 0, decisions: [], createdAt
})

/** Every row of every table whose name starts with `prefix`, as text. */
const dumpTables = (prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* sql<{ readonly name: string }>`SELECT tablename AS name FROM pg_tables WHERE tablename LIKE ${`${prefix}%`}`
    const parts: Array<string> = []
    for (const { name } of tables) {
      const rows = yield* sql<{ readonly row: string }>`SELECT t::text AS row FROM ${sql(name)} t`
      parts.push(name, ...rows.map((r) => r.row))
    }
    return Erasure.joinDump(parts)
  })

describeWith(url, "PostgreSQL stores: personal-data erasure", "DATABASE_URL", () => {
  layer(Layer.mergeAll(Cleanup).pipe(Layer.provideMerge(PgStores.layerFromUrl(url ?? ""))), { timeout: "120 seconds" })("erasure", (it) => {
    it.effect("after erasure no row of any table holds the number, others' data stays, the chain verifies", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(Erasure.ops, fc.nat({ max: Erasure.numbers.length - 1 }), (history, target) => {
              // Tables per run (dropped with this file's): the dump sees this history only.
              const own = `${tablePrefix}e${randomUUID().replaceAll("-", "").slice(0, 8)}_`
              const options = { tablePrefix: own }
              const stores = Layer.mergeAll(
                PgStores.layerIdempotency(options),
                PgStores.layerMessages(options),
                PgStores.layerVerifications(options),
                PgStores.layerConsent(options),
                PgStores.layerTemplates(options),
                PgStores.layerRateLimiter(options),
                OrderProgressSql.layerStoreSql(options),
                Outbox.layerMemory()
              )
              const pipeline = Sms.layerPipeline({ transports: [Sandbox.makeUnsafe()], audit: { hashKey: "audit-key" } }).pipe(
                Layer.provideMerge(stores)
              )
              return Effect.runPromise(
                Erasure.erasureHolds(history, target, Erasure.withAuditLog(dumpTables(own))).pipe(
                  Effect.provide(pipeline),
                  Effect.provideService(SqlClient.SqlClient, sql)
                )
              )
            }),
            { numRuns: 10 }
          )
        )
      }), { timeout: 120_000 })
  })
})

describeWith(url, "PostgreSQL stores", "DATABASE_URL", () => {
  layer(Live, { timeout: "30 seconds" })("conformance", (it) => {
    for (const c of [...StoreConformance.all, ...StoreConformance.messagesOnTestClock]) {
      it.effect(c.name, () => c.run)
    }

    it.effect("building the stores again over existing tables is harmless", () =>
      Effect.gen(function*() {
        yield* Effect.forEach([1, 2, 3], () => Layer.build(PgStores.layer({ tablePrefix, purgeEvery: false })), {
          concurrency: "unbounded"
        })
      }).pipe(Effect.scoped))

    it.effect("no key column holds a phone number, an IP or a tenant", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const consent = yield* Consent.ConsentStore
        const verifications = yield* Verification.VerificationStore
        const idempotency = yield* Idempotency.IdempotencyStore
        const limiter = yield* RateLimiter.RateLimiter
        const to = "+447700900999"
        const tenant = "tenant-acme"
        yield* consent.put({ tenant, to, seq: 1, purposes: {}, pending: {} })
        yield* consent.recordSend(tenant, to, "marketing", 1)
        yield* verifications.set(`r:${tenant}:${to}`, { _tag: "Pointer", id: "x" }, { expectedVersion: undefined, expiresAt: 2 ** 52 })
        yield* idempotency.reserve(JSON.stringify([tenant, to]), { messageId: "m", fingerprint: "f" }, Duration.hours(1))
        yield* limiter.consume({ key: `sends:${tenant}:${to}:198.51.100.7`, limit: 5, window: "1 minute" })
        const tables = [["consent", "key"], ["consent_sends", "key"], ["verifications", "key"], ["idempotency", "key"], ["rate_limits", "key"]] as const
        for (const [table, column] of tables) {
          const rows = yield* sql<{ readonly k: string }>`SELECT ${sql(column)} AS k FROM ${sql(tablePrefix + table)}`
          assert.isTrue(rows.length > 0, table)
          for (const secret of ["447700900999", "198.51.100.7", "acme"]) {
            assert.isFalse(rows.some((row) => row.k.includes(secret)), `${table} holds ${secret}`)
          }
        }
      }))

    it.effect("consent put never replaces a record with a lower seq", () =>
      Effect.gen(function*() {
        const store = yield* Consent.ConsentStore
        const tenant = randomUUID()
        const to = "+447700900123"
        yield* store.put({ tenant, to, seq: 5, purposes: {}, pending: {}, timeZone: "Europe/Paris" })
        yield* store.put({ tenant, to, seq: 4, purposes: {}, pending: {} })
        const got = yield* store.get(tenant, to)
        assert.isTrue(Option.isSome(got) && got.value.seq === 5 && got.value.timeZone === "Europe/Paris")
      }))

    it.effect("messages past retention are invisible, and purge deletes them with their carrier ids", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* MessageStore.MessageStore
        const now = yield* Clock.currentTimeMillis
        const old = randomUUID()
        const fresh = randomUUID()
        yield* store.insert({ ...message(old, now - Duration.toMillis("8 days")), status: "submitted", transport: "t", providerMessageId: old })
        yield* store.insert(message(fresh, now))
        assert.isTrue(Option.isNone(yield* store.get(old)))
        assert.isTrue(Option.isNone(yield* store.findByProviderId("t", old)))
        assert.isTrue(Option.isSome(yield* store.get(fresh)))
        yield* PgStores.purge({ tablePrefix })
        const rows = yield* sql<{ readonly id: string }>`SELECT id FROM ${sql(`${tablePrefix}messages`)} WHERE id IN (${old}, ${fresh})`
        assert.deepStrictEqual(rows.map((r) => r.id), [fresh])
        const ids = yield* sql`SELECT 1 FROM ${sql(`${tablePrefix}message_ids`)} WHERE message_id = ${old}`
        assert.strictEqual(ids.length, 0)
      }))

    it.effect("a status change from this instance's last write loses to another instance's change and applies after it", () =>
      Effect.gen(function*() {
        // another instance: its own store on the same tables
        yield* lastWriteLosesToAnotherInstance(yield* MessageStore.MessageStore, yield* PgStores.makeMessages({ tablePrefix }))
      }).pipe(Effect.scoped))

    it.effect("the rate limiter store answers as effect's memory store does", () =>
      Effect.gen(function*() {
        const pg = yield* PgStores.makeRateLimiterStore(tablePrefix)
        const memory = yield* Effect.service(RateLimiter.RateLimiterStore).pipe(Effect.provide(RateLimiter.layerStoreMemory))
        let seed = 42
        const random = (n: number) => {
          seed = (seed * 1103515245 + 12345) % 2 ** 31
          return seed % n
        }
        const key = randomUUID()
        for (let i = 0; i < 120; i++) {
          yield* TestClock.adjust(Duration.millis(random(4) * 250))
          const tokens = 1 + random(3)
          const kind = random(4)
          const [a, b] = yield* Effect.all([memory, pg].map((store) =>
            kind === 0
              ? store.fixedWindow({ key: `${key}:fw`, tokens, refillRate: Duration.millis(300), limit: 5 })
              : kind === 1
              ? store.tokenBucket({ key: `${key}:tb`, tokens, limit: 6, refillRate: Duration.millis(400), allowOverflow: random(2) === 0 })
              : kind === 2
              ? store.adaptiveConsume({ key: `${key}:ad`, tokens, fallbackLimit: 10, fallbackWindow: Duration.seconds(1) })
              : Effect.as(
                store.adaptiveFeedback({ key: `${key}:ad`, epoch: random(3), tokens, status: random(2) === 0 ? 429 : 200, retryAfter: Duration.millis(500 + random(3) * 500) }),
                "feedback"
              )
          ))
          assert.deepStrictEqual(b, a, `step ${i} (kind ${kind})`)
        }
      }))

    it.effect("the rate limiter is shared by instances", () =>
      Effect.gen(function*() {
        const key = randomUUID()
        const consume = (limiter: RateLimiter.RateLimiter) =>
          Effect.exit(limiter.consume({ key, limit: 3, window: "1 minute", onExceeded: "fail" }))
        const a = yield* RateLimiter.RateLimiter
        const b = yield* Effect.service(RateLimiter.RateLimiter).pipe(
          Effect.provide(PgStores.layerRateLimiter({ tablePrefix }).pipe(Layer.fresh))
        )
        const exits = yield* Effect.all([consume(a), consume(b), consume(a), consume(b), consume(a)], { concurrency: "unbounded" })
        assert.strictEqual(exits.filter(Exit.isSuccess).length, 3)
      }))

  })

  const stores = (url: string, timeout: Duration.Input) =>
    Layer.mergeAll(
      PgStores.layerIdempotency({ tablePrefix, timeout }),
      PgStores.layerMessages({ tablePrefix, timeout }),
      PgStores.layerVerifications({ tablePrefix, timeout }),
      PgStores.layerConsent({ tablePrefix, timeout })
    ).pipe(Layer.provide(PgStores.layerFromUrl(url, { connectTimeout: "1 second" })))

  // Real time: what is tested is how long the stores wait for a server that does not answer.
  for (const outage of ["cut", "blackhole"] as const) {
    it.live(`a ${outage === "cut" ? "cut" : "black-holed"} connection: every call fails with StoreUnavailable within its timeout`, () =>
      Effect.gen(function*() {
        const proxy = yield* proxyTo(url ?? "")
        const context = yield* Layer.build(stores(proxy.url, "1 second"))
        // Runs before the pool's own finalizer, which would wait for black-holed sockets.
        yield* Effect.addFinalizer(() => proxy.cut)
        yield* proxy[outage]
        for (const c of StoreConformance.unreachable("2500 millis")) {
          yield* c.run.pipe(Effect.provide(context))
        }
      }).pipe(Effect.scoped, Effect.ensuring(dropTables)), { timeout: 30_000 })
  }

  it.live("a closed port: building the stores fails with StoreUnavailable, in time", () =>
    Effect.gen(function*() {
      const closed = new URL(url ?? "")
      closed.hostname = "127.0.0.1"
      closed.port = String(yield* closedPort)
      const start = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(Layer.build(stores(closed.toString(), "1 second")))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.findErrorOption(exit)
      assert.isTrue(Option.isSome(error) && error.value._tag === "StoreUnavailable")
      assert.isBelow((yield* Clock.currentTimeMillis) - start, 10_000)
    }).pipe(Effect.scoped), { timeout: 30_000 })
})
