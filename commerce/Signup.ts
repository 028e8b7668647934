/**
 * Sign-up verification for a store: per-IP and per-device limits next to
 * the per-number ones Verification already keeps, and the fraud guard's
 * verdict handed to the store as a value it can act on (show a CAPTCHA,
 * ask for email instead) rather than as an error to catch.
 *
 * **Details**
 * - Limits run on effect/persistence `RateLimiter` (memory, Redis or SQL
 *   store): starts per IP (10 an hour) and per device (5 an hour), checks
 *   per IP (30 an hour) and per device (15 an hour) by default, before a
 *   code is sent or checked.
 * - Keys are HMAC-SHA-256 digests keyed with `pepper`: no IP, device id or
 *   number appears in a rate-limit key. The device digest (else the IP's)
 *   is the verification's `clientKey`, so its client limit counts per device.
 * - The verdict: `Sent`, `Refused` (which limit: `ip`, `device`, `recipient`,
 *   `prefix`, `client`, `tenant`, `cooldown`, with the wait) or `Blocked`
 *   (the fraud guard: `country`, `number-type`, `velocity`).
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createHmac } from "node:crypto"
import type { Secret } from "./Signatures.ts"

// models

/**
 * The verification calls a sign-up makes: `createSmsClient(…)` fits as it is.
 *
 * @category models
 * @since 0.3.0
 */
export interface SignupClient {
  readonly verify: {
    readonly start: (request: { readonly to: string; readonly clientKey?: string; readonly locale?: string }) => Promise<{
      readonly verificationId: string
      readonly expiresAt: number
    }>
    readonly check: (request: { readonly verificationId: string; readonly code: string }) => Promise<{
      readonly status: string
      readonly attemptsLeft: number
    }>
  }
}

/**
 * @category models
 * @since 0.3.0
 */
export interface Limit {
  readonly limit: number
  readonly window: Duration.Input
}

/**
 * @category models
 * @since 0.3.0
 */
export interface SignupOptions {
  readonly client: SignupClient
  /** Keys the digests of IPs, devices and numbers; keep it stable across instances. */
  readonly pepper: Secret
  /** `false` turns a limit off. */
  readonly limits?: {
    readonly startsPerIp?: Limit | false | undefined
    readonly startsPerDevice?: Limit | false | undefined
    readonly checksPerIp?: Limit | false | undefined
    readonly checksPerDevice?: Limit | false | undefined
  } | undefined
  /** Prepended to rate-limit keys; `"smsforge:signup:"` by default. */
  readonly prefix?: string | undefined
}

/**
 * Who is signing up, as the store's server sees them.
 *
 * @category models
 * @since 0.3.0
 */
export interface SignupRequest {
  readonly to: string
  /** The client's address (behind a proxy, the forwarded one you trust). */
  readonly ip?: string | undefined
  /** A device id the app or a cookie keeps. */
  readonly device?: string | undefined
  readonly locale?: string | undefined
}

/**
 * @category models
 * @since 0.3.0
 */
export type RefusedScope = "ip" | "device" | "recipient" | "prefix" | "client" | "tenant" | "cooldown"

/**
 * What became of a sign-up's start.
 *
 * @category models
 * @since 0.3.0
 */
export type StartVerdict =
  | { readonly _tag: "Sent"; readonly verificationId: string; readonly expiresAt: number }
  | { readonly _tag: "Refused"; readonly scope: RefusedScope; readonly retryAfterMillis: number }
  | { readonly _tag: "Blocked"; readonly reason: "country" | "number-type" | "velocity"; readonly retryAfterMillis?: number | undefined }

/**
 * What became of a code check.
 *
 * @category models
 * @since 0.3.0
 */
export type CheckVerdict =
  | { readonly _tag: "Checked"; readonly status: string; readonly attemptsLeft: number }
  | { readonly _tag: "Refused"; readonly scope: "ip" | "device"; readonly retryAfterMillis: number }

// errors

/**
 * The verification refused for a reason no wait fixes (`InvalidPhoneNumber`,
 * `TooManyAttempts` …) or failed (`StoreUnavailable`); `tag` is its reason.
 *
 * @category errors
 * @since 0.3.0
 */
export class SignupError extends Schema.TaggedError<SignupError>("smsforge/commerce/SignupError")("SignupError", {
  tag: Schema.String,
  field: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `SignupError: ${this.tag}${this.field === undefined ? "" : ` (${this.field})`}`
  }
}

// service

/**
 * @category services
 * @since 0.3.0
 */
export class Signup extends Context.Service<Signup, {
  readonly start: (request: SignupRequest) => Effect.Effect<StartVerdict, SignupError>
  readonly check: (request: {
    readonly verificationId: string
    readonly code: string
    readonly ip?: string | undefined
    readonly device?: string | undefined
  }) => Effect.Effect<CheckVerdict, SignupError>
}>()("smsforge/commerce/Signup") {}

// make

const HOUR = Duration.hours(1)
const defaults = {
  startsPerIp: { limit: 10, window: HOUR },
  startsPerDevice: { limit: 5, window: HOUR },
  checksPerIp: { limit: 30, window: HOUR },
  checksPerDevice: { limit: 15, window: HOUR }
} as const

interface Rejection {
  readonly _tag?: unknown
  readonly scope?: unknown
  readonly reason?: unknown
  readonly retryAfter?: unknown
  readonly field?: unknown
}

const millis = (value: unknown): number =>
  Duration.isDuration(value) ? Duration.toMillis(value) : typeof value === "number" && Number.isFinite(value) ? value : 0

const SCOPES = new Set(["recipient", "prefix", "client", "tenant"])
const BLOCKS = new Set(["country", "number-type", "velocity"])

/** The verification's rejection as a verdict when a wait or a different route fixes it, else a typed error. */
const verdictOf = (error: unknown): StartVerdict | SignupError => {
  const e: Rejection = typeof error === "object" && error !== null ? error : {}
  const tag = typeof e._tag === "string" && /^[A-Za-z]{1,64}$/.test(e._tag) ? e._tag : "Unknown"
  if (tag === "RateLimited" && typeof e.scope === "string" && SCOPES.has(e.scope)) {
    return { _tag: "Refused", scope: e.scope as RefusedScope, retryAfterMillis: millis(e.retryAfter) }
  }
  if (tag === "TooManySends") return { _tag: "Refused", scope: "recipient", retryAfterMillis: millis(e.retryAfter) }
  if (tag === "ResendCooldown") return { _tag: "Refused", scope: "cooldown", retryAfterMillis: millis(e.retryAfter) }
  if (tag === "Blocked" && typeof e.reason === "string" && BLOCKS.has(e.reason)) {
    const wait = e.retryAfter === undefined ? undefined : millis(e.retryAfter)
    return { _tag: "Blocked", reason: e.reason as "velocity", ...(wait === undefined ? {} : { retryAfterMillis: wait }) }
  }
  return new SignupError({ tag, ...(typeof e.field === "string" && e.field.length <= 64 ? { field: e.field } : {}) })
}

/**
 * Builds the sign-up flow on the `RateLimiter` in context.
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = Effect.fnUntraced(function*(options: SignupOptions) {
  const limiter = yield* RateLimiter.RateLimiter
  const pepper = typeof options.pepper === "string" ? Redacted.make(options.pepper) : options.pepper
  const prefix = options.prefix ?? "smsforge:signup:"
  const limits = { ...defaults, ...options.limits }
  const client = options.client
  const hash = (kind: string, value: string) =>
    createHmac("sha256", Redacted.value(pepper)).update(`${kind}\u0000${value}`, "utf8").digest("base64url")

  /** `undefined` when within the limit, else how long to wait. */
  const consume = (name: keyof typeof defaults, kind: "ip" | "device", value: string | undefined) => {
    const limit = limits[name]
    if (limit === false || limit === undefined || value === undefined || value === "") return Effect.succeed(undefined)
    return limiter.consume({ key: `${prefix}${name}:${hash(kind, value)}`, limit: limit.limit, window: limit.window, onExceeded: "fail" }).pipe(
      Effect.as(undefined),
      Effect.catchReason("RateLimiterError", "RateLimitExceeded", (e) => Effect.succeed(Duration.toMillis(e.retryAfter))),
      Effect.mapError(() => new SignupError({ tag: "StoreUnavailable", field: "rateLimiter" }))
    )
  }

  const start = (request: SignupRequest): Effect.Effect<StartVerdict, SignupError> =>
    Effect.gen(function*() {
      const byIp = yield* consume("startsPerIp", "ip", request.ip)
      if (byIp !== undefined) return { _tag: "Refused", scope: "ip", retryAfterMillis: byIp } as const
      const byDevice = yield* consume("startsPerDevice", "device", request.device)
      if (byDevice !== undefined) return { _tag: "Refused", scope: "device", retryAfterMillis: byDevice } as const
      const clientKey = request.device !== undefined ? hash("device", request.device) : request.ip !== undefined ? hash("ip", request.ip) : undefined
      const started = yield* Effect.tryPromise({
        try: () =>
          client.verify.start({
            to: request.to,
            ...(clientKey === undefined ? {} : { clientKey }),
            ...(request.locale === undefined ? {} : { locale: request.locale })
          }),
        catch: verdictOf
      }).pipe(Effect.catch((v) => (v instanceof SignupError ? Effect.fail(v) : Effect.succeed(v))))
      return "verificationId" in started ? { _tag: "Sent", verificationId: started.verificationId, expiresAt: started.expiresAt } as const : started
    }).pipe(Effect.withSpan("smsforge/commerce/Signup.start"))

  const check: Signup["Service"]["check"] = (request) =>
    Effect.gen(function*() {
      const byIp = yield* consume("checksPerIp", "ip", request.ip)
      if (byIp !== undefined) return { _tag: "Refused", scope: "ip", retryAfterMillis: byIp } as const
      const byDevice = yield* consume("checksPerDevice", "device", request.device)
      if (byDevice !== undefined) return { _tag: "Refused", scope: "device", retryAfterMillis: byDevice } as const
      const checked = yield* Effect.tryPromise({
        try: () => client.verify.check({ verificationId: request.verificationId, code: request.code }),
        catch: (error) => {
          const v = verdictOf(error)
          return v instanceof SignupError ? v : new SignupError({ tag: v._tag })
        }
      })
      return { _tag: "Checked", status: checked.status, attemptsLeft: checked.attemptsLeft } as const
    }).pipe(Effect.withSpan("smsforge/commerce/Signup.check"))

  return Signup.of({ start, check })
})

/**
 * @category layers
 * @since 0.3.0
 */
export const layer = (options: SignupOptions): Layer.Layer<Signup, never, RateLimiter.RateLimiter> =>
  Layer.effect(Signup, make(options))

/**
 * The flow with rate limits in memory (one process).
 *
 * @category layers
 * @since 0.3.0
 */
export const layerMemory = (options: SignupOptions): Layer.Layer<Signup> =>
  layer(options).pipe(Layer.provide(RateLimiter.layer), Layer.provide(RateLimiter.layerStoreMemory))
