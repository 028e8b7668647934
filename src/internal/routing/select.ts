/**
 * Candidate selection: which routes may carry a message, with which sender,
 * in which order and why. Pure and deterministic for a seed.
 *
 * @internal
 */
import type * as Pricing from "../../Pricing.ts"
import { compareQuotes } from "../../Pricing.ts"
import { hash32, prngAt, seedOf } from "../seededHash.ts"
import type { Purpose, RouteRule, Rules, StrategyKey } from "./rules.ts"

export interface Recipient {
  readonly e164: string
  readonly country: string
}

export interface SelectRequest {
  readonly messageId: string
  readonly to: Recipient
  readonly purpose: Purpose
  readonly tenant?: string | undefined
  readonly from?: string | undefined
  readonly segmentCount: number
}

export type Health = "Closed" | "Open" | "HalfOpen" | "Unknown"

export interface Candidate {
  readonly route: RouteRule
  readonly from: string | undefined
  readonly cost: number | undefined
  /** The price table's cost and comparison key, when a table is configured. */
  readonly quote: Pricing.Quote | undefined
  readonly health: Health
  readonly reason: string
}

export interface Skipped {
  readonly route: RouteRule
  readonly tag: "OutsideWindow" | "NoSender" | "CircuitOpen" | "BalanceBelowFloor"
  readonly reason: string
}

export interface Plan {
  /** Routes whose filters (country or prefix, purpose, tenant) accept the message. */
  readonly matched: number
  readonly candidates: ReadonlyArray<Candidate>
  readonly skipped: ReadonlyArray<Skipped>
}

// filters

export const matchesRecipient = (
  countries: ReadonlyArray<string> | undefined,
  prefixes: ReadonlyArray<string> | undefined,
  to: Recipient
): boolean => {
  if (countries === undefined && prefixes === undefined) return true
  if (countries !== undefined && countries.includes(to.country)) return true
  if (prefixes !== undefined) {
    // a loop, not `some`: this runs for every rule on every message
    for (let i = 0; i < prefixes.length; i++) if (to.e164.startsWith(prefixes[i]!)) return true
  }
  return false
}

/** The filters other than the recipient's: enabled, purpose, tenant. */
const acceptsMessage = (route: RouteRule, request: SelectRequest): boolean =>
  route.enabled &&
  (route.purposes === undefined || route.purposes.includes(request.purpose)) &&
  (route.tenants === undefined || (request.tenant !== undefined && route.tenants.includes(request.tenant)))


// index

/** An E.164 prefix trie: each node holds the routes whose prefix ends there. */
interface PrefixNode {
  readonly children: Map<string, PrefixNode>
  routes: Array<number> | undefined
}

/**
 * Where routes apply, so a message visits only the routes that may accept its
 * recipient instead of every route and prefix: 10,000 routes or prefixes
 * cost a map lookup per country and a walk of the number's digits.
 */
interface RouteIndex {
  readonly byCountry: ReadonlyMap<string, ReadonlyArray<number>>
  readonly prefixes: PrefixNode
  /** Routes with neither countries nor prefixes: every recipient. */
  readonly everywhere: ReadonlyArray<number>
}

const addTo = <K>(map: Map<K, Array<number>>, key: K, index: number) => {
  const list = map.get(key)
  if (list === undefined) map.set(key, [index])
  else if (list[list.length - 1] !== index) list.push(index)
}

const buildIndex = (routes: ReadonlyArray<RouteRule>): RouteIndex => {
  const byCountry = new Map<string, Array<number>>()
  const prefixes: PrefixNode = { children: new Map(), routes: undefined }
  const everywhere: Array<number> = []
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!
    if (route.countries === undefined && route.prefixes === undefined) everywhere.push(i)
    for (const country of route.countries ?? []) addTo(byCountry, country, i)
    for (const prefix of route.prefixes ?? []) {
      let node = prefixes
      for (const char of prefix) {
        let next = node.children.get(char)
        if (next === undefined) {
          next = { children: new Map(), routes: undefined }
          node.children.set(char, next)
        }
        node = next
      }
      if (node.routes === undefined) node.routes = [i]
      else if (node.routes[node.routes.length - 1] !== i) node.routes.push(i)
    }
  }
  return { byCountry, prefixes, everywhere }
}

// The rules' routes are immutable once decoded: one index per route list.
const indexes = new WeakMap<ReadonlyArray<RouteRule>, RouteIndex>()
const indexOf = (routes: ReadonlyArray<RouteRule>): RouteIndex => {
  let index = indexes.get(routes)
  if (index === undefined) {
    index = buildIndex(routes)
    indexes.set(routes, index)
  }
  return index
}

const ascending = (a: number, b: number) => a - b

/**
 * The positions, in rule order, of the routes whose countries or prefixes
 * accept the recipient (the same as `matchesRecipient` on each route); the
 * other filters are left to the caller.
 */
export const recipientRoutes = (routes: ReadonlyArray<RouteRule>, to: Recipient): ReadonlyArray<number> => {
  const index = indexOf(routes)
  const lists: Array<ReadonlyArray<number>> = []
  if (index.everywhere.length > 0) lists.push(index.everywhere)
  const byCountry = index.byCountry.get(to.country)
  if (byCountry !== undefined) lists.push(byCountry)
  let node: PrefixNode | undefined = index.prefixes
  for (let i = 0; i < to.e164.length && node.children.size > 0; i++) {
    node = node.children.get(to.e164[i]!)
    if (node === undefined) break
    if (node.routes !== undefined) lists.push(node.routes)
  }
  if (lists.length === 0) return none
  if (lists.length === 1) return lists[0]!
  // several sources: merged, in rule order, each route once
  const merged = lists.flat().sort(ascending)
  let kept = 0
  for (let i = 0; i < merged.length; i++) if (i === 0 || merged[i] !== merged[i - 1]) merged[kept++] = merged[i]!
  merged.length = kept
  return merged
}

const none: ReadonlyArray<number> = []

/** The routes that accept a message (country or prefix, purpose, tenant, enabled), in rule order. */
export const matchingRoutes = (rules: Rules, request: SelectRequest): ReadonlyArray<RouteRule> => {
  const positions = recipientRoutes(rules.routes, request.to)
  const out: Array<RouteRule> = []
  for (let i = 0; i < positions.length; i++) {
    const route = rules.routes[positions[i]!]!
    if (acceptsMessage(route, request)) out.push(route)
  }
  return out
}

/** Whether `now` (epoch ms) falls in one of the route's UTC windows; no windows means always. */
export const inWindow = (route: RouteRule, now: number): boolean => {
  if (route.windows === undefined || route.windows.length === 0) return true
  const date = new Date(now)
  const day = date.getUTCDay()
  const hour = date.getUTCHours()
  return route.windows.some((w) => {
    if (w.from === w.to || (w.from === 0 && w.to === 24)) return w.days === undefined || w.days.includes(day)
    if (w.from < w.to) return (w.days === undefined || w.days.includes(day)) && hour >= w.from && hour < w.to
    // wraps midnight: the part after midnight belongs to the previous day's window
    if (hour >= w.from) return w.days === undefined || w.days.includes(day)
    if (hour < w.to) return w.days === undefined || w.days.includes((day + 6) % 7)
    return false
  })
}

// senders

/**
 * Countries whose carriers refuse alphanumeric sender IDs (a message from
 * `ACME` is dropped or rewritten), so a numeric sender is used instead.
 * Sources: carrier and aggregator country guides; extend or replace it with
 * the rules' `alphanumericRefused`.
 */
export const alphanumericRefused: ReadonlyArray<string> = [
  "US", // United States: 10DLC, toll-free or short code only
  "CA", // Canada
  "PR", // Puerto Rico (NANP)
  "CN", // China: registered numeric sender only
  "BR", // Brazil
  "AR", // Argentina
  "CL", // Chile
  "CO", // Colombia
  "CR", // Costa Rica
  "EC", // Ecuador
  "MX", // Mexico
  "PE", // Peru
  "UY", // Uruguay
  "KR", // South Korea: pre-registered numeric sender
  "JP", // Japan: domestic carriers rewrite alphanumeric senders
  "VN" // Vietnam: registered brand names only through local carriers
]

export const isNumericSender = (sender: string): boolean => /^\+?[0-9]{3,15}$/.test(sender)

/** Rendezvous hashing: the same recipient keeps its sender while the pool changes around it. */
export const pickSticky = (pool: ReadonlyArray<string>, recipient: string, salt: string): string | undefined => {
  let best: string | undefined
  let bestScore = -1
  for (const sender of pool) {
    const score = hash32(`${salt}\u0000${recipient}\u0000${sender}`)
    if (score > bestScore) {
      best = sender
      bestScore = score
    }
  }
  return best
}

export type SenderChoice =
  | { readonly _tag: "Sender"; readonly from: string | undefined; readonly note: string }
  | { readonly _tag: "NoSender"; readonly reason: string }

const transportDefault: SenderChoice = { _tag: "Sender", from: undefined, note: "transport's default sender" }

export const chooseSender = (route: RouteRule, request: SelectRequest, refused: ReadonlySet<string>): SenderChoice => {
  const explicit = request.from
  if (explicit === undefined && route.senders === undefined) return transportDefault
  const country = request.to.country
  const numericOnly = refused.has(country)
  const allowed = (s: string) => !numericOnly || isNumericSender(s)
  if (explicit !== undefined && allowed(explicit)) {
    return { _tag: "Sender", from: explicit, note: "sender from request" }
  }
  if (route.senders === undefined) {
    return { _tag: "NoSender", reason: `alphanumeric sender refused in ${country}, no numeric sender pool` }
  }
  const own = route.senders[country]
  const any = route.senders["*"]
  const pool = (own ?? any ?? []).filter(allowed)
  if (pool.length > 0) {
    const from = pickSticky(pool, request.to.e164, route.name)
    return {
      _tag: "Sender",
      from,
      note: `sticky sender from ${own !== undefined ? country : "*"} pool${numericOnly ? " (numeric only)" : ""}`
    }
  }
  // numeric fallback: the country's pool had only alphanumeric senders
  const fallback = (any ?? []).filter(isNumericSender)
  if (numericOnly && fallback.length > 0) {
    return { _tag: "Sender", from: pickSticky(fallback, request.to.e164, route.name), note: "numeric fallback sender" }
  }
  return {
    _tag: "NoSender",
    reason: numericOnly ? `no numeric sender for ${country}` : `no sender for ${country}`
  }
}

// prices

export const priceOf = (route: RouteRule, country: string): number | undefined =>
  route.price === undefined ? undefined : route.price[country] ?? route.price["*"]

// ordering

// A half-open circuit ranks with closed ones: it needs its probe to recover.
const healthRank = (h: Health): number => (h === "Closed" || h === "HalfOpen" ? 0 : h === "Unknown" ? 1 : 2)

interface Keyed {
  readonly route: RouteRule
  readonly from: string | undefined
  readonly cost: number | undefined
  readonly quote: Pricing.Quote | undefined
  readonly health: Health
  readonly draw: number
}

const describe = (key: StrategyKey, c: Keyed, segments: number, country: string): string => {
  switch (key) {
    case "priority":
      return `priority ${c.route.priority}`
    case "weighted":
      return `weight ${c.route.weight} (draw ${c.draw.toFixed(3)})`
    case "least-cost": {
      if (c.quote !== undefined) return c.quote.reason
      const price = priceOf(c.route, country)
      return price === undefined ? "no price" : `cost ${c.cost} = ${price} × ${segments} segment${segments === 1 ? "" : "s"}`
    }
    case "health":
      return `circuit ${c.health}`
  }
}

const compareBy = (key: StrategyKey, a: Keyed, b: Keyed): number => {
  switch (key) {
    case "priority":
      return a.route.priority - b.route.priority
    case "weighted":
      return b.draw - a.draw
    case "least-cost": {
      // a price table: exact keys; with one, every candidate has a quote
      if (a.quote !== undefined && b.quote !== undefined) return compareQuotes(a.quote, b.quote)
      const ca = a.cost ?? Number.POSITIVE_INFINITY
      const cb = b.cost ?? Number.POSITIVE_INFINITY
      return ca === cb ? 0 : ca < cb ? -1 : 1
    }
    case "health":
      return healthRank(a.health) - healthRank(b.health)
  }
}

/**
 * Weighted draw without replacement (Efraimidis–Spirakis): each route gets
 * `u^(1/w)`, larger first. A route with weight 0 always comes last.
 */
const drawFor = (u: number, weight: number): number => (weight <= 0 ? -1 + u * 1e-9 : Math.pow(u, 1 / weight))

const strategyTexts = new WeakMap<ReadonlyArray<StrategyKey>, string>()
const strategyText = (strategy: ReadonlyArray<StrategyKey>): string => {
  let text = strategyTexts.get(strategy)
  if (text === undefined) {
    text = strategy.join(", ")
    strategyTexts.set(strategy, text)
  }
  return text
}

// Reasons repeat from message to message, and each is kept with its message:
// one shared flat string instead of a tree of concatenated pieces per message
// (about ten heap objects the collector would copy and mark).
const interned = new Map<string, string>()
const intern = (text: string): string => {
  const known = interned.get(text)
  if (known !== undefined) return known
  // weighted draws and costs make texts unique: a bounded table, emptied when full
  if (interned.size >= 4096) interned.clear()
  interned.set(text, text)
  return text
}

const fixedReasons = new WeakMap<RouteRule, Map<string, Map<number, string>>>()
const healthIndex: Record<Health, number> = { Closed: 0, HalfOpen: 1, Unknown: 2, Open: 3 }

// A route that may carry the message, ranked once the routes are sorted. The
// reason is built on first read: most dispatches read only the first
// candidate's. A class, because a getter in an object literal costs more than
// building the text.
class RankedCandidate implements Candidate, Keyed {
  readonly route: RouteRule
  readonly from: string | undefined
  readonly cost: number | undefined
  readonly quote: Pricing.Quote | undefined
  readonly health: Health
  readonly draw: number
  rank = 0
  of = 0
  private readonly note: string
  private readonly strategy: ReadonlyArray<StrategyKey>
  private readonly request: SelectRequest
  private text: string | undefined = undefined
  constructor(
    route: RouteRule,
    from: string | undefined,
    cost: number | undefined,
    quote: Pricing.Quote | undefined,
    health: Health,
    draw: number,
    note: string,
    strategy: ReadonlyArray<StrategyKey>,
    request: SelectRequest
  ) {
    this.route = route
    this.from = from
    this.cost = cost
    this.quote = quote
    this.health = health
    this.draw = draw
    this.note = note
    this.strategy = strategy
    this.request = request
  }
  get reason(): string {
    if (this.text !== undefined) return this.text
    // Without draws or costs, the text depends only on the route, the rank,
    // the health and the sender's note: built once and looked up by number.
    const fixed = !this.strategy.includes("weighted") && !this.strategy.includes("least-cost")
    const slot = this.rank * 65_536 + this.of * 4 + healthIndex[this.health]
    let byNote: Map<string, Map<number, string>> | undefined
    if (fixed) {
      byNote = fixedReasons.get(this.route)
      if (byNote === undefined) {
        byNote = new Map()
        fixedReasons.set(this.route, byNote)
      }
      const known = byNote.get(this.note)?.get(slot)
      if (known !== undefined) return this.text = known
    }
    // concatenation, not map and join: the text is built for every message sent
    let text = `rank ${this.rank}/${this.of} by ${strategyText(this.strategy)}: `
    for (let i = 0; i < this.strategy.length; i++) {
      if (i > 0) text += "; "
      text += describe(this.strategy[i]!, this, this.request.segmentCount, this.request.to.country)
    }
    this.text = intern(`${text}; ${this.note}`)
    if (byNote !== undefined) {
      let bySlot = byNote.get(this.note)
      if (bySlot === undefined) {
        // pools make notes per country: bounded as the routes and countries are
        bySlot = new Map()
        byNote.set(this.note, bySlot)
      }
      bySlot.set(slot, this.text)
    }
    return this.text
  }
}

export interface PlanContext {
  readonly now: number
  readonly seed: number | string | undefined
  readonly health: (route: RouteRule) => Health
  /** Each route's quote from the price table, by route name; absent without a table. */
  readonly quotes?: ReadonlyMap<string, Pricing.Quote> | undefined
  /** Routes whose carrier balance is below its floor: skipped. */
  readonly belowFloor?: ReadonlySet<string> | undefined
}

/**
 * Orders the routes that may carry a message. Routes outside their time
 * window, without an allowed sender, or with an open circuit are skipped with
 * a reason.
 */
export const plan = (rules: Rules, request: SelectRequest, ctx: PlanContext): Plan => {
  // Only the weighted strategy reads draws; seeding the generator costs a hash of the id.
  const drawSeed = rules.strategy.includes("weighted") ? hash32(request.messageId, seedOf(ctx.seed)) : undefined
  let skipped: Array<Skipped> | undefined
  const strategy = rules.strategy
  const candidates: Array<RankedCandidate> = []
  let matched = 0
  const positions = recipientRoutes(rules.routes, request.to)
  // index loops on this path: a for-of iterator is garbage the optimiser does not always remove
  for (let p = 0; p < positions.length; p++) {
    const i = positions[p]!
    const route = rules.routes[i]!
    // the index has matched the recipient
    if (!acceptsMessage(route, request)) continue
    // the route's draw is the generator's (i + 1)-th number, as if every route
    // drew in order: it does not depend on the others' filters
    const draw = drawSeed === undefined ? 0 : drawFor(prngAt(drawSeed, i + 1), route.weight)
    matched++
    if (!inWindow(route, ctx.now)) {
      ;(skipped ??= []).push({ route, tag: "OutsideWindow", reason: "skipped: outside its time window" })
      continue
    }
    const sender = chooseSender(route, request, rules.alphanumericRefused)
    if (sender._tag === "NoSender") {
      ;(skipped ??= []).push({ route, tag: "NoSender", reason: `skipped: ${sender.reason}` })
      continue
    }
    if (ctx.belowFloor !== undefined && ctx.belowFloor.has(route.name)) {
      ;(skipped ??= []).push({ route, tag: "BalanceBelowFloor", reason: "skipped: balance below floor" })
      continue
    }
    const health = ctx.health(route)
    if (health === "Open") {
      ;(skipped ??= []).push({ route, tag: "CircuitOpen", reason: "skipped: circuit open" })
      continue
    }
    const price = priceOf(route, request.to.country)
    const cost = price === undefined ? undefined : price * request.segmentCount
    const quote = ctx.quotes === undefined ? undefined : ctx.quotes.get(route.name) ?? unpriced
    candidates.push(new RankedCandidate(route, sender.from, cost, quote, health, draw, sender.note, strategy, request))
  }
  if (candidates.length > 1) {
    candidates.sort((a, b) => {
      for (const key of strategy) {
        const c = compareBy(key, a, b)
        if (c !== 0) return c
      }
      return a.route.index - b.route.index
    })
  }
  for (let i = 0; i < candidates.length; i++) {
    candidates[i]!.rank = i + 1
    candidates[i]!.of = candidates.length
  }
  return { matched, candidates, skipped: skipped ?? noneSkipped }
}

const noneSkipped: ReadonlyArray<Skipped> = []

const unpriced: Pricing.Quote = { route: "", cost: undefined, reason: "no price", key: undefined }

