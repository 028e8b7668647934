// The `smsforge` command as a process, as users run it: the CLI is bundled
// as tsup bundles it (the package's own modules inside, every dependency left
// to node_modules) and run with the toolchain's pinned Node 24 and with the
// machine's own Node (20 here, the oldest the package supports).
//   - smsforge.config.ts loads where Node strips types, and fails typed,
//     naming the way out, where it cannot;
//   - `dev` on PostgreSQL or Redis: one instance accepts a send through the
//     API, a second instance on the same server sees the message.
import { Effect, Layer } from "effect"
import { Redis } from "effect/persistence"
import { SqlClient } from "effect/sql"
import { build } from "esbuild"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as PgStores from "../stores/postgres/index.ts"
import * as RedisStores from "../stores/redis/index.ts"
import { machineNode } from "./consumer/project.ts"
import { describeWith } from "./integration/env.ts"

const root = join(import.meta.dirname, "..")
const pinnedNode = join(root, "node_modules", ".bin", "node")
const systemNode = machineNode()
// Inside the repository, so that the bundle's imports resolve from its node_modules.
const out = join(root, "node_modules", ".cache", "smsforge-cli-test", randomUUID())
const main = join(out, "main.mjs")

const entries: Record<string, string> = {
  "smsforge": "src/index.ts",
  "smsforge/testing": "src/testing/index.ts",
  "smsforge/testing/arbitraries": "src/testing/arbitraries/index.ts",
  "smsforge/console": "console/index.ts",
  "smsforge/commerce": "commerce/index.ts"
}

beforeAll(async () => {
  await build({
    entryPoints: [join(root, "cli", "main.ts")],
    outfile: main,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "error",
    plugins: [{
      name: "smsforge-sources",
      setup(b) {
        b.onResolve({ filter: /^smsforge(\/|$)/ }, ({ path }) => {
          const entry = entries[path] ?? (/^smsforge\/(transports|stores)\/[a-z0-9-]+$/.test(path) ? `${path.slice("smsforge/".length)}/index.ts` : undefined)
          return entry === undefined ? undefined : { path: join(root, entry) }
        })
        b.onResolve({ filter: /^[^./]/ }, ({ path }) => (path.startsWith("smsforge") ? undefined : { path, external: true }))
      }
    }]
  })
})
afterAll(() => rmSync(out, { recursive: true, force: true }))

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const runCli = (node: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Ran> =>
  new Promise((resolve) => {
    const child = spawn(node, [main, ...args], { cwd, env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => void (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

// Node 20 cannot strip types; a machine whose own Node can has nothing to show here.
const systemMajor = Number(spawnSync(systemNode, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).stdout)
const notOn20 = systemMajor >= 22 ? ` (skipped: the machine's Node is ${systemMajor}, not 20)` : ""

// Each test waits mostly on child processes, so they run side by side.
describe.concurrent("the smsforge command as a process", () => {
const configTs = `interface Route { readonly name: string; readonly transport: string; readonly countries?: ReadonlyArray<string> }
const uk: Route = { name: "ts-route", transport: "sandbox-eu", countries: ["GB"] }
export default { defaultCountry: "GB", routing: { routes: [uk] } }
`

describe("smsforge.config.ts", () => {
  const dir = mkdtempSync(join(tmpdir(), "smsforge-config-ts-"))
  writeFileSync(join(dir, "smsforge.config.ts"), configTs)
  const jsonDir = join(dir, "json")
  mkdirSync(jsonDir)
  writeFileSync(join(jsonDir, "smsforge.config.json"), JSON.stringify({ routing: { routes: [{ name: "json-route", transport: "sandbox-eu" }] } }))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("is found and loaded on Node 24, which strips its types", async () => {
    const ran = await runCli(pinnedNode, ["routes", "explain", "07400123456"], dir)
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, "ts-route")
  })

  it.skipIf(notOn20 !== "")(`fails typed on Node 20, naming .js, .json and the Node that would load it${notOn20}`, async () => {
    const ran = await runCli(systemNode, ["routes", "explain", "07400123456"], dir)
    assert.strictEqual(ran.code, 1)
    assert.match(ran.stderr, /^smsforge: .*smsforge\.config\.ts: Node v20\.[\d.]+ cannot load a TypeScript config; use smsforge\.config\.js or smsforge\.config\.json, or Node 22\.18 or newer/)
    assert.notInclude(ran.stderr, "    at ", "no stack trace")
    // The same CLI on the same Node reads a JSON config.
    const json = await runCli(systemNode, ["routes", "explain", "+447400123456"], jsonDir)
    assert.strictEqual(json.code, 0, json.stderr)
    assert.include(json.stdout, "json-route")
  })

  it("uses only erasable syntax: an enum is named as the problem", async () => {
    const bad = join(dir, "enum.ts")
    writeFileSync(bad, "enum Mode { A }\nexport default { smartEncoding: Mode.A === 0 }\n")
    const ran = await runCli(pinnedNode, ["routes", "explain", "+447400123456", "--config", bad], dir)
    assert.strictEqual(ran.code, 1)
    assert.include(ran.stderr, "enum.ts: uses TypeScript that Node cannot strip")
  })
})

// An instance of `smsforge dev` in its own process, until `stop`.
interface Running {
  readonly url: string
  readonly banner: string
  readonly stop: () => Promise<void>
}

const start = (node: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Running> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(node, [main, "dev", "--port", "0"], { cwd, env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    const stop = () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done()
        child.once("close", () => done())
        child.kill("SIGINT")
      })
    child.stderr!.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      const url = /console\s+(http:\/\/\S+)/.exec(stdout)?.[1]
      if (url !== undefined && stdout.includes("Press Ctrl+C")) resolve({ url, banner: stdout, stop })
    })
    child.on("close", (code) => reject(new Error(`smsforge dev exited (${code}): ${stderr}`)))
  })

const api = async (url: string, path: string, body?: unknown): Promise<{ readonly status: number; readonly json: Record<string, unknown> }> => {
  const response = await fetch(new URL(path, url), {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: "Bearer dev", "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: response.status, json: await response.json() as Record<string, unknown> }
}

const statusOn = async (url: string, id: string, want: ReadonlyArray<string>, within: number): Promise<string> => {
  const until = Date.now() + within
  for (;;) {
    const { status, json } = await api(url, `messages/${id}`)
    const current = status === 200 ? String(json.status) : `HTTP ${status}`
    if (want.includes(current) || Date.now() > until) return current
    await new Promise((r) => setTimeout(r, 200))
  }
}

// Two instances on one store: a send through the first, read through the second.
const sharedStoreSuite = (backend: string, stores: unknown, env: NodeJS.ProcessEnv, cleanup: () => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), `smsforge-${backend}-`))
  // No faults, every receipt `delivered`: the test reads a status, not a chance.
  writeFileSync(join(dir, "smsforge.config.json"), JSON.stringify({
    stores,
    transports: [{ name: "sandbox-eu", type: "sandbox", latency: 5 }, { name: "sandbox-global", type: "sandbox", latency: 5 }],
    routing: { routes: [{ name: "eu-primary", transport: "sandbox-eu" }, { name: "global", transport: "sandbox-global" }] }
  }))
  const running: Array<Running> = []
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()))
    await cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it("a send through one instance's API is seen, delivered, by a second instance", async () => {
    // The first on the toolchain's Node, the second on the machine's: a fleet mid-upgrade.
    running.push(...await Promise.all([start(pinnedNode, dir, env), start(systemNode, dir, env)]))
    const [first, second] = running as [Running, Running]
    const sent = await api(first.url, "messages", { to: "+447400123456", text: `[ShopLane] Your order SL${backend} has shipped.` })
    assert.strictEqual(sent.status, 202, JSON.stringify(sent.json))
    const id = String(sent.json.id)
    const seen = await api(second.url, `messages/${id}`)
    assert.strictEqual(seen.status, 200, JSON.stringify(seen.json))
    assert.strictEqual(seen.json.to, "+447400123456")
    assert.strictEqual(await statusOn(second.url, id, ["delivered"], 15_000), "delivered")
    assert.match(first.banner, new RegExp(`stores\\s+${backend}`))
  })

  it("without the URL's variable, stops naming the key and the variable", async () => {
    const unset = Object.fromEntries(Object.keys(env).map((name) => [name, ""]))
    const ran = await runCli(pinnedNode, ["dev", "--port", "0"], dir, unset)
    assert.strictEqual(ran.code, 1)
    assert.strictEqual(ran.stderr, `smsforge: stores.${backend}.url: set the environment variable ${Object.keys(env)[0]}\n`)
  })
}

const databaseUrl = process.env.DATABASE_URL
const tablePrefix = `smsforge_cli_${randomUUID().replaceAll("-", "").slice(0, 10)}_`

describeWith(databaseUrl, "smsforge dev on PostgreSQL", "DATABASE_URL", () => {
  sharedStoreSuite("postgres", { postgres: { url: "env:SMSFORGE_TEST_DATABASE_URL", tablePrefix } }, { SMSFORGE_TEST_DATABASE_URL: databaseUrl }, () =>
    Effect.runPromise(
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tables = yield* sql<{ readonly name: string }>`SELECT tablename AS name FROM pg_tables WHERE tablename LIKE ${`${tablePrefix}%`}`
        for (const { name } of tables) yield* sql`DROP TABLE IF EXISTS ${sql(name)} CASCADE`
      }).pipe(Effect.provide(PgStores.layerFromUrl(databaseUrl ?? "")), Effect.ignore)
    ))
})

const redisUrl = process.env.REDIS_URL
const prefix = `smsforge-cli-test:${randomUUID()}:`

describeWith(redisUrl, "smsforge dev on Redis", "REDIS_URL", () => {
  sharedStoreSuite("redis", { redis: { url: "env:SMSFORGE_TEST_REDIS_URL", prefix } }, { SMSFORGE_TEST_REDIS_URL: redisUrl }, () =>
    Effect.runPromise(
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const keys = yield* redis.send<ReadonlyArray<string>>("KEYS", `${prefix}*`)
        if (keys.length > 0) yield* redis.send("DEL", ...keys)
      }).pipe(Effect.provide(Layer.fresh(RedisStores.layerFromUrl(redisUrl ?? ""))), Effect.scoped, Effect.ignore)
    ))
})

})
