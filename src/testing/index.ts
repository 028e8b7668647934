/**
 * Test support for smsforge and for applications that use it: a sandbox
 * carrier, fast-check generators and a conformance suite for transports.
 *
 * @module
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Sandbox from "./Sandbox.ts"

/**
 * @since 0.1.0
 */
export * as TransportConformance from "./TransportConformance.ts"

/**
 * @since 0.1.0
 */
export * as Arbitraries from "./Arbitraries.ts"

/**
 * @since 0.1.0
 */
export * as Codes from "./Codes.ts"

/**
 * @since 0.1.0
 */
export * as StoreConformance from "./StoreConformance.ts"
