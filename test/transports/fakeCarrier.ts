// A local HTTP server that plays a carrier: it records each request and
// answers with whatever the test sets as `handler`.
import { Deferred, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "vitest"

export interface Seen {
  readonly method: string
  /** The request target, query included. */
  readonly path: string
  readonly pathname: string
  readonly headers: Http.IncomingHttpHeaders
  readonly raw: string
  readonly query: Map<string, string>
  readonly rawQuery: string
}

export type Handler = (req: Seen, res: Http.ServerResponse) => void

export interface FakeCarrier {
  handler: Handler
  readonly seen: Array<Seen>
  readonly baseUrl: string
}

/** Starts the server before the file's tests and stops it after them. */
export const fakeCarrier = (): FakeCarrier => {
  let server: Http.Server
  let baseUrl = ""
  const carrier: FakeCarrier = {
    handler: (_req, res) => res.writeHead(500).end(),
    seen: [],
    get baseUrl() {
      return baseUrl
    }
  }
  beforeAll(async () => {
    server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://localhost")
        const seen: Seen = {
          method: req.method ?? "",
          path: req.url ?? "",
          pathname: url.pathname,
          headers: req.headers,
          raw: Buffer.concat(chunks).toString("utf8"),
          query: new Map(url.searchParams),
          rawQuery: url.search.slice(1)
        }
        carrier.seen.push(seen)
        carrier.handler(seen, res)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return carrier
}

/** Answers with a JSON body. */
export const json = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body))

/**
 * Submits through a carrier that never answers and moves the TestClock past
 * the transport's timeout once the request has arrived: no wall-clock wait.
 */
export const neverAnswers = <A, E>(carrier: FakeCarrier, submit: Effect.Effect<A, E>, timeout: Duration.Input) =>
  Effect.gen(function*() {
    const arrived = yield* Deferred.make<void>()
    carrier.handler = () => Deferred.doneUnsafe(arrived, Exit.void)
    const fiber = yield* Effect.forkChild(Effect.flip(submit))
    yield* Deferred.await(arrived)
    yield* TestClock.adjust(Duration.sum(Duration.fromInputUnsafe(timeout), Duration.millis(1)))
    return yield* Fiber.join(fiber)
  })
