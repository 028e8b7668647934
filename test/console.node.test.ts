// The console mounted in Express through the Node adapter: the mount path is
// kept (Express's originalUrl), bodies are read and limited by the console,
// and an event stream ends when its client goes.
import express from "express"
import type { AddressInfo } from "node:net"
import { Sms } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { ApiKeys, makeHandler, toNodeListener } from "../console/index.ts"

const acme = ApiKeys.generate("acme")
const sms = makeHandler(Sms.layer({ transports: [Sandbox.makeUnsafe({ autoDeliver: true })] }), {
  basePath: "/sms",
  apiKeys: [{ tenant: "acme", hash: acme.hash }],
  maxBodyBytes: 2_048
})
const app = express()
app.use("/sms", toNodeListener(sms.handler))
app.get("/health", (_req, res) => void res.send("ok"))
let base = ""
let close = () => {}

beforeAll(async () => {
  const server = app.listen(0, "127.0.0.1")
  await new Promise((resolve) => server.once("listening", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  close = () => {
    server.closeAllConnections()
    server.close()
  }
})
afterAll(async () => {
  close()
  await sms.dispose()
})

describe("console in Express", () => {
  it("answers the API and the page under the mount path, beside the app's own routes", async () => {
    const sent = await fetch(`${base}/sms/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${acme.key}`, "content-type": "application/json" },
      body: JSON.stringify({ to: "+447400123456", text: "Your order has shipped" })
    })
    assert.strictEqual(sent.status, 202)
    assert.include(await (await fetch(`${base}/sms/`)).text(), "data-base=\"/sms/\"")
    assert.strictEqual(await (await fetch(`${base}/health`)).text(), "ok")
  })

  it("refuses an oversize body streamed in chunks with 413", async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1_000)))
        controller.close()
      }
    })
    const answer = await fetch(`${base}/sms/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${acme.key}`, "content-type": "application/json" },
      body: chunks,
      duplex: "half"
    } as RequestInit)
    assert.strictEqual(answer.status, 413)
    assert.strictEqual(((await answer.json()) as { _tag: string })._tag, "PayloadTooLarge")
  })

  it("streams events and lets the client go", async () => {
    const abort = new AbortController()
    const events = await fetch(`${base}/sms/console/events`, { signal: abort.signal })
    assert.strictEqual(events.headers.get("content-type"), "text/event-stream")
    const reader = events.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    assert.include(first, "retry:")
    abort.abort()
    await reader.cancel().catch(() => undefined)
  })
})
