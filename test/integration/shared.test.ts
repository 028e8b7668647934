import { assert, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer } from "effect"
import { Redis } from "effect/persistence"
import { randomUUID } from "node:crypto"
import { Router, Sms } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { SqlClient } from "effect/sql"
import * as PgStores from "../../stores/postgres/index.ts"
import * as RedisStores from "../../stores/redis/index.ts"
import { describeWith } from "./env.ts"

/** The suite, or one skipped line naming the missing variable. */


// Two application instances: each has its own pipeline, carrier connection
// and Redis connection; they share nothing but the Redis server.

const url = process.env.REDIS_URL
const databaseUrl = process.env.DATABASE_URL
const UK = "+447400123456"

type Backend = "redis" | "postgres"

/** One application instance: its own pipeline, carrier and connection. */
const instance = (backend: Backend, prefix: string) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.make({ name: "sandbox" })
    const stores: Layer.Layer<Sms.Stores, unknown> = backend === "redis"
      ? RedisStores.layer({ prefix }).pipe(Layer.provide(RedisStores.layerFromUrl(url ?? "")))
      : PgStores.layer({ tablePrefix: prefix }).pipe(Layer.provide(PgStores.layerFromUrl(databaseUrl ?? "")))
    const context = yield* Layer.build(Sms.layerPipeline({ transports: [sandbox] }).pipe(Layer.provideMerge(stores)))
    return { sms: Context.get(context, Sms.Sms), router: Context.get(context, Router.Router), sandbox }
  })

const dropTables = (prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* sql<{ readonly name: string }>`SELECT tablename AS name FROM pg_tables WHERE tablename LIKE ${`${prefix}%`}`
    for (const { name } of tables) yield* sql`DROP TABLE IF EXISTS ${sql(name)} CASCADE`
  }).pipe(Effect.provide(PgStores.layerFromUrl(databaseUrl ?? "")), Effect.ignore)

const cleanup = (prefix: string) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.send<readonly [string, ReadonlyArray<string>]>("SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000")
      cursor = next
      if (keys.length > 0) yield* redis.send("DEL", ...keys)
    } while (cursor !== "0")
  }).pipe(Effect.provide(RedisStores.layerFromUrl(url ?? "")), Effect.ignore)

type Instance = Effect.Success<ReturnType<typeof instance>>

const withInstances = <A, E>(backend: Backend, body: (a: Instance, b: Instance) => Effect.Effect<A, E>) => {
  const prefix = backend === "redis"
    ? `smsforge-test:${randomUUID()}:`
    : `smsforge_test_${randomUUID().replaceAll("-", "").slice(0, 12)}_`
  return Effect.gen(function*() {
    const a = yield* instance(backend, prefix)
    const b = yield* instance(backend, prefix)
    return yield* body(a, b)
  }).pipe(Effect.scoped, Effect.ensuring(backend === "redis" ? cleanup(prefix) : dropTables(prefix)))
}

const cases = (backend: Backend) => {
  it.live("the same idempotency key sent to both at once submits once", () =>
    withInstances(backend, (a, b) =>
      Effect.gen(function*() {
        const request = { to: UK, text: "Your order has shipped", idempotencyKey: `order-${randomUUID()}` }
        const exits = yield* Effect.all(
          [
            ...Array.from({ length: 5 }, () => Effect.exit(a.sms.send(request))),
            ...Array.from({ length: 5 }, () => Effect.exit(b.sms.send(request)))
          ],
          { concurrency: "unbounded" }
        )
        const submitted = (yield* a.sandbox.outbox).length + (yield* b.sandbox.outbox).length
        assert.strictEqual(submitted, 1, "exactly one submission across both instances")
        // Known gap in Sms.send (reported): a duplicate that reaches the other
        // instance while the first send is still being accepted finds the key
        // held but the message not yet stored, and is refused with
        // MessageNotFound{ field: "idempotencyKey" }. It is never submitted.
        for (const exit of exits) {
          if (Exit.isFailure(exit)) {
            const error = Cause.squash(exit.cause)
            assert.instanceOf(error, Sms.SmsError)
            assert.strictEqual((error as Sms.SmsError).reason._tag, "MessageNotFound")
          }
        }
        const ids = new Set(exits.flatMap((exit) => (Exit.isSuccess(exit) ? [exit.value.id] : [])))
        assert.strictEqual(ids.size, 1, "every successful answer names the same message")
        // Once the first send has finished, both instances answer with it.
        const again = yield* Effect.all([a.sms.send(request), b.sms.send(request)])
        assert.deepStrictEqual(new Set(again.map((r) => r.id)), ids)
      })))

  it.live("a delivery receipt fed to instance B updates a message sent by instance A", () =>
    withInstances(backend, (a, b) =>
      Effect.gen(function*() {
        const receipt = yield* a.sms.send({ to: UK, text: "Your code is 123456" })
        assert.strictEqual(receipt.status, "submitted")
        assert.strictEqual((yield* b.sandbox.outbox).length, 0)
        const outcome = yield* b.sms.deliveryReceipt({
          transport: "sandbox",
          providerMessageId: receipt.providerMessageId!,
          status: "delivered"
        })
        assert.strictEqual(outcome.outcome, "applied")
        assert.strictEqual(outcome.messageId, receipt.id)
        const seenByA = yield* a.sms.get(receipt.id)
        assert.strictEqual(seenByA.status, "delivered")
        assert.deepStrictEqual(seenByA.history.map((h) => h.status), ["accepted", "queued", "submitted", "delivered"])
        // A late duplicate fed to A changes nothing.
        const duplicate = yield* a.sms.deliveryReceipt({
          transport: "sandbox",
          providerMessageId: receipt.providerMessageId!,
          status: "undelivered"
        })
        assert.strictEqual(duplicate.outcome, "ignored")
        assert.strictEqual((yield* b.sms.get(receipt.id)).status, "delivered")
      })))
}

describeWith(url, "two instances on one Redis", "REDIS_URL", () => {
  cases("redis")

  it.live("a circuit opened by failures on instance A is open on instance B", () =>
    withInstances("redis", (a, b) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* b.router.routes)[0]?.circuit, "Closed")
        yield* a.sandbox.failAlways()
        for (let i = 0; i < 6; i++) yield* Effect.exit(a.sms.send({ to: UK, text: `attempt ${i}` }))
        assert.strictEqual((yield* a.router.routes)[0]?.circuit, "Open")
        assert.strictEqual((yield* b.router.routes)[0]?.circuit, "Open")
      })))
})

describeWith(databaseUrl, "two instances on one PostgreSQL", "DATABASE_URL", () => {
  cases("postgres")
})
