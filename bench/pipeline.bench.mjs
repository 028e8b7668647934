// Sends per second through the whole pipeline to a no-op carrier, against
// notifme-sdk sending through a no-op provider, measured side by side in one
// process:
// - the Promise facade (`createSmsClient`) and the Effect API (`Sms.layer`);
// - 1 send at a time (awaited one by one) and 100 in flight;
// - repeating recipients (1,000 numbers, the normalisation cache hits), plain
//   text and templated;
// - new recipients: valid mobile numbers of every country, each sent to once,
//   so every send parses one (judged against libphonenumber-js/max's parse +
//   isValid + getType on the same numbers, plus a repeating send);
// - refusals: a send to an invalid number (from 1,000 repeating ones), judged
//   against a successful send of the same contender;
// - failover: the first carrier fails every call with a fresh, retryable
//   error (`Unavailable`, built per call as a carrier's answer is), and the
//   message goes straight to the second carrier: no retry on the first route
//   (`retry.maxAttempts: 1`, no backoff), and a circuit that never opens, so
//   every send tries the failing carrier first; against notifme's `fallback`
//   strategy whose first provider throws a fresh `Error` every call;
// - a realistic mix (repeating recipients from bench/mixed-numbers.mjs, in
//   international and British national format with "GB" the default country,
//   about a quarter invalid; short, long multi-segment and UCS-2 texts; 5 %
//   requests that fail validation), against notifme on the same requests
//   (it checks neither numbers nor requests, and sends them all).
// Each judged row prints a GOAL line for bench/run.mjs's goal table (issue 15).
//
//   npm run bench -- pipeline          (builds first)
//   node bench/pipeline.bench.mjs [sends]
//
// Every row runs in a process of its own: the contender is built, warmed on
// 30,000 repeating sends (in a new process V8 is still compiling smsforge's
// send path on its helper threads for the first 20,000 or so, at up to 6 µs
// of CPU a send: a server's steady state is what the rows compare), then
// timed. Figures are that process's CPU time
// (user + system, V8's helper threads included, so a contender's garbage
// collection counts), per send, best of three rounds interleaved between the
// contenders, so that other processes on a shared machine colour them less;
// the wall-clock rate is printed next to them. Rows used to share one
// process with a forced full collection before each: V8's helper threads then
// went on sweeping and marking every earlier row's heap during the next row,
// about 80 ms of CPU charged to whoever ran next (4 µs a send on a 20,000-send
// row), and each row inherited the others' type feedback.
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import { parsePhoneNumberWithError } from "libphonenumber-js/max"
import NotifmeModule from "notifme-sdk"
import { spawnSync } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { allCountries, mixedNumbers, validInternational } from "./mixed-numbers.mjs"
import { capabilities } from "./carrier.mjs"

// SMSFORGE_DIST points at another build (relative to bench/), as in soak.bench.mjs.
const { createSmsClient, Sms, Transport } = await import(process.env.SMSFORGE_DIST ?? "../dist/index.js")
const require = createRequire(import.meta.url)
const NotifmeSdk = NotifmeModule.default ?? NotifmeModule
const SENDS = Number(process.argv[2] ?? 20_000)
const DISTINCT_SENDS = Math.min(SENDS, 5_000)
const WARM_SENDS = 30_000
const ROUNDS = 3
// Set in the process that measures one row: its index among the cases.
const ROW = process.env.SMSFORGE_PIPELINE_ROW

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
// Numbers the row's process has not seen, so the new-recipient rows never hit
// a cache: valid mobile numbers of every country, in international format;
// not China's, whose region rules refuse a text without a 【signature】.
// The row's warm-up takes as many others of them first, so that the parse is
// as warm as the rest of the send.
const distinctNumbers = (n) => {
  const numbers = validInternational(2 * n, { countries: allCountries.filter((c) => c !== "CN"), taken: new Set(taken) })
  return { warm: numbers.slice(0, n), timed: numbers.slice(n) }
}
// Invalid numbers (a digit short), sent to again and again: the cache holds their verdict.
const invalidNumbers = repeating.map((n) => n.slice(0, -1)).filter((n) => {
  try {
    return !parsePhoneNumberWithError(n).isValid()
  } catch {
    return true
  }
})

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

// The realistic mix: recipients as typed, British national formats read with
// the pipeline's default country; refused inputs stay refused under it.
const DEFAULT_COUNTRY = "GB"
const mixPool = mixedNumbers(1_500, { seed: 0xc0ffee, nationalCountries: [DEFAULT_COUNTRY] }).filter((n) => {
  if (n.valid) return true
  try {
    const parsed = parsePhoneNumberWithError(n.input, { defaultCountry: DEFAULT_COUNTRY, extract: false })
    return !(parsed.isValid() && parsed.getType() === "MOBILE")
  } catch {
    return true
  }
}).slice(0, 1_000)
const LONG_TEXT = `${TEXT} `.repeat(5).trim() // 389 GSM-7 characters: 3 segments
const UCS2_TEXT = "Ваш заказ 4711 отправлен и прибудет завтра с 9:00 до 13:00. 📦" // Cyrillic and an emoji: UCS-2, 1 segment
const UCS2_LONG = `${UCS2_TEXT} `.repeat(3).trim() // 3 UCS-2 segments
const mixRequests = (n) =>
  Array.from({ length: n }, (_, i) => {
    const to = mixPool[(i * 7) % mixPool.length].input
    const kind = i % 20
    // 1 in 20 fails validation, each a different way
    if (kind === 19) return [{ to, text: "" }, { to, text: TEXT, colour: "red" }, { text: TEXT }, { to, text: TEXT, sendAt: "soon" }][(i / 20 | 0) % 4]
    const text = kind < 11 ? TEXT : kind < 15 ? LONG_TEXT : kind < 18 ? UCS2_TEXT : UCS2_LONG
    return { to, text }
  })

// ---------------------------------------------------------------- contenders

const accepted = { providerMessageId: "id" }
const noop = (name) => Transport.make({ name, capabilities, submit: () => Effect.succeed(accepted) })
// A fresh error every call, as a carrier's answer is: retryable, so failing
// over is the router's choice, not a shortcut for a final refusal.
const failing = (name) => Transport.make({ name, capabilities, submit: () => Effect.fail(new Transport.Unavailable({ code: "503" })) })

const configFor = (kind) => {
  const first = kind === "failover" ? failing("first") : undefined
  const config = { transports: first === undefined ? [noop("only")] : [first, noop("second")], templates }
  // Straight to the next carrier (notifme's fallback neither retries nor
  // waits), and a circuit that never opens (notifme has none; an open one
  // would skip the failing carrier, the easy case again).
  if (first !== undefined) return { ...config, retry: { maxAttempts: 1 }, circuitBreaker: { failures: 1e9 } }
  if (kind === "mix") return { ...config, defaultCountry: DEFAULT_COUNTRY }
  return config
}

// A pool of `concurrency` workers, each awaiting its sends one by one.
// Failures are counted; a row that expects none throws on the first.
const drive = async (requests, concurrency, send, expectFailures) => {
  let next = 0
  let failures = 0
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++]
      try {
        await send(request)
      } catch (error) {
        if (failures++ === 0 && !expectFailures) console.error(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  if (failures > 0 && !expectFailures) throw new Error(`${failures} sends failed`)
  return failures
}

const facade = (kind) => {
  const client = createSmsClient(configFor(kind))
  return {
    run: (requests, concurrency, expectFailures) => drive(requests, concurrency, client.send, expectFailures),
    close: () => client.close()
  }
}

const effectApi = (kind) => {
  const runtime = ManagedRuntime.make(Sms.layer(configFor(kind)))
  return {
    run: (requests, concurrency, expectFailures) =>
      runtime.runPromise(
        Effect.flatMap(Sms.Sms, (sms) =>
          expectFailures
            ? Effect.map(
              Effect.forEach(requests, (r) => Effect.exit(sms.send(r)), { concurrency }),
              (exits) => exits.filter((exit) => exit._tag === "Failure").length
            )
            : Effect.as(Effect.forEach(requests, sms.send, { concurrency, discard: true }), 0))
      ),
    close: () => runtime.dispose()
  }
}

let winstonSilenced = false
const notifme = (kind) => {
  const failover = kind === "failover"
  const send = async () => "id"
  const sdk = new NotifmeSdk({
    ...(failover ? { multiProviderStrategy: "fallback" } : {}),
    channels: {
      sms: {
        ...(failover ? { multiProviderStrategy: "fallback" } : {}),
        providers: failover
          ? [{ type: "custom", id: "first", send: async () => { throw new Error("service unavailable") } }, { type: "custom", id: "second", send }]
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
    run: (requests, concurrency, expectFailures) =>
      drive(requests, concurrency, async (r) => {
        const result = await sdk.send({ sms: { from: "Shop", to: r.to, text: r.text } })
        if (result.status !== "success") throw new Error("notifme failed")
      }, expectFailures),
    close: async () => {}
  }
}

// ---------------------------------------------------------------- timing

const cpuNs = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1_000
}

/** In a row's own process: builds its contender, warms it on other requests, then times `requests()` through it. */
const measureRow = async (row) => {
  const instance = row.make()
  await instance.run(row.warm(), row.concurrency, row.expectFailures)
  const requests = row.requests()
  const wall = process.hrtime.bigint()
  const cpu = cpuNs()
  const failures = await instance.run(requests, row.concurrency, row.expectFailures)
  const measured = { cpu: cpuNs() - cpu, wall: Number(process.hrtime.bigint() - wall), n: requests.length, failures }
  await instance.close()
  return measured
}

/** Rows measured in interleaved rounds, each row of each round in a new process. */
const measure = async (rows) => {
  const results = rows.map((row) => ({ ...row, cpu: Infinity, wall: Infinity, n: 0, failures: 0 }))
  const script = fileURLToPath(import.meta.url)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, row] of results.entries()) {
      process.stderr.write(`\rround ${round + 1}/${ROUNDS}, row ${index + 1}/${results.length}: ${row.group}, ${row.name}`.padEnd(110))
      const child = spawnSync(process.execPath, [...process.execArgv, script, String(SENDS)], {
        env: { ...process.env, SMSFORGE_PIPELINE_ROW: String(index) },
        stdio: ["ignore", "pipe", "inherit"],
        encoding: "utf8"
      })
      if (child.status !== 0) throw new Error(`row ${index} (${row.group}, ${row.name}) exited with ${child.status}`)
      const measured = JSON.parse(child.stdout.trim().split("\n").at(-1))
      row.cpu = Math.min(row.cpu, measured.cpu)
      row.wall = Math.min(row.wall, measured.wall)
      row.n = measured.n
      row.failures = measured.failures
    }
  }
  process.stderr.write("\n")
  return results.map((r) => ({
    ...r,
    usPerSend: r.cpu / 1_000 / r.n,
    perSec: (r.n * 1e9) / r.cpu,
    wallPerSec: (r.n * 1e9) / r.wall
  }))
}

const fmt = (n) => Math.round(n).toLocaleString("en-US")

// ---------------------------------------------------------------- parse floor

// What a new recipient costs at least: libphonenumber-js/max parsing,
// validating and typing it (what PhoneNumbers.parse asks of it), on fresh
// numbers like the new-recipient rows', measured in the same interleaved
// rounds as they are.
const rawParser = () => ({
  run: async (requests) => {
    for (const { to } of requests) {
      const p = parsePhoneNumberWithError(to)
      if (!(p.isValid() && p.getType())) throw new Error(`not valid: ${to}`)
    }
    return 0
  },
  close: async () => {}
})

// ---------------------------------------------------------------- run

const cases = []
const warmRepeating = () => textRequests(repeating.slice(500), WARM_SENDS)
const add = (group, name, make, concurrency, requests, expectFailures = false, warm = warmRepeating) =>
  cases.push({ group, name, make, concurrency, requests, expectFailures, warm })
// New-recipient rows: warmed on repeating sends, then on other new recipients.
// Made once, in the row's process, for its warm-up and its timed sends.
let newRecipients
const newRecipientsOnce = () => (newRecipients ??= distinctNumbers(DISTINCT_SENDS))
const addDistinct = (group, name, make, concurrency) =>
  add(
    group,
    name,
    make,
    concurrency,
    () => textRequests(newRecipientsOnce().timed, DISTINCT_SENDS),
    false,
    () => [...warmRepeating(), ...textRequests(newRecipientsOnce().warm, DISTINCT_SENDS)]
  )
const ours = [["smsforge facade", facade], ["smsforge Effect API", effectApi]]

const FLOOR = "libphonenumber-js/max parse + isValid + getType"
addDistinct("new recipients, parse only", FLOOR, rawParser, 1)
for (const concurrency of [1, 100]) {
  const c = `${concurrency} in flight`
  add(`repeating, text, ${c}`, "notifme-sdk", () => notifme("plain"), concurrency, () => textRequests(repeating, SENDS))
  for (const [name, make] of ours) add(`repeating, text, ${c}`, name, () => make("plain"), concurrency, () => textRequests(repeating, SENDS))
  for (const [name, make] of ours) add(`repeating, template, ${c}`, name, () => make("plain"), concurrency, () => templateRequests(repeating, SENDS))
  addDistinct(`new recipients, text, ${c}`, "notifme-sdk", () => notifme("plain"), concurrency)
  for (const [name, make] of ours) addDistinct(`new recipients, text, ${c}`, name, () => make("plain"), concurrency)
  for (const [name, make] of ours) add(`refused: invalid number, ${c}`, name, () => make("plain"), concurrency, () => textRequests(invalidNumbers, SENDS), true)
  add(`failover, text, ${c}`, "notifme-sdk fallback", () => notifme("failover"), concurrency, () => textRequests(repeating, SENDS))
  for (const [name, make] of ours) add(`failover, text, ${c}`, name, () => make("failover"), concurrency, () => textRequests(repeating, SENDS))
  add(`realistic mix, ${c}`, "notifme-sdk", () => notifme("mix"), concurrency, () => mixRequests(SENDS), true)
  for (const [name, make] of ours) add(`realistic mix, ${c}`, name, () => make("mix"), concurrency, () => mixRequests(SENDS), true)
}

if (ROW !== undefined) {
  console.log(JSON.stringify(await measureRow(cases[Number(ROW)])))
  process.exit(0)
}

const mixShare = (p) => `${Math.round((100 * mixRequests(1_000).filter(p).length) / 1_000)} %`
console.log(
  `node ${process.version}; ${fmt(SENDS)} sends a row (${fmt(DISTINCT_SENDS)} new recipients) after ${fmt(WARM_SENDS)} to warm, each row in its own process, best of ${ROUNDS} interleaved rounds, CPU time`
)
console.log(
  `realistic mix: ${mixShare((r) => r.text === LONG_TEXT || r.text === UCS2_LONG)} multi-segment, ` +
    `${mixShare((r) => r.text === UCS2_TEXT || r.text === UCS2_LONG)} UCS-2, ` +
    `${mixShare((r) => typeof r.to === "string" && !r.to.startsWith("+"))} national format, ` +
    `${mixShare((r) => mixPool.some((n) => n.input === r.to && !n.valid))} invalid numbers, ` +
    `${mixShare((r) => r.text === "" || "colour" in r || !("to" in r) || "sendAt" in r)} invalid requests`
)
const results = await measure(cases)
const floorUs = results.find((r) => r.name === FLOOR).usPerSend

const peerOf = (row) =>
  results.find((r) => r.group.replace("template", "text") === row.group.replace("template", "text") && r.name.startsWith("notifme"))
const pick = (group, name) => results.find((r) => r.group === group && r.name === name)
console.table(results.map((r) => {
  const peer = peerOf(r)
  return {
    case: r.group,
    contender: r.name,
    "µs/send": r.usPerSend.toFixed(2),
    "sends/s (CPU)": fmt(r.perSec),
    "sends/s (wall)": fmt(r.wallPerSec),
    refused: r.expectFailures ? `${((100 * r.failures) / r.n).toFixed(0)} %` : "",
    "vs notifme": peer === undefined || peer === r ? "" : `${(r.perSec / peer.perSec).toFixed(2)}x`
  }
}))

// ---------------------------------------------------------------- goals (issue 15)

const goal = (id, what, measured, target, met) =>
  console.log(`GOAL\t${id}\t${what}\t${measured}\t${target}\t${met ? "met" : "not met"}`)
console.log("")
for (const c of ["1 in flight", "100 in flight"]) {
  for (const api of ["smsforge facade", "smsforge Effect API"]) {
    const rep = pick(`repeating, text, ${c}`, api)
    const repPeer = pick(`repeating, text, ${c}`, "notifme-sdk")
    const repRatio = rep.perSec / repPeer.perSec
    goal("repeating", `${api}, ${c}: ${fmt(rep.perSec)} vs notifme ${fmt(repPeer.perSec)} sends/s`, `${repRatio.toFixed(2)}x`, "≥ 1.5x", repRatio >= 1.5)
    const fo = pick(`failover, text, ${c}`, api)
    const foPeer = pick(`failover, text, ${c}`, "notifme-sdk fallback")
    const foRatio = fo.perSec / foPeer.perSec
    goal("failover", `${api}, ${c}: ${fmt(fo.perSec)} vs notifme fallback ${fmt(foPeer.perSec)} sends/s`, `${foRatio.toFixed(2)}x`, "≥ 1.5x", foRatio >= 1.5)
    // a new recipient's send against the floor: one raw parse plus a repeating send
    const fresh = pick(`new recipients, text, ${c}`, api)
    const floor = floorUs + rep.usPerSend
    const freshRatio = fresh.usPerSend / floor
    goal(
      "new-recipient",
      `${api}, ${c}: ${fresh.usPerSend.toFixed(1)} µs vs raw parse ${floorUs.toFixed(1)} + repeating send ${rep.usPerSend.toFixed(1)} µs`,
      `${freshRatio.toFixed(2)}x`,
      "≤ 1.2x",
      freshRatio <= 1.2
    )
    const refused = pick(`refused: invalid number, ${c}`, api)
    const refusedRatio = refused.usPerSend / rep.usPerSend
    goal(
      "refusal",
      `${api}, ${c}: refused ${refused.usPerSend.toFixed(1)} µs vs sent ${rep.usPerSend.toFixed(1)} µs`,
      `${refusedRatio.toFixed(2)}x`,
      "≤ 1.5x",
      refusedRatio <= 1.5
    )
  }
}
