/**
 * A mapping-configured transport for any REST SMS gateway:
 * `smsforge/transports/http`.
 *
 * @module
 * @since 0.1.0
 */
export * from "./HttpTransport.ts"
