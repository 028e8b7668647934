/**
 * @since 0.1.0
 */
export * as Encoding from "./Encoding.ts"
/**
 * @since 0.1.0
 */
export * as Transport from "./Transport.ts"
/**
 * @since 0.1.0
 */
export * as MessageStore from "./MessageStore.ts"
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
export * as SendRequest from "./SendRequest.ts"
