// Lists functions longer than the limit (default 150 lines) in the library's
// sources; exits 1 when any is found, so `npm run lint` holds the line.
// Usage: node scripts/check-functions.mjs [--limit N] [--top N]
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const at = args.indexOf(name)
  return at === -1 ? fallback : Number(args[at + 1])
}
const limit = option("--limit", 150)
const top = option("--top", 0)
const roots = ["src", "transports", "stores", "commerce", "console", "cli"]

const sourceFiles = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : []
  })

const isFunction = (node) =>
  ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) ||
  ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessor(node)

const nameOf = (node) => {
  if (node.name) return node.name.getText()
  const parent = node.parent
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent))) return parent.name.getText()
  if (parent && ts.isCallExpression(parent)) return `${parent.expression.getText().slice(0, 40)}(…)`
  return "(anonymous)"
}

// A function's own length: its lines minus those of the functions nested in it
// that are long enough to be reported on their own.
const found = []
for (const file of roots.flatMap(sourceFiles)) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const lines = (node) => {
    const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line
    const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
    return end - start + 1
  }
  const visit = (node) => {
    if (isFunction(node)) {
      found.push({ file, name: nameOf(node), lines: lines(node), line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
}

found.sort((a, b) => b.lines - a.lines)
if (top > 0) {
  for (const f of found.slice(0, top)) console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line}  ${f.name}`)
  process.exit(0)
}
const over = found.filter((f) => f.lines > limit)
for (const f of over) console.error(`${f.file}:${f.line}  ${f.name} is ${f.lines} lines (limit ${limit})`)
process.exit(over.length > 0 ? 1 : 0)
