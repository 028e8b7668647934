/**
 * A Web-standard handler for Tencent Cloud's status report and reply callbacks.
 *
 * @since 0.2.0
 */
import {
  jsonPushHandler,
  jsonResponse,
  Refusal,
  toInbound,
  toReceipt,
  type UnsignedPushOptions,
  type WebhookHandler
} from "../internal/webhook.ts"
import { callbackAnswer, makeWebhooks } from "./TencentTransport.ts"

export type {
  UnsignedPushOptions,
  WebhookClient,
  WebhookHandler,
  WebhookInbound,
  WebhookOptions,
  WebhookOutcome,
  WebhookReceipt
} from "../internal/webhook.ts"

/**
 * The options of {@link webhookHandler}: Tencent Cloud does not sign its callbacks,
 * so `authorize` is the only check.
 *
 * @category models
 * @since 0.2.0
 */
export type WebhookHandlerOptions = UnsignedPushOptions

const answer = (refusal: Refusal): Response =>
  jsonResponse(refusal.status, { result: refusal.status, errmsg: `${refusal.tag} (${refusal.field})` })

const isReply = (item: unknown): boolean =>
  item !== null && typeof item === "object" && !Array.isArray(item) && "text" in item && !("report_status" in item)

/**
 * Builds a `(request: Request) => Promise<Response>` for Tencent Cloud SMS
 * callbacks: status reports (delivery receipts) and replies, on one URL or two.
 *
 * **Details**
 * - The body is JSON: an array of status reports, or one reply object; an
 *   item with `text` and no `report_status` is a reply, handed to
 *   `client.inbound`, any other a report, handed to `client.deliveryReceipt`.
 *   One malformed item refuses the batch.
 * - Answers `200` with `{"result":0,"errmsg":"OK"}` ({@link callbackAnswer});
 *   `authorize` refusing `403`, malformed `400`, a body over `maxBodyBytes`
 *   `413`, a client that rejected `500` so Tencent Cloud retries; a refusal's
 *   `errmsg` names its reason and field, never the input. The Promise never
 *   rejects.
 *
 * @category webhooks
 * @since 0.2.0
 */
export const webhookHandler = (options: WebhookHandlerOptions): WebhookHandler => {
  const webhooks = makeWebhooks({ name: options.name ?? "tencent" })
  return jsonPushHandler(options, {
    accepted: callbackAnswer,
    answer,
    isReply,
    parseReports: webhooks.parseReports,
    parseInbound: webhooks.parseInbound,
    toReceipt,
    toInbound
  })
}
