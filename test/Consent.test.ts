import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, PubSub } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Audit from "../src/Audit.ts"
import * as Consent from "../src/Consent.ts"
import * as Events from "../src/Events.ts"
import * as Inbound from "../src/Inbound.ts"
import * as PhoneNumbers from "../src/PhoneNumbers.ts"
import * as time from "../src/internal/consent/time.ts"

const US = "+12025550123"
const GB = "+447400123456"
const CN = "+8613800138000"

const reasonOf = <A, R>(effect: Effect.Effect<A, Consent.ConsentError, R>) =>
  Effect.map(Effect.flip(effect), (e) => e.reason)

const withConsent = (options: Consent.ConsentOptions = {}) => Effect.provide(Consent.layerMemory(options))

describe("Consent", () => {
  it.effect("refuses marketing without consent and allows it after a grant", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      const before = yield* reasonOf(consent.check({ to: US, country: "US", purpose: "marketing" }))
      assert.strictEqual(before._tag, "ConsentRequired")
      assert.strictEqual((before as Consent.ConsentRequired).field, "to")
      yield* consent.grant({ to: US, purpose: "marketing", source: "web-form", text: "Deals by SMS", origin: { ip: "192.0.2.1" } })
      const decision = yield* consent.check({ to: US, country: "US", purpose: "marketing" })
      assert.strictEqual(decision._tag, "Allow")
      const record = Option.getOrThrow(yield* consent.get(US))
      assert.strictEqual(record.purposes["marketing"]?.evidence.text, "Deals by SMS")
      assert.strictEqual(record.purposes["marketing"]?.evidence.origin?.ip, "192.0.2.1")
    }).pipe(withConsent()))

  it.effect("an opt-out of marketing leaves transactional; an opt-out of all blocks both", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      yield* consent.grant({ to: US, purpose: "marketing" })
      yield* consent.revoke({ to: US, purpose: "marketing", source: "keyword", keyword: "STOP" })
      const m = yield* reasonOf(consent.check({ to: US, country: "US", purpose: "marketing" }))
      assert.deepStrictEqual([m._tag, (m as Consent.OptedOut).purpose], ["OptedOut", "marketing"])
      assert.strictEqual((yield* consent.check({ to: US, country: "US", purpose: "transactional" }))._tag, "Allow")
      yield* consent.revoke({ to: US, purpose: "all" })
      const t = yield* reasonOf(consent.check({ to: US, country: "US", purpose: "transactional" }))
      assert.deepStrictEqual([t._tag, (t as Consent.OptedOut).purpose], ["OptedOut", "all"])
      // A later grant of `all` lifts the general opt-out; marketing stays revoked until granted again.
      yield* consent.grant({ to: US, purpose: "all" })
      assert.strictEqual((yield* consent.check({ to: US, country: "US", purpose: "transactional" }))._tag, "Allow")
      assert.strictEqual((yield* reasonOf(consent.check({ to: US, country: "US", purpose: "marketing" })))._tag, "OptedOut")
      yield* consent.grant({ to: US, purpose: "marketing" })
      assert.strictEqual((yield* consent.check({ to: US, country: "US", purpose: "marketing" }))._tag, "Allow")
    }).pipe(withConsent()))

  it.effect("tenants and topics are separate", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      yield* consent.grant({ to: US, purpose: "marketing", tenant: "a" })
      assert.strictEqual((yield* consent.check({ to: US, purpose: "marketing", tenant: "a" }))._tag, "Allow")
      assert.strictEqual((yield* reasonOf(consent.check({ to: US, purpose: "marketing", tenant: "b" })))._tag, "ConsentRequired")
      yield* consent.revoke({ to: US, purpose: "marketing", topic: "newsletter", tenant: "a" })
      const r = yield* reasonOf(consent.check({ to: US, purpose: "marketing", topic: "newsletter", tenant: "a" }))
      assert.deepStrictEqual([r._tag, (r as Consent.OptedOut).purpose], ["OptedOut", "topic:newsletter"])
      assert.strictEqual((yield* consent.check({ to: US, purpose: "marketing", topic: "offers", tenant: "a" }))._tag, "Allow")
    }).pipe(withConsent()))

  it.effect("double opt-in: pending until confirmed, expires after the TTL", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      const request = yield* consent.requestConfirmation({ to: US, purpose: "marketing", origin: { requestId: "r1" } })
      assert.include(request.text, "YES")
      assert.strictEqual(request.messagePurpose, "transactional")
      assert.isTrue(yield* consent.hasPending(US))
      assert.strictEqual((yield* reasonOf(consent.check({ to: US, purpose: "marketing" })))._tag, "ConsentRequired")
      assert.deepStrictEqual(yield* consent.confirm({ to: US, keyword: "YES" }), ["marketing"])
      assert.strictEqual((yield* consent.check({ to: US, purpose: "marketing" }))._tag, "Allow")
      const record = Option.getOrThrow(yield* consent.get(US))
      assert.strictEqual(record.purposes["marketing"]?.evidence.source, "double-opt-in")
      assert.strictEqual(record.purposes["marketing"]?.evidence.text, request.text)

      yield* consent.requestConfirmation({ to: GB, purpose: "marketing" })
      yield* TestClock.adjust("49 hours")
      assert.isFalse(yield* consent.hasPending(GB))
      assert.deepStrictEqual(yield* consent.confirm({ to: GB }), [])
      assert.strictEqual((yield* reasonOf(consent.check({ to: GB, purpose: "marketing" })))._tag, "ConsentRequired")
    }).pipe(withConsent({ confirmationTtlMillis: 48 * 3_600_000 })))

  it.effect("frequency caps per rolling day and week, with retryAfter", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      yield* consent.grant({ to: US, purpose: "marketing" })
      yield* consent.record(US, "marketing")
      yield* TestClock.adjust("1 hour")
      yield* consent.record(US, "marketing")
      const r = (yield* reasonOf(consent.check({ to: US, purpose: "marketing" }))) as Consent.FrequencyCapExceeded
      assert.strictEqual(r._tag, "FrequencyCapExceeded")
      assert.strictEqual(r.window, "day")
      assert.strictEqual(r.isRetryable, true)
      // The first send leaves the 24-hour window 23 hours from now.
      assert.strictEqual(Duration.toMillis(r.retryAfter), 23 * 3_600_000)
      yield* TestClock.adjust("23 hours")
      assert.strictEqual((yield* consent.check({ to: US, purpose: "marketing" }))._tag, "Allow")
      yield* consent.record(US, "marketing")
      yield* TestClock.adjust("1 day")
      const w = (yield* reasonOf(consent.check({ to: US, purpose: "marketing" }))) as Consent.FrequencyCapExceeded
      assert.strictEqual(w.window, "week")
      // Transactional messages are not capped here.
      assert.strictEqual((yield* consent.check({ to: US, purpose: "transactional" }))._tag, "Allow")
    }).pipe(withConsent({ frequencyCaps: { marketing: { perDay: 2, perWeek: 3 } } })))

  it.effect("rejects an unknown time zone", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      const r = yield* reasonOf(consent.setTimeZone(US, "Mars/Olympus_Mons"))
      assert.deepStrictEqual([r._tag, (r as Consent.InvalidTimeZone).field], ["InvalidTimeZone", "timeZone"])
      yield* consent.setTimeZone(US, "America/Los_Angeles")
      assert.strictEqual(Option.getOrThrow(yield* consent.get(US)).timeZone, "America/Los_Angeles")
    }).pipe(withConsent()))

  it.effect("publishes every change on Events when present", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      const events = yield* Events.Events
      const subscription = yield* events.subscribe
      yield* consent.grant({ to: US, purpose: "marketing" })
      yield* consent.requestConfirmation({ to: US, topic: "news" })
      const received = yield* PubSub.takeAll(subscription)
      assert.deepStrictEqual(
        received.map((e) => [e._tag, (e as unknown as Consent.ConsentChanged).status, "to" in e]),
        [["ConsentChanged", "granted", false], ["ConsentChanged", "pending", false]]
      )
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Consent.layerMemory(), Events.layer()))))

  it.effect("appends every change to the audit log, without the number", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      const audit = yield* Audit.Audit
      yield* consent.grant({ to: US, purpose: "marketing", text: "Deals" })
      yield* consent.revoke({ to: US, purpose: "marketing", keyword: "STOP", source: "keyword" })
      const entries = yield* audit.entries()
      assert.deepStrictEqual(entries.map((e) => [e.kind, e.data["purpose"], e.data["status"]]), [
        ["consent", "marketing", "granted"],
        ["consent", "marketing", "revoked"]
      ])
      assert.notInclude(yield* audit.exportJsonl, "2025550123")
      assert.isTrue((yield* audit.verify).valid)
    }).pipe(Effect.provide(Layer.merge(Consent.layerMemory(), Audit.layerMemory()))))
})

describe("Consent quiet hours", () => {
  const quiet: Consent.QuietHoursOptions = { start: "21:00", end: "08:00" }
  const granted = (to: string) => Consent.Consent.use((c) => c.grant({ to, purpose: "marketing" }))
  const check = (to: string, country: string) =>
    Consent.Consent.use((c) => c.check({ to, country, purpose: "marketing" }))

  it.effect("US/Eastern, the March transition day: deferred to 08:00 EDT", () =>
    Effect.gen(function*() {
      yield* granted(US)
      // 2026-03-08 01:30 EST, half an hour before clocks go forward.
      yield* TestClock.setTime(Date.UTC(2026, 2, 8, 6, 30))
      const d = yield* check(US, "US")
      assert.deepStrictEqual(d, { _tag: "Defer", until: Date.UTC(2026, 2, 8, 12, 0), timeZone: "America/New_York" })
      yield* TestClock.setTime(Date.UTC(2026, 2, 8, 11, 59))
      assert.strictEqual((yield* check(US, "US"))._tag, "Defer")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* check(US, "US"))._tag, "Allow")
      // 20:59 EDT is allowed, 21:00 EDT is not.
      yield* TestClock.setTime(Date.UTC(2026, 2, 9, 0, 59))
      assert.strictEqual((yield* check(US, "US"))._tag, "Allow")
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* check(US, "US"), { _tag: "Defer", until: Date.UTC(2026, 2, 9, 12, 0), timeZone: "America/New_York" })
    }).pipe(withConsent({ quietHours: quiet })))

  it.effect("US/Eastern, the November transition day: deferred to 08:00 EST", () =>
    Effect.gen(function*() {
      yield* granted(US)
      // 2026-11-01 01:30 EDT, the first of the two 01:30s.
      yield* TestClock.setTime(Date.UTC(2026, 10, 1, 5, 30))
      assert.deepStrictEqual(yield* check(US, "US"), { _tag: "Defer", until: Date.UTC(2026, 10, 1, 13, 0), timeZone: "America/New_York" })
      // The second 01:30 (EST) an hour later ends at the same instant.
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* check(US, "US"), { _tag: "Defer", until: Date.UTC(2026, 10, 1, 13, 0), timeZone: "America/New_York" })
      // 12:59Z is 07:59 EST, still quiet; 13:00Z allowed.
      yield* TestClock.setTime(Date.UTC(2026, 10, 1, 12, 59))
      assert.strictEqual((yield* check(US, "US"))._tag, "Defer")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* check(US, "US"))._tag, "Allow")
    }).pipe(withConsent({ quietHours: quiet })))

  it.effect("Europe/London across BST start and end", () =>
    Effect.gen(function*() {
      yield* granted(GB)
      // 2026-03-29 00:30 GMT: the clocks go forward at 01:00 GMT; 08:00 BST is 07:00Z.
      yield* TestClock.setTime(Date.UTC(2026, 2, 29, 0, 30))
      assert.deepStrictEqual(yield* check(GB, "GB"), { _tag: "Defer", until: Date.UTC(2026, 2, 29, 7, 0), timeZone: "Europe/London" })
      // 2026-10-25 00:30Z is 01:30 BST; clocks go back at 01:00Z; 08:00 GMT is 08:00Z.
      yield* TestClock.setTime(Date.UTC(2026, 9, 25, 0, 30))
      assert.deepStrictEqual(yield* check(GB, "GB"), { _tag: "Defer", until: Date.UTC(2026, 9, 25, 8, 0), timeZone: "Europe/London" })
      // Summer evening: 20:30 BST allowed, 21:00 BST quiet.
      yield* TestClock.setTime(Date.UTC(2026, 6, 1, 19, 30))
      assert.strictEqual((yield* check(GB, "GB"))._tag, "Allow")
      yield* TestClock.adjust("30 minutes")
      assert.strictEqual((yield* check(GB, "GB"))._tag, "Defer")
    }).pipe(withConsent({ quietHours: quiet })))

  it.effect("one instant, three countries: only the one in its night waits", () =>
    Effect.gen(function*() {
      yield* granted(US)
      yield* granted(GB)
      yield* granted(CN)
      // 2026-06-01 13:00Z: 09:00 New York, 14:00 London, 21:00 Shanghai.
      yield* TestClock.setTime(Date.UTC(2026, 5, 1, 13, 0))
      assert.strictEqual((yield* check(US, "US"))._tag, "Allow")
      assert.strictEqual((yield* check(GB, "GB"))._tag, "Allow")
      assert.deepStrictEqual(yield* check(CN, "CN"), { _tag: "Defer", until: Date.UTC(2026, 6 - 1, 2, 0, 0), timeZone: "Asia/Shanghai" })
    }).pipe(withConsent({ quietHours: quiet })))

  it.effect("refuse mode and a per-recipient zone", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      yield* granted(US)
      // 2026-01-15 13:30Z: 08:30 New York, 05:30 Los Angeles.
      yield* TestClock.setTime(Date.UTC(2026, 0, 15, 13, 30))
      assert.strictEqual((yield* check(US, "US"))._tag, "Allow")
      yield* consent.setTimeZone(US, "America/Los_Angeles")
      const r = (yield* reasonOf(check(US, "US"))) as Consent.QuietHours
      assert.deepStrictEqual([r._tag, r.until, r.isRetryable], ["QuietHours", Date.UTC(2026, 0, 15, 16, 0), true])
      // Transactional messages ignore quiet hours.
      assert.strictEqual((yield* consent.check({ to: US, country: "US", purpose: "transactional" }))._tag, "Allow")
    }).pipe(withConsent({ quietHours: { ...quiet, mode: "refuse" } })))

  it.effect("strictest: every zone of the country must be awake", () =>
    Effect.gen(function*() {
      yield* granted(US)
      yield* TestClock.setTime(Date.UTC(2026, 0, 15, 13, 30))
      // Quiet until 08:00 in Honolulu (UTC-10): 18:00Z.
      assert.deepStrictEqual(yield* check(US, "US"), { _tag: "Defer", until: Date.UTC(2026, 0, 15, 18, 0), timeZone: "America/New_York" })
    }).pipe(withConsent({ quietHours: { ...quiet, multiZone: "strictest" } })))

  it.effect("windows by country, zone overrides by country, and the default zone", () =>
    Effect.gen(function*() {
      yield* granted(US)
      yield* granted(GB)
      yield* granted("+33612345678")
      // 2026-01-15 19:30Z: 20:30 Paris (quiet from 20:00 in FR), 13:30 Chicago, 19:30 London.
      yield* TestClock.setTime(Date.UTC(2026, 0, 15, 19, 30))
      assert.deepStrictEqual(yield* check("+33612345678", "FR"), {
        _tag: "Defer",
        until: Date.UTC(2026, 0, 16, 9, 0),
        timeZone: "Europe/Paris"
      })
      assert.deepStrictEqual(yield* check(US, "US"), { _tag: "Allow", timeZone: "America/Chicago" })
      // A country with several zones and no representative (Antarctica) uses the default zone.
      assert.deepStrictEqual(yield* check(GB, "AQ"), { _tag: "Allow", timeZone: "Europe/London" })
    }).pipe(withConsent({
      quietHours: { ...quiet, byCountry: { FR: { start: "20:00", end: "10:00" } } },
      timeZones: { US: "America/Chicago" },
      defaultTimeZone: "Europe/London"
    })))

  it.effect("quiet days: no French marketing on Sundays, deferred to Monday 08:00", () =>
    Effect.gen(function*() {
      const FR = "+33612345678"
      yield* granted(FR)
      // Saturday 2026-03-28 22:00 Paris (21:00Z, CET): the night runs into Sunday, then Monday 08:00 CEST (06:00Z).
      yield* TestClock.setTime(Date.UTC(2026, 2, 28, 21, 0))
      assert.deepStrictEqual(yield* check(FR, "FR"), { _tag: "Defer", until: Date.UTC(2026, 2, 30, 6, 0), timeZone: "Europe/Paris" })
      // Sunday noon too.
      yield* TestClock.setTime(Date.UTC(2026, 2, 29, 10, 0))
      assert.deepStrictEqual(yield* check(FR, "FR"), { _tag: "Defer", until: Date.UTC(2026, 2, 30, 6, 0), timeZone: "Europe/Paris" })
      // Monday 10:00 goes.
      yield* TestClock.setTime(Date.UTC(2026, 2, 30, 8, 0))
      assert.strictEqual((yield* check(FR, "FR"))._tag, "Allow")
    }).pipe(withConsent({ quietHours: { ...quiet, byCountry: { FR: { start: "20:00", end: "08:00", days: [0] } } } })))

  it.effect("a malformed window keeps quiet hours on (21:00 to 08:00)", () =>
    Effect.gen(function*() {
      yield* granted(GB)
      yield* TestClock.setTime(Date.UTC(2026, 0, 15, 22, 0))
      assert.strictEqual((yield* check(GB, "GB"))._tag, "Defer")
    }).pipe(withConsent({ quietHours: { start: "9pm" as Consent.HourMinute, end: "08:00" } })))

  it("every representative zone is known to the platform", () => {
    for (const zone of Object.values(time.representativeZones)) assert.isTrue(time.isValidTimeZone(zone), zone)
  })
})

describe("Consent properties", () => {
  const wallEq = (t: number, zone: string, target: { year: number; month: number; day: number; hour: number; minute: number }) => {
    const w = time.wallClock(t, zone)
    return w.year === target.year && w.month === target.month && w.day === target.day && w.hour === target.hour &&
      w.minute === target.minute
  }

  it("a deferral always lands outside quiet hours: at the window's end, after a quiet day, or after a DST gap", () => {
    const zones = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Shanghai", "America/Santiago", "Asia/Kolkata"]
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2028, 0, 1) }),
        fc.constantFrom(...zones),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 23 }),
        (at, zone, startHour, endHour) => {
          fc.pre(startHour !== endHour)
          const window = { start: startHour * 60, end: endHour * 60, ...(startHour % 3 === 0 ? { days: new Set([startHour % 7]) } : {}) }
          const until = time.quietUntil(at, zone, window)
          if (until === undefined) return true
          if (until <= at) return false
          // Not quiet at `until`, and quiet a minute before (unless a DST gap swallowed the end time).
          if (time.quietUntil(until, zone, window) !== undefined) return false
          const before = time.wallClock(until - 60_000, zone)
          const w = time.wallClock(until, zone)
          // With quiet days, a deferral may also end at the local midnight after a quiet day.
          return w.minute === 0 &&
            (w.hour === endHour || ("days" in window && w.hour === 0) || before.hour !== (w.hour + 23) % 24)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("the cached wall clock agrees with Intl in the zones countries use", () => {
    const zones = [...new Set([...Object.values(time.representativeZones), ...Intl.supportedValuesOf("timeZone"), "Australia/Lord_Howe"])]
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2035, 0, 1) }), fc.constantFrom(...zones), (at, zone) => {
        const parts = new Intl.DateTimeFormat("en-US", {
          timeZone: zone,
          hourCycle: "h23",
          year: "numeric",
          month: "numeric",
          day: "numeric",
          hour: "numeric",
          minute: "numeric"
        }).formatToParts(new Date(at))
        const get = (type: string) => Number(parts.find((p) => p.type === type)?.value)
        const w = time.wallClock(at, zone)
        return w.year === get("year") && w.month === get("month") && w.day === get("day") && w.hour === get("hour") % 24 &&
          w.minute === get("minute")
      }),
      { numRuns: 2000 }
    )
  })

  it("zonedTimeToEpoch inverts wallClock for existing local times", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.constantFrom("America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney", "Pacific/Auckland", "Australia/Lord_Howe", "Asia/Kathmandu"),
        (at, zone) => {
          const w = time.wallClock(Math.floor(at / 60_000) * 60_000, zone)
          const t = time.zonedTimeToEpoch(w, zone)
          return wallEq(t, zone, w) && t <= Math.floor(at / 60_000) * 60_000
        }
      ),
      { numRuns: 500 }
    )
  })

  type Op =
    | { readonly _tag: "grant" | "revoke"; readonly scope: Consent.Scope }
    | { readonly _tag: "inbound"; readonly text: string }
    | { readonly _tag: "request" }
    | { readonly _tag: "confirm" }

  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ _tag: fc.constantFrom("grant" as const, "revoke" as const), scope: fc.constantFrom<Consent.Scope>("marketing", "all", "transactional") }),
    fc.record({
      _tag: fc.constant("inbound" as const),
      text: fc.constantFrom("STOP", "stop ", "Unsubscribe!", "STOPALL", "START", "yes", "Y", "HELP", "hello", "Arrêt", "quit.")
    }),
    fc.constant({ _tag: "request" as const }),
    fc.constant({ _tag: "confirm" as const })
  )

  it("no marketing ever passes the check for a recipient who opted out last", async () => {
    type State = { readonly status: "granted" | "revoked"; readonly seq: number } | undefined
    interface Model {
      marketing: State
      all: State
      pending: boolean
      /** The last marketing-relevant choice: an opt-out must block. */
      last: "in" | "out" | "none"
    }
    let seq = 0
    const set = (status: "granted" | "revoked"): State => ({ status, seq: ++seq })
    const expectAllowed = (m: Model): boolean => {
      if (m.all?.status === "revoked" && m.all.seq > (m.marketing?.seq ?? -1)) return false
      return m.marketing?.status === "granted"
    }
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(US, GB), op), { maxLength: 40 }), (ops) =>
        Effect.runPromise(
          Effect.gen(function*() {
            const consent = yield* Consent.Consent
            const inbound = yield* Inbound.Inbound
            const model = new Map<string, Model>()
            let at = 1_000
            for (const [to, o] of ops) {
              at += 1_000
              const m = model.get(to) ?? { marketing: undefined, all: undefined, pending: false, last: "none" }
              const confirmPending = () => {
                if (m.pending) {
                  m.marketing = set("granted")
                  m.last = "in"
                }
                m.pending = false
              }
              switch (o._tag) {
                case "grant":
                case "revoke": {
                  yield* (o._tag === "grant" ? consent.grant : consent.revoke)({ to, purpose: o.scope, at })
                  const status = o._tag === "grant" ? "granted" : "revoked"
                  if (o.scope === "marketing") m.marketing = set(status)
                  if (o.scope === "all") m.all = set(status)
                  if (o.scope !== "transactional") {
                    // A grant of `all` only lifts an opt-out: a pending marketing confirmation stays.
                    if (!(o._tag === "grant" && o.scope === "all")) m.pending = false
                    m.last = o._tag === "grant" ? "in" : "out"
                  }
                  break
                }
                case "request": {
                  yield* consent.requestConfirmation({ to, at })
                  m.pending = true
                  break
                }
                case "confirm": {
                  yield* consent.confirm({ to, at })
                  confirmPending()
                  break
                }
                case "inbound": {
                  const result = yield* inbound.handle({ from: to, to: "+12025550100", text: o.text, receivedAt: at })
                  const k = Inbound.matchKeyword(o.text)?.action
                  if (k === "opt-out" || k === "opt-out-all") {
                    if (k === "opt-out") m.marketing = set("revoked")
                    else m.all = set("revoked")
                    m.pending = false
                    m.last = "out"
                    if (result.action !== "opt-out") return false
                  } else if (k === "opt-in") {
                    if (m.pending) confirmPending()
                    else {
                      if (m.all?.status === "revoked") m.all = set("granted")
                      if (m.marketing?.status === "revoked") m.marketing = set("granted")
                      if (result.action === "opt-in") m.last = "in"
                    }
                  } else if (k === "positive") {
                    confirmPending()
                  }
                  break
                }
              }
              model.set(to, m)
              for (const [who, s] of model) {
                const exit = yield* Effect.exit(consent.check({ to: who, purpose: "marketing", at }))
                if (s.last === "out" && exit._tag === "Success") return false
                if (expectAllowed(s) !== (exit._tag === "Success")) return false
              }
            }
            return true
          }).pipe(
            Effect.provide(
              Inbound.layer().pipe(Layer.provideMerge(Layer.merge(Consent.layerMemory(), PhoneNumbers.layerDefault)))
            )
          )
        )),
      { numRuns: 200 }
    )
  })
})

describe("Consent on a store that does not answer", () => {
  const unavailable = (operation: string) => Effect.fail(new Consent.StoreUnavailable({ store: "consent", operation }))
  const Down = Layer.succeed(Consent.ConsentStore, Consent.ConsentStore.of({
    get: () => unavailable("get"),
    put: () => unavailable("put"),
    recordSend: () => unavailable("recordSend"),
    sends: () => unavailable("sends"),
    remove: () => unavailable("remove")
  }))

  it.effect("check fails with ConsentError { StoreUnavailable }, retryable, never a defect", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      const error = yield* Effect.flip(consent.check({ to: US, country: "US", purpose: "marketing" }))
      assert.strictEqual(error.reason._tag, "StoreUnavailable")
      assert.isTrue(error.isRetryable)
      const zone = yield* Effect.flip(consent.setTimeZone(US, "America/New_York"))
      assert.strictEqual(zone.reason._tag, "StoreUnavailable")
    }).pipe(Effect.provide(Consent.layer().pipe(Layer.provide(Down)))))

  it.effect("every change and read fails with ConsentError { StoreUnavailable }, typed and retryable, never a defect", () =>
    Effect.gen(function*() {
      const consent = yield* Consent.Consent
      const failures = [
        yield* Effect.flip(consent.revoke({ to: US, purpose: "marketing" })),
        yield* Effect.flip(consent.grant({ to: US, purpose: "marketing", source: "web-form" })),
        yield* Effect.flip(consent.get(US)),
        yield* Effect.flip(consent.record(US, "marketing")),
        yield* Effect.flip(consent.confirm({ to: US })),
        yield* Effect.flip(consent.hasPending(US)),
        yield* Effect.flip(consent.requestConfirmation({ to: US, purpose: "marketing" }))
      ]
      for (const error of failures) {
        assert.strictEqual(error.reason._tag, "StoreUnavailable")
        assert.isTrue(error.isRetryable)
      }
    }).pipe(Effect.provide(Consent.layer().pipe(Layer.provide(Down)))))

  it.effect("a STOP that cannot be written is an InboundError { StoreUnavailable } the carrier's webhook can retry", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const error = yield* Effect.flip(inbound.handle({ from: US, to: "+447400000001", text: "STOP" }))
      assert.strictEqual(error.reason._tag, "StoreUnavailable")
      assert.isTrue(error.isRetryable)
    }).pipe(Effect.provide(Inbound.layer().pipe(Layer.provideMerge(Consent.layer().pipe(Layer.provide(Down))), Layer.provide(PhoneNumbers.layer())))))
})
