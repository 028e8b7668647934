/**
 * fast-check arbitraries for tests of code that sends SMS:
 * `smsforge/testing/arbitraries`. A subpath of its own because fast-check is
 * an optional peer dependency: `smsforge/testing` loads without it, this
 * subpath needs it installed.
 *
 * @module
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Arbitraries from "../Arbitraries.ts"
