import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Exit, Layer, Option, Schedule } from "effect"
import { Redis } from "effect/persistence"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { MessageStore, Outbox, Sms } from "smsforge"
import { Sandbox } from "smsforge/testing"
import * as StoreConformance from "../../src/testing/StoreConformance.ts"
import * as PgStores from "../../stores/postgres/index.ts"
import * as RedisStores from "../../stores/redis/index.ts"
import { describeWith, proxyTo } from "./env.ts"

// The durable Outbox on the real servers. Real time throughout: the queue's
// delays, polls and lock expiry are kept by the server (PostgreSQL by its own
// clock, in whole seconds), so they are what is tested; each wait is short.

const databaseUrl = process.env.DATABASE_URL
const redisUrl = process.env.REDIS_URL
const tablePrefix = `smsforge_otest_${randomUUID().replaceAll("-", "").slice(0, 12)}_`
const redisPrefix = `smsforge-otest:${randomUUID()}:`
const maxAttempts = 3
const fast = { pollInterval: "100 millis", maxAttempts, backoff: Schedule.spaced("1 second") } as const

type Backend = {
  readonly name: string
  readonly url: string | undefined
  readonly variable: string
  /** A fresh Outbox on its own queue, over a connection to `url`. */
  readonly outbox: (url: string, options: PgStores.OutboxOptions & RedisStores.OutboxOptions) => Layer.Layer<Outbox.Outbox, unknown>
  readonly cleanup: Effect.Effect<void>
}

const postgres: Backend = {
  name: "PostgreSQL",
  url: databaseUrl,
  variable: "DATABASE_URL",
  outbox: (url, options) =>
    PgStores.layerOutbox({ ...options, tablePrefix }).pipe(Layer.provide(PgStores.layerFromUrl(url, { connectTimeout: "1 second" }))),
  cleanup: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* sql<{ readonly name: string }>`SELECT tablename AS name FROM pg_tables WHERE tablename LIKE ${`${tablePrefix}%`}`
    for (const { name } of tables) yield* sql`DROP TABLE IF EXISTS ${sql(name)} CASCADE`
  }).pipe(Effect.provide(PgStores.layerFromUrl(databaseUrl ?? "")), Effect.ignore)
}

const redis: Backend = {
  name: "Redis",
  url: redisUrl,
  variable: "REDIS_URL",
  outbox: (url, options) =>
    RedisStores.layerOutbox({ ...options, prefix: redisPrefix }).pipe(
      Layer.provide(RedisStores.layerFromUrl(url, { closeTimeout: "200 millis" }))
    ),
  cleanup: Effect.gen(function*() {
    const client = yield* Redis.Redis
    let cursor = "0"
    do {
      const [next, keys] = yield* client.send<readonly [string, ReadonlyArray<string>]>("SCAN", cursor, "MATCH", `${redisPrefix}*`, "COUNT", "1000")
      cursor = next
      if (keys.length > 0) yield* client.send("DEL", ...keys)
    } while (cursor !== "0")
  }).pipe(Effect.provide(RedisStores.layerFromUrl(redisUrl ?? "")), Effect.ignore)
}

for (const backend of [postgres, redis]) {
  describeWith(backend.url, `durable Outbox on ${backend.name}`, backend.variable, () => {
    const url = backend.url ?? ""
    const fresh = () => backend.outbox(url, { ...fast, name: `q_${randomUUID().slice(0, 8)}` })

    const cases = StoreConformance.outbox({
      advance: (duration) => Effect.sleep(duration),
      patience: "15 seconds",
      maxAttempts,
      minBackoff: "900 millis"
    })
    for (const c of cases) {
      it.live(c.name, () => Effect.scoped(c.run).pipe(Effect.provide(fresh())), { timeout: 30_000 })
    }

    it.live("a job whose process died (its connection cut mid-job) is taken again after lockExpiration", () =>
      Effect.gen(function*() {
        const name = `q_${randomUUID().slice(0, 8)}`
        const lock = { lockExpiration: "2 seconds", lockRefreshInterval: "500 millis" } as const
        const proxy = yield* proxyTo(url)
        const crashed = yield* Layer.build(backend.outbox(proxy.url, { ...fast, ...lock, name }))
        yield* Effect.addFinalizer(() => proxy.cut)
        const first = Context.get(crashed, Outbox.Outbox)
        const taken = yield* Deferred.make<number>()
        yield* first.run(() => Effect.andThen(Effect.flatMap(Clock.currentTimeMillis, (t) => Deferred.succeed(taken, t)), Effect.never))
        const id = randomUUID()
        yield* first.offer({ messageId: id }, { at: yield* Clock.currentTimeMillis })
        const takenAt = yield* Deferred.await(taken)
        yield* proxy.cut
        const survivor = Context.get(yield* Layer.build(backend.outbox(url, { ...fast, ...lock, name })), Outbox.Outbox)
        const again = yield* Deferred.make<{ readonly at: number; readonly number: number }>()
        yield* survivor.run((job, attempt) =>
          job.messageId === id
            ? Effect.flatMap(Clock.currentTimeMillis, (at) => Deferred.succeed(again, { at, number: attempt.number }))
            : Effect.void
        )
        const rerun = yield* Deferred.await(again).pipe(Effect.timeout("15 seconds"))
        assert.isAtLeast(rerun.at - takenAt, 1_500, "not before the lock expired")
        assert.strictEqual(rerun.number, 2, "the dead worker's try counts")
      }).pipe(Effect.scoped), { timeout: 30_000 })

    it.live(`throughput: offer, take and ack per process (printed)`, () =>
      Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        const count = 2_000
        let done = 0
        const finished = yield* Deferred.make<void>()
        yield* outbox.run(() => Effect.suspend(() => ++done === count ? Deferred.succeed(finished, undefined) : Effect.void))
        const latencies: Array<number> = []
        const start = performance.now()
        yield* Effect.forEach(Array.from({ length: count }), () =>
          Effect.gen(function*() {
            const t = performance.now()
            yield* outbox.offer({ messageId: randomUUID() }, { at: yield* Clock.currentTimeMillis })
            latencies.push(performance.now() - t)
          }), { concurrency: 64, discard: true })
        const offered = performance.now() - start
        yield* Deferred.await(finished).pipe(Effect.timeout("60 seconds"))
        const total = performance.now() - start
        latencies.sort((a, b) => a - b)
        const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0
        console.log(
          `durable Outbox on ${backend.name}: ${count} jobs offered in ${offered.toFixed(0)} ms ` +
            `(${(count / (offered / 1000)).toFixed(0)} offers/s, p99 offer ${p99.toFixed(1)} ms), ` +
            `offered+taken+acked in ${total.toFixed(0)} ms = ${(count / (total / 1000)).toFixed(0)} messages/s`
        )
        assert.strictEqual(done, count)
      }).pipe(Effect.scoped, Effect.provide(backend.outbox(url, { pollInterval: "100 millis", concurrency: 128, name: `q_${randomUUID().slice(0, 8)}` }))), {
      timeout: 90_000
    })

    it.live("cleanup", () => backend.cleanup)
  })
}

describeWith(databaseUrl, "durable Outbox on PostgreSQL: the send's transaction", "DATABASE_URL", () => {
  const Live = Layer.mergeAll(
    PgStores.layerMessages({ tablePrefix }),
    PgStores.layerOutbox({ ...fast, tablePrefix, name: `q_${randomUUID().slice(0, 8)}` })
  ).pipe(Layer.provideMerge(PgStores.layerFromUrl(databaseUrl ?? "")))

  const message = (id: string, createdAt: number): MessageStore.StoredMessage => ({
    id, to: "+447700900123", country: "GB", purpose: "transactional", text: "hi", encoding: "GSM-7",
    segmentCount: 1, status: "accepted", history: [], attempts: 0, decisions: [], createdAt
  })

  it.live("the message and its job commit together, or neither does", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const outbox = yield* Outbox.Outbox
      const messages = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const jobs = (id: string) => sql`SELECT 1 FROM ${sql(`${tablePrefix}outbox`)} WHERE id = ${id}`
      const accept = (id: string) =>
        Effect.andThen(messages.insert(message(id, now)), outbox.offer({ messageId: id }, { at: now + 3_600_000 }))

      const refused = randomUUID()
      const exit = yield* Effect.exit(outbox.transaction(Effect.andThen(accept(refused), Effect.fail("refused" as const))))
      assert.deepStrictEqual(exit, Exit.fail("refused"))
      assert.isTrue(Option.isNone(yield* messages.get(refused)), "the message was rolled back")
      assert.strictEqual((yield* jobs(refused)).length, 0, "the job was rolled back")

      const accepted = randomUUID()
      yield* outbox.transaction(accept(accepted))
      assert.isTrue(Option.isSome(yield* messages.get(accepted)))
      assert.strictEqual((yield* jobs(accepted)).length, 1)
    }).pipe(Effect.provide(Live), Effect.ensuring(postgres.cleanup)), { timeout: 30_000 })

  it.live("a transaction on a database that does not answer fails with StoreUnavailable within its timeout", () =>
    Effect.gen(function*() {
      const proxy = yield* proxyTo(databaseUrl ?? "")
      const sql = Context.get(yield* Layer.build(PgStores.layerFromUrl(proxy.url)), SqlClient.SqlClient)
      yield* Effect.addFinalizer(() => proxy.cut)
      yield* proxy.blackhole
      const start = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(PgStores.transaction(sql, "1 second")(sql`SELECT 1`))
      const error = Exit.findErrorOption(exit)
      assert.isTrue(Option.isSome(error) && error.value._tag === "StoreUnavailable")
      assert.isBelow((yield* Clock.currentTimeMillis) - start, 2_500)
    }).pipe(Effect.scoped), { timeout: 30_000 })
})

// A send through each all-in-one layer, whose message store writes the
// message, its job and its key in one go: effect's queue must take that job
// as it takes its own offers.
const allInOneCase = <C>(
  backend: Backend,
  stores: () => {
    readonly layer: Layer.Layer<Sms.Stores | C, unknown>
    /** The job's state: pending or completed; undefined without one. */
    readonly job: (id: string) => Effect.Effect<string | undefined, unknown, C>
  }
) => {
  describeWith(backend.url, `durable Outbox on ${backend.name}: a send through the all-in-one layer`, backend.variable, () => {
    it.live("message, job and key are written together, and effect's queue runs the job when it comes due", () =>
      Effect.gen(function*() {
        const { job, layer } = stores()
        const sandbox = yield* Sandbox.make({ name: "sandbox" })
        const context = yield* Layer.build(Sms.layerPipeline({ transports: [sandbox] }).pipe(Layer.provideMerge(layer)))
        const sms = Context.get(context, Sms.Sms)
        const jobOf = (id: string) => Effect.provide(job(id), context)
        const now = yield* Clock.currentTimeMillis
        const request = { to: "+447400123456", text: "Your parcel is out for delivery", idempotencyKey: randomUUID() }

        const scheduled = yield* sms.send({ ...request, sendAt: now + 1_500 })
        assert.strictEqual(scheduled.status, "accepted")
        assert.strictEqual((yield* sms.get(scheduled.id)).status, "accepted")
        assert.strictEqual(yield* jobOf(scheduled.id), "pending")
        // the held key writes nothing and answers the first message
        const again = yield* sms.send({ ...request, sendAt: now + 1_500 })
        assert.strictEqual(again.id, scheduled.id)

        // the queue takes the job the one write made, as it takes its own offers
        const submitted = yield* Effect.map(sms.get(scheduled.id), (m) => m.status).pipe(
          Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (s) => s !== "accepted" && s !== "queued" }),
          Effect.timeout("15 seconds")
        )
        assert.strictEqual(submitted, "submitted")
        assert.strictEqual(sandbox.sent().length, 1)

        // a message sent now: delivered at once; its job comes due after recoverAfter, finds it settled and sends nothing more
        const sentNow = yield* sms.send({ to: "+447400123457", text: "Shipped" })
        assert.strictEqual(sentNow.status, "submitted")
        const state = yield* jobOf(sentNow.id).pipe(
          Effect.repeat({ schedule: Schedule.spaced("200 millis"), until: (s) => s === "completed" }),
          Effect.timeout("15 seconds")
        )
        assert.strictEqual(state, "completed")
        assert.strictEqual(sandbox.sent().length, 2)
      }).pipe(Effect.scoped, Effect.ensuring(backend.cleanup)), { timeout: 40_000 })
  })
}

allInOneCase(postgres, () => {
  const prefix = `${tablePrefix}s_`
  return {
    layer: PgStores.layer({ tablePrefix: prefix, purgeEvery: false, outbox: { pollInterval: "100 millis", recoverAfter: "1 second" } }).pipe(
      Layer.provideMerge(PgStores.layerFromUrl(databaseUrl ?? ""))
    ),
    job: (id: string) =>
      Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) =>
        Effect.map(sql<{ readonly state: string }>`SELECT state FROM ${sql(`${prefix}outbox`)} WHERE id = ${id}`, (rows) => rows[0]?.state))
  }
})

allInOneCase(redis, () => {
  const prefix = `${redisPrefix}s:`
  return {
    layer: RedisStores.layer({ prefix, outbox: { pollInterval: "100 millis", recoverAfter: "1 second" } }).pipe(
      Layer.provideMerge(RedisStores.layerFromUrl(redisUrl ?? ""))
    ),
    // the queue parks an id at +inf until its job completes, then scores it with the time
    job: (id: string) =>
      Effect.flatMap(Effect.service(Redis.Redis), (client) =>
        Effect.map(client.send<string | null>("ZSCORE", `${prefix}queue:${Outbox.defaultName}:ids`, id), (score) =>
          score === null ? undefined : score === "inf" ? "pending" : "completed"))
  }
})

describe("durable Outbox options", () => {
  it("the all-in-one layers include the Outbox", () => {
    // A type-level check, run: both layers' outputs name Outbox.Outbox.
    const pg: Layer.Layer<Outbox.Outbox, unknown, SqlClient.SqlClient> = PgStores.layer({ outbox: { lockExpiration: "1 minute" } })
    const rd: Layer.Layer<Outbox.Outbox, unknown, Redis.Redis> = RedisStores.layer({ outbox: { pollInterval: "200 millis" } })
    assert.isTrue(Layer.isLayer(pg) && Layer.isLayer(rd))
  })
})
