// The HTTP transports send with effect's HttpClient: a client the user
// provides (a mock here, with no server) is used by `make` and `layer`; without
// one, the fetch client is, and it propagates the current span as `traceparent`.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Redacted, Tracer } from "effect"
import { HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { Transport } from "smsforge"
import * as Aliyun from "../../transports/aliyun/index.ts"
import * as HttpTransport from "../../transports/http/index.ts"
import * as Tencent from "../../transports/tencent/index.ts"
import * as Twilio from "../../transports/twilio/index.ts"
import * as Vonage from "../../transports/vonage/index.ts"
import { fakeCarrier, json } from "./fakeCarrier.ts"

const carrier = fakeCarrier()

const ACCOUNT = "AC0123456789abcdef0123456789abcdef"
const TOKEN = "s3cr3t-auth-token-value"
const VONAGE_SECRET = "vonage-api-secret-value"

const submission: Transport.Submission = {
  to: "+447700900123",
  text: "Your code is 123456",
  segments: ["Your code is 123456"],
  encoding: "GSM-7",
  clientReference: "msg_1",
  purpose: "transactional"
}

interface Sent {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** A client that answers every request with `answer` and records what it was sent. */
const mockClient = (answer: (sent: Sent) => Response) => {
  const sent: Array<Sent> = []
  const client = HttpClient.make((request, url) => {
    const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
    const entry: Sent = { method: request.method, url: url.toString(), headers: { ...request.headers }, body }
    sent.push(entry)
    return Effect.succeed(HttpClientResponse.fromWeb(request, answer(entry)))
  })
  return { sent, client, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

const jsonResponse = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

const twilioConfig = (baseUrl = "https://api.twilio.test"): Twilio.TwilioConfig => ({
  accountSid: ACCOUNT,
  authToken: Redacted.make(TOKEN),
  from: "+14155552345",
  baseUrl
})

const vonageConfig: Vonage.VonageConfig = {
  apiKey: "abc123",
  apiSecret: Redacted.make(VONAGE_SECRET),
  from: "Acme",
  baseUrl: "https://rest.vonage.test"
}

const vonageAccepted = {
  "message-count": "1",
  messages: [{ to: "447700900123", "message-id": "0A0000000123ABCD1", status: "0", "remaining-balance": "3.14", "message-price": "0.03", network: "12345" }]
}

describe("a user-provided HttpClient", () => {
  it.effect("Twilio.make sends through the client in the context, no server needed", () =>
    Effect.gen(function*() {
      const mock = mockClient(() => jsonResponse(201, { sid: "SM123", status: "queued" }))
      const transport = yield* Effect.provide(Twilio.make(twilioConfig()), mock.layer)
      const result = yield* transport.submit(submission)
      assert.strictEqual(result.providerMessageId, "SM123")
      assert.strictEqual(mock.sent.length, 1)
      const sent = mock.sent[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `https://api.twilio.test/2010-04-01/Accounts/${ACCOUNT}/Messages.json`)
      assert.strictEqual(sent.headers["content-type"], "application/x-www-form-urlencoded")
      assert.match(sent.headers["authorization"] ?? "", /^Basic /)
      assert.strictEqual(new URLSearchParams(sent.body).get("To"), "+447700900123")
    }))

  it.effect("Twilio.layer takes the client from the layers it is given; error answers classify as before", () =>
    Effect.gen(function*() {
      const mock = mockClient(() => jsonResponse(429, { code: 20429, message: "Too Many Requests", status: 429 }))
      const error = yield* Effect.gen(function*() {
        const transport = yield* Transport.Transport
        return yield* Effect.flip(transport.submit(submission))
      }).pipe(Effect.provide(Twilio.layer(twilioConfig()).pipe(Layer.provide(mock.layer))))
      assert.strictEqual(error.reason._tag, "Throttled")
      assert.strictEqual(mock.sent.length, 1)
    }))

  it.effect("Vonage.make and Vonage.layer send through the provided client", () =>
    Effect.gen(function*() {
      const mock = mockClient(() => jsonResponse(200, vonageAccepted))
      const transport = yield* Effect.provide(Vonage.make(vonageConfig), mock.layer)
      assert.strictEqual((yield* transport.submit(submission)).providerMessageId, "0A0000000123ABCD1")
      const viaLayer = yield* Effect.gen(function*() {
        return yield* (yield* Transport.Transport).submit(submission)
      }).pipe(Effect.provide(Vonage.layer(vonageConfig).pipe(Layer.provide(mock.layer))))
      assert.strictEqual(viaLayer.providerMessageId, "0A0000000123ABCD1")
      assert.deepStrictEqual(mock.sent.map((s) => s.url), ["https://rest.vonage.test/sms/json", "https://rest.vonage.test/sms/json"])
      const form = new URLSearchParams(mock.sent[0]!.body)
      assert.strictEqual(form.get("api_key"), "abc123")
      assert.strictEqual(form.get("to"), "447700900123")
    }))

  it.effect("a client that fails is Unavailable, and the error carries no credential from the request", () =>
    Effect.gen(function*() {
      const client = HttpClient.make((request) =>
        Effect.fail(
          new HttpClientError.HttpClientError({
            reason: new HttpClientError.TransportError({ request, cause: new Error("connect ECONNREFUSED") })
          })
        )
      )
      const layer = Layer.succeed(HttpClient.HttpClient, client)
      const twilio = yield* Effect.provide(Twilio.make(twilioConfig()), layer)
      const vonage = yield* Effect.provide(Vonage.make(vonageConfig), layer)
      for (const transport of [twilio, vonage]) {
        const error = yield* Effect.flip(transport.submit(submission))
        assert.strictEqual(error.reason._tag, "Unavailable")
        const shown = `${JSON.stringify(error)} ${String(error)} ${error.message} ${JSON.stringify(error.reason)} ${
          String((error.reason as { cause?: unknown }).cause)
        }`
        for (const secret of [TOKEN, VONAGE_SECRET, Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")]) {
          assert.notInclude(shown, secret)
        }
      }
    }))

  it.effect("a client that never answers is a Timeout after the configured timeout, and the request is aborted", () =>
    Effect.gen(function*() {
      const signals: Array<AbortSignal> = []
      const arrived = yield* Deferred.make<void>()
      const client = HttpClient.make((_request, _url, signal) => {
        signals.push(signal)
        Deferred.doneUnsafe(arrived, Exit.void)
        return Effect.never
      })
      const transport = yield* Effect.provide(
        Twilio.make({ ...twilioConfig(), timeout: Duration.seconds(3) }),
        Layer.succeed(HttpClient.HttpClient, client)
      )
      const fiber = yield* Effect.forkChild(Effect.flip(transport.submit(submission)))
      yield* Deferred.await(arrived)
      yield* TestClock.adjust(Duration.millis(3001))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(signals.length, 1)
      assert.isTrue(signals[0]!.aborted)
    }))

  it.effect("a client with middleware (mapRequest) is honoured", () =>
    Effect.gen(function*() {
      const mock = mockClient(() => jsonResponse(201, { sid: "SM9" }))
      const withHeader = mock.client.pipe(HttpClient.mapRequest(HttpClientRequest.setHeader("x-proxy", "corp")))
      const transport = yield* Effect.provide(Twilio.make(twilioConfig()), Layer.succeed(HttpClient.HttpClient, withHeader))
      yield* transport.submit(submission)
      assert.strictEqual(mock.sent[0]!.headers["x-proxy"], "corp")
    }))
})

describe("trace propagation", () => {
  const traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/

  it.effect("the default (fetch) client sends traceparent with the current trace id", () =>
    Effect.gen(function*() {
      carrier.seen.length = 0
      carrier.handler = (_req, res) => json(res, 201, { sid: "SM1" })
      const transport = yield* Twilio.make(twilioConfig(carrier.baseUrl))
      const traceId = yield* Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        yield* transport.submit(submission)
        return span.traceId
      }).pipe(Effect.withSpan("app/sendCode"))
      const header = carrier.seen[0]!.headers["traceparent"]
      assert.isString(header)
      const match = traceparent.exec(header as string)
      assert.isNotNull(match)
      assert.strictEqual(match![1], traceId)
    }))

  it.effect("a provided client sees traceparent too (Tencent, inside a span)", () =>
    Effect.gen(function*() {
      const mock = mockClient(() =>
        jsonResponse(200, {
          Response: {
            SendStatusSet: [{ SerialNo: "5000:1045710669157053657849499619", PhoneNumber: "+447700900123", Fee: 1, SessionContext: "", Code: "Ok", Message: "send success", IsoCode: "GB" }],
            RequestId: "a0aabda6-cf91-4f3e-a81f-9198114a2279"
          }
        })
      )
      const transport = yield* Effect.provide(
        Tencent.make({
          secretId: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
          secretKey: Redacted.make("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
          sdkAppId: "1400006666",
          signName: "Acme",
          baseUrl: "https://sms.tencentcloudapi.test"
        }),
        mock.layer
      )
      const traceId = yield* Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        const exit = yield* Effect.exit(transport.submit({ ...submission, template: { id: "otp", version: 1, providerTemplateCode: "449739", variables: { "1": 123456 } } }))
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        return span.traceId
      }).pipe(Effect.withSpan("app/sendCode"))
      assert.strictEqual(traceparent.exec(mock.sent[0]!.headers["traceparent"] ?? "")?.[1], traceId)
    }))
})

describe("the http.client span", () => {
  it.effect("records no query value (Aliyun signs a GET query with the number and the text) and no header", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const client = HttpClient.make((request) =>
        Effect.map(Effect.orDie(Effect.currentSpan), (span) => {
          spans.push(span)
          return HttpClientResponse.fromWeb(request, jsonResponse(200, { Code: "OK", Message: "OK", BizId: "900619746936498440^0", RequestId: "F655A8D5" }))
        })
      )
      const transport = yield* Effect.provide(
        Aliyun.make({
          accessKeyId: "testid",
          accessKeySecret: Redacted.make("aliyun-secret-value"),
          signName: "Acme",
          baseUrl: "https://dysmsapi.aliyun.test"
        }),
        Layer.succeed(HttpClient.HttpClient, client)
      )
      const otp = { ...submission, text: "Your code is 987654", template: { id: "otp", version: 1, providerTemplateCode: "SMS_1", variables: { code: "987654" } } }
      yield* transport.submit(otp).pipe(Effect.withSpan("app/sendCode"))
      assert.strictEqual(spans.length, 1)
      const attributes = [...(spans[0]! as Tracer.Span & { attributes: ReadonlyMap<string, unknown> }).attributes]
      const shown = JSON.stringify(attributes)
      assert.include(shown, "dysmsapi.aliyun.test")
      for (const leak of ["987654", "7700900123", "testid", "aliyun-secret-value"]) assert.notInclude(shown, leak)
      assert.isFalse(attributes.some(([key]) => key.startsWith("http.request.header")))
    }))

  it.effect("a header the user asks spans to record shows as <redacted> when the transport set it (mapped HTTP, GET)", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const client = HttpClient.make((request) =>
        Effect.map(Effect.orDie(Effect.currentSpan), (span) => {
          spans.push(span)
          return HttpClientResponse.fromWeb(request, jsonResponse(200, { id: "m-1" }))
        })
      )
      const transport = yield* Effect.provide(
        HttpTransport.make({
          name: "gw",
          method: "GET",
          url: "https://gw.example.test/send",
          headers: { "x-auth-token": "header-secret-value" },
          fields: { to: "to", text: "text", key: { value: Redacted.make("query-secret-value") } },
          response: { messageId: "id" }
        }),
        Layer.succeed(HttpClient.HttpClient, client)
      )
      yield* transport.submit(submission).pipe(
        Effect.withSpan("app/send"),
        Effect.provideService(HttpClient.TracerHeaderFilter, () => true)
      )
      const attributes = new Map((spans[0]! as Tracer.Span & { attributes: ReadonlyMap<string, unknown> }).attributes)
      assert.strictEqual(attributes.get("http.request.header.x-auth-token"), "<redacted>")
      assert.strictEqual(attributes.get("http.request.header.accept"), "application/json")
      const shown = JSON.stringify([...attributes])
      for (const leak of ["header-secret-value", "query-secret-value", "7700900123", "123456"]) assert.notInclude(shown, leak)
    }))
})
