// The package as users get it: package.json exports, tsup entries and API
// reports name the same entry points, and the packed tarball installs in an
// empty folder and loads with both import and require on the machine's own Node.
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { entries } from "../tsup.config.ts"

const root = join(import.meta.dirname, "..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))

const subpathOf = (entry: string) => entry === "index" ? "." : `./${entry.replace(/\/index$/, "")}`
// Entries that are commands (package.json `bin`), not modules to import.
const commands = new Set(Object.values<string>(pkg.bin ?? {}).map((path) => path.replace(/^\.\/dist\//, "").replace(/\.js$/, "")))
const modules = Object.keys(entries).filter((entry) => !commands.has(entry))

describe("entry points", () => {
  it("package.json exports match the tsup entries", () => {
    const exported = Object.keys(pkg.exports).filter((key) => key !== "./package.json").sort()
    assert.deepStrictEqual(exported, modules.map(subpathOf).sort())
    for (const command of commands) assert.include(Object.keys(entries), command, "a bin entry is built")
  })

  it("every export has types for import and require", () => {
    for (const [key, value] of Object.entries<any>(pkg.exports)) {
      if (key === "./package.json") continue
      for (const condition of ["import", "require"]) {
        assert.match(value[condition].types, /\.d\.c?ts$/, `${key} ${condition}`)
        assert.match(value[condition].default, /\.c?js$/, `${key} ${condition}`)
      }
    }
  })

  it("every entry has an API report", () => {
    const reports = readdirSync(join(root, "etc")).filter((f) => f.endsWith(".api.md")).sort()
    const expected = modules.map((entry) =>
      entry === "index" ? "smsforge.api.md" : `smsforge-${entry.replace(/\/index$/, "").replaceAll("/", "-")}.api.md`
    ).sort()
    assert.deepStrictEqual(reports, expected)
  })
})

// The machine's own Node, not the toolchain's pinned one that npm scripts put first on PATH.
const machineNode = (): string => {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir.includes("node_modules") || dir === "") continue
    const candidate = join(dir, "node")
    if (existsSync(candidate)) return candidate
  }
  return process.execPath
}

describe("packed tarball", () => {
  const work = mkdtempSync(join(tmpdir(), "smsforge-pack-"))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it("installs without the optional peers and loads with import and require", { timeout: 240_000 }, () => {
    const run = (cmd: string, args: Array<string>, cwd: string) =>
      execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    const npm = process.platform === "win32" ? "npm.cmd" : "npm"
    run(npm, ["run", "build", "--silent"], root)
    const tarball = run(npm, ["pack", "--silent", "--pack-destination", work], root).trim().split("\n").pop()!
    const app = join(work, "app")
    run("mkdir", ["-p", app], work)
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
    // Without the optional peers: smsforge/testing must load without fast-check.
    run(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", join(work, tarball), `effect@${pkg.devDependencies.effect}`], app)

    const node = machineNode()
    const version = run(node, ["--version"], app).trim()
    writeFileSync(join(app, "esm.mjs"), [
      `import { Encoding, PhoneNumbers } from "smsforge"`,
      `import { Sandbox } from "smsforge/testing"`,
      `const analysis = Encoding.analyze("Your code is 123456")`,
      `if (analysis.encoding !== "GSM-7" || analysis.segments.length !== 1) throw new Error("analyze")`,
      `if (PhoneNumbers.parse("+447400123456")._tag !== "Success") throw new Error("parse")`,
      `if (typeof Sandbox.makeUnsafe().sent !== "function") throw new Error("Sandbox")`,
      `console.log("esm ok")`
    ].join("\n"))
    writeFileSync(join(app, "cjs.cjs"), [
      `const { Encoding, PhoneNumbers } = require("smsforge")`,
      `const { Sandbox } = require("smsforge/testing")`,
      `if (Encoding.analyze("Привет").encoding !== "UCS-2") throw new Error("analyze")`,
      `if (PhoneNumbers.parse("+447400123456")._tag !== "Success") throw new Error("parse")`,
      `if (typeof Sandbox.makeUnsafe().sent !== "function") throw new Error("Sandbox")`,
      `console.log("cjs ok")`
    ].join("\n"))
    assert.strictEqual(run(node, ["esm.mjs"], app).trim(), "esm ok", `ESM on ${version}`)
    assert.strictEqual(run(node, ["cjs.cjs"], app).trim(), "cjs ok", `CJS on ${version}`)
  })
})
