/**
 * Vonage webhooks with Fastify 5, outside Effect: a small adapter turns
 * Fastify's request into a Web `Request` and sends the `Response` back.
 * Sends one message through a stand-in carrier named "vonage", then plays
 * Vonage: a signed delivery receipt (JSON POST), its retry, a signed STOP
 * reply (GET) and a forged one.
 *
 * Run: npm run build && node examples/webhooks-fastify.ts   (Node 22.6+ strips the types)
 */
import Fastify from "fastify"
import type { FastifyReply, FastifyRequest } from "fastify"
import { createSmsClient } from "smsforge"
import { Sandbox } from "smsforge/testing"
import * as Vonage from "smsforge/transports/vonage"

/** Fastify → Web `Request` → Fastify; the route's scope keeps every body as bytes (see below). */
const webHandler = (handler: (request: Request) => Promise<Response>) => async (req: FastifyRequest, reply: FastifyReply) => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value)
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && Buffer.isBuffer(req.body)
  const response = await handler(
    new Request(`${req.protocol}://${req.host}${req.url}`, {
      method: req.method,
      headers,
      ...(hasBody ? { body: req.body as Buffer } : {})
    })
  )
  reply.code(response.status)
  response.headers.forEach((value, name) => void reply.header(name, value))
  return reply.send(Buffer.from(await response.arrayBuffer()))
}

const signatureSecret = "your-vonage-signature-secret" // process.env.VONAGE_SIGNATURE_SECRET in a real app

// A stand-in for Vonage.layer / Vonage.make: the receipts name the transport "vonage"
const client = createSmsClient({ transports: [Sandbox.makeUnsafe({ name: "vonage" })] })
const vonageWebhooks = Vonage.webhookHandler({ signatureSecret, signatureMethod: "sha256", client })

const app = Fastify()
await app.register(async (scope) => {
  // in this scope only: every body as bytes, for the handler to verify and parse
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body))
  scope.all("/webhooks/vonage", webHandler(vonageWebhooks))
})
await app.listen({ host: "127.0.0.1", port: 0 })
const address = app.server.address()
const url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/webhooks/vonage`

/** What Vonage does: the parameters, a `timestamp` and their `sig`. */
const signed = (params: Record<string, string>, secret = signatureSecret) => {
  const all = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) }
  return { ...all, sig: Vonage.computeSignature(secret, all, "sha256") }
}

try {
  const sent = await client.send({ to: "+447400123456", text: "Your parcel has shipped" })

  const receipt = JSON.stringify(signed({ messageId: sent.providerMessageId!, status: "delivered", msisdn: "447400123456", to: "ACME" }))
  const post = () => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: receipt })
  console.log((await post()).status) // => 204
  console.log((await client.get(sent.id)).status) // => delivered
  console.log((await post()).status) // => 204

  const stop = new URLSearchParams(signed({ msisdn: "447400123456", to: "447700900000", messageId: "0A1", text: "STOP", type: "text" }))
  console.log((await fetch(`${url}?${stop}`)).status) // => 204
  const marketing = await client.send({ to: "+447400123456", text: "Sale!", purpose: "marketing" }).catch((e: { _tag: string }) => e._tag)
  console.log(marketing) // => OptedOut

  const forged = new URLSearchParams(signed({ messageId: sent.providerMessageId!, status: "failed" }, "not-the-secret"))
  const refused = await fetch(`${url}?${forged}`)
  console.log(refused.status, await refused.text()) // => 403 InvalidSignature (sig)
} finally {
  await app.close()
  await client.close()
}
