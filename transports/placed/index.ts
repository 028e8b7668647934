/**
 * Carrier connections placed by `effect/cluster` for smsforge
 * (`smsforge/transports/placed`): one connection per fleet, not one per
 * instance.
 *
 * @module
 * @since 0.2.0
 */

/**
 * @since 0.2.0
 */
export * as PlacedTransport from "./PlacedTransport.ts"
