/**
 * The console's server: the HTTP API, the page, its JSON endpoints and
 * server-sent events, the carriers' webhooks — as an effect router layer and
 * as a Web-standard `(request: Request) => Promise<Response>` handler.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Stream from "effect/Stream"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import type { Sms as SmsModule } from "smsforge"
import { Sms } from "smsforge"
import * as Aggregates from "./Aggregates.ts"
import * as Api from "./Api.ts"
import * as ApiKeys from "./ApiKeys.ts"
import * as Handlers from "./Handlers.ts"
import * as Live from "./Live.ts"
import * as Page from "./page.ts"

// models

/**
 * Where a carrier's webhook handler feeds receipts and replies: the same
 * shape as the Promise client's methods, bound to the console's pipeline.
 *
 * @category models
 * @since 0.2.0
 */
export interface WebhookClient {
  readonly deliveryReceipt: (receipt: unknown) => Promise<unknown>
  readonly inbound: (message: unknown) => Promise<unknown>
}

/**
 * @category models
 * @since 0.2.0
 */
export interface ConsoleOptions extends Live.LiveOptions {
  readonly title?: string | undefined
  /** Where the console is mounted in a host server, such as `"/sms"`; default `"/"`. */
  readonly basePath?: string | undefined
  /** Show the send form and accept `POST console/send`. Default `false`: the console is read-only. */
  readonly writable?: boolean | undefined
  /** Tenants' API keys, as hashes (`ApiKeys.hash`). Without keys every API call is refused. */
  readonly apiKeys?: ReadonlyArray<ApiKeys.StoredKey> | undefined
  /** Largest request body, in bytes; default 256 KiB. */
  readonly maxBodyBytes?: number | undefined
  /**
   * Decides who may see the console page and its data (not the API, which
   * takes API keys). Put your own session check here; default: everyone who
   * reaches the server, which `smsforge dev` binds to 127.0.0.1.
   */
  readonly authorize?: ((request: Request) => boolean | Promise<boolean>) | undefined
  /**
   * Carriers whose faults the page may switch on and off (`smsforge dev`
   * passes its Sandboxes); only offered when the console is writable.
   */
  readonly faults?: ReadonlyArray<FaultControl> | undefined
  /**
   * Share the pipeline with your own runtime: build it with
   * `ManagedRuntime.make(layer, { memoMap })` and pass the same layer and
   * `memoMap` here, and the console sees what your application sends.
   */
  readonly memoMap?: Layer.MemoMap | undefined
  /**
   * Carriers' own webhooks, served at `POST /webhooks/<name>`: for example
   * `{ twilio: (client) => TwilioWebhooks.webhookHandler({ authToken, client }) }`.
   */
  readonly webhooks?: Readonly<Record<string, (client: WebhookClient) => (request: Request) => Promise<Response>>> | undefined
}

/**
 * Fault switches of one carrier, for trying failover and alerting in dev.
 *
 * @category models
 * @since 0.2.0
 */
export interface FaultControl {
  readonly name: string
  /** Fail every submission (`Unavailable`) until `recover`. */
  readonly fail: () => void
  /** Answer `Throttled` beyond this many submissions a second. */
  readonly throttle: (perSecond: number) => void
  readonly recover: () => void
}

const json = (status: number, body: unknown) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })

const refusalResponse = (status: number, tag: string, field: string | undefined) =>
  new Response(Handlers.refusalBody(status, tag, field, field === undefined ? tag : `${tag}: ${field}`), {
    status,
    headers: { "content-type": "application/json" }
  })

// routes

const sse = (live: Live.Live["Service"]) => {
  const encoder = new TextEncoder()
  // Only the kind of change and an id go out; the page reads the details
  // through its (authorized) JSON endpoints.
  const changes = Stream.map(Stream.fromPubSub(live.changes), (change) => {
    const id = change.kind === "message" ? change.entry.id : change.kind === "verification" ? change.row.verificationId : ""
    return encoder.encode(`event: change\ndata: ${JSON.stringify({ kind: change.kind, id })}\n\n`)
  })
  const heartbeat = Stream.map(Stream.tick("15 seconds"), () => encoder.encode(": ping\n\n"))
  const body = Stream.concat(Stream.make(encoder.encode("retry: 2000\n\n")), Stream.merge(changes, heartbeat))
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
  })
}

const consoleRoutes = (options: ConsoleOptions) =>
  HttpRouter.addAll(Effect.gen(function*() {
    const live = yield* Live.Live
    const sms = yield* Sms.Sms
    const base = normalizeBase(options.basePath)
    const writable = options.writable === true
    const faults = writable ? options.faults ?? [] : []
    const page = Page.render({ title: options.title ?? "smsforge console", base, writable, carriers: faults.map((f) => f.name) })
    const search = (request: HttpServerRequest.HttpServerRequest, name: string) =>
      new URL(request.originalUrl, "http://localhost").searchParams.get(name) ?? undefined
    return [
      HttpRouter.route("GET", "/", Effect.succeed(HttpServerResponse.html(page))),
      HttpRouter.route("GET", "/console/inbox", (request) => Effect.sync(() => json(200, live.inbox(search(request, "recipient"))))),
      HttpRouter.route("GET", "/console/reports", Effect.sync(() => json(200, live.report()))),
      HttpRouter.route("GET", "/console/reports/spend.csv", Effect.sync(() =>
        HttpServerResponse.text(Aggregates.spendCsv(live.report().spend), {
          contentType: "text/csv; charset=utf-8",
          headers: { "content-disposition": "attachment; filename=\"smsforge-spend.csv\"", "cache-control": "no-store" }
        }))),
      HttpRouter.route("GET", "/console/verifications", Effect.sync(() => json(200, live.verifications()))),
      HttpRouter.route("GET", "/console/events", Effect.sync(() => sse(live))),
      HttpRouter.route("POST", "/console/faults/:name/:action", Effect.map(HttpRouter.params, (params) => {
        const control = faults.find((f) => f.name === params.name)
        if (control === undefined) return json(404, { _tag: "NotFound", status: 404, field: "name", message: "NotFound: name" })
        switch (params.action) {
          case "fail":
            control.fail()
            break
          case "throttle":
            control.throttle(1)
            break
          case "recover":
            control.recover()
            break
          default:
            return json(400, { _tag: "InvalidRequest", status: 400, field: "action", message: "InvalidRequest: action" })
        }
        return json(200, { name: control.name, state: params.action })
      })),
      HttpRouter.route("POST", "/console/send", (request) =>
        options.writable !== true
          ? Effect.succeed(json(403, { _tag: "ReadOnly", status: 403, message: "ReadOnly: the console is read-only" }))
          : Effect.flatMap(Effect.orElseSucceed(request.json, () => undefined), (body) =>
            Effect.match(sms.send(withConsoleTenant(body)), {
              onFailure: (error) => {
                const refusal = Handlers.refusalOf(error.reason)
                return json(refusal.status, refusal)
              },
              onSuccess: (receipt) => json(202, receipt)
            })))
    ]
  }))

const withConsoleTenant = (body: unknown): unknown =>
  typeof body === "object" && body !== null && !Array.isArray(body) ? { ...body, tenant: "console" } : body

const webhookRoutes = (options: ConsoleOptions) =>
  HttpRouter.addAll(Effect.gen(function*() {
    const context = yield* Effect.context<SmsModule.Sms>()
    const sms = Context.get(context, Sms.Sms)
    const run = Effect.runPromiseWith(context)
    const client: WebhookClient = {
      deliveryReceipt: (receipt) => run(sms.deliveryReceipt(receipt)),
      inbound: (message) => run(sms.inbound(message))
    }
    return Object.entries(options.webhooks ?? {}).map(([name, make]) => {
      const handler = make(client)
      return HttpRouter.route("*", `/webhooks/${encodeURIComponent(name)}`, (request) =>
        Effect.flatMap(Effect.orDie(HttpServerRequest.toWeb(request)), (web) =>
          Effect.map(Effect.promise(() => handler(web)), HttpServerResponse.fromWeb)))
    })
  }))

/**
 * Every route of the console and the API, for an effect `HttpRouter`; it
 * needs the pipeline's services (`Sms.layer(config)` provides them).
 *
 * @category layers
 * @since 0.2.0
 */
export const layerRoutes = (options: ConsoleOptions = {}) => {
  const keys = ApiKeys.ring(options.apiKeys ?? [])
  const api = HttpApiBuilder.layer(Api.Api, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide(Handlers.layerHandlers),
    Layer.provide(Handlers.layerAuth(keys))
  )
  const tenants = [...new Set([...(options.tenants ?? []), ...(options.apiKeys ?? []).map((k) => k.tenant), "console"])]
  return Layer.mergeAll(api, consoleRoutes(options), webhookRoutes(options)).pipe(
    Layer.provide(Live.layer({ ...options, tenants })),
    Layer.provide(HttpServer.layerServices)
  )
}

// The HttpApi answers a body that fails its payload schema with an empty
// 400; the API promises a JSON refusal naming the field, so the body is
// decoded again here (only on that path) to find it.
const fieldAtFault = (path: string, body: Uint8Array | undefined): string => {
  const decode = Api.payloads.find(([pattern]) => pattern.test(path))?.[1]
  if (decode === undefined || body === undefined) return "body"
  let input: unknown
  try {
    input = JSON.parse(decoder.decode(body))
  } catch {
    return "body"
  }
  const result = decode(input)
  if (Result.isSuccess(result)) return "body"
  const first = SchemaIssue.makeFormatterStandardSchemaV1()(result.failure.issue).issues[0]
  const field = first?.path?.map(String).join(".")
  return field === undefined || field === "" ? "body" : field
}

const normalizeBase = (basePath: string | undefined): string => {
  const trimmed = (basePath ?? "/").replace(/\/+$/, "")
  return trimmed === "" ? "/" : `${trimmed.startsWith("/") ? "" : "/"}${trimmed}/`
}

// Reads at most `limit` bytes; undefined when the body is larger.
const readLimited = async (request: Request, limit: number): Promise<Uint8Array | undefined> => {
  const declared = Number(request.headers.get("content-length") ?? "0")
  if (declared > limit) return undefined
  if (request.body === null) return new Uint8Array()
  const reader = request.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      return undefined
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}

const isConsolePath = (path: string) => path === "/" || path.startsWith("/console/")

/**
 * A console handler: answer a Web `Request`, release it with `dispose`.
 *
 * @category models
 * @since 0.2.0
 */
export interface ConsoleHandler {
  readonly handler: (request: Request) => Promise<Response>
  readonly dispose: () => Promise<void>
}

/**
 * Builds the Web-standard handler from the pipeline's layer: Hono, Bun,
 * Deno and Next.js take `handler` as it is, Node's `http` and Express
 * through {@link toNodeListener}.
 *
 * **Details**
 * - Bodies larger than `maxBodyBytes` are answered `413` before they are
 *   read whole; a body that is not JSON, or not the endpoint's shape, `400`;
 *   each with a JSON refusal.
 * - Requests under `basePath` are answered; the rest `404`.
 *
 * @category constructors
 * @since 0.2.0
 */
export const makeHandler = <E>(
  services: Layer.Layer<SmsModule.Services, E>,
  options: ConsoleOptions = {}
): ConsoleHandler => {
  const app = HttpRouter.toWebHandler(layerRoutes(options).pipe(Layer.provide(services)), {
    disableLogger: true,
    memoMap: options.memoMap
  })
  const base = normalizeBase(options.basePath)
  const limit = options.maxBodyBytes ?? 256 * 1024
  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    if (!url.pathname.startsWith(base) && url.pathname !== base.slice(0, -1)) return refusalResponse(404, "NotFound", "path")
    const path = "/" + url.pathname.slice(base.length)
    if (isConsolePath(path) && options.authorize !== undefined && !(await options.authorize(request))) {
      return refusalResponse(403, "Forbidden", "console")
    }
    const hasBody = request.method !== "GET" && request.method !== "HEAD"
    const body = hasBody ? await readLimited(request, limit) : undefined
    if (hasBody && body === undefined) return refusalResponse(413, "PayloadTooLarge", "body")
    const isJson = (request.headers.get("content-type") ?? "").includes("json")
    if (hasBody && isJson && !path.startsWith("/webhooks/") && !parses(body!)) return refusalResponse(400, "InvalidRequest", "body")
    const forwarded = new Request(new URL(path + url.search, url.origin), {
      method: request.method,
      headers: request.headers,
      ...(hasBody ? { body: body! } : {}),
      signal: request.signal
    })
    const response = await app.handler(forwarded)
    // Empty refusals from the router and the HttpApi get a JSON body like every other refusal.
    const empty = response.body === null || response.headers.get("content-length") === "0"
    if (!empty || response.status < 400) return response
    if (response.status === 400) return refusalResponse(400, "InvalidRequest", fieldAtFault(path, body))
    if (response.status === 404) return refusalResponse(404, "NotFound", "path")
    if (response.status === 405) return refusalResponse(405, "MethodNotAllowed", "method")
    return response
  }
  return { handler, dispose: app.dispose }
}

const decoder = new TextDecoder("utf-8", { fatal: true })
const parses = (body: Uint8Array): boolean => {
  try {
    JSON.parse(decoder.decode(body))
    return true
  } catch {
    return false
  }
}

export { layerRoutes as layer }
