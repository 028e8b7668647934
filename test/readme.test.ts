// The README's TypeScript snippets run here, so what it teaches keeps working.
// A snippet that cannot run on its own (it needs a carrier's server or an HTTP
// request) is preceded by an HTML comment `<!-- not run: why -->`.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, it } from "vitest"

const root = join(import.meta.dirname, "..")
const pages = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)]
const dir = join(root, ".readme-snippets")
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const snippets = pages.flatMap((page, p) => {
  const text = readFileSync(join(root, page), "utf8")
  return [...text.matchAll(/(<!-- not run: [^>]*-->\s*)?```ts\n([\s\S]*?)```/g)].map((match, i) => {
    const line = text.slice(0, match.index).split("\n").length
    return { name: `${page} line ${line}`, skip: match[1] !== undefined, code: match[2] ?? "", file: join(dir, `snippet-${p}-${i}.ts`) }
  })
})

describe("README snippets", () => {
  for (const snippet of snippets) {
    it.skipIf(snippet.skip)(`${snippet.name} runs`, async () => {
      writeFileSync(snippet.file, snippet.code)
      await import(snippet.file)
    })
  }
})
