// Soak: 100,000 messages over three routes with 30 % transient failures and
// one route down for a period, on the TestClock (virtual time), through the
// built package. Prints delivered, failed, duplicates, lost and, per route,
// the highest number of submissions seen in any one-second window against
// the route's limit. Exits non-zero when a duplicate, a lost message or a
// rate over its limit is seen.
//
//   npx tsup && node bench/soak.bench.mjs [messages]
//
// SMSFORGE_DIST points at another build of the package (default ../dist/index.js).
// SOAK_CLOCK=live runs on the real clock instead (use fewer messages: the
// three routes carry at most 2,400 a second), to check pacing against timer lateness.
import { Clock, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"

const dist = process.env.SMSFORGE_DIST ?? "../dist/index.js"
const { Router, Transport } = await import(dist)

const MESSAGES = Number(process.argv[2] ?? 100_000)
const LIVE = process.env.SOAK_CLOCK === "live"
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 200) // messages in flight; callers wait for rate slots, nothing queues beyond this
const FAILURE_RATE = 0.3
const DOWN = { route: "beta", from: 20_000, to: 50_000 } // virtual milliseconds after start
const ROUTES = [
  { name: "alpha", perSecond: 1_000, weight: 4 },
  { name: "beta", perSecond: 800, weight: 3 },
  { name: "gamma", perSecond: 600, weight: 3 }
]

const mulberry = (seed) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const stats = new Map(ROUTES.map((r) => [r.name, { submits: [], accepted: 0, failed: 0, down: 0 }]))
const acceptedBy = new Map() // clientReference -> times accepted

// Errors are immutable values: build them once, as a carrier's client would reuse its codes.
const errors = {
  down: new Transport.Unavailable({ code: "down" }),
  unavailable: new Transport.Unavailable({ code: "503" }),
  timeout: new Transport.Timeout({}),
  throttled: new Transport.Throttled({ retryAfter: Duration.millis(250) })
}

const carrier = (route, seed, start) => {
  const random = mulberry(seed)
  let n = 0
  const s = stats.get(route.name)
  return Transport.make({
    name: route.name,
    capabilities: {
      channel: "sms",
      unicode: true,
      concatenation: true,
      deliveryReceipts: true,
      inbound: false,
      senderTypes: ["long-code"],
      maxPerSecond: route.perSecond
    },
    submit: (submission) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        s.submits.push(now)
        if (route.name === DOWN.route && now >= start + DOWN.from && now < start + DOWN.to) {
          s.down++
          s.failed++
          return Effect.fail(errors.down)
        }
        if (random() < FAILURE_RATE) {
          s.failed++
          const roll = random()
          return Effect.fail(roll < 0.6 ? errors.unavailable : roll < 0.85 ? errors.timeout : errors.throttled)
        }
        s.accepted++
        acceptedBy.set(submission.clientReference, (acceptedBy.get(submission.clientReference) ?? 0) + 1)
        return Effect.succeed({ providerMessageId: `${route.name}-${++n}` })
      })
  })
}

const maxPerWindow = (times, windowMillis) => {
  const sorted = times.slice().sort((a, b) => a - b)
  let max = 0
  let lo = 0
  for (let hi = 0; hi < sorted.length; hi++) {
    // 1 µs of slack for floating-point sums of fractional spacings (1.25 ms …)
    while (sorted[hi] - sorted[lo] >= windowMillis - 1e-3) lo++
    max = Math.max(max, hi - lo + 1)
  }
  return max
}

const program = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const router = yield* Router.make({
    transports: ROUTES.map((r, i) => carrier(r, 1000 + i, start)),
    seed: 7,
    retry: { base: "100 millis", cap: "2 seconds", maxAttempts: 3 },
    circuitBreaker: { failures: 12, openDuration: "5 seconds" },
    rules: {
      strategy: ["health", "weighted"],
      routes: ROUTES.map((r) => ({ name: r.name, transport: r.name, weight: r.weight }))
    }
  })
  const outcome = { delivered: 0, failed: 0, reasons: new Map() }
  let done = false
  const one = (i) => {
    const id = `m${i}`
    const to = `+4477009${String(i % 100_000).padStart(5, "0")}`
    return router.dispatch(
      { messageId: id, to: { e164: to, country: "GB" }, purpose: "transactional", text: "Your parcel is on its way", segmentCount: 1, encoding: "GSM-7" },
      { to, text: "Your parcel is on its way", segments: ["Your parcel is on its way"], encoding: "GSM-7", clientReference: id, purpose: "transactional" }
    ).pipe(
      Effect.exit,
      Effect.map((exit) => {
        if (Exit.isSuccess(exit)) outcome.delivered++
        else {
          outcome.failed++
          const error = Exit.findErrorOption(exit)
          const tag = error._tag === "Some" ? error.value.reason._tag : "defect"
          outcome.reasons.set(tag, (outcome.reasons.get(tag) ?? 0) + 1)
        }
      })
    )
  }
  const work = Effect.forEach(Array.from({ length: MESSAGES }, (_, i) => i), one, { concurrency: CONCURRENCY, discard: true }).pipe(
    Effect.ensuring(Effect.sync(() => {
      done = true
    }))
  )
  const fiber = yield* Effect.forkChild(work)
  let steps = 0
  while (!done && !LIVE) {
    yield* TestClock.adjust("5 millis")
    steps++
  }
  yield* Fiber.join(fiber)
  const end = yield* Clock.currentTimeMillis
  const routes = yield* router.routes
  return { outcome, virtualMillis: end - start, steps, routes }
}).pipe(Effect.scoped, LIVE ? (self) => self : Effect.provide(TestClock.layer()))

const wall = performance.now()
const cpu = process.cpuUsage()
const { outcome, virtualMillis, steps, routes } = await Effect.runPromise(program)
const wallMillis = performance.now() - wall
const cpuUsed = process.cpuUsage(cpu)
const cpuMillis = (cpuUsed.user + cpuUsed.system) / 1000

let duplicates = 0
for (const count of acceptedBy.values()) if (count > 1) duplicates += count - 1
const lost = MESSAGES - outcome.delivered - outcome.failed
const acceptedTotal = [...stats.values()].reduce((n, s) => n + s.accepted, 0)

console.log(`soak: ${MESSAGES} messages, ${ROUTES.length} routes, ${FAILURE_RATE * 100}% transient failures, ${DOWN.route} down ${DOWN.from / 1000}-${DOWN.to / 1000} s`)
console.log(`${LIVE ? "live clock" : "virtual time"} ${(virtualMillis / 1000).toFixed(1)} s in ${steps} TestClock steps; wall ${(wallMillis / 1000).toFixed(1)} s, cpu ${(cpuMillis / 1000).toFixed(1)} s (${Math.round(MESSAGES / (cpuMillis / 1000))} msg per cpu-second)`)
console.table({
  delivered: outcome.delivered,
  failed: outcome.failed,
  duplicates,
  lost,
  "accepted by carriers": acceptedTotal
})
if (outcome.reasons.size > 0) console.log("failed by reason:", Object.fromEntries(outcome.reasons))
const rows = {}
let overLimit = false
for (const route of ROUTES) {
  const s = stats.get(route.name)
  const observed = maxPerWindow(s.submits, 1000)
  if (observed > route.perSecond) overLimit = true
  rows[route.name] = {
    submissions: s.submits.length,
    accepted: s.accepted,
    failed: s.failed,
    "failed while down": s.down,
    "max in any 1 s": observed,
    "limit /s": route.perSecond,
    "within limit": observed <= route.perSecond,
    circuit: routes.find((r) => r.name === route.name)?.circuit
  }
}
console.table(rows)
const ok = duplicates === 0 && lost === 0 && !overLimit && acceptedTotal === outcome.delivered
console.log(ok ? "OK: no duplicates, nothing lost, every route within its rate" : "FAILED")
process.exit(ok ? 0 : 1)
