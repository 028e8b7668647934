/**
 * Serves a Web-standard handler with Node's own `http` module, so the
 * console needs no server framework: `smsforge dev` uses it, and Express or
 * a plain `http.createServer` mount the console with it.
 *
 * @since 0.2.0
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Readable } from "node:stream"

const toRequest = (req: IncomingMessage, signal: AbortSignal): Request => {
  const host = req.headers.host ?? "localhost"
  // Express strips its mount path from `url` and keeps it in `originalUrl`.
  const path = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "/"
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v)
    else if (value !== undefined) headers.set(name, value)
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD"
  return new Request(`http://${host}${path}`, {
    method: req.method ?? "GET",
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {})
  } as RequestInit)
}

const send = async (response: Response, res: ServerResponse): Promise<void> => {
  res.statusCode = response.status
  response.headers.forEach((value, name) => res.setHeader(name, value))
  if (response.body === null) {
    res.end()
    return
  }
  res.flushHeaders()
  const reader = response.body.getReader()
  // A closed connection stops the stream (an event stream would run forever).
  res.on("close", () => void reader.cancel().catch(() => undefined))
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      res.write(value)
    }
  } catch {
    // The client went away mid-stream; nothing to answer.
  }
  res.end()
}

/**
 * A Node `(req, res)` listener for a Web-standard handler.
 *
 * @category adapters
 * @since 0.2.0
 */
export const toNodeListener = (handler: (request: Request) => Promise<Response>) =>
(req: IncomingMessage, res: ServerResponse): void => {
  const aborted = new AbortController()
  res.on("close", () => aborted.abort())
  handler(toRequest(req, aborted.signal)).then(
    (response) => send(response, res),
    () => {
      if (!res.headersSent) {
        res.statusCode = 500
        res.setHeader("content-type", "application/json")
      }
      res.end(JSON.stringify({ _tag: "InternalError", status: 500, message: "InternalError" }))
    }
  )
}
