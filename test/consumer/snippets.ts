// What a user copies: every ```ts fence in README.md and docs/*.md, read at
// test time, and every program in examples/. A fence preceded by
// `<!-- not run: why -->` is typechecked but not run; one preceded by
// `<!-- needs: VARIABLE -->` (a server's URL, e.g. DATABASE_URL) runs from
// `src` when that variable is set, and is typechecked in the packed package.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

export interface Snippet {
  /** "docs/sending.md line 35": the page and the line of its opening fence */
  readonly name: string
  /** a file name for it in a consumer project, without extension */
  readonly id: string
  readonly code: string
  /** the line in the page of the snippet's first line of code, minus one */
  readonly offset: number
  readonly source: string
  /** why it is not run, when it is not */
  readonly notRun: string | undefined
  /** the environment variable it needs to run (a server's URL) */
  readonly needs: string | undefined
  /** bare module specifiers it imports ("effect", "smsforge/testing", "node:http") */
  readonly imports: ReadonlyArray<string>
}

export const pagesOf = (root: string): Array<string> => [
  "README.md",
  ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)
]

const importsOf = (code: string): Array<string> => [
  ...new Set(
    [...code.matchAll(/^\s*(?:import|export)\s(?:[^"'`;]*?\sfrom\s*)?["']([^"']+)["']/gm)].map((m) => m[1]!)
  )
]

export const snippetsOf = (root: string): Array<Snippet> =>
  pagesOf(root).flatMap((page) => {
    const text = readFileSync(join(root, page), "utf8")
    return [...text.matchAll(/(?:<!-- (not run|needs): ([^>]*?)\s*-->\s*)?```ts\n([\s\S]*?)```/g)].map((match) => {
      const fence = text.slice(0, match.index + match[0].indexOf("```ts")).split("\n").length
      const code = match[3] ?? ""
      return {
        name: `${page} line ${fence}`,
        id: `${page.replace(/\.md$/, "").replace(/[^A-Za-z0-9]+/g, "-")}-line-${fence}`,
        code,
        offset: fence,
        source: page,
        notRun: match[1] === "not run" ? match[2] : undefined,
        needs: match[1] === "needs" ? match[2] : undefined,
        imports: importsOf(code)
      }
    })
  })

export const examplesOf = (root: string): Array<Snippet> =>
  readdirSync(join(root, "examples")).filter((f) => f.endsWith(".ts")).sort().map((file) => {
    const code = readFileSync(join(root, "examples", file), "utf8")
    return {
      name: `examples/${file}`,
      id: `examples-${file.replace(/\.ts$/, "")}`,
      code,
      offset: 0,
      source: `examples/${file}`,
      notRun: undefined,
      needs: undefined,
      imports: importsOf(code)
    }
  })

/**
 * `// => value` after a console.log on a line of its own: what that line
 * prints, in order.
 */
export const expectedOutput = (code: string): Array<string> =>
  code.split("\n").flatMap((line) => {
    const m = /^\s*console\.log\(.*\)\s*\/\/ => (.*)$/.exec(line)
    return m ? [m[1]!.trim()] : []
  })
