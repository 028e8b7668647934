/**
 * Order and tracking events as the notices read them, and what each
 * platform's verified webhook says in those terms.
 *
 * **Details**
 * - A stage moves only forward: `placed` → `paid` → `fulfilled` →
 *   `in_transit` → `in_customs` → `out_for_delivery` → `delivered`.
 *   `exception` is beside the line: it may come at any stage before
 *   `delivered`, once per event id.
 * - Shopify: `orders/create` (placed), `orders/paid` (paid),
 *   `fulfillments/create` (fulfilled, with tracking) and
 *   `fulfillment_events/create` (in transit, out for delivery, delivered,
 *   failure → exception). WooCommerce: `order.created` (placed) and
 *   `order.updated` (`processing` → paid, `completed` → fulfilled, with the
 *   Shipment Tracking plugin's number when present). BigCommerce sends ids
 *   only: `store/order/created` (placed) and `store/order/statusUpdated`
 *   (11 Awaiting Fulfillment → paid, 2 Shipped → fulfilled); the contact and
 *   tracking come from your `enrich` callback. Adobe Commerce:
 *   `observer.sales_order_place_after` (placed),
 *   `observer.sales_order_invoice_pay` (paid) and
 *   `observer.sales_order_shipment_save_after` (fulfilled).
 * - Customs scans come from a carrier's or tracker's own feed (AfterShip,
 *   17TRACK …): hand them to `Notices.notify` as `in_customs` events.
 *
 * @since 0.3.0
 */
import type { Delivery, Platform } from "./Signatures.ts"
import { idOf, isRecord, text } from "./internal/http.ts"

// models

/**
 * Where an order is.
 *
 * @category models
 * @since 0.3.0
 */
export type Stage =
  | "placed"
  | "paid"
  | "fulfilled"
  | "in_transit"
  | "in_customs"
  | "out_for_delivery"
  | "delivered"
  | "exception"

/**
 * The stages in order; `exception` has no rank.
 *
 * @category models
 * @since 0.3.0
 */
export const stages: ReadonlyArray<Exclude<Stage, "exception">> = [
  "placed",
  "paid",
  "fulfilled",
  "in_transit",
  "in_customs",
  "out_for_delivery",
  "delivered"
]

/**
 * The rank of a stage in {@link stages}; `undefined` for `exception`.
 *
 * @category utils
 * @since 0.3.0
 */
export const rankOf = (stage: Stage): number | undefined => {
  const i = stages.indexOf(stage as Exclude<Stage, "exception">)
  return i === -1 ? undefined : i
}

/**
 * Whom to tell: the number as the platform holds it (national numbers are
 * read with `country`), the country (ISO 3166 alpha-2), the language and a
 * first name for the greeting.
 *
 * @category models
 * @since 0.3.0
 */
export interface Contact {
  readonly phone?: string | undefined
  readonly country?: string | undefined
  readonly locale?: string | undefined
  readonly name?: string | undefined
}

/**
 * @category models
 * @since 0.3.0
 */
export interface Tracking {
  readonly number?: string | undefined
  readonly carrier?: string | undefined
  readonly url?: string | undefined
}

/**
 * One event of one order.
 *
 * @category models
 * @since 0.3.0
 */
export interface OrderEvent {
  readonly platform: Platform | (string & {})
  /** The shop, so one order number in two shops are two orders. */
  readonly shop: string
  /** The platform's order id. */
  readonly orderId: string
  /** What the customer sees: `#1001`, `4750`. The id when absent. */
  readonly orderName?: string | undefined
  readonly stage: Stage
  /** Tells two exceptions of one order apart (a tracking event's id). */
  readonly eventId?: string | undefined
  readonly contact?: Contact | undefined
  readonly tracking?: Tracking | undefined
}

// normalising

const str = (v: unknown) => text(v, 200)

const shopifyContact = (order: Record<string, unknown>): Contact => {
  const shipping = isRecord(order.shipping_address) ? order.shipping_address : {}
  const billing = isRecord(order.billing_address) ? order.billing_address : {}
  const customer = isRecord(order.customer) ? order.customer : {}
  return {
    phone: str(shipping.phone) ?? str(order.phone) ?? str(customer.phone) ?? str(billing.phone),
    country: str(shipping.country_code) ?? str(billing.country_code),
    locale: str(order.customer_locale) ?? str(customer.locale),
    name: str(shipping.first_name) ?? str(customer.first_name)
  }
}

const SHOPIFY_EVENT: Readonly<Record<string, Stage>> = {
  in_transit: "in_transit",
  out_for_delivery: "out_for_delivery",
  delivered: "delivered",
  failure: "exception",
  attempted_delivery: "exception"
}

const fromShopify = (topic: string, shop: string, body: Record<string, unknown>): OrderEvent | undefined => {
  if (topic === "orders/create" || topic === "orders/paid") {
    const orderId = idOf(body.id)
    if (orderId === undefined) return undefined
    return { platform: "shopify", shop, orderId, orderName: str(body.name), stage: topic === "orders/create" ? "placed" : "paid", contact: shopifyContact(body) }
  }
  if (topic === "fulfillments/create") {
    const orderId = idOf(body.order_id)
    if (orderId === undefined) return undefined
    const destination = isRecord(body.destination) ? body.destination : {}
    return {
      platform: "shopify",
      shop,
      orderId,
      orderName: str(body.name)?.replace(/\.\d+$/, ""),
      stage: "fulfilled",
      contact: { phone: str(destination.phone), country: str(destination.country_code), name: str(destination.first_name) },
      tracking: { number: str(body.tracking_number), carrier: str(body.tracking_company), url: text(body.tracking_url, 500) }
    }
  }
  if (topic === "fulfillment_events/create") {
    const orderId = idOf(body.order_id)
    const stage = typeof body.status === "string" ? SHOPIFY_EVENT[body.status] : undefined
    if (orderId === undefined || stage === undefined) return undefined
    return { platform: "shopify", shop, orderId, stage, eventId: idOf(body.id) }
  }
  return undefined
}

const wooTracking = (order: Record<string, unknown>): Tracking | undefined => {
  const meta = Array.isArray(order.meta_data) ? order.meta_data : []
  for (const entry of meta) {
    if (!isRecord(entry) || entry.key !== "_wc_shipment_tracking_items" || !Array.isArray(entry.value)) continue
    const item: unknown = entry.value[0]
    if (isRecord(item)) {
      return { number: str(item.tracking_number), carrier: str(item.tracking_provider) ?? str(item.custom_tracking_provider) }
    }
  }
  return undefined
}

const fromWooCommerce = (topic: string, shop: string, body: Record<string, unknown>): OrderEvent | undefined => {
  const orderId = idOf(body.id)
  if (orderId === undefined) return undefined
  const status = body.status
  const stage: Stage | undefined = topic === "order.created"
    ? "placed"
    : topic === "order.updated" && status === "processing"
    ? "paid"
    : topic === "order.updated" && status === "completed"
    ? "fulfilled"
    : undefined
  if (stage === undefined) return undefined
  const billing = isRecord(body.billing) ? body.billing : {}
  const shipping = isRecord(body.shipping) ? body.shipping : {}
  return {
    platform: "woocommerce",
    shop,
    orderId,
    orderName: idOf(body.number),
    stage,
    contact: {
      phone: str(shipping.phone) ?? str(billing.phone),
      country: str(shipping.country) ?? str(billing.country),
      name: str(shipping.first_name) ?? str(billing.first_name)
    },
    tracking: stage === "fulfilled" ? wooTracking(body) : undefined
  }
}

const BIGCOMMERCE_STATUS: Readonly<Record<number, Stage>> = { 11: "paid", 2: "fulfilled" }

const fromBigCommerce = (topic: string, shop: string, body: Record<string, unknown>): OrderEvent | undefined => {
  const data = isRecord(body.data) ? body.data : {}
  const orderId = idOf(data.id)
  if (orderId === undefined) return undefined
  if (topic === "store/order/created") return { platform: "bigcommerce", shop, orderId, stage: "placed" }
  if (topic !== "store/order/statusUpdated") return undefined
  const status = isRecord(data.status) ? data.status.new_status_id : undefined
  const stage = typeof status === "number" ? BIGCOMMERCE_STATUS[status] : undefined
  return stage === undefined ? undefined : { platform: "bigcommerce", shop, orderId, stage }
}

const ADOBE_EVENT: Readonly<Record<string, Stage>> = {
  "observer.sales_order_place_after": "placed",
  "observer.sales_order_invoice_pay": "paid",
  "observer.sales_order_shipment_save_after": "fulfilled"
}

const fromAdobe = (topic: string, shop: string, body: Record<string, unknown>): OrderEvent | undefined => {
  const stage = ADOBE_EVENT[topic]
  const data = isRecord(body.data) ? body.data : {}
  const order = isRecord(data.order) ? data.order : isRecord(data.data_object) ? data.data_object : undefined
  if (stage === undefined || order === undefined) return undefined
  const orderId = idOf(order.entity_id) ?? idOf(order.order_id) ?? idOf(order.increment_id)
  if (orderId === undefined) return undefined
  const address = isRecord(order.shipping_address) ? order.shipping_address : isRecord(order.billing_address) ? order.billing_address : {}
  const tracks = Array.isArray(order.tracks) ? order.tracks : []
  const track: unknown = tracks[0]
  return {
    platform: "adobe-commerce",
    shop,
    orderId,
    orderName: idOf(order.increment_id),
    stage,
    contact: { phone: str(address.telephone), country: str(address.country_id), name: str(address.firstname) },
    tracking: isRecord(track) ? { number: str(track.track_number), carrier: str(track.title) } : undefined
  }
}

/**
 * The order event a verified delivery carries, or `undefined` for a topic
 * that is not an order notice (a product update, a ping, a status with no
 * notice).
 *
 * @category constructors
 * @since 0.3.0
 */
export const fromDelivery = (delivery: Delivery): OrderEvent | undefined => {
  if (delivery.ping === true || !isRecord(delivery.body)) return undefined
  switch (delivery.platform) {
    case "shopify":
      return fromShopify(delivery.topic, delivery.shop, delivery.body)
    case "woocommerce":
      return fromWooCommerce(delivery.topic, delivery.shop, delivery.body)
    case "bigcommerce":
      return fromBigCommerce(delivery.topic, delivery.shop, delivery.body)
    case "adobe-commerce":
      return fromAdobe(delivery.topic, delivery.shop, delivery.body)
  }
}
