// The outage soak of the durable Outbox: two application clients on one
// PostgreSQL (then on one Redis) reached through a TCP proxy this soak runs,
// sending messages with idempotency keys to an HTTP carrier. Mid-run the
// store is cut for 5 s (connections closed, port shut), then, separately,
// black-holed for 5 s (connections open, nothing passes). Checked:
// - every caller answers within the outage + 10 s, with a receipt or a typed
//   error (`_tag`);
// - after recovery every refused send, retried with the same key, answers a
//   receipt; then none lost, none stuck (accepted or queued once settled),
//   none duplicated (the carrier sees one reference per request; repeats of
//   one reference are carrier-level repeats, counted apart).
//
//   node bench/outage.soak.mjs [messages] [postgres|redis]     5,000 messages on each store
//
// Build first (`npm run build`): it imports ../dist (or SMSFORGE_DIST).
// DATABASE_URL and REDIS_URL (defaults postgres://postgres@127.0.0.1:5432/test
// and redis://127.0.0.1:6379, used when a server answers there); a store with
// neither is skipped with one line. Tables outage_* and keys outage:* are
// dropped before and after.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as References from "effect/References"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SqlClient from "effect/sql/SqlClient"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import * as Net from "node:net"

const dist = process.env.SMSFORGE_DIST ?? "../dist"
const { createSmsClient } = await import(`${dist}/index.js`)
const HttpTransport = await import(`${dist}/transports/http/index.js`)
const PgStores = await import(`${dist}/stores/postgres/index.js`)
const RedisStores = await import(`${dist}/stores/redis/index.js`)
const MESSAGES = Number(process.argv[2] ?? 5_000)
const CLIENTS = 2
const LANES = 32 // concurrent senders per client
const SEND_SPAN_MS = 22_000 // the sends are paced over this span, so both outages fall mid-run
const OUTAGES = [{ kind: "cut", at: 5_000 }, { kind: "blackhole", at: 13_000 }]
const OUTAGE_MS = 5_000
const ANSWER_LIMIT_MS = OUTAGE_MS + 10_000
const SETTLE_LIMIT_MS = 90_000
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

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

/**
 * A TCP proxy in front of the store, as test/integration/env.ts's proxyTo:
 * `cut` closes every connection and the port, `restore` listens again on it;
 * `blackhole` keeps connections open and drops what passes, `heal` resets
 * the held connections (a partition that outlived TCP) and forwards again.
 */
const startProxy = async (url) => {
  const target = new URL(url)
  const sockets = new Set()
  let dropping = false
  let server
  const track = (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
  }
  const onConnection = (client) => {
    track(client)
    if (dropping) return
    const upstream = Net.connect(Number(target.port), target.hostname)
    track(upstream)
    const forward = (to) => (chunk) => void (dropping || to.write(chunk))
    client.on("data", forward(upstream))
    upstream.on("data", forward(client))
    client.on("close", () => upstream.destroy())
    upstream.on("close", () => client.destroy())
  }
  const listen = (port) =>
    new Promise((resolve, reject) => {
      server = Net.createServer(onConnection)
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => resolve(server.address().port))
    })
  const resetAll = () => {
    for (const socket of sockets) socket.destroy()
  }
  const port = await listen(0)
  const proxied = new URL(url)
  proxied.hostname = "127.0.0.1"
  proxied.port = String(port)
  return {
    url: proxied.toString(),
    cut: () => new Promise((resolve) => (server.close(() => resolve()), resetAll())),
    restore: () => listen(port),
    blackhole: () => void (dropping = true),
    heal: () => void ((dropping = false), resetAll()),
    close: () => new Promise((resolve) => (server.close(() => resolve()), resetAll()))
  }
}

// ---------------------------------------------------------------- carrier

/** An HTTP carrier that counts what it was handed, by client reference and by request number. */
const startCarrier = async () => {
  const accepted = new Map() // reference → times handed after the first
  const refsOf = new Map() // request number → references it was handed under
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (chunk) => (body += chunk))
    req.on("end", () => {
      const { ref, text } = JSON.parse(body)
      const n = Number(/#(\d+)/.exec(text)?.[1])
      accepted.set(ref, (accepted.get(ref) ?? -1) + 1)
      refsOf.set(n, (refsOf.get(n) ?? new Set()).add(ref))
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: `c-${ref}` }))
    })
  })
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
  return { url: `http://127.0.0.1:${server.address().port}/sms`, accepted, refsOf, close: () => server.close() }
}

// ---------------------------------------------------------------- stores

const outbox = { recoverAfter: "8 seconds", lockExpiration: "5 seconds", lockRefreshInterval: "1 second", pollInterval: "200 millis" }

const postgres = (url) => ({
  name: "PostgreSQL",
  layer: (at) =>
    PgStores.layer({ tablePrefix: "outage_", purgeEvery: false, outbox }).pipe(
      Layer.provide(PgStores.layerFromUrl(at, { maxConnections: 8, connectTimeout: "1 second" }))
    ),
  query: (f) => Effect.runPromise(Effect.flatMap(Effect.service(SqlClient.SqlClient), f).pipe(Effect.provide(PgStores.layerFromUrl(url)))),
  clean() {
    return this.query((sql) =>
      Effect.gen(function*() {
        const tables = yield* sql`SELECT tablename FROM pg_tables WHERE tablename LIKE 'outage\\_%'`
        for (const { tablename } of tables) yield* sql.unsafe(`DROP TABLE IF EXISTS "${tablename}" CASCADE`)
      })
    )
  },
  async statuses() {
    const rows = await this.query((sql) => sql`SELECT id, status FROM outage_messages`)
    return new Map(rows.map((row) => [row.id, row.status]))
  }
})

const STATUSES = ["accepted", "queued", "submitted", "delivered", "failed", "undelivered", "expired", "rejected", "canceled"]
const redis = (url) => ({
  name: "Redis",
  layer: (at) => RedisStores.layer({ prefix: "outage:", outbox }).pipe(Layer.provide(RedisStores.layerFromUrl(at, { closeTimeout: "200 millis" }))),
  query: (f) => Effect.runPromise(Effect.flatMap(Effect.service(Redis.Redis), f).pipe(Effect.provide(RedisStores.layerFromUrl(url)))),
  clean() {
    return this.query((client) =>
      Effect.gen(function*() {
        let cursor = "0"
        do {
          const [next, keys] = yield* client.send("SCAN", cursor, "MATCH", "outage:*", "COUNT", "1000")
          cursor = next
          if (keys.length > 0) yield* client.send("DEL", ...keys)
        } while (cursor !== "0")
      })
    )
  },
  async statuses() {
    const byStatus = await this.query((client) =>
      Effect.forEach(STATUSES, (status) => client.send("ZRANGE", `outage:msgs:status:${status}`, "0", "-1")))
    return new Map(STATUSES.flatMap((status, i) => byStatus[i].map((id) => [id, status])))
  }
})

// ---------------------------------------------------------------- one soak

const requestOf = (run, n) => ({ to: `+4474009${String(n % 10_000).padStart(5, "0")}`, text: `Order #${n} is out for delivery`, idempotencyKey: `${run}-${n}` })

let untypedSample // the first error without a `_tag`, to say what it was

/** One send, timed: its receipt or its typed error. */
const attempt = async (client, request) => {
  const start = performance.now()
  try {
    const receipt = await client.send(request)
    return { ok: true, id: receipt.id, status: receipt.status, ms: performance.now() - start }
  } catch (error) {
    if (error?._tag === undefined && untypedSample === undefined) untypedSample = error
    return { ok: false, tag: error?._tag ?? "untyped", ms: performance.now() - start }
  }
}

/** The first pass: every message sent once, paced over SEND_SPAN_MS, with the outages on their timeline. */
const firstPass = async (clients, proxy, run) => {
  const results = new Array(MESSAGES)
  const start = Date.now()
  const outages = OUTAGES.map(async ({ kind, at }) => {
    await sleep(at)
    if (kind === "cut") await proxy.cut()
    else proxy.blackhole()
    await sleep(OUTAGE_MS)
    if (kind === "cut") await proxy.restore()
    else proxy.heal()
  })
  let next = 0
  const lane = (client) => async () => {
    while (next < MESSAGES) {
      const n = next++
      const due = start + (n * SEND_SPAN_MS) / MESSAGES
      if (due > Date.now()) await sleep(due - Date.now())
      results[n] = await attempt(client, requestOf(run, n))
    }
  }
  await Promise.all([...outages, ...clients.flatMap((client) => Array.from({ length: LANES }, lane(client)))])
  return results
}

/** After recovery: every refused send again with the same key, a few rounds apart. */
const retryRefused = async (clients, run, results) => {
  let retried = 0
  for (let round = 0; round < 5; round++) {
    const refused = results.flatMap((r, n) => (r.ok ? [] : [n]))
    if (refused.length === 0) break
    retried += refused.length
    let i = 0
    const lane = (client) => async () => {
      while (i < refused.length) {
        const n = refused[i++]
        results[n] = await attempt(client, requestOf(run, n))
      }
    }
    await Promise.all(clients.flatMap((client) => Array.from({ length: LANES }, lane(client))))
    await sleep(1_000)
  }
  return retried
}

/** Waits until no message is accepted or queued (the Outbox's jobs finish what the outages left). */
const settle = async (store) => {
  const start = Date.now()
  let statuses = await store.statuses()
  const open = () => [...statuses.values()].filter((s) => s === "accepted" || s === "queued").length
  while (open() > 0 && Date.now() - start < SETTLE_LIMIT_MS) {
    await sleep(1_000)
    statuses = await store.statuses()
  }
  return statuses
}

/** What the soak checks, from the callers' answers, the store and the carrier. */
const verdictOf = (first, results, statuses, carrier) => {
  const late = first.filter((r) => r.ms > ANSWER_LIMIT_MS).length
  const untyped = first.filter((r) => !r.ok && r.tag === "untyped").length
  let unanswered = 0
  let lost = 0
  let duplicated = 0
  for (const [n, r] of results.entries()) {
    if (!r.ok) {
      unanswered++
      continue
    }
    const status = statuses.get(r.id)
    if (status === undefined || ((status === "submitted" || status === "delivered") && !carrier.accepted.has(r.id))) lost++
    const refs = carrier.refsOf.get(n) ?? new Set()
    // a second reference for one request, or one that is not its message's id: a second SMS
    if (refs.size > 1 || (refs.size === 1 && !refs.has(r.id))) duplicated++
  }
  const stuck = [...statuses.values()].filter((s) => s === "accepted" || s === "queued").length
  return { late, untyped, "refused after retries": unanswered, lost, stuck, duplicated }
}

/** The first pass's answers by receipt status or error tag, with the longest wait. */
const answersOf = (first) => {
  const counts = {}
  for (const r of first) {
    const key = r.ok ? `receipt ${r.status}` : `error ${r.tag}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return { ...counts, "max latency (s)": Number((Math.max(...first.map((r) => r.ms)) / 1000).toFixed(2)) }
}

const soak = async (store, url) => {
  await store.clean()
  const proxy = await startProxy(url)
  const carrier = await startCarrier()
  const transport = HttpTransport.make({
    name: "outage-carrier",
    url: carrier.url,
    fields: { to: "to", text: "text", ref: "clientReference" },
    response: { messageId: "id" },
    timeout: "5 seconds"
  })
  // The drivers and the circuit breaker log every failed call; the tables below say what the outages did.
  const quiet = Layer.succeed(References.MinimumLogLevel, "None")
  const clients = Array.from({ length: CLIENTS }, () =>
    createSmsClient({
      transports: [transport],
      retry: { maxAttempts: 2, base: "50 millis" },
      stores: store.layer(proxy.url),
      observability: { layer: quiet }
    }))
  // One after the other: effect's SQL KeyValueStore (templates) creates its table without a lock,
  // so two instances building their stores at once on a fresh database can collide.
  for (const client of clients) await client.ready()
  const run = randomUUID().slice(0, 8)
  const started = Date.now()
  const progress = setInterval(() => process.stdout.write(`\r${store.name}: ${((Date.now() - started) / 1000).toFixed(0)}s  carrier took ${carrier.accepted.size}   `), 1000)
  const first = await firstPass(clients, proxy, run)
  const results = [...first]
  const retried = await retryRefused(clients, run, results)
  const statuses = await settle(store)
  clearInterval(progress)
  await Promise.all(clients.map((client) => client.close()))
  await proxy.close()
  carrier.close()
  await store.clean()
  const counts = {}
  for (const status of statuses.values()) counts[status] = (counts[status] ?? 0) + 1
  const repeats = [...carrier.accepted.values()].reduce((sum, n) => sum + n, 0)
  return {
    answers: answersOf(first),
    figures: { messages: MESSAGES, "retried with the same key": retried, "carrier took": carrier.accepted.size, "carrier-level repeats of one reference": repeats, seconds: Number(((Date.now() - started) / 1000).toFixed(1)) },
    statuses: counts,
    verdict: verdictOf(first, results, statuses, carrier)
  }
}

// ---------------------------------------------------------------- run

// a second argument picks one store: postgres or redis
const only = process.argv[3]
const stores = [
  ["DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test", postgres],
  ["REDIS_URL", "redis://127.0.0.1:6379", redis]
].filter(([variable]) => only === undefined || variable === (only === "redis" ? "REDIS_URL" : "DATABASE_URL"))
console.log(`outage soak: ${MESSAGES} messages per store, ${CLIENTS} clients x ${LANES} senders; store cut ${OUTAGE_MS / 1000} s at ${OUTAGES[0].at / 1000} s, black-holed ${OUTAGE_MS / 1000} s at ${OUTAGES[1].at / 1000} s; an answer within ${ANSWER_LIMIT_MS / 1000} s`)
const verdicts = {}
for (const [variable, fallback, make] of stores) {
  const url = await serverUrl(variable, fallback)
  const store = make(url)
  if (url === undefined) {
    console.log(`${store.name} skipped: ${variable} is not set and nothing answers at ${new URL(fallback).host}`)
    continue
  }
  const result = await soak(store, url)
  console.log(`\n\n${store.name}: first answers (receipt status or error tag)`)
  console.table(result.answers)
  console.table(result.figures)
  console.log(`${store.name}: message statuses once settled`)
  console.table(result.statuses)
  verdicts[store.name] = result.verdict
}
console.table(verdicts)
if (untypedSample !== undefined) {
  // a construction failure carries its schema issue: say which field
  const issue = untypedSample?.cause?.["~effect/SchemaIssue/Issue"] === undefined ? undefined : SchemaIssue.makeFormatterDefault()(untypedSample.cause)
  console.log("an untyped error:", untypedSample?.stack ?? untypedSample, issue === undefined ? "" : `\n${issue}`)
}
const failed = Object.entries(verdicts).filter(([, v]) => Object.values(v).some((n) => n > 0)).map(([name]) => name)
console.log(
  Object.keys(verdicts).length === 0
    ? "outage soak: no store to soak"
    : failed.length === 0
    ? `outage soak: every caller answered in time, typed; after retries with the same keys 0 lost, 0 stuck, 0 duplicated (${Object.keys(verdicts).join(", ")})`
    : `outage soak: FAILED on ${failed.join(", ")}`
)
process.exit(failed.length === 0 ? 0 : 1)
