import { assert, it } from "@effect/vitest"
import { Encoding } from "smsforge"

it("loads", () => {
  assert.strictEqual(Encoding.analyze("hi").text, "hi")
})
