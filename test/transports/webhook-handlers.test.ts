// The Web-standard webhook handlers: signed requests reach the Promise client,
// forged ones are 403, malformed ones 400, and no input makes them reject.
import { afterEach, assert, describe, it } from "vitest"
import fc from "fast-check"
import { createSmsClient, type SmsClient } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { getExpectedTwilioSignature } from "twilio/lib/webhooks/webhooks.js"
import * as Aliyun from "../../transports/aliyun/index.ts"
import * as Tencent from "../../transports/tencent/index.ts"
import * as Twilio from "../../transports/twilio/index.ts"
import * as Vonage from "../../transports/vonage/index.ts"

const TWILIO_TOKEN = "s3cr3t-auth-token-value"
const VONAGE_SECRET = "vonage-signature-secret"
const UK = "+447400123456"

let client: SmsClient | undefined
afterEach(async () => {
  await client?.close()
  client = undefined
})

/** A real client whose only carrier has the transport's name, and one message sent through it. */
const setup = async (name: string) => {
  const sandbox = Sandbox.makeUnsafe({ name })
  client = createSmsClient({ transports: [sandbox] })
  const receipt = await client.send({ to: UK, text: "Your parcel has shipped" })
  return { client, sandbox, receipt, providerMessageId: receipt.providerMessageId! }
}

/** Records what a handler hands over. */
const recorder = () => {
  const receipts: Array<Twilio.WebhookReceipt> = []
  const replies: Array<Twilio.WebhookInbound> = []
  return {
    receipts,
    replies,
    client: {
      deliveryReceipt: async (r: Twilio.WebhookReceipt) => void receipts.push(r),
      inbound: async (m: Twilio.WebhookInbound) => void replies.push(m)
    }
  }
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString()

const twilioRequest = (url: string, params: Record<string, string>, signature?: string) =>
  new Request(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": signature ?? getExpectedTwilioSignature(TWILIO_TOKEN, url, params)
    },
    body: form(params)
  })

const stopsMarketing = async (c: SmsClient, to: string) => {
  const refused = await c.send({ to, text: "Sale!", purpose: "marketing" }).then(() => undefined, (e: { _tag: string }) => e)
  assert.oneOf(refused?._tag, ["OptedOut", "ConsentRequired"])
}

/** Hostile bodies: arbitrary text, JSON values, forms with odd names. */
const hostileBody = fc.oneof(
  fc.string(),
  fc.json(),
  fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("MessageStatus[a]", "status", "sig", "timestamp", "biz_id", "text", "__proto__")), fc.string())
    .map((d) => new URLSearchParams(d).toString()),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("latin1"))
)
const hostileType = fc.constantFrom("application/x-www-form-urlencoded", "application/json", "text/plain", "", "multipart/form-data")
const hostileMethod = fc.constantFrom("POST", "GET", "PUT")

/** Runs a handler over hostile requests: it always answers, never 2xx for a forged signed webhook, never echoes the input. */
const neverThrows = (handler: (request: Request) => Promise<Response>, signed: boolean) =>
  fc.assert(
    fc.asyncProperty(hostileBody, hostileType, hostileMethod, fc.string(), async (body, type, method, query) => {
      const request = new Request(`https://hooks.example.com/sms?q=${encodeURIComponent(query)}`, {
        method,
        headers: type === "" ? {} : { "content-type": type, "x-twilio-signature": "forged" },
        ...(method === "GET" ? {} : { body })
      })
      const response = await handler(request)
      assert.isAtLeast(response.status, 200)
      if (signed) assert.isAtLeast(response.status, 400)
      const text = await response.text()
      if (response.status >= 400 && body.length > 3 && !/^[\s\w().:"{},-]*$/.test(body)) assert.notInclude(text, body)
    }),
    { numRuns: 150 }
  )

describe("Twilio.webhookHandler", () => {
  const url = "https://hooks.example.com/twilio/sms"

  it("a signed status callback reaches the client: the message is delivered", async () => {
    const { client, providerMessageId, receipt } = await setup("twilio")
    const handler = Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client })
    const response = await handler(twilioRequest(url, { MessageSid: providerMessageId, MessageStatus: "delivered", AccountSid: "AC1" }))
    assert.strictEqual(response.status, 200)
    assert.match(response.headers.get("content-type") ?? "", /^text\/xml/)
    assert.match(await response.text(), /<Response\/>$/)
    assert.strictEqual((await client.get(receipt.id)).status, "delivered")
  })

  it("a signed inbound STOP opts the sender out", async () => {
    const { client, sandbox } = await setup("twilio")
    const handler = Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client })
    const params = { MessageSid: "SM1", SmsStatus: "received", From: UK, To: "+447700900000", Body: "STOP" }
    const response = await handler(twilioRequest(url, params))
    assert.strictEqual(response.status, 200)
    assert.strictEqual(sandbox.sent().at(-1)?.to, UK) // the opt-out confirmation
    await stopsMarketing(client, UK)
  })

  it("GET webhooks and a public URL behind a proxy verify", async () => {
    const rec = recorder()
    const publicUrl = "https://public.example.com:8443/twilio/sms?MessageSid=SM2&MessageStatus=failed&ErrorCode=30003"
    // Twilio signs without the port; the server sees its own address
    const signature = getExpectedTwilioSignature(TWILIO_TOKEN, publicUrl.replace(":8443", ""), {})
    const seen = "http://127.0.0.1:3000/twilio/sms?MessageSid=SM2&MessageStatus=failed&ErrorCode=30003"
    const handler = Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client: rec.client, publicUrl: "https://public.example.com:8443" })
    const response = await handler(new Request(seen, { headers: { "x-twilio-signature": signature } }))
    assert.strictEqual(response.status, 200)
    assert.deepStrictEqual(rec.receipts.map((r) => [r.providerMessageId, r.status, r.errorCode]), [["SM2", "failed", "30003"]])
    // without the public URL, the same request does not verify
    const direct = Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client: rec.client })
    assert.strictEqual((await direct(new Request(seen, { headers: { "x-twilio-signature": signature } }))).status, 403)
    const byFunction = Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client: rec.client, publicUrl: () => publicUrl })
    assert.strictEqual((await byFunction(new Request(seen, { headers: { "x-twilio-signature": signature } }))).status, 200)
  })

  it("a bad signature is 403, malformed 400, a rejecting client 500; bodies name the reason, not the input", async () => {
    const rec = recorder()
    const handler = Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client: rec.client })
    const params = { MessageSid: "SM3", MessageStatus: "delivered" }
    const forged = await handler(twilioRequest(url, params, getExpectedTwilioSignature("other-token", url, params)))
    assert.strictEqual(forged.status, 403)
    assert.strictEqual(await forged.text(), "InvalidSignature (X-Twilio-Signature)")
    const unsigned = await handler(new Request(url, { method: "POST", body: form(params) }))
    assert.strictEqual(unsigned.status, 403)
    const odd = { MessageSid: "SM4", MessageStatus: "secret-status-word" }
    const malformed = await handler(twilioRequest(url, odd))
    assert.strictEqual(malformed.status, 400)
    assert.notInclude(await malformed.text(), "secret-status-word")
    assert.strictEqual((await handler(new Request(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))).status, 400)
    assert.strictEqual(rec.receipts.length, 0)
    const failing = Twilio.webhookHandler({
      authToken: TWILIO_TOKEN,
      client: { deliveryReceipt: () => Promise.reject(new Error(`+447400123456 ${TWILIO_TOKEN}`)), inbound: async () => undefined }
    })
    const failed = await failing(twilioRequest(url, params))
    assert.strictEqual(failed.status, 500)
    assert.notInclude(await failed.text(), TWILIO_TOKEN)
  })

  it("a body over maxBodyBytes is 413; onOutcome hears every answer", async () => {
    const outcomes: Array<Twilio.WebhookOutcome> = []
    const handler = Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client: recorder().client, maxBodyBytes: 64, onOutcome: (o) => outcomes.push(o) })
    const big = await handler(new Request(url, { method: "POST", body: "a=" + "x".repeat(200) }))
    assert.strictEqual(big.status, 413)
    assert.deepStrictEqual(outcomes.map((o) => [o.status, o.outcome]), [[413, "TooLarge"]])
  })

  it("hostile requests never make it reject", () => neverThrows(Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client: recorder().client }), true))
})

describe("Vonage.webhookHandler", () => {
  const url = "https://hooks.example.com/vonage"
  const signed = (params: Record<string, string>) => {
    const all = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) }
    return { ...all, sig: Vonage.computeSignature(VONAGE_SECRET, all, "sha256") }
  }
  const options = { signatureSecret: VONAGE_SECRET, signatureMethod: "sha256" as const }

  it("a signed receipt reaches the client: the message is delivered; its replay is 204 and not applied again", async () => {
    const { client, providerMessageId, receipt } = await setup("vonage")
    const calls: Array<string> = []
    const handler = Vonage.webhookHandler({
      ...options,
      client: { deliveryReceipt: (r) => (calls.push(r.status), client.deliveryReceipt(r)), inbound: (m) => client.inbound(m) }
    })
    const params = signed({ messageId: providerMessageId, status: "delivered", msisdn: "447400123456", to: "ACME", "err-code": "0" })
    const request = () =>
      new Request(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(params) })
    const response = await handler(request())
    assert.strictEqual(response.status, 204)
    assert.strictEqual((await client.get(receipt.id)).status, "delivered")
    assert.strictEqual((await handler(request())).status, 204)
    assert.deepStrictEqual(calls, ["delivered"])
  })

  it("a signed inbound STOP (GET) opts the sender out", async () => {
    const { client } = await setup("vonage")
    const handler = Vonage.webhookHandler({ ...options, client })
    const params = signed({ msisdn: "447400123456", to: "447700900000", messageId: "0A1", text: "STOP", type: "text" })
    const response = await handler(new Request(`${url}?${form(params)}`))
    assert.strictEqual(response.status, 204)
    await stopsMarketing(client, UK)
  })

  it("a webhook the client rejected is applied on Vonage's retry", async () => {
    let fail = true
    const rec = recorder()
    const handler = Vonage.webhookHandler({
      ...options,
      client: { ...rec.client, deliveryReceipt: async (r) => fail ? Promise.reject(new Error("down")) : rec.client.deliveryReceipt(r) }
    })
    const body = form(signed({ messageId: "M1", status: "delivered" }))
    const post = () => new Request(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })
    assert.strictEqual((await handler(post())).status, 500)
    fail = false
    assert.strictEqual((await handler(post())).status, 204)
    assert.strictEqual(rec.receipts.length, 1)
  })

  it("a POST is read from its body only: a query on the callback URL is not Vonage's", async () => {
    const rec = recorder()
    const handler = Vonage.webhookHandler({ ...options, client: rec.client })
    const body = JSON.stringify(signed({ messageId: "M5", status: "expired" }))
    const response = await handler(
      new Request(`${url}?token=k3y&status=delivered`, { method: "POST", headers: { "content-type": "application/json" }, body })
    )
    assert.strictEqual(response.status, 204)
    assert.deepStrictEqual(rec.receipts.map((r) => r.status), ["expired"])
  })

  it("a bad signature is 403, malformed 400", async () => {
    const rec = recorder()
    const handler = Vonage.webhookHandler({ ...options, client: rec.client })
    const forged = { ...signed({ messageId: "M2", status: "delivered" }), status: "failed" }
    const response = await handler(new Request(`${url}?${form(forged)}`))
    assert.strictEqual(response.status, 403)
    assert.strictEqual(await response.text(), "InvalidSignature (sig)")
    const stale = { messageId: "M3", status: "delivered", timestamp: "1000000000" }
    const old = await handler(new Request(`${url}?${form({ ...stale, sig: Vonage.computeSignature(VONAGE_SECRET, stale, "sha256") })}`))
    assert.strictEqual(old.status, 403)
    const malformed = await handler(new Request(`${url}?${form(signed({ messageId: "M4", status: "sekrit" }))}`))
    assert.strictEqual(malformed.status, 400)
    assert.notInclude(await malformed.text(), "sekrit")
    assert.strictEqual((await handler(new Request(url, { method: "POST", headers: { "content-type": "application/json" }, body: "[1" }))).status, 400)
    assert.strictEqual(rec.receipts.length + rec.replies.length, 0)
  })

  it("hostile requests never make it reject", () => neverThrows(Vonage.webhookHandler({ ...options, client: recorder().client }), true))
})

describe("Aliyun.webhookHandler", () => {
  const url = "https://hooks.example.com/aliyun/k3y"
  const post = (body: unknown) =>
    new Request(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

  it("an SmsReport push reaches the client and is answered {code:0}", async () => {
    const { client, providerMessageId, receipt } = await setup("aliyun")
    const handler = Aliyun.webhookHandler({ client })
    const response = await handler(post([{
      phone_number: "447400123456",
      send_time: "2017-01-01 11:12:13",
      report_time: "2017-02-02 22:23:24",
      success: true,
      err_code: "DELIVERED",
      biz_id: providerMessageId
    }]))
    assert.strictEqual(response.status, 200)
    assert.deepStrictEqual(await response.json(), { code: 0, msg: "成功" })
    assert.strictEqual((await client.get(receipt.id)).status, "delivered")
  })

  it("an SmsUp STOP opts the sender out", async () => {
    const { client } = await setup("aliyun")
    const handler = Aliyun.webhookHandler({ client })
    const response = await handler(post([{ phone_number: "447400123456", send_time: "2017-01-01 11:12:13", content: "STOP", sign_name: "ACME", dest_code: "1234", sequence_id: 7 }]))
    assert.strictEqual(response.status, 200)
    await stopsMarketing(client, UK)
  })

  it("authorize refusing is 403, malformed 400, and the body names the field only", async () => {
    const rec = recorder()
    const handler = Aliyun.webhookHandler({ client: rec.client, authorize: (r) => new URL(r.url).pathname.endsWith("/k3y") })
    const refused = await Aliyun.webhookHandler({ client: rec.client, authorize: () => false })(post([]))
    assert.strictEqual(refused.status, 403)
    const malformed = await handler(post([{ success: true, err_code: "13800138000" }]))
    assert.strictEqual(malformed.status, 400)
    assert.deepStrictEqual(await malformed.json(), { code: 400, msg: "MalformedWebhook (biz_id)" })
    assert.strictEqual((await handler(new Request(url, { method: "POST", body: "not json" }))).status, 400)
    assert.strictEqual(rec.receipts.length + rec.replies.length, 0)
  })

  it("hostile requests never make it reject", () => neverThrows(Aliyun.webhookHandler({ client: recorder().client }), false))
})

describe("Tencent.webhookHandler", () => {
  const url = "https://hooks.example.com/tencent/k3y"
  const post = (body: unknown) =>
    new Request(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

  it("a status report reaches the client and is answered {result:0}", async () => {
    const { client, providerMessageId, receipt } = await setup("tencent")
    const handler = Tencent.webhookHandler({ client })
    const response = await handler(post([{ user_receive_time: "2015-10-17 08:03:04", nationcode: "44", mobile: "7400123456", report_status: "SUCCESS", errmsg: "DELIVRD", sid: providerMessageId }]))
    assert.strictEqual(response.status, 200)
    assert.deepStrictEqual(await response.json(), { result: 0, errmsg: "OK" })
    assert.strictEqual((await client.get(receipt.id)).status, "delivered")
  })

  it("a reply STOP opts the sender out", async () => {
    const { client } = await setup("tencent")
    const handler = Tencent.webhookHandler({ client })
    const response = await handler(post({ extend: "", mobile: "7400123456", nationcode: "44", sign: "ACME", text: "STOP", time: 1544516180 }))
    assert.strictEqual(response.status, 200)
    await stopsMarketing(client, UK)
  })

  it("authorize refusing is 403, malformed 400", async () => {
    const rec = recorder()
    const refused = await Tencent.webhookHandler({ client: rec.client, authorize: async () => false })(post([]))
    assert.strictEqual(refused.status, 403)
    const handler = Tencent.webhookHandler({ client: rec.client })
    const malformed = await handler(post([{ sid: "1", report_status: "MAYBE" }]))
    assert.strictEqual(malformed.status, 400)
    assert.deepStrictEqual(await malformed.json(), { result: 400, errmsg: "MalformedWebhook (report_status)" })
    assert.strictEqual(rec.receipts.length + rec.replies.length, 0)
  })

  it("hostile requests never make it reject", () => neverThrows(Tencent.webhookHandler({ client: recorder().client }), false))
})

describe("a handler that cannot read the request", () => {
  it("answers instead of rejecting", async () => {
    const handler = Twilio.webhookHandler({ authToken: TWILIO_TOKEN, client: recorder().client })
    const broken = new Proxy({}, { get: () => { throw new Error("boom +447400123456") } }) as Request
    const response = await handler(broken)
    assert.strictEqual(response.status, 500)
    assert.notInclude(await response.text(), "+447400123456")
  })
})

