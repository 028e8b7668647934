/**
 * Signature checks of the store platforms' webhooks, over the raw body.
 *
 * **Details**
 * - Shopify: `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body
 *   keyed with the app's client secret. With `maxAge`, `X-Shopify-Triggered-At`
 *   must be recent.
 * - WooCommerce: `X-WC-Webhook-Signature`, the base64 HMAC-SHA256 of the raw
 *   body keyed with the webhook's secret. The ping WooCommerce sends when a
 *   webhook is saved (`webhook_id=…`, unsigned) is recognised and does nothing.
 * - BigCommerce documents no payload signature: a hook is created with custom
 *   `headers`, which BigCommerce sends back on every callback. The check is a
 *   shared-secret header (`X-Webhook-Secret` unless named otherwise), compared
 *   in constant time; with `maxAge`, the body's `created_at` must be recent.
 * - Adobe Commerce (Magento) webhooks, with signature verification enabled:
 *   `x-adobe-commerce-webhook-signature`, an RSA-SHA256 signature (base64)
 *   of the base64 of the body, checked with the public key from the admin.
 * - Every comparison runs in constant time; a refusal names the header or
 *   field, never a value or a secret.
 *
 * @since 0.3.0
 */
import { createHash, createHmac, createPublicKey, type KeyObject, verify as verifySignature } from "node:crypto"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { equalBytes, isRecord, parseJson, utf8 } from "./internal/http.ts"

// models

/**
 * The store platforms with a webhook verifier.
 *
 * @category models
 * @since 0.3.0
 */
export type Platform = "shopify" | "woocommerce" | "bigcommerce" | "adobe-commerce"

/**
 * A secret as a user writes it: a plain string (from `process.env`) or a
 * `Redacted`. It is held as a `Redacted` from then on.
 *
 * @category models
 * @since 0.3.0
 */
export type Secret = string | Redacted.Redacted<string>

/**
 * A delivery whose signature verified: the platform, its topic, the shop it
 * came from, the platform's delivery id when it sends one, and the parsed body.
 *
 * @category models
 * @since 0.3.0
 */
export interface Delivery {
  readonly platform: Platform
  /** `orders/create`, `order.updated`, `store/order/statusUpdated`, `observer.sales_order_place_after` … */
  readonly topic: string
  /** The shop: Shopify's domain, WooCommerce's source URL, BigCommerce's `stores/<hash>`. */
  readonly shop: string
  readonly deliveryId?: string | undefined
  /** WooCommerce's ping when a webhook is saved: nothing to do. */
  readonly ping?: boolean | undefined
  readonly body: unknown
}

// errors

/**
 * A header the scheme needs is absent.
 *
 * @category errors
 * @since 0.3.0
 */
export class MissingHeader extends Schema.TaggedError<MissingHeader>("smsforge/commerce/MissingHeader")("MissingHeader", {
  header: Schema.String
}) {
  get status(): number {
    return 401
  }
}

/**
 * The signature (or shared secret) does not match the body.
 *
 * @category errors
 * @since 0.3.0
 */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>("smsforge/commerce/InvalidSignature")(
  "InvalidSignature",
  { header: Schema.String }
) {
  get status(): number {
    return 401
  }
}

/**
 * The delivery's time is older than `maxAge` (or too far in the future).
 *
 * @category errors
 * @since 0.3.0
 */
export class StaleTimestamp extends Schema.TaggedError<StaleTimestamp>("smsforge/commerce/StaleTimestamp")(
  "StaleTimestamp",
  { field: Schema.String }
) {
  get status(): number {
    return 401
  }
}

/**
 * The body could not be read, is not UTF-8 or not the JSON the topic needs.
 *
 * @category errors
 * @since 0.3.0
 */
export class UnreadableBody extends Schema.TaggedError<UnreadableBody>("smsforge/commerce/UnreadableBody")(
  "UnreadableBody",
  { field: Schema.String }
) {
  get status(): number {
    return 400
  }
}

/**
 * The body is larger than `maxBodyBytes`.
 *
 * @category errors
 * @since 0.3.0
 */
export class TooLarge extends Schema.TaggedError<TooLarge>("smsforge/commerce/TooLarge")("TooLarge", {
  field: Schema.String
}) {
  get status(): number {
    return 413
  }
}

/**
 * Why a delivery was refused.
 *
 * @category errors
 * @since 0.3.0
 */
export const WebhookRefusal = Schema.Union([MissingHeader, InvalidSignature, StaleTimestamp, UnreadableBody, TooLarge])

/**
 * @category errors
 * @since 0.3.0
 */
export type WebhookRefusal = typeof WebhookRefusal.Type

/**
 * A platform webhook was refused; `reason` names the header or field.
 *
 * @category errors
 * @since 0.3.0
 */
export class WebhookError extends Schema.TaggedError<WebhookError>("smsforge/commerce/WebhookError")("WebhookError", {
  platform: Schema.String,
  reason: WebhookRefusal
}) {
  override get message(): string {
    const r = this.reason
    return `${this.platform}: ${r._tag} (${"header" in r ? r.header : r.field})`
  }
}

/**
 * A verifier cannot be built as configured: an empty or non-string secret
 * (often an unset environment variable) or a public key that does not parse.
 * Thrown by the constructors, at start-up; `field` names the option, never
 * its value.
 *
 * @category errors
 * @since 0.3.0
 */
export class InvalidVerifierConfig extends Schema.TaggedError<InvalidVerifierConfig>("smsforge/commerce/InvalidVerifierConfig")(
  "InvalidVerifierConfig",
  { platform: Schema.String, field: Schema.String }
) {
  override get message(): string {
    return `InvalidVerifierConfig: ${this.platform}: ${this.field}`
  }
}

// verifiers

/**
 * Checks one delivery: the raw body, its headers and the time now (epoch ms).
 *
 * @category models
 * @since 0.3.0
 */
export interface Verifier {
  readonly platform: Platform
  readonly verify: (body: Uint8Array, headers: Headers, now: number) => Result.Result<Delivery, WebhookRefusal>
}

/**
 * @category models
 * @since 0.3.0
 */
export interface HmacOptions {
  /** Shopify: the app's client secret; WooCommerce: the webhook's secret. */
  readonly secret: Secret
  /** Refuse deliveries older than this (ms), where the scheme carries a time. Off by default. */
  readonly maxAge?: number | undefined
}

/**
 * @category models
 * @since 0.3.0
 */
export interface SharedHeaderOptions {
  /** The value of the custom header given when the hook was created. */
  readonly secret: Secret
  /** The custom header's name; `x-webhook-secret` by default. */
  readonly header?: string | undefined
  /** Refuse deliveries whose `created_at` is older than this (ms). Off by default. */
  readonly maxAge?: number | undefined
}

/**
 * @category models
 * @since 0.3.0
 */
export interface PublicKeyOptions {
  /** The PEM public key shown in Stores › Configuration › Adobe Services › Webhooks. */
  readonly publicKey: string | KeyObject
}

/** An empty secret would make every forger's HMAC valid: refuse it when the verifier is built. */
const toRedacted = (platform: Platform, secret: Secret): Redacted.Redacted<string> => {
  const value: unknown = typeof secret === "string" ? secret : Redacted.isRedacted(secret) ? Redacted.value(secret) : undefined
  if (typeof value !== "string" || value.length === 0) throw new InvalidVerifierConfig({ platform, field: "secret" })
  return typeof secret === "string" ? Redacted.make(secret) : secret
}

const hmacBase64 = (secret: Redacted.Redacted<string>, body: Uint8Array): string =>
  createHmac("sha256", Redacted.value(secret)).update(body).digest("base64")

/** Compares the header with the expected base64 text, byte for byte: no lenient decoding. */
const sameText = (expected: string, received: string): boolean =>
  equalBytes(Buffer.from(expected, "utf8"), Buffer.from(received, "utf8"))

/** Signature first, then the JSON body: nothing unauthenticated is parsed. */
const jsonBody = (body: Uint8Array): Result.Result<unknown, WebhookRefusal> => {
  const text = utf8(body)
  const parsed = text === undefined ? undefined : parseJson(text)
  return parsed === undefined ? Result.fail(new UnreadableBody({ field: "body" })) : Result.succeed(parsed)
}

const fresh = (at: number, now: number, maxAge: number): boolean =>
  Number.isFinite(at) && now - at <= maxAge && at - now <= 5 * 60_000

const header = (headers: Headers, name: string): string | undefined => {
  const value = headers.get(name)
  return value === null || value === "" ? undefined : value
}

/**
 * Shopify's scheme. Throws {@link InvalidVerifierConfig} for an empty secret.
 *
 * @category verifiers
 * @since 0.3.0
 */
export const shopify = (options: HmacOptions): Verifier => {
  const secret = toRedacted("shopify", options.secret)
  const maxAge = options.maxAge
  return {
    platform: "shopify",
    verify: (body, headers, now) => {
      const signature = header(headers, "x-shopify-hmac-sha256")
      if (signature === undefined) return Result.fail(new MissingHeader({ header: "X-Shopify-Hmac-Sha256" }))
      if (!sameText(hmacBase64(secret, body), signature)) {
        return Result.fail(new InvalidSignature({ header: "X-Shopify-Hmac-Sha256" }))
      }
      const topic = header(headers, "x-shopify-topic")
      if (topic === undefined) return Result.fail(new MissingHeader({ header: "X-Shopify-Topic" }))
      const shop = header(headers, "x-shopify-shop-domain")
      if (shop === undefined) return Result.fail(new MissingHeader({ header: "X-Shopify-Shop-Domain" }))
      if (maxAge !== undefined) {
        const triggered = header(headers, "x-shopify-triggered-at")
        if (triggered === undefined) return Result.fail(new MissingHeader({ header: "X-Shopify-Triggered-At" }))
        if (!fresh(Date.parse(triggered), now, maxAge)) return Result.fail(new StaleTimestamp({ field: "X-Shopify-Triggered-At" }))
      }
      return Result.map(jsonBody(body), (parsed) => ({
        platform: "shopify" as const,
        topic,
        shop,
        deliveryId: header(headers, "x-shopify-event-id") ?? header(headers, "x-shopify-webhook-id"),
        body: parsed
      }))
    }
  }
}

const WOO_PING = /^webhook_id=\d{1,18}$/

/**
 * WooCommerce's scheme. Throws {@link InvalidVerifierConfig} for an empty secret.
 *
 * @category verifiers
 * @since 0.3.0
 */
export const woocommerce = (options: HmacOptions): Verifier => {
  const secret = toRedacted("woocommerce", options.secret)
  return {
    platform: "woocommerce",
    verify: (body, headers) => {
      const signature = header(headers, "x-wc-webhook-signature")
      if (signature === undefined) {
        // WooCommerce pings a new webhook unsigned; answering 200 lets it be saved, and it carries nothing.
        const text = body.byteLength <= 40 ? utf8(body) : undefined
        if (text !== undefined && WOO_PING.test(text)) {
          return Result.succeed({ platform: "woocommerce" as const, topic: "ping", shop: "", ping: true, body: {} })
        }
        return Result.fail(new MissingHeader({ header: "X-WC-Webhook-Signature" }))
      }
      if (!sameText(hmacBase64(secret, body), signature)) {
        return Result.fail(new InvalidSignature({ header: "X-WC-Webhook-Signature" }))
      }
      const topic = header(headers, "x-wc-webhook-topic")
      if (topic === undefined) return Result.fail(new MissingHeader({ header: "X-WC-Webhook-Topic" }))
      return Result.map(jsonBody(body), (parsed) => ({
        platform: "woocommerce" as const,
        topic,
        shop: header(headers, "x-wc-webhook-source") ?? "",
        deliveryId: header(headers, "x-wc-webhook-delivery-id"),
        body: parsed
      }))
    }
  }
}

const sha256 = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

/**
 * BigCommerce: a shared-secret custom header (BigCommerce documents no payload
 * signature). Throws {@link InvalidVerifierConfig} for an empty secret.
 *
 * @category verifiers
 * @since 0.3.0
 */
export const bigcommerce = (options: SharedHeaderOptions): Verifier => {
  // Digests of equal length, so the comparison's time says nothing about the secret's length.
  const expected = sha256(Redacted.value(toRedacted("bigcommerce", options.secret)))
  const name = (options.header ?? "x-webhook-secret").toLowerCase()
  const maxAge = options.maxAge
  return {
    platform: "bigcommerce",
    verify: (body, headers, now) => {
      const received = header(headers, name)
      if (received === undefined) return Result.fail(new MissingHeader({ header: name }))
      if (!equalBytes(expected, sha256(received))) return Result.fail(new InvalidSignature({ header: name }))
      return Result.flatMap(jsonBody(body), (parsed): Result.Result<Delivery, WebhookRefusal> => {
        if (!isRecord(parsed) || typeof parsed.scope !== "string") return Result.fail(new UnreadableBody({ field: "scope" }))
        if (maxAge !== undefined) {
          const created = typeof parsed.created_at === "number" ? parsed.created_at * 1000 : Number.NaN
          if (!fresh(created, now, maxAge)) return Result.fail(new StaleTimestamp({ field: "created_at" }))
        }
        return Result.succeed({
          platform: "bigcommerce" as const,
          topic: parsed.scope,
          shop: typeof parsed.producer === "string" ? parsed.producer : "",
          deliveryId: typeof parsed.hash === "string" ? parsed.hash : undefined,
          body: parsed
        })
      })
    }
  }
}

const ADOBE_HEADER = "x-adobe-commerce-webhook-signature"

const publicKeyOf = (input: string | KeyObject): KeyObject => {
  if (typeof input !== "string") return input
  try {
    return createPublicKey(input)
  } catch {
    throw new InvalidVerifierConfig({ platform: "adobe-commerce", field: "publicKey" })
  }
}

/**
 * Adobe Commerce (Magento) webhooks with signature verification on. Throws
 * {@link InvalidVerifierConfig} for a public key that does not parse.
 *
 * @category verifiers
 * @since 0.3.0
 */
export const adobeCommerce = (options: PublicKeyOptions): Verifier => {
  const key = publicKeyOf(options.publicKey)
  return {
    platform: "adobe-commerce",
    verify: (body, headers) => {
      const signature = header(headers, ADOBE_HEADER)
      if (signature === undefined) return Result.fail(new MissingHeader({ header: ADOBE_HEADER }))
      // Adobe signs the base64 of the body, not the body itself.
      const signed = Buffer.from(Buffer.from(body).toString("base64"), "utf8")
      let valid = false
      try {
        valid = verifySignature("sha256", signed, key, Buffer.from(signature, "base64"))
      } catch {
        valid = false
      }
      if (!valid) return Result.fail(new InvalidSignature({ header: ADOBE_HEADER }))
      return Result.flatMap(jsonBody(body), (parsed): Result.Result<Delivery, WebhookRefusal> => {
        const topic = isRecord(parsed) && typeof parsed.eventName === "string" ? parsed.eventName : header(headers, "x-adobe-commerce-event")
        if (topic === undefined) return Result.fail(new UnreadableBody({ field: "eventName" }))
        return Result.succeed({
          platform: "adobe-commerce" as const,
          topic,
          shop: header(headers, "x-adobe-commerce-store") ?? "",
          body: parsed
        })
      })
    }
  }
}
