import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Exit, Redacted } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import { Router, Transport } from "smsforge"
import { Sandbox, TransportConformance } from "smsforge/testing"
import * as Twilio from "../../transports/twilio/index.ts"
import { classify } from "../../transports/twilio/internal/classify.ts"
import { fakeCarrier, neverAnswers, type Handler, json } from "./fakeCarrier.ts"
import { getExpectedTwilioSignature, validateRequest } from "twilio/lib/webhooks/webhooks.js"

// A faithful local Twilio: checks each request as the REST API documents it.

const carrier = fakeCarrier()
const seen = carrier.seen

const ACCOUNT = "AC0123456789abcdef0123456789abcdef"
const TOKEN = "s3cr3t-auth-token-value"
const authToken = Redacted.make(TOKEN)

const submission = (overrides: Partial<Transport.Submission> = {}): Transport.Submission => ({
  to: "+447700900123",
  text: "Your code is 123456",
  segments: ["Your code is 123456"],
  encoding: "GSM-7",
  clientReference: "msg_1",
  purpose: "transactional",
  ...overrides
})

/** Twilio's documented success answer (trimmed). */
const created = (sid: string, to: string, body: string) => ({
  account_sid: ACCOUNT,
  api_version: "2010-04-01",
  body,
  date_created: "Thu, 24 Aug 2023 05:01:45 +0000",
  direction: "outbound-api",
  error_code: null,
  error_message: null,
  from: "+14155552345",
  num_segments: "1",
  price: null,
  sid,
  status: "queued",
  to,
  uri: `/2010-04-01/Accounts/${ACCOUNT}/Messages/${sid}.json`
})

const expectBasic = (headers: Http.IncomingHttpHeaders, user: string, password: string) => {
  const header = headers.authorization ?? ""
  assert.match(header, /^Basic /)
  assert.strictEqual(Buffer.from(header.slice(6), "base64").toString("utf8"), `${user}:${password}`)
}

const twilio = (overrides: Partial<Twilio.TwilioConfig> = {}) =>
  Twilio.make({ accountSid: ACCOUNT, authToken, from: "+14155552345", baseUrl: carrier.baseUrl, ...overrides })

describe("Twilio submit", () => {
  it.effect("posts the documented form to Messages.json with Basic auth", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (req, res) => {
        const form = new URLSearchParams(req.raw)
        json(res, 201, created("SM1234567890abcdef1234567890abcdef", form.get("To") ?? "", form.get("Body") ?? ""))
      }
      const transport = yield* twilio({ statusCallback: "https://example.com/twilio/status" })
      const result = yield* transport.submit(submission({ validUntil: 3_600_000 }))
      assert.strictEqual(result.providerMessageId, "SM1234567890abcdef1234567890abcdef")
      const req = seen[0]!
      assert.strictEqual(req.method, "POST")
      assert.strictEqual(req.path, `/2010-04-01/Accounts/${ACCOUNT}/Messages.json`)
      assert.strictEqual(req.headers["content-type"], "application/x-www-form-urlencoded")
      expectBasic(req.headers, ACCOUNT, TOKEN)
      assert.deepStrictEqual([...new URLSearchParams(req.raw)], [
        ["To", "+447700900123"],
        ["From", "+14155552345"],
        ["Body", "Your code is 123456"],
        ["StatusCallback", "https://example.com/twilio/status"],
        ["ValidityPeriod", "3600"]
      ])
    }))

  it.effect("sends UCS-2 text UTF-8 percent-encoded, API key auth and a messaging service", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 201, created("SMaaaa", "+8613800138000", "x"))
      const text = "Ваш код 123456 😀"
      const transport = yield* twilio({
        from: undefined,
        messagingServiceSid: "MG0123456789abcdef0123456789abcdef",
        apiKey: { sid: "SK0123456789abcdef0123456789abcdef", secret: Redacted.make("key-secret") }
      })
      yield* transport.submit(submission({ to: "+8613800138000", text, segments: [text], encoding: "UCS-2" }))
      const req = seen[0]!
      expectBasic(req.headers, "SK0123456789abcdef0123456789abcdef", "key-secret")
      assert.include(req.raw, "Body=%D0%92%D0%B0%D1%88+%D0%BA%D0%BE%D0%B4+123456+%F0%9F%98%80")
      const form = new URLSearchParams(req.raw)
      assert.strictEqual(form.get("Body"), text)
      assert.strictEqual(form.get("MessagingServiceSid"), "MG0123456789abcdef0123456789abcdef")
      assert.isNull(form.get("From"))
    }))

  it.effect("ValidityPeriod is clamped to Twilio's 36000 s; a passed validUntil is refused", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 201, created("SMv", "+447700900123", "x"))
      const transport = yield* twilio()
      yield* transport.submit(submission({ validUntil: 1_000_000 + 86_400_000 }))
      assert.strictEqual(new URLSearchParams(seen[0]!.raw).get("ValidityPeriod"), "36000")
      const expired = yield* Effect.flip(transport.submit(submission({ validUntil: 999_000 })))
      assert.strictEqual(expired.reason._tag, "Rejected")
      assert.strictEqual(seen.length, 1)
    }))

  it.effect("refuses a submission without any sender", () =>
    Effect.gen(function*() {
      const transport = yield* twilio({ from: undefined })
      const error = yield* Effect.flip(transport.submit(submission()))
      assert.strictEqual(error.reason._tag, "Rejected")
    }))

  // Documented Twilio error answers → our reasons.
  const cases: ReadonlyArray<[status: number, code: number | undefined, message: string, tag: Transport.TransportErrorReason["_tag"]]> = [
    [429, 20429, "Too Many Requests", "Throttled"],
    [400, 21211, "The 'To' number +1555 is not a valid phone number.", "InvalidNumber"],
    [400, 21614, "'To' number is not a valid mobile number", "InvalidNumber"],
    [400, 21610, "Attempt to send to unsubscribed recipient", "Blocked"],
    [401, 20003, "Authenticate", "AuthenticationFailed"],
    [401, 20005, "Account not active", "InsufficientFunds"],
    [400, 21606, "The 'From' phone number provided is not a valid message-capable Twilio phone number.", "Rejected"],
    [400, 21602, "Message body is required.", "Rejected"],
    [500, undefined, "Internal Server Error", "Unavailable"],
    [503, 20500, "Service Unavailable", "Unavailable"]
  ]
  for (const [status, code, message, tag] of cases) {
    it.effect(`HTTP ${status} / ${code ?? "-"} → ${tag}`, () =>
      Effect.gen(function*() {
        carrier.handler = (_req, res) =>
          json(res, status, { code: code ?? null, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, status === 429 ? { "retry-after": "7" } : {})
        const transport = yield* twilio()
        const error = yield* Effect.flip(transport.submit(submission()))
        assert.strictEqual(error._tag, "TransportError")
        assert.strictEqual(error.transport, "twilio")
        assert.strictEqual(error.reason._tag, tag)
        if (error.reason._tag === "Throttled") {
          assert.strictEqual(Duration.toMillis(error.reason.retryAfter!), 7000)
        }
      }))
  }

  it("classify table", () => {
    const table: ReadonlyArray<[number, number | undefined, string]> = [
      [429, undefined, "Throttled"],
      [400, 20429, "Throttled"],
      [400, 21211, "InvalidNumber"],
      [400, 21217, "InvalidNumber"],
      [400, 21612, "Rejected"],
      [400, 21614, "InvalidNumber"],
      [400, 21610, "Blocked"],
      [400, 21408, "Blocked"],
      [401, 20003, "AuthenticationFailed"],
      [403, undefined, "AuthenticationFailed"],
      [401, 20005, "InsufficientFunds"],
      [502, undefined, "Unavailable"],
      [400, 21602, "Rejected"],
      [404, 20404, "Rejected"]
    ]
    for (const [status, code, tag] of table) assert.strictEqual(classify(status, code, undefined)._tag, tag, `${status}/${code}`)
    assert.strictEqual(classify(400, 30000, undefined, "Insufficient funds in account")._tag, "InsufficientFunds")
    fc.assert(fc.property(fc.integer({ min: 500, max: 599 }), fc.option(fc.integer({ min: 30000, max: 39999 }), { nil: undefined }), (s, c) =>
      classify(s, c, undefined)._tag === "Unavailable"))
  })

  it.effect("never leaks the auth token into errors", () =>
    Effect.gen(function*() {
      carrier.handler = (_req, res) => json(res, 401, { code: 20003, message: "Authenticate", more_info: "https://www.twilio.com/docs/errors/20003", status: 401 })
      const transport = yield* twilio()
      const error = yield* Effect.flip(transport.submit(submission()))
      for (const rendered of [JSON.stringify(error), error.message, String(error), JSON.stringify(error.reason)]) {
        assert.notInclude(rendered, TOKEN)
        assert.notInclude(rendered, Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64"))
      }
      const unreachable = yield* Twilio.make({ accountSid: ACCOUNT, authToken, from: "+1", baseUrl: "http://127.0.0.1:1" })
      const network = yield* Effect.flip(unreachable.submit(submission()))
      assert.strictEqual(network.reason._tag, "Unavailable")
      assert.notInclude(JSON.stringify(network), TOKEN)
    }))

  it.effect("a carrier that never answers → Timeout", () =>
    Effect.gen(function*() {
      const transport = yield* twilio({ timeout: Duration.seconds(5) })
      const error = yield* neverAnswers(carrier, transport.submit(submission()), "5 seconds")
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.isTrue(error.isRetryable)
    }))
})

// Status callbacks: the signature is recomputed here as Twilio documents it.

const sign = (url: string, params: Record<string, string>) =>
  Crypto.createHmac("sha1", TOKEN)
    .update(url + Object.keys(params).sort().map((k) => k + params[k]).join(""))
    .digest("base64")

const callbackUrl = "https://example.com/twilio/status?tenant=acme"
const statusParams = (status: string, extra: Record<string, string> = {}) => ({
  AccountSid: ACCOUNT,
  ApiVersion: "2010-04-01",
  From: "+14155552345",
  MessageSid: "SM1234567890abcdef1234567890abcdef",
  MessageStatus: status,
  SmsSid: "SM1234567890abcdef1234567890abcdef",
  SmsStatus: status,
  To: "+447700900123",
  ...extra
})

describe("Twilio layerConfig", () => {
  it.effect("reads credentials from Config, the token as Redacted", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 201, created("SMcfg", "+447700900123", "x"))
      const config = {
        accountSid: Config.String("TWILIO_ACCOUNT_SID"),
        authToken: Config.Redacted("TWILIO_AUTH_TOKEN"),
        from: Config.String("TWILIO_FROM"),
        baseUrl: Config.succeed(carrier.baseUrl)
      }
      const result = yield* Effect.flatMap(Effect.service(Transport.Transport), (t) => t.submit(submission())).pipe(
        Effect.provide(Twilio.layerConfig(config)),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
          TWILIO_ACCOUNT_SID: ACCOUNT,
          TWILIO_AUTH_TOKEN: TOKEN,
          TWILIO_FROM: "+14155552345"
        })))
      )
      assert.strictEqual(result.providerMessageId, "SMcfg")
      expectBasic(seen[0]!.headers, ACCOUNT, TOKEN)
    }))
})

describe("Twilio webhooks", () => {
  const statuses: ReadonlyArray<[string, Record<string, string>, Transport.DeliveryStatus]> = [
    ["queued", {}, "enroute"],
    ["sending", {}, "enroute"],
    ["sent", {}, "enroute"],
    ["delivered", {}, "delivered"],
    ["undelivered", { ErrorCode: "30003" }, "undelivered"],
    ["undelivered", { ErrorCode: "30036" }, "expired"],
    ["failed", { ErrorCode: "30008" }, "failed"]
  ]
  for (const [status, extra, expected] of statuses) {
    it.effect(`MessageStatus ${status} ${extra["ErrorCode"] ?? ""} → ${expected}`, () =>
      Effect.gen(function*() {
        const transport = yield* twilio()
        const params = statusParams(status, extra)
        const report = yield* transport.parseStatusCallback({ url: callbackUrl, params, signature: sign(callbackUrl, params) })
        assert.strictEqual(report._tag, "DeliveryReport")
        assert.strictEqual(report.transport, "twilio")
        assert.strictEqual(report.providerMessageId, "SM1234567890abcdef1234567890abcdef")
        assert.strictEqual(report.status, expected)
        assert.strictEqual(report.providerStatus, status)
        assert.strictEqual(report.errorCode, extra["ErrorCode"])
      }))
  }

  it.effect("forged callbacks are rejected with a typed error", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const params = statusParams("delivered")
      const good = sign(callbackUrl, params)
      const forgeries = [
        { url: callbackUrl, params: { ...params, MessageStatus: "failed" }, signature: good }, // tampered
        { url: "https://evil.example/twilio/status?tenant=acme", params, signature: good }, // other URL
        { url: callbackUrl, params, signature: undefined }, // unsigned
        { url: callbackUrl, params, signature: Crypto.createHmac("sha1", "other-token").update("x").digest("base64") }
      ]
      for (const forged of forgeries) {
        const error = yield* Effect.flip(transport.parseStatusCallback(forged))
        assert.strictEqual(error._tag, "TwilioWebhookError")
        assert.strictEqual(error.reason._tag, "InvalidSignature")
        assert.notInclude(JSON.stringify(error) + error.message, TOKEN)
      }
    }))

  it.effect("a URL signed with or without the default port verifies", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const params = statusParams("delivered")
      const withPort = "https://example.com:443/twilio/status?tenant=acme"
      const report = yield* transport.parseStatusCallback({ url: callbackUrl, params, signature: sign(withPort, params) })
      assert.strictEqual(report.status, "delivered")
      yield* transport.parseStatusCallback({ url: withPort, params, signature: sign(callbackUrl, params) })
      const otherPort = yield* Effect.flip(
        transport.parseStatusCallback({ url: callbackUrl, params, signature: sign("https://example.com:8443/twilio/status?tenant=acme", params) })
      )
      assert.strictEqual(otherPort.reason._tag, "InvalidSignature")
    }))

  it.effect("an unknown status is a malformed webhook", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const params = statusParams("teleported")
      const error = yield* Effect.flip(transport.parseStatusCallback({ url: callbackUrl, params, signature: sign(callbackUrl, params) }))
      assert.strictEqual(error.reason._tag, "MalformedWebhook")
      assert.strictEqual(error.reason.field, "MessageStatus")
    }))

  it.effect("inbound messages", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const url = "https://example.com/twilio/inbound"
      const params = {
        AccountSid: ACCOUNT,
        Body: "STOP",
        From: "+447700900123",
        MessageSid: "SMabcdef",
        NumMedia: "0",
        NumSegments: "1",
        SmsMessageSid: "SMabcdef",
        To: "+14155552345"
      }
      const message = yield* transport.parseInbound({ url, params, signature: sign(url, params) })
      assert.deepStrictEqual(message, {
        _tag: "InboundMessage",
        transport: "twilio",
        from: "+447700900123",
        to: "+14155552345",
        text: "STOP",
        receivedAt: 0,
        providerMessageId: "SMabcdef"
      })
      const forged = yield* Effect.exit(transport.parseInbound({ url, params: { ...params, Body: "START" }, signature: sign(url, params) }))
      assert.isTrue(Exit.isFailure(forged))
    }))

  it("signatures verify for any parameters and break on any change", () => {
    const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,8}$/)
    fc.assert(fc.property(fc.dictionary(key, fc.string(), { minKeys: 1 }), (params) => {
      const signature = sign(callbackUrl, params)
      if (!Twilio.verifySignature(authToken, { url: callbackUrl, params, signature })) return false
      const k = Object.keys(params)[0]!
      return !Twilio.verifySignature(authToken, { url: callbackUrl, params: { ...params, [k]: params[k] + "x" }, signature })
    }))
  })
})

describe("Twilio conformance", () => {
  let n = 0
  const playCarrier: Handler = (req, res) => {
    const form = new URLSearchParams(req.raw)
    if (form.get("To") === "+15005550001") {
      return json(res, 400, { code: 21211, message: "The 'To' number is not a valid phone number.", more_info: "https://www.twilio.com/docs/errors/21211", status: 400 })
    }
    json(res, 201, created(`SM${(++n).toString(16).padStart(32, "0")}`, form.get("To") ?? "", form.get("Body") ?? ""))
  }
  const make = Effect.suspend(() => {
    carrier.handler = playCarrier
    return twilio()
  })
  for (const c of TransportConformance.suite({ make, recipient: "+447700900123", refusedRecipient: "+15005550001", secrets: [TOKEN] })) {
    it.effect(c.name, () => Effect.scoped(c.run))
  }
})

describe("Twilio properties", () => {
  it("any text reaches the server unchanged, in Body", async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }), async (text) => {
      let body: string | null = null
      carrier.handler = (req, res) => {
        body = new URLSearchParams(req.raw).get("Body")
        json(res, 201, created("SMprop", "+447700900123", "x"))
      }
      const transport = await Effect.runPromise(twilio())
      await Effect.runPromise(transport.submit(submission({ text, segments: [text], encoding: "UCS-2" })))
      return body === text
    }), { numRuns: 40 })
  })
})

describe("Twilio plain-string credentials", () => {
  const leaks = (value: unknown) => {
    const shown = `${JSON.stringify(value)} ${String(value)} ${value instanceof Error ? value.message : ""}`
    return shown.includes(TOKEN) || shown.includes("apikey-secret-value")
  }

  it.effect("a plain-string authToken sends, and never shows in the transport or its errors", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (req, res) => json(res, 201, created("SM1", new URLSearchParams(req.raw).get("To") ?? "", "x"))
      const transport = yield* twilio({ authToken: TOKEN })
      assert.strictEqual((yield* transport.submit(submission())).providerMessageId, "SM1")
      expectBasic(seen[0]!.headers, ACCOUNT, TOKEN)
      assert.isFalse(leaks(transport))
      carrier.handler = (_req, res) => json(res, 401, { code: 20003, message: "Authenticate", status: 401 })
      const error = yield* Effect.flip(transport.submit(submission()))
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
      assert.isFalse(leaks(error))
    }))

  it.effect("a plain-string API key secret authenticates", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (req, res) => json(res, 201, created("SM2", new URLSearchParams(req.raw).get("To") ?? "", "x"))
      const transport = yield* twilio({ authToken: TOKEN, apiKey: { sid: "SK123", secret: "apikey-secret-value" } })
      yield* transport.submit(submission())
      expectBasic(seen[0]!.headers, "SK123", "apikey-secret-value")
      assert.isFalse(leaks(transport))
    }))

  it.effect("a secret of the wrong type fails at make, naming the field", () =>
    Effect.gen(function*() {
      for (const [config, field] of [
        [{ authToken: 12345 }, "authToken"],
        [{ authToken: undefined }, "authToken"],
        [{ authToken: "" }, "authToken"],
        [{ authToken: Redacted.make("") }, "authToken"],
        [{ authToken: TOKEN, apiKey: { sid: "SK1", secret: 42 } }, "apiKey.secret"],
        [{ accountSid: undefined }, "accountSid"]
      ] as const) {
        const error = yield* Effect.flip(twilio(config as unknown as Partial<Twilio.TwilioConfig>))
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual(error.field, field)
        assert.isFalse(leaks(error))
      }
    }))

  it.effect("webhooks verify with a plain-string token", () =>
    Effect.gen(function*() {
      const url = "https://example.com/twilio/status"
      const params = { MessageSid: "SM1", MessageStatus: "delivered" }
      const signature = Twilio.computeSignature(TOKEN, url, params)
      assert.strictEqual(signature, Twilio.computeSignature(authToken, url, params))
      const hooks = Twilio.makeWebhooks({ authToken: TOKEN })
      const report = yield* hooks.parseStatusCallback({ url, params, signature })
      assert.strictEqual(report.status, "delivered")
    }))
})

// Issue 14, points 4, 5, 6 and 8: webhooks as Twilio really sends them, with
// the official `twilio` package as the reference signer and validator.
describe("Twilio webhooks against the official SDK", () => {
  const official = (url: string, params: Record<string, unknown> = {}) => getExpectedTwilioSignature(TOKEN, url, params)

  it.effect("any port: Twilio signs without it, and its validator tries both forms", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const params = statusParams("delivered")
      const cases: ReadonlyArray<[string, string]> = [
        // [URL the server saw, URL Twilio signed]
        ["https://example.com:8443/twilio/status?tenant=acme", "https://example.com/twilio/status?tenant=acme"],
        ["http://example.com:3000/twilio/status", "http://example.com/twilio/status"],
        ["https://example.com/twilio/status", "https://example.com:443/twilio/status"],
        ["https://example.com:443/twilio/status", "https://example.com/twilio/status"],
        ["https://user:pw@example.com:8443/twilio/status", "https://user:pw@example.com/twilio/status"],
        ["https://[2001:db8::1]:8443/twilio/status", "https://[2001:db8::1]/twilio/status"]
      ]
      for (const [seenUrl, signedUrl] of cases) {
        const signature = official(signedUrl, params)
        assert.isTrue(validateRequest(TOKEN, signature, seenUrl, params), `sdk ${seenUrl}`)
        const report = yield* transport.parseStatusCallback({ url: seenUrl, params, signature })
        assert.strictEqual(report.status, "delivered", seenUrl)
      }
      // a different port than the one called is still a different URL
      const other = official("https://example.com:9443/twilio/status", params)
      assert.isFalse(validateRequest(TOKEN, other, "https://example.com:8443/twilio/status", params))
      const refused = yield* Effect.flip(transport.parseStatusCallback({ url: "https://example.com:8443/twilio/status", params, signature: other }))
      assert.strictEqual(refused.reason._tag, "InvalidSignature")
    }))

  it.effect("GET webhooks: the URL alone is signed, the parameters come from its query", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const query = new URLSearchParams({ ...statusParams("delivered"), ErrorCode: "" }).toString()
      const url = `https://example.com:8443/twilio/status?${query}`
      const signature = official("https://example.com/twilio/status?" + query)
      assert.isTrue(validateRequest(TOKEN, signature, url, {}))
      const report = yield* transport.parseStatusCallback({ method: "GET", url, signature })
      assert.strictEqual(report.status, "delivered")
      assert.strictEqual(report.providerMessageId, "SM1234567890abcdef1234567890abcdef")
      // with the query parameters also handed over as params (as Express's req.query)
      yield* transport.parseStatusCallback({ method: "get", url, params: Object.fromEntries(new URLSearchParams(query)), signature })
      // a tampered query fails
      const tampered = yield* Effect.flip(
        transport.parseStatusCallback({ method: "GET", url: url.replace("MessageStatus=delivered", "MessageStatus=failed"), signature })
      )
      assert.strictEqual(tampered.reason._tag, "InvalidSignature")
      const inboundQuery = new URLSearchParams({ From: "+447700900123", To: "+14155552345", MessageSid: "SMabc", Body: "STOP" }).toString()
      const inboundUrl = `https://example.com/twilio/inbound?${inboundQuery}`
      const message = yield* transport.parseInbound({ method: "GET", url: inboundUrl, signature: official(inboundUrl) })
      assert.strictEqual(message.text, "STOP")
    }))

  it.effect("POST webhooks signed by the SDK, repeated parameters included", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const url = "https://example.com/twilio/inbound"
      const params = { From: "+447700900123", To: "+14155552345", MessageSid: "SMabc", Body: "héllo & = ☃", MediaUrl: ["b", "a", "a"] }
      const signature = official(url, params)
      assert.isTrue(Twilio.verifySignature(authToken, { url, params, signature }))
      assert.strictEqual(Twilio.computeSignature(authToken, url, params), signature)
      const message = yield* transport.parseInbound({ url, params, signature })
      assert.strictEqual(message.text, "héllo & = ☃")
    }))

  it.effect("partially_delivered is undelivered", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const params = statusParams("partially_delivered", { ErrorCode: "30003" })
      const report = yield* transport.parseStatusCallback({ url: callbackUrl, params, signature: official(callbackUrl, params) })
      assert.strictEqual(report.status, "undelivered")
      assert.strictEqual(report.providerStatus, "partially_delivered")
    }))

  it.effect("hostile bodies (bracket names, JSON values, null) are typed refusals", () =>
    Effect.gen(function*() {
      const transport = yield* twilio()
      const typed = (exit: Exit.Exit<unknown, Twilio.TwilioWebhookError>) =>
        Exit.isFailure(exit) && exit.cause.reasons.every((r) => r._tag === "Fail" && r.error._tag === "TwilioWebhookError")
      const fixed: ReadonlyArray<unknown> = [
        { url: callbackUrl, params: { ...statusParams("delivered"), MessageStatus: { a: "x" } }, signature: "x" }, // MessageStatus[a]=x, qs
        { url: callbackUrl, params: { ...statusParams("delivered"), NumSegments: 1 }, signature: "x" },
        { url: callbackUrl, params: { ...statusParams("delivered"), Body: null }, signature: "x" },
        { url: callbackUrl, params: { ...statusParams("delivered"), Flag: true }, signature: "x" },
        { url: callbackUrl, params: { ...statusParams("delivered"), MediaUrl: [1, 2] }, signature: "x" },
        { url: callbackUrl, params: null, signature: "x" },
        { url: callbackUrl, params: undefined, signature: "x" },
        { url: callbackUrl, params: "MessageStatus=delivered", signature: "x" },
        { url: 42, params: {}, signature: "x" },
        { url: callbackUrl, params: {}, signature: 7 },
        { method: "GET", url: "https://example.com/s?%zz=1&MessageSid=SM1", signature: "x" },
        null,
        undefined
      ]
      for (const webhook of fixed) {
        assert.isTrue(typed(yield* Effect.exit(transport.parseStatusCallback(webhook as never))), JSON.stringify(webhook))
        assert.isTrue(typed(yield* Effect.exit(transport.parseInbound(webhook as never))), JSON.stringify(webhook))
      }
      const malformed = yield* Effect.flip(transport.parseStatusCallback(fixed[0] as never))
      assert.strictEqual(malformed.reason._tag, "MalformedWebhook")
      const name = fc.oneof(fc.constantFrom("MessageStatus", "MessageSid", "From", "To", "Body", "MessageStatus[a]", "__proto__", "constructor"), fc.string())
      const value = fc.oneof(fc.string(), fc.array(fc.string()), fc.jsonValue(), fc.constant(undefined), fc.constant(null))
      const params = fc.oneof(fc.dictionary(name, value), fc.jsonValue(), fc.constant(undefined))
      const webhook = fc.record({
        method: fc.constantFrom(undefined, "POST", "GET"),
        url: fc.oneof(fc.constant(callbackUrl), fc.webUrl({ withQueryParameters: true }), fc.jsonValue()),
        params,
        signature: fc.oneof(fc.base64String(), fc.jsonValue(), fc.constant(undefined))
      })
      for (const hostile of fc.sample(webhook, 400)) {
        assert.isTrue(typed(yield* Effect.exit(transport.parseStatusCallback(hostile as never))), JSON.stringify(hostile))
        assert.isTrue(typed(yield* Effect.exit(transport.parseInbound(hostile as never))), JSON.stringify(hostile))
      }
    }))

  it("signature property: smsforge and the SDK agree on any string parameters", () => {
    const key = fc.string({ minLength: 1, maxLength: 12 })
    fc.assert(fc.property(fc.dictionary(key, fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 }))), fc.webUrl({ withQueryParameters: true }), (params, url) => {
      const signature = official(url, params)
      return Twilio.computeSignature(authToken, url, params) === signature && Twilio.verifySignature(authToken, { url, params, signature })
    }))
  })

  it("21612 (this pair cannot be connected now) lets failover try another route", () => {
    const reason = classify(400, 21612, undefined)
    assert.strictEqual(reason._tag, "Rejected")
    assert.isFalse(reason.isRetryable)
  })

  it.effect("a 2xx without a sid is an unknown outcome (Timeout), not a safe retry", () =>
    Effect.gen(function*() {
      carrier.handler = (_req, res) => json(res, 201, { status: "queued" })
      const transport = yield* twilio()
      const error = yield* Effect.flip(transport.submit(submission()))
      assert.strictEqual(error.reason._tag, "Timeout")
    }))
})

describe("Twilio refusals under the router", () => {
  const routeRequest = (id: string): Router.RouteRequest => ({
    messageId: id,
    to: { e164: "+447700900123", country: "GB" },
    purpose: "transactional",
    text: "Hello",
    segmentCount: 1,
    encoding: "GSM-7"
  })
  const dispatch = (router: Router.Router["Service"], id: string) =>
    Effect.exit(router.dispatch(routeRequest(id), submission({ clientReference: id, text: "Hello", segments: ["Hello"] })))

  it.live("21612 fails over to another carrier and leaves the route's circuit closed; 21211 stops failover", () =>
    Effect.scoped(Effect.gen(function*() {
      let code = 21612
      carrier.handler = (_req, res) =>
        json(res, 400, { code, message: "The 'To' phone number cannot be reached", more_info: `https://www.twilio.com/docs/errors/${code}`, status: 400 })
      const primary = yield* twilio()
      const backup = yield* Sandbox.make({ name: "backup" })
      const router = yield* Router.make({
        transports: [primary, backup],
        retry: { maxAttempts: 1 },
        circuitBreaker: { failures: 2, openDuration: "1 minute" }
      })
      for (const id of ["m1", "m2", "m3"]) {
        const exit = yield* dispatch(router, id)
        assert.isTrue(Exit.isSuccess(exit) && exit.value.route === "backup" && exit.value.decisions[0]!.route === "twilio", id)
      }
      assert.strictEqual((yield* router.routes).find((r) => r.name === "twilio")!.circuit, "Closed")
      code = 21211
      assert.isTrue(Exit.isFailure(yield* dispatch(router, "m4")))
    })))
})
