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
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as RouteEdge from "./internal/routing/edge.ts"
import { hashedKey } from "./internal/routeKey.ts"
import * as RouteRegion from "./internal/routing/region.ts"
import type { RegionRuleInput } from "./internal/routing/region.ts"
import { decodeRules, type RouteRule, type Rules, RoutingRulesSchema } from "./internal/routing/rules.ts"
import * as RouteSelect from "./internal/routing/select.ts"
import { nowOf, withNow } from "./internal/clock.ts"
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

type Health = RouteSelect.Health

/** What prices and balances add to a plan. */
interface Money {
  readonly quotes: ReadonlyMap<string, Pricing.Quote> | undefined
  readonly belowFloor: ReadonlySet<string> | undefined
}

interface RouteFailure {
  readonly _tag: "Failed"
  readonly reason: string
  /** The carrier may have accepted the message (a timeout, a malformed "accepted" answer). */
  readonly unknown: boolean
}

interface RouteOutcome {
  readonly attempts: number
  readonly result: { readonly _tag: "Submitted"; readonly value: Transport.SubmitResult } | RouteFailure
}

interface Rate {
  /** Hashed: the key never names the route or the transport. */
  readonly key: string
  readonly perSecond: number
  readonly slot: Duration.Duration
}

interface RouteRuntime {
  readonly rates: ReadonlyArray<Rate>
  /** The longest slot of the route's rates (they are sorted slowest first), in milliseconds. */
  readonly slowestSlot: number
  /** Callers of this process waiting for or holding the route's turn. */
  readonly queue: { waiting: number }
  /** One caller per route and process asks the store for slots at a time. */
  readonly permit: Semaphore.Semaphore
  readonly timeoutMillis: number
  readonly edge: RouteEdge.Edge
}

// Slots in a row that a shared store granted too late before a route gives up.
const maxStaleSlots = 10

class RouteSaturated {
  readonly _tag = "RouteSaturated"
  readonly reason: "RouteSaturated" | "DeadlineExceeded" | "RateLimiterUnavailable"
  constructor(reason: "RouteSaturated" | "DeadlineExceeded" | "RateLimiterUnavailable") {
    this.reason = reason
  }
}

const healthOf = (state: CircuitBreaker.State): Health => {
  switch (state._tag) {
    case "Closed":
      return "Closed"
    case "Open":
      return Duration.toMillis(state.retryAfter) > 0 ? "Open" : "HalfOpen"
    case "HalfOpen":
      return state.probing ? "Open" : "HalfOpen"
  }
}

// The circuit's view of a submission: the message's fault, or the carrier
// asking us to slow down, says nothing about the route's health.
const classifyReason = (tag: string): CircuitBreaker.Outcome["_tag"] => {
  switch (tag) {
    case "Rejected":
    case "InvalidNumber":
    case "Blocked":
    case "Throttled":
      return "Ignored"
    default:
      return "Failure"
  }
}

const outcomeOf = (exit: Exit.Exit<unknown, { readonly reason: { readonly _tag: string } }>): CircuitBreaker.Outcome["_tag"] => {
  if (Exit.isSuccess(exit)) return "Success"
  const error = Exit.findErrorOption(exit)
  if (Option.isSome(error)) return classifyReason(error.value.reason._tag)
  // as `execute` does: an interrupted call says nothing about the route
  return Cause.hasInterruptsOnly(exit.cause) ? "Ignored" : "Failure"
}

const outcomes = { Success: CircuitBreaker.success, Ignored: CircuitBreaker.ignored, Failure: CircuitBreaker.failure() }

const classify = (exit: Exit.Exit<unknown, Transport.TransportError>): CircuitBreaker.Outcome => outcomes[outcomeOf(exit)]

const CIRCUIT_PREFIX = "smsforge/Router/circuit/"

// Operators want to hear when a carrier is cut off and when it comes back;
// route names are configuration, never personal data.
const logTransitions = (breaker: CircuitBreaker.CircuitBreaker) =>
  Stream.runForEach(breaker.transitions, (transition) => {
    const route = transition.key.startsWith(CIRCUIT_PREFIX) ? transition.key.slice(CIRCUIT_PREFIX.length) : transition.key
    const annotated = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.annotateLogs(effect, { route, from: transition.from, to: transition.to })
    return transition.to === "Open"
      ? annotated(Effect.logWarning(`route ${route}: circuit open for ${Duration.format(transition.retryAfter)}`))
      : transition.to === "Closed"
      ? annotated(Effect.logInfo(`route ${route}: circuit closed again`))
      : annotated(Effect.logDebug(`route ${route}: circuit half-open, probing`))
  })

const decision = (candidate: RouteSelect.Candidate, outcome: string, attempts: number): RouteDecision => ({
  route: candidate.route.name,
  transport: candidate.route.transport,
  reason: candidate.reason,
  outcome,
  attempts
})

const toMillis = (input: Duration.Input | undefined): number | undefined => {
  if (input === undefined) return undefined
  const decoded = Duration.fromInput(input)
  return Option.isSome(decoded) ? Duration.toMillis(decoded.value) : undefined
}

/**
 * Builds a router in the current scope (its circuit breakers live there).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: RouterOptions) {
  const scope = yield* Scope.Scope
  const transports = new Map<string, Transport.Transport>()
  for (let i = 0; i < options.transports.length; i++) {
    const transport = options.transports[i]!
    if (transports.has(transport.name)) {
      return yield* Effect.fail(
        new RoutingError({ reason: new InvalidRoutingRules({ field: `transports[${i}].name`, problem: "Duplicate transport name" }) })
      )
    }
    transports.set(transport.name, transport)
  }
  const names = [...transports.keys()]
  const initial = options.rules ?? { routes: names.map((name) => ({ name, transport: name })) }
  let current = yield* decode(initial, names)

  // stores: explicit, else from the context, else memory
  const rateInContext = yield* Effect.serviceOption(RateLimiter.RateLimiterStore)
  const rateStoreLayer = options.stores?.rateLimiter ??
    Option.match(rateInContext, {
      onNone: () => RateLimiter.layerStoreMemory,
      onSome: (store) => Layer.succeed(RateLimiter.RateLimiterStore, store)
    })
  const breakerInContext = yield* Effect.serviceOption(CircuitBreaker.CircuitBreakerStore)
  // money: prices rank least-cost and price the dispatch; balances take routes out
  const pricing = Option.getOrUndefined(yield* Effect.serviceOption(Pricing.Pricing))
  const balances = Option.getOrUndefined(yield* Effect.serviceOption(BalanceMonitor.BalanceMonitor))
  const breakerStoreLayer = options.stores?.circuitBreaker ??
    Option.match(breakerInContext, {
      onNone: () => CircuitBreaker.layerStoreMemory(),
      onSome: (store) => Layer.succeed(CircuitBreaker.CircuitBreakerStore, store)
    })
  const rateStore = yield* Layer.buildWithScope(rateStoreLayer, scope)
  const breakerStore = yield* Layer.buildWithScope(breakerStoreLayer, scope)
  const limiter = yield* Effect.provide(RateLimiter.make, rateStore)
  const breaker = yield* CircuitBreaker.make({
    tripPolicy: CircuitBreaker.consecutive(Math.max(1, Math.floor(options.circuitBreaker?.failures ?? 5))),
    openDuration: options.circuitBreaker?.openDuration ?? "30 seconds",
    onStoreError: "allow"
  }).pipe(Effect.provide(breakerStore))

  const policy = Retry.policy(options.retry)
  const seed = options.seed
  const seedText = seed === undefined ? "" : String(seed)
  const maxRateWait = toMillis(options.maxRateWait)
  const terminal = new Set(options.terminalReasons ?? ["InvalidNumber"])
  const unknownFails = options.unknownOutcome === "fail"
  // an unknown outcome is retried only when the user accepts a possible duplicate
  const retryable = unknownFails
    ? (error: unknown) => Retry.isRetryable(error) && !RouteEdge.isUnknownOutcome(error)
    : Retry.isRetryable

  // time limits: the route's, else the transport's, else the router's (30 s)
  const positiveMillis = (input: Duration.Input | undefined) => {
    const ms = toMillis(input)
    return ms !== undefined && ms > 0 ? ms : undefined
  }
  const defaultTimeout = positiveMillis(options.timeout) ?? 30_000
  const transportTimeouts = new Map<string, number>()
  for (const [name, input] of Object.entries(options.transportTimeouts ?? {})) {
    const ms = positiveMillis(input)
    if (ms !== undefined) transportTimeouts.set(name, ms)
  }
  const edges = new Map<string, RouteEdge.Edge>()
  for (const [name, transport] of transports) edges.set(name, RouteEdge.edgeOf(transport))

  // A rate store this router does not own may be shared between processes:
  // its slots then carry a margin for the time between store and carrier.
  const sharedRates = options.stores?.rateLimiter !== undefined || Option.isSome(rateInContext)
  const rateMargin = sharedRates ? toMillis(options.rateMargin) ?? 10 : 0

  const circuitKey = (route: string) => `${CIRCUIT_PREFIX}${route}`
  yield* Effect.forkIn(logTransitions(breaker), scope)

  const fail = (reason: RoutingErrorReason) => Effect.fail(new RoutingError({ reason }))

  // Steady routes. On the router's own memory store a circuit changes only
  // through this router, so a route whose circuit is known to be closed with
  // no failure streak is "steady": a success or an ignored outcome there would
  // change nothing in the store, and `execute` costs more than the rest of a
  // send (about 10 µs). Steady routes submit directly; a failure makes the
  // route unsteady and is replayed through `execute`, so the circuit counts
  // it. An unsteady route, or any route on a shared store (Redis), runs every
  // call through `execute`. Every route starts steady: the store starts empty.
  const ownsBreakerStore = options.stores?.circuitBreaker === undefined && Option.isNone(breakerInContext)
  const unsteady = new Set<string>()
  // Calls inside `execute` per route, and failures seen per route: a success
  // makes its route steady again only when no other call was still to be
  // recorded and no failure was recorded while it ran.
  const executing = new Map<string, number>()
  const failures = new Map<string, number>()
  const isSteady = (route: string) => ownsBreakerStore && !unsteady.has(route)

  const recordFailure = (route: string) => {
    unsteady.add(route)
    failures.set(route, (failures.get(route) ?? 0) + 1)
  }

  const throughBreaker = <A>(route: string, call: Effect.Effect<A, Transport.TransportError>) =>
    Effect.suspend(() => {
      const failuresBefore = failures.get(route) ?? 0
      executing.set(route, (executing.get(route) ?? 0) + 1)
      return Effect.onExit(breaker.execute(call, { key: circuitKey(route), classify }), (exit) =>
        Effect.sync(() => {
          const left = (executing.get(route) ?? 1) - 1
          if (left === 0) executing.delete(route)
          else executing.set(route, left)
          const outcome = outcomeOf(exit)
          if (outcome === "Failure") recordFailure(route)
          else if (outcome === "Success" && left === 0 && (failures.get(route) ?? 0) === failuresBefore) unsteady.delete(route)
        }))
    })

  /**
   * What the circuit must still record after a call made without `execute`:
   * a failure, or a success that arrived after the route turned unsteady.
   */
  const settleDirect = (route: string, exit: Exit.Exit<Transport.SubmitResult, Transport.TransportError>) => {
    const outcome = outcomeOf(exit)
    if (outcome === "Ignored" || (outcome === "Success" && isSteady(route))) return undefined
    if (outcome === "Failure") recordFailure(route)
    return Effect.ignore(throughBreaker(route, exit))
  }

  /** One submission under the route's circuit breaker. */
  const guarded = (route: string, call: Effect.Effect<Transport.SubmitResult, Transport.TransportError>) =>
    Effect.suspend(() =>
      isSteady(route)
        ? Effect.onExit(call, (exit) => settleDirect(route, exit) ?? Effect.void)
        : throughBreaker(route, call)
    )

  const health = (route: string): Effect.Effect<Health> =>
    breaker.state(circuitKey(route)).pipe(
      Effect.map(healthOf),
      Effect.orElseSucceed((): Health => "Unknown")
    )

  // Per-number limits of region rules: look first (zero tokens), so a
  // refused message counts in no window, then take one token from each.
  const perNumberLimits = Effect.fnUntraced(function*(
    rule: string,
    limits: ReadonlyArray<{ readonly limit: number; readonly windowMillis: number }>,
    e164: string
  ) {
    // hashed: the key names neither the number nor the rule
    const keyOf = (i: number) => hashedKey("smsforge/Router/region", [rule, String(i), e164])
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i]!
      const seen = yield* Effect.result(limiter.consume({
        algorithm: "fixed-window",
        onExceeded: "fail",
        key: keyOf(i),
        limit: limit.limit,
        window: Duration.millis(limit.windowMillis),
        tokens: 0
      }))
      if (Result.isSuccess(seen) && seen.success.remaining < 1) {
        return yield* fail(new RateLimited({ field: "to", rule, retryAfter: seen.success.resetAfter }))
      }
    }
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i]!
      const consumed = yield* Effect.result(limiter.consume({
        algorithm: "fixed-window",
        onExceeded: "fail",
        key: keyOf(i),
        limit: limit.limit,
        window: Duration.millis(limit.windowMillis)
      }))
      if (Result.isFailure(consumed)) {
        const reason = consumed.failure.reason
        const retryAfter = reason._tag === "RateLimitExceeded" ? reason.retryAfter : Duration.millis(limit.windowMillis)
        return yield* fail(new RateLimited({ field: "to", rule, retryAfter }))
      }
    }
  })

  // The circuit state of every matching route that is not known to be closed.
  const snapshotHealth = Effect.fnUntraced(function*(rules: Rules, request: RouteRequest) {
    let map: Map<string, Health> | undefined
    for (const route of RouteSelect.matchingRoutes(rules, request)) {
      if (isSteady(route.name)) continue
      ;(map ??= new Map()).set(route.name, yield* health(route.name))
    }
    return map
  })

  const knownHealth = (route: RouteRule): Health => (isSteady(route.name) ? "Closed" : "Unknown")
  const planWith = (
    rules: Rules,
    request: RouteRequest,
    now: number,
    healthMap: Map<string, Health> | undefined,
    money: Money | undefined
  ) =>
    RouteSelect.plan(rules, request, {
      now,
      seed,
      health: healthMap === undefined ? knownHealth : (route) => healthMap.get(route.name) ?? knownHealth(route),
      quotes: money?.quotes,
      belowFloor: money?.belowFloor
    })

  /** The matching routes' quotes and the routes below their balance floor; only asked when configured. */
  const moneyOf = Effect.fnUntraced(function*(rules: Rules, request: RouteRequest) {
    let quotes: Map<string, Pricing.Quote> | undefined
    if (pricing !== undefined) {
      const routes = RouteSelect.matchingRoutes(rules, request).map((route) => route.name)
      const quoted = yield* pricing.quote({ routes, country: request.to.country, numberType: request.to.type, segments: request.segmentCount })
      quotes = new Map(quoted.map((q) => [q.route, q]))
    }
    const belowFloor = balances === undefined ? undefined : yield* balances.belowFloor
    return { quotes, belowFloor } satisfies Money
  })

  const planFor = Effect.fnUntraced(function*(rules: Rules, request: RouteRequest) {
    const now = yield* Clock.currentTimeMillis
    const money = pricing === undefined && balances === undefined ? undefined : yield* moneyOf(rules, request)
    const planned = planWith(rules, request, now, yield* snapshotHealth(rules, request), money)
    return planned.matched === 0 ? yield* fail(new NoRoute({ field: "to" })) : planned
  })

  // What a route needs per submission, built once per route of the current rules.
  const runtimeCache = new WeakMap<RouteRule, RouteRuntime>()
  // per route name, so they outlive a `setRules`
  const permits = new Map<string, Semaphore.Semaphore>()
  const queues = new Map<string, { waiting: number }>()
  const queueOf = (route: string) => {
    let queue = queues.get(route)
    if (queue === undefined) {
      queue = { waiting: 0 }
      queues.set(route, queue)
    }
    return queue
  }
  const rateOf = (kind: "route" | "transport", name: string, perSecond: number): Rate => ({
    key: hashedKey("smsforge/Router/rate", [kind, name]),
    perSecond,
    slot: Duration.millis(RouteEdge.slotMillis(perSecond, sharedRates, rateMargin))
  })
  const runtimeOf = (route: RouteRule, transport: Transport.Transport): RouteRuntime => {
    const cached = runtimeCache.get(route)
    if (cached !== undefined) return cached
    const rates: Array<Rate> = []
    if (route.maxPerSecond !== undefined) rates.push(rateOf("route", route.name, route.maxPerSecond))
    const carrier = transport.capabilities.maxPerSecond
    if (carrier !== undefined && carrier > 0) rates.push(rateOf("transport", transport.name, carrier))
    // the slower rate first: it is the one likely to refuse, and a slot taken
    // before a refusal is lost
    rates.sort((a, b) => a.perSecond - b.perSecond)
    let permit = permits.get(route.name)
    if (permit === undefined) {
      permit = Semaphore.makeUnsafe(1)
      permits.set(route.name, permit)
    }
    const runtime: RouteRuntime = {
      rates,
      slowestSlot: rates.length === 0 ? 0 : Duration.toMillis(rates[0]!.slot),
      queue: queueOf(route.name),
      permit,
      timeoutMillis: route.timeoutMillis ?? transportTimeouts.get(transport.name) ?? defaultTimeout,
      edge: edges.get(transport.name)!
    }
    runtimeCache.set(route, runtime)
    return runtime
  }

  /** Takes a slot of one rate now (0), or says how long until the current one ends. */
  const claim = (rate: Rate): Effect.Effect<number, RouteSaturated> =>
    Effect.matchEffect(
      limiter.consume({ algorithm: "fixed-window", onExceeded: "fail", key: rate.key, limit: 1, window: rate.slot }),
      {
        onSuccess: () => Effect.succeed(0),
        onFailure: (error) =>
          error.reason._tag === "RateLimitExceeded"
            ? Effect.succeed(Math.max(1, Duration.toMillis(error.reason.retryAfter)))
            : Effect.fail(new RouteSaturated("RateLimiterUnavailable"))
      }
    )

  const claimAll = Effect.fnUntraced(function*(rates: ReadonlyArray<Rate>) {
    for (const rate of rates) {
      const wait = yield* claim(rate)
      if (wait > 0) return wait
    }
    return 0
  })

  /** The claim loop of {@link takeSlots}, run by the caller holding the route's turn; `start` is its arrival. */
  const claimSlots = (runtime: RouteRuntime, validUntil: number | undefined, start: number) =>
    Effect.gen(function*() {
      let stale = 0
      while (true) {
        const before = yield* Clock.currentTimeMillis
        // a caller whose turn came late must not start after its deadline
        if (validUntil !== undefined && before > validUntil) return yield* Effect.fail(new RouteSaturated("DeadlineExceeded"))
        const wait = yield* claimAll(runtime.rates)
        const now = yield* Clock.currentTimeMillis
        if (wait === 0) {
          if (!sharedRates || now - before <= rateMargin) return
          // the store answered too late for the slot to hold: drop it, ask
          // again; a store that is always that slow is as good as down
          if (++stale >= maxStaleSlots) return yield* Effect.fail(new RouteSaturated("RateLimiterUnavailable"))
          continue
        }
        if (maxRateWait !== undefined && now - start + wait > maxRateWait) return yield* Effect.fail(new RouteSaturated("RouteSaturated"))
        if (validUntil !== undefined && now + wait > validUntil) return yield* Effect.fail(new RouteSaturated("DeadlineExceeded"))
        // the store measured `wait` before its answer travelled back: ask
        // again so as to reach it when the slot ends, not a round trip later
        yield* Effect.sleep(Duration.millis(Math.max(1, wait - (now - before))))
      }
    })

  /**
   * Takes a slot of each of the route's rates right before a submission,
   * waiting while another caller (in any process sharing the store) holds
   * one. Slots are taken, never reserved ahead: a caller that wakes late
   * takes a later slot instead of crowding the next caller's. In this
   * process, one caller per route asks the store at a time, in arrival order;
   * `maxRateWait` and `validUntil` bound the wait for that turn too.
   */
  const takeSlots = (runtime: RouteRuntime, validUntil: number | undefined): Effect.Effect<void, RouteSaturated> =>
    withNow((now) => {
      const untilDeadline = validUntil === undefined ? undefined : validUntil - now
      const byDeadline = untilDeadline !== undefined && (maxRateWait === undefined || untilDeadline <= maxRateWait)
      const budget = byDeadline ? untilDeadline : maxRateWait
      // each caller ahead takes a slot first: fail over now when that alone
      // is longer than the budget, rather than wait in the queue for nothing
      if (budget !== undefined && runtime.queue.waiting * runtime.slowestSlot > budget) {
        return Effect.fail(new RouteSaturated(byDeadline ? "DeadlineExceeded" : "RouteSaturated"))
      }
      runtime.queue.waiting++
      const turn = Effect.ensuring(
        runtime.permit.withPermit(claimSlots(runtime, validUntil, now)),
        Effect.sync(() => {
          runtime.queue.waiting--
        })
      )
      if (budget === undefined) return turn
      // 1 ms of slack: within the budget, the claim loop decides and says why
      return Effect.timeoutOrElse(turn, {
        duration: Math.max(0, budget) + 1,
        orElse: () => Effect.fail(new RouteSaturated(byDeadline ? "DeadlineExceeded" : "RouteSaturated"))
      })
    })

  const routeFailure = (error: Transport.TransportError | CircuitBreaker.CircuitBreakerError | RouteSaturated): RouteFailure =>
    error instanceof RouteSaturated
      ? { _tag: "Failed", reason: error.reason, unknown: false }
      : { _tag: "Failed", reason: error.reason._tag, unknown: RouteEdge.isUnknownOutcome(error) }

  /**
   * Submissions on one route with its pacing, circuit and retries. `first`,
   * when given, is the failure of a submission already made outside them: it
   * is replayed as the retry schedule's first input.
   */
  const retried = (
    route: RouteRule,
    runtime: RouteRuntime,
    sent: Transport.Submission,
    request: RouteRequest,
    first: Transport.TransportError | undefined
  ): Effect.Effect<RouteOutcome> => {
    let attempts = first === undefined ? 0 : 1
    const submit = Effect.suspend(() => {
      attempts++
      return runtime.edge.submit(sent, runtime.timeoutMillis)
    })
    const once = runtime.rates.length === 0
      ? guarded(route.name, submit)
      : Effect.andThen(takeSlots(runtime, request.validUntil), guarded(route.name, submit))
    let replay = first !== undefined
    const effect = replay
      ? Effect.suspend(() => {
        if (!replay || first === undefined) return once
        replay = false
        return Effect.fail(first)
      })
      : once
    return Effect.match(
      Retry.retry(effect, policy, {
        seed: `${seedText}\u0000${request.messageId}\u0000${route.name}`,
        deadline: request.validUntil,
        isRetryable: retryable
      }),
      {
        onSuccess: (value): RouteOutcome => ({ attempts, result: { _tag: "Submitted", value } }),
        onFailure: (error): RouteOutcome => ({ attempts, result: routeFailure(error) })
      }
    )
  }

  /** Tries one candidate and hands its outcome to `next`. */
  const tryRoute = <A, E>(
    candidate: RouteSelect.Candidate,
    request: RouteRequest,
    submission: DispatchSubmission,
    next: (outcome: RouteOutcome) => Effect.Effect<A, E>
  ): Effect.Effect<A, E> => {
    const route = candidate.route
    const runtime = runtimeOf(route, transports.get(route.transport)!)
    const sent: Transport.Submission = candidate.from === submission.from ? submission : { ...submission, from: candidate.from }
    if (runtime.rates.length > 0 || !isSteady(route.name)) return Effect.flatMap(retried(route, runtime, sent, request, undefined), next)
    // A steady route without rates: the first submission goes straight to the
    // carrier, and only a failure takes the general path.
    return Effect.flatMap(Effect.exit(runtime.edge.submit(sent, runtime.timeoutMillis)), (first): Effect.Effect<A, E> => {
      const settled = settleDirect(route.name, first)
      let outcome: Effect.Effect<A, E>
      if (Exit.isSuccess(first)) {
        outcome = next({ attempts: 1, result: { _tag: "Submitted", value: first.value } })
      } else {
        const error = Exit.findErrorOption(first)
        // the edge leaves only interruptions untyped: pass them on
        outcome = Option.isNone(error)
          ? Effect.orDie(Effect.failCause(first.cause))
          : !retryable(error.value) || policy.maxAttempts <= 1
          ? next({ attempts: 1, result: routeFailure(error.value) })
          : Effect.flatMap(retried(route, runtime, sent, request, error.value), next)
      }
      return settled === undefined ? outcome : Effect.andThen(settled, outcome)
    })
  }

  const purposeAttributes: Record<Purpose, { readonly purpose: Purpose }> = {
    transactional: { purpose: "transactional" },
    marketing: { purpose: "marketing" },
    verification: { purpose: "verification" }
  }

  // Tries the candidates from `index` on; `decisions` holds what was decided
  // about the earlier ones. Combinators, not a generator: this runs for every
  // message, and most messages take one candidate.
  const attempt = (
    request: RouteRequest,
    submission: DispatchSubmission,
    candidates: ReadonlyArray<RouteSelect.Candidate>,
    index: number,
    now: number | undefined,
    decisions: Array<RouteDecision>,
    total: number,
    stop: string | undefined
  ): Effect.Effect<Dispatch, RoutingError> => {
    if (index === candidates.length) {
      const failures = decisions.map((d) => ({ route: d.route, transport: d.transport, reason: d.outcome ?? "", attempts: d.attempts }))
      return fail(new AllRoutesFailed({ failures, decisions, attempts: total }))
    }
    const candidate = candidates[index]!
    if (stop === undefined && request.validUntil !== undefined) {
      // The plan's time holds for the first candidate; later ones come after a try.
      if (now === undefined) {
        return withNow((at) => attempt(request, submission, candidates, index, at, decisions, total, stop))
      }
      if (now >= request.validUntil) stop = "DeadlineExceeded"
    }
    if (stop !== undefined) {
      decisions.push({
        route: candidate.route.name,
        transport: candidate.route.transport,
        reason: `${candidate.reason}; not tried: ${stop}`,
        outcome: stop,
        attempts: 0
      })
      return attempt(request, submission, candidates, index + 1, undefined, decisions, total, stop)
    }
    return tryRoute(candidate, request, submission, (outcome) => {
      const attempts = total + outcome.attempts
      if (outcome.result._tag === "Submitted") {
        const accepted = outcome.result.value
        const chosen = decision(candidate, "submitted", outcome.attempts)
        return Effect.succeed<Dispatch>({
          route: candidate.route.name,
          transport: candidate.route.transport,
          from: candidate.from,
          providerMessageId: accepted.providerMessageId,
          segmentIds: accepted.segmentIds,
          attempts,
          // exactly sized: the decisions are kept with the message
          decisions: decisions.length === 0 ? [chosen] : [...decisions, chosen],
          cost: candidate.quote?.cost
        })
      }
      const reason = outcome.result.reason
      decisions.push(decision(candidate, reason, outcome.attempts))
      const halt = terminal.has(reason) || (unknownFails && outcome.result.unknown)
      return attempt(request, submission, candidates, index + 1, undefined, decisions, attempts, halt ? reason : stop)
    })
  }

  const route = (
    request: RouteRequest,
    submission: DispatchSubmission,
    rules: Rules,
    now: number,
    healthMap: Map<string, Health> | undefined,
    money: Money | undefined
  ) => {
    const planned = planWith(rules, request, now, healthMap, money)
    if (planned.matched === 0) return fail(new NoRoute({ field: "to" }))
    const decisions: Array<RouteDecision> = planned.skipped.map((s) => ({
      route: s.route.name,
      transport: s.route.transport,
      reason: s.reason,
      outcome: s.tag,
      attempts: 0
    }))
    return attempt(request, submission, planned.candidates, 0, now, decisions, 0, undefined)
  }

  const routedWith = (request: RouteRequest, submission: DispatchSubmission, rules: Rules, now: number, money: Money | undefined) =>
    ownsBreakerStore && unsteady.size === 0
      ? route(request, submission, rules, now, undefined, money)
      : Effect.flatMap(snapshotHealth(rules, request), (healthMap) => route(request, submission, rules, now, healthMap, money))

  // without prices or balances, nothing more per message
  const routed = (request: RouteRequest, submission: DispatchSubmission, rules: Rules, now: number) =>
    pricing === undefined && balances === undefined
      ? routedWith(request, submission, rules, now, undefined)
      : Effect.flatMap(moneyOf(rules, request), (money) => routedWith(request, submission, rules, now, money))

  const dispatchAt = (request: RouteRequest, submission: DispatchSubmission, now: number): Effect.Effect<Dispatch, RoutingError> => {
    const rules = current
    const violation = RouteRegion.checkContent(rules.regionRules, request)
    if (violation !== undefined) return fail(new RegionRuleViolation(violation))
    let limited: Effect.Effect<void, RoutingError> | undefined
    for (let i = 0; i < rules.regionRules.length; i++) {
      const rule = rules.regionRules[i]!
      if (rule.check._tag !== "PerNumberLimit" || !RouteRegion.applies(rule, request)) continue
      const check = perNumberLimits(rule.name, rule.check.limits, request.to.e164)
      limited = limited === undefined ? check : Effect.andThen(limited, check)
    }
    // the limits may wait on a shared store: the routing reads the clock after them
    return limited === undefined
      ? routed(request, submission, rules, now)
      : Effect.andThen(limited, withNow((at) => routed(request, submission, rules, at)))
  }

  // One operation reads the clock and checks for a tracer.
  const dispatch = (request: RouteRequest, submission: DispatchSubmission): Effect.Effect<Dispatch, RoutingError> =>
    Effect.withFiber((fiber) => {
      const untraced = dispatchAt(request, submission, nowOf(fiber))
      return fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
        ? untraced
        : Effect.withSpan(untraced, "smsforge/Router.dispatch", { attributes: purposeAttributes[request.purpose], captureStackTrace: false })
    })

  const checkContent = (request: RouteRequest): Effect.Effect<void, RoutingError> =>
    Effect.suspend(() => {
      const violation = RouteRegion.checkContent(current.regionRules, request)
      return violation === undefined ? Effect.void : fail(new RegionRuleViolation(violation))
    })

  const plan = (request: RouteRequest): Effect.Effect<ReadonlyArray<Candidate>, RoutingError> =>
    Effect.map(planFor(current, request), (planned) =>
      planned.candidates.map((c): Candidate => ({
        route: c.route.name,
        transport: c.route.transport,
        from: c.from,
        cost: c.cost,
        exactCost: c.quote?.cost,
        reason: c.reason
      })))

  // typed for callers, still decoded: rules also arrive from JSON and JavaScript
  const setRules = (rules: RoutingRulesInput): Effect.Effect<void, RoutingError> =>
    Effect.flatMap(decode(rules, names), (decoded) =>
      Effect.sync(() => {
        current = decoded
      }))

  const routes: Effect.Effect<ReadonlyArray<RouteStatus>> = Effect.suspend(() =>
    Effect.forEach(current.routes, (route) => {
      const carrier = transports.get(route.transport)?.capabilities.maxPerSecond
      const rates = [route.maxPerSecond, carrier].filter((n): n is number => n !== undefined)
      return breaker.state(circuitKey(route.name)).pipe(
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

  return Router.of({ dispatch, plan, setRules, checkContent, routes })
})

/**
 * Provides the {@link Router}.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: RouterOptions): Layer.Layer<Router, RoutingError> => Layer.effect(Router, make(options))
