// The store back end example, run alone here so a failure names it; test/examples.test.ts runs it with the others.
import { expect, it, vi } from "vitest"

it("examples/store-backend.ts runs to completion and sends the notices it promises", async () => {
  const lines: Array<string> = []
  const log = vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
    lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "))
  })
  try {
    await import("../examples/store-backend.ts")
  } finally {
    log.mockRestore()
  }
  expect(lines).toContain("+4915123456789 Acme: Bestellung #5001 ist mit DHL unterwegs, Sendungsnummer 00340434161094042557.")
  expect(lines).toContain("+33612345678 Acme : la commande #6001 est en dédouanement.")
  expect(lines.filter((l) => l.includes("#5001 ist mit DHL"))).toHaveLength(1)
  expect(lines.some((l) => l.startsWith("429 ") && l.includes("\"scope\":\"ip\""))).toBe(true)
  expect(lines).toContain("200 {\"ok\":true,\"outcome\":\"Stale\"}")
  expect(lines).toContain("401 {\"error\":\"InvalidSignature\",\"field\":\"X-Shopify-Hmac-Sha256\"}")
})
