/**
 * A Web-standard handler for Twilio's status callbacks and incoming messages.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type { Transport } from "smsforge"
import {
  type WebhookOptions,
  feed,
  formParams,
  guard,
  type Handled,
  mediaType,
  Refusal,
  refused,
  textRefusal,
  toInbound,
  toReceipt,
  type WebhookHandler
} from "../internal/webhook.ts"
import { type Secret } from "../internal/secret.ts"
import { makeWebhooks, type TwilioWebhook, type TwilioWebhookError } from "./TwilioTransport.ts"

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
  /** The account's auth token, which signs every webhook. */
  readonly authToken: Secret
  /**
   * The URL Twilio called, when the server sees another one (behind a proxy
   * or a tunnel). A string replaces the request URL's origin (scheme, host,
   * port) and keeps its path and query; a function returns the whole URL.
   */
  readonly publicUrl?: string | ((request: Request) => string) | undefined
}

/** The empty TwiML answer: nothing to reply. */
const twiml = (): Response =>
  new Response("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>", {
    status: 200,
    headers: { "content-type": "text/xml; charset=utf-8" }
  })

const signedUrl = (request: Request, publicUrl: WebhookHandlerOptions["publicUrl"]): string | undefined => {
  if (publicUrl === undefined) return request.url
  if (typeof publicUrl === "function") {
    const url = publicUrl(request)
    return typeof url === "string" ? url : undefined
  }
  try {
    const seen = new URL(request.url)
    return publicUrl.replace(/\/+$/, "") + seen.pathname + seen.search
  } catch {
    return undefined
  }
}

const first = (params: Record<string, Array<string>>, name: string): string | undefined => params[name]?.[0]

/**
 * Builds a `(request: Request) => Promise<Response>` for Twilio's status
 * callbacks and incoming-message webhooks (POST or GET, one URL for both).
 *
 * **Details**
 * - Verifies `X-Twilio-Signature` as Twilio's own validator does (the URL
 *   with and without its port); a GET is signed over its URL alone.
 * - A request whose `MessageStatus`/`SmsStatus` is `received` (or that has
 *   only a `Body`) is an incoming message, handed to `client.inbound`; any
 *   other is a status callback, handed to `client.deliveryReceipt`.
 * - Answers `200` with empty TwiML (`<Response/>`, `text/xml`); a missing or
 *   wrong signature `403`, a malformed request `400`, a body over
 *   `maxBodyBytes` `413`, and a client that rejected `500` so Twilio retries.
 *   A refusal's body names its reason and field, never the input.
 * - The returned Promise never rejects.
 *
 * **Example**
 * ```ts
 * import { Hono } from "hono"
 * import { createSmsClient } from "smsforge"
 * import * as Twilio from "smsforge/transports/twilio"
 *
 * const client = createSmsClient({ transports: [twilio] })
 * const app = new Hono()
 * const twilioWebhooks = Twilio.webhookHandler({ authToken: process.env.TWILIO_AUTH_TOKEN!, client })
 * app.all("/webhooks/twilio", (c) => twilioWebhooks(c.req.raw))
 * ```
 *
 * @category webhooks
 * @since 0.2.0
 */
export const webhookHandler = (options: WebhookHandlerOptions): WebhookHandler => {
  const name = options.name ?? "twilio"
  const webhooks = makeWebhooks({ authToken: options.authToken, name })
  const client = options.client
  const publicUrl = options.publicUrl
  return guard(options, textRefusal, async (request, readBody): Promise<Handled> => {
    const method = request.method.toUpperCase()
    if (method !== "POST" && method !== "GET") return refused(new Refusal(405, "MalformedWebhook", "method"), textRefusal)
    const url = signedUrl(request, publicUrl)
    if (url === undefined) return refused(new Refusal(400, "MalformedWebhook", "url"), textRefusal)
    let params: Record<string, Array<string>> | undefined
    if (method === "GET") {
      const query = url.indexOf("?")
      params = formParams(query === -1 ? "" : url.slice(query + 1).split("#")[0]!)
    } else {
      const type = mediaType(request)
      if (type !== "" && type !== "application/x-www-form-urlencoded" && type !== "text/plain") {
        return refused(new Refusal(400, "MalformedWebhook", "content-type"), textRefusal)
      }
      const body = await readBody(request)
      if (body instanceof Refusal) return refused(body, textRefusal)
      params = formParams(body)
    }
    if (params === undefined) return refused(new Refusal(400, "MalformedWebhook", "params"), textRefusal)
    const webhook: TwilioWebhook = {
      url,
      method,
      params,
      signature: request.headers.get("x-twilio-signature") ?? undefined
    }
    const status = first(params, "MessageStatus") ?? first(params, "SmsStatus")
    const isInbound = status === "received" || (status === undefined && first(params, "Body") !== undefined)
    const decoded = await Effect.runPromise(
      Effect.result<Transport.Feedback, TwilioWebhookError, never>(isInbound ? webhooks.parseInbound(webhook) : webhooks.parseStatusCallback(webhook))
    )
    if (decoded._tag === "Failure") {
      const reason = decoded.failure.reason
      return refused(new Refusal(reason._tag === "InvalidSignature" ? 403 : 400, reason._tag, reason.field), textRefusal)
    }
    const value = decoded.success
    const failed = value._tag === "DeliveryReport"
      ? await feed(client, [toReceipt(value)], [])
      : await feed(client, [], [toInbound(value)])
    if (failed !== undefined) return refused(failed, textRefusal)
    return {
      response: twiml(),
      outcome: "Accepted",
      receipts: value._tag === "DeliveryReport" ? 1 : 0,
      replies: value._tag === "InboundMessage" ? 1 : 0
    }
  })
}
