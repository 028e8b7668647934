// Runs every bench/*.bench.mjs in its own process, one after another, so one
// benchmark's heap and JIT state never colour another's figures.
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.mjs"))
  .filter((f) => only.length === 0 || only.some((name) => f.includes(name)))
  .sort()
console.log(`node ${process.version}, ${files.length} benchmarks\n`)
let failed = 0
for (const file of files) {
  console.log(`== ${file}`)
  const result = spawnSync(process.execPath, ["--expose-gc", join(here, file)], { stdio: "inherit" })
  if (result.status !== 0) failed++
  console.log()
}
process.exit(failed === 0 ? 0 : 1)
