/**
 * Report aggregates kept as status events arrive, so a report is read from a
 * few hundred counters and never from a scan of the message store.
 *
 * **Details**
 * - `observe` folds one `StatusChanged` event in O(1); `report` reads the
 *   counters in O(countries + routes + templates + time buckets).
 * - Facts the event does not carry (country, template, segments) are given
 *   once per message, on its first event, and held only until it ends.
 * - Latency is submit → final receipt, kept in a log-scale histogram (about
 *   4 % resolution), so percentiles need no sample list.
 * - Spend is exact: the cost a `submitted` event carries (a `Pricing` table
 *   priced its route) is summed in integer micro-units per currency, by
 *   tenant, country, route, template and day; never a float sum.
 *
 * @since 0.2.0
 */
import { type Events, type MessageStore, Pricing } from "smsforge"

/**
 * What the aggregates need to know about a message besides its events.
 *
 * @category models
 * @since 0.2.0
 */
export interface MessageFacts {
  readonly country: string
  readonly segments: number
  readonly template?: string | undefined
  readonly tenant?: string | undefined
  /** Price per segment by route, for this message's country, when the routing rules name one. */
  readonly prices?: Readonly<Record<string, number>> | undefined
}

/**
 * Counts for one country, route or template.
 *
 * @category models
 * @since 0.2.0
 */
export interface Breakdown {
  readonly key: string
  readonly sent: number
  readonly delivered: number
  readonly failed: number
  readonly segments: number
  /** Delivered among messages with a final status, 0 to 100. */
  readonly deliveredPercent: number
  readonly cost: number
}

/**
 * One time bucket of the volume chart.
 *
 * @category models
 * @since 0.2.0
 */
export interface Bucket {
  /** Epoch milliseconds of the bucket's start. */
  readonly at: number
  readonly sent: number
  readonly delivered: number
  readonly failed: number
}

/**
 * A report, as the console and `GET /console/reports` answer it.
 *
 * @category models
 * @since 0.2.0
 */
export interface Report {
  readonly total: number
  readonly delivered: number
  readonly failed: number
  readonly pending: number
  readonly deliveredPercent: number
  readonly segments: number
  readonly cost: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly failureReasons: ReadonlyArray<{ readonly reason: string; readonly count: number }>
  readonly byCountry: ReadonlyArray<Breakdown>
  readonly byRoute: ReadonlyArray<Breakdown>
  readonly byTemplate: ReadonlyArray<Breakdown>
  /** Submit to final receipt, milliseconds; absent before the first receipt. */
  readonly latency: { readonly count: number; readonly p50?: number; readonly p90?: number; readonly p99?: number }
  readonly bucketMillis: number
  readonly overTime: ReadonlyArray<Bucket>
  readonly spend: Spend
}

/**
 * Exact spend in one currency for one tenant, country, route, template or day.
 *
 * @category models
 * @since 0.3.0
 */
export interface SpendRow {
  readonly key: string
  /** ISO 4217. */
  readonly currency: string
  /** A decimal string, exact to the price table's six places (`"1.234567"`). */
  readonly amount: string
  /** Messages that carried a cost. */
  readonly messages: number
  readonly segments: number
}

/**
 * What the priced messages cost, from the costs on `submitted` events.
 *
 * @category models
 * @since 0.3.0
 */
export interface Spend {
  /** One row per currency; its `key` is the currency. */
  readonly total: ReadonlyArray<SpendRow>
  readonly byTenant: ReadonlyArray<SpendRow>
  readonly byCountry: ReadonlyArray<SpendRow>
  readonly byRoute: ReadonlyArray<SpendRow>
  readonly byTemplate: ReadonlyArray<SpendRow>
  /** `YYYY-MM-DD` in {@link AggregatesOptions.timeZone}, oldest first. */
  readonly byDay: ReadonlyArray<SpendRow>
  /** The zone whose midnights end the days of `byDay`. */
  readonly timeZone: string
}

interface Counter {
  sent: number
  delivered: number
  failed: number
  segments: number
  cost: number
}

interface Open {
  readonly facts: MessageFacts
  submittedAt: number | undefined
  route: string | undefined
}

interface SpendCounter {
  micros: bigint
  messages: number
  segments: number
}

type SpendDimension = "total" | "byTenant" | "byCountry" | "byRoute" | "byTemplate" | "byDay"

const spendDimensions: ReadonlyArray<SpendDimension> = ["total", "byTenant", "byCountry", "byRoute", "byTemplate", "byDay"]

// Keyed by key then currency: a route priced in two currencies keeps two rows.
type SpendTable = Map<string, Map<string, SpendCounter>>

const spendCounterOf = (table: SpendTable, key: string, currency: string): SpendCounter => {
  let byCurrency = table.get(key)
  if (byCurrency === undefined) {
    byCurrency = new Map()
    table.set(key, byCurrency)
  }
  let counter = byCurrency.get(currency)
  if (counter === undefined) {
    counter = { micros: 0n, messages: 0, segments: 0 }
    byCurrency.set(currency, counter)
  }
  return counter
}

type CountedRow = SpendRow & { readonly micros: bigint }

const spendRows = (table: SpendTable): Array<CountedRow> =>
  Array.from(table, ([key, byCurrency]) =>
    Array.from(byCurrency, ([currency, c]) => ({
      key,
      currency,
      amount: Pricing.toJson(Pricing.fromMicros(c.micros, currency)).amount,
      messages: c.messages,
      segments: c.segments,
      micros: c.micros
    }))).flat()

const largestFirst = (rows: Array<CountedRow>, limit: number): ReadonlyArray<SpendRow> =>
  rows.sort((a, b) => (a.micros === b.micros ? a.key.localeCompare(b.key) : a.micros > b.micros ? -1 : 1))
    .slice(0, limit)
    .map(({ micros: _, ...row }) => row)

/** `YYYY-MM-DD` of an instant in a zone; `en-CA` formats dates that way. */
const dayFormatter = (timeZone: string): ((at: number) => string) => {
  const format = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
  return (at) => format.format(at)
}

const failedStatuses: ReadonlySet<MessageStore.MessageStatus> = new Set(["failed", "undelivered", "expired", "rejected"])

// Histogram buckets grow by 2^(1/16) (≈4.4 %) from 1 ms: 512 buckets reach ~4 days.
const BUCKETS = 512
const STEP = 16
const bucketOf = (millis: number): number => Math.min(BUCKETS - 1, Math.max(0, Math.floor(Math.log2(Math.max(1, millis)) * STEP)))
const bucketValue = (index: number): number => Math.round(2 ** ((index + 0.5) / STEP))

const emptyCounter = (): Counter => ({ sent: 0, delivered: 0, failed: 0, segments: 0, cost: 0 })

const counterOf = (map: Map<string, Counter>, key: string): Counter => {
  let counter = map.get(key)
  if (counter === undefined) {
    counter = emptyCounter()
    map.set(key, counter)
  }
  return counter
}

const percent = (delivered: number, failed: number): number =>
  delivered + failed === 0 ? 0 : Math.round((delivered / (delivered + failed)) * 1000) / 10

const breakdown = (map: ReadonlyMap<string, Counter>, limit: number): ReadonlyArray<Breakdown> =>
  Array.from(map, ([key, c]) => ({
    key,
    sent: c.sent,
    delivered: c.delivered,
    failed: c.failed,
    segments: c.segments,
    deliveredPercent: percent(c.delivered, c.failed),
    cost: Math.round(c.cost * 10_000) / 10_000
  })).sort((a, b) => b.sent - a.sent).slice(0, limit)

/** Submit → final receipt in a log-scale histogram: percentiles without a sample list. */
const makeLatency = () => {
  const histogram = new Uint32Array(BUCKETS)
  let count = 0
  const percentile = (p: number): number => {
    const rank = Math.ceil(count * p)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += histogram[i]!
      if (seen >= rank) return bucketValue(i)
    }
    return bucketValue(BUCKETS - 1)
  }
  return {
    record: (millis: number): void => {
      histogram[bucketOf(millis)]!++
      count++
    },
    report: (): Report["latency"] => count === 0 ? { count: 0 } : { count, p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99) }
  }
}

/** Exact spend by dimension, key and currency; days in `timeZone`, the oldest dropped past `maxDays`. */
const makeSpendLedger = (timeZone: string, maxDays: number) => {
  const dayOf = dayFormatter(timeZone)
  const tables = new Map<SpendDimension, SpendTable>(spendDimensions.map((d) => [d, new Map()]))
  const add = (
    money: Pricing.Money,
    segments: number,
    keys: ReadonlyArray<readonly [Exclude<SpendDimension, "total" | "byDay">, string]>,
    at: number
  ): void => {
    const all: ReadonlyArray<readonly [SpendDimension, string]> = [["total", money.currency], ["byDay", dayOf(at)], ...keys]
    for (const [dimension, key] of all) {
      const counter = spendCounterOf(tables.get(dimension)!, key, money.currency)
      counter.micros += money.micros
      counter.messages++
      counter.segments += segments
    }
    const days = tables.get("byDay")!
    if (days.size > maxDays) days.delete(Array.from(days.keys()).sort()[0]!)
  }
  const report = (): Spend => ({
    total: largestFirst(spendRows(tables.get("total")!), 20),
    byTenant: largestFirst(spendRows(tables.get("byTenant")!), 50),
    byCountry: largestFirst(spendRows(tables.get("byCountry")!), 50),
    byRoute: largestFirst(spendRows(tables.get("byRoute")!), 50),
    byTemplate: largestFirst(spendRows(tables.get("byTemplate")!), 50),
    byDay: spendRows(tables.get("byDay")!)
      .sort((a, b) => (a.key === b.key ? a.currency.localeCompare(b.currency) : a.key < b.key ? -1 : 1))
      .map(({ micros: _, ...row }) => row),
    timeZone
  })
  return { add, report }
}

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.2.0
 */
export interface AggregatesOptions {
  /** Width of a time bucket; default one minute. */
  readonly bucketMillis?: number | undefined
  /** Buckets kept; default 1,440 (a day of minutes). */
  readonly buckets?: number | undefined
  /** Messages without a final status kept for facts and latency; default 100,000, the oldest dropped first. */
  readonly maxOpen?: number | undefined
  /** IANA zone whose midnights end the days of the spend report; default `"UTC"`. */
  readonly timeZone?: string | undefined
  /** Days of spend kept; default 400, the oldest dropped first. */
  readonly days?: number | undefined
}

/**
 * The aggregates: fold events in, read a report out.
 *
 * @category models
 * @since 0.2.0
 */
export interface Aggregates {
  /** Folds one event; `facts` is read only on a message's first event. */
  readonly observe: (event: Events.StatusChanged, facts: () => MessageFacts | undefined) => void
  /** Whether the message's facts are already held (so the caller need not look them up). */
  readonly knows: (messageId: string) => boolean
  readonly report: () => Report
}

/**
 * Creates empty aggregates.
 *
 * @category constructors
 * @since 0.2.0
 */
export const make = (options: AggregatesOptions = {}): Aggregates => {
  const bucketMillis = options.bucketMillis ?? 60_000
  const maxBuckets = options.buckets ?? 1_440
  const maxOpen = options.maxOpen ?? 100_000
  const byStatus = new Map<string, number>()
  const totals = emptyCounter()
  const countries = new Map<string, Counter>()
  const routes = new Map<string, Counter>()
  const templates = new Map<string, Counter>()
  const reasons = new Map<string, number>()
  const latency = makeLatency()
  // Insertion-ordered, so the oldest open message is the first key.
  const open = new Map<string, Open>()
  const timeline = new Map<number, Counter>()
  const spend = makeSpendLedger(options.timeZone ?? "UTC", options.days ?? 400)

  const bucket = (at: number): Counter => {
    const start = at - (at % bucketMillis)
    let counter = timeline.get(start)
    if (counter === undefined) {
      counter = emptyCounter()
      timeline.set(start, counter)
      if (timeline.size > maxBuckets) {
        const oldest = Math.min(...timeline.keys())
        timeline.delete(oldest)
      }
    }
    return counter
  }

  const countersOf = (state: Open): ReadonlyArray<Counter> => [
    totals,
    counterOf(countries, state.facts.country),
    counterOf(routes, state.route ?? "(none)"),
    counterOf(templates, state.facts.template ?? "(text)")
  ]

  const begin = (event: Events.StatusChanged, facts: MessageFacts): Open => {
    const state: Open = { facts, submittedAt: undefined, route: event.route }
    open.set(event.messageId, state)
    if (open.size > maxOpen) {
      const oldest = open.keys().next().value
      if (oldest !== undefined) open.delete(oldest)
    }
    return state
  }

  const finish = (event: Events.StatusChanged, state: Open): void => {
    open.delete(event.messageId)
    const delivered = event.status === "delivered"
    const failed = failedStatuses.has(event.status)
    if (!delivered && !failed) return
    for (const counter of countersOf(state)) {
      if (delivered) counter.delivered++
      else counter.failed++
    }
    const inBucket = bucket(event.at)
    if (delivered) inBucket.delivered++
    else inBucket.failed++
    if (failed) reasons.set(event.reason ?? event.status, (reasons.get(event.reason ?? event.status) ?? 0) + 1)
    if (delivered && state.submittedAt !== undefined) {
      latency.record(event.at - state.submittedAt)
    }
  }

  const submitted = (event: Events.StatusChanged, state: Open): void => {
    state.submittedAt = event.at
    state.route = event.route ?? state.route
    const money = event.cost === undefined ? undefined : Pricing.fromJson(event.cost)
    if (money !== undefined) {
      spend.add(money, state.facts.segments, [
        ["byTenant", event.tenant ?? state.facts.tenant ?? "(none)"],
        ["byCountry", state.facts.country],
        ["byRoute", state.route ?? "(none)"],
        ["byTemplate", state.facts.template ?? "(text)"]
      ], event.at)
    }
    // The volume tables' cost column: the exact cost when the event has one, else the console's own price map.
    const cost = money !== undefined
      ? Number(event.cost!.amount)
      : (state.route === undefined ? 0 : state.facts.prices?.[state.route] ?? 0) * state.facts.segments
    for (const counter of countersOf(state)) {
      counter.sent++
      counter.segments += state.facts.segments
      counter.cost += cost
    }
    bucket(event.at).sent++
  }

  const observe: Aggregates["observe"] = (event, facts) => {
    byStatus.set(event.status, (byStatus.get(event.status) ?? 0) + 1)
    if (event.previous !== undefined) byStatus.set(event.previous, (byStatus.get(event.previous) ?? 1) - 1)
    let state = open.get(event.messageId)
    if (state === undefined) {
      const known = facts()
      if (known === undefined) return
      state = begin(event, known)
    }
    if (event.status === "submitted") submitted(event, state)
    else if (event.status === "failed" && state.submittedAt === undefined) {
      // Refused before any carrier took it (every route failed): still a send that failed.
      submitted(event, state)
      finish(event, state)
    } else if (event.status !== "accepted" && event.status !== "queued") finish(event, state)
  }

  const report = (): Report => ({
    total: totals.sent,
    delivered: totals.delivered,
    failed: totals.failed,
    pending: Math.max(0, totals.sent - totals.delivered - totals.failed),
    deliveredPercent: percent(totals.delivered, totals.failed),
    segments: totals.segments,
    cost: Math.round(totals.cost * 10_000) / 10_000,
    byStatus: Object.fromEntries(Array.from(byStatus).filter(([, n]) => n > 0)),
    failureReasons: Array.from(reasons, ([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count).slice(0, 20),
    byCountry: breakdown(countries, 50),
    byRoute: breakdown(routes, 50),
    byTemplate: breakdown(templates, 50),
    latency: latency.report(),
    bucketMillis,
    overTime: Array.from(timeline, ([at, c]) => ({ at, sent: c.sent, delivered: c.delivered, failed: c.failed }))
      .sort((a, b) => a.at - b.at)
      .slice(-120),
    spend: spend.report()
  })

  return { observe, knows: (id) => open.has(id), report }
}

const csvField = (value: string): string => (/[",\r\n]/.test(value) ? `"${value.replaceAll("\"", "\"\"")}"` : value)

/**
 * The spend report as CSV, one row per breakdown, key and currency:
 * `breakdown,key,currency,amount,messages,segments`, for a spreadsheet or an
 * invoice check.
 *
 * @category utils
 * @since 0.3.0
 */
export const spendCsv = (spend: Spend): string => {
  const lines = ["breakdown,key,currency,amount,messages,segments"]
  const sections: ReadonlyArray<readonly [string, ReadonlyArray<SpendRow>]> = [
    ["total", spend.total],
    ["tenant", spend.byTenant],
    ["country", spend.byCountry],
    ["route", spend.byRoute],
    ["template", spend.byTemplate],
    ["day", spend.byDay]
  ]
  for (const [name, rows] of sections) {
    for (const r of rows) lines.push([name, r.key, r.currency, r.amount, String(r.messages), String(r.segments)].map(csvField).join(","))
  }
  return lines.join("\r\n") + "\r\n"
}
