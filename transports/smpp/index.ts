/**
 * SMPP 3.4 carrier transport for smsforge (`smsforge/transports/smpp`), on the
 * `smpp` package (an optional peer dependency: `npm install smpp`).
 *
 * @module
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as SmppTransport from "./SmppTransport.ts"
