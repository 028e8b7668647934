/**
 * A Web-standard handler for Alibaba Cloud's `SmsReport` and `SmsUp` pushes.
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
import { makeWebhooks } from "./AliyunTransport.ts"

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
 * The options of {@link webhookHandler}: Alibaba Cloud does not sign its pushes,
 * so `authorize` is the only check.
 *
 * @category models
 * @since 0.2.0
 */
export type WebhookHandlerOptions = UnsignedPushOptions

/**
 * The JSON body Alibaba Cloud expects in answer to a push it may stop
 * retrying: `{"code":0,"msg":"成功"}`.
 *
 * @category webhooks
 * @since 0.2.0
 */
export const pushAnswer: { readonly code: 0; readonly msg: "成功" } = { code: 0, msg: "成功" }

const answer = (refusal: Refusal): Response =>
  jsonResponse(refusal.status, { code: refusal.status, msg: `${refusal.tag} (${refusal.field})` })

const isReply = (item: unknown): boolean =>
  item !== null && typeof item === "object" && !Array.isArray(item) && "content" in item && !("biz_id" in item)

/**
 * Builds a `(request: Request) => Promise<Response>` for Alibaba Cloud's HTTP
 * batch pushes: `SmsReport` (delivery receipts) and `SmsUp` (replies), on one
 * URL or two.
 *
 * **Details**
 * - The body is a JSON array (or one object); an item with `content` and no
 *   `biz_id` is a reply, handed to `client.inbound`, any other a receipt,
 *   handed to `client.deliveryReceipt`. One malformed item refuses the batch.
 * - Answers `200` with `{"code":0,"msg":"成功"}`; `authorize` refusing `403`,
 *   malformed `400`, a body over `maxBodyBytes` `413`, a client that rejected
 *   `500` so Alibaba Cloud retries; a refusal's `msg` names its reason and
 *   field, never the input. The Promise never rejects.
 *
 * @category webhooks
 * @since 0.2.0
 */
export const webhookHandler = (options: WebhookHandlerOptions): WebhookHandler => {
  const webhooks = makeWebhooks({ name: options.name ?? "aliyun" })
  return jsonPushHandler(options, {
    accepted: pushAnswer,
    answer,
    isReply,
    parseReports: webhooks.parseReports,
    parseInbound: webhooks.parseInbound,
    toReceipt,
    toInbound
  })
}
