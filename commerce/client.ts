/**
 * The Promise facade of the notices, for applications that do not use Effect.
 *
 * @since 0.3.0
 */
import type * as Layer from "effect/Layer"
import * as LayerM from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { layer as noticesLayer, type NoticeOutcome, Notices, type NoticesOptions } from "./Notices.ts"
import type { OrderEvent } from "./OrderEvents.ts"
import * as RateLimiter from "effect/persistence/RateLimiter"
import { type CheckVerdict, layer as signupLayer, Signup, type SignupOptions, type SignupRequest, type StartVerdict } from "./Signup.ts"
import { layerStoreMemory, type OrderProgressStore } from "./OrderProgress.ts"

/**
 * @category models
 * @since 0.3.0
 */
export interface NoticesClient {
  /** Sends the notice an event calls for; rejects with a `NoticeError` (its `reason._tag` names why). */
  readonly notify: (event: OrderEvent) => Promise<NoticeOutcome>
  /** Releases the progress store's connections. */
  readonly close: () => Promise<void>
}

/**
 * @category models
 * @since 0.3.0
 */
export interface CreateNoticesOptions extends NoticesOptions {
  /** Where order progress is kept; memory by default. `layerStoreRedis` or `layerStoreSql` share it between instances. */
  readonly store?: Layer.Layer<OrderProgressStore, unknown> | undefined
}

/**
 * Notices on one managed runtime, for a webhook handler or your own code.
 *
 * @category constructors
 * @since 0.3.0
 */
export const createNotices = (options: CreateNoticesOptions): NoticesClient => {
  const runtime = ManagedRuntime.make(noticesLayer(options).pipe(LayerM.provide(options.store ?? layerStoreMemory)))
  return {
    notify: (event) => runtime.runPromise(Notices.use((notices) => notices.notify(event))),
    close: () => runtime.dispose()
  }
}

/**
 * @category models
 * @since 0.3.0
 */
export interface SignupFlow {
  /** Sends a code unless a limit or the fraud guard says no; rejects with a `SignupError` only for what no wait fixes. */
  readonly start: (request: SignupRequest) => Promise<StartVerdict>
  readonly check: (request: {
    readonly verificationId: string
    readonly code: string
    readonly ip?: string | undefined
    readonly device?: string | undefined
  }) => Promise<CheckVerdict>
  readonly close: () => Promise<void>
}

/**
 * @category models
 * @since 0.3.0
 */
export interface CreateSignupOptions extends SignupOptions {
  /** Where the per-IP and per-device counters live; memory by default, `RateLimiter.layerStoreRedis` to share them. */
  readonly rateLimiterStore?: Layer.Layer<RateLimiter.RateLimiterStore, unknown> | undefined
}

/**
 * The sign-up flow on one managed runtime.
 *
 * @category constructors
 * @since 0.3.0
 */
export const createSignup = (options: CreateSignupOptions): SignupFlow => {
  const limiter = RateLimiter.layer.pipe(LayerM.provide(options.rateLimiterStore ?? RateLimiter.layerStoreMemory))
  const runtime = ManagedRuntime.make(signupLayer(options).pipe(LayerM.provide(limiter)))
  return {
    start: (request) => runtime.runPromise(Signup.use((s) => s.start(request))),
    check: (request) => runtime.runPromise(Signup.use((s) => s.check(request))),
    close: () => runtime.dispose()
  }
}
