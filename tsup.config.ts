import { spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { defineConfig } from "tsup"

// One entry per subpath export; test/package.test.ts checks that these, the
// package.json exports and the API reports name the same set.
export const entries = {
  "index": "src/index.ts",
  "testing/index": "src/testing/index.ts",
  "testing/arbitraries/index": "src/testing/arbitraries/index.ts",
  "commerce/index": "commerce/index.ts",
  "console/index": "console/index.ts",
  "cli/main": "cli/main.ts",
  "stores/postgres/index": "stores/postgres/index.ts",
  "stores/redis/index": "stores/redis/index.ts",
  "transports/aliyun/index": "transports/aliyun/index.ts",
  "transports/http/index": "transports/http/index.ts",
  "transports/placed/index": "transports/placed/index.ts",
  "transports/smpp/index": "transports/smpp/index.ts",
  "transports/tencent/index": "transports/tencent/index.ts",
  "transports/twilio/index": "transports/twilio/index.ts",
  "transports/vonage/index": "transports/vonage/index.ts"
}

// Declarations are tsc's, one file per source file under dist/types, each as
// `.d.ts` (imports `.js`) and `.d.cts` (imports `.cjs`) so that both module
// systems see a consistent tree; each entry's `.d.ts`/`.d.cts` re-exports its
// module. tsup's bundled declarations (rollup-plugin-dts) kept only one half of
// an interface or type alias that shares its name with a const inside an
// `export * as` namespace (`Transport.Transport`, `PhoneNumbers.E164`).
const emitDeclarations = async (): Promise<void> => {
  // Type errors are `npm run lint`'s to report; tsc still emits with them (status 2), as the bundler did.
  const tsc = spawnSync(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.api.json", "--outDir", "dist/types"], {
    stdio: "inherit"
  })
  if (tsc.status !== 0 && tsc.status !== 2) throw new Error(`tsc emitted no declarations (status ${tsc.status})`)
  const relativeSpecifier = /((?:from |import\()")(\.{1,2}\/[^"]*)\.ts"/g
  const walk = (dir: string): Array<string> =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith(".d.ts") ? [join(dir, entry.name)] : []
    )
  for (const file of walk(join("dist", "types"))) {
    const text = readFileSync(file, "utf8")
    writeFileSync(file, text.replace(relativeSpecifier, "$1$2.js\""))
    writeFileSync(file.replace(/\.d\.ts$/, ".d.cts"), text.replace(relativeSpecifier, "$1$2.cjs\""))
  }
  for (const [entry, source] of Object.entries(entries)) {
    const path = relative(dirname(join("dist", entry)), join("dist", "types", source.replace(/\.ts$/, "")))
    const module = path.startsWith("..") ? path : `./${path}`
    mkdirSync(dirname(join("dist", entry)), { recursive: true })
    writeFileSync(join("dist", `${entry}.d.ts`), `export * from "${module}.js"\n`)
    writeFileSync(join("dist", `${entry}.d.cts`), `export * from "${module}.cjs"\n`)
  }
}

export default defineConfig({
  entry: entries,
  format: ["esm", "cjs"],
  dts: false,
  onSuccess: emitDeclarations,
  sourcemap: true,
  clean: true,
  target: "es2022",
  platform: "node",
  splitting: true,
  // tsup's own CJS chunk splitting (sucrase) breaks `yield*` inside `??`; rollup's does not.
  treeshake: true,
  // Transports and testing load the package's own root entry, so there is
  // only ever one Transport service tag and one set of error classes.
  // libphonenumber-js and otplib are runtime dependencies, not bundled, so that
  // `npm update` brings new number metadata; src/internal/lazy.ts loads them at
  // first use, which keeps them out of the cold import.
  external: ["smsforge", "smpp", "redis", "@effect/platform-node", /^@effect\/platform-node\//, "@effect/sql-pg", /^@effect\/sql-pg\//, "effect", /^effect\//, "fast-check", /^libphonenumber-js(\/|$)/, "otplib", /^@otplib\//],
  // import.meta.url in the CommonJS build, for createRequire in src/internal/lazy.ts.
  shims: true
})
