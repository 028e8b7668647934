// One application process of the chaos soak (see chaos.soak.mjs): sends its
// share of the messages through the Promise facade on the PostgreSQL stores
// and their durable Outbox, then keeps running the fleet's jobs until it is
// killed. Each line it prints is a fact the soak checks:
//   ok <n> <message id> <status>     the send of message n was accepted
//   err <n> <reason tag>             the send of message n was refused, typed
//   sent                             every message of its share was answered
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"

const dist = process.env.SMSFORGE_DIST ?? "../dist"
const { createSmsClient } = await import(`${dist}/index.js`)
const HttpTransport = await import(`${dist}/transports/http/index.js`)
const PostgresStores = await import(`${dist}/stores/postgres/index.js`)

const [from, to, carrierUrl, databaseUrl, startedAt] = process.argv.slice(2)
const first = Number(from)
const last = Number(to)
const origin = Number(startedAt)

const carrier = HttpTransport.make({
  name: "chaos-carrier",
  url: carrierUrl,
  fields: { to: "to", text: "text", ref: "clientReference" },
  response: { messageId: "id" },
  timeout: "5 seconds"
})
const stores = PostgresStores.layer({
  tablePrefix: "chaos_",
  purgeEvery: false,
  outbox: {
    // a message cut off mid-flight is taken up again after 5 s
    recoverAfter: "5 seconds",
    lockExpiration: "5 seconds",
    lockRefreshInterval: "1 second",
    pollInterval: "200 millis",
    maxAttempts: 30,
    backoff: Schedule.spaced("1 second")
  }
}).pipe(Layer.provide(PostgresStores.layerFromUrl(databaseUrl, { maxConnections: 8 })))

const client = createSmsClient({ transports: [carrier], retry: { maxAttempts: 2, base: "50 millis" }, stores })
await client.ready()

// 20 % are scheduled within the run (2 to 12 s after the soak started), the rest go now.
const requestOf = (n) => {
  const to = `+4474${String(10_000_000 + n).padStart(8, "0")}`
  const base = { to, text: `Order ${n} is out for delivery`, idempotencyKey: `chaos-${n}` }
  return n % 5 === 0 ? { ...base, sendAt: origin + 2_000 + (n % 10_000) } : base
}

const send = async (n) => {
  try {
    const receipt = await client.send(requestOf(n))
    process.stdout.write(`ok ${n} ${receipt.id} ${receipt.status}\n`)
  } catch (error) {
    process.stdout.write(`err ${n} ${error?._tag ?? "untyped"}\n`)
  }
}

let next = first
const lane = async () => {
  while (next < last) await send(next++)
}
await Promise.all(Array.from({ length: 16 }, lane))
process.stdout.write("sent\n")
// go on running the fleet's jobs until the soak stops this process
setInterval(() => {}, 1 << 30)
