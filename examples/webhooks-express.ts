/**
 * Twilio webhooks with Express 5, outside Effect: a small adapter turns
 * Express's request into a Web `Request` and writes the `Response` back.
 * Sends one message through a stand-in carrier named "twilio", then plays
 * Twilio: posts a signed status callback and a signed STOP reply, and a forged one.
 *
 * Run: npm run build && node examples/webhooks-express.ts   (Node 22.6+ strips the types)
 */
import express from "express"
import type { Request as ExpressRequest, Response as ExpressResponse } from "express"
import type { AddressInfo } from "node:net"
import { createSmsClient } from "smsforge"
import { Sandbox } from "smsforge/testing"
import * as Twilio from "smsforge/transports/twilio"

/** Express → Web `Request` → Express: mount with `express.raw({ type: "*\/*" })` so the body stays bytes. */
const webHandler = (handler: (request: Request) => Promise<Response>) => async (req: ExpressRequest, res: ExpressResponse) => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value)
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && Buffer.isBuffer(req.body)
  const response = await handler(
    new Request(`${req.protocol}://${req.get("host")}${req.originalUrl}`, {
      method: req.method,
      headers,
      ...(hasBody ? { body: req.body as Buffer } : {})
    })
  )
  res.status(response.status)
  response.headers.forEach((value, name) => res.setHeader(name, value))
  res.end(Buffer.from(await response.arrayBuffer()))
}

const authToken = "your-twilio-auth-token" // process.env.TWILIO_AUTH_TOKEN in a real app

// A stand-in for Twilio.layer / Twilio.make: the receipts name the transport "twilio"
const client = createSmsClient({ transports: [Sandbox.makeUnsafe({ name: "twilio" })] })

const app = express()
app.all(
  "/webhooks/twilio",
  express.raw({ type: "*/*" }),
  webHandler(Twilio.webhookHandler({ authToken, client /* behind a proxy: publicUrl: "https://api.example.com" */ }))
)

const server = app.listen(0, "127.0.0.1")
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
  console.log(callback.status, callback.headers.get("content-type")) // => 200 text/xml; charset=utf-8
  console.log((await client.get(sent.id)).status) // => delivered

  const stop = await twilioPosts({ MessageSid: "SM1", SmsStatus: "received", From: "+447400123456", To: "+447700900000", Body: "STOP" })
  console.log(stop.status) // => 200
  const marketing = await client.send({ to: "+447400123456", text: "Sale!", purpose: "marketing" }).catch((e: { _tag: string }) => e._tag)
  console.log(marketing) // => OptedOut

  const forged = await twilioPosts({ MessageSid: sent.providerMessageId!, MessageStatus: "failed" }, "not-the-token")
  console.log(forged.status, await forged.text()) // => 403 InvalidSignature (X-Twilio-Signature)
} finally {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await client.close()
}
