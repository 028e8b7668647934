/**
 * A Web-standard handler for a store platform's order webhooks.
 *
 * @since 0.3.0
 */
import * as Result from "effect/Result"
import { fromDelivery, type OrderEvent } from "./OrderEvents.ts"
import type { Delivery, Verifier, WebhookRefusal } from "./Signatures.ts"
import { TooLarge, UnreadableBody, WebhookError } from "./Signatures.ts"
import { BodyProblem, json, readBytes } from "./internal/http.ts"

/**
 * A Web-standard request handler, as Hono, Bun, Deno, Workers and Next.js
 * route handlers take it. It never rejects.
 *
 * @category models
 * @since 0.3.0
 */
export type WebhookHandler = (request: Request) => Promise<Response>

/**
 * Where order events go: `createNotices(…)` fits as it is, or any object
 * with this method. A rejection whose `isRetryable` is `true` is answered
 * `503`, so the platform retries; any other rejection `200` with outcome
 * `Refused`, because no retry can fix it and platforms disable endpoints
 * that keep failing.
 *
 * @category models
 * @since 0.3.0
 */
export interface OrderEventSink {
  readonly notify: (event: OrderEvent) => Promise<unknown>
}

/**
 * Why the handler answered the way it did, for logs and metrics: a tag and
 * a header or field name, never the input.
 *
 * @category models
 * @since 0.3.0
 */
export interface WebhookOutcome {
  readonly platform: string
  readonly status: number
  /**
   * The notices' outcome (`Sent`, `Duplicate`, `Stale`, `Skipped`, or `Accepted` for a sink that answers
   * none), `Ignored` (a topic with no notice), `Ping`, `Refused`, `Retry`, or the webhook refusal's tag.
   */
  readonly outcome: string
  readonly field?: string | undefined
  readonly topic?: string | undefined
}

/**
 * @category models
 * @since 0.3.0
 */
export interface WebhookHandlerOptions {
  /** `Signatures.shopify({ secret })`, `woocommerce`, `bigcommerce` or `adobeCommerce`. */
  readonly verifier: Verifier
  readonly notices: OrderEventSink
  /**
   * Completes an event before it is notified: BigCommerce and Shopify's
   * tracking events carry no contact, BigCommerce no tracking number; read
   * them from the platform's API here. `undefined` drops the event.
   */
  readonly enrich?: ((event: OrderEvent, delivery: Delivery) => Promise<OrderEvent | undefined>) | undefined
  /** Largest body read, in bytes; default 1 MiB. */
  readonly maxBodyBytes?: number | undefined
  /** Called once per request; its failures are ignored. */
  readonly onOutcome?: ((outcome: WebhookOutcome) => void) | undefined
  /** The time now, in epoch ms, for `maxAge`; `Date.now` by default. */
  readonly now?: (() => number) | undefined
}

const fieldOf = (reason: WebhookRefusal): string => ("header" in reason ? reason.header : reason.field)

// The notices' outcome (`Sent`, `Duplicate`, `Stale`, `Skipped`), for the answer and the logs.
const noticeTag = (result: unknown): string | undefined => {
  const tag = typeof result === "object" && result !== null ? (result as { readonly _tag?: unknown })._tag : undefined
  return typeof tag === "string" && /^(Sent|Duplicate|Stale|Skipped)$/.test(tag) ? tag : undefined
}

const isRetryable = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { readonly isRetryable?: unknown }).isRetryable === true

/**
 * Verifies a platform's webhook over its raw body and hands the order event
 * it carries to `notices`.
 *
 * **Details**
 * - The signature is checked before the body is parsed: a missing header
 *   or a wrong signature is `401`, an unreadable body `400`, one over
 *   `maxBodyBytes` `413`, a stale delivery `401`. The answer's JSON names the
 *   reason and the header or field, never a value.
 * - A verified delivery whose topic carries no notice is answered `200`
 *   (`Ignored`), as is WooCommerce's ping, so the platform keeps the hook.
 *
 * **Example**
 * ```ts
 * import { Hono } from "hono"
 * import { createNotices, Signatures, webhookHandler } from "smsforge/commerce"
 *
 * const shopifyWebhooks = webhookHandler({ verifier: Signatures.shopify({ secret: process.env.SHOPIFY_API_SECRET! }), notices })
 * app.post("/webhooks/shopify", (c) => shopifyWebhooks(c.req.raw))
 * ```
 *
 * @category webhooks
 * @since 0.3.0
 */
export const webhookHandler = (options: WebhookHandlerOptions): WebhookHandler => {
  const { verifier, notices, enrich, onOutcome } = options
  const limit = typeof options.maxBodyBytes === "number" && options.maxBodyBytes > 0 ? options.maxBodyBytes : 1024 * 1024
  const now = options.now ?? Date.now
  const platform = verifier.platform
  const report = (status: number, outcome: string, extra: { field?: string; topic?: string } = {}): Response => {
    try {
      onOutcome?.({ platform, status, outcome, ...extra })
    } catch {
      // a logger's failure is not the platform's
    }
    return json(status, status < 300 ? { ok: true, outcome } : { error: outcome, ...(extra.field === undefined ? {} : { field: extra.field }) })
  }
  const refuse = (reason: WebhookRefusal) => report(reason.status, reason._tag, { field: fieldOf(reason) })

  const handle = async (request: Request): Promise<Response> => {
    if (request.method.toUpperCase() !== "POST") return report(405, "MethodNotAllowed", { field: "method" })
    const body = await readBytes(request, limit)
    if (body instanceof BodyProblem) {
      return refuse(body.tag === "TooLarge" ? new TooLarge({ field: "body" }) : new UnreadableBody({ field: "body" }))
    }
    const verified = verifier.verify(body, request.headers, now())
    if (Result.isFailure(verified)) return refuse(verified.failure)
    const delivery = verified.success
    if (delivery.ping === true) return report(200, "Ping")
    const topic = delivery.topic.slice(0, 100)
    const parsed = fromDelivery(delivery)
    let event = parsed
    if (parsed !== undefined && enrich !== undefined) {
      try {
        event = await enrich(parsed, delivery)
      } catch {
        // The platform's API failed us; its retry of this delivery can succeed.
        return report(503, "Retry", { field: "enrich", topic })
      }
    }
    if (event === undefined) return report(200, "Ignored", { topic })
    try {
      const result = await notices.notify(event)
      return report(200, noticeTag(result) ?? "Accepted", { topic })
    } catch (error) {
      return isRetryable(error) ? report(503, "Retry", { topic }) : report(200, "Refused", { topic })
    }
  }

  return async (request) => {
    try {
      return await handle(request)
    } catch {
      try {
        return report(500, "Defect", { field: "handler" })
      } catch {
        return new Response(null, { status: 500 })
      }
    }
  }
}

/**
 * Verifies one request without handling it: the delivery, or a
 * {@link WebhookError} naming the refusal. For frameworks that route by
 * topic themselves.
 *
 * @category webhooks
 * @since 0.3.0
 */
export const verifyRequest = async (
  verifier: Verifier,
  request: Request,
  options: { readonly maxBodyBytes?: number | undefined; readonly now?: number | undefined } = {}
): Promise<Result.Result<Delivery, WebhookError>> => {
  const body = await readBytes(request, options.maxBodyBytes ?? 1024 * 1024)
  const platform = verifier.platform
  if (body instanceof BodyProblem) {
    const reason = body.tag === "TooLarge" ? new TooLarge({ field: "body" }) : new UnreadableBody({ field: "body" })
    return Result.fail(new WebhookError({ platform, reason }))
  }
  return Result.mapError(verifier.verify(body, request.headers, options.now ?? Date.now()), (reason) => new WebhookError({ platform, reason }))
}
