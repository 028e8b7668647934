// The docs' TypeScript snippets (README.md and docs/*.md) run here from `src`,
// for quick feedback while editing; test/consumer.test.ts is the gate: it
// typechecks and runs the same snippets against the packed package. A snippet
// that cannot run on its own (it needs a carrier's server, or serves until
// stopped) is preceded by an HTML comment `<!-- not run: why -->`; one that
// needs a server runs when its URL is set (`<!-- needs: DATABASE_URL -->`).
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, it } from "vitest"
import { snippetsOf } from "./consumer/snippets.ts"

const root = join(import.meta.dirname, "..")
const dir = join(root, ".readme-snippets")
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("README snippets", () => {
  for (const snippet of snippetsOf(root)) {
    const missing = snippet.needs !== undefined && !process.env[snippet.needs]
    it.skipIf(snippet.notRun !== undefined || missing)(`${snippet.name} runs${missing ? ` (skipped: ${snippet.needs} is not set)` : ""}`, async () => {
      const file = join(dir, `${snippet.id}.ts`)
      writeFileSync(file, snippet.code)
      await import(file)
    })
  }
})
