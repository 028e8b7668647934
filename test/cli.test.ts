import { Effect, Result } from "effect"
import { Sms } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { assert, describe, it } from "vitest"
import * as Carriers from "../cli/carriers.ts"
import * as Config from "../cli/config.ts"
import { parseCsv } from "../cli/csv.ts"
import * as Explain from "../cli/explain.ts"
import * as Instance from "../cli/instance.ts"
import * as Stores from "../cli/stores.ts"

describe("smsforge segments", () => {
  it("names the characters that forced UCS-2 and what smart encoding would save", () => {
    const out = Explain.segments("Don’t miss it — order SL123 ships today")
    assert.include(out, "encoding: UCS-2")
    assert.include(out, "U+2019")
    assert.include(out, "smart encoding would replace")
    assert.include(out, "GSM-7 in 1 segment")
  })

  it("lists each segment and the cost of a long GSM-7 text", () => {
    const out = Explain.segments("a".repeat(161))
    assert.include(out, "cost:     2 segments")
    assert.include(out, "[2] \"aaaaaaaa\"")
  })
})

describe("smsforge routes explain", () => {
  it("gives the candidates in order with the router's reasons", async () => {
    const transports = ["sandbox-eu", "sandbox-global"].map((name) => Sandbox.makeUnsafe({ name }))
    const layer = Sms.layer(Instance.pipelineConfig({}, transports))
    const uk = await Effect.runPromise(Explain.routes("+447400123456").pipe(Effect.provide(layer)))
    assert.match(uk, /→ 1\. eu-primary \(sandbox-eu\), cost 0\.04 USD \(0\.04 USD × 1, country price\)/)
    const cn = await Effect.runPromise(Explain.routes("+8613800138001").pipe(Effect.provide(layer)))
    assert.match(cn, /→ 1\. global/)
    assert.notInclude(cn, "eu-primary")
  })
})

describe("configuration", () => {
  it("decodes a valid file and names the key at fault otherwise", () => {
    assert.isTrue(Result.isSuccess(Config.decode({ console: { port: 8025, showNumbers: false }, defaultCountry: "GB" })))
    const wrongType = Config.decode({ console: { port: "eighty" } })
    assert.isTrue(Result.isFailure(wrongType) && wrongType.failure.key === "console.port")
    const typo = Config.decode({ consol: {} })
    assert.isTrue(Result.isFailure(typo) && typo.failure.key === "consol")
    const badHash = Config.decode({ apiKeys: [{ tenant: "acme", hash: "plain-key" }] })
    assert.isTrue(Result.isFailure(badHash) && badHash.failure.key === "apiKeys.0.hash")
    assert.notInclude(Result.isFailure(badHash) ? badHash.failure.message : "", "plain-key")
  })

  it("takes exact price rows, naming the row and field at fault", async () => {
    const prices = [{ route: "uk", country: "GB", price: "0.0400", currency: "GBP" }]
    assert.isTrue(Result.isSuccess(Config.decode({ pricing: { prices } })))
    for (const [row, key] of [
      [{ ...prices[0], price: "0.04000001" }, "pricing.prices.0.price"],
      [{ ...prices[0], price: 0.04 }, "pricing.prices.0.price"],
      [{ ...prices[0], currency: "gbp" }, "pricing.prices.0.currency"],
      [{ ...prices[0], country: "United Kingdom" }, "pricing.prices.0.country"],
      [{ ...prices[0], numberType: "cell" }, "pricing.prices.0.numberType"]
    ] as const) {
      const decoded = Config.decode({ pricing: { prices: [row] } })
      assert.isTrue(Result.isFailure(decoded) && decoded.failure.key === key, key)
    }
    // priced from the file: the route's exact cost is what routes explain prints
    const transports = [Sandbox.makeUnsafe({ name: "sandbox-eu" })]
    const config = Result.getOrThrow(Config.decode({
      routing: { routes: [{ name: "uk", transport: "sandbox-eu" }] },
      pricing: { prices: [{ route: "uk", country: "*", price: "0.035", currency: "EUR" }] }
    }))
    const layer = Sms.layer(Instance.pipelineConfig(config, transports))
    const explained = await Effect.runPromise(Explain.routes("+447400123456").pipe(Effect.provide(layer)))
    assert.match(explained, /→ 1\. uk \(sandbox-eu\), cost 0\.035 EUR \(0\.035 EUR × 1, default price\)/)
  })

  it("takes PostgreSQL or Redis stores, their URLs from the environment, naming the key at fault", async () => {
    assert.isTrue(Result.isSuccess(Config.decode({ stores: { postgres: { url: "env:DATABASE_URL", tablePrefix: "shop_" } } })))
    assert.isTrue(Result.isSuccess(Config.decode({ stores: { redis: { url: "redis://127.0.0.1:6379" } } })))
    const password = Config.decode({ stores: { postgres: { url: "postgres://app:s3cret@db/app" } } })
    assert.isTrue(Result.isFailure(password) && password.failure.key === "stores.postgres.url")
    assert.notInclude(Result.isFailure(password) ? password.failure.message : "", "s3cret")
    const both = Config.decode({ stores: { postgres: { url: "env:A" }, redis: { url: "env:B" } } })
    assert.isTrue(Result.isFailure(both) && both.failure.key === "stores" && both.failure.problem.includes("exactly one of postgres, redis"))
    const prefix = Config.decode({ stores: { postgres: { url: "env:A", tablePrefix: "drop table;" } } })
    assert.isTrue(Result.isFailure(prefix) && prefix.failure.key === "stores.postgres.tablePrefix")
    const missing = await Effect.runPromise(Effect.flip(Stores.resolve({ redis: { url: "env:SHOP_REDIS" } }, {})))
    assert.strictEqual(missing.message, "stores.redis.url: set the environment variable SHOP_REDIS")
    assert.strictEqual((await Effect.runPromise(Stores.resolve(undefined, {}))).backend, "memory")
    assert.strictEqual((await Effect.runPromise(Stores.resolve({ postgres: { url: "env:DB" } }, { DB: "postgres://127.0.0.1/x" }))).backend, "postgres")
  })

  it("imports a .ts config only where Node strips types", () => {
    assert.isTrue(Config.canImportTypeScript({ typescript: "strip" }, []))
    assert.isFalse(Config.canImportTypeScript({ typescript: false }, []))
    // Node 22.6–22.9 has no `features.typescript`; the flag tells.
    assert.isTrue(Config.canImportTypeScript({}, ["--experimental-strip-types"]))
    assert.isFalse(Config.canImportTypeScript({}, []))
  })

  it("hashes keys from SMSFORGE_API_KEYS as soon as it reads them", () => {
    const keys = Config.apiKeys({}, { SMSFORGE_API_KEYS: "acme:k1, shop:k2,broken" })
    assert.deepStrictEqual(keys.map((k) => k.tenant), ["acme", "shop"])
    assert.isTrue(keys.every((k) => k.hash.startsWith("sha256:") && !k.hash.includes("k1")))
  })
})

describe("send --csv", () => {
  it("reads quoted fields and template variables", () => {
    const rows = parseCsv("to,template,locale,order\n+447400123456,order-shipped,en,\"SL1,2\"\n+447400123457,order-customs,de,\"S\"\"L\"\n")
    assert.deepStrictEqual(rows[0], { to: "+447400123456", template: "order-shipped", locale: "en", variables: { order: "SL1,2" } })
    assert.deepStrictEqual(rows[1]!.variables, { order: "S\"L" })
  })
})

describe("smsforge dev", () => {
  it("serves the console and the API on loopback with the demo templates", async () => {
    const { handler } = Instance.build({ config: {}, dev: true, demo: false, apiKeys: [] })
    const server = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const { url } = yield* Instance.listen(handler.handler, "127.0.0.1", 0)
      const page = yield* Effect.promise(() => fetch(url).then((r) => r.text()))
      const sent = yield* Effect.promise(() =>
        fetch(`${url}messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${Instance.DEV_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ to: "+447400123401", template: "order-shipped", variables: { order: "SL1", carrier: "Royal Mail" } })
        }).then((r) => r.json() as Promise<Record<string, unknown>>)
      )
      return { url, page, sent }
    })))
    await handler.dispose()
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
    assert.include(server.page, "role=\"tablist\"")
    assert.strictEqual(server.sent.route, "eu-primary")
  })
})

describe("carriers from the config", () => {
  const twilio = { name: "twilio-uk", type: "twilio", accountSid: `AC${"0".repeat(32)}`, from: "ShopLane" } as const

  it("reads a carrier's secret from the environment, naming the variable when it is missing", async () => {
    const decoded = Config.decode({ transports: [twilio, { name: "sandbox", type: "sandbox" }] })
    assert.isTrue(Result.isSuccess(decoded))
    const missing = await Effect.runPromise(Effect.flip(Carriers.make(twilio, {})))
    assert.strictEqual(missing.message, "twilio-uk: set the environment variable TWILIO_AUTH_TOKEN")
    const vonage = await Effect.runPromise(Effect.flip(Carriers.make({ name: "v", type: "vonage", apiKey: "k" }, {})))
    assert.strictEqual(vonage.variable, "VONAGE_API_SECRET")
  })

  it("serves the carrier's signed webhook, refusing an unsigned one", async () => {
    const carrier = await Effect.runPromise(Carriers.make(twilio, { TWILIO_AUTH_TOKEN: "token-for-tests" }))
    const { handler } = Instance.build({ config: { transports: [twilio] }, dev: false, demo: false, apiKeys: [], carriers: { "twilio-uk": carrier } })
    const forged = await handler.handler(new Request("http://localhost/webhooks/twilio-uk", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "MessageSid=SM1&MessageStatus=delivered"
    }))
    await handler.dispose()
    assert.strictEqual(forged.status, 403)
    assert.notInclude(await forged.text(), "token-for-tests")
  })
})

describe("dev faults on demand", () => {
  it("fails a Sandbox carrier from the console, so messages fail over, then recovers it", async () => {
    const { handler } = Instance.build({ config: {}, dev: true, demo: false, apiKeys: [] })
    const send = () =>
      handler.handler(new Request("http://localhost/messages", {
        method: "POST",
        headers: { authorization: `Bearer ${Instance.DEV_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ to: "+447400123456", text: "Your parcel is on its way" })
      })).then((r) => r.json() as Promise<{ route: string }>)
    const page = await (await handler.handler(new Request("http://localhost/"))).text()
    assert.include(page, "data-carrier=\"sandbox-eu\" data-action=\"fail\"")
    assert.strictEqual((await handler.handler(new Request("http://localhost/console/faults/sandbox-eu/fail", { method: "POST" }))).status, 200)
    assert.strictEqual((await send()).route, "global")
    await handler.handler(new Request("http://localhost/console/faults/sandbox-eu/recover", { method: "POST" }))
    const unknown = await handler.handler(new Request("http://localhost/console/faults/nope/fail", { method: "POST" }))
    await handler.dispose()
    assert.strictEqual(unknown.status, 404)
  })
})
