/**
 * A Prometheus `/metrics` endpoint for the Promise client: `client.prometheus()`
 * answers every metric in the Prometheus text format (submissions by transport
 * and outcome, verification counters …). The example serves it on 127.0.0.1,
 * scrapes it once as Prometheus would, and stops.
 *
 * Run: npm run build && node examples/observability-prometheus.ts   (Node 22.6+ strips the types)
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { createSmsClient } from "smsforge"
import { Sandbox } from "smsforge/testing"

const client = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
const server = createServer((request, response) => {
  if (request.url !== "/metrics") return void response.writeHead(404).end()
  client.prometheus().then(
    (text) => response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(text),
    () => response.writeHead(503).end()
  )
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))

try {
  await client.send({ to: "+447400123456", text: "Your order has shipped" })
  const scrape = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)
  const submissions = (await scrape.text()).split("\n").filter((line) => line.startsWith("smsforge_transport_submissions"))
  console.log(submissions.join("\n"))
  // => smsforge_transport_submissions{transport="sandbox",outcome="accepted"} 1
  if (submissions.length === 0) throw new Error("smsforge_transport_submissions is missing")
} finally {
  await client.close()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
