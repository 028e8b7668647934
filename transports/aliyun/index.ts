/**
 * Alibaba Cloud SMS (dysmsapi): `smsforge/transports/aliyun`.
 *
 * @module
 * @since 0.1.0
 */
export * from "./AliyunTransport.ts"
export * from "./webhookHandler.ts"
export * from "./balance.ts"
