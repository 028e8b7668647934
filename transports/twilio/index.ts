/**
 * Twilio Programmable Messaging: `smsforge/transports/twilio`.
 *
 * @module
 * @since 0.1.0
 */
export * from "./TwilioTransport.ts"
export * from "./webhookHandler.ts"
export * from "./balance.ts"
