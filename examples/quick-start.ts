/**
 * The quick start with Promises: send a text, a templated notification and a
 * batch through the Sandbox carrier, feed a delivery receipt back, and close.
 *
 * Run: npm run build && node examples/quick-start.ts   (Node 22.6+ strips the types)
 */
import { Schema } from "effect"
import { createSmsClient, Templates } from "smsforge"
import { Sandbox } from "smsforge/testing"

const carrier = Sandbox.makeUnsafe()
const client = createSmsClient({
  transports: [carrier],
  defaultCountry: "GB",
  templates: [
    Templates.define({
      id: "out-for-delivery",
      variables: Schema.Struct({ order: Schema.String, window: Schema.String }),
      locales: {
        default: "Order {{order}} is out for delivery today, {{window}}.",
        de: "Bestellung {{order}} wird heute zugestellt, {{window}}."
      }
    })
  ]
})

try {
  const receipt = await client.send({ to: "07400 123456", text: "Your parcel has cleared customs." })
  console.log(receipt.status, receipt.to, receipt.encoding, receipt.segmentCount, receipt.route)
  // => submitted +447400123456 GSM-7 1 sandbox

  await client.send({
    to: "+4915123456789",
    template: "out-for-delivery",
    variables: { order: "A-1042", window: "14:00–16:00" },
    locale: "de-DE"
  })
  console.log(carrier.sent().at(-1)?.text)
  // => Bestellung A-1042 wird heute zugestellt, 14:00–16:00.

  const results = await client.sendBatch([
    { to: "+447400123456", text: "Shipped" },
    { to: "not a number", text: "Shipped" }
  ])
  console.log(results.map((r) => (r.ok ? r.receipt.status : r.error._tag)))
  // => [ 'submitted', 'InvalidPhoneNumber' ]

  await client.deliveryReceipt({ providerMessageId: receipt.providerMessageId!, transport: "sandbox", status: "delivered" })
  const stored = await client.get(receipt.id)
  console.log(stored.history.map((change) => change.status).join(" → "))
  // => accepted → queued → submitted → delivered
  if (stored.status !== "delivered") throw new Error("the receipt did not apply")
} finally {
  await client.close()
}
