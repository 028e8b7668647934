/**
 * What the carriers' Web-standard webhook handlers share: the client they
 * feed, a bounded body reader, and answers that never echo the input.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/**
 * A delivery receipt as a webhook handler hands it to the client: the shape
 * `SmsClient.deliveryReceipt` takes.
 *
 * @category models
 * @since 0.2.0
 */
export interface WebhookReceipt {
  readonly providerMessageId: string
  readonly transport: string
  /** Ours: `enroute`, `delivered`, `undelivered`, `expired`, `rejected` or `failed`. */
  readonly status: string
  readonly errorCode?: string
  /** Epoch milliseconds. */
  readonly at: number
}

/**
 * A reply as a webhook handler hands it to the client: the shape
 * `SmsClient.inbound` takes, with the carrier's message id and, for one part
 * of a concatenated message, its part header.
 *
 * @category models
 * @since 0.2.0
 */
export interface WebhookInbound {
  readonly transport: string
  readonly from: string
  readonly to: string
  readonly text: string
  /** Epoch milliseconds. */
  readonly receivedAt: number
  readonly providerMessageId?: string
  readonly part?: { readonly reference: number; readonly index: number; readonly count: number }
}

/**
 * Where a webhook handler feeds what it decoded: the Promise client
 * (`createSmsClient(…)`) fits as it is, or any object with these two methods.
 * A rejection of either is answered `500` (or `400` when the client refused
 * the content as invalid), so the carrier retries what can succeed later.
 *
 * @category models
 * @since 0.2.0
 */
export interface WebhookClient {
  readonly deliveryReceipt: (receipt: WebhookReceipt) => Promise<unknown>
  readonly inbound: (message: WebhookInbound) => Promise<unknown>
}

/**
 * A Web-standard request handler: Hono, Bun, Deno, Cloudflare Workers and
 * Next.js route handlers take it as it is; Express and Fastify through a
 * small adapter. It never rejects.
 *
 * @category models
 * @since 0.2.0
 */
export type WebhookHandler = (request: Request) => Promise<Response>

/**
 * Why a webhook handler answered the way it did, for logs and metrics: the
 * refusal's tag and field, never the input.
 *
 * @category models
 * @since 0.2.0
 */
export interface WebhookOutcome {
  /** The HTTP status answered. */
  readonly status: number
  /** `Accepted`, `Replayed`, or the refusal: `InvalidSignature`, `MalformedWebhook`, `Unauthorized`, `TooLarge`, `ClientFailed`, `Defect`. */
  readonly outcome: string
  /** The parameter or header at fault, our own name for it. */
  readonly field?: string | undefined
  readonly receipts: number
  readonly replies: number
}

/**
 * Options every carrier's webhook handler takes.
 *
 * @category models
 * @since 0.2.0
 */
export interface WebhookOptions {
  readonly client: WebhookClient
  /** The transport name receipts and replies carry; the carrier's name by default. */
  readonly name?: string | undefined
  /** Largest body read, in bytes; default 1 MiB. A larger one is answered `413`. */
  readonly maxBodyBytes?: number | undefined
  /** Called once per request with what was answered and why; its failures are ignored. */
  readonly onOutcome?: ((outcome: WebhookOutcome) => void) | undefined
}

/**
 * Options of a handler for a carrier that does not sign its pushes (Alibaba
 * Cloud, Tencent Cloud).
 *
 * @category models
 * @since 0.2.0
 */
export interface UnsignedPushOptions extends WebhookOptions {
  /**
   * The carrier does not sign its pushes: check what you can (a secret path
   * segment or query token, the source address your proxy forwards). `false`
   * is answered `403` before the body is read.
   */
  readonly authorize?: ((request: Request) => boolean | Promise<boolean>) | undefined
}

/** A refusal: the status, our tag and our field name. @internal */
export class Refusal {
  constructor(readonly status: number, readonly tag: string, readonly field: string) {}
}

/** Reads the body up to `limit` bytes; a `Refusal` when larger or unreadable. @internal */
export const readBody = async (request: Request, limit: number): Promise<string | Refusal> => {
  try {
    const body = request.body
    if (body === null) return ""
    const reader = body.getReader()
    const chunks: Array<Uint8Array> = []
    let total = 0
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!(value instanceof Uint8Array)) return new Refusal(400, "MalformedWebhook", "body")
      total += value.byteLength
      if (total > limit) {
        await reader.cancel().catch(() => undefined)
        return new Refusal(413, "TooLarge", "body")
      }
      chunks.push(value)
    }
    const bytes = new Uint8Array(total)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.byteLength
    }
    return new TextDecoder("utf-8").decode(bytes)
  } catch {
    return new Refusal(400, "MalformedWebhook", "body")
  }
}

/** The media type of a request, lower-cased, without parameters. @internal */
export const mediaType = (request: Request): string =>
  (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase()

/** Form or query parameters, every value of a repeated name kept. @internal */
export const formParams = (text: string): Record<string, Array<string>> | undefined => {
  try {
    const out: Record<string, Array<string>> = Object.create(null)
    for (const [k, v] of new URLSearchParams(text)) (out[k] ??= []).push(v)
    return out
  } catch {
    return undefined
  }
}

/** Parses JSON; `undefined` when it is not JSON. @internal */
export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

// Client errors that no retry can fix: the content itself was refused.
const invalidContent = new Set(["InvalidRequest", "InvalidPhoneNumber"])

/** Hands receipts and replies to the client; a `Refusal` when it rejected. @internal */
export const feed = async (
  client: WebhookClient,
  receipts: ReadonlyArray<WebhookReceipt>,
  replies: ReadonlyArray<WebhookInbound>
): Promise<Refusal | undefined> => {
  try {
    for (const receipt of receipts) await client.deliveryReceipt(receipt)
    for (const reply of replies) await client.inbound(reply)
    return undefined
  } catch (error) {
    const tag = error !== null && typeof error === "object" ? (error as { readonly _tag?: unknown })._tag : undefined
    return typeof tag === "string" && invalidContent.has(tag)
      ? new Refusal(400, "ClientRefused", tag)
      : new Refusal(500, "ClientFailed", typeof tag === "string" && /^[A-Za-z]{1,64}$/.test(tag) ? tag : "client")
  }
}

/** A receipt for the client, without an `errorCode` key when there is none. @internal */
export const toReceipt = (report: {
  readonly transport: string
  readonly providerMessageId: string
  readonly status: string
  readonly errorCode?: string | undefined
  readonly at: number
}): WebhookReceipt => ({
  providerMessageId: report.providerMessageId,
  transport: report.transport,
  status: report.status,
  at: report.at,
  ...(report.errorCode !== undefined ? { errorCode: report.errorCode } : {})
})

/** A reply for the client, without optional keys that are absent. @internal */
export const toInbound = (message: {
  readonly transport: string
  readonly from: string
  readonly to: string
  readonly text: string
  readonly receivedAt: number
  readonly providerMessageId?: string | undefined
  readonly part?: { readonly reference: number; readonly index: number; readonly count: number } | undefined
}): WebhookInbound => ({
  transport: message.transport,
  from: message.from,
  to: message.to,
  text: message.text,
  receivedAt: message.receivedAt,
  ...(message.providerMessageId !== undefined ? { providerMessageId: message.providerMessageId } : {}),
  ...(message.part !== undefined ? { part: message.part } : {})
})

/** What a carrier's handler body returns: its answer and counts. @internal */
export interface Handled {
  readonly response: Response
  readonly outcome: string
  readonly field?: string | undefined
  readonly receipts?: number | undefined
  readonly replies?: number | undefined
}

/**
 * Wraps a carrier's handler: a thrown error or a rejection becomes a `500`
 * that names nothing, and `onOutcome` is told once.
 *
 * @internal
 */
export const guard = (
  options: WebhookOptions,
  refuse: (refusal: Refusal) => Response,
  run: (request: Request, body: (request: Request) => Promise<string | Refusal>) => Promise<Handled>
): WebhookHandler => {
  const limit = typeof options.maxBodyBytes === "number" && options.maxBodyBytes > 0 ? options.maxBodyBytes : 1024 * 1024
  const onOutcome = options.onOutcome
  const report = (handled: Handled): Response => {
    if (onOutcome !== undefined) {
      try {
        onOutcome({
          status: handled.response.status,
          outcome: handled.outcome,
          field: handled.field,
          receipts: handled.receipts ?? 0,
          replies: handled.replies ?? 0
        })
      } catch {
        // a logger's failure is not the carrier's
      }
    }
    return handled.response
  }
  return async (request) => {
    try {
      return report(await run(request, (r) => readBody(r, limit)))
    } catch {
      try {
        return report({ response: refuse(new Refusal(500, "Defect", "handler")), outcome: "Defect", field: "handler" })
      } catch {
        return new Response(null, { status: 500 })
      }
    }
  }
}

/** A refusal as a Twilio/Vonage-style plain-text answer. @internal */
export const textRefusal = (refusal: Refusal): Response =>
  new Response(`${refusal.tag} (${refusal.field})`, {
    status: refusal.status,
    headers: { "content-type": "text/plain; charset=utf-8" }
  })

/** A refusal as an outcome for `guard`. @internal */
export const refused = (refusal: Refusal, answer: (refusal: Refusal) => Response): Handled => ({
  response: answer(refusal),
  outcome: refusal.tag,
  field: refusal.field
})

/** JSON answer helper. @internal */
export const jsonResponse = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } })

/** What an unsigned JSON-push carrier (Alibaba Cloud, Tencent Cloud) supplies to {@link jsonPushHandler}. @internal */
export interface JsonPushCarrier<R, I> {
  /** The 200 answer's body, which tells the carrier to stop retrying. */
  readonly accepted: unknown
  /** A refusal in the carrier's JSON answer shape. */
  readonly answer: (refusal: Refusal) => Response
  /** Whether an item of the batch is a reply rather than a receipt. */
  readonly isReply: (item: unknown) => boolean
  readonly parseReports: (items: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<R>, ParseFailure>
  readonly parseInbound: (items: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<I>, ParseFailure>
  readonly toReceipt: (report: R) => WebhookReceipt
  readonly toInbound: (message: I) => WebhookInbound
}

/** A decoder's failure: its reason names the tag and the field. @internal */
export interface ParseFailure {
  readonly reason: { readonly _tag: string; readonly field: string }
}

/**
 * The handler for a carrier that pushes JSON batches of receipts and replies
 * without signing them: `authorize` is the only check, then every item is
 * decoded (one malformed item refuses the batch) and fed to the client.
 *
 * @internal
 */
export const jsonPushHandler = <R, I>(
  options: UnsignedPushOptions,
  carrier: JsonPushCarrier<R, I>
): WebhookHandler => {
  const { answer, isReply } = carrier
  const client = options.client
  const authorize = options.authorize
  return guard(options, answer, async (request, readBody): Promise<Handled> => {
    if (request.method.toUpperCase() !== "POST") return refused(new Refusal(405, "MalformedWebhook", "method"), answer)
    if (authorize !== undefined && (await authorize(request)) !== true) {
      return refused(new Refusal(403, "Unauthorized", "request"), answer)
    }
    const body = await readBody(request)
    if (body instanceof Refusal) return refused(body, answer)
    const json = parseJson(body)
    if (json === null || typeof json !== "object") return refused(new Refusal(400, "MalformedWebhook", "body"), answer)
    const items: ReadonlyArray<unknown> = Array.isArray(json) ? json : [json]
    const replyItems = items.filter(isReply)
    const reportItems = items.filter((item) => !isReply(item))
    const decoded = await Effect.runPromise(Effect.result(Effect.all([
      reportItems.length === 0 ? Effect.succeed<ReadonlyArray<R>>([]) : carrier.parseReports(reportItems),
      replyItems.length === 0 ? Effect.succeed<ReadonlyArray<I>>([]) : carrier.parseInbound(replyItems)
    ])))
    if (decoded._tag === "Failure") {
      const reason = decoded.failure.reason
      return refused(new Refusal(400, reason._tag, reason.field), answer)
    }
    const [reports, replies] = decoded.success
    const failed = await feed(client, reports.map(carrier.toReceipt), replies.map(carrier.toInbound))
    if (failed !== undefined) return refused(failed, answer)
    return { response: jsonResponse(200, carrier.accepted), outcome: "Accepted", receipts: reports.length, replies: replies.length }
  })
}
