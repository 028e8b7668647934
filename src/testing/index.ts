/**
 * Test support for smsforge and for applications that use it: a sandbox
 * carrier, a reader for the codes in received texts and conformance suites
 * for transports and stores.
 * fast-check generators are in `smsforge/testing/arbitraries`, so this entry
 * loads without fast-check (an optional peer).
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
export * as Codes from "./Codes.ts"

/**
 * @since 0.1.0
 */
export * as StoreConformance from "./StoreConformance.ts"
