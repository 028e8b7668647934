/**
 * Spend and volume caps, per tenant and global, checked and reserved
 * atomically before a message reaches a carrier.
 *
 * **Details**
 * - A cap counts `spend` (exact money, {@link Pricing.Money}) or `messages`
 *   over a calendar `day` or `month`, in UTC or an IANA time zone. It applies
 *   to all traffic (`scope: "global"`), to one tenant (`tenant: "acme"`), or
 *   to each tenant separately (`scope: "tenant"` without a tenant).
 * - {@link Budget} `reserve` checks every cap that applies and, only when all
 *   hard caps have room, adds the message to every counter, in one atomic
 *   step of the {@link BudgetStore} (one Lua script on Redis, one transaction
 *   on PostgreSQL, one synchronous step in memory). A hard cap without room
 *   refuses with {@link BudgetExceeded} naming it; nothing is counted.
 * - A reservation is then `release`d (the message was refused later, nothing
 *   was sent) or `commit`ted with the actual cost (the carrier's price may
 *   differ from the estimate). Both are idempotent, and so is a second
 *   `reserve` with the same id.
 * - Every cap raises {@link BudgetThresholdReached} once when a reservation
 *   carries its counter across 50, 80 and 100% (its `alerts`); a `soft` cap
 *   only raises these, a `hard` cap also refuses.
 *
 * **Gotchas**
 * - A reservation that is neither released nor committed (the process died)
 *   stays counted; its record expires after `reservationTtl` (default one day).
 * - `commit` records the truth even when it takes a counter over its limit:
 *   the message was sent. Caps are enforced at `reserve`.
 * - Amounts and limits are held as integers of micro-units and must stay below
 *   2^53 (about 9 billion major units): Redis scripts compare them as doubles.
 *
 * **Example** (A hard daily cap per tenant)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Budget, Pricing } from "smsforge"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* Budget.Budget
 *   const cost = Pricing.fromMicros(7_900n, "USD")
 *   const reservation = yield* budget.reserve({ tenant: "acme", cost })
 *   yield* budget.commit(reservation, cost)
 * }).pipe(Effect.provide(Budget.layerMemory({
 *   caps: [{ name: "acme-daily", scope: "tenant", metric: "spend", period: "day", limit: "50", currency: "USD" }]
 * })))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as PubSub from "effect/PubSub"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { fieldName, firstProblem } from "./internal/issues.ts"
import { cryptoModule, loadPubSub } from "./internal/lazy.ts"
import * as M from "./internal/money/money.ts"
import { isTimeZone, periodKey, retention } from "./internal/money/period.ts"
import type * as Pricing from "./Pricing.ts"
import * as Store from "./Store.ts"

// models

/**
 * A cap as written in config.
 *
 * @category models
 * @since 0.1.0
 */
export interface CapInput {
  /** Unique; errors and events name the cap by it. */
  readonly name: string
  /** `"global"`: all traffic. `"tenant"`: `tenant` only, or each tenant separately when `tenant` is absent. Default `"global"`. */
  readonly scope?: "global" | "tenant" | undefined
  readonly tenant?: string | undefined
  readonly metric: "spend" | "messages"
  readonly period: "day" | "month"
  /** A decimal amount (`"250.00"`) for spend, an integer for messages. */
  readonly limit: string
  /** ISO 4217; required for spend. */
  readonly currency?: string | undefined
  /** `"hard"` refuses past the limit; `"soft"` only raises events. Default `"hard"`. */
  readonly mode?: "hard" | "soft" | undefined
  /** Percentages that raise {@link BudgetThresholdReached}; default `[50, 80, 100]`. */
  readonly alerts?: ReadonlyArray<number> | undefined
  /** IANA zone whose calendar the period follows; default the budget's `timeZone`. */
  readonly timeZone?: string | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface BudgetOptions {
  readonly caps: ReadonlyArray<CapInput>
  /** Default zone of every cap; default `"UTC"`. */
  readonly timeZone?: string | undefined
  /**
   * A reservation without a cost when a spend cap applies: `"refuse"` fails
   * with {@link CostUnknown} (default: a runaway loop on an unpriced route must
   * not bypass the cap); `"count-zero"` counts it as free.
   */
  readonly unpriced?: "refuse" | "count-zero" | undefined
  /** How long an open reservation is remembered; default one day. */
  readonly reservationTtl?: Duration.Input | undefined
  /** Time limit of each store call; default `Store.defaultTimeout`. */
  readonly storeTimeout?: Duration.Input | undefined
}

/**
 * What {@link Budget} `reserve` is asked for.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReserveRequest {
  /** The message id, so that a retried reserve is counted once; default a random id. */
  readonly id?: string | undefined
  readonly tenant?: string | undefined
  /** The estimated cost (`Pricing.costOf(…).total`). */
  readonly cost?: Pricing.Money | undefined
  /** Default 1. */
  readonly messages?: number | undefined
}

/**
 * One counter a reservation added to.
 *
 * @category models
 * @since 0.1.0
 */
export interface Hold {
  readonly cap: string
  readonly key: string
  readonly amount: bigint
}

/**
 * An open reservation: pass it to `commit` or `release`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Reservation {
  readonly id: string
  readonly tenant?: string | undefined
  readonly cost?: Pricing.Money | undefined
  readonly messages: number
  readonly holds: ReadonlyArray<Hold>
}

/**
 * A cap's counter for the current period.
 *
 * @category models
 * @since 0.1.0
 */
export interface Usage {
  readonly cap: string
  readonly tenant?: string | undefined
  readonly metric: "spend" | "messages"
  readonly period: "day" | "month"
  /** `2026-12-03` or `2026-12`, in the cap's zone. */
  readonly periodKey: string
  readonly mode: "hard" | "soft"
  /** Decimal for spend, an integer for messages. */
  readonly used: string
  readonly limit: string
  readonly currency?: string | undefined
}

/**
 * A counter crossed one of its cap's alert percentages.
 *
 * @category events
 * @since 0.1.0
 */
export interface BudgetThresholdReached extends Usage {
  readonly _tag: "BudgetThresholdReached"
  readonly percent: number
  /** Epoch milliseconds. */
  readonly at: number
}

/**
 * A hard cap refused a reservation.
 *
 * @category events
 * @since 0.1.0
 */
export interface BudgetRefused extends Usage {
  readonly _tag: "BudgetRefused"
  /** What the refused reservation asked for. */
  readonly requested: string
  readonly at: number
}

/**
 * @category events
 * @since 0.1.0
 */
export type BudgetEvent = BudgetThresholdReached | BudgetRefused

// errors

/**
 * A hard cap has no room for the message. Nothing was counted.
 *
 * @category errors
 * @since 0.1.0
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>("smsforge/Budget/BudgetExceeded")("BudgetExceeded", {
  cap: Schema.String,
  tenant: Schema.optional(Schema.String),
  metric: Schema.Literals(["spend", "messages"]),
  period: Schema.Literals(["day", "month"]),
  periodKey: Schema.String,
  limit: Schema.String,
  used: Schema.String,
  requested: Schema.String,
  currency: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `BudgetExceeded: cap ${this.cap} (${this.metric} per ${this.period})`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A spend cap applies and the reservation carries no cost.
 *
 * @category errors
 * @since 0.1.0
 */
export class CostUnknown extends Schema.TaggedError<CostUnknown>("smsforge/Budget/CostUnknown")("CostUnknown", {
  cap: Schema.String
}) {
  override get message(): string {
    return `CostUnknown: cap ${this.cap} counts spend and the message has no cost`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The cost's currency is not the spend cap's.
 *
 * @category errors
 * @since 0.1.0
 */
export class CurrencyMismatch extends Schema.TaggedError<CurrencyMismatch>("smsforge/Budget/CurrencyMismatch")(
  "CurrencyMismatch",
  { cap: Schema.String, expected: Schema.String, actual: Schema.String }
) {
  override get message(): string {
    return `CurrencyMismatch: cap ${this.cap} counts ${this.expected}, the cost is in ${this.actual}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The budget's config cannot be used; `field` names it (`caps[1].limit`).
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidBudgetConfig extends Schema.TaggedError<InvalidBudgetConfig>("smsforge/Budget/InvalidBudgetConfig")(
  "InvalidBudgetConfig",
  { field: Schema.String, problem: Schema.String }
) {
  override get message(): string {
    return `InvalidBudgetConfig: ${this.field} is ${this.problem}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * @category errors
 * @since 0.1.0
 */
export const BudgetErrorReason = Schema.Union([
  BudgetExceeded,
  CostUnknown,
  CurrencyMismatch,
  InvalidBudgetConfig,
  Store.StoreUnavailable
])

/**
 * @category errors
 * @since 0.1.0
 */
export type BudgetErrorReason = typeof BudgetErrorReason.Type

/**
 * Why a reservation was refused or a budget could not be used.
 *
 * @category errors
 * @since 0.1.0
 */
export class BudgetError extends Schema.TaggedError<BudgetError>("smsforge/BudgetError")("BudgetError", {
  reason: BudgetErrorReason
}) {
  override get message(): string {
    return this.reason.message
  }
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

// store service

/**
 * One counter of a reservation, as the store sees it.
 *
 * @category store
 * @since 0.1.0
 */
export interface StoreHold {
  readonly key: string
  readonly amount: bigint
  /** The hard limit; absent for a soft cap. */
  readonly limit?: bigint | undefined
  /** Counts spend: `commit` adjusts it to the actual cost. */
  readonly spend: boolean
  /** Epoch milliseconds after which the counter may be forgotten. */
  readonly expiresAt: number
}

/**
 * What the store answered a reservation.
 *
 * @category store
 * @since 0.1.0
 */
export type StoreOutcome =
  | { readonly _tag: "Reserved"; readonly used: ReadonlyArray<bigint> }
  | { readonly _tag: "AlreadyHeld" }
  | { readonly _tag: "Exceeded"; readonly index: number; readonly used: bigint }

/**
 * Where counters live. Each member is atomic: `reserve` checks every hard
 * limit and adds every amount, or adds nothing; `release` and `commit` apply
 * once per reservation id.
 *
 * @category store
 * @since 0.1.0
 */
export class BudgetStore extends Context.Service<BudgetStore, {
  /** Adds each amount unless a hard limit would be passed; `used` is each counter after. A held id adds nothing. */
  readonly reserve: (id: string, holds: ReadonlyArray<StoreHold>, expiresAt: number) => Effect.Effect<StoreOutcome, Store.StoreUnavailable>
  /** Takes the reservation's amounts back; `false` when the id is not held. */
  readonly release: (id: string) => Effect.Effect<boolean, Store.StoreUnavailable>
  /** Replaces the spend amounts with `actual`; the counters after, per spend key; empty when the id is not held. */
  readonly commit: (id: string, actual: bigint) => Effect.Effect<ReadonlyArray<readonly [string, bigint]>, Store.StoreUnavailable>
  /** The counters' values (0 when absent). */
  readonly get: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<bigint>, Store.StoreUnavailable>
}>()("smsforge/Budget/BudgetStore") {}

// service

/**
 * Caps and their counters.
 *
 * @category services
 * @since 0.1.0
 */
export class Budget extends Context.Service<Budget, {
  /** Checks every cap that applies and counts the message, or fails with `BudgetExceeded` naming the cap. */
  readonly reserve: (request: ReserveRequest) => Effect.Effect<Reservation, BudgetError>
  /**
   * Whether `reserve` would pass now, without counting anything or raising
   * an event: fails as `reserve` would (`BudgetExceeded` naming the cap). A
   * racing reservation can still take the room before yours.
   */
  readonly check: (request: ReserveRequest) => Effect.Effect<void, BudgetError>
  /** The message will not be sent: its counts are taken back. */
  readonly release: (reservation: Reservation) => Effect.Effect<void, BudgetError>
  /** The message was sent; `actual` (default the estimate) replaces the estimated cost. */
  readonly commit: (reservation: Reservation, actual?: Pricing.Money) => Effect.Effect<void, BudgetError>
  /** The caps that apply to a tenant (or to untenanted traffic), with their counters. */
  readonly usage: (tenant?: string) => Effect.Effect<ReadonlyArray<Usage>, BudgetError>
  /** Threshold and refusal events, for alerts and the host's own hooks. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<BudgetEvent>, never, Scope.Scope>
}>()("smsforge/Budget") {}

// decoding

interface Cap {
  readonly name: string
  readonly scope: "global" | "tenant"
  readonly tenant: string | undefined
  readonly metric: "spend" | "messages"
  readonly period: "day" | "month"
  readonly limit: bigint
  readonly currency: string | undefined
  readonly mode: "hard" | "soft"
  readonly alerts: ReadonlyArray<number>
  readonly timeZone: string
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER)

const CapSchema = Schema.Struct({
  name: Schema.NonEmptyString,
  scope: Schema.optional(Schema.Literals(["global", "tenant"])),
  tenant: Schema.optional(Schema.String),
  metric: Schema.Literals(["spend", "messages"]),
  period: Schema.Literals(["day", "month"]),
  limit: Schema.String,
  currency: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Z]{3}$/))),
  mode: Schema.optional(Schema.Literals(["hard", "soft"])),
  alerts: Schema.optional(Schema.Array(Schema.Finite.check(Schema.isBetween({ minimum: 1, maximum: 100 })))),
  timeZone: Schema.optional(Schema.String)
})

const OptionsSchema = Schema.Struct({
  caps: Schema.Array(CapSchema),
  timeZone: Schema.optional(Schema.String),
  unpriced: Schema.optional(Schema.Literals(["refuse", "count-zero"])),
  reservationTtl: Schema.optional(Schema.Any),
  storeTimeout: Schema.optional(Schema.Any)
})

const decodeOptions = Schema.decodeUnknownResult(OptionsSchema, { onExcessProperty: "error" })

const configError = (field: string, problem: string) =>
  new BudgetError({ reason: new InvalidBudgetConfig({ field, problem }) })

/** The limit in counter units: micro-units for spend, messages for counts. */
const limitOf = (input: typeof CapSchema.Type): bigint | undefined => {
  const units = input.metric === "spend" ? M.parseMicros(input.limit) : /^\d+$/.test(input.limit) ? BigInt(input.limit) : undefined
  return units === undefined || units < 0n || units > MAX ? undefined : units
}

/** Decodes and checks the caps: names unique, spend caps with a currency, zones known. */
const decodeCaps = (options: BudgetOptions): Result.Result<ReadonlyArray<Cap>, BudgetError> => {
  const decoded = decodeOptions(options)
  if (Result.isFailure(decoded)) {
    const { path, problem } = firstProblem(decoded.failure.issue)
    return Result.fail(configError(fieldName(path) || "options", problem === "unexpected" ? "not a known field" : problem))
  }
  const zone = decoded.success.timeZone ?? "UTC"
  if (!isTimeZone(zone)) return Result.fail(configError("timeZone", "not an IANA time zone"))
  const names = new Set<string>()
  const caps: Array<Cap> = []
  for (const [i, input] of decoded.success.caps.entries()) {
    const at = (field: string) => `caps[${i}].${field}`
    if (names.has(input.name)) return Result.fail(configError(at("name"), "used by another cap"))
    names.add(input.name)
    const limit = limitOf(input)
    if (limit === undefined) {
      const what = input.metric === "spend" ? "a decimal with at most 6 places" : "a whole number"
      return Result.fail(configError(at("limit"), `not ${what} between 0 and 2^53`))
    }
    if (input.metric === "spend" && input.currency === undefined) return Result.fail(configError(at("currency"), "missing"))
    if (input.tenant !== undefined && input.scope !== "tenant") return Result.fail(configError(at("scope"), "not \"tenant\" though a tenant is given"))
    const timeZone = input.timeZone ?? zone
    if (!isTimeZone(timeZone)) return Result.fail(configError(at("timeZone"), "not an IANA time zone"))
    caps.push({
      name: input.name,
      scope: input.scope ?? "global",
      tenant: input.tenant,
      metric: input.metric,
      period: input.period,
      limit,
      currency: input.metric === "spend" ? input.currency : undefined,
      mode: input.mode ?? "hard",
      alerts: input.alerts ?? [50, 80, 100],
      timeZone
    })
  }
  return Result.succeed(caps)
}

/**
 * Checks a budget's options without building it: the same
 * `InvalidBudgetConfig` naming the field as {@link make} (`caps[1].limit`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const validateOptions = (options: BudgetOptions): Result.Result<void, BudgetError> =>
  Result.map(decodeCaps(options), () => undefined)

// make

const NO_TENANT = "\u0000none"

const appliesTo = (cap: Cap, tenant: string | undefined): boolean =>
  cap.scope === "global" || cap.tenant === undefined || cap.tenant === tenant

/** The counter's key: cap, whose traffic, which period. */
const keyOf = (cap: Cap, tenant: string | undefined, now: number): string => {
  const who = cap.scope === "global" || cap.tenant !== undefined ? "*" : encodeURIComponent(tenant ?? NO_TENANT)
  return `${encodeURIComponent(cap.name)}:${who}:${periodKey(now, cap.period, cap.timeZone)}`
}

const show = (cap: Cap, units: bigint): string => (cap.metric === "spend" ? M.formatMicros(units) : units.toString())

const usageOf = (cap: Cap, tenant: string | undefined, now: number, used: bigint): Usage => ({
  cap: cap.name,
  ...(cap.scope === "tenant" && tenant !== undefined ? { tenant } : {}),
  metric: cap.metric,
  period: cap.period,
  periodKey: periodKey(now, cap.period, cap.timeZone),
  mode: cap.mode,
  used: show(cap, used),
  limit: show(cap, cap.limit),
  ...(cap.currency !== undefined ? { currency: cap.currency } : {})
})

/** The alert percentages a counter passed going from `before` to `after`. */
const crossed = (cap: Cap, before: bigint, after: bigint): ReadonlyArray<number> =>
  cap.alerts.filter((percent) => {
    // percent × limit / 100, compared without division: exact for every limit
    const mark = cap.limit * BigInt(Math.round(percent * 100))
    return before * 10_000n < mark && after * 10_000n >= mark
  })

/** What a reservation adds to each applicable cap, or why it cannot. */
const holdsFor = (
  caps: ReadonlyArray<Cap>,
  request: ReserveRequest,
  now: number,
  unpriced: "refuse" | "count-zero"
): Result.Result<ReadonlyArray<{ readonly cap: Cap; readonly hold: StoreHold }>, BudgetError> => {
  const messages = BigInt(request.messages ?? 1)
  const out: Array<{ cap: Cap; hold: StoreHold }> = []
  for (const cap of caps) {
    if (!appliesTo(cap, request.tenant)) continue
    let amount = messages
    if (cap.metric === "spend") {
      if (request.cost === undefined) {
        if (unpriced === "refuse") return Result.fail(new BudgetError({ reason: new CostUnknown({ cap: cap.name }) }))
        amount = 0n
      } else if (request.cost.currency !== cap.currency) {
        return Result.fail(
          new BudgetError({ reason: new CurrencyMismatch({ cap: cap.name, expected: cap.currency ?? "", actual: request.cost.currency }) })
        )
      } else {
        amount = request.cost.micros
      }
    }
    out.push({
      cap,
      hold: {
        key: keyOf(cap, request.tenant, now),
        amount,
        ...(cap.mode === "hard" ? { limit: cap.limit } : {}),
        spend: cap.metric === "spend",
        expiresAt: now + retention(cap.period)
      }
    })
  }
  return Result.succeed(out)
}

/** What the budget's operations share. */
interface Env {
  readonly caps: ReadonlyArray<Cap>
  readonly store: BudgetStore["Service"]
  readonly events: PubSub.PubSub<BudgetEvent>
  readonly publish: (event: BudgetEvent) => Effect.Effect<boolean>
  readonly unpriced: "refuse" | "count-zero"
  readonly reservationTtl: number
  readonly call: <A>(operation: string, effect: Effect.Effect<A, Store.StoreUnavailable>) => Effect.Effect<A, BudgetError>
}

const alert = (env: Env, cap: Cap, tenant: string | undefined, now: number, before: bigint, after: bigint) =>
  Effect.forEach(crossed(cap, before, after), (percent) =>
    env.publish({ _tag: "BudgetThresholdReached", ...usageOf(cap, tenant, now, after), percent, at: now }), {
    discard: true
  })

const exceeded = (cap: Cap, tenant: string | undefined, amount: bigint, now: number, used: bigint) =>
  new BudgetError({
    reason: new BudgetExceeded({
      cap: cap.name,
      ...(cap.scope === "tenant" && tenant !== undefined ? { tenant } : {}),
      metric: cap.metric,
      period: cap.period,
      periodKey: periodKey(now, cap.period, cap.timeZone),
      limit: show(cap, cap.limit),
      used: show(cap, used),
      requested: show(cap, amount),
      ...(cap.currency !== undefined ? { currency: cap.currency } : {})
    })
  })

const refuse = (env: Env, cap: Cap, request: ReserveRequest, amount: bigint, now: number, used: bigint) =>
  Effect.andThen(
    env.publish({
      _tag: "BudgetRefused",
      ...usageOf(cap, request.tenant, now, used),
      requested: show(cap, amount),
      at: now
    }),
    Effect.fail(exceeded(cap, request.tenant, amount, now, used))
  )

const checkWith = (env: Env) => (request: ReserveRequest): Effect.Effect<void, BudgetError> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const planned = yield* Effect.fromResult(holdsFor(env.caps, request, now, env.unpriced))
    const hard = planned.filter((p) => p.hold.limit !== undefined)
    if (hard.length === 0) return
    const used = yield* env.call("get", env.store.get(hard.map((p) => p.hold.key)))
    for (const [i, { cap, hold }] of hard.entries()) {
      const current = used[i] ?? 0n
      if (current + hold.amount > cap.limit) return yield* Effect.fail(exceeded(cap, request.tenant, hold.amount, now, current))
    }
  })

const reserveWith = (env: Env) => (request: ReserveRequest): Effect.Effect<Reservation, BudgetError> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const planned = yield* Effect.fromResult(holdsFor(env.caps, request, now, env.unpriced))
    const id = request.id ?? cryptoModule().randomUUID()
    // no cap applies: nothing to count, no store round trip
    const outcome: StoreOutcome = planned.length === 0
      ? { _tag: "Reserved", used: [] }
      : yield* env.call("reserve", env.store.reserve(id, planned.map((p) => p.hold), now + env.reservationTtl))
    if (outcome._tag === "Exceeded") {
      const refused = planned[outcome.index]
      if (refused === undefined) return yield* Effect.die(new Error(`BudgetStore answered an unknown hold index ${outcome.index}`))
      return yield* refuse(env, refused.cap, request, refused.hold.amount, now, outcome.used)
    }
    if (outcome._tag === "Reserved") {
      yield* Effect.forEach(planned, ({ cap, hold }, i) => {
        const after = outcome.used[i] ?? hold.amount
        return alert(env, cap, request.tenant, now, after - hold.amount, after)
      }, { discard: true })
    }
    return {
      id,
      ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
      ...(request.cost !== undefined ? { cost: request.cost } : {}),
      messages: request.messages ?? 1,
      holds: planned.map(({ cap, hold }) => ({ cap: cap.name, key: hold.key, amount: hold.amount }))
    }
  })

const commitWith = (env: Env) => (reservation: Reservation, actual?: Pricing.Money): Effect.Effect<void, BudgetError> =>
  Effect.gen(function*() {
    const cost = actual ?? reservation.cost
    const spendCap = env.caps.find((cap) => cap.metric === "spend" && reservation.holds.some((h) => h.cap === cap.name))
    if (cost !== undefined && spendCap !== undefined && cost.currency !== spendCap.currency) {
      return yield* Effect.fail(
        new BudgetError({ reason: new CurrencyMismatch({ cap: spendCap.name, expected: spendCap.currency ?? "", actual: cost.currency }) })
      )
    }
    if (reservation.holds.length === 0) return
    const now = yield* Clock.currentTimeMillis
    const after = yield* env.call("commit", env.store.commit(reservation.id, cost?.micros ?? 0n))
    const delta = (cost?.micros ?? 0n) - (reservation.cost?.micros ?? 0n)
    if (delta <= 0n) return
    // a dearer actual cost can cross an alert the estimate did not
    yield* Effect.forEach(after, ([key, used]) => {
      const hold = reservation.holds.find((h) => h.key === key)
      const cap = hold === undefined ? undefined : env.caps.find((c) => c.name === hold.cap)
      return cap === undefined ? Effect.void : alert(env, cap, reservation.tenant, now, used - delta, used)
    }, { discard: true })
  })

const usageWith = (env: Env) => (tenant?: string): Effect.Effect<ReadonlyArray<Usage>, BudgetError> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const applicable = env.caps.filter((cap) => appliesTo(cap, tenant))
    const used = yield* env.call("get", env.store.get(applicable.map((cap) => keyOf(cap, tenant, now))))
    return applicable.map((cap, i) => usageOf(cap, tenant, now, used[i] ?? 0n))
  })

/**
 * Builds the budget on the {@link BudgetStore} in the context; a bad cap
 * fails with `InvalidBudgetConfig` naming its field.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: BudgetOptions): Effect.Effect<Budget["Service"], BudgetError, BudgetStore> =>
  Effect.gen(function*() {
    const store = yield* BudgetStore
    const caps = yield* Effect.fromResult(decodeCaps(options))
    const timeout = options.storeTimeout ?? Store.defaultTimeout
    const pubsubs = yield* loadPubSub
    const events = yield* pubsubs.sliding<BudgetEvent>(4096)
    const env: Env = {
      caps,
      store,
      events,
      publish: (event) => pubsubs.publish(events, event),
      unpriced: options.unpriced ?? "refuse",
      reservationTtl: Duration.toMillis(Duration.fromInputUnsafe(options.reservationTtl ?? Duration.days(1))),
      call: (operation, effect) =>
        effect.pipe(Store.guard("budget", operation, timeout), Effect.mapError((reason) => new BudgetError({ reason })))
    }
    return Budget.of({
      reserve: reserveWith(env),
      check: checkWith(env),
      release: (reservation) =>
        reservation.holds.length === 0 ? Effect.void : Effect.asVoid(env.call("release", store.release(reservation.id))),
      commit: commitWith(env),
      usage: usageWith(env),
      subscribe: pubsubs.subscribe(env.events)
  })
  })

/**
 * The budget on the {@link BudgetStore} in the context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: BudgetOptions): Layer.Layer<Budget, BudgetError, BudgetStore> => Layer.effect(Budget, make(options))

// store layers

interface MemoryCounter {
  used: bigint
  expiresAt: number
}

interface MemoryReservation {
  readonly holds: ReadonlyArray<StoreHold>
  readonly expiresAt: number
}

/**
 * A store in this process's memory, following the Effect `Clock`. Every
 * member runs as one synchronous step, so concurrent fibers never interleave
 * inside a check-and-add.
 *
 * @category store
 * @since 0.1.0
 */
export const makeStoreMemory: Effect.Effect<BudgetStore["Service"]> = Effect.sync(() => {
  const counters = new Map<string, MemoryCounter>()
  const reservations = new Map<string, MemoryReservation>()
  let sweepAt = 1024
  // expired entries go when the maps have doubled since the last sweep: bounded memory, amortised cost
  const sweep = (now: number) => {
    if (counters.size + reservations.size < sweepAt) return
    for (const [key, c] of counters) if (c.expiresAt <= now) counters.delete(key)
    for (const [id, r] of reservations) if (r.expiresAt <= now) reservations.delete(id)
    sweepAt = Math.max(1024, 2 * (counters.size + reservations.size))
  }
  const usedAt = (key: string, now: number): bigint => {
    const c = counters.get(key)
    return c === undefined || c.expiresAt <= now ? 0n : c.used
  }
  const add = (key: string, amount: bigint, expiresAt: number, now: number) => {
    const used = usedAt(key, now) + amount
    counters.set(key, { used, expiresAt: Math.max(expiresAt, counters.get(key)?.expiresAt ?? 0) })
    return used
  }
  const held = (id: string, now: number): MemoryReservation | undefined => {
    const r = reservations.get(id)
    return r === undefined || r.expiresAt <= now ? undefined : r
  }
  return BudgetStore.of({
    reserve: (id, holds, expiresAt) =>
      Effect.map(Clock.currentTimeMillis, (now): StoreOutcome => {
        sweep(now)
        if (held(id, now) !== undefined) return { _tag: "AlreadyHeld" }
        for (const [index, hold] of holds.entries()) {
          const used = usedAt(hold.key, now)
          if (hold.limit !== undefined && used + hold.amount > hold.limit) return { _tag: "Exceeded", index, used }
        }
        reservations.set(id, { holds, expiresAt })
        return { _tag: "Reserved", used: holds.map((h) => add(h.key, h.amount, h.expiresAt, now)) }
      }),
    release: (id) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const r = held(id, now)
        if (r === undefined) return false
        reservations.delete(id)
        for (const h of r.holds) add(h.key, -h.amount, h.expiresAt, now)
        return true
      }),
    commit: (id, actual) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const r = held(id, now)
        if (r === undefined) return []
        reservations.delete(id)
        return r.holds.filter((h) => h.spend).map((h) => [h.key, add(h.key, actual - h.amount, h.expiresAt, now)] as const)
      }),
    get: (keys) => Effect.map(Clock.currentTimeMillis, (now) => keys.map((key) => usedAt(key, now)))
  })
})

/**
 * @category store
 * @since 0.1.0
 */
export const layerStoreMemory: Layer.Layer<BudgetStore> = Layer.effect(BudgetStore, makeStoreMemory)

/**
 * The budget on the memory store: nothing to start; counters die with the process.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory = (options: BudgetOptions): Layer.Layer<Budget, BudgetError> =>
  layer(options).pipe(Layer.provide(layerStoreMemory))
