// Carrier balance queries against a local server that checks each request as
// the carrier's API documents it (path, method, authentication, signature).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import * as Crypto from "node:crypto"
import * as AliyunBalance from "../transports/aliyun/balance.ts"
import * as TencentBalance from "../transports/tencent/balance.ts"
import * as TwilioBalance from "../transports/twilio/balance.ts"
import * as VonageBalance from "../transports/vonage/balance.ts"
import { fakeCarrier, json, neverAnswers, type Seen } from "./transports/fakeCarrier.ts"

const carrier = fakeCarrier()

const ACCOUNT = "AC0123456789abcdef0123456789abcdef"
const TOKEN = "s3cr3t-auth-token-value"
const VONAGE_SECRET = "vonage-api-secret-value"
const ALIYUN_SECRET = "aliyun-access-key-secret-0123"
const TENCENT_KEY = "tencent-secret-key-0123456789abcdef"

const basic = (req: Seen) => Buffer.from(String(req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString("utf8")

/** The failure's reason tag and code, and the whole error as text (which must hold no secret). */
const failureOf = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (error) => {
    const reason = (error as { readonly reason?: { readonly _tag: string; readonly code?: string } }).reason
    const text = `${String(error)} ${JSON.stringify(error)}`
    return { tag: reason?._tag ?? (error as { readonly _tag: string })._tag, code: reason?.code, text }
  })

const amountOf = (money: AliyunBalance.Money) => [money.micros, money.currency] as const

describe("Twilio balance", () => {
  const config = () => ({ accountSid: ACCOUNT, authToken: Redacted.make(TOKEN), baseUrl: carrier.baseUrl })
  const api = (answer: () => [number, unknown]) => {
    carrier.handler = (req, res) => {
      if (req.method !== "GET" || req.pathname !== `/2010-04-01/Accounts/${ACCOUNT}/Balance.json`) return json(res, 404, { code: 20404 })
      if (basic(req) !== `${ACCOUNT}:${TOKEN}`) return json(res, 401, { code: 20003, message: "Authenticate" })
      const [status, body] = answer()
      json(res, status, body)
    }
  }

  it.effect("reads the balance string exactly", () =>
    Effect.gen(function*() {
      api(() => [200, { currency: "USD", balance: "0.0575", account_sid: ACCOUNT }])
      assert.deepStrictEqual(amountOf(yield* TwilioBalance.balance(config())), [57_500n, "USD"])
      api(() => [200, { currency: "usd", balance: "-12.34", account_sid: ACCOUNT }])
      assert.deepStrictEqual(amountOf(yield* TwilioBalance.balance(config())), [-12_340_000n, "USD"])
    }))

  it.effect("authenticates with an API key when one is given", () =>
    Effect.gen(function*() {
      carrier.handler = (req, res) =>
        basic(req) === "SK123:key-secret" ? json(res, 200, { currency: "EUR", balance: "5" }) : json(res, 401, { code: 20003 })
      const money = yield* TwilioBalance.balance({ ...config(), apiKey: { sid: "SK123", secret: "key-secret" } })
      assert.deepStrictEqual(amountOf(money), [5_000_000n, "EUR"])
    }))

  it.effect("classifies failures and never shows the token", () =>
    Effect.gen(function*() {
      const bad = yield* failureOf(TwilioBalance.balance({ ...config(), authToken: "wrong-token" }))
      assert.deepStrictEqual([bad.tag, bad.code], ["AuthenticationFailed", "20003"])
      assert.notInclude(bad.text, "wrong-token")
      api(() => [429, { code: 20429 }])
      assert.strictEqual((yield* failureOf(TwilioBalance.balance(config()))).tag, "Throttled")
      api(() => [503, {}])
      assert.strictEqual((yield* failureOf(TwilioBalance.balance(config()))).tag, "Unavailable")
      api(() => [200, { currency: "USD" }])
      const malformed = yield* failureOf(TwilioBalance.balance(config()))
      assert.deepStrictEqual([malformed.tag, malformed.code], ["Unavailable", "smsforge/MalformedAnswer"])
      const config404 = yield* failureOf(TwilioBalance.balance({ ...config(), accountSid: "" }))
      assert.strictEqual(config404.tag, "InvalidConfig")
    }))

  it.effect("times out on the transport's timeout, on the TestClock", () =>
    Effect.gen(function*() {
      const error = yield* neverAnswers(carrier, TwilioBalance.balance({ ...config(), timeout: "2 seconds" }), "2 seconds")
      assert.strictEqual(error._tag === "TransportError" && error.reason._tag, "Timeout")
    }))
})

describe("Vonage balance", () => {
  const config = () => ({ apiKey: "abcd1234", apiSecret: Redacted.make(VONAGE_SECRET), baseUrl: carrier.baseUrl })

  it.effect("reads the JSON number digit for digit, with Basic authentication", () =>
    Effect.gen(function*() {
      carrier.handler = (req, res) => {
        if (req.method !== "GET" || req.pathname !== "/account/get-balance") return json(res, 404, {})
        if (basic(req) !== `abcd1234:${VONAGE_SECRET}` || req.rawQuery !== "") return json(res, 401, {})
        res.writeHead(200, { "content-type": "application/json" }).end(`{"value": 10.28000000000000000001, "autoReload": false}`)
      }
      // read from the text, to the micro-unit: no double in between
      assert.deepStrictEqual(amountOf(yield* VonageBalance.balance(config())), [10_280_000n, "EUR"])
      carrier.handler = (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(`{"autoReload":true}`)
      const failed = yield* failureOf(VonageBalance.balance(config()))
      assert.strictEqual(failed.code, "smsforge/MalformedAnswer")
      carrier.handler = (_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(`{"value":3.14159,"autoReload":true}`)
      assert.deepStrictEqual(amountOf(yield* VonageBalance.balance(config())), [3_141_590n, "EUR"])
      carrier.handler = (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(`{"value":1.5E-3}`)
      assert.deepStrictEqual(amountOf(yield* VonageBalance.balance(config(), { currency: "GBP" })), [1_500n, "GBP"])
    }))

  it.effect("needs the API secret, and hides it in failures", () =>
    Effect.gen(function*() {
      const missing = yield* failureOf(VonageBalance.balance({ apiKey: "abcd1234", signatureSecret: "sig", baseUrl: carrier.baseUrl }))
      assert.deepStrictEqual([missing.tag, missing.text.includes("apiSecret")], ["InvalidConfig", true])
      carrier.handler = (_req, res) => json(res, 401, { type: "https://developer.nexmo.com/api-errors#unauthorized" })
      const denied = yield* failureOf(VonageBalance.balance(config()))
      assert.strictEqual(denied.tag, "AuthenticationFailed")
      assert.notInclude(denied.text, VONAGE_SECRET)
    }))
})

/** Independent server-side POP v1 check, written from Alibaba Cloud's signing guide. */
const popSignature = (secret: string, query: Map<string, string>) => {
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/\*/g, "%2A").replace(/!/g, "%21").replace(/'/g, "%27").replace(/\(/g, "%28").replace(/\)/g, "%29")
  const canonical = [...query.keys()].filter((k) => k !== "Signature").sort().map((k) => `${enc(k)}=${enc(query.get(k)!)}`).join("&")
  return Crypto.createHmac("sha1", `${secret}&`).update(`GET&${enc("/")}&${enc(canonical)}`).digest("base64")
}

describe("Alibaba Cloud balance", () => {
  const config = { accessKeyId: "LTAIkey", accessKeySecret: Redacted.make(ALIYUN_SECRET) }
  const options = () => ({ baseUrl: carrier.baseUrl })
  const bss = (answer: () => [number, unknown]) => {
    carrier.handler = (req, res) => {
      const q = req.query
      if (q.get("Action") !== "QueryAccountBalance" || q.get("Version") !== "2017-12-14") return json(res, 404, { Code: "InvalidAction" })
      if (q.get("Signature") !== popSignature(ALIYUN_SECRET, q)) return json(res, 400, { Code: "SignatureDoesNotMatch" })
      const [status, body] = answer()
      json(res, status, body)
    }
  }

  it.effect("reads AvailableAmount in the answered currency, from the signed billing API", () =>
    Effect.gen(function*() {
      bss(() => [200, { Code: "200", Success: true, Data: { AvailableAmount: "1,000.19", Currency: "CNY", AvailableCashAmount: "0.00" } }])
      assert.deepStrictEqual(amountOf(yield* AliyunBalance.balance(config, options())), [1_000_190_000n, "CNY"])
    }))

  it.effect("a key without billing permission is AuthenticationFailed; a bad signature too", () =>
    Effect.gen(function*() {
      bss(() => [400, { Code: "NotAuthorized", Message: "This API is not authorized for caller.", Success: false }])
      const denied = yield* failureOf(AliyunBalance.balance(config, options()))
      assert.deepStrictEqual([denied.tag, denied.code], ["AuthenticationFailed", "NotAuthorized"])
      const forged = yield* failureOf(AliyunBalance.balance({ ...config, accessKeySecret: "other-secret" }, options()))
      assert.deepStrictEqual([forged.tag, forged.code], ["AuthenticationFailed", "SignatureDoesNotMatch"])
      assert.notInclude(forged.text, "other-secret")
    }))
})

/** Independent server-side TC3 check for the billing service. */
const tc3 = (secretKey: string, req: Seen) => {
  const timestamp = Number(req.headers["x-tc-timestamp"])
  const date = new Date(timestamp * 1000).toISOString().slice(0, 10)
  const sha = (s: string) => Crypto.createHash("sha256").update(s).digest("hex")
  const canonical = `POST\n/\n\ncontent-type:${req.headers["content-type"]}\nhost:${req.headers.host}\n\ncontent-type;host\n${sha(req.raw)}`
  const toSign = `TC3-HMAC-SHA256\n${timestamp}\n${date}/billing/tc3_request\n${sha(canonical)}`
  let key: Buffer | string = `TC3${secretKey}`
  for (const part of [date, "billing", "tc3_request"]) key = Crypto.createHmac("sha256", key).update(part).digest()
  return Crypto.createHmac("sha256", key).update(toSign).digest("hex")
}

describe("Tencent Cloud balance", () => {
  const config = { secretId: "AKIDtest", secretKey: Redacted.make(TENCENT_KEY), sdkAppId: "1400006666" }
  const options = () => ({ baseUrl: carrier.baseUrl })
  const billing = (answer: () => [number, string]) => {
    carrier.handler = (req, res) => {
      if (req.headers["x-tc-action"] !== "DescribeAccountBalance" || req.headers["x-tc-version"] !== "2018-07-09") {
        return json(res, 200, { Response: { Error: { Code: "InvalidAction" } } })
      }
      if (!String(req.headers.authorization).endsWith(`Signature=${tc3(TENCENT_KEY, req)}`)) {
        return json(res, 200, { Response: { Error: { Code: "AuthFailure.SignatureFailure" } } })
      }
      const [status, body] = answer()
      res.writeHead(status, { "content-type": "application/json" }).end(body)
    }
  }

  it.effect("reads RealBalance in cents, exactly, in the account's currency", () =>
    Effect.gen(function*() {
      billing(() => [200, `{"Response":{"Balance":9647442,"Uin":1,"RealBalance":9647442.5000001,"CashAccountBalance":1299806668,"RequestId":"1"}}`])
      assert.deepStrictEqual(amountOf(yield* TencentBalance.balance(config, options())), [96_474_425_000n, "CNY"])
      billing(() => [200, `{"Response":{"Balance":12,"RequestId":"1"}}`])
      assert.deepStrictEqual(amountOf(yield* TencentBalance.balance(config, { ...options(), currency: "USD" })), [120_000n, "USD"])
    }))

  it.effect("classifies API errors and hides the key", () =>
    Effect.gen(function*() {
      billing(() => [200, `{"Response":{"Error":{"Code":"UnauthorizedOperation.NotFinanceAuth","Message":"no"},"RequestId":"1"}}`])
      const denied = yield* failureOf(TencentBalance.balance(config, options()))
      assert.strictEqual(denied.tag, "AuthenticationFailed")
      const forged = yield* failureOf(TencentBalance.balance({ ...config, secretKey: "other-key" }, options()))
      assert.deepStrictEqual([forged.tag, forged.code], ["AuthenticationFailed", "AuthFailure.SignatureFailure"])
      assert.notInclude(forged.text, "other-key")
      billing(() => [200, `{"Response":{"Error":{"Code":"RequestLimitExceeded"}}}`])
      assert.strictEqual((yield* failureOf(TencentBalance.balance(config, options()))).tag, "Throttled")
      billing(() => [200, `{"Response":{"RequestId":"1"}}`])
      assert.strictEqual((yield* failureOf(TencentBalance.balance(config, options()))).code, "smsforge/MalformedAnswer")
      const exit = yield* Effect.exit(TencentBalance.balance(config, { baseUrl: "not a url" }))
      assert.isTrue(Exit.isFailure(exit))
    }))
})
