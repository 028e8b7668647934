// Runs API Extractor over every entry point. With --local the reports in etc/
// are rewritten; without it a report that differs from the build fails.
import { execFileSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { join } from "node:path"

const local = process.argv.includes("--local")
const configs = ["api-extractor.json", ...readdirSync("etc").filter((f) => /^api-extractor\..+\.json$/.test(f)).map((f) => join("etc", f))]
let failed = 0
for (const config of configs) {
  try {
    execFileSync(process.execPath, [join("node_modules", "@microsoft", "api-extractor", "bin", "api-extractor"), "run", "-c", config, ...(local ? ["--local"] : [])], { stdio: "inherit" })
  } catch {
    failed++
    console.error(`api: ${config} failed${local ? "" : " (a stale report? run npm run api and commit etc/)"}`)
  }
}
process.exit(failed === 0 ? 0 : 1)
