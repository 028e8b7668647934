import type { Issue } from "effect/SchemaIssue"

/** The first problem in a Schema issue tree, as a field path and a short word. */
export interface Problem {
  readonly path: ReadonlyArray<string>
  readonly problem: "missing" | "unexpected" | "wrong-type" | "invalid"
}

export const firstProblem = (issue: Issue, path: ReadonlyArray<string> = []): Problem => {
  switch (issue._tag) {
    case "Pointer":
      return firstProblem(issue.issue, [...path, ...issue.path.map(String)])
    case "Filter":
    case "Encoding":
      return firstProblem(issue.issue, path)
    case "Composite":
      return firstProblem(issue.issues[0], path)
    case "AnyOf":
      return issue.issues[0] === undefined ? { path, problem: "wrong-type" } : firstProblem(issue.issues[0], path)
    case "MissingKey":
      return { path, problem: "missing" }
    case "UnexpectedKey":
      return { path, problem: "unexpected" }
    case "InvalidType":
      return { path, problem: "wrong-type" }
    default:
      return { path, problem: "invalid" }
  }
}

/** `a.b[0]`-style rendering of a path. */
export const fieldName = (path: ReadonlyArray<string>): string =>
  path.reduce((name, key) => (/^\d+$/.test(key) ? `${name}[${key}]` : name === "" ? key : `${name}.${key}`), "")

/** The first key of `input` that `allowed` lacks: a typo such as `chanel` is named, never ignored. */
export const firstUnknownKey = (input: object, allowed: ReadonlySet<string>): string | undefined => {
  for (const key in input) {
    if (!allowed.has(key)) return key
  }
  return undefined
}
