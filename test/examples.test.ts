// Every program in examples/ runs here from `src`, so the examples never rot;
// test/consumer.test.ts typechecks and runs them against the packed package.
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, it } from "vitest"

const dir = join(import.meta.dirname, "..", "examples")

describe("examples", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
    it(`${file} runs to completion`, async () => {
      await import(join(dir, file))
    })
  }
})
