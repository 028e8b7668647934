// Phone-number normalisation: raw libphonenumber-js/max against smsforge's
// PhoneNumbers (pure parse, and the cached service with repeating and with
// all-distinct recipients), measured side by side in one process.
//
//   npm run build && node bench/phone.bench.mjs
import * as Effect from "effect/Effect"
import examples from "libphonenumber-js/examples.mobile.json"
import { getCountries, getExampleNumber, parsePhoneNumberWithError } from "libphonenumber-js/max"
import { PhoneNumbers } from "../dist/index.js"

// Deterministic inputs: each country's example mobile number with its trailing
// digits varied, kept when valid, written in international format with spaces.
let state = 0x2545f491
const random = () => {
  state ^= state << 13
  state ^= state >>> 17
  state ^= state << 5
  return (state >>> 0) / 0x100000000
}
const countries = getCountries().filter((c) => getExampleNumber(c, examples) !== undefined)
const makeNumbers = (count) => {
  const seen = new Set()
  const out = []
  for (let guard = 0; out.length < count && guard < count * 50; guard++) {
    const example = getExampleNumber(countries[Math.floor(random() * countries.length)], examples)
    const national = example.nationalNumber
    const tail = String(Math.floor(random() * 10_000)).padStart(4, "0")
    const candidate = `+${example.countryCallingCode}${national.slice(0, -4)}${tail}`
    if (seen.has(candidate)) continue
    try {
      const parsed = parsePhoneNumberWithError(candidate)
      if (!parsed.isValid()) continue
      seen.add(candidate)
      out.push(parsed.formatInternational())
    } catch {
      // skip
    }
  }
  return out
}

const RECIPIENTS = 1_000
const DISTINCT = 40_000
const REPEAT_CALLS = 200_000
const recipients = makeNumbers(RECIPIENTS)
const distinct = makeNumbers(DISTINCT)

// Best of three runs, each on fresh state (a new service for the service rows),
// after a warm-up on other numbers. Figures are process CPU time (user +
// system), which other processes on a shared machine disturb far less than
// wall-clock time; the wall-clock figure is printed next to it.
const cpuNs = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1_000
}
const time = (name, calls, setup) => {
  setup().run(Math.min(calls, 2_000), warmInputs)
  let best = Infinity
  let bestWall = Infinity
  let last
  for (let round = 0; round < 3; round++) {
    last = setup()
    globalThis.gc?.()
    const wall = process.hrtime.bigint()
    const cpu = cpuNs()
    last.run(calls)
    best = Math.min(best, cpuNs() - cpu)
    bestWall = Math.min(bestWall, Number(process.hrtime.bigint() - wall))
  }
  return {
    name,
    calls,
    usPerOp: best / 1_000 / calls,
    wallUsPerOp: bestWall / 1_000 / calls,
    opsPerSec: (calls * 1e9) / best,
    stats: last.stats?.()
  }
}

let sink = 0
const warmInputs = distinct.slice(0, 2_000)
const measured = distinct.slice(2_000)
const loop = (inputs, body) => ({
  run: (n, over = inputs) => {
    for (let i = 0; i < n; i++) sink += body(over[i % over.length])
  }
})
const viaService = (inputs, options) => () => {
  const phones = Effect.runSync(PhoneNumbers.make(options))
  return {
    run: (n, over = inputs) =>
      Effect.runSync(
        Effect.gen(function*() {
          for (let i = 0; i < n; i++) sink += (yield* phones.normalize(over[i % over.length])).e164.length
        })
      ),
    stats: () => Effect.runSync(phones.cacheStats)
  }
}

const rows = []
rows.push(
  time("libphonenumber-js/max parse only", 20_000, () =>
    loop(measured, (input) => parsePhoneNumberWithError(input).number.length))
)
const raw = time("libphonenumber-js/max parse + isValid + getType", 20_000, () =>
  loop(measured, (input) => {
    const p = parsePhoneNumberWithError(input)
    return p.isValid() ? (p.getType() ?? "").length : 0
  }))
rows.push(raw)
rows.push(
  time("PhoneNumbers.parse (pure, uncached)", 20_000, () => loop(measured, (input) => PhoneNumbers.parse(input)._tag.length))
)
const percent = (part, whole) => `${((100 * part) / whole).toFixed(2)}%`
const repeat = time(`PhoneNumbers.normalize, ${recipients.length} repeating recipients`, REPEAT_CALLS, viaService(recipients))
repeat.cache = `hit rate ${percent(repeat.stats.hits, repeat.stats.hits + repeat.stats.misses)}`
rows.push(repeat)
const all = time(`PhoneNumbers.normalize, ${measured.length} distinct recipients`, measured.length, viaService(measured))
all.cache = `miss rate ${percent(all.stats.misses, all.stats.hits + all.stats.misses)}, size ${all.stats.size}/${all.stats.capacity}`
rows.push(all)

console.log(`node ${process.version}; ${recipients.length} repeating and ${distinct.length} distinct valid numbers, international format`)
console.table(
  rows.map((row) => ({
    benchmark: row.name,
    "µs/op (CPU)": row.usPerOp.toFixed(2),
    "µs/op (wall)": row.wallUsPerOp.toFixed(2),
    "ops/s": Math.round(row.opsPerSec).toLocaleString("en-US"),
    "vs raw parse+type": `${(raw.usPerOp / row.usPerOp).toFixed(2)}x`,
    cache: row.cache ?? ""
  }))
)
if (sink === 42) console.log("")
