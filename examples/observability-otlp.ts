/**
 * Spans, logs and metrics over OTLP/HTTP from the Promise client, with the
 * exporter `effect` itself ships (`effect/observability`): no OpenTelemetry
 * package to install. A tiny collector on 127.0.0.1 stands in for yours
 * (an OpenTelemetry Collector, Jaeger, Tempo, Honeycomb …): point `baseUrl` at it.
 *
 * Run: npm run build && node examples/observability-otlp.ts   (Node 22.6+ strips the types)
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { Otlp } from "effect/observability"
import { createSmsClient } from "smsforge"
import { Sandbox } from "smsforge/testing"

// The stand-in collector: counts what arrives on /v1/traces, /v1/metrics and /v1/logs.
const received = new Map<string, number>()
const collector = createServer((request, response) => {
  request.resume().on("end", () => {
    received.set(request.url ?? "", (received.get(request.url ?? "") ?? 0) + 1)
    response.writeHead(200, { "content-type": "application/json" }).end("{}")
  })
})
await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve))
const baseUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`

const client = createSmsClient({
  transports: [Sandbox.makeUnsafe()],
  observability: {
    layer: Otlp.layerJson({ baseUrl, resource: { serviceName: "shop" } }).pipe(Layer.provide(FetchHttpClient.layer))
  }
})
try {
  await client.send({ to: "+447400123456", text: "Your order has shipped" })
} finally {
  // close() flushes the exporter: the spans are at the collector once it resolves.
  await client.close()
  await new Promise<void>((resolve) => collector.close(() => resolve()))
}
console.log("trace exports:", received.get("/v1/traces") ?? 0)
// => trace exports: 1
if ((received.get("/v1/traces") ?? 0) === 0) throw new Error("no spans reached the collector")
