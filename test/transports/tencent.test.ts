import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Redacted } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Crypto from "node:crypto"
import type * as Http from "node:http"
import { Transport } from "smsforge"
import { TransportConformance } from "smsforge/testing"
import SdkSignModule from "tencentcloud-sdk-nodejs-common/tencentcloud/common/sign.js"
import * as Tencent from "../../transports/tencent/index.ts"
import { classify } from "../../transports/tencent/internal/classify.ts"
import * as Tc3 from "../../transports/tencent/internal/tc3.ts"
import { fakeCarrier, type Handler, neverAnswers, type Seen } from "./fakeCarrier.ts"

// The official Node SDK's signer (tencentcloud-sdk-nodejs-common), as the reference.
// A CommonJS module: the class is `module.exports.default`, whichever way the interop hands it over.
type SdkSign = typeof SdkSignModule.default
const Sdk: SdkSign = (SdkSignModule as { default?: SdkSign }).default ?? (SdkSignModule as unknown as SdkSign)

// A faithful local sms.tencentcloudapi.com: recomputes TC3-HMAC-SHA256 server-side.

const carrier = fakeCarrier()
const seen = carrier.seen

const SECRET_ID = "AKIDsmsforgeTestSecretId0123456789"
const SECRET_KEY = "tencent-secret-key-0123456789abcdef"
const SDK_APP_ID = "1400006666"

const json = (res: Http.ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))

/** Independent server-side TC3 check, written from Tencent's "Signature v3" guide. */
const serverAuthorization = (secretId: string, secretKey: string, req: Seen) => {
  const timestamp = Number(req.headers["x-tc-timestamp"])
  const date = new Date(timestamp * 1000).toISOString().slice(0, 10)
  const sha = (s: string) => Crypto.createHash("sha256").update(s).digest("hex")
  const canonical = `POST\n/\n\ncontent-type:${req.headers["content-type"]}\nhost:${req.headers.host}\n\ncontent-type;host\n${sha(req.raw)}`
  const toSign = `TC3-HMAC-SHA256\n${timestamp}\n${date}/sms/tc3_request\n${sha(canonical)}`
  let key: Buffer | string = `TC3${secretKey}`
  for (const part of [date, "sms", "tc3_request"]) key = Crypto.createHmac("sha256", key).update(part).digest()
  const signature = Crypto.createHmac("sha256", key).update(toSign).digest("hex")
  return `TC3-HMAC-SHA256 Credential=${secretId}/${date}/sms/tc3_request, SignedHeaders=content-type;host, Signature=${signature}`
}

const requestId = "a0b1c2d3-0000-4000-8000-000000000000"
const apiError = (code: string, message: string) => ({ Response: { Error: { Code: code, Message: message }, RequestId: requestId } })
const sendStatus = (code: string, serialNo = "", message = code === "Ok" ? "send success" : code) => ({
  Response: {
    SendStatusSet: [{ SerialNo: serialNo, PhoneNumber: "+8613800138000", Fee: code === "Ok" ? 1 : 0, SessionContext: "msg_1", Code: code, Message: message, IsoCode: "CN" }],
    RequestId: requestId
  }
})
const ok = sendStatus("Ok", "2433:124451525215213144")

const smsApi = (answer: (req: Seen) => [number, unknown]): Handler => (req, res) => {
  if (req.method !== "POST" || req.path !== "/") return json(res, 404, apiError("InvalidAction", "not found"))
  const auth = String(req.headers.authorization ?? "")
  if (!auth.startsWith(`TC3-HMAC-SHA256 Credential=${SECRET_ID}/`)) return json(res, 200, apiError("AuthFailure.SecretIdNotFound", "The SecretId is not found"))
  if (auth !== serverAuthorization(SECRET_ID, SECRET_KEY, req)) return json(res, 200, apiError("AuthFailure.SignatureFailure", "The provided credentials could not be validated."))
  if (req.headers["x-tc-action"] !== "SendSms" || req.headers["x-tc-version"] !== "2021-01-11") return json(res, 200, apiError("InvalidAction", "action"))
  const [status, body] = answer(req)
  json(res, status, body)
}

const submission = (overrides: Partial<Transport.Submission> = {}): Transport.Submission => ({
  to: "+8613800138000",
  text: "您的验证码是 123456",
  segments: ["您的验证码是 123456"],
  encoding: "UCS-2",
  clientReference: "msg_1",
  purpose: "transactional",
  template: { id: "otp", version: 1, providerTemplateCode: "449739", variables: { "1": 123456, "2": "5" } },
  ...overrides
})

const tencent = (overrides: Partial<Tencent.TencentConfig> = {}) =>
  Tencent.make({ secretId: SECRET_ID, secretKey: Redacted.make(SECRET_KEY), sdkAppId: SDK_APP_ID, signName: "腾讯云", baseUrl: carrier.baseUrl, ...overrides })

const leaks = (value: unknown, secret = SECRET_KEY) =>
  `${JSON.stringify(value)} ${String(value)} ${value instanceof Error ? value.message : ""}`.includes(secret)

describe("Tencent TC3 signing", () => {
  // https://www.tencentcloud.com/document/product/382/40467 ("Signature v3"): the worked
  // DescribeInstances example, SecretKey Gu5t9xGARNpq86cd98joQYCN3EXAMPLE, 1551113065.
  const docPayload = "{\"Limit\": 1, \"Filters\": [{\"Values\": [\"\\u672a\\u547d\\u540d\"], \"Name\": \"instance-name\"}]}"

  it("matches every published value of Tencent's documented example", () => {
    const canonical = Tc3.canonicalRequest("cvm.tencentcloudapi.com", docPayload)
    assert.strictEqual(canonical, [
      "POST", "/", "", "content-type:application/json; charset=utf-8", "host:cvm.tencentcloudapi.com", "",
      "content-type;host", "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    ].join("\n"))
    const toSign = Tc3.stringToSign(1551113065, "cvm", canonical)
    assert.strictEqual(toSign, "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
    assert.strictEqual(Tc3.signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", 1551113065, "cvm", toSign), "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")
    assert.strictEqual(
      Tencent.authorization({
        secretId: "AKID**********************0123456789EXAMPLE",
        secretKey: Redacted.make("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
        service: "cvm",
        host: "cvm.tencentcloudapi.com",
        timestamp: 1551113065,
        payload: docPayload
      }),
      "TC3-HMAC-SHA256 Credential=AKID**********************0123456789EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )
  })

  it("the UTC date, not the local one, is in the scope (1551113065 is 2019-02-26 00:44 in Beijing)", () => {
    assert.strictEqual(Tc3.date(1551113065), "2019-02-25")
  })

  // An object payload is serialised by the SDK (json-bigint, which escapes a few characters such as
  // U+FFFC that JSON.stringify sends raw); a Buffer is hashed as it is, so both sign the same bytes.
  const sdkAuthorization = (payload: Record<string, unknown> | Buffer, timestamp: number, secretId: string, secretKey: string) =>
    Sdk.sign3({
      method: "POST",
      url: "https://sms.tencentcloudapi.com/",
      payload,
      timestamp,
      service: "sms",
      secretId,
      secretKey,
      multipart: false,
      boundary: "",
      headers: { "Content-Type": "application/json; charset=utf-8" }
    })

  it("equals the official SDK's signer (tencentcloud-sdk-nodejs-common Sign.sign3) for a SendSms request", () => {
    const payload = {
      PhoneNumberSet: ["+8613800138000"],
      SmsSdkAppId: SDK_APP_ID,
      SignName: "腾讯云",
      TemplateId: "449739",
      TemplateParamSet: ["123456", "5"],
      SessionContext: "msg_1"
    }
    const ours = Tencent.authorization({ secretId: SECRET_ID, secretKey: SECRET_KEY, host: "sms.tencentcloudapi.com", timestamp: 1764669600, payload: JSON.stringify(payload) })
    assert.strictEqual(ours, sdkAuthorization(payload, 1764669600, SECRET_ID, SECRET_KEY))
    assert.include(ours, "Credential=AKIDsmsforgeTestSecretId0123456789/2025-12-02/sms/tc3_request, SignedHeaders=content-type;host, Signature=")
  })

  it("equals the official SDK's signer for any body, time and key", () => {
    const body = fc.record({
      PhoneNumberSet: fc.array(fc.stringMatching(/^\+\d{6,15}$/), { minLength: 1, maxLength: 3 }),
      SmsSdkAppId: fc.stringMatching(/^\d{10}$/),
      SignName: fc.string({ unit: "grapheme", maxLength: 12 }),
      TemplateId: fc.stringMatching(/^\d{1,8}$/),
      TemplateParamSet: fc.array(fc.string({ unit: "grapheme", maxLength: 20 }), { maxLength: 5 }),
      SessionContext: fc.string({ maxLength: 30 })
    })
    fc.assert(fc.property(
      body,
      fc.integer({ min: 0, max: 4_102_444_800 }),
      fc.stringMatching(/^AKID[A-Za-z0-9]{8,32}$/),
      fc.string({ minLength: 1, maxLength: 40 }),
      (payload, timestamp, secretId, secretKey) =>
        Tencent.authorization({ secretId, secretKey, host: "sms.tencentcloudapi.com", timestamp, payload: JSON.stringify(payload) }) ===
          sdkAuthorization(Buffer.from(JSON.stringify(payload), "utf8"), timestamp, secretId, secretKey)
    ), { numRuns: 300 })
  })
})

describe("Tencent SendSms", () => {
  it.effect("sends the documented signed POST with template id, positional params and session context", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 10, 23, 8, 30, 5, 923))
      seen.length = 0
      carrier.handler = smsApi(() => [200, ok])
      const transport = yield* tencent()
      const result = yield* transport.submit(submission())
      assert.deepStrictEqual(result, { providerMessageId: "2433:124451525215213144" })
      const req = seen[0]!
      assert.strictEqual(req.method, "POST")
      assert.strictEqual(req.path, "/")
      assert.strictEqual(req.headers["content-type"], "application/json; charset=utf-8")
      assert.strictEqual(req.headers["x-tc-action"], "SendSms")
      assert.strictEqual(req.headers["x-tc-version"], "2021-01-11")
      assert.strictEqual(req.headers["x-tc-region"], "ap-guangzhou")
      assert.strictEqual(req.headers["x-tc-timestamp"], String(Math.floor(Date.UTC(2026, 10, 23, 8, 30, 5) / 1000)))
      assert.match(String(req.headers.authorization), /^TC3-HMAC-SHA256 Credential=AKIDsmsforgeTestSecretId0123456789\/2026-11-23\/sms\/tc3_request, SignedHeaders=content-type;host, Signature=[0-9a-f]{64}$/)
      assert.deepStrictEqual(JSON.parse(req.raw), {
        PhoneNumberSet: ["+8613800138000"],
        SmsSdkAppId: SDK_APP_ID,
        SignName: "腾讯云",
        TemplateId: "449739",
        TemplateParamSet: ["123456", "5"],
        SessionContext: "msg_1"
      })
      // the region is configurable; the submission's from is the sign name
      yield* (yield* tencent({ region: "ap-beijing" })).submit(submission({ from: "另一个签名" }))
      assert.strictEqual(seen[1]!.headers["x-tc-region"], "ap-beijing")
      assert.strictEqual(JSON.parse(seen[1]!.raw).SignName, "另一个签名")
    }))

  it.effect("template variables → TemplateParamSet: declared order, numbered keys, named keys in written order", () =>
    Effect.gen(function*() {
      carrier.handler = smsApi(() => [200, ok])
      const params = (variables: Record<string, string | number>, config: Partial<Tencent.TencentConfig> = {}) =>
        Effect.gen(function*() {
          seen.length = 0
          const transport = yield* tencent(config)
          const result = yield* Effect.result(transport.submit(submission({ template: { id: "t", version: 1, providerTemplateCode: "449739", variables } })))
          return result._tag === "Success" ? JSON.parse(seen[0]!.raw).TemplateParamSet as Array<string> : result.failure.reason
        })
      assert.deepStrictEqual(yield* params({ "2": "five", "1": 42, "3": "x" }), ["42", "five", "x"])
      assert.deepStrictEqual(yield* params({ code: "123456", minutes: 5 }), ["123456", "5"])
      assert.deepStrictEqual(yield* params({}), [])
      assert.deepStrictEqual(yield* params({ code: "123456", minutes: 5 }, { templateParams: { "449739": ["minutes", "code"] } }), ["5", "123456"])
      const missing = yield* params({ code: "1" }, { templateParams: { "449739": ["code", "minutes"] } })
      assert.deepInclude(missing, { _tag: "Rejected", code: "smsforge/MissingTemplateParam", detail: "field template.variables.minutes" })
      assert.deepInclude(yield* params({ "1": "a", "3": "c" }), { _tag: "Rejected", code: "smsforge/TemplateParamOrder" })
      assert.deepInclude(yield* params({ "1": "a", name: "b" }), { _tag: "Rejected", code: "smsforge/TemplateParamOrder" })
      assert.strictEqual(seen.length, 0)
    }))

  it.effect("a submission without a template code, or to +86 without a sign name, is rejected before any request", () =>
    Effect.gen(function*() {
      seen.length = 0
      carrier.handler = smsApi(() => [200, ok])
      const error = yield* Effect.flip((yield* tencent()).submit(submission({ template: undefined })))
      assert.strictEqual(error.reason._tag, "Rejected")
      assert.strictEqual(error.reason.code, "smsforge/MissingTemplateCode")
      const noSign = yield* Effect.flip((yield* tencent({ signName: undefined })).submit(submission()))
      assert.strictEqual(noSign.reason.code, "smsforge/MissingSignName")
      assert.strictEqual(seen.length, 0)
      // international numbers may go without one
      yield* (yield* tencent({ signName: undefined })).submit(submission({ to: "+85291234567" }))
      assert.isFalse("SignName" in JSON.parse(seen[0]!.raw))
    }))

  it.effect("a wrong secret is caught by the server's signature check, and shows nowhere", () =>
    Effect.gen(function*() {
      carrier.handler = smsApi(() => [200, ok])
      const error = yield* Effect.flip((yield* tencent({ secretKey: "wrong-secret-key" })).submit(submission()))
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
      assert.strictEqual(error.reason.code, "AuthFailure.SignatureFailure")
      assert.isFalse(leaks(error, "wrong-secret-key"))
      const unknownId = yield* Effect.flip((yield* tencent({ secretId: "AKIDunknown" })).submit(submission()))
      assert.strictEqual(unknownId.reason.code, "AuthFailure.SecretIdNotFound")
      assert.strictEqual(unknownId.reason._tag, "AuthenticationFailed")
    }))

  const cases: ReadonlyArray<[string, "status" | "error", Transport.TransportErrorReason["_tag"]]> = [
    ["LimitExceeded.PhoneNumberDailyLimit", "status", "Blocked"],
    ["LimitExceeded.PhoneNumberThirtySecondLimit", "status", "Throttled"],
    ["LimitExceeded.PhoneNumberOneHourLimit", "status", "Throttled"],
    ["LimitExceeded.AppDailyLimit", "status", "InsufficientFunds"],
    ["FailedOperation.InsufficientBalanceInSmsPackage", "status", "InsufficientFunds"],
    ["InvalidParameterValue.IncorrectPhoneNumber", "status", "InvalidNumber"],
    ["FailedOperation.PhoneNumberInBlacklist", "status", "Blocked"],
    ["FailedOperation.ContainSensitiveWord", "status", "Blocked"],
    ["FailedOperation.TemplateIncorrectOrUnapproved", "error", "Rejected"],
    ["FailedOperation.SignatureIncorrectOrUnapproved", "error", "Rejected"],
    ["InvalidParameterValue.TemplateParameterFormatError", "status", "Rejected"],
    ["UnauthorizedOperation.SmsSdkAppIdVerifyFail", "error", "AuthenticationFailed"],
    ["UnauthorizedOperation.RequestIpNotInWhitelist", "error", "AuthenticationFailed"],
    ["UnauthorizedOperation.SerivceSuspendDueToArrears", "error", "InsufficientFunds"],
    ["UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny", "error", "Blocked"],
    ["AuthFailure.SignatureExpire", "error", "AuthenticationFailed"],
    ["RequestLimitExceeded", "error", "Throttled"],
    ["InternalError.Timeout", "error", "Timeout"],
    ["InternalError.OtherError", "error", "Unavailable"],
    ["InternalError.RequestTimeException", "error", "AuthenticationFailed"]
  ]
  for (const [code, where, tag] of cases) {
    it.effect(`${code} (${where === "status" ? "SendStatusSet" : "Response.Error"}) → ${tag}`, () =>
      Effect.gen(function*() {
        carrier.handler = smsApi(() => [200, where === "status" ? sendStatus(code) : apiError(code, "refused")])
        const error = yield* Effect.flip((yield* tencent()).submit(submission()))
        assert.strictEqual(error.transport, "tencent")
        assert.strictEqual(error.reason._tag, tag)
        assert.strictEqual(error.reason.code, code)
        assert.notInclude(`${error.message} ${JSON.stringify(error)}`, "13800138000")
      }))
  }

  it("classify table", () => {
    const table: ReadonlyArray<[number, string | undefined, Transport.TransportErrorReason["_tag"]]> = [
      [200, "LimitExceeded.PhoneNumberSameContentDailyLimit", "Blocked"],
      [200, "LimitExceeded.DeliveryFrequencyLimit", "Throttled"],
      [200, "LimitExceeded.AppGlobalDailyLimit", "InsufficientFunds"],
      [200, "LimitExceeded.PhoneNumberCountLimit", "Rejected"],
      [200, "RequestLimitExceeded.UinLimitExceeded", "Throttled"],
      [200, "FailedOperation.PhoneNumberParseFail", "InvalidNumber"],
      [200, "FailedOperation.TemplateParamSetNotMatchApprovedTemplate", "Rejected"],
      [200, "FailedOperation.MarketingSendTimeConstraint", "Rejected"],
      [200, "UnsupportedOperation.UnsupportedRegion", "Rejected"],
      [200, "InvalidParameterValue.SdkAppIdNotExist", "AuthenticationFailed"],
      [200, "AuthFailure.SecretIdNotFound", "AuthenticationFailed"],
      [200, "IpNotInWhitelist", "AuthenticationFailed"],
      [200, "UnsupportedRegion", "AuthenticationFailed"],
      [200, "InternalError.SigVerificationFail", "AuthenticationFailed"],
      [200, "InternalError", "Unavailable"],
      [200, "ServiceUnavailable", "Unavailable"],
      [200, "MissingParameter", "Rejected"],
      [429, undefined, "Throttled"],
      [403, undefined, "AuthenticationFailed"],
      [404, undefined, "Unavailable"],
      [502, undefined, "Unavailable"]
    ]
    for (const [status, code, tag] of table) assert.strictEqual(classify(status, code)._tag, tag, `${status} ${code}`)
    assert.deepStrictEqual(classify(200, "LimitExceeded.PhoneNumberThirtySecondLimit"), new Transport.Throttled({ code: "LimitExceeded.PhoneNumberThirtySecondLimit", retryAfter: Duration.seconds(30) }))
    fc.assert(fc.property(fc.oneof(fc.string(), fc.constantFrom("constructor", "__proto__", "toString", "hasOwnProperty")), (code) =>
      classify(200, code).code === code))
  })

  it.effect("an answer that is not a SendStatusSet is an unknown outcome, a gateway page is Unavailable", () =>
    Effect.gen(function*() {
      const transport = yield* tencent()
      carrier.handler = (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("OK")
      assert.deepInclude((yield* Effect.flip(transport.submit(submission()))).reason, { _tag: "Timeout", code: "smsforge/MalformedAnswer" })
      carrier.handler = smsApi(() => [200, { Response: { SendStatusSet: [{ Code: "Ok" }], RequestId: requestId } }])
      assert.deepInclude((yield* Effect.flip(transport.submit(submission()))).reason, { _tag: "Timeout", code: "smsforge/MalformedAnswer" })
      carrier.handler = (_req, res) => res.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>")
      assert.deepInclude((yield* Effect.flip(transport.submit(submission()))).reason, { _tag: "Unavailable", code: "http-502" })
    }))

  it.effect("a carrier that never answers → Timeout", () =>
    Effect.gen(function*() {
      const transport = yield* tencent({ timeout: Duration.seconds(5) })
      const error = yield* neverAnswers(carrier, transport.submit(submission()), "5 seconds")
      assert.strictEqual(error.reason._tag, "Timeout")
    }))
})

describe("Tencent callbacks", () => {
  it.effect("status report pushes → delivery reports", () =>
    Effect.gen(function*() {
      const transport = yield* tencent()
      const reports = yield* transport.parseReports(JSON.stringify([
        { user_receive_time: "2015-10-17 08:03:04", nationcode: "86", mobile: "13800138000", report_status: "SUCCESS", errmsg: "DELIVRD", description: "用户短信送达成功", sid: "2433:124451525215213144", ext: { msg: "msg_1" } },
        { user_receive_time: "2015-10-17 08:03:04", nationcode: "86", mobile: "13800138000", report_status: "FAIL", errmsg: "MK:0001", description: "用户短信送达失败", serial_no: "2433:2" },
        { nationcode: "86", mobile: "13800138000", report_status: "FAIL", errmsg: "EXPIRED", sid: "2433:3" }
      ]))
      assert.deepStrictEqual(reports.map((r) => [r.providerMessageId, r.status, r.errorCode]), [
        ["2433:124451525215213144", "delivered", undefined],
        ["2433:2", "undelivered", "MK:0001"],
        ["2433:3", "expired", "EXPIRED"]
      ])
      assert.strictEqual(reports[0]!.at, Date.UTC(2015, 9, 17, 0, 3, 4))
      assert.strictEqual(reports[0]!.transport, "tencent")
      assert.strictEqual(reports[0]!.providerStatus, "SUCCESS")
      const bad = yield* Effect.flip(transport.parseReports([{ report_status: "SUCCESS" }]))
      assert.strictEqual(bad._tag, "TencentWebhookError")
      assert.strictEqual(bad.reason.field, "sid")
      assert.strictEqual((yield* Effect.flip(transport.parseReports([{ sid: "1", report_status: "OK" }]))).reason.field, "report_status")
      assert.strictEqual((yield* Effect.flip(transport.parseReports("{not json"))).reason.field, "body")
      assert.deepStrictEqual(Tencent.callbackAnswer, { result: 0, errmsg: "OK" })
    }))

  it.effect("reply pushes → inbound messages", () =>
    Effect.gen(function*() {
      const transport = yield* tencent()
      const [message] = yield* transport.parseInbound({ extend: "", mobile: "13800138000", nationcode: "86", sign: "腾讯云", text: "退订", time: 1470724210 })
      assert.deepStrictEqual(message, {
        _tag: "InboundMessage",
        transport: "tencent",
        from: "+8613800138000",
        to: "腾讯云",
        text: "退订",
        receivedAt: 1470724210000
      })
      const [extended] = yield* transport.parseInbound(JSON.stringify([{ extend: "01", mobile: "91234567", nationcode: "852", sign: "腾讯云", text: "hi", time: "1470724210" }]))
      assert.strictEqual(extended!.from, "+85291234567")
      assert.strictEqual(extended!.to, "01")
      assert.strictEqual((yield* Effect.flip(transport.parseInbound({ mobile: "1380013800x", nationcode: "86", text: "x" }))).reason.field, "mobile")
      assert.strictEqual((yield* Effect.flip(transport.parseInbound({ mobile: "13800138000", text: "x" }))).reason.field, "nationcode")
      assert.strictEqual((yield* Effect.flip(transport.parseInbound({ mobile: "13800138000", nationcode: 86, text: null }))).reason.field, "text")
    }))

  it("any JSON, as a value or as text, is a typed result, never a throw or a defect", async () => {
    const transport = await Effect.runPromise(tencent())
    const typed = (exit: Exit.Exit<unknown, unknown>) =>
      Exit.isSuccess(exit) || (Exit.findErrorOption(exit)._tag === "Some" && exit.cause.reasons.every((r) => r._tag === "Fail"))
    const refusedTyped = (exit: Exit.Exit<unknown, { readonly _tag: string }>) =>
      Exit.isSuccess(exit) || Exit.findErrorOption(exit).pipe((o) => o._tag === "Some" && o.value._tag === "TencentWebhookError")
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), fc.json(), fc.anything()), (body) => {
      const reports = Effect.runSyncExit(transport.parseReports(body))
      const inbound = Effect.runSyncExit(transport.parseInbound(body))
      return typed(reports) && typed(inbound) && refusedTyped(reports) && refusedTyped(inbound)
    }), { numRuns: 500 })
    // shaped like the real thing, with hostile values
    const item = fc.record({
      sid: fc.jsonValue(), serial_no: fc.jsonValue(), report_status: fc.oneof(fc.constantFrom("SUCCESS", "FAIL"), fc.jsonValue()),
      errmsg: fc.jsonValue(), user_receive_time: fc.jsonValue(), mobile: fc.jsonValue(), nationcode: fc.jsonValue(),
      text: fc.jsonValue(), time: fc.jsonValue(), extend: fc.jsonValue(), sign: fc.jsonValue()
    }, { requiredKeys: [] })
    fc.assert(fc.property(fc.array(item), (body) =>
      refusedTyped(Effect.runSyncExit(transport.parseReports(body))) && refusedTyped(Effect.runSyncExit(transport.parseInbound(body)))
    ), { numRuns: 500 })
  })
})

describe("Tencent properties", () => {
  it("any variables and sign name pass the server's signature check and arrive in placeholder order", async () => {
    const values = fc.array(fc.oneof(fc.string({ unit: "grapheme", maxLength: 30 }), fc.integer()), { maxLength: 6 })
    const sign = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 })
    const reference = fc.string({ maxLength: 40 })
    await fc.assert(fc.asyncProperty(values, sign, reference, async (list, signName, clientReference) => {
      let received: unknown = undefined
      carrier.handler = smsApi((req) => {
        const body = JSON.parse(req.raw) as { TemplateParamSet: Array<string>; SignName: string; SessionContext: string }
        received = [body.TemplateParamSet, body.SignName, body.SessionContext]
        return [200, ok]
      })
      // written backwards on purpose: numbered keys go in numeric order
      const variables = Object.fromEntries(list.map((v, i) => [String(i + 1), v]).reverse())
      const transport = await Effect.runPromise(tencent({ signName }))
      const result = await Effect.runPromise(Effect.result(transport.submit(submission({
        clientReference,
        template: { id: "t", version: 1, providerTemplateCode: "449739", variables }
      }))))
      return result._tag === "Success" && JSON.stringify(received) === JSON.stringify([list.map(String), signName, clientReference])
    }), { numRuns: 60 })
  })
})

describe("Tencent conformance", () => {
  let n = 0
  const playCarrier = smsApi((req) =>
    (JSON.parse(req.raw) as { PhoneNumberSet: Array<string> }).PhoneNumberSet[0] === "+15005550001"
      ? [200, sendStatus("InvalidParameterValue.IncorrectPhoneNumber")]
      : [200, sendStatus("Ok", `2433:${++n}`)]
  )
  const make = Effect.suspend(() => {
    carrier.handler = playCarrier
    // Tencent Cloud sends by template: give every conformance submission one
    return Effect.map(tencent(), (t): Transport.Transport => ({
      ...t,
      submit: (s) => t.submit({ ...s, template: { id: "conf", version: 1, providerTemplateCode: "449739", variables: {} } })
    }))
  })
  for (const c of TransportConformance.suite({ make, recipient: "+8613800138000", refusedRecipient: "+15005550001", secrets: [SECRET_KEY] })) {
    it.effect(c.name, () => Effect.scoped(c.run))
  }
})

describe("Tencent config", () => {
  it.effect("a plain-string secretKey signs and sends, and never shows in the transport or its errors", () =>
    Effect.gen(function*() {
      carrier.handler = smsApi(() => [200, ok])
      const transport = yield* tencent({ secretKey: SECRET_KEY })
      assert.strictEqual((yield* transport.submit(submission())).providerMessageId, "2433:124451525215213144")
      assert.isFalse(leaks(transport))
      carrier.handler = smsApi(() => [200, sendStatus("LimitExceeded.PhoneNumberDailyLimit")])
      assert.isFalse(leaks(yield* Effect.flip(transport.submit(submission()))))
    }))

  it.effect("a wrong or empty field fails at make, naming the field", () =>
    Effect.gen(function*() {
      for (const [config, field] of [
        [{ secretKey: 1234 }, "secretKey"],
        [{ secretKey: "" }, "secretKey"],
        [{ secretKey: undefined }, "secretKey"],
        [{ secretKey: Redacted.make("") }, "secretKey"],
        [{ secretId: null }, "secretId"],
        [{ secretId: "" }, "secretId"],
        [{ sdkAppId: 1400006666 }, "sdkAppId"],
        [{ region: "" }, "region"],
        [{ endpoint: 443 }, "endpoint"],
        [{ baseUrl: "not a url" }, "baseUrl"],
        [{ baseUrl: "ftp://example.com" }, "baseUrl"]
      ] as const) {
        const error = yield* Effect.flip(tencent(config as unknown as Partial<Tencent.TencentConfig>))
        assert.strictEqual(error._tag, "InvalidConfig")
        assert.strictEqual(error.field, field)
        assert.isFalse(leaks(error))
      }
    }))

  it.effect("layer provides the Transport service", () =>
    Effect.gen(function*() {
      carrier.handler = smsApi(() => [200, ok])
      const transport = yield* Effect.provide(Effect.gen(function*() {
        return yield* Transport.Transport
      }), Tencent.layer({ secretId: SECRET_ID, secretKey: SECRET_KEY, sdkAppId: SDK_APP_ID, signName: "腾讯云", baseUrl: carrier.baseUrl }))
      assert.strictEqual(transport.name, "tencent")
    }))
})
