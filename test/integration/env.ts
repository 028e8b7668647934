import { describe, test } from "vitest"

/** Runs `body` when the server's URL is set; otherwise one line says which variable is missing. */
export const describeWith = (value: string | undefined, name: string, variable: string, body: () => void) =>
  value ? describe(name, body) : test.skip(`${name} (skipped: ${variable} is not set)`, () => {})
