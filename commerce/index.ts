/**
 * Online stores end to end: `smsforge/commerce`. Verified Shopify,
 * WooCommerce, BigCommerce and Adobe Commerce webhooks, order and logistics
 * notices in six languages (at most once, never backwards), store sign-up
 * verification with per-IP and per-device limits, consent at checkout
 * (PECR) and personal-data requests (GDPR).
 *
 * @module
 * @since 0.3.0
 */
export * as Signatures from "./Signatures.ts"
export * as OrderEvents from "./OrderEvents.ts"
export * as OrderProgress from "./OrderProgress.ts"
export * as NoticeRules from "./NoticeRules.ts"
export * as Notices from "./Notices.ts"
export { InvalidBrand, type NoticeTemplateId, noticeTemplateIds, type NoticeTemplateOptions, noticeTemplates } from "./NoticeTemplates.ts"
export {
  createNotices,
  type CreateNoticesOptions,
  createSignup,
  type CreateSignupOptions,
  type NoticesClient,
  type SignupFlow
} from "./client.ts"
export * as Signup from "./Signup.ts"
export {
  type OrderEventSink,
  verifyRequest,
  type WebhookHandler,
  webhookHandler,
  type WebhookHandlerOptions,
  type WebhookOutcome
} from "./webhookHandler.ts"
export * as OrderProgressRedis from "./OrderProgressRedis.ts"
export * as OrderProgressSql from "./OrderProgressSql.ts"
export * as Checkout from "./Checkout.ts"
export * as PersonalData from "./PersonalData.ts"
