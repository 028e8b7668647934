/**
 * Tencent Cloud SMS (API 2021-01-11): `smsforge/transports/tencent`.
 *
 * @module
 * @since 0.1.0
 */
export * from "./TencentTransport.ts"
export * from "./webhookHandler.ts"
export * from "./balance.ts"
