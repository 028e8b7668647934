/**
 * A Web-standard handler for Vonage's delivery receipts and inbound messages.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Transport } from "smsforge"
import {
  type WebhookOptions,
  feed,
  formParams,
  guard,
  type Handled,
  mediaType,
  parseJson,
  Refusal,
  refused,
  textRefusal,
  toInbound,
  toReceipt,
  type WebhookHandler
} from "../internal/webhook.ts"
import { type Secret } from "../internal/secret.ts"
import { makeWebhooks, type SignatureMethod, type VonageWebhookError } from "./VonageTransport.ts"

export type {
  WebhookClient,
  WebhookHandler,
  WebhookInbound,
  WebhookOptions,
  WebhookOutcome,
  WebhookReceipt
} from "../internal/webhook.ts"

/**
 * @category models
 * @since 0.2.0
 */
export interface WebhookHandlerOptions extends WebhookOptions {
  /** The signature secret of signed webhooks; without it, webhooks are not verified. */
  readonly signatureSecret?: Secret | undefined
  readonly signatureMethod?: SignatureMethod | undefined
  /** How old a signed webhook may be; default 24 hours (Vonage's retry span). */
  readonly webhookMaxAge?: Duration.Input | undefined
  /** How many applied signatures are remembered to refuse replays; default 100 000. */
  readonly webhookReplayCapacity?: number | undefined
}

const accepted = (): Response => new Response(null, { status: 204 })

/** A GET's query parameters, or a POST's form or JSON body (a query on a POST's URL is yours, not Vonage's: not signed, not read). */
const paramsOf = async (
  request: Request,
  readBody: (request: Request) => Promise<string | Refusal>
): Promise<Record<string, string> | Refusal> => {
  const out: Record<string, string> = Object.create(null)
  if (request.method.toUpperCase() === "GET") {
    let query: Record<string, Array<string>> | undefined
    try {
      query = formParams(new URL(request.url).search)
    } catch {
      query = undefined
    }
    if (query === undefined) return new Refusal(400, "MalformedWebhook", "url")
    for (const [k, v] of Object.entries(query)) if (v[0] !== undefined) out[k] = v[0]
    return out
  }
  const body = await readBody(request)
  if (body instanceof Refusal) return body
  if (mediaType(request) === "application/json") {
    const json = parseJson(body)
    if (json === null || typeof json !== "object" || Array.isArray(json)) return new Refusal(400, "MalformedWebhook", "body")
    for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
      if (typeof v === "string") out[k] = v
      else if (typeof v === "number" || typeof v === "boolean") out[k] = String(v)
      else if (v !== null) return new Refusal(400, "MalformedWebhook", "body")
    }
    return out
  }
  const form = formParams(body)
  if (form === undefined) return new Refusal(400, "MalformedWebhook", "body")
  for (const [k, v] of Object.entries(form)) if (v[0] !== undefined) out[k] = v[0]
  return out
}

/**
 * Builds a `(request: Request) => Promise<Response>` for Vonage's delivery
 * receipts and inbound messages (GET with a query, POST form or JSON; one URL
 * for both).
 *
 * **Details**
 * - With a `signatureSecret`, verifies `sig` and `timestamp` as the
 *   transport's decoders do (unsigned, mis-signed and stale webhooks are
 *   refused `403`); a signed webhook already applied is answered `200` and not
 *   applied again. A signature is remembered only once the client took the
 *   webhook, so a webhook the client rejected (`500`) is applied on Vonage's
 *   retry.
 * - A request with a `status` is a delivery receipt, handed to
 *   `client.deliveryReceipt`; any other is an inbound message, handed to
 *   `client.inbound`.
 * - Answers `204` (Vonage takes any 200 or 204); malformed `400`, a body over
 *   `maxBodyBytes` `413`, a client that rejected `500`. A refusal's body names
 *   its reason and field, never the input. The Promise never rejects.
 *
 * @category webhooks
 * @since 0.2.0
 */
export const webhookHandler = (options: WebhookHandlerOptions): WebhookHandler => {
  const name = options.name ?? "vonage"
  // the decoders' own replay memory is off: this handler remembers a
  // signature only once the client took the webhook
  const webhooks = makeWebhooks({
    signatureSecret: options.signatureSecret,
    signatureMethod: options.signatureMethod,
    webhookMaxAge: options.webhookMaxAge,
    webhookReplayCapacity: 0,
    name
  })
  const signed = options.signatureSecret !== undefined
  const maxAge = Duration.toMillis(Duration.fromInputUnsafe(options.webhookMaxAge ?? Duration.hours(24)))
  const rawCapacity = options.webhookReplayCapacity ?? 100_000
  const capacity = Number.isFinite(rawCapacity) ? Math.floor(rawCapacity) : 100_000
  /** Signatures applied or in flight, each until its webhook is too old to be accepted anyway. */
  const seen = new Map<string, number>()
  const remember = (sig: string, expiresAt: number, now: number): boolean => {
    if (capacity <= 0) return true
    const known = seen.get(sig)
    if (known !== undefined && known > now) return false
    for (const [k, expiry] of seen) {
      if (expiry > now && seen.size < capacity) break
      seen.delete(k)
    }
    seen.delete(sig)
    seen.set(sig, expiresAt)
    return true
  }
  const client = options.client
  return guard(options, textRefusal, async (request, readBody): Promise<Handled> => {
    const method = request.method.toUpperCase()
    if (method !== "POST" && method !== "GET") return refused(new Refusal(405, "MalformedWebhook", "method"), textRefusal)
    const params = await paramsOf(request, readBody)
    if (params instanceof Refusal) return refused(params, textRefusal)
    const isReceipt = params["status"] !== undefined
    const decoded = await Effect.runPromise(
      Effect.result<Transport.Feedback, VonageWebhookError, never>(isReceipt ? webhooks.parseDeliveryReceipt(params) : webhooks.parseInbound(params))
    )
    if (decoded._tag === "Failure") {
      const reason = decoded.failure.reason
      if (reason._tag === "ReplayedWebhook") return { response: accepted(), outcome: "Replayed" }
      return refused(new Refusal(reason._tag === "InvalidSignature" ? 403 : 400, reason._tag, reason.field), textRefusal)
    }
    const value = decoded.success
    // verified above: a signed webhook has a `sig` and a fresh `timestamp`
    const sig = signed ? (params["sig"] ?? "").toLowerCase() : undefined
    if (sig !== undefined) {
      const expiresAt = Number(params["timestamp"]) * 1000 + maxAge
      if (!remember(sig, expiresAt, Date.now())) return { response: accepted(), outcome: "Replayed" }
    }
    const failed = value._tag === "DeliveryReport"
      ? await feed(client, [toReceipt(value)], [])
      : await feed(client, [], [toInbound(value)])
    if (failed !== undefined) {
      if (sig !== undefined) seen.delete(sig)
      return refused(failed, textRefusal)
    }
    return {
      response: accepted(),
      outcome: "Accepted",
      receipts: value._tag === "DeliveryReport" ? 1 : 0,
      replies: value._tag === "InboundMessage" ? 1 : 0
    }
  })
}
