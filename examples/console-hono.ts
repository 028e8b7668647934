// The smsforge console and HTTP API mounted under /sms in a Hono app, behind
// the app's own check for the console page; the API takes tenant API keys.
// In a real server: `serve({ fetch: app.fetch, port: 3000 })` from @hono/node-server.
import { Hono } from "hono"
import { Sms } from "smsforge"
import { ApiKeys, makeHandler } from "smsforge/console"
import { Sandbox } from "smsforge/testing"

const carrier = Sandbox.makeUnsafe({ autoDeliver: true })
const acme = ApiKeys.generate("acme") // give acme.key to the tenant; keep only acme.hash
const sms = makeHandler(Sms.layer({ transports: [carrier] }), {
  basePath: "/sms",
  apiKeys: [{ tenant: "acme", hash: acme.hash }],
  authorize: (request) => request.headers.get("x-staff") === "yes"
})

const app = new Hono()
app.all("/sms/*", (c) => sms.handler(c.req.raw))

const sent = await app.request("/sms/messages", {
  method: "POST",
  headers: { authorization: `Bearer ${acme.key}`, "content-type": "application/json" },
  body: JSON.stringify({ to: "+447400123456", text: "[ShopLane] Your order SL100200 has shipped." })
})
console.log(sent.status) // => 202

const anonymous = await app.request("/sms/console/inbox")
// the console page without the staff header
console.log(anonymous.status) // => 403

// Receipts move statuses asynchronously; the inbox shows them as they arrive.
await new Promise((resolve) => setTimeout(resolve, 50))
const inbox = await (await app.request("/sms/console/inbox", { headers: { "x-staff": "yes" } })).json() as {
  readonly messages: ReadonlyArray<{ readonly to: string; readonly status: string }>
}
console.log(inbox.messages.map((m) => `${m.to} ${m.status}`)) // => [ '+44••••••••56 delivered' ]

await sms.dispose()
