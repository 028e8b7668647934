import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import { Transport } from "smsforge"
import { TransportConformance } from "smsforge/testing"
import * as Aliyun from "../../transports/aliyun/index.ts"
import { classify } from "../../transports/aliyun/internal/classify.ts"
import * as Pop from "../../transports/aliyun/internal/pop.ts"
import { fakeCarrier, neverAnswers, type Handler, type Seen } from "./fakeCarrier.ts"

// A faithful local dysmsapi: recomputes the POP v1 signature server-side.

const carrier = fakeCarrier()
const seen = carrier.seen

const KEY_ID = "LTAI5tTestAccessKey"
const SECRET = "aliyun-access-key-secret-0123"

const json = (res: Http.ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json;charset=utf-8" }).end(JSON.stringify(body))

/** Independent server-side POP v1 check, written from Alibaba Cloud's signing guide. */
const serverSignature = (method: string, secret: string, query: Map<string, string>) => {
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/\+/g, "%20").replace(/\*/g, "%2A").replace(/%7E/g, "~")
      .replace(/!/g, "%21").replace(/'/g, "%27").replace(/\(/g, "%28").replace(/\)/g, "%29")
  const canonical = [...query.keys()].filter((k) => k !== "Signature").sort()
    .map((k) => `${enc(k)}=${enc(query.get(k)!)}`).join("&")
  return Crypto.createHmac("sha1", `${secret}&`).update(`${method}&${enc("/")}&${enc(canonical)}`).digest("base64")
}

const dysmsapi = (answer: (req: Seen) => [number, unknown]): Handler => (req, res) => {
  if (req.method !== "GET" || req.pathname !== "/") return json(res, 404, { Code: "InvalidAction.NotFound" })
  if (req.query.get("AccessKeyId") !== KEY_ID) return json(res, 404, { Code: "InvalidAccessKeyId.NotFound", Message: "Specified access key is not found." })
  if (req.query.get("Signature") !== serverSignature("GET", SECRET, req.query)) {
    return json(res, 400, { Code: "SignatureDoesNotMatch", Message: "Specified signature is not matched with our calculation." })
  }
  const [status, body] = answer(req)
  json(res, status, body)
}

const ok = { Message: "OK", RequestId: "F655A8D5-B967-440B-8683-DAD6FF8DE990", Code: "OK", BizId: "900619746936498440^0" }
const failure = (code: string, message: string) => ({ Message: message, RequestId: "F655A8D5-B967-440B-8683-DAD6FF8DE991", Code: code })

const submission = (overrides: Partial<Transport.Submission> = {}): Transport.Submission => ({
  to: "+8613800138000",
  text: "您的验证码是 123456",
  segments: ["您的验证码是 123456"],
  encoding: "UCS-2",
  clientReference: "msg_1",
  purpose: "transactional",
  template: { id: "otp", version: 1, providerTemplateCode: "SMS_71390007", variables: { code: 123456, product: "云 & 端" } },
  ...overrides
})

const aliyun = (overrides: Partial<Aliyun.AliyunConfig> = {}) =>
  Aliyun.make({ accessKeyId: KEY_ID, accessKeySecret: Redacted.make(SECRET), signName: "阿里云短信测试", baseUrl: carrier.baseUrl, ...overrides })

describe("Aliyun signing", () => {
  it("matches Alibaba Cloud's documented example", () => {
    const params = {
      AccessKeyId: "testId", Action: "SendSms", Format: "XML", OutId: "123", PhoneNumbers: "15300000001",
      RegionId: "cn-hangzhou", SignName: "阿里云短信测试专用", SignatureMethod: "HMAC-SHA1",
      SignatureNonce: "45e25e9b-0a6f-4070-8c85-2956eda1b466", SignatureVersion: "1.0", TemplateCode: "SMS_71390007",
      TemplateParam: "{\"customer\":\"test\"}", Timestamp: "2017-07-12T02:42:19Z", Version: "2017-05-25"
    }
    assert.strictEqual(Pop.signature("GET", "testSecret", params), "zJDF+Lrzhj/ThnlvIToysFRq6t4=")
    assert.include(Pop.stringToSign("GET", params), "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms")
  })

  it("percent-encoding follows POP rules", () => {
    assert.strictEqual(Pop.percentEncode("a b*c~d+e!'()"), "a%20b%2Ac~d%2Be%21%27%28%29")
    fc.assert(fc.property(fc.string(), (s) =>
      /^[A-Za-z0-9\-_.~%]*$/.test(Pop.percentEncode(s)) && decodeURIComponent(Pop.percentEncode(s)) === s))
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z]{1,8}$/), fc.string()), (params) =>
      Pop.signature("GET", SECRET, params) === serverSignature("GET", SECRET, new Map(Object.entries(params)))))
  })

  it("phone numbers: domestic for +86, digits otherwise", () => {
    assert.strictEqual(Aliyun.phoneNumber("+8613800138000"), "13800138000")
    assert.strictEqual(Aliyun.phoneNumber("+85291234567"), "85291234567")
    assert.strictEqual(Aliyun.phoneNumber("+447700900123"), "447700900123")
  })
})

describe("Aliyun SendSms", () => {
  it.effect("sends the documented signed GET with template code and params", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 10, 23, 8, 30, 5, 123))
      seen.length = 0
      carrier.handler = dysmsapi(() => [200, ok])
      const transport = yield* aliyun()
      const result = yield* transport.submit(submission())
      assert.deepStrictEqual(result, { providerMessageId: "900619746936498440^0" })
      const req = seen[0]!
      const { Signature: _sig, SignatureNonce: nonce, ...rest } = Object.fromEntries(req.query)
      assert.match(nonce!, /^[0-9a-f-]{36}$/)
      assert.deepStrictEqual(rest, {
        AccessKeyId: KEY_ID,
        Action: "SendSms",
        Format: "JSON",
        OutId: "msg_1",
        PhoneNumbers: "13800138000",
        RegionId: "cn-hangzhou",
        SignName: "阿里云短信测试",
        SignatureMethod: "HMAC-SHA1",
        SignatureVersion: "1.0",
        TemplateCode: "SMS_71390007",
        TemplateParam: "{\"code\":\"123456\",\"product\":\"云 & 端\"}",
        Timestamp: "2026-11-23T08:30:05Z",
        Version: "2017-05-25"
      })
      // POP encoding on the wire: spaces as %20, never "+"
      assert.notInclude(req.rawQuery, "+")
      assert.include(req.rawQuery, "TemplateParam=%7B%22code%22%3A%22123456%22%2C%22product%22%3A%22%E4%BA%91%20%26%20%E7%AB%AF%22%7D")
      // a fresh nonce per request
      yield* transport.submit(submission())
      assert.notStrictEqual(seen[1]!.query.get("SignatureNonce"), nonce)
    }))

  it.effect("a submission without a template code is rejected before any request", () =>
    Effect.gen(function*() {
      seen.length = 0
      const transport = yield* aliyun()
      const error = yield* Effect.flip(transport.submit(submission({ template: undefined })))
      assert.strictEqual(error.reason._tag, "Rejected")
      assert.strictEqual(error.reason.code, "smsforge/MissingTemplateCode")
      const noSign = yield* Effect.flip((yield* aliyun({ signName: undefined })).submit(submission()))
      assert.strictEqual(noSign.reason.code, "smsforge/MissingSignName")
      assert.strictEqual(seen.length, 0)
    }))

  it.effect("a wrong secret is caught by the server's signature check", () =>
    Effect.gen(function*() {
      carrier.handler = dysmsapi(() => [200, ok])
      const transport = yield* aliyun({ accessKeySecret: Redacted.make("wrong-secret") })
      const error = yield* Effect.flip(transport.submit(submission()))
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
      assert.strictEqual(error.reason.code, "SignatureDoesNotMatch")
      const unknownKey = yield* Effect.flip((yield* aliyun({ accessKeyId: "LTAIunknown" })).submit(submission()))
      assert.strictEqual(unknownKey.reason.code, "InvalidAccessKeyId.NotFound")
      assert.strictEqual(unknownKey.reason._tag, "AuthenticationFailed")
      for (const rendered of [JSON.stringify(error), error.message, String(error), JSON.stringify(unknownKey)]) {
        assert.notInclude(rendered, SECRET)
      }
    }))

  const cases: ReadonlyArray<[string, string, Transport.TransportErrorReason["_tag"]]> = [
    ["isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", "Throttled"],
    ["isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", "InvalidNumber"],
    ["isv.AMOUNT_NOT_ENOUGH", "账户余额不足", "InsufficientFunds"],
    ["isv.SMS_TEMPLATE_ILLEGAL", "模板不合法", "Rejected"],
    ["isv.SMS_SIGNATURE_ILLEGAL", "签名不合法", "Rejected"],
    ["isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量", "Rejected"],
    ["isv.BLACK_KEY_CONTROL_LIMIT", "黑名单管控", "Blocked"],
    ["isp.SYSTEM_ERROR", "系统错误", "Unavailable"]
  ]
  for (const [code, message, tag] of cases) {
    it.effect(`${code} → ${tag}`, () =>
      Effect.gen(function*() {
        carrier.handler = dysmsapi(() => [200, failure(code, message)])
        const error = yield* Effect.flip((yield* aliyun()).submit(submission()))
        assert.strictEqual(error.transport, "aliyun")
        assert.strictEqual(error.reason._tag, tag)
        assert.strictEqual(error.reason.code, code)
      }))
  }

  it("classify table", () => {
    assert.strictEqual(classify(404, "InvalidAccessKeyId.NotFound")._tag, "AuthenticationFailed")
    assert.strictEqual(classify(400, "SignatureDoesNotMatch")._tag, "AuthenticationFailed")
    assert.strictEqual(classify(503, undefined)._tag, "Unavailable")
    assert.strictEqual(classify(503, "ServiceUnavailable")._tag, "Unavailable")
    assert.strictEqual(classify(400, "isv.INVALID_PARAMETERS")._tag, "Rejected")
    assert.strictEqual(classify(429, undefined)._tag, "Throttled")
    assert.strictEqual(classify(400, "Throttling.User")._tag, "Throttled")
    // issue 14: this host's clock is off, so every request fails; it must count
    // against the route's circuit (AuthenticationFailed does, Rejected does not)
    assert.strictEqual(classify(400, "InvalidTimeStamp.Expired")._tag, "AuthenticationFailed")
    fc.assert(fc.property(fc.string(), (code) => classify(200, code).code === code))
  })

  it.effect("a carrier that never answers → Timeout", () =>
    Effect.gen(function*() {
      const transport = yield* aliyun({ timeout: Duration.seconds(5) })
      const error = yield* neverAnswers(carrier, transport.submit(submission()), "5 seconds")
      assert.strictEqual(error.reason._tag, "Timeout")
    }))
})

describe("Aliyun reports", () => {
  it.effect("SmsReport pushes → delivery reports", () =>
    Effect.gen(function*() {
      const transport = yield* aliyun()
      const reports = yield* transport.parseReports(JSON.stringify([
        { phone_number: "13800138000", send_time: "2017-01-01 11:12:13", report_time: "2017-02-02 22:23:24", success: true, err_code: "DELIVERED", err_msg: "用户接收成功", sms_size: "1", biz_id: "12345", out_id: "67890" },
        { phone_number: "13800138000", send_time: "2017-01-01 11:12:13", report_time: "2017-02-02 22:23:24", success: false, err_code: "MK:0001", err_msg: "", sms_size: "1", biz_id: "12346", out_id: "67891" },
        { phone_number: "13800138000", report_time: "2017-02-02 22:23:24", success: "false", err_code: "EXPIRED", biz_id: "12347" }
      ]))
      assert.deepStrictEqual(reports.map((r) => [r.providerMessageId, r.status, r.errorCode]), [
        ["12345", "delivered", "DELIVERED"],
        ["12346", "undelivered", "MK:0001"],
        ["12347", "expired", "EXPIRED"]
      ])
      assert.strictEqual(reports[0]!.at, Date.UTC(2017, 1, 2, 14, 23, 24))
      assert.strictEqual(reports[0]!.transport, "aliyun")
      const bad = yield* Effect.flip(transport.parseReports([{ success: true }]))
      assert.strictEqual(bad._tag, "AliyunWebhookError")
      assert.strictEqual(bad.reason.field, "biz_id")
      assert.strictEqual((yield* Effect.flip(transport.parseReports("{not json"))).reason.field, "body")
    }))

  it.effect("SmsUp pushes → inbound messages", () =>
    Effect.gen(function*() {
      const transport = yield* aliyun()
      const [message] = yield* transport.parseInbound([
        { phone_number: "13800138000", send_time: "2017-01-01 11:12:13", content: "TD", sign_name: "阿里云短信测试", dest_code: "1234", sequence_id: 1234568 }
      ])
      assert.deepStrictEqual(message, {
        _tag: "InboundMessage",
        transport: "aliyun",
        from: "+8613800138000",
        to: "1234",
        text: "TD",
        receivedAt: Date.UTC(2017, 0, 1, 3, 12, 13),
        providerMessageId: "1234568"
      })
    }))
})

describe("Aliyun conformance", () => {
  let n = 0
  const playCarrier = dysmsapi((req) =>
    req.query.get("PhoneNumbers") === "15005550001"
      ? [200, failure("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")]
      : [200, { ...ok, BizId: `${900619746936498440n + BigInt(++n)}^0` }]
  )
  const make = Effect.suspend(() => {
    carrier.handler = playCarrier
    // Alibaba Cloud sends by template: give every conformance submission one
    return Effect.map(aliyun(), (t): Transport.Transport => ({
      ...t,
      submit: (s) => t.submit({ ...s, template: { id: "conf", version: 1, providerTemplateCode: "SMS_1", variables: {} } })
    }))
  })
  for (const c of TransportConformance.suite({ make, recipient: "+8613800138000", refusedRecipient: "+15005550001", secrets: [SECRET] })) {
    it.effect(c.name, () => Effect.scoped(c.run))
  }
})

describe("Aliyun properties", () => {
  it("any template variables survive POP encoding and the server's signature check", async () => {
    const variables = fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.string({ unit: "grapheme", maxLength: 40 }), { minKeys: 1 })
    const sign = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 })
    await fc.assert(fc.asyncProperty(variables, sign, async (vars, signName) => {
      let received: unknown = undefined
      carrier.handler = dysmsapi((req) => {
        received = { param: JSON.parse(req.query.get("TemplateParam") ?? "null"), sign: req.query.get("SignName") }
        return [200, ok]
      })
      const transport = await Effect.runPromise(aliyun({ signName }))
      const result = await Effect.runPromise(Effect.result(transport.submit(submission({
        template: { id: "t", version: 1, providerTemplateCode: "SMS_1", variables: vars }
      }))))
      return result._tag === "Success" && JSON.stringify(received) === JSON.stringify({ param: vars, sign: signName })
    }), { numRuns: 60 })
  })
})

describe("Aliyun plain-string credentials", () => {
  const leaks = (value: unknown) =>
    `${JSON.stringify(value)} ${String(value)} ${value instanceof Error ? value.message : ""}`.includes(SECRET)

  it.effect("a plain-string accessKeySecret signs and sends, and never shows in the transport or its errors", () =>
    Effect.gen(function*() {
      carrier.handler = dysmsapi(() => [200, ok])
      const transport = yield* aliyun({ accessKeySecret: SECRET })
      assert.strictEqual((yield* transport.submit(submission())).providerMessageId, ok.BizId)
      assert.isFalse(leaks(transport))
      carrier.handler = dysmsapi(() => [400, failure("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")])
      assert.isFalse(leaks(yield* Effect.flip(transport.submit(submission()))))
    }))

  it.effect("a secret of the wrong type fails at make, naming the field", () =>
    Effect.gen(function*() {
      for (const [config, field] of [
        [{ accessKeySecret: 1234 }, "accessKeySecret"],
        [{ accessKeySecret: undefined }, "accessKeySecret"],
        [{ accessKeyId: null }, "accessKeyId"]
      ] as const) {
        const error = yield* Effect.flip(aliyun(config as unknown as Partial<Aliyun.AliyunConfig>))
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual(error.field, field)
        assert.isFalse(leaks(error))
      }
    }))
})
