import { Effect } from "effect"
import * as Net from "node:net"
import { describe, test } from "vitest"

/** Runs `body` when the server's URL is set; otherwise one line says which variable is missing. */
export const describeWith = (value: string | undefined, name: string, variable: string, body: () => void) =>
  value ? describe(name, body) : test.skip(`${name} (skipped: ${variable} is not set)`, () => {})

/**
 * A TCP proxy in front of a real server, to take it away from a client that
 * is already connected: `cut` closes every connection and the port (a
 * crash or an outage), `blackhole` keeps the connections open and drops what
 * passes (a hung server or a partition: only a time limit ends a call).
 */
export interface Proxy {
  /** `url` with its host and port replaced by the proxy's. */
  readonly url: string
  readonly cut: Effect.Effect<void>
  readonly blackhole: Effect.Effect<void>
}

/** Starts a proxy to `url`'s host and port for the life of the scope. */
export const proxyTo = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly proxy: Proxy; readonly close: () => void }>((resolve) => {
        const target = new URL(url)
        const sockets = new Set<Net.Socket>()
        let dropping = false
        const server = Net.createServer((client) => {
          if (dropping) return void sockets.add(client)
          const upstream = Net.connect(Number(target.port), target.hostname)
          sockets.add(client).add(upstream)
          const forward = (to: Net.Socket) => (chunk: Buffer) => void (dropping || to.write(chunk))
          client.on("data", forward(upstream))
          upstream.on("data", forward(client))
          client.on("error", () => upstream.destroy())
          upstream.on("error", () => client.destroy())
          client.on("close", () => upstream.destroy())
          upstream.on("close", () => client.destroy())
        })
        const close = () => {
          server.close()
          for (const socket of sockets) socket.destroy()
        }
        server.listen(0, "127.0.0.1", () => {
          const proxied = new URL(url)
          proxied.hostname = "127.0.0.1"
          proxied.port = String((server.address() as Net.AddressInfo).port)
          resolve({
            close,
            proxy: {
              url: proxied.toString(),
              cut: Effect.sync(close),
              blackhole: Effect.sync(() => void (dropping = true))
            }
          })
        })
      })
    ),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ proxy }) => proxy))

/** A local port nothing listens on (taken, then freed). */
export const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
)
