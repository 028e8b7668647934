// The store back end example, run alone here so a failure names it (test/examples.test.ts runs it
// with the others): every `console.log(…) // => …` line must print, in order, as the consumer test
// will check against the packed package.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { format } from "node:util"
import { expect, it, vi } from "vitest"

const file = join(import.meta.dirname, "..", "examples", "store-backend.ts")

it("examples/store-backend.ts runs to completion and prints what its comments promise", async () => {
  const lines: Array<string> = []
  const log = vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
    lines.push(...format(...args).split("\n").map((l) => l.trim()))
  })
  try {
    await import(file)
  } finally {
    log.mockRestore()
  }
  const promised = readFileSync(file, "utf8").split("\n").flatMap((line) => {
    const m = /^\s*console\.log\(.*\)\s*\/\/ => (.*)$/.exec(line)
    return m ? [m[1]!.trim()] : []
  })
  expect(promised.length).toBeGreaterThan(5)
  let at = 0
  for (const line of promised) {
    const found = lines.indexOf(line, at)
    expect(found, `expected ${JSON.stringify(line)} in:\n${lines.join("\n")}`).not.toBe(-1)
    at = found + 1
  }
  // The notices themselves: one per stage, the retried shipment once, nothing after delivery.
  expect(lines).toContain("+4915123456789 Acme: Bestellung #5001 ist mit DHL unterwegs, Sendungsnummer 00340434161094042557.")
  expect(lines.filter((l) => l.includes("#5001 ist mit DHL"))).toHaveLength(1)
  expect(lines).toContain("+33612345678 Acme : la commande #6001 est en dédouanement.")
})
