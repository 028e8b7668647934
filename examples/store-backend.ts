/**
 * A small store back end with Hono: Shopify order webhooks become logistics
 * notices in the customer's language, a carrier's tracking feed adds customs
 * and delivery scans, and sign-up is verified by SMS with per-IP and
 * per-device limits. The carrier is the Sandbox; the program plays Shopify,
 * the tracking feed and a shopper, prints what each got back, and exits 0.
 *
 *   POST /webhooks/shopify   signed by Shopify (X-Shopify-Hmac-Sha256)
 *   POST /tracking           { orderId, stage }  from your tracking provider
 *   POST /signup             { phone }           → { verificationId } or why not
 *   POST /signup/verify      { verificationId, code }
 *
 * Run: npm run build && node examples/store-backend.ts   (Node 22.6+ strips the types)
 */
import { serve } from "@hono/node-server"
import { Hono } from "hono"
import { createHmac } from "node:crypto"
import type { AddressInfo } from "node:net"
import { createSmsClient } from "smsforge"
import { createNotices, createSignup, noticeTemplates, OrderEvents, Signatures, webhookHandler } from "smsforge/commerce"
import { Sandbox } from "smsforge/testing"

const shopifySecret = "shpss_example_secret" // process.env.SHOPIFY_API_SECRET in a real app
const shop = "acme-demo.myshopify.com"

// ─── wiring ────────────────────────────────────────────────────────────────

const carrier = Sandbox.makeUnsafe()
// approved: true once your carriers approved the texts (China requires it)
const templates = noticeTemplates({ brand: "Acme", approved: true })
const client = createSmsClient({ transports: [carrier], templates })
const notices = createNotices({ client, templates })
const signup = createSignup({ client, pepper: "a-long-random-pepper", limits: { startsPerIp: { limit: 3, window: "1 hour" } } })

const app = new Hono()
const shopifyWebhooks = webhookHandler({ verifier: Signatures.shopify({ secret: shopifySecret }), notices })
app.post("/webhooks/shopify", (c) => shopifyWebhooks(c.req.raw))

app.post("/tracking", async (c) => {
  const { orderId, stage } = await c.req.json<{ orderId: string; stage: OrderEvents.Stage }>()
  const outcome = await notices.notify({ platform: "shopify", shop, orderId, orderName: `#${orderId}`, stage })
  return c.json(outcome)
})

// Behind a proxy you trust, the client's address is the forwarded one.
const who = (c: { req: { header: (name: string) => string | undefined } }) => ({
  ip: c.req.header("x-forwarded-for")?.split(",")[0]?.trim(),
  device: c.req.header("x-device-id")
})

app.post("/signup", async (c) => {
  const { phone } = await c.req.json<{ phone: string }>()
  const verdict = await signup.start({ to: phone, ...who(c) }).catch((e: { tag: string }) => ({ _tag: "Invalid", reason: e.tag }))
  return c.json(verdict, verdict._tag === "Sent" ? 202 : verdict._tag === "Invalid" ? 400 : 429)
})

app.post("/signup/verify", async (c) => {
  const { verificationId, code } = await c.req.json<{ verificationId: string; code: string }>()
  return c.json(await signup.check({ verificationId, code, ...who(c) }))
})

// ─── the program plays Shopify, the tracking feed and a shopper ────────────

const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 })
await new Promise<void>((resolve) => server.once("listening", () => resolve()))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

const shopify = (topic: string, payload: unknown, secret = shopifySecret) => {
  const body = JSON.stringify(payload)
  return fetch(`${base}/webhooks/shopify`, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-shopify-topic": topic,
      "x-shopify-shop-domain": shop,
      "x-shopify-hmac-sha256": createHmac("sha256", secret).update(body).digest("base64")
    }
  })
}
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } })

try {
  // Sign-up: a code, the right answer, then one IP trying many numbers
  const shopper = { "x-forwarded-for": "203.0.113.7", "x-device-id": "device-1" }
  const started = await (await post("/signup", { phone: "+447400123456" }, shopper)).json() as { verificationId: string }
  const code = /\d{6}/.exec(carrier.sent().at(-1)?.text ?? "")?.[0]
  const checked = await (await post("/signup/verify", { verificationId: started.verificationId, code }, shopper)).json() as { status: string }
  console.log(checked.status) // => approved
  await post("/signup", { phone: "+447400123457" }, shopper)
  await post("/signup", { phone: "+447400123458" }, shopper)
  const fourth = await post("/signup", { phone: "+447400123459" }, shopper)
  const refused = await fourth.json() as { _tag: string; scope: string; retryAfterMillis: number }
  console.log(fourth.status, refused._tag, refused.scope) // => 429 Refused ip

  // Orders: a German customer, and a French one in customs
  const order = { id: 5001, name: "#5001", customer_locale: "de", shipping_address: { phone: "01512 3456789", country_code: "DE" } }
  console.log((await shopify("orders/create", order)).status) // => 200
  // (the answer's outcome says what became of the notice: Sent, Duplicate, Stale or Skipped)
  const shipped = { id: 9001, order_id: 5001, name: "#5001.1", tracking_number: "00340434161094042557", tracking_company: "DHL" }
  await shopify("fulfillments/create", shipped)
  await shopify("fulfillments/create", shipped) // Shopify retries: no second text
  const late = await shopify("orders/paid", order) // arrives after shipping: too late to notify
  console.log(late.status, await late.json()) // => 200 { ok: true, outcome: 'Stale' }
  const delivered = await (await post("/tracking", { orderId: "5001", stage: "delivered" })).json() as { _tag: string }
  console.log(delivered._tag) // => Sent
  console.log(await (await post("/tracking", { orderId: "5001", stage: "out_for_delivery" })).json()) // => { _tag: 'Stale', stage: 'out_for_delivery' }

  await shopify("orders/create", { id: 6001, name: "#6001", shipping_address: { phone: "+33612345678", country_code: "FR" } })
  await post("/tracking", { orderId: "6001", stage: "in_customs" })

  const forged = await shopify("orders/create", order, "not-the-secret")
  console.log(forged.status, await forged.json()) // => 401 { error: 'InvalidSignature', field: 'X-Shopify-Hmac-Sha256' }

  for (const m of carrier.sent().filter((m) => m.template !== undefined)) console.log(m.to, m.text)
  // => +4915123456789 Acme: Ihre Bestellung #5001 ist eingegangen. Wir melden uns beim Versand.
  // => +4915123456789 Acme: Bestellung #5001 ist mit DHL unterwegs, Sendungsnummer 00340434161094042557.
  // => +4915123456789 Acme: Bestellung #5001 wurde zugestellt.
  // => +33612345678 Acme : votre commande #6001 est enregistrée. Nous vous écrirons à l'expédition.
  // => +33612345678 Acme : la commande #6001 est en dédouanement.
} finally {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await signup.close()
  await notices.close()
  await client.close()
}

// OrderEvents.stages lists the stages a notice moves through, in order.
console.log(OrderEvents.stages.join(" → "))
