// API reports in etc/, one per entry point and one per module of the root
// entry. API Extractor shows a namespace re-export (`export * as Sms`) only as
// a list of names (microsoft/rushstack#2798), so each module also gets its own
// report, read from declarations tsc emits per file, where signatures show.
// With --local the reports are rewritten; without it a stale report fails.
import { Extractor, ExtractorConfig } from "@microsoft/api-extractor"
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"

const local = process.argv.includes("--local")
const root = resolve(".")
const packageJsonFullPath = join(root, "package.json")
let failed = 0

const run = (label, configObject, configObjectFullPath) => {
  const config = ExtractorConfig.prepare({ configObject, configObjectFullPath, packageJsonFullPath })
  const result = Extractor.invoke(config, { localBuild: local, showVerboseMessages: false })
  if (!result.succeeded) {
    failed++
    console.error(`api: ${label} failed${local ? "" : " (a stale report? run npm run api and commit etc/)"}`)
  }
}

const load = (path) => ExtractorConfig.loadFile(path)

// Entry points, from the built dist/.
for (const file of ["api-extractor.json", ...readdirSync("etc").filter((f) => /^api-extractor\..+\.json$/.test(f)).map((f) => join("etc", f))]) {
  run(file, load(file), join(root, file))
}

// Modules, from per-file declarations.
rmSync("temp/dts", { recursive: true, force: true })
execFileSync(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.api.json"], { stdio: "inherit" })
mkdirSync("etc/modules", { recursive: true })
const base = load("api-extractor.json")
// Every `export * as Name from "./path.ts"` of an entry gets its own report.
const entries = [
  ["smsforge", "src/index.ts"],
  ["testing", "src/testing/index.ts"],
  ["testing-arbitraries", "src/testing/arbitraries/index.ts"],
  ["commerce", "commerce/index.ts"],
  ["console", "console/index.ts"],
  ...readdirSync("transports").map((name) => [`transports-${name}`, `transports/${name}/index.ts`]),
  ...readdirSync("stores").map((name) => [`stores-${name}`, `stores/${name}/index.ts`])
].filter(([, index]) => existsSync(index)) // folders such as transports/internal are no entry
for (const [entry, index] of entries) {
  const dir = index.slice(0, index.lastIndexOf("/"))
  for (const [, name, path] of readFileSync(index, "utf8").matchAll(/export \* as (\w+) from "(\.{1,2}\/[\w/.]+)\.ts"/g)) {
    const report = entry === "smsforge" ? name : `${entry}-${name}`
    run(`module ${report}`, {
      ...base,
      mainEntryPointFilePath: join(root, "temp", "dts", dir, `${path}.d.ts`),
      compiler: {
        overrideTsconfig: {
          compilerOptions: { ...base.compiler.overrideTsconfig.compilerOptions, allowImportingTsExtensions: true, noEmit: true },
          include: [join(root, "temp", "dts")]
        }
      },
      apiReport: { enabled: true, reportFileName: `${report}.api.md`, reportFolder: join(root, "etc", "modules"), reportTempFolder: join(root, "temp", "modules") },
      messages: {
        ...base.messages,
        // Sibling modules are exported by the package; inside one module's report they look forgotten.
        extractorMessageReporting: { ...base.messages.extractorMessageReporting, "ae-forgotten-export": { logLevel: "none" } }
      }
    }, join(root, "temp", `api-extractor.${report}.json`))
  }
}
process.exit(failed === 0 ? 0 : 1)
