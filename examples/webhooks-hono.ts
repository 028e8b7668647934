/**
 * Twilio webhooks with Hono, outside Effect: Hono takes the Web-standard
 * handler as it is. Sends one message through a stand-in carrier named
 * "twilio", then plays Twilio: posts a signed status callback and a signed
 * STOP reply to the server, and a forged one.
 *
 * Run: npm run build && node examples/webhooks-hono.ts   (Node 22.6+ strips the types)
 */
import { serve } from "@hono/node-server"
import { Hono } from "hono"
import type { AddressInfo } from "node:net"
import { createSmsClient } from "smsforge"
import { Sandbox } from "smsforge/testing"
import * as Twilio from "smsforge/transports/twilio"

const authToken = "your-twilio-auth-token" // process.env.TWILIO_AUTH_TOKEN in a real app

// A stand-in for Twilio.layer / Twilio.make: the receipts name the transport "twilio"
const client = createSmsClient({ transports: [Sandbox.makeUnsafe({ name: "twilio" })] })
const twilioWebhooks = Twilio.webhookHandler({
  authToken,
  client
  // behind a proxy: publicUrl: "https://api.example.com" (the origin Twilio calls)
})

const app = new Hono()
app.all("/webhooks/twilio", (c) => twilioWebhooks(c.req.raw))

const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 })
await new Promise<void>((resolve) => server.once("listening", () => resolve()))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/twilio`

/** What Twilio does: a form POST signed with the auth token over the URL and the parameters. */
const twilioPosts = (params: Record<string, string>, token = authToken) =>
  fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": Twilio.computeSignature(token, url, params)
    },
    body: new URLSearchParams(params)
  })

try {
  const sent = await client.send({ to: "+447400123456", text: "Your parcel has shipped" })

  const callback = await twilioPosts({ MessageSid: sent.providerMessageId!, MessageStatus: "delivered" })
  console.log(callback.status, await callback.text()) // => 200 <?xml version="1.0" encoding="UTF-8"?><Response/>
  console.log((await client.get(sent.id)).status) // => delivered

  const stop = await twilioPosts({ MessageSid: "SM1", SmsStatus: "received", From: "+447400123456", To: "+447700900000", Body: "STOP" })
  console.log(stop.status) // => 200
  const marketing = await client.send({ to: "+447400123456", text: "Sale!", purpose: "marketing" }).catch((e: { _tag: string }) => e._tag)
  console.log(marketing) // => OptedOut

  const forged = await twilioPosts({ MessageSid: sent.providerMessageId!, MessageStatus: "failed" }, "not-the-token")
  console.log(forged.status, await forged.text()) // => 403 InvalidSignature (X-Twilio-Signature)
} finally {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await client.close()
}
