import "@shopify/shopify-api/adapters/web-api"
import { ApiVersion, LogSeverity, shopifyApi } from "@shopify/shopify-api"
import { Redacted, Result } from "effect"
import fc from "fast-check"
import { createHmac, generateKeyPairSync, sign } from "node:crypto"
import { Signatures, webhookHandler, type WebhookOutcome } from "../commerce/index.ts"
import type { OrderEvents } from "../commerce/index.ts"
import { describe, expect, it } from "vitest"

const SECRET = "shpss_0123456789abcdef"
const NOW = Date.parse("2026-12-03T08:00:00Z")
const hmac = (secret: string, body: string | Uint8Array) => createHmac("sha256", secret).update(body).digest("base64")
const bytes = (s: string) => new TextEncoder().encode(s)

const shopifyHeaders = (signature: string | undefined, extra: Record<string, string> = {}) => {
  const h = new Headers({
    "x-shopify-topic": "orders/create",
    "x-shopify-shop-domain": "acme.myshopify.com",
    "x-shopify-api-version": "2025-07",
    "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    ...extra
  })
  if (signature !== undefined) h.set("x-shopify-hmac-sha256", signature)
  return h
}

const tagOf = <A>(r: Result.Result<A, { readonly _tag: string }>) => (Result.isSuccess(r) ? "ok" : r.failure._tag)

describe("Shopify", () => {
  const verifier = Signatures.shopify({ secret: SECRET })

  it("accepts a body signed with the secret, and refuses a changed body, another secret or no header", () => {
    const body = JSON.stringify({ id: 450789469, name: "#1001" })
    expect(tagOf(verifier.verify(bytes(body), shopifyHeaders(hmac(SECRET, body)), NOW))).toBe("ok")
    expect(tagOf(verifier.verify(bytes(body + " "), shopifyHeaders(hmac(SECRET, body)), NOW))).toBe("InvalidSignature")
    expect(tagOf(verifier.verify(bytes(body), shopifyHeaders(hmac("other", body)), NOW))).toBe("InvalidSignature")
    const missing = verifier.verify(bytes(body), shopifyHeaders(undefined), NOW)
    expect(Result.isFailure(missing) && missing.failure).toMatchObject({ _tag: "MissingHeader", header: "X-Shopify-Hmac-Sha256" })
  })

  it("checks the raw bytes: a body that is not UTF-8 verifies, then is refused as unreadable", () => {
    const raw = new Uint8Array([0x7b, 0xff, 0x7d])
    expect(tagOf(verifier.verify(raw, shopifyHeaders(hmac(SECRET, raw)), NOW))).toBe("UnreadableBody")
  })

  it("with maxAge, refuses a delivery triggered too long ago, and one without the time", () => {
    const fresh = Signatures.shopify({ secret: Redacted.make(SECRET), maxAge: 5 * 60_000 })
    const body = "{}"
    const at = (iso: string) => shopifyHeaders(hmac(SECRET, body), { "x-shopify-triggered-at": iso })
    expect(tagOf(fresh.verify(bytes(body), at("2026-12-03T07:58:00Z"), NOW))).toBe("ok")
    expect(tagOf(fresh.verify(bytes(body), at("2026-12-03T07:50:00Z"), NOW))).toBe("StaleTimestamp")
    expect(tagOf(fresh.verify(bytes(body), shopifyHeaders(hmac(SECRET, body)), NOW))).toBe("MissingHeader")
  })

  it("agrees with @shopify/shopify-api on every generated body and signature", async () => {
    const shopify = shopifyApi({
      apiKey: "key",
      apiSecretKey: SECRET,
      hostName: "localhost",
      apiVersion: ApiVersion.July25,
      isEmbeddedApp: false,
      logger: { level: LogSeverity.Error, log: async () => {} }
    })
    const signature = (body: string) =>
      fc.oneof(
        fc.constant(hmac(SECRET, body)),
        fc.constant(hmac(SECRET + "x", body)),
        fc.base64String({ minLength: 4, maxLength: 64 }),
        fc.nat({ max: 43 }).chain((i) => {
          const good = hmac(SECRET, body)
          return fc.constantFrom("A", "b", "+", "/", "=").map((c) => good.slice(0, i) + c + good.slice(i + 1))
        }),
        fc.constant(hmac(SECRET, body).replace(/=$/, ""))
      )
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary", minLength: 1, maxLength: 200 }).chain((body) => fc.tuple(fc.constant(body), signature(body))),
        async ([body, sig]) => {
          const headers = shopifyHeaders(sig)
          const ours = verifier.verify(bytes(body), headers, NOW)
          const oursAccepted = Result.isSuccess(ours) || (ours.failure._tag !== "InvalidSignature" && ours.failure._tag !== "MissingHeader")
          const request = new Request("https://example.com/webhooks/shopify", { method: "POST", body, headers })
          const theirs = await shopify.webhooks.validate({ rawBody: body, rawRequest: request })
          expect(oursAccepted).toBe(theirs.valid)
          expect(oursAccepted).toBe(sig === hmac(SECRET, body))
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe("WooCommerce", () => {
  const verifier = Signatures.woocommerce({ secret: "wc-secret" })
  const headers = (signature: string | undefined) => {
    const h = new Headers({ "x-wc-webhook-topic": "order.created", "x-wc-webhook-source": "https://shop.example/" })
    if (signature !== undefined) h.set("x-wc-webhook-signature", signature)
    return h
  }

  it("accepts exactly the bodies signed with the webhook's secret", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), fc.boolean(), (body, right) => {
        const sig = hmac(right ? "wc-secret" : "wc-other", body)
        const result = verifier.verify(bytes(body), headers(sig), NOW)
        const accepted = Result.isSuccess(result) || result.failure._tag === "UnreadableBody"
        expect(accepted).toBe(right)
      })
    )
  })

  it("answers WooCommerce's unsigned ping as a ping, and any other unsigned body as a missing header", () => {
    const ping = verifier.verify(bytes("webhook_id=17"), new Headers(), NOW)
    expect(Result.isSuccess(ping) && ping.success.ping).toBe(true)
    expect(tagOf(verifier.verify(bytes("{\"id\":1}"), headers(undefined), NOW))).toBe("MissingHeader")
  })
})

describe("BigCommerce", () => {
  const verifier = Signatures.bigcommerce({ secret: "bc-shared", header: "X-Acme-Hook", maxAge: 10 * 60_000 })
  const payload = (createdAt: number) =>
    JSON.stringify({ scope: "store/order/created", store_id: "1", producer: "stores/abcde", data: { type: "order", id: 250 }, hash: "3f9e", created_at: createdAt })

  it("accepts the shared header, refuses a wrong or missing one, and a stale created_at", () => {
    const body = payload(NOW / 1000 - 60)
    const h = (value?: string) => new Headers(value === undefined ? {} : { "x-acme-hook": value })
    const ok = verifier.verify(bytes(body), h("bc-shared"), NOW)
    expect(Result.isSuccess(ok) && ok.success).toMatchObject({ topic: "store/order/created", shop: "stores/abcde", deliveryId: "3f9e" })
    expect(tagOf(verifier.verify(bytes(body), h("bc-shared2"), NOW))).toBe("InvalidSignature")
    expect(tagOf(verifier.verify(bytes(body), h(), NOW))).toBe("MissingHeader")
    expect(tagOf(verifier.verify(bytes(payload(NOW / 1000 - 3600)), h("bc-shared"), NOW))).toBe("StaleTimestamp")
  })
})

describe("Adobe Commerce", () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
  const verifier = Signatures.adobeCommerce({ publicKey: publicKey.export({ type: "spki", format: "pem" }).toString() })
  const signAdobe = (body: string) => sign("sha256", Buffer.from(Buffer.from(body).toString("base64")), privateKey).toString("base64")

  it("accepts exactly the bodies signed with the admin's key pair", () => {
    const body = JSON.stringify({ eventName: "observer.sales_order_place_after", data: { order: { entity_id: 7 } } })
    const h = (sig: string) => new Headers({ "x-adobe-commerce-webhook-signature": sig })
    const ok = verifier.verify(bytes(body), h(signAdobe(body)), NOW)
    expect(Result.isSuccess(ok) && ok.success.topic).toBe("observer.sales_order_place_after")
    expect(tagOf(verifier.verify(bytes(body.replace("7", "8")), h(signAdobe(body)), NOW))).toBe("InvalidSignature")
    expect(tagOf(verifier.verify(bytes(body), h("not-a-signature"), NOW))).toBe("InvalidSignature")
    expect(tagOf(verifier.verify(bytes(body), new Headers(), NOW))).toBe("MissingHeader")
  })

  it("accepts a generated body exactly when the signature is over that body", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), fc.string({ unit: "binary", maxLength: 120 }), fc.boolean(), (body, different, same) => {
        const other = same ? body : different
        const sig = signAdobe(other)
        const result = verifier.verify(bytes(body), new Headers({ "x-adobe-commerce-webhook-signature": sig }), NOW)
        const accepted = Result.isSuccess(result) || result.failure._tag === "UnreadableBody"
        expect(accepted).toBe(Buffer.from(body).equals(Buffer.from(other)))
      }),
      { numRuns: 50 }
    )
  })
})

describe("configuration", () => {
  it("refuses an empty secret and a public key that does not parse, naming the field only", () => {
    expect(() => Signatures.shopify({ secret: "" })).toThrow(expect.objectContaining({ _tag: "InvalidVerifierConfig", platform: "shopify", field: "secret" }))
    expect(() => Signatures.woocommerce({ secret: Redacted.make("") })).toThrow(expect.objectContaining({ field: "secret" }))
    expect(() => Signatures.bigcommerce({ secret: "" })).toThrow(expect.objectContaining({ platform: "bigcommerce" }))
    expect(() => Signatures.adobeCommerce({ publicKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----" })).toThrow(
      expect.objectContaining({ _tag: "InvalidVerifierConfig", field: "publicKey" })
    )
  })
})

describe("webhookHandler", () => {
  const order = {
    id: 820982911946154500,
    name: "#1001",
    customer_locale: "de",
    shipping_address: { phone: "+49 1512 3456789", country_code: "DE", first_name: "Ada" }
  }
  const setup = (notify: (event: OrderEvents.OrderEvent) => Promise<unknown> = async () => undefined) => {
    const events: Array<OrderEvents.OrderEvent> = []
    const outcomes: Array<WebhookOutcome> = []
    const handler = webhookHandler({
      verifier: Signatures.shopify({ secret: SECRET }),
      notices: { notify: (e) => (events.push(e), notify(e)) },
      maxBodyBytes: 4096,
      onOutcome: (o) => outcomes.push(o)
    })
    return { handler, events, outcomes }
  }
  const post = (body: string, signature: string | undefined, topic = "orders/create") =>
    new Request("https://example.com/webhooks/shopify", { method: "POST", body, headers: shopifyHeaders(signature, { "x-shopify-topic": topic }) })

  it("hands a signed order to the notices as a placed event with the contact", async () => {
    const { handler, events, outcomes } = setup()
    const body = JSON.stringify(order)
    const response = await handler(post(body, hmac(SECRET, body)))
    expect(response.status).toBe(200)
    expect(events).toEqual([{
      platform: "shopify",
      shop: "acme.myshopify.com",
      orderId: "820982911946154500",
      orderName: "#1001",
      stage: "placed",
      contact: { phone: "+49 1512 3456789", country: "DE", locale: "de", name: "Ada" }
    }])
    expect(outcomes).toEqual([{ platform: "shopify", status: 200, outcome: "Accepted", topic: "orders/create" }])
  })

  it("refuses forged, unsigned, oversized and non-POST requests without echoing the input", async () => {
    const { handler, events } = setup()
    const body = JSON.stringify(order)
    const forged = await handler(post(body, hmac("guess", body)))
    expect(forged.status).toBe(401)
    const text = await forged.text()
    expect(JSON.parse(text)).toEqual({ error: "InvalidSignature", field: "X-Shopify-Hmac-Sha256" })
    expect(text).not.toContain("1512")
    expect((await handler(post(body, undefined))).status).toBe(401)
    const big = "x".repeat(5000)
    expect((await handler(post(big, hmac(SECRET, big)))).status).toBe(413)
    expect((await handler(new Request("https://example.com/", { method: "GET" }))).status).toBe(405)
    expect(events).toEqual([])
  })

  it("answers 200 Ignored for a topic without a notice, 503 for a retryable failure and 200 Refused for any other", async () => {
    const body = JSON.stringify(order)
    const ignored = setup()
    const r1 = await ignored.handler(post(body, hmac(SECRET, body), "products/update"))
    expect([r1.status, ignored.outcomes[0]?.outcome]).toEqual([200, "Ignored"])
    const retry = setup(() => Promise.reject({ _tag: "NoticeError", isRetryable: true }))
    expect((await retry.handler(post(body, hmac(SECRET, body)))).status).toBe(503)
    const refused = setup(() => Promise.reject({ _tag: "NoticeError", isRetryable: false }))
    const r3 = await refused.handler(post(body, hmac(SECRET, body)))
    expect([r3.status, refused.outcomes[0]?.outcome]).toEqual([200, "Refused"])
  })

  it("lets enrich complete BigCommerce's thin events, and answers 503 when the platform's API fails", async () => {
    const events: Array<OrderEvents.OrderEvent> = []
    let apiUp = true
    const handler = webhookHandler({
      verifier: Signatures.bigcommerce({ secret: "bc-shared" }),
      notices: { notify: async (e) => void events.push(e) },
      enrich: async (event) => {
        if (!apiUp) throw new Error("API down")
        // GET /v2/orders/{id} would give the phone, country and tracking here.
        return { ...event, orderName: `#${event.orderId}`, contact: { phone: "+447400123456", country: "GB" } }
      }
    })
    const body = JSON.stringify({ scope: "store/order/statusUpdated", producer: "stores/abcde", hash: "h1", data: { type: "order", id: 250, status: { previous_status_id: 11, new_status_id: 2 } } })
    const send = () => handler(new Request("https://example.com/", { method: "POST", body, headers: { "x-webhook-secret": "bc-shared" } }))
    expect((await send()).status).toBe(200)
    expect(events[0]).toMatchObject({ platform: "bigcommerce", shop: "stores/abcde", orderId: "250", orderName: "#250", stage: "fulfilled" })
    apiUp = false
    expect((await send()).status).toBe(503)
  })

  it("never rejects on hostile input", async () => {
    const { handler } = setup(() => Promise.reject(new Error("boom")))
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), fc.option(fc.string({ maxLength: 60 }), { nil: undefined }), async (body, sig) => {
        const headers = new Headers()
        if (sig !== undefined) {
          try {
            headers.set("x-shopify-hmac-sha256", sig)
          } catch {
            // not a valid header value: send none
          }
        }
        const response = await handler(new Request("https://example.com/", { method: "POST", body, headers }))
        expect([200, 400, 401, 413, 503]).toContain(response.status)
      }),
      { numRuns: 100 }
    )
  })
})
