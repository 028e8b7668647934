// The library's modules in layers, in the direction data flows
// (client → Sms → stages → Outbox/Router → Transport): a module imports only
// modules of a lower layer, an internal folder only what its module may, and
// src/ nothing of the packages built on it. Exits 1 on an import that runs
// upward; `npm run lint` runs it beside madge's check for cycles.
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, normalize, relative } from "node:path"

const layers = [
  ["Store", "Transport", "Encoding", "PhoneNumbers", "SendRequest"],
  ["Idempotency", "Outbox", "Pricing", "Retry", "Templates"],
  ["BalanceMonitor", "Budget"],
  ["Router"],
  ["MessageStore"],
  ["Events"],
  ["Audit", "Verification"],
  ["Consent"],
  ["Inbound"],
  ["Sms"],
  ["client"],
  ["index", "testing"]
]
// Each internal folder serves its module (money serves both of its own), and
// may import only what the lowest of them may.
const owners = {
  audit: ["Audit"],
  client: ["client"],
  consent: ["Consent"],
  encoding: ["Encoding"],
  idempotency: ["Idempotency"],
  inbound: ["Inbound"],
  money: ["Pricing", "Budget"],
  phone: ["PhoneNumbers"],
  request: ["SendRequest"],
  routing: ["Router"],
  templates: ["Templates"],
  verification: ["Verification"]
}
const layerOf = new Map(layers.flatMap((names, layer) => names.map((name) => [name, layer])))

const files = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : []
  })

/** The module a file in src/ belongs to, and its layer; shared internals are below every layer. */
const placeOf = (file) => {
  const parts = relative("src", file).split("/")
  if (parts[0] === "testing") return { module: "testing", layer: layerOf.get("testing") }
  if (parts[0] === "internal") {
    if (parts.length === 2) return { module: "internal", layer: -1 }
    const served = owners[parts[1]]
    return served === undefined ? undefined : { module: `internal/${parts[1]}`, layer: Math.min(...served.map((m) => layerOf.get(m))) }
  }
  const module = parts[0].replace(/\.tsx?$/, "")
  return layerOf.has(module) ? { module, layer: layerOf.get(module) } : undefined
}

const problems = []
for (const file of files("src")) {
  const from = placeOf(file)
  if (from === undefined) {
    problems.push(`${file}: in no layer (add it to scripts/check-layers.mjs)`)
    continue
  }
  const text = readFileSync(file, "utf8")
  for (const [, specifier] of text.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)"/g)) {
    const target = normalize(join(dirname(file), specifier))
    if (!target.startsWith("src/")) {
      problems.push(`${file}: imports ${target}, outside src/`)
      continue
    }
    const to = placeOf(target)
    if (to === undefined || to.module === from.module) continue
    if (to.module.startsWith("internal/")) {
      // a module's internal folder is its own: only the modules it serves (and the testing kit) import it
      const served = owners[to.module.slice("internal/".length)]
      if (!served.includes(from.module) && from.module !== "testing") problems.push(`${file}: imports ${target}, which serves ${served.join(" and ")}`)
      continue
    }
    if (to.layer >= from.layer) problems.push(`${file} (${from.module}, layer ${from.layer}) imports ${target} (${to.module}, layer ${to.layer}): upward`)
  }
}
for (const problem of problems) console.error(problem)
process.exit(problems.length === 0 ? 0 : 1)
