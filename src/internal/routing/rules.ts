/**
 * The routing rules' Schema, decoding and validation. Pure.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"

// schema

const Purpose = Schema.Literals(["transactional", "marketing", "verification"])
const Country = Schema.String.check(Schema.isPattern(/^(?:[A-Z]{2}|001)$/))
const CountryOrAny = Schema.String.check(Schema.isPattern(/^(?:[A-Z]{2}|001|\*)$/))
const Prefix = Schema.String.check(Schema.isPattern(/^\+[0-9]{1,15}$/))
const Sender = Schema.String.check(Schema.isPattern(/^(?:\+?[0-9]{3,15}|[A-Za-z0-9 ._&-]{1,11})$/))
const Hour = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 24 }))
const Day = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 6 }))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

const validRegExp = (pattern: string, flags: string | undefined): boolean => {
  try {
    new RegExp(pattern, flags)
    return true
  } catch {
    return false
  }
}

/** A UTC time window: hours `from` (inclusive) to `to` (exclusive), wrapping midnight when `from > to`. */
const TimeWindow = Schema.Struct({
  days: Schema.optional(Schema.Array(Day)),
  from: Hour,
  to: Hour
})

const Route = Schema.Struct({
  name: Schema.NonEmptyString,
  transport: Schema.NonEmptyString,
  enabled: Schema.optional(Schema.Boolean),
  priority: Schema.optional(Schema.Finite),
  weight: Schema.optional(NonNegative),
  countries: Schema.optional(Schema.Array(Country)),
  prefixes: Schema.optional(Schema.Array(Prefix)),
  purposes: Schema.optional(Schema.Array(Purpose)),
  tenants: Schema.optional(Schema.Array(Schema.String)),
  senders: Schema.optional(Schema.Record(CountryOrAny, Schema.Array(Sender))),
  price: Schema.optional(Schema.Record(CountryOrAny, NonNegative)),
  maxPerSecond: Schema.optional(Positive.check(Schema.isLessThanOrEqualTo(1000))),
  windows: Schema.optional(Schema.Array(TimeWindow)),
  timeout: Schema.optional(Schema.DurationFromString)
})

const RegionCheck = Schema.Union([
  Schema.Struct({ _tag: Schema.tag("SignaturePrefix"), open: Schema.NonEmptyString, close: Schema.NonEmptyString }),
  Schema.Struct({
    _tag: Schema.tag("TextPattern"),
    pattern: Schema.NonEmptyString,
    flags: Schema.optional(Schema.String.check(Schema.isPattern(/^[imsu]*$/)))
  }),
  Schema.Struct({ _tag: Schema.tag("ApprovedTemplate") }),
  Schema.Struct({
    _tag: Schema.tag("PerNumberLimit"),
    limits: Schema.Array(Schema.Struct({
      limit: Schema.Int.check(Schema.isGreaterThan(0)),
      window: Schema.DurationFromString
    })).check(Schema.isMinLength(1))
  })
])

const RegionRule = Schema.Struct({
  name: Schema.NonEmptyString,
  countries: Schema.optional(Schema.Array(Country)),
  prefixes: Schema.optional(Schema.Array(Prefix)),
  purposes: Schema.optional(Schema.Array(Purpose)),
  check: RegionCheck
})

const StrategyKey = Schema.Literals(["priority", "weighted", "least-cost", "health"])

/** The encoded (config) form of the routing rules. */
export const RoutingRulesSchema = Schema.Struct({
  strategy: Schema.optional(Schema.Array(StrategyKey)),
  routes: Schema.Array(Route),
  regionRules: Schema.optional(Schema.Array(RegionRule)),
  alphanumericRefused: Schema.optional(Schema.Array(Country))
})

export type DecodedRules = typeof RoutingRulesSchema.Type

// An unknown key is an error, never dropped: a typo such as `contries` would
// otherwise silently widen a route to every country.
const strict = { onExcessProperty: "error" } as const
const decodeStrict = Schema.decodeUnknownExit(RoutingRulesSchema, strict)
const decodePresets = Schema.decodeUnknownExit(Schema.Array(RegionRule), strict)
export type StrategyKey = "priority" | "weighted" | "least-cost" | "health"
export type Purpose = "transactional" | "marketing" | "verification"

/** Compile-time check that the hand-written public input types match the Schema. */
export type InputMatchesSchema<I> = I extends typeof RoutingRulesSchema.Encoded ? true : false

// normalised rules

export interface TimeWindowRule {
  readonly days: ReadonlyArray<number> | undefined
  readonly from: number
  readonly to: number
}

export interface RouteRule {
  readonly name: string
  readonly transport: string
  readonly index: number
  readonly enabled: boolean
  readonly priority: number
  readonly weight: number
  readonly countries: ReadonlyArray<string> | undefined
  readonly prefixes: ReadonlyArray<string> | undefined
  readonly purposes: ReadonlyArray<Purpose> | undefined
  readonly tenants: ReadonlyArray<string> | undefined
  readonly senders: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  readonly price: Readonly<Record<string, number>> | undefined
  readonly maxPerSecond: number | undefined
  readonly windows: ReadonlyArray<TimeWindowRule> | undefined
  /** The time limit of one submission on this route, in milliseconds. */
  readonly timeoutMillis: number | undefined
}

export type RegionCheck =
  | { readonly _tag: "SignaturePrefix"; readonly open: string; readonly close: string }
  | { readonly _tag: "TextPattern"; readonly pattern: RegExp }
  | { readonly _tag: "ApprovedTemplate" }
  | {
    readonly _tag: "PerNumberLimit"
    readonly limits: ReadonlyArray<{ readonly limit: number; readonly windowMillis: number }>
  }

export interface RegionRuleSpec {
  readonly name: string
  readonly countries: ReadonlyArray<string> | undefined
  readonly prefixes: ReadonlyArray<string> | undefined
  readonly purposes: ReadonlyArray<Purpose> | undefined
  readonly check: RegionCheck
}

export interface Rules {
  readonly strategy: ReadonlyArray<StrategyKey>
  readonly routes: ReadonlyArray<RouteRule>
  readonly regionRules: ReadonlyArray<RegionRuleSpec>
  readonly alphanumericRefused: ReadonlySet<string>
}

/** A decoding problem: the offending field as a path (`routes[1].transport`) and what was wrong. */
export interface RuleProblem {
  readonly field: string
  readonly problem: string
}

export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out === "" ? "rules" : out
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Whether the first leaf of an issue (the one the formatter reports with `errors: "first"`) is an excess key. */
const isUnexpected = (issue: SchemaIssue.Issue): boolean => {
  let current: SchemaIssue.Issue = issue
  for (;;) {
    switch (current._tag) {
      case "UnexpectedKey":
        return true
      case "Pointer":
      case "Filter":
      case "Encoding":
        current = current.issue
        continue
      case "Composite":
      case "AnyOf":
        if (current.issues.length === 0) return false
        current = current.issues[0]!
        continue
      default:
        return false
    }
  }
}

export const defaultStrategy: ReadonlyArray<StrategyKey> = ["health", "priority"]

/**
 * Decodes and validates rules. Returns the first problem, naming its field.
 */
export const decodeRules = (
  input: unknown,
  options: {
    readonly transports: ReadonlyArray<string>
    readonly defaultRegionRules: ReadonlyArray<unknown>
    readonly defaultAlphanumericRefused: ReadonlyArray<string>
  }
): { readonly _tag: "Ok"; readonly rules: Rules } | { readonly _tag: "Problem"; readonly problem: RuleProblem } => {
  const exit = decodeStrict(input)
  if (Exit.isFailure(exit)) {
    for (const reason of exit.cause.reasons) {
      if (reason._tag === "Fail") {
        const first = formatter(reason.error.issue).issues[0]
        const field = formatPath((first?.path ?? []) as ReadonlyArray<PropertyKey>)
        // the formatter's wording for an excess key may quote its value; name the key only
        const problem = first?.message === undefined ? "invalid" : isUnexpected(reason.error.issue) ? "Unknown key" : first.message
        return { _tag: "Problem", problem: { field, problem } }
      }
    }
    return { _tag: "Problem", problem: { field: "rules", problem: "invalid" } }
  }
  const decoded = exit.value
  let regionInput: ReadonlyArray<unknown> | undefined = decoded.regionRules
  let regionField = "regionRules"
  if (regionInput === undefined) {
    // presets are encoded data; decode them the same way so users and presets share one mechanism
    const presets = decodePresets(options.defaultRegionRules)
    if (Exit.isFailure(presets)) return { _tag: "Problem", problem: { field: "regionRules", problem: "invalid preset" } }
    regionInput = presets.value
    regionField = "regionRules(default)"
  }
  const names = new Set<string>()
  const routes: Array<RouteRule> = []
  for (let i = 0; i < decoded.routes.length; i++) {
    const r = decoded.routes[i]!
    if (names.has(r.name)) {
      return { _tag: "Problem", problem: { field: `routes[${i}].name`, problem: "Duplicate route name" } }
    }
    names.add(r.name)
    if (!options.transports.includes(r.transport)) {
      return { _tag: "Problem", problem: { field: `routes[${i}].transport`, problem: "Unknown transport" } }
    }
    if (r.windows !== undefined) {
      for (let w = 0; w < r.windows.length; w++) {
        const win = r.windows[w]!
        if (win.from === 24) {
          return { _tag: "Problem", problem: { field: `routes[${i}].windows[${w}].from`, problem: "Expected an hour from 0 to 23" } }
        }
      }
    }
    const timeoutMillis = r.timeout === undefined ? undefined : Duration.toMillis(r.timeout)
    if (timeoutMillis !== undefined && !(Number.isFinite(timeoutMillis) && timeoutMillis >= 1)) {
      return { _tag: "Problem", problem: { field: `routes[${i}].timeout`, problem: "Expected a finite time limit of at least 1 millisecond" } }
    }
    routes.push({
      name: r.name,
      transport: r.transport,
      index: i,
      enabled: r.enabled ?? true,
      priority: r.priority ?? i,
      weight: r.weight ?? 1,
      countries: r.countries,
      prefixes: r.prefixes,
      purposes: r.purposes,
      tenants: r.tenants,
      senders: r.senders,
      price: r.price,
      maxPerSecond: r.maxPerSecond,
      windows: r.windows?.map((w) => ({ days: w.days, from: w.from, to: w.to })),
      timeoutMillis
    })
  }
  const regionRules: Array<RegionRuleSpec> = []
  for (let i = 0; i < regionInput.length; i++) {
    const rule = regionInput[i] as typeof RegionRule.Type
    let check: RegionCheck
    switch (rule.check._tag) {
      case "TextPattern": {
        if (!validRegExp(rule.check.pattern, rule.check.flags)) {
          return { _tag: "Problem", problem: { field: `${regionField}[${i}].check.pattern`, problem: "Invalid regular expression" } }
        }
        check = { _tag: "TextPattern", pattern: new RegExp(rule.check.pattern, rule.check.flags) }
        break
      }
      case "PerNumberLimit": {
        check = {
          _tag: "PerNumberLimit",
          limits: rule.check.limits.map((l) => ({ limit: l.limit, windowMillis: Duration.toMillis(l.window) }))
        }
        for (let l = 0; l < check.limits.length; l++) {
          const ms = check.limits[l]!.windowMillis
          if (!Number.isFinite(ms) || ms < 1) {
            return { _tag: "Problem", problem: { field: `${regionField}[${i}].check.limits[${l}].window`, problem: "Expected a finite window of at least 1 millisecond" } }
          }
        }
        break
      }
      default:
        check = rule.check
    }
    regionRules.push({
      name: rule.name,
      countries: rule.countries,
      prefixes: rule.prefixes,
      purposes: rule.purposes,
      check
    })
  }
  return {
    _tag: "Ok",
    rules: {
      strategy: decoded.strategy ?? defaultStrategy,
      routes,
      regionRules,
      alphanumericRefused: new Set(decoded.alphanumericRefused ?? options.defaultAlphanumericRefused)
    }
  }
}
