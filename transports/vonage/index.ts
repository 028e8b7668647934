/**
 * The Vonage (Nexmo) SMS API: `smsforge/transports/vonage`.
 *
 * @module
 * @since 0.1.0
 */
export * from "./VonageTransport.ts"
export * from "./webhookHandler.ts"
export * from "./balance.ts"
