import { afterEach, assert, describe, it } from "vitest"
import { createSmsClient, type SmsClient } from "smsforge"
import { Codes, Sandbox } from "smsforge/testing"
import { totpGenerate } from "../src/internal/otp.ts"

const UK = "+447400123456"
let client: SmsClient | undefined
afterEach(async () => {
  await client?.close()
  client = undefined
})

const rejection = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    return error as Error & { readonly _tag: string; readonly field?: string }
  }
  throw new Error("expected a rejection")
}

describe("createSmsClient", () => {
  it("sends and answers the receipt of the contract", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox], defaultCountry: "GB" })
    const receipt = await client.send({ to: "07400 123456", text: "Your order has shipped" })
    assert.include(receipt, { to: UK, status: "submitted", encoding: "GSM-7", segmentCount: 1, route: "sandbox", attempts: 1 })
    assert.strictEqual(sandbox.sent().length, 1)
    const stored = await client.get(receipt.id)
    assert.deepStrictEqual(stored.history.map((h) => h.status), ["accepted", "queued", "submitted"])
  })

  it("rejects with an Error whose _tag names the reason", async () => {
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    const error = await rejection(client.send({ to: "12", text: "hi" }))
    assert.instanceOf(error, Error)
    assert.strictEqual(error._tag, "InvalidPhoneNumber")
    assert.strictEqual(error.field, "to")
    const missing = await rejection(client.send({ to: UK, template: "nope" }))
    assert.strictEqual(missing._tag, "TemplateNotFound")
  })

  it("sendBatch answers one result per request, in order", async () => {
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    const results = await client.sendBatch([{ to: UK, text: "a" }, { to: "nope", text: "b" }])
    assert.strictEqual(results[0]?.ok, true)
    const second = results[1]
    assert.strictEqual(second?.ok === false ? second.error._tag : "", "InvalidPhoneNumber")
  })

  it("verifies a code sent through the sandbox", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox] })
    const started = await client.verify.start({ to: UK })
    assert.strictEqual(started.status, "pending")
    assert.notProperty(started, "code")
    const code = Codes.extract(sandbox.sent().at(-1)!.text)!
    const wrong = await client.verify.check({ to: UK, code: code === "000000" ? "111111" : "000000" })
    assert.strictEqual(wrong.status, "pending")
    const approved = await client.verify.check({ verificationId: started.verificationId, code })
    assert.strictEqual(approved.status, "approved")
  })

  it("STOP opts the sender out of marketing; the confirmation still goes", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox] })
    const result = await client.inbound({ from: UK, to: "ACME", text: " stop ", transport: "sandbox" })
    assert.strictEqual(result.action, "opt-out")
    assert.strictEqual(sandbox.sent().length, 1)
    const refused = await rejection(client.send({ to: UK, text: "Sale!", purpose: "marketing" }))
    assert.oneOf(refused._tag, ["OptedOut", "ConsentRequired"])
  })

  it("marketing goes after consent, and double opt-in confirms by reply", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox], defaultCountry: "GB" })
    const refused = await rejection(client.send({ to: UK, text: "Sale!", purpose: "marketing" }))
    assert.strictEqual(refused._tag, "ConsentRequired")
    await client.consent.grant({ to: "07400 123456", purpose: "marketing", source: "checkout", text: "Send me offers" })
    assert.strictEqual((await client.send({ to: UK, text: "Sale! Reply STOP to opt out", purpose: "marketing" })).status, "submitted")
    assert.isDefined((await client.consent.get(UK))?.purposes["marketing"])

    const other = "+447400123457"
    await client.consent.requestConfirmation({ to: other, purpose: "marketing", source: "web" })
    assert.strictEqual(sandbox.sent().at(-1)?.to, other)
    await rejection(client.send({ to: other, text: "Sale!", purpose: "marketing" }))
    const reply = await client.inbound({ from: other, to: "ACME", text: "YES", transport: "sandbox" })
    assert.strictEqual(reply.action, "confirm")
    assert.strictEqual((await client.send({ to: other, text: "Sale! Reply STOP to opt out", purpose: "marketing" })).status, "submitted")
  })

  it("covers authenticator apps with the same API", async () => {
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    const enrolled = await client.verify.totp.enroll({ subject: "user-1", label: "ada@example.com" })
    assert.match(enrolled.uri, /^otpauth:\/\/totp\//)
    const code = totpGenerate(enrolled.secret, Math.floor(Date.now() / 1000), 6, 30)
    assert.strictEqual((await client.verify.totp.check({ subject: "user-1", code })).status, "approved")
  })

  it("replaces routing rules at run time, refusing bad ones by field", async () => {
    const a = Sandbox.makeUnsafe({ name: "a" })
    const b = Sandbox.makeUnsafe({ name: "b" })
    client = createSmsClient({ transports: [a, b] })
    assert.strictEqual((await client.send({ to: UK, text: "one" })).transport, "a")
    await client.routing.setRules({ routes: [{ name: "only-b", transport: "b" }] })
    assert.strictEqual((await client.send({ to: UK, text: "two" })).transport, "b")
    const bad = await rejection(client.routing.setRules({ routes: [{ name: "x", transport: "zzz" }] }))
    assert.strictEqual(bad._tag, "InvalidRoutingRules")
    assert.strictEqual(bad.field, "routes[0].transport")
    assert.deepStrictEqual((await client.routing.routes()).map((r) => r.name), ["only-b"])
  })

  it("feeds delivery receipts in", async () => {
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    const receipt = await client.send({ to: UK, text: "hi" })
    const outcome = await client.deliveryReceipt({ providerMessageId: receipt.providerMessageId!, transport: "sandbox", status: "DELIVRD" })
    assert.strictEqual(outcome.outcome, "applied")
    assert.strictEqual((await client.get(receipt.id)).status, "delivered")
  })

  it("delivers events to subscribers without phone numbers", async () => {
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    const seen: Array<string> = []
    const unsubscribe = client.subscribe((event) => seen.push(JSON.stringify(event)))
    await new Promise((resolve) => setImmediate(resolve))
    await client.send({ to: UK, text: "hi" })
    await new Promise((resolve) => setImmediate(resolve))
    unsubscribe()
    assert.isAtLeast(seen.length, 3)
    assert.notInclude(seen.join(""), "7400123456")
  })

  it("refuses a config with a wrong key, naming it", () => {
    for (const [config, field] of [
      [{ transport: [] }, "transport"],
      [{ defaultCountry: "gb" }, "defaultCountry"],
      [{ maxSegments: 0 }, "maxSegments"],
      [{ transports: [42] }, "transports[0]"]
    ] as const) {
      try {
        createSmsClient(config as never)
        assert.fail("expected InvalidConfig")
      } catch (error) {
        assert.strictEqual((error as { _tag: string })._tag, "InvalidConfig")
        assert.strictEqual((error as { field: string }).field, field)
      }
    }
  })
})
