/**
 * The smsforge console and HTTP API: an inbox per recipient, delivery
 * reports and verifications, live over server-sent events, and the
 * `POST /messages` API with tenant API keys, mountable in your own server.
 *
 * **Example** (Mounting the console in a Node server)
 * ```ts
 * import { createServer } from "node:http"
 * import { Sms } from "smsforge"
 * import { ApiKeys, makeHandler, toNodeListener } from "smsforge/console"
 *
 * const console_ = makeHandler(Sms.layer({ transports: [] }), {
 *   apiKeys: ApiKeys.fromEnvironment(process.env.SMSFORGE_API_KEYS)
 * })
 * createServer(toNodeListener(console_.handler)).listen(8025, "127.0.0.1")
 * ```
 *
 * @module
 * @since 0.2.0
 */

/** @since 0.2.0 */
export * as Aggregates from "./Aggregates.ts"
/** @since 0.2.0 */
export * as Api from "./Api.ts"
/** @since 0.2.0 */
export * as ApiKeys from "./ApiKeys.ts"
/** @since 0.2.0 */
export * as Live from "./Live.ts"
/** @since 0.2.0 */
export { type ConsoleHandler, type ConsoleOptions, type FaultControl, layer, layerRoutes, makeHandler, type WebhookClient } from "./Server.ts"
/** @since 0.2.0 */
export { toNodeListener } from "./node.ts"
