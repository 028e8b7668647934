import { OrderEvents, type Signatures } from "../commerce/index.ts"
import { describe, expect, it } from "vitest"

const delivery = (platform: Signatures.Platform, topic: string, body: unknown, shop = "shop-1"): Signatures.Delivery => ({ platform, topic, shop, body })

describe("OrderEvents.fromDelivery", () => {
  it.each([
    ["shopify orders/paid", delivery("shopify", "orders/paid", { id: 1, name: "#1", billing_address: { phone: "+447400123456", country_code: "GB" } }), {
      stage: "paid", orderId: "1", orderName: "#1", contact: { phone: "+447400123456", country: "GB" }
    }],
    ["shopify fulfillment out for delivery", delivery("shopify", "fulfillment_events/create", { id: 9, order_id: 1, status: "out_for_delivery" }), {
      stage: "out_for_delivery", orderId: "1", eventId: "9"
    }],
    ["shopify failed delivery attempt", delivery("shopify", "fulfillment_events/create", { id: 10, order_id: 1, status: "attempted_delivery" }), {
      stage: "exception", eventId: "10"
    }],
    ["woocommerce processing", delivery("woocommerce", "order.updated", { id: 4750, number: "4750", status: "processing", billing: { phone: "0612345678", country: "FR" } }), {
      stage: "paid", orderName: "4750", contact: { phone: "0612345678", country: "FR" }
    }],
    ["woocommerce completed with tracking", delivery("woocommerce", "order.updated", {
      id: 4750, status: "completed", billing: {},
      meta_data: [{ key: "_wc_shipment_tracking_items", value: [{ tracking_number: "JD014600003947", tracking_provider: "Royal Mail" }] }]
    }), { stage: "fulfilled", tracking: { number: "JD014600003947", carrier: "Royal Mail" } }],
    ["bigcommerce awaiting fulfillment", delivery("bigcommerce", "store/order/statusUpdated", { data: { id: 250, status: { new_status_id: 11 } } }), {
      stage: "paid", orderId: "250"
    }],
    ["adobe commerce shipment", delivery("adobe-commerce", "observer.sales_order_shipment_save_after", {
      eventName: "observer.sales_order_shipment_save_after",
      data: { order: { entity_id: 12, increment_id: "000000012", shipping_address: { telephone: "+4915123456789", country_id: "DE", firstname: "Ada" }, tracks: [{ track_number: "1Z999", title: "UPS" }] } }
    }), { stage: "fulfilled", orderId: "12", orderName: "000000012", contact: { phone: "+4915123456789", country: "DE", name: "Ada" }, tracking: { number: "1Z999", carrier: "UPS" } }]
  ] as const)("%s", (_, input, expected) => {
    expect(OrderEvents.fromDelivery(input)).toMatchObject(expected)
  })

  it.each([
    ["a topic without a notice", delivery("shopify", "products/update", { id: 1 })],
    ["woocommerce on-hold", delivery("woocommerce", "order.updated", { id: 1, status: "on-hold" })],
    ["a shopify event status with no notice", delivery("shopify", "fulfillment_events/create", { id: 1, order_id: 1, status: "label_printed" })],
    ["an order without an id", delivery("shopify", "orders/create", { name: "#1" })],
    ["a body that is not an object", delivery("woocommerce", "order.created", [1, 2])]
  ] as const)("nothing for %s", (_, input) => {
    expect(OrderEvents.fromDelivery(input)).toBeUndefined()
  })

  it("ranks the stages in order, with exception beside the line", () => {
    expect(OrderEvents.stages.map(OrderEvents.rankOf)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(OrderEvents.rankOf("exception")).toBeUndefined()
  })
})
