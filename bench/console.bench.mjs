// Console reports: how long a report takes to answer with 1,000,000 messages
// folded into the aggregates, against the goal (< 200 ms).
//
//   npm run build && node bench/console.bench.mjs
//
// The built console's Aggregates (what `GET /console/reports` reads) folds
// the events of 1,000,000 messages as the pipeline publishes them: accepted,
// queued, submitted, then a receipt up to two minutes later, interleaved
// with other messages' events. The mix is a day of traffic: 40 countries,
// 12 routes, 30 templates and plain texts, 1–4 segments, 93 % delivered,
// undelivered with six carrier reasons, 1 % refused before any carrier took
// them, 1 % never answered (left pending); one day of minute buckets.
//
// Rows (each report answer timed separately; p50/p99/max over ANSWERS answers):
//   report()                   the aggregates' answer
//   report() + JSON.stringify  what the endpoint does per request; the goal is judged on it
import { Aggregates } from "../dist/console/index.js"

const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000)
const ANSWERS = Number(process.env.ANSWERS ?? 500)
const GOAL_MS = 200

// A small fast PRNG, so every run folds the same traffic.
let seed = 0x9e3779b9
const random = () => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 4_294_967_296
}
const pick = (items) => items[Math.floor(random() * items.length)]

const countries = Array.from({ length: 40 }, (_, i) => String.fromCharCode(65 + (i % 26), 65 + Math.floor(i / 26) * 7 + (i % 5)))
const routes = Array.from({ length: 12 }, (_, i) => `route-${i}`)
const templates = [...Array.from({ length: 30 }, (_, i) => `template-${i}`), undefined, undefined, undefined, "(verification code)"]
const reasons = ["EC_ABSENT_SUBSCRIBER", "EC_UNKNOWN_SUBSCRIBER", "EC_CALL_BARRED", "EC_SYSTEM_FAILURE", "EC_MEMORY_FULL", "EC_TELESERVICE_NOT_PROVISIONED"]
const prices = Object.fromEntries(routes.map((r, i) => [r, 0.005 + i * 0.004]))

const DAY = 86_400_000
const start = Date.UTC(2026, 11, 1)
const LAG = 2_000 // messages in flight between a submission and its receipt

const heapMiB = () => process.memoryUsage().heapUsed / 1_048_576

const fold = (aggregates) => {
  const facts = new Map()
  const finals = []
  const known = (id) => () => facts.get(id)
  const receive = (final) => {
    aggregates.observe(final.event, known(final.event.messageId))
    facts.delete(final.event.messageId)
  }
  let events = 0
  for (let i = 0; i < MESSAGES; i++) {
    const messageId = `msg_${i.toString(16).padStart(8, "0")}`
    const at = start + Math.floor((i / MESSAGES) * DAY)
    const route = pick(routes)
    facts.set(messageId, { country: pick(countries), segments: 1 + Math.floor(random() * random() * 4), template: pick(templates), prices })
    const observe = (status, when, extra) => {
      aggregates.observe({ _tag: "StatusChanged", messageId, status, at: when, ...extra }, known(messageId))
      events++
    }
    observe("accepted", at)
    observe("queued", at, { previous: "accepted" })
    const roll = random()
    if (roll < 0.01) {
      observe("failed", at + 50, { previous: "queued", reason: "AllRoutesFailed" })
      facts.delete(messageId)
    } else {
      observe("submitted", at + 20 + Math.floor(random() * 400), { previous: "queued", route })
      // 1 % never answered: their facts stay open until the aggregates drop the oldest.
      if (roll >= 0.02) {
        const delay = 300 + Math.floor(-Math.log(1 - random()) * 4_000)
        const event = roll < 0.09
          ? { _tag: "StatusChanged", messageId, status: "undelivered", previous: "submitted", at: at + delay, route, reason: pick(reasons) }
          : { _tag: "StatusChanged", messageId, status: "delivered", previous: "submitted", at: at + Math.min(delay, 120_000), route }
        finals.push({ event })
      }
    }
    if (finals.length > LAG) {
      receive(finals.shift())
      events++
    }
    // Shifting a long array is O(n): keep the queue short by draining in chunks.
    if (finals.length > 4 * LAG) finals.splice(0, finals.length - LAG).forEach(receive)
  }
  for (const final of finals) {
    receive(final)
    events++
  }
  return events
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]

const time = (answer) => {
  const samples = []
  for (let i = 0; i < ANSWERS; i++) {
    const started = performance.now()
    answer()
    samples.push(performance.now() - started)
  }
  return samples.sort((a, b) => a - b)
}

globalThis.gc?.()
const heapBefore = heapMiB()
const aggregates = Aggregates.make()
const foldStarted = performance.now()
const events = fold(aggregates)
const foldMs = performance.now() - foldStarted
globalThis.gc?.()
const heapAfter = heapMiB()

const report = aggregates.report()
if (report.total !== MESSAGES) throw new Error(`report counts ${report.total} messages, not ${MESSAGES}`)

// Warm up both paths, then time each answer.
for (let i = 0; i < 50; i++) JSON.stringify(aggregates.report())
const rows = [
  ["report()", time(() => aggregates.report())],
  ["report() + JSON.stringify", time(() => JSON.stringify(aggregates.report()))]
]

const fmt = (n) => n.toLocaleString("en-US")
console.log(`console reports: ${fmt(MESSAGES)} messages, ${fmt(events)} events folded, node ${process.version}`)
console.log(
  `fold: ${(foldMs / 1000).toFixed(1)} s (${fmt(Math.round(events / (foldMs / 1000)))} events/s); ` +
    `aggregates hold ${(heapAfter - heapBefore).toFixed(1)} MiB after the fold`
)
console.log(
  `report: ${fmt(report.delivered)} delivered (${report.deliveredPercent} %), ${fmt(report.failed)} failed, ${fmt(report.pending)} pending; ` +
    `${report.byCountry.length} countries, ${report.byRoute.length} routes, ${report.byTemplate.length} templates, ${report.overTime.length} buckets shown; ` +
    `JSON ${(JSON.stringify(report).length / 1024).toFixed(1)} KiB`
)
console.log(`\n| answer (${ANSWERS} each) | p50 ms | p99 ms | max ms |`)
console.log("|---|---:|---:|---:|")
for (const [name, samples] of rows) {
  console.log(`| ${name} | ${percentile(samples, 0.5).toFixed(3)} | ${percentile(samples, 0.99).toFixed(3)} | ${samples.at(-1).toFixed(3)} |`)
}
const p99 = percentile(rows[1][1], 0.99)
console.log(
  `\ngoal: a report answers in < ${GOAL_MS} ms with ${fmt(MESSAGES)} messages — ${p99 < GOAL_MS ? "met" : "NOT met"} ` +
    `(p99 ${p99.toFixed(2)} ms, report + JSON)`
)
