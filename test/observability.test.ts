// Observability from the Promise client: spans reach an OpenTelemetry SDK, an
// OTLP/HTTP collector and the Prometheus text; the library's log lines reach a
// logger given in the observability layer, without phone numbers.
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { context, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Otlp from "effect/observability/Otlp"
import { afterEach, assert, describe, it } from "vitest"
import { createSmsClient, type SmsClient } from "smsforge"
import { Sandbox } from "smsforge/testing"

const UK = "+447400123456"
let client: SmsClient | undefined
let server: Server | undefined
afterEach(async () => {
  await client?.close()
  client = undefined
  await new Promise<void>((resolve) => server === undefined ? resolve() : server.close(() => resolve()))
  server = undefined
})

const body = async (request: IncomingMessage): Promise<string> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}

const listen = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
  server = createServer(handler)
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe("observability", () => {
  it("records the send's spans in an OpenTelemetry tracer provider, nested", async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()], observability: { tracerProvider: provider } })
    await client.send({ to: UK, text: "Your order has shipped" })
    const spans = exporter.getFinishedSpans()
    const dispatch = spans.find((s) => s.name === "smsforge/Router.dispatch")
    const submit = spans.find((s) => s.name === "smsforge/Transport.submit")
    assert.isDefined(dispatch)
    assert.isDefined(submit)
    assert.strictEqual(submit!.attributes["transport"], "sandbox")
    assert.strictEqual(submit!.parentSpanContext?.spanId, dispatch!.spanContext().spanId)
    assert.strictEqual(submit!.spanContext().traceId, dispatch!.spanContext().traceId)
    assert.notInclude(JSON.stringify(spans.map((s) => [s.name, s.attributes])), "7400123456")
    await provider.shutdown()
  })

  it("with a registered provider, the spans nest under the application's active span", async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const manager = new AsyncLocalStorageContextManager().enable()
    context.setGlobalContextManager(manager)
    trace.setGlobalTracerProvider(provider)
    try {
      client = createSmsClient({ transports: [Sandbox.makeUnsafe()], observability: { tracerProvider: trace.getTracerProvider() } })
      const app = trace.getTracer("shop")
      await app.startActiveSpan("POST /orders", async (span) => {
        await client!.send({ to: UK, text: "Your order has shipped" })
        span.end()
      })
      const spans = exporter.getFinishedSpans()
      const request = spans.find((s) => s.name === "POST /orders")
      const dispatch = spans.find((s) => s.name === "smsforge/Router.dispatch")
      assert.strictEqual(dispatch?.parentSpanContext?.spanId, request?.spanContext().spanId)
    } finally {
      trace.disable()
      context.disable()
      await provider.shutdown()
    }
  })

  it("a failed submission's span is an error naming the reason, not its message", async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const sandbox = Sandbox.makeUnsafe()
    await Effect.runPromise(sandbox.failAlways())
    client = createSmsClient({ transports: [sandbox], observability: { tracerProvider: provider }, retry: { maxAttempts: 1 } })
    const error = await client.send({ to: UK, text: "hi" }).then(() => undefined, (e: { readonly _tag: string }) => e)
    assert.strictEqual(error?._tag, "AllRoutesFailed")
    const submit = exporter.getFinishedSpans().find((s) => s.name === "smsforge/Transport.submit")
    assert.strictEqual(submit?.status.code, 2)
    assert.strictEqual(submit?.status.message, "TransportError")
    await provider.shutdown()
  })

  it("exports spans over OTLP/HTTP to a collector with an Effect layer", async () => {
    const received: Array<{ readonly path: string; readonly body: string }> = []
    const url = await listen(async (request, response) => {
      received.push({ path: request.url ?? "", body: await body(request) })
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
    client = createSmsClient({
      transports: [Sandbox.makeUnsafe()],
      observability: {
        layer: Otlp.layerJson({ baseUrl: url, resource: { serviceName: "shop" } }).pipe(Layer.provide(FetchHttpClient.layer))
      }
    })
    await client.send({ to: UK, text: "Your order has shipped" })
    // close() flushes the exporter before it resolves.
    await client.close()
    const traces = received.filter((r) => r.path === "/v1/traces").map((r) => r.body).join("\n")
    assert.include(traces, "smsforge/Transport.submit")
    assert.include(traces, "smsforge/Router.dispatch")
    assert.include(traces, "shop")
    assert.notInclude(received.map((r) => r.body).join("\n"), "7400123456")
  })

  it("answers the metrics in the Prometheus text format, served over HTTP", async () => {
    const sms = createSmsClient({ transports: [Sandbox.makeUnsafe()] })
    client = sms
    const url = await listen(async (_request, response) => {
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(await sms.prometheus())
    })
    await sms.send({ to: UK, text: "hi" })
    const text = await (await fetch(`${url}/metrics`)).text()
    assert.match(text, /^# TYPE smsforge_transport_submissions counter$/m)
    assert.match(text, /^smsforge_transport_submissions\{[^}]*outcome="accepted"[^}]*\} \d+/m)
    assert.notInclude(text, "7400123456")
  })

  it("logs status changes at Debug through the layer's logger, without numbers", async () => {
    const lines: Array<string> = []
    const logger = Logger.make((options) => {
      lines.push(`${options.logLevel} ${String(options.message)}`)
    })
    client = createSmsClient({
      transports: [Sandbox.makeUnsafe()],
      observability: {
        layer: Layer.merge(Logger.layer([logger]), Layer.succeed(References.MinimumLogLevel, "Debug"))
      }
    })
    await client.ready()
    const receipt = await client.send({ to: UK, text: "hi" })
    // close() logs every event published before it.
    await client.close()
    assert.include(lines, `Debug smsforge: message ${receipt.id} queued -> submitted via sandbox`)
    assert.notInclude(lines.join("\n"), "7400123456")
  })

  it("a listener that throws without onError is a Warning line, not its text", async () => {
    const lines: Array<string> = []
    const logger = Logger.make((options) => {
      lines.push(`${options.logLevel} ${String(options.message)}`)
    })
    client = createSmsClient({ transports: [Sandbox.makeUnsafe()], observability: { layer: Logger.layer([logger]) } })
    await client.ready()
    let calls = 0
    const thrown = new Promise<void>((resolve) =>
      client!.subscribe(() => {
        calls++
        resolve()
        throw new Error("secret listener text")
      })
    )
    await new Promise((resolve) => setImmediate(resolve))
    await client.send({ to: UK, text: "hi" })
    await thrown
    await client.close()
    assert.isAtLeast(calls, 1)
    assert.include(lines, "Warn smsforge: A subscribe listener threw on a StatusChanged event; it stays subscribed")
    assert.notInclude(lines.join("\n"), "secret listener text")
  })

  it("refuses an observability option that is neither a provider nor a layer", () => {
    for (const [observability, field] of [
      [{ tracerProvider: {} }, "observability.tracerProvider"],
      [{ layer: 42 }, "observability.layer"],
      [{ tracer: {} }, "observability.tracer"]
    ] as const) {
      try {
        createSmsClient({ observability } as never)
        assert.fail("expected InvalidConfig")
      } catch (error) {
        assert.strictEqual((error as { _tag: string })._tag, "InvalidConfig")
        assert.strictEqual((error as { field: string }).field, field)
      }
    }
  })
})
