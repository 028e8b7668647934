/**
 * @since 0.1.0
 */
export * as Encoding from "./Encoding.ts"
export * as Transport from "./Transport.ts"
