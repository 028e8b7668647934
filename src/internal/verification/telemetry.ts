/**
 * What the verification service tells the outside: the counts its `stats`
 * answers (overall and per country), a metric counter for each, and the
 * `VerificationChanged` and `Blocked` events it publishes.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import * as Events from "../../Events.ts"
import { nowOf } from "../clock.ts"

// The counters' names and descriptions; each series is a counter with its
// attributes fixed (`Metric.withAttributes` rebuilds the context and the
// series key on every update).
const metrics = {
  starts: { name: "smsforge_verification_starts", description: "Verifications started, by country" },
  approvals: { name: "smsforge_verification_approvals", description: "Verifications approved, by country" },
  expiries: { name: "smsforge_verification_expiries", description: "Verifications found expired, by country" },
  sends: { name: "smsforge_verification_sends", description: "Codes sent, by country and channel" },
  blocks: { name: "smsforge_verification_blocks", description: "Sends refused by a fraud guard, by reason" }
} as const

/** @internal */
export interface Counts {
  starts: number
  sends: number
  approvals: number
  expiries: number
  blocks: number
}

/** Counts with their conversion (approvals / starts, 0 before the first start). @internal */
export interface CountsWithConversion extends Readonly<Counts> {
  readonly conversion: number
}

/** @internal */
export interface Telemetry {
  /** Counts an event in the counts and in its metric, on the fiber's context. */
  readonly tally: (
    fiber: Fiber.Fiber<unknown, unknown>,
    field: keyof Counts,
    country: string,
    label?: "channel" | "reason",
    value?: string
  ) => void
  /** Publishes that a verification changed state; builds no event when nobody listens. */
  readonly changed: (
    verification: { readonly id: string; readonly channel: string; readonly country: string },
    status: string,
    at: number
  ) => Effect.Effect<void>
  /** Counts a send a fraud guard refused and publishes it as a `Blocked` event. */
  readonly blocked: (
    reason: "country" | "number-type" | "velocity",
    subject: string | undefined,
    country: string
  ) => Effect.Effect<void>
  /** The counts so far, overall and per country. */
  readonly counts: () => CountsWithConversion & { readonly countries: Record<string, CountsWithConversion> }
}

const noCounts = (): Counts => ({ starts: 0, sends: 0, approvals: 0, expiries: 0, blocks: 0 })

const withConversion = (c: Counts): CountsWithConversion => ({
  starts: c.starts,
  sends: c.sends,
  approvals: c.approvals,
  expiries: c.expiries,
  blocks: c.blocks,
  conversion: c.starts === 0 ? 0 : c.approvals / c.starts
})

/**
 * Counts, metrics and events for one service, published on `events` when
 * the host provides them.
 *
 * @internal
 */
export const makeTelemetry = (events: Option.Option<Events.Events["Service"]>): Telemetry => {
  const totals = noCounts()
  const perCountry = new Map<string, Counts>()
  // Counters with their attributes, made once per (event, country, label).
  const metricCache = new Map<string, Metric.Counter<number>>()

  const tally: Telemetry["tally"] = (fiber, field, country, label, value) => {
    totals[field] += 1
    let c = perCountry.get(country)
    if (c === undefined) {
      c = noCounts()
      perCountry.set(country, c)
    }
    c[field] += 1
    const key = label === undefined ? `${field}|${country}` : `${field}|${country}|${value}`
    let m = metricCache.get(key)
    if (m === undefined) {
      m = Metric.counter(metrics[field].name, {
        description: metrics[field].description,
        attributes: label === undefined ? { country } : { country, [label]: value ?? "" }
      })
      metricCache.set(key, m)
    }
    m.updateUnsafe(1, fiber.context)
  }

  // The built-in event bus says whether anyone listens: no event is built for nobody.
  const bus = events._tag === "Some" ? Events.cores.of(events.value) : undefined
  const quiet = (): boolean => events._tag === "None" || (bus !== undefined && !bus.listening())

  const publish = (event: Events.SmsEvent): Effect.Effect<void> =>
    events._tag === "Some" ? events.value.publish(event) : Effect.void

  return {
    tally,
    changed: (verification, status, at) =>
      quiet() ? Effect.void : publish({
        _tag: "VerificationChanged",
        verificationId: verification.id,
        status,
        channel: verification.channel,
        country: verification.country,
        at
      }),
    blocked: (reason, subject, country) =>
      Effect.withFiber((fiber) => {
        const at = nowOf(fiber)
        tally(fiber, "blocks", country, "reason", reason)
        return publish({ _tag: "Blocked", scope: "verification", reason, subject, at })
      }),
    counts: () => {
      const countries: Record<string, CountsWithConversion> = {}
      for (const [country, c] of perCountry) countries[country] = withConversion(c)
      return { ...withConversion(totals), countries }
    }
  }
}
