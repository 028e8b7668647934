/**
 * Carrier-aware routing with failover: rules as data, composable strategies,
 * sticky senders, region rules, and per route a circuit breaker, a rate
 * limiter and a retry schedule.
 *
 * **Details**
 * - Rules are a config object decoded by Schema ({@link RoutingRulesInput},
 *   {@link RoutingConfig}); a bad field or an unknown key fails with
 *   `InvalidRoutingRules` naming it (`routes[1].transport`, `routes[0].contries`). {@link Router} `setRules` swaps them at run time.
 * - A route names a transport and what it may carry: countries or number
 *   prefixes (either matches), purposes, tenants, a sender pool per country,
 *   a price per segment per country, a maximum rate and UTC time windows.
 * - The strategy is a list of sort keys applied in order: `"health"` (routes
 *   whose circuit state cannot be read go last), `"priority"` (lower first), `"least-cost"` (price ×
 *   segments, unknown prices last; with a `Pricing` service in the context,
 *   its table's exact cost for the recipient's country and number type
 *   instead of the routes' float `price`) and `"weighted"` (a seeded weighted draw
 *   per message). The default is `["health", "priority"]`. Routes whose
 *   circuit is open are always skipped; a half-open one gets its probe.
 * - Every dispatch records its decisions: each route, why it was chosen or
 *   skipped, how many submissions it took and how it ended. They are in the
 *   {@link Dispatch} and in `AllRoutesFailed`.
 * - Per route: the transport's and the route's rate are paced by
 *   effect/persistence `RateLimiter` (the caller waits, no in-memory queue),
 *   each submission goes through an effect/persistence `CircuitBreaker`
 *   keyed by the route, and retries follow {@link Retry.schedule} up to the
 *   message's `validUntil`. When a route gives up, the next candidate is
 *   tried.
 * - Every submission has a time limit (the route's `timeout`, else
 *   `transportTimeouts`, else `timeout`, default 30 s) ending in `Timeout`.
 *   A transport that throws, dies, fails with anything but a
 *   `TransportError` or answers without a valid `SubmitResult` fails that
 *   route with `Transport.ContractViolation`; the circuit counts it and
 *   failover goes on. `unknownOutcome: "fail"` stops retries and failover
 *   after a submission whose outcome is unknown (no duplicates, at most once).
 * - Region rules (China's 【signature】, approved templates and per-number
 *   limits; the UK's opt-out wording for marketing) are data too:
 *   {@link presets}, extended or replaced with the rules' `regionRules`.
 *
 * **Gotchas**
 * - A rate is enforced as slots of `1000 / maxPerSecond` ms taken right
 *   before each submission, so no one-second window ever holds more than
 *   `maxPerSecond`; at most 1000 per second per route. On a rate-limit
 *   store the router does not own (possibly shared, such as Redis) a slot
 *   is longer by `rateMargin` (default 10 ms) and 1 ms, so 20/s runs at
 *   about 19.2/s; see `rateMargin`.
 * - When several routes share a transport, the transport's own
 *   `capabilities.maxPerSecond` is exact; each route's `maxPerSecond` paces
 *   that route's reservations.
 * - Per-number limits count messages the router let through (a refused one
 *   counts in no window), before any route is tried; a message that then
 *   fails on every route still counts.
 * - Region presets apply by default. Pass `regionRules: []` to turn them off.
 *
 * **Example** (Two carriers, cheapest first)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Router, Transport } from "smsforge"
 *
 * const carrier = (name: string) =>
 *   Transport.make({
 *     name,
 *     capabilities: { channel: "sms", unicode: true, concatenation: true, deliveryReceipts: true, inbound: false, senderTypes: ["long-code"] },
 *     submit: () => Effect.succeed({ providerMessageId: `${name}-1` })
 *   })
 *
 * const program = Effect.gen(function*() {
 *   const router = yield* Router.make({
 *     transports: [carrier("a"), carrier("b")],
 *     rules: {
 *       strategy: ["health", "least-cost", "priority"],
 *       routes: [
 *         { name: "a", transport: "a", price: { "*": 0.05 } },
 *         { name: "b", transport: "b", price: { GB: 0.03, "*": 0.06 } }
 *       ]
 *     }
 *   })
 *   return yield* router.dispatch(
 *     { messageId: "m1", to: { e164: "+447700900123", country: "GB" }, purpose: "transactional", text: "Hi", segmentCount: 1, encoding: "GSM-7" },
 *     { to: "+447700900123", text: "Hi", segments: ["Hi"], encoding: "GSM-7", clientReference: "m1", purpose: "transactional" }
 *   )
 * }).pipe(Effect.scoped)
 * // => { route: "b", transport: "b", attempts: 1, … }
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import type * as RateLimiter from "effect/persistence/RateLimiter"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { nowOf, withNow } from "./internal/clock.ts"
import { hashedKey } from "./internal/hashedKey.ts"
import { loadCircuitBreaker, loadRateLimiter } from "./internal/lazy.ts"
import { type Attempts, makeRuntimes, tryRoute } from "./internal/routing/attempt.ts"
import { circuitKey, type Circuits, healthIn, logTransitions, makeCircuits, snapshotHealth } from "./internal/routing/circuits.ts"
import { isUnknownOutcome } from "./internal/routing/edge.ts"
import * as RouteRegion from "./internal/routing/region.ts"
import type { RegionRuleInput } from "./internal/routing/region.ts"
import { decodeRules, type Rules, RoutingRulesSchema } from "./internal/routing/rules.ts"
import * as RouteSelect from "./internal/routing/select.ts"
import type { Pacing } from "./internal/routing/slots.ts"
import * as BalanceMonitor from "./BalanceMonitor.ts"
import type * as PhoneNumbers from "./PhoneNumbers.ts"
import * as Pricing from "./Pricing.ts"
import * as Retry from "./Retry.ts"
import type * as Transport from "./Transport.ts"

// models

/**
 * Why a message is sent; `"verification"` is for one-time codes, which some
 * region rules limit per number.
 *
 * @category models
 * @since 0.1.0
 */
export type Purpose = "transactional" | "marketing" | "verification"

/**
 * A region rule as written in config: which recipients and purposes it
 * applies to, and its check.
 *
 * @category models
 * @since 0.1.0
 */
export type { RegionRuleInput } from "./internal/routing/region.ts"

/**
 * A UTC time window: hours `from` (inclusive) to `to` (exclusive), wrapping
 * midnight when `from > to`; `days` are 0 (Sunday) to 6.
 *
 * @category models
 * @since 0.1.0
 */
export interface TimeWindowInput {
  readonly days?: ReadonlyArray<number> | undefined
  readonly from: number
  readonly to: number
}

/**
 * A route as written in config.
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteInput {
  readonly name: string
  /** The `name` of one of the router's transports. */
  readonly transport: string
  readonly enabled?: boolean | undefined
  /** Lower goes first under `"priority"`; default: the route's position. */
  readonly priority?: number | undefined
  /** Relative weight under `"weighted"`; default 1; 0 always goes last. */
  readonly weight?: number | undefined
  /** ISO 3166 alpha-2 codes; a recipient matches a country or a prefix. */
  readonly countries?: ReadonlyArray<string> | undefined
  /** E.164 prefixes such as `"+4477"`. */
  readonly prefixes?: ReadonlyArray<string> | undefined
  readonly purposes?: ReadonlyArray<Purpose> | undefined
  readonly tenants?: ReadonlyArray<string> | undefined
  /** Sender pool per country; `"*"` for every other country. */
  readonly senders?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /** Price per segment per country; `"*"` for every other country. */
  readonly price?: Readonly<Record<string, number>> | undefined
  /** At most 1000. */
  readonly maxPerSecond?: number | undefined
  readonly windows?: ReadonlyArray<TimeWindowInput> | undefined
  /**
   * The time limit of one submission on this route (`"10 seconds"`); it wins
   * over the router's `timeout` and `transportTimeouts`.
   */
  readonly timeout?: string | undefined
}

/**
 * The routing rules as written in config, before decoding.
 *
 * @category models
 * @since 0.1.0
 */
export interface RoutingRulesInput {
  /** Sort keys applied in order; default `["health", "priority"]`. */
  readonly strategy?: ReadonlyArray<"priority" | "weighted" | "least-cost" | "health"> | undefined
  readonly routes: ReadonlyArray<RouteInput>
  /** Default {@link presets}`.all`; `[]` turns region rules off. */
  readonly regionRules?: ReadonlyArray<RegionRuleInput> | undefined
  /** Default {@link alphanumericRefused}. */
  readonly alphanumericRefused?: ReadonlyArray<string> | undefined
}

/**
 * The Schema of {@link RoutingRulesInput}, for validating config before a
 * router exists (the Promise client's config check embeds it).
 *
 * **Gotchas**
 * - Decode it with `{ onExcessProperty: "error" }`, as the router does: an
 *   unknown key (a typo such as `contries`) is then an error naming it, where
 *   the default would drop it and widen the route.
 * - It checks shapes only; that each route's `transport` exists is checked
 *   when the router is built or `setRules` runs.
 *
 * @category schemas
 * @since 0.1.0
 */
export const RoutingConfig: Schema.Codec<unknown, RoutingRulesInput> = RoutingRulesSchema

/**
 * The recipient as the router needs it; `PhoneNumbers.PhoneNumber` fits.
 *
 * @category models
 * @since 0.1.0
 */
export interface Recipient {
  readonly e164: string
  /** ISO 3166 alpha-2, or `"001"` for non-geographic numbers. */
  readonly country: string
  /** Narrows the price table's rows (`"mobile"` …); `PhoneNumbers.PhoneNumber` has it. */
  readonly type?: PhoneNumbers.NumberType | undefined
}

/**
 * What the router decides on.
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteRequest {
  readonly messageId: string
  readonly to: Recipient
  readonly purpose: Purpose
  readonly tenant?: string | undefined
  /** The sender the caller asks for; the route's pool decides when absent or not allowed. */
  readonly from?: string | undefined
  readonly text: string
  readonly segmentCount: number
  readonly encoding: Transport.MessageEncoding
  /** Epoch milliseconds; no submission starts after it. */
  readonly validUntil?: number | undefined
  readonly template?: { readonly id: string; readonly approved: boolean } | undefined
}

/**
 * The submission handed to the chosen transport; the router fills `from`.
 *
 * @category models
 * @since 0.1.0
 */
export type DispatchSubmission = Omit<Transport.Submission, "from"> & { readonly from?: string | undefined }

/**
 * What was decided about one route for one message.
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteDecision {
  readonly route: string
  readonly transport: string
  /** Why the route was chosen (its rank and the strategy's keys) or skipped. */
  readonly reason: string
  /** `"submitted"`, or the tag of the route's last failure. */
  readonly outcome?: string | undefined
  /** Submissions made on this route. */
  readonly attempts: number
}

/**
 * A message a carrier accepted.
 *
 * @category models
 * @since 0.1.0
 */
export interface Dispatch {
  readonly route: string
  readonly transport: string
  readonly from?: string | undefined
  readonly providerMessageId: string
  readonly segmentIds?: ReadonlyArray<string> | undefined
  /** Submissions over every route tried. */
  readonly attempts: number
  readonly decisions: ReadonlyArray<RouteDecision>
  /** What the carrying route charges for the message, from the `Pricing` table; absent when it has no price. */
  readonly cost?: Pricing.Cost | undefined
}

/**
 * A route that may carry a message, in the order the router would try it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Candidate {
  readonly route: string
  readonly transport: string
  readonly from?: string | undefined
  /** Price per segment × segments, when the route has a price for the country. */
  readonly cost?: number | undefined
  /** Segments × the `Pricing` table's price for the recipient, exact; absent without a table or a price. */
  readonly exactCost?: Pricing.Cost | undefined
  readonly reason: string
}

/**
 * A route's state, for dashboards and health checks.
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteStatus {
  readonly name: string
  readonly transport: string
  readonly enabled: boolean
  readonly circuit: "Closed" | "Open" | "HalfOpen" | "Unknown"
  /** The effective rate: the lower of the route's and the transport's. */
  readonly maxPerSecond?: number | undefined
}

// errors

const RouteDecisionSchema = Schema.Struct({
  route: Schema.String,
  transport: Schema.String,
  reason: Schema.String,
  outcome: Schema.optional(Schema.String),
  attempts: Schema.Number
})

const RouteFailureSchema = Schema.Struct({
  route: Schema.String,
  transport: Schema.String,
  reason: Schema.String,
  attempts: Schema.Number
})

/**
 * No route accepts this recipient, purpose or tenant.
 *
 * @category errors
 * @since 0.1.0
 */
export class NoRoute extends Schema.TaggedError<NoRoute>("smsforge/Router/NoRoute")("NoRoute", {
  field: Schema.String
}) {
  override get message(): string {
    return `NoRoute: ${this.field}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Every candidate route failed or was skipped; `failures` holds each route's
 * last reason, `decisions` the whole story.
 *
 * @category errors
 * @since 0.1.0
 */
export class AllRoutesFailed extends Schema.TaggedError<AllRoutesFailed>("smsforge/Router/AllRoutesFailed")(
  "AllRoutesFailed",
  {
    failures: Schema.Array(RouteFailureSchema),
    decisions: Schema.Array(RouteDecisionSchema),
    attempts: Schema.Number
  }
) {
  override get message(): string {
    return `AllRoutesFailed: ${this.failures.map((f) => `${f.route}=${f.reason}`).join(", ")}`
  }
  get isRetryable(): boolean {
    return this.failures.some((f) => transient.has(f.reason))
  }
}

/**
 * A per-number limit of a region rule refused the message; try again after
 * `retryAfter`.
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimited extends Schema.TaggedError<RateLimited>("smsforge/Router/RateLimited")("RateLimited", {
  field: Schema.String,
  rule: Schema.optional(Schema.String),
  retryAfter: Schema.DurationFromMillis
}) {
  override get message(): string {
    return `RateLimited: ${this.field}`
  }
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The message breaks a region rule (`rule` names it), for example a Chinese
 * text without a leading 【signature】.
 *
 * @category errors
 * @since 0.1.0
 */
export class RegionRuleViolation extends Schema.TaggedError<RegionRuleViolation>("smsforge/Router/RegionRuleViolation")(
  "RegionRuleViolation",
  { field: Schema.String, rule: Schema.String }
) {
  override get message(): string {
    return `RegionRuleViolation: ${this.rule} (${this.field})`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The routing rules do not decode; `field` is the path of the offending
 * value, for example `routes[1].maxPerSecond`.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidRoutingRules extends Schema.TaggedError<InvalidRoutingRules>("smsforge/Router/InvalidRoutingRules")(
  "InvalidRoutingRules",
  { field: Schema.String, problem: Schema.String }
) {
  override get message(): string {
    return `InvalidRoutingRules: ${this.field}: ${this.problem}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Every reason routing can fail for.
 *
 * @category errors
 * @since 0.1.0
 */
export const RoutingErrorReason = Schema.Union([NoRoute, AllRoutesFailed, RateLimited, RegionRuleViolation, InvalidRoutingRules])

/**
 * @category errors
 * @since 0.1.0
 */
export type RoutingErrorReason = typeof RoutingErrorReason.Type

/**
 * A routing failure.
 *
 * @category errors
 * @since 0.1.0
 */
export class RoutingError extends Schema.TaggedError<RoutingError>("smsforge/RoutingError")("RoutingError", {
  reason: RoutingErrorReason
}) {
  override get message(): string {
    return `Router: ${this.reason.message}`
  }
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

/**
 * Submissions a failed dispatch made, over every route.
 *
 * @category accessors
 * @since 0.1.0
 */
export const attemptsOf = (error: RoutingError): number =>
  error.reason._tag === "AllRoutesFailed" ? error.reason.attempts : 0

/**
 * The decisions a failed dispatch recorded (empty when it failed before
 * choosing a route).
 *
 * @category accessors
 * @since 0.1.0
 */
export const decisionsOf = (error: RoutingError): ReadonlyArray<RouteDecision> =>
  error.reason._tag === "AllRoutesFailed" ? error.reason.decisions : []

// presets

/**
 * Region rule presets, as data: `china` (a leading 【signature】, approved
 * templates only, per-number limits for verification codes: 1 a minute, 5 an
 * hour, 10 a day) and `uk` (marketing carries opt-out wording: "STOP",
 * "opt out" or "unsubscribe"). `all` is both, the default.
 *
 * **Example** (Adding a rule of your own)
 *
 * ```ts
 * import { Router } from "smsforge"
 *
 * const regionRules = [
 *   ...Router.presets.all,
 *   { name: "in-dlt-template", countries: ["IN"], check: { _tag: "ApprovedTemplate" } }
 * ]
 * ```
 *
 * @category presets
 * @since 0.1.0
 */
export const presets: {
  readonly china: ReadonlyArray<RegionRuleInput>
  readonly uk: ReadonlyArray<RegionRuleInput>
  readonly all: ReadonlyArray<RegionRuleInput>
} = { china: RouteRegion.china, uk: RouteRegion.uk, all: RouteRegion.all }

/**
 * Countries whose carriers refuse alphanumeric sender IDs by default; a
 * numeric sender from the route's pool is used for them.
 *
 * @category presets
 * @since 0.1.0
 */
export const alphanumericRefused: ReadonlyArray<string> = RouteSelect.alphanumericRefused

/**
 * Decodes routing rules without building a router, for validating config.
 *
 * @category decoding
 * @since 0.1.0
 */
export const validateRules = (
  rules: RoutingRulesInput,
  transports: ReadonlyArray<string>
): Effect.Effect<void, RoutingError> => Effect.asVoid(decode(rules, transports))

const decode = (rules: unknown, transports: ReadonlyArray<string>): Effect.Effect<Rules, RoutingError> =>
  Effect.suspend(() => {
    const decoded = decodeRules(rules, {
      transports,
      defaultRegionRules: RouteRegion.all,
      defaultAlphanumericRefused: RouteSelect.alphanumericRefused
    })
    return decoded._tag === "Ok"
      ? Effect.succeed(decoded.rules)
      : Effect.fail(new RoutingError({ reason: new InvalidRoutingRules(decoded.problem) }))
  })

// service

/**
 * The router.
 *
 * @category services
 * @since 0.1.0
 */
export class Router extends Context.Service<Router, {
  /** Picks routes for a message and submits it, failing over until a carrier accepts it. */
  readonly dispatch: (request: RouteRequest, submission: DispatchSubmission) => Effect.Effect<Dispatch, RoutingError>
  /** The candidates `dispatch` would try now, in order, without submitting or counting limits. */
  readonly plan: (request: RouteRequest) => Effect.Effect<ReadonlyArray<Candidate>, RoutingError>
  /** Replaces the rules; running dispatches finish on the rules they started with. */
  readonly setRules: (rules: RoutingRulesInput) => Effect.Effect<void, RoutingError>
  /** The region rules' checks of the message itself (a 【signature】, approved templates) that `dispatch` runs first. */
  readonly checkContent: (request: RouteRequest) => Effect.Effect<void, RoutingError>
  readonly routes: Effect.Effect<ReadonlyArray<RouteStatus>>
}>()("smsforge/Router") {}

/**
 * The router's options.
 *
 * **Details**
 * - A `Pricing.Pricing` service in the context prices every plan: least-cost
 *   ranks by its exact costs, and {@link Dispatch} `cost` is the carrying
 *   route's. A `BalanceMonitor.BalanceMonitor` there takes out routes whose
 *   balance is below their floor ("skipped: balance below floor"). Without
 *   them a dispatch does no extra work.
 *
 * @category models
 * @since 0.1.0
 */
export interface RouterOptions {
  /** Routing rules; one route per transport, in order, when absent. Unknown keys are refused. */
  readonly rules?: RoutingRulesInput | undefined
  readonly transports: ReadonlyArray<Transport.Transport>
  /** Seeds the weighted draw and the retry jitter: the same seed, the same choices. */
  readonly seed?: number | string | undefined
  readonly retry?: Retry.PolicyOptions | undefined
  /** Consecutive failures that open a route's circuit (default 5), and how long it stays open (default 30 s). */
  readonly circuitBreaker?: {
    readonly failures?: number | undefined
    readonly openDuration?: Duration.Input | undefined
  } | undefined
  /** The longest a dispatch waits for a route's rate slot before failing over (default: until `validUntil`). */
  readonly maxRateWait?: Duration.Input | undefined
  /** Failures after which the router stops failing over (default `["InvalidNumber"]`). */
  readonly terminalReasons?: ReadonlyArray<string> | undefined
  /**
   * The time limit of one submission (default 30 s). A submission that takes
   * longer is interrupted and fails with the `Timeout` reason, then is retried
   * or failed over as `unknownOutcome` says. A route's `timeout` and
   * `transportTimeouts` win over it.
   */
  readonly timeout?: Duration.Input | undefined
  /** The time limit of one submission per transport name; a route's own `timeout` wins. */
  readonly transportTimeouts?: Readonly<Record<string, Duration.Input>> | undefined
  /**
   * What to do when the carrier may or may not have accepted a submission: a
   * `Timeout`, or an "accepted" answer that breaks the transport contract.
   * `"retry"` (default) retries and fails over as for any transient failure,
   * which can send the message twice unless the carrier drops duplicates by
   * `clientReference`; `"fail"` neither retries nor fails over, so the
   * dispatch ends with `AllRoutesFailed` and the message is sent at most once.
   */
  readonly unknownOutcome?: "retry" | "fail" | undefined
  /**
   * With a rate-limit store shared between processes (Redis), the longest a
   * rate slot may take from asking the store to handing the message to the
   * transport (default 10 ms). A slot that took longer is dropped and asked
   * for again; rate slots are made longer by this much, so every one-second
   * window holds at most `maxPerSecond` submissions whatever the store's
   * latency. Not used with the router's own memory store.
   */
  readonly rateMargin?: Duration.Input | undefined
  /**
   * Where rate limits and circuits live. Defaults: the stores in the context
   * if any, else memory. Provide Redis stores to share them between processes.
   */
  readonly stores?: {
    readonly rateLimiter?: Layer.Layer<RateLimiter.RateLimiterStore> | undefined
    readonly circuitBreaker?: Layer.Layer<CircuitBreaker.CircuitBreakerStore> | undefined
  } | undefined
}

const transient = new Set([
  "Throttled",
  "Unavailable",
  "Timeout",
  "CircuitOpen",
  "CircuitHalfOpen",
  "RouteSaturated",
  "OutsideWindow",
  // a balance topped up lets a later run through
  "BalanceBelowFloor"
])

const fail = (reason: RoutingErrorReason) => Effect.fail(new RoutingError({ reason }))

const toMillis = (input: Duration.Input | undefined): number | undefined => {
  if (input === undefined) return undefined
  const decoded = Duration.fromInput(input)
  return Option.isSome(decoded) ? Duration.toMillis(decoded.value) : undefined
}

const positiveMillis = (input: Duration.Input | undefined): number | undefined => {
  const ms = toMillis(input)
  return ms !== undefined && ms > 0 ? ms : undefined
}

// make's parts: options and stores

/** The transports by name; a name given twice is refused. */
const transportsOf = (
  list: ReadonlyArray<Transport.Transport>
): Effect.Effect<ReadonlyMap<string, Transport.Transport>, RoutingError> => {
  const transports = new Map<string, Transport.Transport>()
  for (let i = 0; i < list.length; i++) {
    const transport = list[i]!
    if (transports.has(transport.name)) {
      return fail(new InvalidRoutingRules({ field: `transports[${i}].name`, problem: "Duplicate transport name" }))
    }
    transports.set(transport.name, transport)
  }
  return Effect.succeed(transports)
}

interface Stores {
  readonly limiter: RateLimiter.RateLimiter
  readonly breaker: CircuitBreaker.CircuitBreaker
  /** The rate store is not the router's own: it may be shared between processes. */
  readonly sharedRates: boolean
  /** The circuit store is the router's own memory store, so routes may be steady. */
  readonly ownsBreakerStore: boolean
  /** Consecutive failures that open a circuit. */
  readonly tripAfter: number
}

/** The rate limiter and the circuit breaker over their stores: explicit, else from the context, else memory. */
const storesOf = Effect.fnUntraced(function*(options: RouterOptions, scope: Scope.Scope) {
  const limiters = yield* loadRateLimiter
  const breakers = yield* loadCircuitBreaker
  const rateInContext = yield* Effect.serviceOption(limiters.RateLimiterStore)
  const breakerInContext = yield* Effect.serviceOption(breakers.CircuitBreakerStore)
  const rateStoreLayer = options.stores?.rateLimiter ??
    Option.match(rateInContext, {
      onNone: () => limiters.layerStoreMemory,
      onSome: (store) => Layer.succeed(limiters.RateLimiterStore, store)
    })
  const breakerStoreLayer = options.stores?.circuitBreaker ??
    Option.match(breakerInContext, {
      onNone: () => breakers.layerStoreMemory(),
      onSome: (store) => Layer.succeed(breakers.CircuitBreakerStore, store)
    })
  const rateStore = yield* Layer.buildWithScope(rateStoreLayer, scope)
  const breakerStore = yield* Layer.buildWithScope(breakerStoreLayer, scope)
  const limiter = yield* Effect.provide(limiters.make, rateStore)
  const tripAfter = Math.max(1, Math.floor(options.circuitBreaker?.failures ?? 5))
  const breaker = yield* breakers.make({
    tripPolicy: breakers.consecutive(tripAfter),
    openDuration: options.circuitBreaker?.openDuration ?? "30 seconds",
    onStoreError: "allow"
  }).pipe(Effect.provide(breakerStore))
  return {
    limiter,
    breaker,
    sharedRates: options.stores?.rateLimiter !== undefined || Option.isSome(rateInContext),
    ownsBreakerStore: options.stores?.circuitBreaker === undefined && Option.isNone(breakerInContext),
    tripAfter
  } satisfies Stores
})

/** The money services in the context: prices rank least-cost and price the dispatch; balances take routes out. */
interface MoneyServices {
  readonly pricing: Pricing.Pricing["Service"] | undefined
  readonly balances: BalanceMonitor.BalanceMonitor["Service"] | undefined
}

const moneyServices: Effect.Effect<MoneyServices> = Effect.map(
  Effect.all([Effect.serviceOption(Pricing.Pricing), Effect.serviceOption(BalanceMonitor.BalanceMonitor)]),
  ([pricing, balances]) => ({ pricing: Option.getOrUndefined(pricing), balances: Option.getOrUndefined(balances) })
)

/** How each route tries a message: its runtime, pacing, time limits and retries, from the options. */
const makeAttempts = (
  options: RouterOptions,
  transports: ReadonlyMap<string, Transport.Transport>,
  stores: Stores,
  circuits: Circuits
): Attempts => {
  const pacing: Pacing = {
    limiter: stores.limiter,
    sharedRates: stores.sharedRates,
    // a shared store's slots carry a margin for the time between store and carrier
    rateMargin: stores.sharedRates ? toMillis(options.rateMargin) ?? 10 : 0,
    maxRateWait: toMillis(options.maxRateWait)
  }
  // time limits: the route's, else the transport's, else the router's (30 s)
  const transportTimeouts = new Map<string, number>()
  for (const [name, input] of Object.entries(options.transportTimeouts ?? {})) {
    const ms = positiveMillis(input)
    if (ms !== undefined) transportTimeouts.set(name, ms)
  }
  const runtimeOf = makeRuntimes({ transports, pacing, defaultTimeout: positiveMillis(options.timeout) ?? 30_000, transportTimeouts })
  return {
    runtimeOf,
    circuits,
    pacing,
    policy: Retry.policy(options.retry),
    seedText: options.seed === undefined ? "" : String(options.seed),
    // an unknown outcome is retried only when the user accepts a possible duplicate
    retryable: options.unknownOutcome === "fail"
      ? (error: unknown) => Retry.isRetryable(error) && !isUnknownOutcome(error)
      : Retry.isRetryable
  }
}

/** What the router's operations share. */
interface Parts {
  /** Swapped by `setRules`; a dispatch reads it once, at its start. */
  rules: Rules
  readonly names: ReadonlyArray<string>
  readonly transports: ReadonlyMap<string, Transport.Transport>
  readonly limiter: RateLimiter.RateLimiter
  readonly breaker: CircuitBreaker.CircuitBreaker
  readonly circuits: Circuits
  readonly attempts: Attempts
  readonly money: MoneyServices
  readonly seed: number | string | undefined
  /** Failures after which the router stops failing over. */
  readonly terminal: ReadonlySet<string>
  /** `unknownOutcome: "fail"`: a submission whose outcome is unknown stops the failover. */
  readonly unknownFails: boolean
}

// plans: circuits, prices and balances

/** What prices and balances add to a plan. */
interface Money {
  readonly quotes: ReadonlyMap<string, Pricing.Quote> | undefined
  readonly belowFloor: ReadonlySet<string> | undefined
}

/** The matching routes' quotes and the routes below their balance floor; only asked when configured. */
const moneyOf = Effect.fnUntraced(function*(services: MoneyServices, rules: Rules, request: RouteRequest) {
  const { balances, pricing } = services
  let quotes: Map<string, Pricing.Quote> | undefined
  if (pricing !== undefined) {
    const routes = RouteSelect.matchingRoutes(rules, request).map((route) => route.name)
    const quoted = yield* pricing.quote({ routes, country: request.to.country, numberType: request.to.type, segments: request.segmentCount })
    quotes = new Map(quoted.map((q) => [q.route, q]))
  }
  const belowFloor = balances === undefined ? undefined : yield* balances.belowFloor
  return { quotes, belowFloor } satisfies Money
})

const hasMoney = (services: MoneyServices): boolean => services.pricing !== undefined || services.balances !== undefined

const planWith = (
  parts: Parts,
  rules: Rules,
  request: RouteRequest,
  now: number,
  snapshot: ReadonlyMap<string, RouteSelect.Health> | undefined,
  money: Money | undefined
) =>
  RouteSelect.plan(rules, request, {
    now,
    seed: parts.seed,
    health: healthIn(parts.circuits, snapshot),
    quotes: money?.quotes,
    belowFloor: money?.belowFloor
  })

const planFor = Effect.fnUntraced(function*(parts: Parts, rules: Rules, request: RouteRequest) {
  const now = yield* Clock.currentTimeMillis
  const money = hasMoney(parts.money) ? yield* moneyOf(parts.money, rules, request) : undefined
  const planned = planWith(parts, rules, request, now, yield* snapshotHealth(parts.circuits, rules, request), money)
  return planned.matched === 0 ? yield* fail(new NoRoute({ field: "to" })) : planned
})

// region rules

// Per-number limits of region rules: look first (zero tokens), so a
// refused message counts in no window, then take one token from each.
const perNumberLimits = Effect.fnUntraced(function*(
  limiter: RateLimiter.RateLimiter,
  rule: string,
  limits: ReadonlyArray<{ readonly limit: number; readonly windowMillis: number }>,
  e164: string
) {
  // hashed: the key names neither the number nor the rule
  const consume = (i: number, tokens?: number) =>
    Effect.result(limiter.consume({
      algorithm: "fixed-window",
      onExceeded: "fail",
      key: hashedKey("smsforge/Router/region", [rule, String(i), e164]),
      limit: limits[i]!.limit,
      window: Duration.millis(limits[i]!.windowMillis),
      ...(tokens === undefined ? {} : { tokens })
    }))
  for (let i = 0; i < limits.length; i++) {
    const seen = yield* consume(i, 0)
    if (Result.isSuccess(seen) && seen.success.remaining < 1) {
      return yield* fail(new RateLimited({ field: "to", rule, retryAfter: seen.success.resetAfter }))
    }
  }
  for (let i = 0; i < limits.length; i++) {
    const consumed = yield* consume(i)
    if (Result.isFailure(consumed)) {
      const reason = consumed.failure.reason
      const retryAfter = reason._tag === "RateLimitExceeded" ? reason.retryAfter : Duration.millis(limits[i]!.windowMillis)
      return yield* fail(new RateLimited({ field: "to", rule, retryAfter }))
    }
  }
})

/** The per-number limits of the region rules that apply, in order; `undefined` when none does. */
const regionLimits = (limiter: RateLimiter.RateLimiter, rules: Rules, request: RouteRequest) => {
  let limited: Effect.Effect<void, RoutingError> | undefined
  for (let i = 0; i < rules.regionRules.length; i++) {
    const rule = rules.regionRules[i]!
    if (rule.check._tag !== "PerNumberLimit" || !RouteRegion.applies(rule, request)) continue
    const check = perNumberLimits(limiter, rule.name, rule.check.limits, request.to.e164)
    limited = limited === undefined ? check : Effect.andThen(limited, check)
  }
  return limited
}

const contentViolation = (rules: Rules, request: RouteRequest): Effect.Effect<never, RoutingError> | undefined => {
  const violation = RouteRegion.checkContent(rules.regionRules, request)
  return violation === undefined ? undefined : fail(new RegionRuleViolation(violation))
}

// failover across the plan

/** One message's way through its plan's candidates, and what was decided about each so far. */
interface Failover {
  readonly parts: Parts
  readonly request: RouteRequest
  readonly submission: DispatchSubmission
  readonly candidates: ReadonlyArray<RouteSelect.Candidate>
  readonly decisions: Array<RouteDecision>
}

const decision = (candidate: RouteSelect.Candidate, outcome: string, attempts: number): RouteDecision => ({
  route: candidate.route.name,
  transport: candidate.route.transport,
  reason: candidate.reason,
  outcome,
  attempts
})

const allFailed = (decisions: ReadonlyArray<RouteDecision>, attempts: number) => {
  const failures = decisions.map((d) => ({ route: d.route, transport: d.transport, reason: d.outcome ?? "", attempts: d.attempts }))
  return fail(new AllRoutesFailed({ failures, decisions, attempts }))
}

const accepted = (way: Failover, candidate: RouteSelect.Candidate, value: Transport.SubmitResult, tries: number, attempts: number): Dispatch => {
  const chosen = decision(candidate, "submitted", tries)
  return {
    route: candidate.route.name,
    transport: candidate.route.transport,
    from: candidate.from,
    providerMessageId: value.providerMessageId,
    segmentIds: value.segmentIds,
    attempts,
    // exactly sized: the decisions are kept with the message
    decisions: way.decisions.length === 0 ? [chosen] : [...way.decisions, chosen],
    cost: candidate.quote?.cost
  }
}

// Tries the candidates from `index` on; `total` counts the submissions so far,
// `stop` is why the rest are not tried. Combinators, not a generator: this
// runs for every message, and most messages take one candidate.
const failover = (
  way: Failover,
  index: number,
  now: number | undefined,
  total: number,
  stop: string | undefined
): Effect.Effect<Dispatch, RoutingError> => {
  const { candidates, decisions, request } = way
  if (index === candidates.length) return allFailed(decisions, total)
  const candidate = candidates[index]!
  if (stop === undefined && request.validUntil !== undefined) {
    // The plan's time holds for the first candidate; later ones come after a try.
    if (now === undefined) return withNow((at) => failover(way, index, at, total, stop))
    if (now >= request.validUntil) stop = "DeadlineExceeded"
  }
  if (stop !== undefined) {
    decisions.push({ ...decision(candidate, stop, 0), reason: `${candidate.reason}; not tried: ${stop}` })
    return failover(way, index + 1, undefined, total, stop)
  }
  return tryRoute(way.parts.attempts, candidate, request, way.submission, (outcome) => {
    const attempts = total + outcome.attempts
    if (outcome.result._tag === "Submitted") {
      return Effect.succeed(accepted(way, candidate, outcome.result.value, outcome.attempts, attempts))
    }
    const reason = outcome.result.reason
    decisions.push(decision(candidate, reason, outcome.attempts))
    const halt = way.parts.terminal.has(reason) || (way.parts.unknownFails && outcome.result.unknown)
    return failover(way, index + 1, undefined, attempts, halt ? reason : undefined)
  })
}

// dispatch: region rules, then the plan, then failover

const runPlan = (
  parts: Parts,
  request: RouteRequest,
  submission: DispatchSubmission,
  rules: Rules,
  now: number,
  snapshot: ReadonlyMap<string, RouteSelect.Health> | undefined,
  money: Money | undefined
) => {
  const planned = planWith(parts, rules, request, now, snapshot, money)
  if (planned.matched === 0) return fail(new NoRoute({ field: "to" }))
  const decisions: Array<RouteDecision> = planned.skipped.map((s) => ({
    route: s.route.name,
    transport: s.route.transport,
    reason: s.reason,
    outcome: s.tag,
    attempts: 0
  }))
  return failover({ parts, request, submission, candidates: planned.candidates, decisions }, 0, now, 0, undefined)
}

// Circuits are read only when some route is not steady, prices and balances
// only when configured: without them, nothing more per message.
const routed = (parts: Parts, request: RouteRequest, submission: DispatchSubmission, rules: Rules, now: number) => {
  const withMoney = (money: Money | undefined) =>
    parts.circuits.allSteady()
      ? runPlan(parts, request, submission, rules, now, undefined, money)
      : Effect.flatMap(snapshotHealth(parts.circuits, rules, request), (snapshot) =>
        runPlan(parts, request, submission, rules, now, snapshot, money))
  return hasMoney(parts.money) ? Effect.flatMap(moneyOf(parts.money, rules, request), withMoney) : withMoney(undefined)
}

const dispatchAt = (
  parts: Parts,
  request: RouteRequest,
  submission: DispatchSubmission,
  now: number
): Effect.Effect<Dispatch, RoutingError> => {
  const rules = parts.rules
  const violation = contentViolation(rules, request)
  if (violation !== undefined) return violation
  const limited = regionLimits(parts.limiter, rules, request)
  // the limits may wait on a shared store: the routing reads the clock after them
  return limited === undefined
    ? routed(parts, request, submission, rules, now)
    : Effect.andThen(limited, withNow((at) => routed(parts, request, submission, rules, at)))
}

const purposeAttributes: Record<Purpose, { readonly purpose: Purpose }> = {
  transactional: { purpose: "transactional" },
  marketing: { purpose: "marketing" },
  verification: { purpose: "verification" }
}

// One operation reads the clock and checks for a tracer.
const dispatch = (parts: Parts, request: RouteRequest, submission: DispatchSubmission): Effect.Effect<Dispatch, RoutingError> =>
  Effect.withFiber((fiber) => {
    const untraced = dispatchAt(parts, request, submission, nowOf(fiber))
    return fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
      ? untraced
      : Effect.withSpan(untraced, "smsforge/Router.dispatch", { attributes: purposeAttributes[request.purpose], captureStackTrace: false })
  })

// the other operations

const plan = (parts: Parts, request: RouteRequest): Effect.Effect<ReadonlyArray<Candidate>, RoutingError> =>
  Effect.map(planFor(parts, parts.rules, request), (planned) =>
    planned.candidates.map((c): Candidate => ({
      route: c.route.name,
      transport: c.route.transport,
      from: c.from,
      cost: c.cost,
      exactCost: c.quote?.cost,
      reason: c.reason
    })))

const checkContent = (parts: Parts, request: RouteRequest): Effect.Effect<void, RoutingError> =>
  Effect.suspend(() => contentViolation(parts.rules, request) ?? Effect.void)

// typed for callers, still decoded: rules also arrive from JSON and JavaScript
const setRules = (parts: Parts, rules: RoutingRulesInput): Effect.Effect<void, RoutingError> =>
  Effect.flatMap(decode(rules, parts.names), (decoded) =>
    Effect.sync(() => {
      parts.rules = decoded
    }))

const routeStatuses = (parts: Parts): Effect.Effect<ReadonlyArray<RouteStatus>> =>
  Effect.suspend(() =>
    Effect.forEach(parts.rules.routes, (route) => {
      const carrier = parts.transports.get(route.transport)?.capabilities.maxPerSecond
      const rates = [route.maxPerSecond, carrier].filter((n): n is number => n !== undefined)
      return parts.breaker.state(circuitKey(route.name)).pipe(
        Effect.map((s): RouteStatus["circuit"] => s._tag),
        Effect.orElseSucceed((): RouteStatus["circuit"] => "Unknown"),
        Effect.map((circuit): RouteStatus => ({
          name: route.name,
          transport: route.transport,
          enabled: route.enabled,
          circuit,
          maxPerSecond: rates.length === 0 ? undefined : Math.min(...rates)
        }))
      )
    })
  )

/**
 * Builds a router in the current scope (its circuit breakers live there).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: RouterOptions) {
  const scope = yield* Scope.Scope
  const transports = yield* transportsOf(options.transports)
  const names = [...transports.keys()]
  const rules = yield* decode(options.rules ?? { routes: names.map((name) => ({ name, transport: name })) }, names)
  const stores = yield* storesOf(options, scope)
  const money = yield* moneyServices
  const clock = yield* Clock.Clock
  const circuits = makeCircuits(stores.breaker, stores.ownsBreakerStore, stores.tripAfter, () => clock.currentTimeMillisUnsafe())
  yield* Effect.forkIn(logTransitions(stores.breaker), scope)
  const parts: Parts = {
    rules,
    names,
    transports,
    limiter: stores.limiter,
    breaker: stores.breaker,
    circuits,
    attempts: makeAttempts(options, transports, stores, circuits),
    money,
    seed: options.seed,
    terminal: new Set(options.terminalReasons ?? ["InvalidNumber"]),
    unknownFails: options.unknownOutcome === "fail"
  }
  return Router.of({
    dispatch: (request, submission) => dispatch(parts, request, submission),
    plan: (request) => plan(parts, request),
    setRules: (input) => setRules(parts, input),
    checkContent: (request) => checkContent(parts, request),
    routes: routeStatuses(parts)
  })
})

/**
 * Provides the {@link Router}.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: RouterOptions): Layer.Layer<Router, RoutingError> => Layer.effect(Router, make(options))
