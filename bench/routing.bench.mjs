// What a big routing table costs a send (issue 15): sends through the Effect
// API to a no-op carrier, repeating recipients, 1 in flight, with
// - 1, 100 and 10,000 routes, where only the last route in rule order takes
//   the recipients (each other route holds one prefix of another country's
//   range, so a planner that walks the table looks at every route);
// - one route holding 1 and 10,000 prefixes, the recipients' prefix last.
// The goals: 10,000 routes within 1.5x of one route, and 10,000 prefixes
// within 1.5x of one prefix, each judged against its one-entry row of the
// same run.
//
//   npm run bench -- routing          (builds first)
//   node --expose-gc bench/routing.bench.mjs [sends]
//
// Figures are process CPU time (user + system) per send, best of three rounds
// interleaved between the rows, so that other processes on a shared machine
// colour them less.
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { capabilities } from "./carrier.mjs"

const { Sms, Transport } = await import(process.env.SMSFORGE_DIST ?? "../dist/index.js")
const SENDS = Number(process.argv[2] ?? 20_000)
const ROUNDS = 3

// 1,000 UK mobiles (+44 7400 1xx xxx, libphonenumber's example range), all under +447400.
const recipients = Array.from({ length: 1_000 }, (_, i) => `+4474001${String(10_000 + i).padStart(5, "0")}`)
const requests = (n) => Array.from({ length: n }, (_, i) => ({ to: recipients[i % recipients.length], text: "Your code is 123456" }))

const carrier = Transport.make({ name: "only", capabilities, submit: () => Effect.succeed({ providerMessageId: "id" }) })

// Prefixes no recipient has: +1 NANP area codes and exchanges, 10,000 distinct ones.
const otherPrefix = (i) => `+1${200 + Math.floor(i / 100)}${String(i % 100).padStart(2, "0")}`

const routesTable = (count) => ({
  routes: Array.from({ length: count }, (_, i) =>
    i === count - 1
      ? { name: `route-${i}`, transport: "only", prefixes: ["+447400"] }
      : { name: `route-${i}`, transport: "only", prefixes: [otherPrefix(i)] })
})
const prefixesTable = (count) => ({
  routes: [{
    name: "route",
    transport: "only",
    prefixes: [...Array.from({ length: count - 1 }, (_, i) => otherPrefix(i)), "+447400"]
  }]
})

const rows = [
  { name: "1 route", routing: routesTable(1) },
  { name: "100 routes", routing: routesTable(100) },
  { name: "10,000 routes", routing: routesTable(10_000) },
  { name: "1 route, 1 prefix", routing: prefixesTable(1) },
  { name: "1 route, 10,000 prefixes", routing: prefixesTable(10_000) }
].map((row) => ({ ...row, cpu: Infinity }))

const cpuNs = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1_000
}
const run = (runtime, batch) =>
  runtime.runPromise(Effect.flatMap(Sms.Sms, (sms) => Effect.forEach(batch, sms.send, { discard: true })))

for (let round = 0; round < ROUNDS; round++) {
  for (const row of rows) {
    const runtime = ManagedRuntime.make(Sms.layer({ transports: [carrier], routing: row.routing }))
    await run(runtime, requests(2_000))
    const batch = requests(SENDS)
    globalThis.gc?.()
    const cpu = cpuNs()
    await run(runtime, batch)
    row.cpu = Math.min(row.cpu, cpuNs() - cpu)
    await runtime.dispose()
  }
}

const us = (row) => row.cpu / 1_000 / SENDS
const [one, hundred, tenK, onePrefix, tenKPrefixes] = rows
console.log(`node ${process.version}; ${SENDS.toLocaleString("en-US")} sends a row, best of ${ROUNDS} interleaved rounds, CPU time`)
console.table(rows.map((row, i) => {
  const base = i < 3 ? one : onePrefix
  return { table: row.name, "µs/send": us(row).toFixed(2), "vs one entry": `${(us(row) / us(base)).toFixed(2)}x` }
}))
const goal = (id, what, row, base) => {
  const ratio = us(row) / us(base)
  console.log(
    `GOAL\t${id}\t${what}: ${us(row).toFixed(1)} vs ${us(base).toFixed(1)} µs a send\t${ratio.toFixed(2)}x\t≤ 1.5x\t${ratio <= 1.5 ? "met" : "not met"}`
  )
}
console.log(`100 routes: ${(us(hundred) / us(one)).toFixed(2)}x one route`)
goal("routes-10k", "10,000 routes vs 1 route", tenK, one)
goal("prefixes-10k", "one route holding 10,000 prefixes vs 1 prefix", tenKPrefixes, onePrefix)
