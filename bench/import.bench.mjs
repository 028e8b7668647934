// Cold import time: a fresh Node process per sample, wall-clock from spawn to
// exit, minus the same for an empty process; median of N, the contenders
// interleaved so that machine noise falls on all of them alike. The time the
// import itself took inside the child (performance.now around it) is printed
// too. Budget (DESIGN.md): `import "smsforge"` at most 150 ms over empty Node.
//
//   npm run bench -- import             (builds first)
//   node bench/import.bench.mjs [samples]
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const SAMPLES = Number(process.argv[2] ?? 15)
const BUDGET_MS = 150
const STRETCH_MS = 100

// SMSFORGE_DIST points at another build (relative to bench/), as in soak.bench.mjs.
const dist = pathToFileURL(resolve(here, process.env.SMSFORGE_DIST ?? "../dist/index.js")).href
// The effect modules the entry loads, following its static imports through
// the build's chunks: the floor under smsforge's own work at import.
const effectModules = (() => {
  const found = new Set()
  const seen = new Set()
  const visit = (url) => {
    if (seen.has(url)) return
    seen.add(url)
    for (const [, specifier] of readFileSync(new URL(url), "utf8").matchAll(/^import\s[^;]*?from\s*['"]([^'"]+)['"]/gm)) {
      if (specifier.startsWith(".")) visit(new URL(specifier, url).href)
      else if (specifier === "effect" || specifier.startsWith("effect/")) found.add(specifier)
    }
  }
  visit(dist)
  return [...found].sort()
})()

const contenders = [
  { name: "empty node", code: "" },
  { name: "smsforge", code: `await import(${JSON.stringify(dist)})` },
  {
    name: `the ${effectModules.length} effect modules it loads`,
    code: `await Promise.all(${JSON.stringify(effectModules)}.map((m) => import(m)))`
  },
  // SMSFORGE_BASELINE: another build to compare against in the same run (before/after a change).
  ...(process.env.SMSFORGE_BASELINE === undefined ? [] : [{
    name: "smsforge (baseline build)",
    code: `await import(${JSON.stringify(pathToFileURL(resolve(here, process.env.SMSFORGE_BASELINE)).href)})`
  }]),
  { name: "effect/Effect (one module)", code: `await import("effect/Effect")` },
  // What any module with a typed error loads: its errors are Schema classes, built at load.
  { name: "effect/Effect + effect/Schema", code: `await Promise.all([import("effect/Effect"), import("effect/Schema")])` },
  { name: "effect (barrel)", code: `await import("effect")` },
  { name: "notifme-sdk", code: `await import("notifme-sdk")` }
]

const sample = (code) => {
  // The child reports the import's own duration; the parent times the whole process.
  const script = `const t = performance.now(); ${code}; process.stdout.write(String(performance.now() - t))`
  const start = process.hrtime.bigint()
  // In bench/, whose own node_modules has the peers.
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: here, encoding: "utf8" })
  const wall = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) return undefined
  return { wall, inside: Number(result.stdout) }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

// Warm the file system cache. A peer that does not load (bench/'s own
// packages not installed) is left out; smsforge itself must load.
const loading = contenders.filter((c) => sample(c.code) !== undefined)
if (!loading.some((c) => c.name === "smsforge")) throw new Error(`smsforge did not load from ${dist}: npm run build first`)
for (const c of contenders) if (!loading.includes(c)) console.log(`${c.name}: does not load here (npm --prefix bench install), left out`)
contenders.splice(0, contenders.length, ...loading)
const samples = new Map(contenders.map((c) => [c.name, { wall: [], inside: [] }]))
for (let i = 0; i < SAMPLES; i++) {
  for (const c of contenders) {
    const s = sample(c.code)
    if (s === undefined) throw new Error(`${c.name} stopped loading`)
    samples.get(c.name).wall.push(s.wall)
    samples.get(c.name).inside.push(s.inside)
  }
}

const empty = median(samples.get("empty node").wall)
const ours = median(samples.get("smsforge").wall) - empty
console.log(`node ${process.version}; median of ${SAMPLES} fresh processes each; empty node: ${empty.toFixed(0)} ms`)
console.table(contenders.slice(1).map((c) => {
  const s = samples.get(c.name)
  const over = median(s.wall) - empty
  return {
    import: c.name,
    "process ms": median(s.wall).toFixed(0),
    "over empty ms": over.toFixed(0),
    "import() ms inside": median(s.inside).toFixed(0),
    "vs smsforge": c.name === "smsforge" ? "" : `${(over / ours).toFixed(2)}x`
  }
}))
console.log(`smsforge over empty node: ${ours.toFixed(0)} ms, budget ${BUDGET_MS} ms — ${ours <= BUDGET_MS ? "ok" : "OVER"}`)
console.log(
  `GOAL\tcold-import\tcold import "smsforge" over an empty Node (median of ${SAMPLES} processes)\t${ours.toFixed(0)} ms\t≤ ${BUDGET_MS} ms (stretch ${STRETCH_MS})\t${
    ours <= BUDGET_MS ? "met" : "not met"
  }`
)
