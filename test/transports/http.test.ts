import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import fc from "fast-check"
import { Transport } from "smsforge"
import { TransportConformance } from "smsforge/testing"
import * as HttpTransport from "../../transports/http/index.ts"
import { classify, setPath } from "../../transports/http/internal/mapping.ts"
import { fakeCarrier, neverAnswers, type Handler, json } from "./fakeCarrier.ts"

const carrier = fakeCarrier()
const seen = carrier.seen

const TOKEN = "gw-bearer-token-7f3a"
const submission = (overrides: Partial<Transport.Submission> = {}): Transport.Submission => ({
  to: "+447700900123",
  from: "Acme",
  text: "Привет",
  segments: ["Привет"],
  encoding: "UCS-2",
  clientReference: "msg_1",
  purpose: "marketing",
  ...overrides
})

// A fictional JSON gateway: POST /v1/messages, Bearer auth.
const jsonGateway = (overrides: Partial<HttpTransport.HttpTransportConfig> = {}) =>
  HttpTransport.make({
    name: "textly",
    url: `${carrier.baseUrl}/v1/messages`,
    auth: { type: "bearer", token: Redacted.make(TOKEN) },
    headers: { "x-api-version": "2024-01" },
    fields: {
      "message.to": "to",
      "message.from": "from",
      "message.body": "text",
      "message.unicode": { field: "encoding", map: { "GSM-7": false, "UCS-2": true } },
      reference: "clientReference",
      channel: { value: "sms" }
    },
    response: { messageId: "data.id", segmentIds: "data.parts", code: "error.code" },
    errors: { byCode: { invalid_number: "InvalidNumber", opted_out: "Blocked", no_credit: "InsufficientFunds" } },
    ...overrides
  })

describe("HttpTransport", () => {
  it.effect("builds the mapped JSON request and reads the id by path", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (req, res) => {
        if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(res, 401, { error: { code: "unauthorized" } })
        json(res, 201, { data: { id: "txt_42", parts: ["txt_42_1", "txt_42_2"] } })
      }
      const transport = yield* jsonGateway()
      assert.strictEqual(transport.name, "textly")
      assert.isFalse(transport.capabilities.deliveryReceipts)
      const result = yield* transport.submit(submission())
      assert.deepStrictEqual(result, { providerMessageId: "txt_42", segmentIds: ["txt_42_1", "txt_42_2"] })
      const req = seen[0]!
      assert.strictEqual(req.method, "POST")
      assert.strictEqual(req.path, "/v1/messages")
      assert.strictEqual(req.headers["content-type"], "application/json")
      assert.strictEqual(req.headers["x-api-version"], "2024-01")
      assert.deepStrictEqual(JSON.parse(req.raw), {
        message: { to: "+447700900123", from: "Acme", body: "Привет", unicode: true },
        reference: "msg_1",
        channel: "sms"
      })
    }))

  it.effect("form and query bodies, basic auth, redacted constants", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 200, { result: { status: "0", msgid: 9001 } })
      const form = yield* HttpTransport.make({
        name: "formgw",
        url: `${carrier.baseUrl}/send`,
        body: "form",
        auth: { type: "basic", username: "acme", password: Redacted.make("pw-123") },
        fields: { dst: "toDigits", txt: "text", key: { value: Redacted.make("const-secret") }, vars: "templateVariables" },
        response: { messageId: "result.msgid", code: "result.status", successCodes: ["0"] }
      })
      const result = yield* form.submit(submission({ template: { id: "t", version: 1, variables: { code: 1234 } } }))
      assert.strictEqual(result.providerMessageId, "9001")
      assert.strictEqual(seen[0]!.headers["content-type"], "application/x-www-form-urlencoded")
      assert.strictEqual(seen[0]!.headers.authorization, `Basic ${Buffer.from("acme:pw-123").toString("base64")}`)
      assert.deepStrictEqual(Object.fromEntries(new URLSearchParams(seen[0]!.raw)), {
        dst: "447700900123",
        txt: "Привет",
        key: "const-secret",
        vars: "{\"code\":1234}"
      })
      const get = yield* HttpTransport.make({
        name: "getgw",
        method: "GET",
        url: `${carrier.baseUrl}/api/sms?user=acme`,
        fields: { to: "to", text: "text" },
        response: { messageId: "result.msgid", code: "result.status", successCodes: ["0"] }
      })
      yield* get.submit(submission())
      assert.strictEqual(seen[1]!.method, "GET")
      assert.strictEqual(seen[1]!.path, "/api/sms?user=acme&to=%2B447700900123&text=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82")
      // a 200 answer with a non-success code is a failure
      carrier.handler = (_req, res) => json(res, 200, { result: { status: "7" } })
      const refused = yield* Effect.flip(get.submit(submission()))
      assert.strictEqual(refused.reason._tag, "Rejected")
      assert.strictEqual(refused.reason.code, "7")
    }))

  const cases: ReadonlyArray<[number, unknown, Transport.TransportErrorReason["_tag"]]> = [
    [400, { error: { code: "invalid_number" } }, "InvalidNumber"],
    [403, { error: { code: "opted_out" } }, "Blocked"],
    [402, { error: { code: "no_credit" } }, "InsufficientFunds"],
    [401, { error: { code: "unauthorized" } }, "AuthenticationFailed"],
    [429, { error: { code: "slow_down" } }, "Throttled"],
    [422, { error: { code: "bad_sender" } }, "Rejected"],
    [502, "<html>Bad Gateway</html>", "Unavailable"],
    [201, { data: {} }, "Unavailable"]
  ]
  for (const [status, body, tag] of cases) {
    it.effect(`HTTP ${status} ${JSON.stringify(body)} → ${tag}`, () =>
      Effect.gen(function*() {
        carrier.handler = (_req, res) => json(res, status, body, status === 429 ? { "retry-after": "3" } : {})
        const error = yield* Effect.flip((yield* jsonGateway()).submit(submission()))
        assert.strictEqual(error.transport, "textly")
        assert.strictEqual(error.reason._tag, tag)
        if (error.reason._tag === "Throttled") assert.strictEqual(Duration.toMillis(error.reason.retryAfter!), 3000)
      }))
  }

  it.effect("status tables override the defaults", () =>
    Effect.gen(function*() {
      carrier.handler = (_req, res) => json(res, 409, {})
      const transport = yield* jsonGateway({ errors: { byStatus: { "409": "Throttled", "4xx": "Blocked" } } })
      assert.strictEqual((yield* Effect.flip(transport.submit(submission()))).reason._tag, "Throttled")
      carrier.handler = (_req, res) => json(res, 410, {})
      assert.strictEqual((yield* Effect.flip(transport.submit(submission()))).reason._tag, "Blocked")
    }))

  it("classify: code table wins, then exact status, then class, then default", () => {
    fc.assert(fc.property(fc.integer({ min: 200, max: 599 }), fc.option(fc.string(), { nil: undefined }), (status, code) => {
      const tag = classify(status, code, {})
      if (status === 429) return tag === "Throttled"
      if (status >= 500) return tag === "Unavailable"
      return tag !== "Unavailable" || false
    }))
    assert.strictEqual(classify(500, "x", { byCode: { x: "Blocked" } }), "Blocked")
    assert.strictEqual(classify(503, "y", { byStatus: { "5xx": "Throttled" } }), "Throttled")
  })

  it("setPath nests dotted names", () => {
    const target: Record<string, unknown> = {}
    setPath(target, "a.b.c", 1)
    setPath(target, "a.d", 2)
    setPath(target, "e", 3)
    assert.deepStrictEqual(target, { a: { b: { c: 1 }, d: 2 }, e: 3 })
  })

  it.effect("never leaks secrets into errors", () =>
    Effect.gen(function*() {
      carrier.handler = (_req, res) => json(res, 401, { error: { code: "unauthorized" } })
      const error = yield* Effect.flip((yield* jsonGateway()).submit(submission()))
      for (const rendered of [JSON.stringify(error), error.message, String(error)]) assert.notInclude(rendered, TOKEN)
      const down = yield* jsonGateway({ url: "http://127.0.0.1:1/v1/messages" })
      const network = yield* Effect.flip(down.submit(submission()))
      assert.strictEqual(network.reason._tag, "Unavailable")
      assert.notInclude(JSON.stringify(network) + network.message, TOKEN)
    }))

  it.effect("a gateway that never answers → Timeout", () =>
    Effect.gen(function*() {
      const transport = yield* jsonGateway({ timeout: Duration.seconds(5) })
      const error = yield* neverAnswers(carrier, transport.submit(submission()), "5 seconds")
      assert.strictEqual(error.reason._tag, "Timeout")
    }))

  it.effect("layer provides the Transport service", () =>
    Effect.gen(function*() {
      carrier.handler = (_req, res) => json(res, 200, { data: { id: "L1" } })
      const result = yield* Effect.flatMap(Effect.service(Transport.Transport), (t) => t.submit(submission())).pipe(
        Effect.provide(HttpTransport.layer({
          name: "layered",
          url: `${carrier.baseUrl}/v1/messages`,
          fields: { to: "to", text: "text" },
          response: { messageId: "data.id" }
        }))
      )
      assert.strictEqual(result.providerMessageId, "L1")
    }))
})

describe("HttpTransport conformance", () => {
  let n = 0
  const playCarrier: Handler = (req, res) => {
    const body = JSON.parse(req.raw) as { message: { to: string; body: string } }
    if (body.message.to === "+15005550001") return json(res, 400, { error: { code: "invalid_number" } })
    json(res, 201, { data: { id: `txt_${++n}` } })
  }
  const make = Effect.suspend(() => {
    carrier.handler = playCarrier
    return jsonGateway()
  })
  for (const c of TransportConformance.suite({ make, recipient: "+447700900123", refusedRecipient: "+15005550001", secrets: [TOKEN] })) {
    it.effect(c.name, () => Effect.scoped(c.run))
  }
})

describe("HttpTransport plain-string credentials", () => {
  const leaks = (value: unknown, secret: string) =>
    `${JSON.stringify(value)} ${String(value)} ${value instanceof Error ? value.message : ""}`.includes(secret)

  it.effect("plain-string bearer token, basic password and header authenticate, and never show", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = (_req, res) => json(res, 201, { data: { id: "txt_7" } })
      const bearer = yield* jsonGateway({ auth: { type: "bearer", token: TOKEN }, headers: { "X-Api-Key": "header-key-value" } })
      yield* bearer.submit(submission())
      assert.strictEqual(seen[0]!.headers.authorization, `Bearer ${TOKEN}`)
      assert.strictEqual(seen[0]!.headers["x-api-key"], "header-key-value")
      assert.isFalse(leaks(bearer, TOKEN) || leaks(bearer, "header-key-value"))
      const basic = yield* jsonGateway({ auth: { type: "basic", username: "acme", password: "pw-plain-123" } })
      yield* basic.submit(submission())
      assert.strictEqual(seen[1]!.headers.authorization, `Basic ${Buffer.from("acme:pw-plain-123").toString("base64")}`)
      carrier.handler = (_req, res) => json(res, 401, { error: { code: "unauthorized" } })
      const error = yield* Effect.flip(basic.submit(submission()))
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
      assert.isFalse(leaks(error, "pw-plain-123") || leaks(basic, "pw-plain-123"))
    }))

  it.effect("a secret of the wrong type fails at make, naming the field", () =>
    Effect.gen(function*() {
      for (const [config, field] of [
        [{ auth: { type: "bearer", token: undefined } }, "auth.token"],
        [{ auth: { type: "basic", username: "u", password: 99 } }, "auth.password"],
        [{ headers: { "x-api-key": 12 } }, "headers.x-api-key"]
      ] as const) {
        const error = yield* Effect.flip(jsonGateway(config as unknown as Partial<HttpTransport.HttpTransportConfig>))
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual(error.field, field)
      }
    }))
})
