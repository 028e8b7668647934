/**
 * smsforge: an SMS aggregator inside your own process.
 *
 * @module
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export {
  ClientClosed,
  createSmsClient,
  type InboundInput,
  InvalidConfig,
  ListenerFailed,
  type ObservabilityOptions,
  type OtelTracerProvider,
  type ReceiptInput,
  type SendInput,
  type SmsClient,
  type SmsClientConfig,
  type SmsClientError,
  validateConfig
} from "./client.ts"
/**
 * @since 0.1.0
 */
export * as Audit from "./Audit.ts"
/**
 * @since 0.2.0
 */
export * as BalanceMonitor from "./BalanceMonitor.ts"
/**
 * @since 0.2.0
 */
export * as Budget from "./Budget.ts"
/**
 * @since 0.1.0
 */
export * as Consent from "./Consent.ts"
/**
 * @since 0.1.0
 */
export * as Encoding from "./Encoding.ts"
/**
 * @since 0.1.0
 */
export * as Events from "./Events.ts"
/**
 * @since 0.1.0
 */
export * as Idempotency from "./Idempotency.ts"
/**
 * @since 0.1.0
 */
export * as Inbound from "./Inbound.ts"
/**
 * @since 0.1.0
 */
export * as MessageStore from "./MessageStore.ts"
/**
 * @since 0.2.0
 */
export * as Outbox from "./Outbox.ts"
/**
 * @since 0.2.0
 */
export * as Pricing from "./Pricing.ts"
/**
 * @since 0.1.0
 */
export * as PhoneNumbers from "./PhoneNumbers.ts"
/**
 * @since 0.1.0
 */
export * as Retry from "./Retry.ts"
/**
 * @since 0.1.0
 */
export * as Router from "./Router.ts"
/**
 * @since 0.1.0
 */
export * as SendRequest from "./SendRequest.ts"
/**
 * @since 0.1.0
 */
export * as Sms from "./Sms.ts"
/**
 * @since 0.2.0
 */
export * as Store from "./Store.ts"
/**
 * @since 0.1.0
 */
export * as Templates from "./Templates.ts"
/**
 * @since 0.1.0
 */
export * as Transport from "./Transport.ts"
/**
 * @since 0.1.0
 */
export * as Verification from "./Verification.ts"
