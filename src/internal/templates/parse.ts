/**
 * The template body parser: `{{ name }}` placeholders, `\{`, `\}` and `\\`
 * escapes. A body is parsed once, when it is registered, into literal and
 * variable parts; rendering only concatenates them.
 *
 * Not exported from the package.
 */

/** One piece of a parsed body. */
export type Part =
  | { readonly _tag: "Literal"; readonly text: string }
  | { readonly _tag: "Variable"; readonly name: string }

/** Why a body was refused, and where (UTF-16 index into the body). */
export interface ParseProblem {
  readonly problem: string
  readonly position: number
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Names that could reach an object's prototype if a store ever used plain objects. */
const RESERVED = new Set(["__proto__", "constructor", "prototype"])

const isSpace = (char: string | undefined): boolean =>
  char === " " || char === "\t" || char === "\n" || char === "\r"

/**
 * Parses a body. `declared` is the set of variable names the template's
 * schema declares; any other placeholder is refused.
 */
export const parseBody = (
  body: string,
  declared: ReadonlySet<string>
): { readonly _tag: "Parsed"; readonly parts: ReadonlyArray<Part> } | { readonly _tag: "Problem"; readonly problem: ParseProblem } => {
  const parts: Array<Part> = []
  let literal = ""
  const flush = () => {
    if (literal.length > 0) {
      parts.push({ _tag: "Literal", text: literal })
      literal = ""
    }
  }
  const fail = (problem: string, position: number) => ({ _tag: "Problem" as const, problem: { problem, position } })
  let i = 0
  const length = body.length
  while (i < length) {
    const char = body[i]!
    if (char === "\\") {
      const next = body[i + 1]
      if (next === "{" || next === "}" || next === "\\") {
        literal += next
        i += 2
      } else {
        literal += char
        i += 1
      }
      continue
    }
    if (char === "}") {
      return fail("unbalanced '}' (write \\} for a literal brace)", i)
    }
    if (char !== "{") {
      literal += char
      i += 1
      continue
    }
    if (body[i + 1] !== "{") {
      return fail("unbalanced '{' (write \\{ for a literal brace)", i)
    }
    if (body[i + 2] === "{") {
      return fail("'{{{' is not supported (write \\{ for a literal brace)", i)
    }
    const start = i
    let j = i + 2
    while (isSpace(body[j])) j++
    let name = ""
    while (j < length) {
      const c = body[j]!
      if (c === "}" || c === "{" || isSpace(c)) break
      name += c
      j++
    }
    while (isSpace(body[j])) j++
    if (j >= length) return fail("unclosed placeholder (missing '}}')", start)
    if (body[j] === "{") return fail("unbalanced '{' inside a placeholder", j)
    if (body[j] !== "}" || body[j + 1] !== "}") {
      return fail(body[j] === "}" ? "unbalanced '}' (a placeholder ends with '}}')" : "a placeholder holds one variable name", j)
    }
    if (body[j + 2] === "}") return fail("'}}}' is not supported (write \\} for a literal brace)", j)
    if (name.length === 0) return fail("empty placeholder", start)
    if (!NAME.test(name)) {
      return fail(`placeholder '${name}' is not a variable name (letters, digits, '_'; no paths or expressions)`, start)
    }
    if (RESERVED.has(name)) return fail(`placeholder '${name}' is a reserved name`, start)
    if (!declared.has(name)) return fail(`unknown placeholder '${name}' (not declared in the variables schema)`, start)
    flush()
    parts.push({ _tag: "Variable", name })
    i = j + 2
  }
  flush()
  return { _tag: "Parsed", parts }
}

/** Concatenates parts, inserting each variable's value verbatim. */
export const renderParts = (parts: ReadonlyArray<Part>, values: ReadonlyMap<string, string>): string => {
  let out = ""
  for (const part of parts) {
    out += part._tag === "Literal" ? part.text : (values.get(part.name) ?? "")
  }
  return out
}

/** Escapes a literal text so that {@link parseBody} reads it back unchanged. */
export const escapeLiteral = (text: string): string => text.replace(/[\\{}]/g, (c) => `\\${c}`)
