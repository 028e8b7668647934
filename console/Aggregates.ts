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
 *
 * @since 0.2.0
 */
import type { Events, MessageStore } from "smsforge"

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
  const histogram = new Uint32Array(BUCKETS)
  let latencies = 0
  // Insertion-ordered, so the oldest open message is the first key.
  const open = new Map<string, Open>()
  const timeline = new Map<number, Counter>()

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
      histogram[bucketOf(event.at - state.submittedAt)]!++
      latencies++
    }
  }

  const submitted = (event: Events.StatusChanged, state: Open): void => {
    state.submittedAt = event.at
    state.route = event.route ?? state.route
    const cost = (state.route === undefined ? 0 : state.facts.prices?.[state.route] ?? 0) * state.facts.segments
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

  const percentile = (p: number): number | undefined => {
    if (latencies === 0) return undefined
    const rank = Math.ceil(latencies * p)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += histogram[i]!
      if (seen >= rank) return bucketValue(i)
    }
    return undefined
  }

  const report = (): Report => {
    const latency = latencies === 0
      ? { count: 0 }
      : { count: latencies, p50: percentile(0.5)!, p90: percentile(0.9)!, p99: percentile(0.99)! }
    return {
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
      latency,
      bucketMillis,
      overTime: Array.from(timeline, ([at, c]) => ({ at, sent: c.sent, delivered: c.delivered, failed: c.failed }))
        .sort((a, b) => a.at - b.at)
        .slice(-120)
    }
  }

  return { observe, knows: (id) => open.has(id), report }
}
