// Sends per second through the whole pipeline to a no-op carrier, against
// notifme-sdk sending through a no-op provider, measured side by side in one
// process:
// - the Promise facade (`createSmsClient`) and the Effect API (`Sms.layer`);
// - plain text and templated; 1 send at a time (awaited one by one) and 100
//   in flight;
// - recipients drawn from 1,000 numbers (the normalisation cache hits) and all
//   distinct (every send parses a number: bounded by libphonenumber-js's own
//   parse rate, printed too);
// - failover: our first carrier refuses every message (`Rejected`, as a carrier
//   does for a sender ID not registered on its route: not retryable, and says
//   nothing about the route's health, so the circuit stays closed and every
//   send tries it first), against notifme's `fallback` strategy whose first
//   provider throws.
//
//   npm run bench -- pipeline          (builds first)
//   node --expose-gc bench/pipeline.bench.mjs [sends]
//
// Figures are process CPU time (user + system) per send, best of three rounds
// interleaved between the contenders, so that other processes on a shared
// machine colour them less; the wall-clock rate is printed next to them.
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import { parsePhoneNumberWithError } from "libphonenumber-js/max"
import NotifmeModule from "notifme-sdk"
import { createRequire } from "node:module"

// SMSFORGE_DIST points at another build (relative to bench/), as in soak.bench.mjs.
const { createSmsClient, PhoneNumbers, Sms, Transport } = await import(process.env.SMSFORGE_DIST ?? "../dist/index.js")
const require = createRequire(import.meta.url)
const NotifmeSdk = NotifmeModule.default ?? NotifmeModule
const SENDS = Number(process.argv[2] ?? 20_000)
const DISTINCT_SENDS = Math.min(SENDS, 20_000)
const ROUNDS = 3

// ---------------------------------------------------------------- recipients

// UK mobiles +44 74xx xxxxxx, each checked valid and mobile by libphonenumber-js/max.
let seed = 0x9e3779b9
const random = () => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 0x100000000
}
const makeNumbers = (count, taken = new Set()) => {
  const out = []
  while (out.length < count) {
    const candidate = `+4474${String(Math.floor(random() * 1e8)).padStart(8, "0")}`
    if (taken.has(candidate)) continue
    const parsed = parsePhoneNumberWithError(candidate)
    if (!parsed.isValid() || parsed.getType() !== "MOBILE") continue
    taken.add(candidate)
    out.push(candidate)
  }
  return out
}
const taken = new Set()
const repeating = makeNumbers(1_000, taken)
// Every round gets numbers no round has seen, so the distinct rows never hit a cache.
const distinctPool = makeNumbers(DISTINCT_SENDS * (6 * ROUNDS + 1), taken)
let distinctAt = 0
const nextDistinct = (n) => {
  const slice = distinctPool.slice(distinctAt, distinctAt + n)
  distinctAt += n
  if (slice.length < n) throw new Error("distinct pool exhausted")
  return slice
}

// ---------------------------------------------------------------- requests

const TEXT = "Your order 4711 has shipped and will arrive tomorrow between 9:00 and 13:00."
const textRequests = (numbers, n) => Array.from({ length: n }, (_, i) => ({ to: numbers[i % numbers.length], text: TEXT }))
const templateRequests = (numbers, n) =>
  Array.from({ length: n }, (_, i) => ({
    to: numbers[i % numbers.length],
    template: "shipped",
    variables: { order: String(4000 + (i % 1000)), day: "tomorrow" }
  }))
const templates = [{
  id: "shipped",
  variables: Schema.Struct({ order: Schema.String, day: Schema.String }),
  locales: { default: "Your order {{order}} has shipped and will arrive {{day}} between 9:00 and 13:00." },
  status: "approved"
}]

// ---------------------------------------------------------------- contenders

const capabilities = {
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: false,
  inbound: false,
  senderTypes: ["alphanumeric", "long-code"]
}
const accepted = { providerMessageId: "id" }
const noop = (name) => Transport.make({ name, capabilities, submit: () => Effect.succeed(accepted) })
const refused = new Transport.Rejected({ code: "sender-not-registered" })
const refusing = (name) => Transport.make({ name, capabilities, submit: () => Effect.fail(refused) })

const transportsFor = (failover) => (failover ? [refusing("first"), noop("second")] : [noop("only")])

// A pool of `concurrency` workers, each awaiting its sends one by one.
const drive = async (requests, concurrency, send) => {
  let next = 0
  let failures = 0
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++]
      try {
        await send(request)
      } catch (error) {
        if (failures++ === 0) console.error(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  if (failures > 0) throw new Error(`${failures} sends failed`)
}

const facade = (failover) => {
  const client = createSmsClient({ transports: transportsFor(failover), templates })
  return {
    run: (requests, concurrency) => drive(requests, concurrency, client.send),
    close: () => client.close()
  }
}

const effectApi = (failover) => {
  const runtime = ManagedRuntime.make(Sms.layer({ transports: transportsFor(failover), templates }))
  return {
    run: (requests, concurrency) =>
      runtime.runPromise(
        Effect.flatMap(Sms.Sms, (sms) => Effect.forEach(requests, sms.send, { concurrency, discard: true }))
      ),
    close: () => runtime.dispose()
  }
}

let winstonSilenced = false
const notifme = (failover) => {
  const send = async () => "id"
  const sdk = new NotifmeSdk({
    ...(failover ? { multiProviderStrategy: "fallback" } : {}),
    channels: {
      sms: {
        ...(failover ? { multiProviderStrategy: "fallback" } : {}),
        providers: failover
          ? [{ type: "custom", id: "first", send: async () => { throw new Error("sender not registered") } }, { type: "custom", id: "second", send }]
          : [{ type: "custom", id: "noop", send }]
      }
    }
  })
  if (!winstonSilenced) {
    // notifme logs every fallback through winston; a silent transport keeps
    // the output readable and takes console I/O out of its figures.
    const winston = require(require.resolve("winston", { paths: [require.resolve("notifme-sdk")] }))
    sdk.logger.configure({ transports: [new winston.transports.Console({ silent: true })] })
    winstonSilenced = true
  }
  return {
    run: (requests, concurrency) =>
      drive(requests, concurrency, async (r) => {
        const result = await sdk.send({ sms: { from: "Shop", to: r.to, text: r.text } })
        if (result.status !== "success") throw new Error("notifme failed")
      }),
    close: async () => {}
  }
}

// ---------------------------------------------------------------- timing

const cpuNs = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1_000
}

/**
 * Rows measured in interleaved rounds: each round builds every contender
 * afresh, warms it on other requests, then times `requests()` through it.
 */
const measure = async (rows) => {
  const results = rows.map((row) => ({ ...row, cpu: Infinity, wall: Infinity, n: 0 }))
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of results) {
      const instance = row.make()
      await instance.run(row.warm(), row.concurrency)
      const requests = row.requests()
      globalThis.gc?.()
      const wall = process.hrtime.bigint()
      const cpu = cpuNs()
      await instance.run(requests, row.concurrency)
      row.cpu = Math.min(row.cpu, cpuNs() - cpu)
      row.wall = Math.min(row.wall, Number(process.hrtime.bigint() - wall))
      row.n = requests.length
      await instance.close()
    }
  }
  return results.map((r) => ({
    ...r,
    usPerSend: r.cpu / 1_000 / r.n,
    perSec: (r.n * 1e9) / r.cpu,
    wallPerSec: (r.n * 1e9) / r.wall
  }))
}

const fmt = (n) => Math.round(n).toLocaleString("en-US")

// ---------------------------------------------------------------- parse rate

// What a distinct recipient costs at least: libphonenumber-js/max parsing,
// validating and typing it (what PhoneNumbers.parse asks of it), and our pure parse.
const parseRate = () => {
  const numbers = nextDistinct(DISTINCT_SENDS)
  const rows = []
  for (const [name, parse] of [
    ["libphonenumber-js/max parse + isValid + getType", (n) => {
      const p = parsePhoneNumberWithError(n)
      return p.isValid() && p.getType()
    }],
    ["smsforge PhoneNumbers.parse (pure)", (n) => PhoneNumbers.parse(n)]
  ]) {
    let best = Infinity
    for (let round = 0; round < ROUNDS; round++) {
      globalThis.gc?.()
      const cpu = cpuNs()
      for (const n of numbers) parse(n)
      best = Math.min(best, cpuNs() - cpu)
    }
    rows.push({ name, usPerSend: best / 1_000 / numbers.length, perSec: (numbers.length * 1e9) / best })
  }
  return rows
}

// ---------------------------------------------------------------- run

const cases = []
const add = (group, name, make, concurrency, requests, warm = () => textRequests(repeating.slice(500), 2_000)) =>
  cases.push({ group, name, make, concurrency, requests, warm })

for (const concurrency of [1, 100]) {
  const c = `${concurrency} in flight`
  add(`repeating, text, ${c}`, "notifme-sdk", () => notifme(false), concurrency, () => textRequests(repeating, SENDS))
  add(`repeating, text, ${c}`, "smsforge facade", () => facade(false), concurrency, () => textRequests(repeating, SENDS))
  add(`repeating, text, ${c}`, "smsforge Effect API", () => effectApi(false), concurrency, () => textRequests(repeating, SENDS))
  add(`repeating, template, ${c}`, "smsforge facade", () => facade(false), concurrency, () => templateRequests(repeating, SENDS))
  add(`repeating, template, ${c}`, "smsforge Effect API", () => effectApi(false), concurrency, () => templateRequests(repeating, SENDS))
  add(`distinct, text, ${c}`, "notifme-sdk", () => notifme(false), concurrency, () => textRequests(nextDistinct(DISTINCT_SENDS), DISTINCT_SENDS))
  add(`distinct, text, ${c}`, "smsforge facade", () => facade(false), concurrency, () => textRequests(nextDistinct(DISTINCT_SENDS), DISTINCT_SENDS))
  add(`distinct, text, ${c}`, "smsforge Effect API", () => effectApi(false), concurrency, () => textRequests(nextDistinct(DISTINCT_SENDS), DISTINCT_SENDS))
  add(`failover, text, ${c}`, "notifme-sdk fallback", () => notifme(true), concurrency, () => textRequests(repeating, SENDS))
  add(`failover, text, ${c}`, "smsforge facade", () => facade(true), concurrency, () => textRequests(repeating, SENDS))
  add(`failover, text, ${c}`, "smsforge Effect API", () => effectApi(true), concurrency, () => textRequests(repeating, SENDS))
}

console.log(`node ${process.version}; ${fmt(SENDS)} sends a row (${fmt(DISTINCT_SENDS)} distinct), best of ${ROUNDS} interleaved rounds, CPU time`)
const parse = parseRate()
const results = await measure(cases)

const peerOf = (row) =>
  results.find((r) => r.group.replace("template", "text") === row.group.replace("template", "text") && r.name.startsWith("notifme"))
const table = results.map((r) => {
  const peer = peerOf(r)
  return {
    case: r.group,
    contender: r.name,
    "µs/send": r.usPerSend.toFixed(2),
    "sends/s (CPU)": fmt(r.perSec),
    "sends/s (wall)": fmt(r.wallPerSec),
    "vs notifme": peer === undefined || peer === r ? "" : `${(r.perSec / peer.perSec).toFixed(2)}x`
  }
})
console.table(table)
console.table(parse.map((r) => ({ "distinct recipients, parse only": r.name, "µs/number": r.usPerSend.toFixed(2), "numbers/s": fmt(r.perSec) })))

const pick = (group, name) => results.find((r) => r.group === group && r.name === name)
const lib = parse[0]
console.log("\nGoals (issue 3): ≥2x notifme repeating, ≥2x notifme fallback on failover, distinct within the parse rate")
for (const c of ["1 in flight", "100 in flight"]) {
  for (const api of ["smsforge facade", "smsforge Effect API"]) {
    const rep = pick(`repeating, text, ${c}`, api)
    const fo = pick(`failover, text, ${c}`, api)
    const dis = pick(`distinct, text, ${c}`, api)
    const repRatio = rep.perSec / pick(`repeating, text, ${c}`, "notifme-sdk").perSec
    const foRatio = fo.perSec / pick(`failover, text, ${c}`, "notifme-sdk fallback").perSec
    // a distinct send costs a repeating send plus one parse: the parse-bound ceiling
    const ceiling = 1e6 / (rep.usPerSend + lib.usPerSend)
    console.log(
      `${c.padEnd(14)} ${api.padEnd(20)} repeating ${repRatio.toFixed(2)}x ${repRatio >= 2 ? "ok" : "BELOW"}; ` +
        `failover ${foRatio.toFixed(2)}x ${foRatio >= 2 ? "ok" : "BELOW"}; ` +
        `distinct ${fmt(dis.perSec)}/s vs parse-bound ${fmt(ceiling)}/s (${((dis.perSec / ceiling) * 100).toFixed(0)} %)`
    )
  }
}
