/**
 * Writing a transport for a carrier smsforge does not ship, the way a
 * third-party author would: only the public `smsforge` API, Node's `fetch`
 * wrapped in Effect, capabilities declared, carrier errors mapped once.
 *
 * The carrier here is "Parrot SMS", a fictional REST gateway:
 *   POST /api/v2/sms  { recipient, sender, message, dcs, ref }  with `X-Parrot-Key`
 *   202 { "id": "prt_…" }  or  4xx/5xx { "error": "INVALID_MSISDN" | … }
 * A tiny local server plays Parrot; the program sends one message through the
 * transport, runs smsforge's conformance suite against it, and exits 0.
 *
 * Run: npm run build && node examples/custom-transport.ts   (Node 22.6+ strips the types)
 */
import { Duration, Effect, Layer, Redacted } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Transport } from "smsforge"
import { TransportConformance } from "smsforge/testing"

// ─── the transport ──────────────────────────────────────────────────────────

interface ParrotConfig {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl?: string
  readonly sender?: string
  readonly timeout?: Duration.Input
}

/** Parrot's error words → smsforge reasons, decided once, here. */
const classify = (status: number, error: string | undefined, retryAfter: string | null): Transport.TransportErrorReason => {
  const code = error ?? `http-${status}`
  switch (error) {
    case "INVALID_MSISDN":
      return new Transport.InvalidNumber({ code })
    case "OPTED_OUT":
      return new Transport.Blocked({ code })
    case "NO_CREDIT":
      return new Transport.InsufficientFunds({ code })
    case "BAD_KEY":
      return new Transport.AuthenticationFailed({ code })
    case "SLOW_DOWN":
      return new Transport.Throttled(
        retryAfter === null ? { code } : { code, retryAfter: Duration.seconds(Number(retryAfter)) }
      )
  }
  return status >= 500 ? new Transport.Unavailable({ code }) : new Transport.Rejected({ code })
}

const makeParrot = (config: ParrotConfig): Effect.Effect<Transport.Transport> =>
  Effect.sync(() =>
    Transport.make({
      name: "parrot",
      capabilities: {
        channel: "sms",
        unicode: true,
        concatenation: true,
        maxPerSecond: 50,
        deliveryReceipts: false,
        inbound: false,
        senderTypes: ["alphanumeric", "long-code"]
      },
      submit: (submission) =>
        Effect.tryPromise({
          try: async (signal) => {
            const response = await fetch(`${config.baseUrl ?? "https://api.parrot.example"}/api/v2/sms`, {
              method: "POST",
              signal,
              headers: { "content-type": "application/json", "x-parrot-key": Redacted.value(config.apiKey) },
              body: JSON.stringify({
                recipient: submission.to,
                sender: submission.from ?? config.sender,
                message: submission.text,
                dcs: submission.encoding === "UCS-2" ? 8 : 0,
                ref: submission.clientReference
              })
            })
            const body = (await response.json().catch(() => ({}))) as { id?: string; error?: string }
            return { status: response.status, body, retryAfter: response.headers.get("retry-after") }
          },
          // never keep the raw error: it could carry request details
          catch: () => new Transport.Unavailable({ code: "network" })
        }).pipe(
          // interrupting the request aborts `signal`
          Effect.timeoutOrElse({
            duration: config.timeout ?? Duration.seconds(10),
            orElse: () => Effect.fail(new Transport.Timeout({ code: "timeout" }))
          }),
          Effect.flatMap(({ body, retryAfter, status }) =>
            status === 202 && typeof body.id === "string"
              ? Effect.succeed({ providerMessageId: body.id })
              : Effect.fail(classify(status, body.error, retryAfter))
          )
        )
    })
  )

const layerParrot = (config: ParrotConfig) => Layer.effect(Transport.Transport, makeParrot(config))

// ─── a tiny Parrot SMS ──────────────────────────────────────────────────────

const API_KEY = "parrot-demo-key"
let counter = 0
const server = Http.createServer((req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const reply = (status: number, body: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))
    if (req.method !== "POST" || req.url !== "/api/v2/sms") return reply(404, { error: "NOT_FOUND" })
    if (req.headers["x-parrot-key"] !== API_KEY) return reply(401, { error: "BAD_KEY" })
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { recipient: string }
    if (body.recipient === "+15005550001") return reply(400, { error: "INVALID_MSISDN" })
    reply(202, { id: `prt_${++counter}` })
  })
})

const program = Effect.gen(function*() {
  const port = yield* Effect.promise(() =>
    new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)))
  )
  const config = { apiKey: Redacted.make(API_KEY), baseUrl: `http://127.0.0.1:${port}`, sender: "Acme" }

  // 1. send one message through the Transport service
  const result = yield* Effect.flatMap(Effect.service(Transport.Transport), (transport) =>
    transport.submit({
      to: "+447700900123",
      text: "Your order has shipped",
      segments: ["Your order has shipped"],
      encoding: "GSM-7",
      clientReference: "order-1001",
      purpose: "transactional"
    })).pipe(Effect.provide(layerParrot(config)))
  console.log(`sent: ${result.providerMessageId}`)

  // 2. a refusal arrives as a typed, permanent TransportError
  const parrot = yield* makeParrot(config)
  const refused = yield* Effect.flip(parrot.submit({
    to: "+15005550001",
    text: "hi",
    segments: ["hi"],
    encoding: "GSM-7",
    clientReference: "order-1002",
    purpose: "transactional"
  }))
  console.log(`refused: ${refused.reason._tag}, retryable: ${refused.isRetryable}`)

  // 3. the conformance suite every transport should pass
  const cases = TransportConformance.suite({
    make: makeParrot(config),
    recipient: "+447700900123",
    refusedRecipient: "+15005550001",
    secrets: [API_KEY]
  })
  for (const c of cases) {
    yield* Effect.scoped(c.run)
    console.log(`conformance ✓ ${c.name}`)
  }
}).pipe(Effect.ensuring(Effect.sync(() => {
  server.closeAllConnections()
  server.close()
})))

await Effect.runPromise(program)
