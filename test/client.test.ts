import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PersistedQueue from "effect/persistence/PersistedQueue"
import { afterEach, assert, describe, it } from "vitest"
import { createSmsClient, Outbox, Sms, type SmsClient } from "smsforge"
import type { ListenerFailed } from "../src/client.ts"
import { Codes, Sandbox } from "smsforge/testing"
import { totpGenerate } from "../src/internal/verification/otp.ts"

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
  it("takes the stores and the Outbox as a layer: a durable Outbox answers queued when every route failed transiently", async () => {
    const sandbox = Sandbox.makeUnsafe()
    sandbox.controls.failAlways("Unavailable")
    const durable = Outbox.layerPersisted().pipe(Layer.provide(PersistedQueue.layer), Layer.provide(PersistedQueue.layerStoreMemory))
    const stores = Layer.merge(Sms.layerStoresMemory(), durable)
    client = createSmsClient({ transports: [sandbox], retry: { maxAttempts: 1 }, stores })
    const receipt = await client.send({ to: UK, text: "Out for delivery" })
    assert.strictEqual(receipt.status, "queued")
    assert.strictEqual((await client.get(receipt.id)).status, "queued")
  })

  it("a carrier that never answers times out by submitTimeout and the backup takes the message", async () => {
    const stuck = Sandbox.makeUnsafe({ name: "stuck", latency: "1 hour" })
    const backup = Sandbox.makeUnsafe({ name: "backup" })
    client = createSmsClient({ transports: [stuck, backup], retry: { maxAttempts: 1 }, submitTimeout: "50 millis" })
    const receipt = await client.send({ to: UK, text: "Your code is on its way" })
    assert.strictEqual(receipt.route, "backup")
    const error = await rejection(Promise.resolve().then(() => createSmsClient({ unknownOutcome: "maybe" as never })))
    assert.strictEqual(error.field, "unknownOutcome")
  })

  it("refuses stores that are not a layer, naming the key", async () => {
    const error = await rejection(Promise.resolve().then(() => createSmsClient({ stores: "postgres" as never })))
    assert.strictEqual(error._tag, "InvalidConfig")
    assert.strictEqual(error.field, "stores")
  })

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

  it("accepts and checks the audit option", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox], audit: { phoneNumbers: "redact", storeBodies: false, retention: "30 days" } })
    assert.strictEqual((await client.send({ to: UK, text: "hi" })).status, "submitted")
    for (const [audit, field] of [
      [{ phoneNumbers: "plain" }, "audit.phoneNumbers"],
      [{ retention: true }, "audit.retention"],
      [{ hashKey: "" }, "audit.hashKey"],
      [{ storeBody: false }, "audit.storeBody"]
    ] as const) {
      try {
        createSmsClient({ audit } as never)
        assert.fail("expected InvalidConfig")
      } catch (error) {
        assert.strictEqual((error as { _tag: string })._tag, "InvalidConfig")
        assert.strictEqual((error as { field: string }).field, field)
      }
    }
  })
})

// A getter or a Proxy that throws while a request is read.
const throwingGetter = { get to(): string {
  throw new Error("boom")
}, text: "hi" }
const throwingProxy = new Proxy({}, {
  get: () => {
    throw new Error("boom")
  },
  has: () => {
    throw new Error("boom")
  },
  ownKeys: () => {
    throw new Error("boom")
  },
  getOwnPropertyDescriptor: () => {
    throw new Error("boom")
  }
})

describe("misspelt keys are refused by name, never ignored", () => {
  it("verify.start, check, resend and cancel refuse an unknown key; nothing is sent", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox] })
    const typo = (await rejection(client.verify.start({ to: UK, chanel: "sms" } as never)))
    assert.include(typo, { _tag: "InvalidRequest", field: "chanel" })
    assert.strictEqual(sandbox.sent().length, 0)
    const started = await client.verify.start({ to: UK })
    assert.include(await rejection(client.verify.check({ verificationId: started.verificationId, cod: "123456" } as never)), {
      _tag: "InvalidRequest",
      field: "cod"
    })
    assert.include(await rejection(client.verify.resend({ verificationId: started.verificationId, locle: "de" } as never)), {
      _tag: "InvalidRequest",
      field: "locle"
    })
    const code = Codes.extract(sandbox.sent().at(-1)!.text)!
    assert.strictEqual((await client.verify.check({ verificationId: started.verificationId, code })).status, "approved")
  })

  it("a consent change with a misspelt purpose grants nothing", async () => {
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    const typo = await rejection(client.consent.grant({ to: UK, purpse: "transactional" } as never))
    assert.include(typo, { _tag: "InvalidRequest", field: "purpse" })
    assert.isUndefined(await client.consent.get(UK))
    assert.include(await rejection(client.consent.requestConfirmation({ to: UK, sorce: "web" } as never)), {
      _tag: "InvalidRequest",
      field: "sorce"
    })
    assert.include(await rejection(client.send({ to: UK, text: "20% off", purpose: "marketing" })), { _tag: "ConsentRequired" })
  })
})

describe("sendBatch and untrusted requests", () => {
  it("refuses anything but an array as InvalidRequest on requests, sending nothing", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox] })
    for (const requests of [null, undefined, 42, {}, "hi", { length: 1, 0: { to: UK, text: "hi" } }]) {
      const error = await rejection(client.sendBatch(requests as never))
      assert.instanceOf(error, Error)
      assert.strictEqual(error._tag, "InvalidRequest")
      assert.strictEqual(error.field, "requests")
    }
    assert.strictEqual(sandbox.sent().length, 0)
  })

  it("a request that throws while read fails only its own item", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox] })
    const results = await client.sendBatch([throwingGetter, { to: UK, text: "fine" }, throwingProxy] as never)
    assert.deepStrictEqual(results.map((r) => r.ok), [false, true, false])
    for (const result of [results[0], results[2]]) {
      assert.strictEqual(result?.ok === false ? result.error._tag : "", "InvalidRequest")
    }
    assert.strictEqual(sandbox.sent().length, 1)
    const error = await rejection(client.send(throwingProxy as never))
    assert.strictEqual(error._tag, "InvalidRequest")
    assert.strictEqual(error.field, "request")
  })

  it("the Effect API refuses the same, typed, never a defect", async () => {
    const sandbox = Sandbox.makeUnsafe()
    const program = Effect.gen(function*() {
      const sms = yield* Sms.Sms
      const notArray = yield* Effect.flip(sms.sendBatch("hi" as never))
      const results = yield* sms.sendBatch([throwingProxy, { to: UK, text: "fine" }, throwingGetter])
      const single = yield* Effect.flip(sms.send(throwingGetter))
      return { notArray, results, single }
    }).pipe(Effect.provide(Sms.layer({ transports: [sandbox] })))
    const { notArray, results, single } = await Effect.runPromise(program)
    assert.strictEqual(notArray.reason._tag, "InvalidRequest")
    assert.strictEqual((notArray.reason as { field?: string }).field, "requests")
    assert.deepStrictEqual(results.map((r) => r.ok ? "ok" : r.error.reason._tag), ["InvalidRequest", "ok", "InvalidRequest"])
    assert.strictEqual(single.reason._tag, "InvalidRequest")
    assert.strictEqual(sandbox.sent().length, 1)
  })
})

describe("the client's lifecycle", () => {
  it("after close() every method rejects with ClientClosed; close() twice is fine", async () => {
    const closing = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    await closing.send({ to: UK, text: "hi" })
    await closing.close()
    await closing.close()
    const calls: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
      ["send", () => closing.send({ to: UK, text: "hi" })],
      ["sendBatch", () => closing.sendBatch([{ to: UK, text: "hi" }])],
      ["get", () => closing.get("msg_1")],
      ["cancel", () => closing.cancel("msg_1")],
      ["verify.start", () => closing.verify.start({ to: UK })],
      ["verify.check", () => closing.verify.check({ to: UK, code: "123456" })],
      ["verify.totp.enroll", () => closing.verify.totp.enroll({ subject: "s" })],
      ["routing.routes", () => closing.routing.routes()],
      ["consent.get", () => closing.consent.get(UK)],
      ["inbound", () => closing.inbound({ from: UK, to: "ACME", text: "STOP", transport: "sandbox" })],
      ["deliveryReceipt", () => closing.deliveryReceipt({ providerMessageId: "p", transport: "sandbox", status: "DELIVRD" })],
      ["deadLetters", () => closing.deadLetters()],
      ["prometheus", () => closing.prometheus()],
      ["ready", () => closing.ready()]
    ]
    for (const [method, call] of calls) {
      const error = await rejection(call())
      assert.instanceOf(error, Error)
      assert.strictEqual(error._tag, "ClientClosed")
      assert.strictEqual((error as unknown as { method: string }).method, method)
      assert.notInclude(error.message, "7400123456")
    }
    try {
      closing.subscribe(() => undefined)
      assert.fail("expected ClientClosed")
    } catch (error) {
      assert.strictEqual((error as { _tag: string })._tag, "ClientClosed")
    }
  })

  it("closes with await using", async () => {
    let outside: SmsClient | undefined
    {
      await using scoped = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
      outside = scoped
      assert.strictEqual((await scoped.send({ to: UK, text: "hi" })).status, "submitted")
    }
    assert.strictEqual((await rejection(outside.send({ to: UK, text: "hi" })))._tag, "ClientClosed")
  })

  it("ready() builds the pipeline, and rejects typed when it cannot be built", async () => {
    const sandbox = Sandbox.makeUnsafe()
    client = createSmsClient({ transports: [sandbox] })
    await client.ready()
    await client.ready()
    assert.strictEqual((await client.send({ to: UK, text: "hi" })).status, "submitted")
    const broken = createSmsClient({ transports: [Sandbox.makeUnsafe({ name: "a" }), Sandbox.makeUnsafe({ name: "a" })] })
    const error = await rejection(broken.ready())
    assert.instanceOf(error, Error)
    assert.strictEqual(error._tag, "InvalidRoutingRules")
    await broken.close()
  })

  it("a listener that throws stays subscribed; each throw is a ListenerFailed for onError", async () => {
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    await client.ready()
    const seen: Array<string> = []
    const failures: Array<ListenerFailed> = []
    const unsubscribe = client.subscribe((event) => {
      seen.push(event._tag)
      throw new Error("listener bug")
    }, { onError: (failure) => failures.push(failure) })
    await new Promise((resolve) => setImmediate(resolve))
    await client.send({ to: UK, text: "one" })
    await new Promise((resolve) => setImmediate(resolve))
    await client.send({ to: UK, text: "two" })
    await new Promise((resolve) => setImmediate(resolve))
    unsubscribe()
    assert.isAtLeast(seen.length, 6)
    assert.strictEqual(failures.length, seen.length)
    assert.strictEqual(failures[0]?._tag, "ListenerFailed")
    assert.strictEqual(failures[0]?.event, "StatusChanged")
    assert.strictEqual((failures[0]?.cause as Error).message, "listener bug")
  })
})
