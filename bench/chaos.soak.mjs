// The chaos soak of the durable Outbox: several application processes on one
// PostgreSQL, a carrier that fails transiently and deduplicates by client
// reference, and a random process SIGKILLed every 2–5 s and started again.
// Every accepted message must end delivered or in a terminal status: none
// lost, none stuck, none submitted under two references.
//
//   npm run bench:chaos                       20,000 messages, 3 processes
//   node bench/chaos.soak.mjs [messages] [processes]
//
// Needs DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). It
// drops and recreates its own tables (prefix chaos_).
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { createServer } from "node:http"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"

const here = dirname(fileURLToPath(import.meta.url))
const dist = process.env.SMSFORGE_DIST ?? "../dist"
const PostgresStores = await import(`${dist}/stores/postgres/index.js`)
const MESSAGES = Number(process.argv[2] ?? 20_000)
const PROCESSES = Number(process.argv[3] ?? 3)
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const SETTLE_LIMIT_MS = 180_000

const sql = (f) => Effect.runPromise(Effect.flatMap(Effect.service(SqlClient.SqlClient), f).pipe(Effect.provide(PostgresStores.layerFromUrl(DATABASE_URL))))

// ------------------------------------------------------------------ carrier

// 30 % of messages meet one or two transient faults (503) before the carrier takes them.
const faultsOf = (ref) => {
  const h = createHash("sha256").update(ref).digest()
  return h[0] % 10 < 3 ? 1 + (h[1] % 2) : 0
}
const accepted = new Map() // ref → times the carrier was handed it after accepting it once
const faulted = new Map()
let requests = 0
const carrier = createServer((req, res) => {
  let body = ""
  req.on("data", (chunk) => (body += chunk))
  req.on("end", () => {
    requests++
    const { ref } = JSON.parse(body)
    const faults = faulted.get(ref) ?? 0
    if (!accepted.has(ref) && faults < faultsOf(ref)) {
      faulted.set(ref, faults + 1)
      res.writeHead(503).end("{}")
      return
    }
    accepted.set(ref, (accepted.get(ref) ?? -1) + 1)
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: `c-${ref}` }))
  })
})
await new Promise((resolve) => carrier.listen(0, "127.0.0.1", resolve))
const carrierUrl = `http://127.0.0.1:${carrier.address().port}/sms`

// ------------------------------------------------------------------ fleet

await sql((client) => Effect.gen(function*() {
  const tables = yield* client`SELECT tablename FROM pg_tables WHERE tablename LIKE 'chaos\\_%'`
  for (const { tablename } of tables) yield* client.unsafe(`DROP TABLE IF EXISTS "${tablename}" CASCADE`)
}))

const startedAt = Date.now()
const reported = new Map() // n → Set of message ids answered for it
const refused = new Map() // reason tag → count
const shareDone = new Set()
const workers = []
let kills = 0
let stopping = false

const shareOf = (index) => [Math.floor((MESSAGES * index) / PROCESSES), Math.floor((MESSAGES * (index + 1)) / PROCESSES)]

const start = (index) => {
  const [from, to] = shareOf(index)
  const child = spawn(process.execPath, [join(here, "chaos-worker.mjs"), from, to, carrierUrl, DATABASE_URL, startedAt], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, SMSFORGE_DIST: dist }
  })
  createInterface({ input: child.stdout }).on("line", (line) => {
    const [kind, n, id] = line.split(" ")
    if (kind === "ok") {
      const ids = reported.get(Number(n)) ?? new Set()
      reported.set(Number(n), ids.add(id))
    } else if (kind === "err") refused.set(id ?? n, (refused.get(id ?? n) ?? 0) + 1)
    else if (kind === "sent") shareDone.add(index)
  })
  child.on("exit", () => {
    if (!stopping && workers[index] === child) setTimeout(() => (workers[index] = start(index)), 200)
  })
  return child
}
for (let i = 0; i < PROCESSES; i++) workers.push(start(i))

const progress = setInterval(() => {
  const elapsed = ((Date.now() - startedAt) / 1000).toFixed(0)
  process.stdout.write(`\r${elapsed}s  answered ${reported.size}/${MESSAGES}  carrier took ${accepted.size}  kills ${kills}   `)
}, 1000)

// A random process killed every 2–5 s while the messages are being sent and shortly after.
const killer = async () => {
  while (!stopping && (shareDone.size < PROCESSES || Date.now() - startedAt < 15_000)) {
    await new Promise((resolve) => setTimeout(resolve, 2000 + Math.random() * 3000))
    if (stopping) return
    const victim = workers[Math.floor(Math.random() * PROCESSES)]
    if (victim.exitCode === null) {
      victim.kill("SIGKILL")
      kills++
    }
  }
}
await killer()

// ------------------------------------------------------------------ settle and check

const statuses = () =>
  sql((client) => client`SELECT status, count(*)::int AS n FROM chaos_messages GROUP BY status`).then((rows) =>
    Object.fromEntries(rows.map((r) => [r.status, r.n]))
  )
let counts = await statuses()
const settleStart = Date.now()
while (Date.now() - settleStart < SETTLE_LIMIT_MS && ((counts.accepted ?? 0) + (counts.queued ?? 0) > 0 || reported.size < MESSAGES)) {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  counts = await statuses()
}
clearInterval(progress)
stopping = true
for (const worker of workers) worker.kill("SIGTERM")
carrier.close()

const rows = await sql((client) => client`SELECT id, status FROM chaos_messages`)
const statusById = new Map(rows.map((r) => [r.id, r.status]))
let twoIds = 0
let lost = 0
let stuck = 0
for (let n = 0; n < MESSAGES; n++) {
  const ids = reported.get(n)
  if (ids === undefined) {
    lost++
    continue
  }
  if (ids.size > 1) twoIds++
  const [id] = ids
  const status = statusById.get(id)
  if (status === undefined) lost++
  else if (status === "accepted" || status === "queued") stuck++
  else if (status === "submitted" && !accepted.has(id)) lost++
}
const repeats = [...accepted.values()].reduce((sum, n) => sum + n, 0)
const seconds = (Date.now() - startedAt) / 1000

console.log("\n")
console.table({
  messages: MESSAGES,
  processes: PROCESSES,
  "SIGKILLs": kills,
  "carrier requests": requests,
  "delivered to the carrier": accepted.size,
  "carrier-level repeats of one reference": repeats,
  "typed refusals (then retried)": [...refused.values()].reduce((a, b) => a + b, 0),
  "seconds": Number(seconds.toFixed(1))
})
console.table(counts)
const verdict = { lost, stuck, "submitted under two references": twoIds }
console.table(verdict)
const ok = lost === 0 && stuck === 0 && twoIds === 0
console.log(ok ? "chaos soak: every accepted message finished" : "chaos soak: FAILED")
process.exit(ok ? 0 : 1)
