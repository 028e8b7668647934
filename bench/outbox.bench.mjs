// Throughput of the durable Outbox through the whole send path: messages per
// second per process and p99 accept latency (the time until `send` answers)
// on local PostgreSQL and Redis, against the memory default, measured side by
// side in one process:
// - `createSmsClient` with `stores:` the PgStores/RedisStores layer (the
//   stores and their durable Outbox: message, idempotency key and job written
//   together), a no-op carrier (Sandbox), SENDERS concurrent senders, each
//   send with its own idempotency key, recipients drawn from 1,000 numbers;
// - each durable backend with a few Outbox `concurrency` (job workers per
//   process) and PostgreSQL pool sizes, the goal (≥ 1,000/s on PostgreSQL,
//   ≥ 3,000/s on Redis) met or not on each row;
// - next to the wall-clock rate, messages per second of this process's CPU
//   time: on a loaded machine the two part;
// - the memory default (no `stores`) on the same requests, and its ratio to
//   the pipeline before the Outbox existed when SMSFORGE_BASELINE_DIST points
//   at that build (goal: within 1.2x).
//
//   npm run bench -- outbox            (builds first)
//   node bench/outbox.bench.mjs [messages] [senders] [memory,postgres,redis]
//
// DATABASE_URL and REDIS_URL (defaults postgres://postgres@127.0.0.1:5432/test
// and redis://127.0.0.1:6379, used when a server answers there); a backend
// with neither is skipped with one line. Tables obench_* and keys obench:*
// are dropped before and after.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as SqlClient from "effect/sql/SqlClient"
import { randomUUID } from "node:crypto"
import * as Net from "node:net"

const dist = process.env.SMSFORGE_DIST ?? "../dist"
const { createSmsClient } = await import(`${dist}/index.js`)
const { Sandbox } = await import(`${dist}/testing/index.js`)
const PgStores = await import(`${dist}/stores/postgres/index.js`)
const RedisStores = await import(`${dist}/stores/redis/index.js`)
const MESSAGES = Number(process.argv[2] ?? 3_000)
const SENDERS = Number(process.argv[3] ?? 64)
// a third argument picks backends: memory, postgres, redis (comma-separated)
const ONLY = process.argv[4]?.split(",")
const wanted = (backend) => ONLY === undefined || ONLY.includes(backend)
const WARM = Math.min(500, MESSAGES)
const GOALS = { PostgreSQL: 1_000, Redis: 3_000 }

// ---------------------------------------------------------------- servers

/** The server's URL: the variable, or the default when something answers there; undefined otherwise. */
const serverUrl = async (variable, fallback) => {
  if (process.env[variable]) return process.env[variable]
  const { hostname, port } = new URL(fallback)
  const answers = await new Promise((resolve) => {
    const socket = Net.connect(Number(port), hostname)
    socket.setTimeout(1_000, () => socket.destroy())
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("close", () => resolve(false))
    socket.once("error", () => {})
  })
  return answers ? fallback : undefined
}
const pgUrl = await serverUrl("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
const redisUrl = await serverUrl("REDIS_URL", "redis://127.0.0.1:6379")

const dropPg = () =>
  Effect.runPromise(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* sql`SELECT tablename FROM pg_tables WHERE tablename LIKE 'obench\\_%'`
    for (const { tablename } of tables) yield* sql.unsafe(`DROP TABLE IF EXISTS "${tablename}" CASCADE`)
  }).pipe(Effect.provide(PgStores.layerFromUrl(pgUrl))))

const dropRedis = () =>
  Effect.runPromise(Effect.gen(function*() {
    const redis = yield* Redis.Redis
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.send("SCAN", cursor, "MATCH", "obench:*", "COUNT", "1000")
      cursor = next
      if (keys.length > 0) yield* redis.send("DEL", ...keys)
    } while (cursor !== "0")
  }).pipe(Effect.provide(RedisStores.layerFromUrl(redisUrl))))

// ---------------------------------------------------------------- contenders

const numbers = Array.from({ length: 1_000 }, (_, i) => `+4474009${String(i).padStart(5, "0")}`)
const TEXT = "Your order 4711 has shipped and will arrive tomorrow between 9:00 and 13:00."
const run = randomUUID().slice(0, 8)
let sequence = 0
const requests = (n) =>
  Array.from({ length: n }, () => {
    const i = sequence++
    return { to: numbers[i % numbers.length], text: TEXT, idempotencyKey: `${run}-${i}` }
  })

const carrier = () => Sandbox.makeUnsafe({ name: "noop" })

const pgClient = ({ concurrency, pool }) =>
  createSmsClient({
    transports: [carrier()],
    stores: PgStores.layer({ tablePrefix: "obench_", purgeEvery: false, outbox: { concurrency } }).pipe(
      Layer.provide(PgStores.layerFromUrl(pgUrl, { maxConnections: pool }))
    )
  })

const redisClient = ({ concurrency }) =>
  createSmsClient({
    transports: [carrier()],
    stores: RedisStores.layer({ prefix: "obench:", outbox: { concurrency } }).pipe(Layer.provide(RedisStores.layerFromUrl(redisUrl)))
  })

// ---------------------------------------------------------------- timing

/** SENDERS lanes, each awaiting its sends one by one; answers latencies (ms), refusals by tag and wall ms. */
const drive = async (client, batch) => {
  const latencies = []
  const refused = {}
  let next = 0
  const lane = async () => {
    while (next < batch.length) {
      const request = batch[next++]
      const start = performance.now()
      try {
        await client.send(request)
        latencies.push(performance.now() - start)
      } catch (error) {
        const tag = error?._tag ?? "untyped"
        refused[tag] = (refused[tag] ?? 0) + 1
      }
    }
  }
  const start = performance.now()
  const cpu = process.cpuUsage()
  await Promise.all(Array.from({ length: SENDERS }, lane))
  const { user, system } = process.cpuUsage(cpu)
  return { latencies, refused, wall: performance.now() - start, cpu: (user + system) / 1000 }
}

const measure = async (make) => {
  const client = make()
  await client.ready()
  await drive(client, requests(WARM))
  const { latencies, refused, wall, cpu } = await drive(client, requests(MESSAGES))
  await client.close()
  latencies.sort((a, b) => a - b)
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? NaN
  return { perSec: (latencies.length * 1000) / wall, cpuPerSec: (latencies.length * 1000) / cpu, p50: at(0.5), p99: at(0.99), refused }
}

const fmt = (n) => Math.round(n).toLocaleString("en-US")

// ---------------------------------------------------------------- run

console.log(`node ${process.version}; ${fmt(MESSAGES)} sends a row after ${WARM} to warm up, ${SENDERS} concurrent senders, wall clock`)
const rows = []
const record = (backend, setting, result, goal) => {
  const refusals = Object.entries(result.refused).map(([tag, n]) => `${tag} ${n}`).join(", ")
  rows.push({
    backend,
    setting,
    "messages/s": fmt(result.perSec),
    // what this process's own CPU time allows: on a shared machine the wall rate also counts other processes
    "messages/CPU-s": fmt(result.cpuPerSec),
    "p50 ms": result.p50.toFixed(1),
    "p99 ms": result.p99.toFixed(1),
    refused: refusals === "" ? 0 : refusals,
    goal: goal === undefined ? "" : `≥ ${fmt(goal)}/s ${result.perSec >= goal && refusals === "" ? "met" : "NOT MET"}`
  })
  return result
}

/** Best of `rounds` interleaved runs of each contender, so neither gains from running second. */
const bestOf = async (rounds, makers) => {
  const best = makers.map(() => undefined)
  for (let round = 0; round < rounds; round++) {
    for (const [i, make] of makers.entries()) {
      const result = await measure(make)
      if (best[i] === undefined || result.perSec > best[i].perSec) best[i] = result
    }
  }
  return best
}

let memory
let baseline
if (wanted("memory")) {
  const memoryDefault = () => createSmsClient({ transports: [carrier()] })
  const before = process.env.SMSFORGE_BASELINE_DIST ? await import(`${process.env.SMSFORGE_BASELINE_DIST}/index.js`) : undefined
  const [now, then] = await bestOf(before === undefined ? 1 : 3, [memoryDefault, ...(before === undefined ? [] : [() => before.createSmsClient({ transports: [carrier()] })])])
  memory = record("memory default", "", now)
  if (then !== undefined) baseline = record("pipeline before the Outbox", "", then)
}

const skipped = []
const durable = async (name, url, variable, host, settings, make, drop) => {
  if (url === undefined) return void skipped.push(`${name} skipped: ${variable} is not set and nothing answers at ${host}`)
  await drop()
  for (const setting of settings) {
    const label = Object.entries(setting).map(([key, value]) => `${key} ${value}`).join(", ")
    record(name, label, await measure(() => make(setting)), GOALS[name])
  }
  await drop()
}
if (wanted("postgres")) {
  const settings = [{ concurrency: 32, pool: 10 }, { concurrency: 8, pool: 16 }, { concurrency: 8, pool: 32 }]
  await durable("PostgreSQL", pgUrl, "DATABASE_URL", "127.0.0.1:5432", settings, pgClient, dropPg)
}
if (wanted("redis")) {
  await durable("Redis", redisUrl, "REDIS_URL", "127.0.0.1:6379", [{ concurrency: 32 }, { concurrency: 8 }], redisClient, dropRedis)
}

console.table(rows)
for (const line of skipped) console.log(line)
if (baseline !== undefined) {
  const ratio = baseline.perSec / memory.perSec
  console.log(`memory default: ${ratio.toFixed(2)}x the pipeline before the Outbox (goal within 1.2x) ${ratio <= 1.2 ? "met" : "NOT MET"}`)
  console.log(["GOAL", "outbox-memory", `memory default ${fmt(memory.perSec)} vs before the Outbox ${fmt(baseline.perSec)} sends/s`, `${ratio.toFixed(2)}x`, "≤ 1.2x", ratio <= 1.2 ? "met" : "not met"].join("\t"))
} else if (memory !== undefined) {
  console.log("memory default vs the pipeline before the Outbox: set SMSFORGE_BASELINE_DIST to that build to compare")
}
// the best setting of each durable store, for the goal table
for (const [name, id] of [["PostgreSQL", "outbox-postgres"], ["Redis", "outbox-redis"]]) {
  const best = Math.max(...rows.filter((r) => r.backend === name).map((r) => Number(String(r["messages/s"]).replace(/,/g, ""))))
  if (best > 0) console.log(["GOAL", id, `${name}, best setting`, `${fmt(best)}/s`, `≥ ${fmt(GOALS[name])}/s`, best >= GOALS[name] ? "met" : "not met"].join("\t"))
}
