/**
 * Everything that happens to a message, published for the host application:
 * webhooks to its own systems, analytics, alerting.
 *
 * **Details**
 * - Events carry message ids, statuses and reasons. Phone numbers are left
 *   out unless {@link LogPhoneNumbers} is turned on; verification codes,
 *   keys and tokens never appear.
 * - The PubSub is bounded and slides: a subscriber that falls more than
 *   `capacity` events behind loses the oldest ones rather than making the
 *   pipeline wait or memory grow.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import type { BalanceLow, BalanceRecovered } from "./BalanceMonitor.ts"
import type { BudgetRefused, BudgetThresholdReached } from "./Budget.ts"
import { type CoreRegistry, registry } from "./internal/cores.ts"
import { loadPubSub } from "./internal/lazy.ts"
import type { MessageStatus } from "./MessageStore.ts"
import type { MoneyJson } from "./Pricing.ts"

// models

/**
 * A message moved to a new status.
 *
 * @category models
 * @since 0.1.0
 */
export interface StatusChanged {
  readonly _tag: "StatusChanged"
  readonly messageId: string
  readonly tenant?: string | undefined
  readonly status: MessageStatus
  readonly previous?: MessageStatus | undefined
  readonly reason?: string | undefined
  readonly route?: string | undefined
  /** On `submitted`, when a price table prices the carrying route: what it charged. */
  readonly cost?: MoneyJson | undefined
  /** Only when `LogPhoneNumbers` is on. */
  readonly to?: string | undefined
  /** Epoch milliseconds. */
  readonly at: number
}

/**
 * A reply from a person reached the pipeline.
 *
 * @category models
 * @since 0.1.0
 */
export interface InboundReceived {
  readonly _tag: "InboundReceived"
  readonly transport: string
  readonly action: string
  readonly text: string
  /** Only when `LogPhoneNumbers` is on. */
  readonly from?: string | undefined
  readonly at: number
}

/**
 * A guard refused or blocked something (fraud velocity, consent, rate limit).
 *
 * @category models
 * @since 0.1.0
 */
export interface Blocked {
  readonly _tag: "Blocked"
  readonly scope: string
  readonly reason: string
  /** A number range such as `+4477009`, never a whole number unless `LogPhoneNumbers` is on. */
  readonly subject?: string | undefined
  readonly at: number
}

/**
 * A verification changed state.
 *
 * @category models
 * @since 0.1.0
 */
export interface VerificationChanged {
  readonly _tag: "VerificationChanged"
  readonly verificationId: string
  readonly status: string
  readonly channel?: string | undefined
  readonly country?: string | undefined
  readonly at: number
}

/**
 * A consent change.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConsentChanged {
  readonly _tag: "ConsentChanged"
  readonly tenant: string
  readonly purpose: string
  readonly status: "granted" | "revoked" | "pending"
  readonly source: string
  /** Only when `LogPhoneNumbers` is on. */
  readonly to?: string | undefined
  readonly at: number
}

/**
 * Every event on the bus. With `SmsConfig.budget`, `BudgetThresholdReached`
 * and `BudgetRefused` (see the Budget module); with `SmsConfig.balances`,
 * `BalanceLow` and `BalanceRecovered` (see the BalanceMonitor module).
 *
 * @category models
 * @since 0.1.0
 */
export type SmsEvent =
  | StatusChanged
  | InboundReceived
  | Blocked
  | VerificationChanged
  | ConsentChanged
  | BudgetThresholdReached
  | BudgetRefused
  | BalanceLow
  | BalanceRecovered

/**
 * Whether phone numbers may appear in events and log lines. Off by default:
 * phone numbers are personal data.
 *
 * @category references
 * @since 0.1.0
 */
export const LogPhoneNumbers: Context.Reference<boolean> = Context.Reference<boolean>("smsforge/LogPhoneNumbers", {
  defaultValue: () => false
})

// service

/**
 * The bus's synchronous core, for the send path (internal/cores.ts).
 *
 * @internal
 */
export interface EventsCore {
  /** Whether anyone listens: events need not be built otherwise. */
  readonly listening: () => boolean
  readonly publish: (event: SmsEvent) => void
}

/** @internal */
export const cores: CoreRegistry<EventsCore> = registry()

/**
 * The event bus.
 *
 * @category services
 * @since 0.1.0
 */
export class Events extends Context.Service<Events, {
  readonly publish: (event: SmsEvent) => Effect.Effect<void>
  readonly subscribe: Effect.Effect<PubSub.Subscription<SmsEvent>, never, Scope.Scope>
}>()("smsforge/Events") {}

/**
 * Creates the event bus.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: { readonly capacity?: number | undefined } = {}): Effect.Effect<Events["Service"]> =>
  Effect.flatMap(loadPubSub, (pubsubs) => Effect.map(pubsubs.sliding<SmsEvent>(options.capacity ?? 16_384), (pubsub) => {
    // An event nobody listens to is dropped by the PubSub anyway; counting the
    // subscribers lets `publish` skip the PubSub altogether on the send path.
    let subscribers = 0
    // The bus is sliding: a publish never waits, so it can be synchronous.
    const core: EventsCore = {
      listening: () => subscribers > 0,
      publish: (event) => {
        if (subscribers > 0) pubsubs.publishUnsafe(pubsub, event)
      }
    }
    return cores.register(Events.of({
      publish: (event) => subscribers === 0 ? Effect.void : Effect.sync(() => core.publish(event)),
      subscribe: Effect.acquireRelease(
        Effect.tap(pubsubs.subscribe(pubsub), () =>
          Effect.sync(() => {
            subscribers++
          })),
        () =>
          Effect.sync(() => {
            subscribers--
          })
      )
    }), core)
  }))

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: { readonly capacity?: number | undefined } = {}): Layer.Layer<Events> =>
  Layer.effect(Events, make(options))

/**
 * Publishes when an event bus is present; does nothing otherwise, so modules
 * work without one.
 *
 * @category utils
 * @since 0.1.0
 */
export const publish = (event: SmsEvent): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Events), (events) =>
    events._tag === "Some" ? events.value.publish(event) : Effect.void)
