/**
 * `smsforge dev --demo`: two online shops' traffic, wired as
 * `examples/store-backend.ts` wires a store with `smsforge/commerce`, so the
 * console fills with what a real store sends:
 * - signed platform webhooks (a Shopify shop and a WooCommerce one, each a
 *   tenant) through `webhookHandler`, becoming order notices in the
 *   customer's language; some delivered twice, as platforms retry, and a
 *   few forged, which are refused;
 * - tracking scans (in customs, out for delivery, delivered) from a
 *   tracking feed through `notify`; a late, out-of-order scan is stale and
 *   sends nothing;
 * - sign-ups through the `Signup` flow, with its per-IP limit, the code read
 *   off the fake phone and typed, sometimes wrongly first.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { createHmac, randomBytes } from "node:crypto"
import { Sms, type Templates, Verification } from "smsforge"
import {
  createNotices,
  createSignup,
  type Notices,
  noticeTemplates,
  type OrderEvents,
  Signatures,
  type Signup,
  type SignupFlow,
  webhookHandler
} from "smsforge/commerce"

/**
 * The store's notice templates, approved so region rules let them through.
 *
 * @category demo
 * @since 0.2.0
 */
export const templates: ReadonlyArray<Templates.TemplateDefinition> = [
  {
    id: "order-shipped",
    variables: { order: "string", carrier: "string" },
    status: "approved",
    locales: {
      default: "[ShopLane] Your order {{order}} has shipped with {{carrier}}. Track it at shoplane.example/t/{{order}}",
      de: "[ShopLane] Ihre Bestellung {{order}} wurde mit {{carrier}} versandt. Sendungsverfolgung: shoplane.example/t/{{order}}",
      es: "[ShopLane] Tu pedido {{order}} ha salido con {{carrier}}. Síguelo en shoplane.example/t/{{order}}",
      "zh-CN": "【闪购】您的订单{{order}}已由{{carrier}}发出，查询物流请访问 shoplane.example/t/{{order}}"
    }
  },
  {
    id: "order-customs",
    variables: { order: "string" },
    status: "approved",
    locales: {
      default: "[ShopLane] Order {{order}} is in customs clearance. No action is needed; we will text you when it moves on.",
      de: "[ShopLane] Bestellung {{order}} ist in der Zollabfertigung. Sie müssen nichts tun.",
      es: "[ShopLane] El pedido {{order}} está en aduanas. No tienes que hacer nada.",
      "zh-CN": "【闪购】您的订单{{order}}正在清关，无需任何操作，放行后我们会短信通知您。"
    }
  },
  {
    id: "order-out-for-delivery",
    variables: { order: "string", window: "string" },
    status: "approved",
    locales: {
      default: "[ShopLane] Order {{order}} is out for delivery today, {{window}}.",
      de: "[ShopLane] Bestellung {{order}} wird heute zugestellt, {{window}}.",
      es: "[ShopLane] El pedido {{order}} se entrega hoy, {{window}}.",
      "zh-CN": "【闪购】您的订单{{order}}今天{{window}}派送，请保持电话畅通。"
    }
  }
]

/**
 * The order notices the demo shops send: `smsforge/commerce`'s templates in
 * six languages, approved.
 *
 * @category demo
 * @since 0.3.0
 */
export const storeTemplates: ReadonlyArray<Templates.TemplateDefinition> = noticeTemplates({ brand: "ShopLane", approved: true })

interface Shopper {
  readonly phone: string
  readonly country: string
  readonly locale: string
}

// Numbers from ranges that are valid mobiles in each plan, some written as the shopper typed them.
const shoppers: ReadonlyArray<Shopper> = [
  ...["+447400123401", "07400 123402", "+447911234567"].map((phone) => ({ phone, country: "GB", locale: "en-GB" })),
  ...["+4915112345671", "0151 12345672", "+4917612345673"].map((phone) => ({ phone, country: "DE", locale: "de" })),
  ...["+34612345671", "+34612345672"].map((phone) => ({ phone, country: "ES", locale: "es" })),
  ...["+33612345671", "+33612345672"].map((phone) => ({ phone, country: "FR", locale: "fr" })),
  ...["+819012345671"].map((phone) => ({ phone, country: "JP", locale: "ja" })),
  ...["+8613800138001", "+8613900139002"].map((phone) => ({ phone, country: "CN", locale: "zh-CN" }))
]

const pickOne = <A>(items: ReadonlyArray<A>): A => items[Math.floor(Math.random() * items.length)]!

interface Shop {
  readonly tenant: string
  readonly platform: "shopify" | "woocommerce"
  readonly domain: string
  readonly secret: string
}

const shops: ReadonlyArray<Shop> = [
  { tenant: "shoplane", platform: "shopify", domain: "shoplane.myshopify.com", secret: randomBytes(24).toString("hex") },
  { tenant: "northwind", platform: "woocommerce", domain: "https://northwind.example", secret: randomBytes(24).toString("hex") }
]

/** An order the demo walks through its stages, one step at a time. */
interface Order {
  readonly shop: Shop
  readonly id: number
  readonly shopper: Shopper
  step: number
}

// What a platform posts, signed as it signs: the body and its headers.
const webhook = (shop: Shop, topic: string, payload: unknown, forged = false): Request => {
  const body = JSON.stringify(payload)
  const signature = createHmac("sha256", forged ? "not-the-secret" : shop.secret).update(body).digest("base64")
  const headers: Record<string, string> = shop.platform === "shopify"
    ? { "x-shopify-topic": topic, "x-shopify-shop-domain": shop.domain, "x-shopify-hmac-sha256": signature }
    : { "x-wc-webhook-topic": topic, "x-wc-webhook-source": shop.domain, "x-wc-webhook-signature": signature }
  return new Request("http://demo/webhooks", { method: "POST", body, headers: { "content-type": "application/json", ...headers } })
}

const placedTopic = (shop: Shop) => (shop.platform === "shopify" ? "orders/create" : "order.created")

const placedPayload = (order: Order): unknown =>
  order.shop.platform === "shopify"
    ? {
      id: order.id,
      name: `#${order.id}`,
      customer_locale: order.shopper.locale,
      shipping_address: { phone: order.shopper.phone, country_code: order.shopper.country }
    }
    : { id: order.id, number: String(order.id), status: "pending", billing: { phone: order.shopper.phone, country: order.shopper.country } }

const carrierOf = (country: string) =>
  ({ GB: "Royal Mail", DE: "DHL", ES: "Correos", FR: "La Poste", JP: "Yamato", CN: "SF Express" } as Record<string, string>)[country] ?? "DHL"

const trackingNumber = () => String(Math.floor(1e11 + Math.random() * 9e11))

const fulfilledPayload = (order: Order): unknown =>
  order.shop.platform === "shopify"
    ? { id: order.id * 10 + 1, order_id: order.id, name: `#${order.id}.1`, tracking_number: trackingNumber(), tracking_company: carrierOf(order.shopper.country) }
    : {
      id: order.id,
      number: String(order.id),
      status: "completed",
      billing: { phone: order.shopper.phone, country: order.shopper.country },
      meta_data: [{ key: "_wc_shipment_tracking_items", value: [{ tracking_number: trackingNumber(), tracking_provider: carrierOf(order.shopper.country) }] }]
    }

// Each order's steps: the platform's webhooks, then the tracking feed's scans
// (customs only for a parcel that crosses a border: the shops ship from the UK).
const stepsOf = (order: Order): ReadonlyArray<{ readonly topic: string; readonly payload: () => unknown } | OrderEvents.Stage> => [
  { topic: placedTopic(order.shop), payload: () => placedPayload(order) },
  { topic: order.shop.platform === "shopify" ? "fulfillments/create" : "order.updated", payload: () => fulfilledPayload(order) },
  ...(order.shopper.country === "GB" ? [] : ["in_customs" as const]),
  "out_for_delivery",
  "delivered"
]

const CODE = /(?<!\d)(\d{4,10})(?!\d)/

const pause = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

// A sign-up from one of a few networks, so the per-IP limit refuses a burst
// from one of them. The code is read off the fake phone (the Sandbox's last
// text to that number), as a person reads it; sometimes typed wrongly first,
// sometimes never (the verification then expires). China's default region
// rules want an approved template for every SMS, which a code cannot name
// yet: Chinese shoppers get notices only.
const signUp = async (signup: SignupFlow, lastTextTo: (to: string) => string | undefined) => {
  const shopper = pickOne(shoppers.filter((s) => s.phone.startsWith("+") && s.country !== "CN"))
  const ip = `203.0.113.${1 + Math.floor(Math.random() * 4)}`
  const started = await signup.start({ to: shopper.phone, ip, device: `device-${Math.floor(Math.random() * 50)}`, locale: shopper.locale })
  if (started._tag !== "Sent" || Math.random() < 0.1) return
  await pause(1_000 + Math.floor(Math.random() * 3_000))
  if (Math.random() < 0.2) await signup.check({ verificationId: started.verificationId, code: "000000", ip })
  const code = CODE.exec(lastTextTo(shopper.phone) ?? "")?.[1]
  if (code !== undefined) await signup.check({ verificationId: started.verificationId, code, ip })
}

/**
 * Runs the demo until interrupted: about one event a second.
 *
 * @category demo
 * @since 0.2.0
 */
export const run = (lastTextTo: (to: string) => string | undefined) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<Sms.Sms | Verification.Verification>()
    const sms = Context.get(context, Sms.Sms)
    const verification = Context.get(context, Verification.Verification)
    const runPromise = Effect.runPromiseWith(context)

    // The shops reach the pipeline through the same narrow clients a store's back end gives commerce.
    const noticeClient = (tenant: string): Notices.NoticeClient => ({
      // rejects with the reason, as the Promise client does, so commerce reads its tag and whether it is retryable
      send: (request) => runPromise(Effect.mapError(sms.send({ ...request, tenant }), (error) => error.reason))
    })
    const stores = shops.map((shop) => {
      const notices = createNotices({ client: noticeClient(shop.tenant), templates: storeTemplates })
      const verifier = shop.platform === "shopify" ? Signatures.shopify({ secret: shop.secret }) : Signatures.woocommerce({ secret: shop.secret })
      return { shop, notices, handle: webhookHandler({ verifier, notices }) }
    })
    const storeOf = (shop: Shop) => stores.find((s) => s.shop === shop)!
    const signupClient: Signup.SignupClient = {
      verify: {
        start: (request) => runPromise(Effect.mapError(verification.start({ ...request, tenant: "shoplane" }), (error) => error.reason)),
        check: (request) => runPromise(Effect.mapError(verification.check({ ...request, tenant: "shoplane" }), (error) => error.reason))
      }
    }
    const signup = createSignup({
      client: signupClient,
      pepper: randomBytes(32).toString("hex"),
      limits: { startsPerIp: { limit: 3, window: "2 minutes" } }
    })
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => Promise.all([signup.close(), ...stores.map((s) => s.notices.close())]))
    )

    const open: Array<Order> = []
    let nextId = 5_000 + Math.floor(Math.random() * 1_000)

    const advance = async (order: Order) => {
      const store = storeOf(order.shop)
      const step = stepsOf(order)[order.step++]
      if (step === undefined) return
      if (typeof step === "string") {
        await store.notices.notify({ platform: order.shop.platform, shop: order.shop.domain, orderId: String(order.id), orderName: `#${order.id}`, stage: step })
        return
      }
      const payload = step.payload()
      await store.handle(webhook(order.shop, step.topic, payload))
      // Platforms deliver at least once: a retried webhook sends nothing twice.
      if (Math.random() < 0.15) await store.handle(webhook(order.shop, step.topic, payload))
    }

    const orderStep = async () => {
      if (open.length < 6 || Math.random() < 0.3) {
        open.push({ shop: pickOne(shops), id: nextId++, shopper: pickOne(shoppers), step: 0 })
      }
      const order = pickOne(open)
      await advance(order)
      if (order.step >= stepsOf(order).length) open.splice(open.indexOf(order), 1)
      const roll = Math.random()
      if (roll < 0.05) {
        // a late scan, out of order: stale, nothing sent
        await storeOf(order.shop).notices.notify({ platform: order.shop.platform, shop: order.shop.domain, orderId: String(order.id), stage: "fulfilled" })
      } else if (roll < 0.08) {
        // someone posting as the platform without its secret: refused 401
        await storeOf(order.shop).handle(webhook(order.shop, placedTopic(order.shop), placedPayload(order), true))
      }
    }

    const step = Effect.suspend(() =>
      Math.random() < 0.35
        ? Effect.asVoid(Effect.forkChild(Effect.ignore(Effect.tryPromise(() => signUp(signup, lastTextTo)))))
        : Effect.ignore(Effect.tryPromise(orderStep))
    )
    yield* Effect.repeat(
      Effect.andThen(step, Effect.suspend(() => Effect.sleep(`${400 + Math.floor(Math.random() * 1_000)} millis`))),
      Schedule.forever
    )
  })
