import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Crypto from "node:crypto"
import { Router, Transport } from "smsforge"
import { Sandbox, TransportConformance } from "smsforge/testing"
import * as Vonage from "../../transports/vonage/index.ts"
import { classifyStatus } from "../../transports/vonage/internal/classify.ts"
import { SMS } from "@vonage/sms"
import { fakeCarrier, neverAnswers, type Handler, json } from "./fakeCarrier.ts"

// A faithful local Vonage SMS API.

const carrier = fakeCarrier()
const seen = carrier.seen

const API_KEY = "abcd1234"
const API_SECRET = "Vonage-api-secret-42"
const SIG_SECRET = "Vonage-signature-secret-99"

const submission = (overrides: Partial<Transport.Submission> = {}): Transport.Submission => ({
  to: "+447700900123",
  text: "Your code is 123456",
  segments: ["Your code is 123456"],
  encoding: "GSM-7",
  clientReference: "msg_1",
  purpose: "transactional",
  ...overrides
})

/** Vonage's documented success answer, one entry per part. */
const accepted = (ids: ReadonlyArray<string>) => ({
  "message-count": String(ids.length),
  messages: ids.map((id) => ({
    to: "447700900123",
    "message-id": id,
    status: "0",
    "remaining-balance": "3.14159265",
    "message-price": "0.03330000",
    network: "12345",
    "client-ref": "msg_1"
  }))
})
const refused = (status: string, text: string) => ({ "message-count": "1", messages: [{ status, "error-text": text }] })

/** Server-side signature, written from Vonage's signing guide. */
const vonageSig = (method: string, secret: string, params: Record<string, string>) => {
  const data = Object.keys(params).filter((k) => k !== "sig").sort()
    .map((k) => `&${k}=${params[k]!.replace(/&/g, "_").replace(/=/g, "_")}`).join("")
  return method === "md5hash"
    ? Crypto.createHash("md5").update(data + secret).digest("hex")
    : Crypto.createHmac(method, secret).update(data).digest("hex")
}

const vonage = (overrides: Partial<Vonage.VonageConfig> = {}) =>
  Vonage.make({ apiKey: API_KEY, apiSecret: Redacted.make(API_SECRET), from: "Acme", baseUrl: carrier.baseUrl, ...overrides })

describe("Vonage submit", () => {
  it.effect("posts the documented form to /sms/json", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 200, accepted(["0A0000000123ABCD1"]))
      const transport = yield* vonage({ callback: "https://example.com/vonage/dlr" })
      const result = yield* transport.submit(submission({ validUntil: 3_600_000 }))
      assert.deepStrictEqual(result, { providerMessageId: "0A0000000123ABCD1" })
      const req = seen[0]!
      assert.strictEqual(req.method, "POST")
      assert.strictEqual(req.path, "/sms/json")
      assert.strictEqual(req.headers["content-type"], "application/x-www-form-urlencoded")
      assert.deepStrictEqual(Object.fromEntries(new URLSearchParams(req.raw)), {
        api_key: API_KEY,
        api_secret: API_SECRET,
        from: "Acme",
        to: "447700900123",
        text: "Your code is 123456",
        type: "text",
        "client-ref": "msg_1",
        callback: "https://example.com/vonage/dlr",
        ttl: "3600000"
      })
    }))

  it.effect("UCS-2 goes out as type=unicode; multipart answers give one id per part", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 200, accepted(["0A01", "0A02"]))
      const text = "你好，您的验证码是 123456。".repeat(5)
      const transport = yield* vonage()
      const result = yield* transport.submit(submission({ to: "+8613800138000", text, segments: [text.slice(0, 67), text.slice(67)], encoding: "UCS-2" }))
      assert.deepStrictEqual(result, { providerMessageId: "0A01", segmentIds: ["0A01", "0A02"] })
      const form = new URLSearchParams(seen[0]!.raw)
      assert.strictEqual(form.get("type"), "unicode")
      assert.strictEqual(form.get("text"), text)
      assert.include(seen[0]!.raw, "text=%E4%BD%A0%E5%A5%BD")
    }))

  for (const method of ["md5hash", "md5", "sha1", "sha256", "sha512"] as const) {
    it.effect(`signed requests (${method}) carry timestamp + sig and no api_secret`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_700_000_000_000)
        seen.length = 0
        carrier.handler = (req, res) => {
          const params = Object.fromEntries(new URLSearchParams(req.raw))
          const ok = params["sig"] === vonageSig(method, SIG_SECRET, params) && params["timestamp"] === "1700000000"
          json(res, 200, ok ? accepted(["0B01"]) : refused("14", "Invalid Signature"))
        }
        const transport = yield* vonage({ apiSecret: undefined, signatureSecret: Redacted.make(SIG_SECRET), signatureMethod: method })
        const result = yield* transport.submit(submission({ text: "a&b=c" }))
        assert.strictEqual(result.providerMessageId, "0B01")
        const form = new URLSearchParams(seen[0]!.raw)
        assert.isNull(form.get("api_secret"))
        assert.notInclude(seen[0]!.raw, SIG_SECRET)
      }))
  }

  const cases: ReadonlyArray<[string, string, Transport.TransportErrorReason["_tag"]]> = [
    ["1", "Throughput Rate Exceeded - please wait [ 30 ] and retry", "Throttled"],
    ["2", "Missing to param", "Rejected"],
    ["3", "Invalid to address", "Rejected"],
    ["4", "Bad Credentials", "AuthenticationFailed"],
    ["5", "Internal Error", "Unavailable"],
    ["6", "Invalid Message", "Rejected"],
    ["7", "Number barred", "Blocked"],
    ["8", "Partner account barred", "AuthenticationFailed"],
    ["9", "Partner quota exceeded", "InsufficientFunds"],
    ["14", "Invalid Signature", "AuthenticationFailed"],
    ["15", "Illegal Sender Address - rejected", "Rejected"],
    ["29", "Non White-listed Destination - rejected", "Blocked"],
    ["33", "Number de-activated", "InvalidNumber"]
  ]
  for (const [status, text, tag] of cases) {
    it.effect(`status ${status} → ${tag}`, () =>
      Effect.gen(function*() {
        carrier.handler = (_req, res) => json(res, 200, refused(status, text))
        const transport = yield* vonage()
        const error = yield* Effect.flip(transport.submit(submission()))
        assert.strictEqual(error.transport, "vonage")
        assert.strictEqual(error.reason._tag, tag)
        assert.strictEqual(error.reason.code, status)
      }))
  }

  it.effect("ttl is clamped to Vonage's 20 s – 7 days window", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 200, accepted(["0T01"]))
      const transport = yield* vonage()
      yield* transport.submit(submission({ validUntil: 5_000 }))
      yield* transport.submit(submission({ validUntil: 30 * 86_400_000 }))
      assert.deepStrictEqual(seen.map((r) => new URLSearchParams(r.raw).get("ttl")), ["20000", "604800000"])
      const expired = yield* Effect.flip(transport.submit(submission({ validUntil: 500 })))
      assert.strictEqual(expired.reason._tag, "Rejected")
    }))

  it.effect("a failed part fails the message; HTTP errors without a body are classified", () =>
    Effect.gen(function*() {
      carrier.handler = (_req, res) => json(res, 200, { "message-count": "2", messages: [accepted(["0A01"]).messages[0], refused("1", "Throttled").messages[0]] })
      const transport = yield* vonage()
      assert.strictEqual((yield* Effect.flip(transport.submit(submission()))).reason._tag, "Throttled")
      carrier.handler = (_req, res) => res.writeHead(503).end("Service Unavailable")
      assert.strictEqual((yield* Effect.flip(transport.submit(submission()))).reason._tag, "Unavailable")
      carrier.handler = (_req, res) => res.writeHead(429, { "retry-after": "2" }).end()
      const throttled = yield* Effect.flip(transport.submit(submission()))
      assert.strictEqual(throttled.reason._tag, "Throttled")
      if (throttled.reason._tag === "Throttled") assert.strictEqual(Duration.toMillis(throttled.reason.retryAfter!), 2000)
      carrier.handler = (_req, res) => json(res, 401, { type: "https://developer.nexmo.com/api-errors#unauthorized", title: "Unauthorized" })
      assert.strictEqual((yield* Effect.flip(transport.submit(submission()))).reason._tag, "AuthenticationFailed")
    }))

  it("status table is total and stable", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 99 }), (n) => {
      const reason = classifyStatus(String(n))
      return reason.code === String(n)
    }))
  })

  it.effect("never leaks secrets into errors", () =>
    Effect.gen(function*() {
      carrier.handler = (_req, res) => json(res, 200, refused("4", "Bad Credentials"))
      const transport = yield* vonage()
      const error = yield* Effect.flip(transport.submit(submission()))
      for (const rendered of [JSON.stringify(error), error.message, String(error)]) assert.notInclude(rendered, API_SECRET)
      const down = yield* Vonage.make({ apiKey: API_KEY, apiSecret: Redacted.make(API_SECRET), from: "Acme", baseUrl: "http://127.0.0.1:1" })
      const network = yield* Effect.flip(down.submit(submission()))
      assert.strictEqual(network.reason._tag, "Unavailable")
      assert.notInclude(JSON.stringify(network) + network.message, API_SECRET)
    }))

  it.effect("a carrier that never answers → Timeout", () =>
    Effect.gen(function*() {
      const transport = yield* vonage({ timeout: Duration.seconds(5) })
      const error = yield* neverAnswers(carrier, transport.submit(submission()), "5 seconds")
      assert.strictEqual(error.reason._tag, "Timeout")
    }))
})

describe("Vonage webhooks", () => {
  const dlr = (status: string, errCode: string) => ({
    msisdn: "447700900123",
    to: "Acme",
    "network-code": "23410",
    messageId: "0A0000000123ABCD1",
    price: "0.03330000",
    status,
    scts: "2001011400",
    "err-code": errCode,
    "api-key": API_KEY,
    "client-ref": "msg_1",
    "message-timestamp": "2020-01-01 12:00:00"
  })

  const statuses: ReadonlyArray<[string, string, Transport.DeliveryStatus]> = [
    ["delivered", "0", "delivered"],
    ["expired", "1", "expired"],
    ["failed", "4", "failed"],
    ["rejected", "6", "rejected"],
    ["accepted", "0", "enroute"],
    ["buffered", "0", "enroute"],
    ["unknown", "1", "undelivered"]
  ]
  for (const [status, err, expected] of statuses) {
    it.effect(`unsigned receipt ${status} → ${expected}`, () =>
      Effect.gen(function*() {
        const transport = yield* vonage()
        const report = yield* transport.parseDeliveryReceipt(dlr(status, err))
        assert.deepStrictEqual(report, {
          _tag: "DeliveryReport",
          transport: "vonage",
          providerMessageId: "0A0000000123ABCD1",
          status: expected,
          providerStatus: status,
          at: Date.UTC(2020, 0, 1, 12, 0, 0),
          errorCode: err
        })
      }))
  }

  it.effect("signed receipts are verified; forged, unsigned and stale ones refused", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const transport = yield* vonage({ signatureSecret: Redacted.make(SIG_SECRET), signatureMethod: "sha256" })
      const params: Record<string, string> = { ...dlr("delivered", "0"), timestamp: "1700000000", nonce: "6d1f5e9a" }
      const signed = { ...params, sig: vonageSig("sha256", SIG_SECRET, params) }
      const report = yield* transport.parseDeliveryReceipt(signed)
      assert.strictEqual(report.status, "delivered")
      const reject = (input: unknown, field: string) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(transport.parseDeliveryReceipt(input))
          assert.strictEqual(error._tag, "VonageWebhookError")
          assert.strictEqual(error.reason._tag, "InvalidSignature")
          assert.strictEqual(error.reason.field, field)
          assert.notInclude(JSON.stringify(error) + error.message, SIG_SECRET)
        })
      yield* reject({ ...signed, status: "failed" }, "sig")
      yield* reject(params, "sig")
      yield* reject({ ...params, sig: vonageSig("sha256", "guess", params) }, "sig")
      const stale = { ...params, timestamp: String(1_700_000_000 - 24 * 3600 - 1) }
      yield* reject({ ...stale, sig: vonageSig("sha256", SIG_SECRET, stale) }, "timestamp")
      const bad = yield* Effect.flip(transport.parseDeliveryReceipt("not an object"))
      assert.strictEqual(bad.reason._tag, "MalformedWebhook")
    }))

  it.effect("inbound messages, concatenated parts included", () =>
    Effect.gen(function*() {
      const transport = yield* vonage()
      const message = yield* transport.parseInbound({
        "api-key": API_KEY,
        msisdn: "447700900123",
        to: "447700900000",
        messageId: "0A0000001234567B",
        text: "STOP",
        type: "text",
        keyword: "STOP",
        "message-timestamp": "2020-01-01 12:00:00",
        concat: "true",
        "concat-ref": "1",
        "concat-total": "2",
        "concat-part": "1"
      })
      assert.deepStrictEqual(message, {
        _tag: "InboundMessage",
        transport: "vonage",
        from: "+447700900123",
        to: "+447700900000",
        text: "STOP",
        receivedAt: Date.UTC(2020, 0, 1, 12, 0, 0),
        providerMessageId: "0A0000001234567B",
        part: { reference: 1, index: 1, count: 2 }
      })
      const missing = yield* Effect.flip(transport.parseInbound({ to: "447700900000", text: "hi" }))
      assert.strictEqual(missing.reason._tag, "MalformedWebhook")
    }))

  it("signature property: our signer agrees with the server-side one", () => {
    const key = fc.stringMatching(/^[a-z][a-z-]{0,8}$/)
    fc.assert(fc.property(fc.dictionary(key, fc.string()), fc.constantFrom("md5hash", "md5", "sha1", "sha256", "sha512" as const), (params, method) =>
      Vonage.computeSignature(Redacted.make(SIG_SECRET), params, method) === vonageSig(method, SIG_SECRET, params)))
  })
})

describe("Vonage conformance", () => {
  let n = 0
  const playCarrier: Handler = (req, res) => {
    const form = new URLSearchParams(req.raw)
    if (form.get("to") === "15005550001") return json(res, 200, refused("33", "Number de-activated"))
    const parts = Math.max(1, Math.ceil((form.get("text") ?? "").length / 153))
    json(res, 200, accepted(Array.from({ length: parts }, () => `0C${(++n).toString(16).padStart(14, "0")}`)))
  }
  const make = Effect.suspend(() => {
    carrier.handler = playCarrier
    return vonage()
  })
  for (const c of TransportConformance.suite({ make, recipient: "+447700900123", refusedRecipient: "+15005550001", secrets: [API_SECRET] })) {
    it.effect(c.name, () => Effect.scoped(c.run))
  }
})

describe("Vonage properties", () => {
  it("any text reaches the server unchanged and the server's signature check passes", async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }), async (text) => {
      let ok = false
      carrier.handler = (req, res) => {
        const params = Object.fromEntries(new URLSearchParams(req.raw))
        ok = params["text"] === text && params["sig"] === vonageSig("sha1", SIG_SECRET, params)
        json(res, 200, accepted(["0Dprop"]))
      }
      const transport = await Effect.runPromise(vonage({ apiSecret: undefined, signatureSecret: Redacted.make(SIG_SECRET), signatureMethod: "sha1" }))
      await Effect.runPromise(transport.submit(submission({ text, segments: [text], encoding: "UCS-2" })))
      return ok
    }), { numRuns: 40 })
  })
})

describe("Vonage plain-string credentials", () => {
  const leaks = (value: unknown) => {
    const shown = `${JSON.stringify(value)} ${String(value)} ${value instanceof Error ? value.message : ""}`
    return shown.includes(API_SECRET) || shown.includes(SIG_SECRET)
  }

  it.effect("a plain-string apiSecret sends, and never shows in the transport or its errors", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 200, accepted(["0C01"]))
      const transport = yield* vonage({ apiSecret: API_SECRET })
      assert.strictEqual((yield* transport.submit(submission())).providerMessageId, "0C01")
      assert.strictEqual(new URLSearchParams(seen[0]!.raw).get("api_secret"), API_SECRET)
      assert.isFalse(leaks(transport))
      carrier.handler = (_req, res) => json(res, 200, refused("4", "Bad Credentials"))
      assert.isFalse(leaks(yield* Effect.flip(transport.submit(submission()))))
    }))

  it.effect("a plain-string signatureSecret signs requests", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      seen.length = 0
      carrier.handler = (req, res) => {
        const params = Object.fromEntries(new URLSearchParams(req.raw))
        json(res, 200, params["sig"] === vonageSig("md5hash", SIG_SECRET, params) ? accepted(["0C02"]) : refused("14", "Invalid Signature"))
      }
      const transport = yield* vonage({ apiSecret: undefined, signatureSecret: SIG_SECRET })
      assert.strictEqual((yield* transport.submit(submission())).providerMessageId, "0C02")
      assert.isFalse(leaks(transport))
    }))

  it.effect("a secret of the wrong type, or none, fails at make naming the field", () =>
    Effect.gen(function*() {
      for (const [config, field] of [
        [{ apiSecret: 42 }, "apiSecret"],
        [{ signatureSecret: { secret: SIG_SECRET } }, "signatureSecret"],
        [{ apiSecret: undefined }, "apiSecret"],
        [{ apiKey: 7 }, "apiKey"]
      ] as const) {
        const error = yield* Effect.flip(vonage(config as unknown as Partial<Vonage.VonageConfig>))
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual(error.field, field)
        assert.isFalse(leaks(error))
      }
    }))

  it.effect("webhooks with an unusable signature secret refuse, never skip the check", () =>
    Effect.gen(function*() {
      const hooks = Vonage.makeWebhooks({ signatureSecret: 42 as unknown as string })
      const error = yield* Effect.flip(hooks.parseDeliveryReceipt({ messageId: "0A1", status: "delivered", sig: "00" }))
      assert.strictEqual(error.reason._tag, "InvalidSignature")
    }))
})

// Issue 14, points 7 and 8: retries over Vonage's real retry span, replays
// refused, account-level refusals counted against the route, and the official
// SDK (@vonage/sms's verifySignature) as the reference for signed webhooks.
describe("Vonage webhooks as Vonage sends them", () => {
  const sdk = new SMS({ apiKey: API_KEY, apiSecret: API_SECRET } as never)
  // @vonage/auth's AlgorithmTypes values (a transitive dependency, not imported)
  type Algorithm = Parameters<SMS["verifySignature"]>[3]
  const algorithms = {
    md5hash: "MD5HASH" as Algorithm,
    md5: "MD5HMAC" as Algorithm,
    sha1: "SHA1HMAC" as Algorithm,
    sha256: "SHA256HMAC" as Algorithm,
    sha512: "SHA512HMAC" as Algorithm
  } as const
  const NOW = 1_700_000_000
  const receipt = (timestamp: number, messageId = "0A0000000123ABCD1"): Record<string, string> => ({
    msisdn: "447700900123",
    to: "Acme",
    "network-code": "23410",
    messageId,
    price: "0.03330000",
    status: "delivered",
    scts: "2001011400",
    "err-code": "0",
    "api-key": API_KEY,
    "message-timestamp": "2023-11-14 22:13:20",
    timestamp: String(timestamp),
    nonce: "6d1f5e9a-1b2c"
  })
  const signed = (method: keyof typeof algorithms, params: Record<string, string>) => {
    const sig = Vonage.computeSignature(Redacted.make(SIG_SECRET), params, method)
    // the official SDK is the reference: it must accept what we sign
    assert.isTrue(sdk.verifySignature(sig, params, SIG_SECRET, algorithms[method]), method)
    return { ...params, sig }
  }

  it.effect("a retry signed 23 hours ago is accepted; one over 24 hours, or the window configured, is refused", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const transport = yield* vonage({ signatureSecret: SIG_SECRET, signatureMethod: "sha256" })
      const retried = yield* transport.parseDeliveryReceipt(signed("sha256", receipt(NOW - 23 * 3600)))
      assert.strictEqual(retried.status, "delivered")
      const tooOld = yield* Effect.flip(transport.parseDeliveryReceipt(signed("sha256", receipt(NOW - 24 * 3600 - 1, "B"))))
      assert.strictEqual(tooOld.reason._tag, "InvalidSignature")
      assert.strictEqual(tooOld.reason.field, "timestamp")
      const future = yield* Effect.flip(transport.parseDeliveryReceipt(signed("sha256", receipt(NOW + 3600, "C"))))
      assert.strictEqual(future.reason.field, "timestamp")
      const strict = yield* vonage({ signatureSecret: SIG_SECRET, signatureMethod: "sha256", webhookMaxAge: "10 minutes" })
      const outside = yield* Effect.flip(strict.parseDeliveryReceipt(signed("sha256", receipt(NOW - 3600, "D"))))
      assert.strictEqual(outside.reason.field, "timestamp")
    }))

  it.effect("a replay inside the window is refused with ReplayedWebhook; the memory is bounded", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const transport = yield* vonage({ signatureSecret: SIG_SECRET })
      const once = signed("md5hash", receipt(NOW - 60))
      yield* transport.parseDeliveryReceipt(once)
      const again = yield* Effect.flip(transport.parseDeliveryReceipt(once))
      assert.strictEqual(again.reason._tag, "ReplayedWebhook")
      // the same sig in upper case is the same webhook
      const upper = yield* Effect.flip(transport.parseDeliveryReceipt({ ...once, sig: once.sig.toUpperCase() }))
      assert.strictEqual(upper.reason._tag, "ReplayedWebhook")
      const inbound = signed("md5hash", { msisdn: "447700900123", to: "447700900000", messageId: "M1", text: "hi", type: "text", timestamp: String(NOW), nonce: "n1" })
      yield* transport.parseInbound(inbound)
      assert.strictEqual((yield* Effect.flip(transport.parseInbound(inbound))).reason._tag, "ReplayedWebhook")
      // bounded: with room for 2, the oldest is forgotten first
      const small = yield* vonage({ signatureSecret: SIG_SECRET, webhookReplayCapacity: 2 })
      const hooks = ["a", "b", "c"].map((id) => signed("md5hash", receipt(NOW - 60, id)))
      for (const hook of hooks) yield* small.parseDeliveryReceipt(hook)
      assert.strictEqual((yield* Effect.flip(small.parseDeliveryReceipt(hooks[2]!))).reason._tag, "ReplayedWebhook")
      yield* small.parseDeliveryReceipt(hooks[0]!)
      // an entry leaves once its webhook is too old anyway
      yield* TestClock.adjust("25 hours")
      const expired = yield* Effect.flip(transport.parseDeliveryReceipt(once))
      assert.strictEqual(expired.reason._tag, "InvalidSignature")
    }))

  it.effect("every signing method the SDK knows verifies both ways", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      for (const method of Object.keys(algorithms) as Array<keyof typeof algorithms>) {
        const transport = yield* vonage({ signatureSecret: SIG_SECRET, signatureMethod: method })
        const params = { ...receipt(NOW), text: "a&b=c" }
        const ours = signed(method, params)
        assert.strictEqual((yield* transport.parseDeliveryReceipt(ours)).status, "delivered")
        const tampered = yield* Effect.flip(transport.parseDeliveryReceipt({ ...ours, status: "failed" }))
        assert.strictEqual(tampered.reason._tag, "InvalidSignature")
        assert.isFalse(sdk.verifySignature(ours.sig, { ...params, status: "failed" }, SIG_SECRET, algorithms[method]))
      }
    }))

  it.effect("hostile bodies are typed refusals, never a defect", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const transport = yield* vonage({ signatureSecret: SIG_SECRET })
      const hostile = fc.oneof(
        fc.constant(null),
        fc.constant(undefined),
        fc.string(),
        fc.integer(),
        fc.array(fc.jsonValue()),
        fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("sig", "timestamp", "status", "messageId[a]")), fc.oneof(fc.jsonValue(), fc.constant(undefined)))
      )
      for (const input of fc.sample(hostile, 300)) {
        const exit1 = yield* Effect.exit(transport.parseDeliveryReceipt(input))
        const exit2 = yield* Effect.exit(transport.parseInbound(input))
        for (const exit of [exit1, exit2]) {
          assert.isTrue(exit._tag === "Failure" && exit.cause.reasons.every((r) => r._tag === "Fail"), JSON.stringify(input))
        }
      }
    }))

  it.effect("submit: account-level refusals count against the route; a 2xx without the answer is an unknown outcome", () =>
    Effect.gen(function*() {
      for (const code of ["8", "11", "32"]) assert.strictEqual(classifyStatus(code)._tag, "AuthenticationFailed", code)
      carrier.handler = (_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>gateway</html>")
      const transport = yield* vonage()
      const error = yield* Effect.flip(transport.submit(submission()))
      assert.strictEqual(error.reason._tag, "Timeout")
    }))
})

describe("Vonage refusals under the router", () => {
  const routeRequest = (id: string): Router.RouteRequest => ({
    messageId: id,
    to: { e164: "+447700900123", country: "GB" },
    purpose: "transactional",
    text: "Hello",
    segmentCount: 1,
    encoding: "GSM-7"
  })
  const dispatch = (router: Router.Router["Service"], id: string) =>
    router.dispatch(routeRequest(id), submission({ clientReference: id, text: "Hello", segments: ["Hello"] }))

  it.live("an account refusal (status 8) opens the route's circuit; the next message goes elsewhere first", () =>
    Effect.scoped(Effect.gen(function*() {
      carrier.handler = (_req, res) => json(res, 200, refused("8", "Partner account barred"))
      const primary = yield* vonage({ name: "vonage" })
      const backup = yield* Sandbox.make({ name: "backup" })
      const router = yield* Router.make({
        transports: [primary, backup],
        retry: { maxAttempts: 1 },
        circuitBreaker: { failures: 2, openDuration: "1 minute" }
      })
      for (const id of ["m1", "m2"]) assert.strictEqual((yield* dispatch(router, id)).route, "backup")
      const third = yield* dispatch(router, "m3")
      assert.deepStrictEqual(third.decisions.map((d) => [d.route, d.outcome]), [["vonage", "CircuitOpen"], ["backup", "submitted"]])
    })))
})
