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
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.mjs"))
  .filter((f) => only.length === 0 || only.some((name) => f.includes(name)))
  .sort()

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
const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()

console.log(`node ${version} (${node}), ${files.length} benchmarks\n`)
let failed = 0
for (const file of files) {
  console.log(`== ${file}`)
  const result = spawnSync(node, ["--expose-gc", join(here, file)], { stdio: "inherit" })
  if (result.status !== 0) failed++
  console.log()
}
process.exit(failed === 0 ? 0 : 1)
