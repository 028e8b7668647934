// Runs every bench/*.bench.mjs in its own process, one after another, so one
// benchmark's heap and JIT state never colour another's figures.
//
// The budgets in DESIGN.md are for the Node the library runs on, the
// machine's own (Node 20 here), not the toolchain's pinned Node that npm
// scripts put first on PATH. Benchmarks run on the machine's Node;
// `SMSFORGE_BENCH_NODE=toolchain` runs them on the pinned one instead, and
// `SMSFORGE_BENCH_NODE=/path/to/node` on any other.
//
//   npm run bench                 every benchmark
//   npm run bench -- pipeline     the ones whose file name contains "pipeline"
//
// A benchmark judges its goals (issue 15) by printing lines
//   GOAL\t<goal id>\t<what>\t<measured>\t<goal>\t<met|not met>
// The run echoes every child's output as it comes, collects those lines, and
// ends with one table of every goal; a goal no benchmark of this run printed
// is listed as not measured.
import { spawn } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.mjs"))
  .filter((f) => only.length === 0 || only.some((name) => f.includes(name)))
  .sort()

// The performance goals (issue 15's, then the durable Outbox's), in their issues' order.
const GOALS = [
  "routes-10k",
  "prefixes-10k",
  "new-recipient",
  "refusal",
  "failover",
  "repeating",
  "kept-1m",
  "memory-per-message",
  "cold-import",
  "outbox-memory",
  "outbox-postgres",
  "outbox-redis"
]

const machineNode = () => {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "" || dir.includes("node_modules")) continue
    const candidate = join(dir, "node")
    if (existsSync(candidate)) return candidate
  }
  return process.execPath
}
const choice = process.env.SMSFORGE_BENCH_NODE
const node = choice === "toolchain" ? process.execPath : choice !== undefined && choice !== "" ? choice : machineNode()
const version = await new Promise((resolve) => {
  let out = ""
  const child = spawn(node, ["--version"])
  child.stdout.on("data", (chunk) => (out += chunk))
  child.on("close", () => resolve(out.trim()))
})

const goals = []
const parseGoal = (file, line) => {
  const [tag, id, what, measured, goal, verdict] = line.split("\t")
  if (tag !== "GOAL" || verdict === undefined) return
  goals.push({ bench: file.replace(".bench.mjs", ""), id, what, measured, goal, verdict: verdict.trim() })
}

// Runs one benchmark, its output echoed and its GOAL lines kept; resolves to its exit code.
const run = (file) =>
  new Promise((resolve) => {
    const child = spawn(node, ["--expose-gc", join(here, file)], { stdio: ["inherit", "pipe", "inherit"] })
    let pending = ""
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk)
      const lines = (pending + chunk.toString("utf8")).split("\n")
      pending = lines.pop()
      for (const line of lines) parseGoal(file, line)
    })
    child.on("close", (code) => {
      parseGoal(file, pending)
      resolve(code)
    })
  })

console.log(`node ${version} (${node}), ${files.length} benchmarks\n`)
let failed = 0
for (const file of files) {
  console.log(`== ${file}`)
  if ((await run(file)) !== 0) failed++
  console.log()
}

const rank = (id) => (GOALS.includes(id) ? GOALS.indexOf(id) : GOALS.length)
const rows = [...goals].sort((a, b) => rank(a.id) - rank(b.id))
for (const id of GOALS) {
  if (!goals.some((g) => g.id === id)) rows.push({ bench: "", id, what: "", measured: "", goal: "", verdict: "not measured" })
}
console.log("== performance goals")
console.table(rows.map((g) => ({ goal: g.id, bench: g.bench, what: g.what, measured: g.measured, target: g.goal, verdict: g.verdict })))
const met = rows.filter((g) => g.verdict === "met").length
console.log(`${met} of ${rows.length} goal rows met`)
process.exit(failed === 0 ? 0 : 1)
