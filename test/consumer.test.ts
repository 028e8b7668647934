// The package as users install it. The working tree is built and packed, and
// fresh projects install the tarball with its dependencies from the npm
// registry: project "a" gets only the tarball, `effect` and `@types/node`;
// project "b" adds the optional peers. Every ```ts snippet of README.md and docs/*.md (read now,
// not copied) and every examples/*.ts goes to "b" when it imports an optional
// peer (directly, or through a subpath that needs one), else to "a". There they
// are typechecked as users would (strict, exactOptionalPropertyTypes,
// noUncheckedIndexedAccess, declarations checked too) under `module: node16`
// and under `moduleResolution: bundler`, and those not marked
// `<!-- not run: why -->` run on the machine's own Node. A CommonJS project and
// an esbuild bundle of the quick start complete the picture. The tests from
// `src` (readme.test.ts, examples.test.ts) give quicker feedback; this one is
// the gate.
import { availableParallelism, tmpdir } from "node:os"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { build, transform } from "esbuild"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import {
  buildAndPack,
  type Diagnostic,
  install,
  installTarball,
  limited,
  machineNode,
  parseDiagnostics,
  type Ran,
  run
} from "./consumer/project.ts"
import { examplesOf, expectedOutput, type Snippet, snippetsOf } from "./consumer/snippets.ts"

const root = join(import.meta.dirname, "..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  exports: Record<string, unknown>
  devDependencies: Record<string, string>
  peerDependencies: Record<string, string>
  peerDependenciesMeta: Record<string, { optional?: boolean }>
}
// The version the repository's lockfile installed, else the declared range: a
// range alone drifts with the registry (a newer @effect/platform-node asking for
// a newer effect than the one pinned here fails to resolve).
const installedVersion = (name: string): string | undefined => {
  const manifest = join(root, "node_modules", name, "package.json")
  return existsSync(manifest) ? (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version : undefined
}
const versionOf = (name: string) => `${installedVersion(name) ?? pkg.devDependencies[name] ?? pkg.peerDependencies[name] ?? "latest"}`
const optionalPeers = Object.keys(pkg.peerDependenciesMeta).filter((name) => pkg.peerDependenciesMeta[name]?.optional)

// Subpaths that cannot load without an optional peer, and which.
const subpathPeers = (specifier: string): Array<string> => {
  if (/arbitraries/i.test(specifier)) return ["fast-check"]
  if (specifier === "smsforge/stores/postgres") return ["@effect/sql-pg"]
  if (specifier === "smsforge/stores/redis") return ["@effect/platform-node", "redis"]
  if (specifier === "smsforge/transports/smpp") return ["smpp"]
  return []
}
const packageOf = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")
const isBare = (specifier: string) => !specifier.startsWith(".") && !specifier.startsWith("node:")
// A package without its own declarations (express) comes with its @types package, as users install it.
const typesOf = (name: string): Array<string> => {
  const types = `@types/${name.startsWith("@") ? name.slice(1).replace("/", "__") : name}`
  return pkg.devDependencies[types] === undefined ? [] : [types]
}
/** The packages a snippet needs beyond the tarball, effect and Node itself. */
const extrasOf = (snippet: Snippet): Array<string> =>
  snippet.imports.filter(isBare).flatMap((specifier) => {
    const name = packageOf(specifier)
    return name === "smsforge" ? subpathPeers(specifier) : name === "effect" ? [] : [name, ...typesOf(name)]
  })

const snippets = snippetsOf(root)
const examples = examplesOf(root)
const programs = [...snippets, ...examples]
const projectOf = (snippet: Snippet): "a" | "b" => extrasOf(snippet).length > 0 ? "b" : "a"
const projects = ["a", "b"] as const
const configs = ["node16", "bundler"] as const
type Project = typeof projects[number]
type Config = typeof configs[number]

const exportedSubpaths = Object.keys(pkg.exports).filter((key) => key !== "./package.json").map((key) =>
  key === "." ? "smsforge" : `smsforge/${key.slice(2)}`
)
const peerFreeSubpaths = exportedSubpaths.filter((subpath) => subpathPeers(subpath).length === 0)

// What users have besides the package: @types/node, for `console`, `fetch` and node:http.
const base = { effect: versionOf("effect"), "@types/node": versionOf("@types/node") }
const extrasOfB = [...new Set([...optionalPeers, ...programs.filter((s) => projectOf(s) === "b").flatMap(extrasOf)])]

const compilerOptions = {
  target: "ES2022",
  lib: ["ES2022"],
  types: ["node"],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  // effect 4.1's own declarations need DOM's CryptoKey and JsonWebKey, which a
  // Node project without lib "DOM" lacks; project a under node16 checks
  // declarations anyway and judges only smsforge's (and it is the slowest run).
  skipLibCheck: true,
  noEmit: true,
  moduleDetection: "force",
  // A snippet may import another of the same page, as `./parrot.ts`.
  allowImportingTsExtensions: true
}
const configOptions: Record<Config, Record<string, string>> = {
  node16: { module: "node16", moduleResolution: "node16" },
  bundler: { module: "esnext", moduleResolution: "bundler" }
}

const work = mkdtempSync(join(tmpdir(), "smsforge-consumer-"))
const dirOf = (project: Project) => join(work, project)
const node = machineNode()
const tsc = join(root, "node_modules", "typescript", "bin", "tsc")
const limit = limited<unknown>(Math.max(2, availableParallelism()))
const keep = process.env.SMSFORGE_KEEP_CONSUMER === "1"

afterAll(() => {
  if (keep) console.log(`consumer projects kept in ${work}`)
  else rmSync(work, { recursive: true, force: true })
})

// Started once the projects are installed; each test awaits the result it judges.
let ready: Promise<void>
const typechecks = new Map<string, Promise<Array<Diagnostic>>>()
const runs = new Map<string, Promise<Ran>>()
const loads = new Map<string, Promise<Ran>>()
let cjs: Promise<Ran>
let bundle: Promise<Ran>
const started = performance.now()
// A test waits for work queued behind the typechecks, so longer than vitest's default.
const timeout = 300_000
const timings: Array<string> = []
const timed = async <A>(what: string, task: () => Promise<A>): Promise<A> => {
  const start = performance.now()
  try {
    return await task()
  } finally {
    timings.push(`${what} ${((performance.now() - start) / 1000).toFixed(1)} s`)
  }
}

/** A snippet's file in its project; a sibling it imports (`./parrot.ts`) is the page's snippet that exports those names. */
const writeSnippet = (snippet: Snippet, dir: string) => {
  writeFileSync(join(dir, `${snippet.id}.ts`), snippet.code)
  for (const m of snippet.code.matchAll(/import\s*\{([^}]*)\}\s*from\s*"\.\/([^"]+\.ts)"/g)) {
    const names = m[1]!.split(",").map((name) => name.trim().replace(/^type\s+/, "")).filter((n) => n !== "")
    const sibling = snippets.find((other) =>
      other.source === snippet.source && other !== snippet &&
      names.every((name) => new RegExp(`export\\s+(?:const|function|class|type|interface)\\s+${name}\\b`).test(other.code))
    )
    if (sibling === undefined) throw new Error(`${snippet.name}: no snippet on ${snippet.source} exports ${names.join(", ")}`)
    writeFileSync(join(dir, m[2]!), sibling.code)
  }
}

const typecheck = (project: Project, config: Config) =>
  limit(async () => {
    const ran = await run(process.execPath, [tsc, "-p", `tsconfig.${config}.json`, "--pretty", "false"], dirOf(project), {
      timeout: 180_000
    })
    if (ran.code !== 0 && ran.code !== 1 && ran.code !== 2) throw new Error(`tsc failed to run:\n${ran.stderr}${ran.stdout}`)
    timings.push(`tsc ${project} ${config} ${(ran.ms / 1000).toFixed(1)} s`)
    return parseDiagnostics(ran.stdout)
  }) as Promise<Array<Diagnostic>>

const runProgram = (snippet: Snippet) =>
  limit(async () => {
    const dir = join(dirOf(projectOf(snippet)), "run")
    const { code } = await transform(snippet.code, { loader: "ts", format: "esm", target: "node20" })
    writeFileSync(join(dir, `${snippet.id}.mjs`), code)
    return run(node, [`${snippet.id}.mjs`], dir, { timeout: 60_000 })
  }) as Promise<Ran>

const loadAll = (project: Project, mode: "import" | "require", subpaths: ReadonlyArray<string>) => {
  const dir = join(dirOf(project), "run")
  const file = `load-${mode}.${mode === "import" ? "mjs" : "cjs"}`
  const load = mode === "import" ? "await import(s)" : "require(s)"
  writeFileSync(join(dir, file), [
    `const failed = []`,
    `for (const s of ${JSON.stringify(subpaths)}) {`,
    `  try { const m = ${load}; if (Object.keys(m).length === 0) failed.push(s + ": no exports") }`,
    `  catch (e) { failed.push(s + ": " + String(e && e.message).split("\\n")[0]) }`,
    `}`,
    `console.log(failed.join("\\n"))`,
    `process.exitCode = failed.length === 0 ? 0 : 1`
  ].join("\n"))
  return limit(() => run(node, [file], dir, { timeout: 60_000 })) as Promise<Ran>
}

const fullCheck = (project: Project, config: Config) => project === "a" && config === "node16"

const cjsSource = [
  `import smsforge = require("smsforge")`,
  `import testing = require("smsforge/testing")`,
  ``,
  `async function main(): Promise<void> {`,
  `  const client = smsforge.createSmsClient({ transports: [testing.Sandbox.makeUnsafe()], defaultCountry: "GB" })`,
  `  const receipt = await client.send({ to: "07400 123456", text: "Your parcel has cleared customs." })`,
  `  console.log(receipt.status, receipt.to, receipt.encoding, receipt.segmentCount)`,
  `  await client.close()`,
  `}`,
  `main().catch((error: unknown) => {`,
  `  console.error(error)`,
  `  process.exitCode = 1`,
  `})`
].join("\n")

/** A CommonJS project inside project a: its own package.json, without "type": "module". */
const writeCommonJs = () => {
  const dir = join(dirOf("a"), "cjs")
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "cjs-consumer", private: true }))
  writeFileSync(join(dir, "consumer.cts"), cjsSource)
}

const runCommonJs = async () => {
  const dir = join(dirOf("a"), "cjs")
  const { code } = await transform(cjsSource, { loader: "ts", format: "cjs", target: "node20" })
  writeFileSync(join(dir, "consumer.cjs"), code)
  return limit(() => run(node, ["consumer.cjs"], dir, { timeout: 60_000 })) as Promise<Ran>
}

const quickStart = snippets.find((s) => s.source === "README.md" && s.notRun === undefined && s.needs === undefined)!

const bundleQuickStart = async () => {
  const dir = join(dirOf("a"), "bundle")
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "quick-start.ts"), quickStart.code)
  await build({
    absWorkingDir: dir,
    entryPoints: ["quick-start.ts"],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: "quick-start.bundle.mjs",
    logLevel: "silent"
  })
  return limit(() => run(node, ["quick-start.bundle.mjs"], dir, { timeout: 60_000 })) as Promise<Ran>
}

const prepare = async () => {
  // The projects install their other dependencies while the package builds.
  const installed = timed("install", () => Promise.all([
    install(dirOf("a"), { name: "consumer-a", type: "module" }, base),
    install(dirOf("b"), { name: "consumer-b", type: "module" }, {
      ...base,
      ...Object.fromEntries(extrasOfB.map((name) => [name, versionOf(name)]))
    })
  ]))
  // SMSFORGE_CONSUMER_TARBALL: a tarball packed already, to try the projects again quickly.
  const given = process.env.SMSFORGE_CONSUMER_TARBALL
  const packed = given !== undefined ? resolve(given) :
    timed("build and pack", () => buildAndPack(root, join(work, "package")))
  const [tarball] = await Promise.all([packed, installed])
  await timed("install the tarball", () => Promise.all(projects.map((project) => installTarball(dirOf(project), tarball))))
  for (const project of projects) {
    const dir = dirOf(project)
    mkdirSync(join(dir, "snippets"), { recursive: true })
    mkdirSync(join(dir, "run"), { recursive: true })
    for (const config of configs) {
      const full = fullCheck(project, config)
      const tsconfig = {
        compilerOptions: { ...compilerOptions, ...configOptions[config], ...(full ? { skipLibCheck: false } : {}) },
        // The CommonJS consumer is a .cts file: CommonJS whatever the package.json says.
        include: full ? ["snippets", "cjs/consumer.cts"] : ["snippets"]
      }
      writeFileSync(join(dir, `tsconfig.${config}.json`), JSON.stringify(tsconfig, null, 2))
    }
  }
  writeCommonJs()
  for (const snippet of programs) writeSnippet(snippet, join(dirOf(projectOf(snippet)), "snippets"))

  for (const project of projects) for (const config of configs) typechecks.set(`${project} ${config}`, typecheck(project, config))
  loads.set("a import", loadAll("a", "import", peerFreeSubpaths))
  loads.set("a require", loadAll("a", "require", peerFreeSubpaths))
  loads.set("b import", loadAll("b", "import", exportedSubpaths))
  loads.set("b require", loadAll("b", "require", exportedSubpaths))
  // a snippet that needs a server runs from src (test/readme.test.ts), where CI sets its URL
  for (const snippet of programs) if (snippet.notRun === undefined && snippet.needs === undefined) runs.set(snippet.id, runProgram(snippet))
  cjs = runCommonJs()
  bundle = bundleQuickStart()
  // Judged by the tests below; never an unhandled rejection here.
  for (const p of [...typechecks.values(), ...runs.values(), ...loads.values(), cjs, bundle]) p.catch(() => {})
}

// A failed set-up (the registry unreachable, the build broken) fails every test
// with its error, rather than leaving them skipped.
beforeAll(async () => {
  ready = prepare()
  await ready.catch(() => {})
}, 420_000)

afterAll(async () => {
  await Promise.allSettled([...typechecks.values(), ...runs.values(), ...loads.values(), cjs, bundle])
  console.log(`consumer test: ${((performance.now() - started) / 1000).toFixed(1)} s (${timings.join(", ")})`)
})

const show = (d: Diagnostic, snippet?: Snippet) =>
  snippet === undefined ? `${d.file}(${d.line},${d.column}): ${d.text}` : `${snippet.source}:${snippet.offset + d.line}:${d.column} ${d.text}`

const showRun = (ran: Ran) =>
  `exit ${ran.code ?? ran.signal} after ${Math.round(ran.ms)} ms\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`

/** Each expected line, in order, among the printed ones. */
const assertPrinted = (stdout: string, expected: ReadonlyArray<string>) => {
  const lines = stdout.split("\n").map((line) => line.trim())
  let at = 0
  for (const line of expected) {
    const found = lines.indexOf(line, at)
    assert.notStrictEqual(found, -1, `expected it to print ${JSON.stringify(line)}; it printed:\n${stdout}`)
    at = found + 1
  }
}

describe("the packed package in fresh projects", () => {
  it(`${peerFreeSubpaths.join(", ")} load with import, no optional peer installed`, { timeout }, async () => {
    await ready
    const ran = await loads.get("a import")!
    assert.strictEqual(ran.code, 0, `these failed to load:\n${ran.stdout}${ran.stderr}`)
  })

  it(`${peerFreeSubpaths.join(", ")} load with require, no optional peer installed`, { timeout }, async () => {
    await ready
    const ran = await loads.get("a require")!
    assert.strictEqual(ran.code, 0, `these failed to load:\n${ran.stdout}${ran.stderr}`)
  })

  it("every subpath loads with import and require once the optional peers are installed", { timeout }, async () => {
    await ready
    for (const mode of ["import", "require"]) {
      const ran = await loads.get(`b ${mode}`)!
      assert.strictEqual(ran.code, 0, `${mode}: these failed to load:\n${ran.stdout}${ran.stderr}`)
    }
  })

  for (const project of projects) {
    for (const config of configs) {
      const title = fullCheck(project, config)
        ? `smsforge's own declarations typecheck (project ${project}, ${config}, skipLibCheck false, .d.ts and .d.cts)`
        : `nothing but the snippets has type errors (project ${project}, ${config})`
      it(title, { timeout }, async () => {
        await ready
        const diagnostics = await typechecks.get(`${project} ${config}`)!
        const others = diagnostics.filter((d) =>
          !d.file.startsWith("snippets/") && !d.file.startsWith("cjs/") &&
          // effect's own declarations (DOM's CryptoKey, JsonWebKey): not ours to judge
          !d.file.startsWith("node_modules/effect/") &&
          // effect is ESM only: under node16 a .d.cts importing it is TS1479, TS1541 or
          // TS1542 (unless each import had a resolution-mode attribute), though Node
          // 20.19+ requires ESM and `module: node20` (TS 5.9) accepts the same files
          !(d.file.endsWith(".d.cts") && /^error TS(1479|1541|1542):/.test(d.text))
        )
        assert.deepStrictEqual(others.map((d) => show(d)), [])
      })
    }
  }

  for (const snippet of programs) {
    const project = projectOf(snippet)
    for (const config of configs) {
      it(`${snippet.name} typechecks (${config}, project ${project})`, { timeout }, async () => {
        await ready
        const diagnostics = await typechecks.get(`${project} ${config}`)!
        const own = diagnostics.filter((d) => d.file === `snippets/${snippet.id}.ts`)
        assert.deepStrictEqual(own.map((d) => show(d, snippet)), [])
      })
    }
  }

  for (const snippet of programs) {
    it.skipIf(snippet.notRun !== undefined || snippet.needs !== undefined)(`${snippet.name} runs on the machine's Node`, { timeout }, async () => {
      await ready
      const ran = await runs.get(snippet.id)!
      assert.strictEqual(ran.code, 0, showRun(ran))
      assertPrinted(ran.stdout, expectedOutput(snippet.code))
    })
  }

  it("a CommonJS project requires smsforge and smsforge/testing, typechecked as .cts under node16", { timeout }, async () => {
    await ready
    const diagnostics = await typechecks.get("a node16")!
    assert.deepStrictEqual(diagnostics.filter((d) => d.file.startsWith("cjs/")).map((d) => show(d)), [])
    const ran = await cjs
    assert.strictEqual(ran.code, 0, showRun(ran))
    assert.strictEqual(ran.stdout.trim(), "submitted +447400123456 GSM-7 1")
  })

  it(`an esbuild bundle of the quick start (${quickStart.name}) runs`, { timeout }, async () => {
    await ready
    const ran = await bundle
    assert.strictEqual(ran.code, 0, showRun(ran))
    assertPrinted(ran.stdout, expectedOutput(quickStart.code))
  })
})
