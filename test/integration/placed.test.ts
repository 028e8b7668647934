import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Schedule, Scope } from "effect"
import { RunnerAddress } from "effect/cluster"
import { SqlClient } from "effect/sql"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { randomUUID } from "node:crypto"
import * as Net from "node:net"
import { Transport } from "smsforge"
import { Sandbox } from "smsforge/testing"
import * as PgStores from "../../stores/postgres/index.ts"
import { PlacedTransport } from "../../transports/placed/index.ts"
import { SmppTransport } from "../../transports/smpp/index.ts"
import { available as smscAvailable, startSmsc, stopSmscs, waitFor } from "../fixtures/smsc.ts"
import { describeWith } from "./env.ts"

// Two instances of an application, each a runner of one effect/cluster on a
// real PostgreSQL (its own database, dropped after) and a socket between
// them: a placed carrier connection is opened once for the fleet, and both
// instances' submissions go through it.

const url = process.env.DATABASE_URL

const withDatabase = (statement: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
  Effect.flatMap(Effect.service(SqlClient.SqlClient), statement).pipe(Effect.provide(PgStores.layerFromUrl(url ?? "")), Effect.orDie)

const freePort = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const capabilities: Transport.Capabilities = {
  channel: "sms", unicode: true, concatenation: true, deliveryReceipts: true, inbound: true, senderTypes: ["alphanumeric"]
}

/** A fresh database for the cluster's tables, dropped when the scope closes; its URL. */
const clusterDatabase = Effect.gen(function*() {
  const database = `smsforge_cluster_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  yield* withDatabase((sql) => sql.unsafe(`CREATE DATABASE ${database}`))
  yield* Effect.addFinalizer(() => withDatabase((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).pipe(Effect.ignore))
  const clusterUrl = new URL(url ?? "")
  clusterUrl.pathname = `/${database}`
  return clusterUrl.toString()
})

const submission = (i: number): Transport.Submission => ({
  to: `+4474009${String(i).padStart(5, "0")}`, text: `Order ${i} is in customs`, segments: [`Order ${i} is in customs`],
  encoding: "GSM-7", clientReference: `msg_${i}`, purpose: "transactional"
})

/**
 * Instances of an application, each a runner on its own port with the placed
 * transport over `connect`; records which instance opened each connection
 * and how many were open at most.
 */
const fleet = Effect.fnUntraced(function*(connect: Effect.Effect<Transport.Transport, unknown, Scope.Scope>) {
  const clusterUrl = yield* clusterDatabase
  const openedBy: Array<string> = []
  let open = 0
  let most = 0
  const counted = (instance: string) =>
    Effect.gen(function*() {
      const connection = yield* connect
      openedBy.push(instance)
      most = Math.max(most, ++open)
      yield* Effect.addFinalizer(() => Effect.sync(() => void open--))
      return connection
    })

  /** One application instance: its runner and the placed transport; `stop` ends it. */
  const instance = Effect.fnUntraced(function*(name: string) {
    const port = yield* freePort
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const cluster = NodeClusterSocket.layer({
      storage: "sql",
      shardingConfig: {
        runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)),
        shardLockRefreshInterval: "1 second",
        shardLockExpiration: "3 seconds"
      }
    }).pipe(Layer.provide(PgStores.layerFromUrl(clusterUrl)))
    const context = yield* Layer.buildWithScope(cluster, scope)
    const transport = yield* PlacedTransport.make({ name: "smsc", capabilities, connect: counted(name) }).pipe(
      Effect.provide(context),
      Scope.provide(scope)
    )
    return { name, transport, stop: Scope.close(scope, Exit.void) }
  })
  /** Instances a and b, and `count` submissions made by them in turn, 8 at a time. */
  const twoSubmitting = Effect.fnUntraced(function*(count: number) {
    const a = yield* instance("a")
    const b = yield* instance("b")
    const results = yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) => (i % 2 === 0 ? a : b).transport.submit(submission(i)),
      { concurrency: 8 }
    )
    return { a, b, results }
  })
  return { twoSubmitting, openedBy, most: () => most }
})


describeWith(url, "placed transport on a cluster of two runners on PostgreSQL", "DATABASE_URL", () => {
  it.live("one connection for the fleet carries both instances' submissions, and reopens on the survivor", () =>
    Effect.gen(function*() {
      const built: Array<Sandbox.SandboxTransport> = []
      const cluster = yield* fleet(Effect.tap(Sandbox.make({ name: "smsc-bind" }), (sandbox) => Effect.sync(() => built.push(sandbox))))
      const { a, b, results } = yield* cluster.twoSubmitting(40)
      assert.strictEqual(results.length, 40)
      assert.strictEqual(cluster.most(), 1, "never more than one connection open across the fleet")
      const carried = built.flatMap((sandbox) => sandbox.sent().map((m) => m.clientReference))
      assert.deepStrictEqual([...new Set(carried)].sort(), Array.from({ length: 40 }, (_, i) => `msg_${i}`).sort())

      // The instance holding the connection stops: the cluster places it on
      // the other, which opens it there. (It may have moved once already,
      // when the second runner joined and took half the shards.)
      const holder = cluster.openedBy.at(-1) === "a" ? a : b
      const other = holder === a ? b : a
      const opened = cluster.openedBy.length
      yield* holder.stop
      const after = yield* other.transport.submit(submission(40)).pipe(
        Effect.retry({ schedule: Schedule.spaced("250 millis"), while: (error) => error.reason._tag === "Unavailable", times: 120 })
      )
      assert.isString(after.providerMessageId)
      assert.deepStrictEqual(cluster.openedBy.slice(opened), [other.name])
      assert.strictEqual(cluster.most(), 1, "still never two open at once")
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live.skipIf(!smscAvailable)("against a real SMSC (Net::SMPP): two instances, one bind", () =>
    Effect.gen(function*() {
      const smsc = yield* Effect.acquireRelease(Effect.promise(() => startSmsc()), () => Effect.sync(stopSmscs))
      const cluster = yield* fleet(SmppTransport.make({ host: "127.0.0.1", port: smsc.port, systemId: "esme", password: "secret", defaultFrom: "smsforge" }))
      const { results } = yield* cluster.twoSubmitting(30)
      yield* Effect.promise(() => waitFor(() => smsc.answers.length === 30, "the SMSC's answer lines"))
      assert.deepStrictEqual(results.map((r) => r.providerMessageId).sort(), smsc.answers.map((answer) => answer.id).sort())
      assert.strictEqual(cluster.most(), 1)
      assert.strictEqual(smsc.binds.filter((bind) => bind.ok).length, cluster.openedBy.length, "one bind per placed connection")
      assert.isAtMost(cluster.openedBy.length, 2, "opened once, and at most once more when the second runner took its shard")
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
