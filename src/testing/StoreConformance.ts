/**
 * A conformance suite for store backends: the memory stores, the Redis and
 * PostgreSQL ones, and any store an application writes.
 *
 * **Details**
 * - One list of named effects per store kind ({@link idempotency},
 *   {@link messages}, {@link verifications}, {@link consent}, {@link audit}), each needing
 *   only its store service, so the suite runs under any test runner:
 *
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Idempotency } from "smsforge"
 * import { StoreConformance } from "smsforge/testing"
 *
 * for (const c of StoreConformance.idempotency) {
 *   it.effect(c.name, () => Effect.scoped(c.run).pipe(Effect.provide(Idempotency.layerMemory())))
 * }
 * ```
 *
 * - Every case uses fresh random keys, so the cases may share one store (a
 *   shared Redis or database) and run in any order. They never need a
 *   particular clock: expiry is checked with deadlines already in the past.
 * - Races run many fibers at once: with a shared backend they exercise the
 *   backend's atomicity, not only the process's.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import { randomUUID } from "node:crypto"
import { Audit, Consent, Idempotency, MessageStore, Outbox, type Transport, Verification } from "smsforge"
import { prng } from "../internal/seededHash.ts"

/**
 * A store broke a rule of its contract.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConformanceFailure extends Schema.TaggedError<ConformanceFailure>(
  "smsforge/testing/StoreConformance/ConformanceFailure"
)("ConformanceFailure", { rule: Schema.String, detail: Schema.String }) {
  override get message(): string {
    return `${this.rule}: ${this.detail}`
  }
}

/**
 * One named case, needing the store `R`.
 *
 * @category models
 * @since 0.1.0
 */
export interface StoreCase<R> {
  readonly name: string
  readonly run: Effect.Effect<void, unknown, R | Scope.Scope>
}

const check = (ok: boolean, rule: string, detail: string) =>
  ok ? Effect.void : Effect.fail(new ConformanceFailure({ rule, detail }))

const unique = (label: string) => `${label}-${randomUUID()}`

/** A number of its own for a case, so cases that share a store never see each other's data. */
const uniqueNumber = () => `+4477${String(Number.parseInt(randomUUID().replaceAll("-", "").slice(0, 12), 16) % 1e8).padStart(8, "0")}`

/** Compares as JSON, so that `undefined` fields and key order do not matter. */
const same = (a: unknown, b: unknown) => JSON.stringify(normalize(a)) === JSON.stringify(normalize(b))
const normalize = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(normalize)
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, normalize(v)])
    )
  }
  return value
}

// idempotency

/**
 * Cases for `Idempotency.IdempotencyStore`.
 *
 * @category cases
 * @since 0.1.0
 */
export const idempotency: ReadonlyArray<StoreCase<Idempotency.IdempotencyStore>> = [
  {
    name: "idempotency: the first reserve wins, later ones get its reservation",
    run: Effect.gen(function*() {
      const store = yield* Idempotency.IdempotencyStore
      const key = unique("key")
      const first = yield* store.reserve(key, { messageId: "m1", fingerprint: "f1" }, Duration.hours(1))
      yield* check(Option.isNone(first), "reserve", "a fresh key must be reserved (None)")
      const second = yield* store.reserve(key, { messageId: "m2", fingerprint: "f2" }, Duration.hours(1))
      yield* check(
        Option.isSome(second) && second.value.messageId === "m1" && second.value.fingerprint === "f1",
        "reserve",
        "a held key must answer the first reservation"
      )
      const other = yield* store.reserve(unique("key"), { messageId: "m3", fingerprint: "f3" }, Duration.hours(1))
      yield* check(Option.isNone(other), "reserve", "keys are independent")
    })
  },
  {
    name: "idempotency: release frees a key only for its holder",
    run: Effect.gen(function*() {
      const store = yield* Idempotency.IdempotencyStore
      const key = unique("key")
      yield* store.reserve(key, { messageId: "m1", fingerprint: "f" }, Duration.hours(1))
      yield* store.release(key, "someone-else")
      const held = yield* store.reserve(key, { messageId: "m2", fingerprint: "f" }, Duration.hours(1))
      yield* check(Option.isSome(held), "release", "release by another message must not free the key")
      yield* store.release(key, "m1")
      const again = yield* store.reserve(key, { messageId: "m2", fingerprint: "f" }, Duration.hours(1))
      yield* check(Option.isNone(again), "release", "release by the holder must free the key")
      yield* store.release(unique("absent"), "m")
    })
  },
  {
    name: "idempotency: an expired reservation can be taken again",
    run: Effect.gen(function*() {
      const store = yield* Idempotency.IdempotencyStore
      const key = unique("key")
      yield* store.reserve(key, { messageId: "m1", fingerprint: "f" }, Duration.zero)
      const again = yield* store.reserve(key, { messageId: "m2", fingerprint: "f" }, Duration.hours(1))
      yield* check(Option.isNone(again), "expiry", "a reservation whose window passed must not hold")
      const third = yield* store.reserve(key, { messageId: "m3", fingerprint: "f" }, Duration.hours(1))
      yield* check(Option.isSome(third) && third.value.messageId === "m2", "expiry", "the new reservation holds")
    })
  },
  {
    name: "idempotency: of 50 concurrent reserves exactly one wins",
    run: Effect.gen(function*() {
      const store = yield* Idempotency.IdempotencyStore
      const key = unique("race")
      const answers = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => store.reserve(key, { messageId: `m${i}`, fingerprint: "f" }, Duration.hours(1)),
        { concurrency: "unbounded" }
      )
      const winners = answers.flatMap((answer, i) => (Option.isNone(answer) ? [`m${i}`] : []))
      yield* check(winners.length === 1, "race", `${winners.length} reserves won, expected exactly 1`)
      yield* check(
        answers.every((answer) => Option.isNone(answer) || answer.value.messageId === winners[0]),
        "race",
        "every loser must see the winner's reservation"
      )
    })
  }
]

// messages

const message = (id: string, createdAt: number, overrides: Partial<MessageStore.StoredMessage> = {}): MessageStore.StoredMessage => ({
  id,
  to: "+447700900123",
  country: "GB",
  purpose: "transactional",
  text: "Your code is 123456 — ünïcödé ✓",
  encoding: "UCS-2",
  segmentCount: 1,
  status: "accepted",
  history: [{ status: "accepted", at: createdAt }],
  attempts: 0,
  decisions: [],
  createdAt,
  ...overrides
})

const failureTag = <A, E>(exit: Exit.Exit<A, E>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error) && typeof error.value === "object" && error.value !== null && "_tag" in error.value
    ? String(error.value._tag)
    : "defect"
}

// 25 sequences of up to 8 status changes, the same every run, drawn from a
// fixed-seed generator so that the suite loads without fast-check (an optional peer).
const changeSequences = (
  statuses: ReadonlyArray<MessageStore.MessageStatus>
): Array<Array<{ readonly status: MessageStore.MessageStatus; readonly attempts: number }>> => {
  const random = prng(20240611)
  const below = (n: number) => Math.floor(random() * n)
  return Array.from({ length: 25 }, () =>
    Array.from({ length: below(9) }, () => ({ status: statuses[below(statuses.length)]!, attempts: below(6) }))
  )
}

/** Cases on what a store holds about one number (personal-data requests). */
const messagesByRecipient: ReadonlyArray<StoreCase<MessageStore.MessageStore>> = [
  {
    name: "messages: findByRecipient answers every message to a number in its tenant, any status, oldest first",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const [to, other, tenant] = [uniqueNumber(), uniqueNumber(), unique("tenant")]
      const first = message(unique("msg"), now - 2, { to, tenant })
      const second = message(unique("msg"), now - 1, { to, tenant })
      yield* store.insert(second)
      yield* store.insert(first)
      yield* store.insert(message(unique("msg"), now, { to: other, tenant }))
      yield* store.insert(message(unique("msg"), now, { to, tenant: unique("tenant") }))
      const untenanted = message(unique("msg"), now, { to })
      yield* store.insert(untenanted)
      yield* store.transition(second.id, { status: "queued", at: now })
      const found = yield* store.findByRecipient(to, tenant)
      yield* check(
        same(found.map((m) => [m.id, m.status]), [[first.id, "accepted"], [second.id, "queued"]]),
        "findByRecipient",
        `got ${found.length} messages; expected the number's two in its tenant, oldest first, as they are now`
      )
      const none = yield* store.findByRecipient(to)
      yield* check(same(none.map((m) => m.id), [untenanted.id]), "findByRecipient", "no tenant finds the messages sent without one")
      yield* check((yield* store.findByRecipient(uniqueNumber(), tenant)).length === 0, "findByRecipient", "an unknown number finds nothing")
    })
  },
  {
    name: "messages: eraseRecipient deletes the number's messages with their carrier ids, and no one else's",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const [to, other, tenant, elsewhere] = [uniqueNumber(), uniqueNumber(), unique("tenant"), unique("tenant")]
      const sent = message(unique("msg"), now, { to, tenant })
      const pending = message(unique("msg"), now, { to, tenant })
      const theirs = message(unique("msg"), now, { to: other, tenant })
      const sameNumberElsewhere = message(unique("msg"), now, { to, tenant: elsewhere })
      for (const m of [sent, pending, theirs, sameNumberElsewhere]) yield* store.insert(m)
      const providerId = unique("pid")
      yield* store.transition(sent.id, { status: "submitted", at: now + 1 }, {
        transport: "carrier",
        providerMessageId: providerId,
        segmentIds: [`${providerId}-2`]
      })
      const erased = yield* store.eraseRecipient(to, tenant)
      yield* check(erased === 2, "eraseRecipient", `answered ${erased}, expected 2`)
      yield* check((yield* store.findByRecipient(to, tenant)).length === 0, "eraseRecipient", "the number's messages are gone")
      yield* check(Option.isNone(yield* store.get(sent.id)), "eraseRecipient", "an erased message is not found by id")
      yield* check(Option.isNone(yield* store.findByProviderId("carrier", providerId)), "eraseRecipient", "nor by its carrier id")
      yield* check(Option.isNone(yield* store.findByProviderId("carrier", `${providerId}-2`)), "eraseRecipient", "nor by a segment's")
      yield* check(Option.isSome(yield* store.get(theirs.id)), "eraseRecipient", "another number's message stays")
      yield* check(Option.isSome(yield* store.get(sameNumberElsewhere.id)), "eraseRecipient", "the number's messages in another tenant stay")
      yield* check((yield* store.eraseRecipient(to, tenant)) === 0, "eraseRecipient", "erasing again erases nothing")
      const late = yield* Effect.exit(store.transition(pending.id, { status: "queued", at: now + 2 }))
      yield* check(failureTag(late) === "MessageNotFound", "eraseRecipient", "a late change to an erased message finds nothing")
    })
  }
]

/**
 * Cases for `MessageStore.MessageStore`.
 *
 * @category cases
 * @since 0.1.0
 */
export const messages: ReadonlyArray<StoreCase<MessageStore.MessageStore>> = [
  {
    name: "messages: insert then get round-trips every field",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const full = message(unique("msg"), now, {
        tenant: "acme",
        from: "ACME",
        purpose: "marketing",
        template: { id: "otp", version: 2, locale: "en" },
        idempotencyKey: "k-1",
        sendAt: now + 1000,
        validUntil: now + 60_000,
        metadata: { order: "A-1", amount: 3, vip: true },
        decisions: [{ route: "primary", transport: "sandbox", reason: "first", outcome: "submitted", attempts: 1 }]
      })
      yield* store.insert(full)
      const got = yield* store.get(full.id)
      yield* check(Option.isSome(got) && same(got.value, full), "get", "the stored message must come back unchanged")
      const absent = yield* store.get(unique("absent"))
      yield* check(Option.isNone(absent), "get", "an unknown id must be None")
    })
  },
  {
    name: "messages: transition moves forward, records history and applies the patch",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const id = unique("msg")
      yield* store.insert(message(id, now))
      const queued = yield* store.transition(id, { status: "queued", at: now + 1 })
      yield* check(queued.status === "queued" && queued.history.length === 2, "transition", "accepted → queued")
      const submitted = yield* store.transition(id, { status: "submitted", at: now + 2 }, {
        route: "primary",
        transport: "sandbox",
        providerMessageId: unique("p"),
        attempts: 1
      })
      yield* check(
        submitted.status === "submitted" && submitted.route === "primary" && submitted.attempts === 1,
        "transition",
        "the patch must be applied with the status"
      )
      const back = yield* Effect.exit(store.transition(id, { status: "queued", at: now + 3 }))
      yield* check(failureTag(back) === "InvalidTransition", "transition", "a status must never move backwards")
      const same = yield* Effect.exit(store.transition(id, { status: "submitted", at: now + 3 }))
      yield* check(failureTag(same) === "InvalidTransition", "transition", "a repeated status is refused")
      yield* store.transition(id, { status: "failed", at: now + 4, reason: "Rejected" })
      const after = yield* Effect.exit(store.transition(id, { status: "delivered", at: now + 5 }))
      yield* check(failureTag(after) === "InvalidTransition", "transition", "a terminal status is final")
      const stored = yield* store.get(id)
      yield* check(
        Option.isSome(stored) &&
          stored.value.status === "failed" &&
          stored.value.history.map((c) => c.status).join(",") === "accepted,queued,submitted,failed" &&
          stored.value.history[3]?.reason === "Rejected",
        "transition",
        "refused changes must leave no trace"
      )
      const missing = yield* Effect.exit(store.transition(unique("absent"), { status: "queued", at: now }))
      yield* check(failureTag(missing) === "MessageNotFound", "transition", "an unknown id is MessageNotFound")
    })
  },
  {
    name: "messages: 20 racing receipts end in exactly one terminal status",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const id = unique("msg")
      yield* store.insert(message(id, now, { status: "submitted", history: [{ status: "submitted", at: now }] }))
      const exits = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => Effect.exit(store.transition(id, { status: i % 2 === 0 ? "delivered" : "undelivered", at: now + i })),
        { concurrency: "unbounded" }
      )
      const won = exits.filter(Exit.isSuccess)
      yield* check(won.length === 1, "race", `${won.length} transitions applied, expected exactly 1`)
      yield* check(
        exits.every((exit) => Exit.isSuccess(exit) || failureTag(exit) === "InvalidTransition"),
        "race",
        "losers must fail with InvalidTransition"
      )
      const stored = yield* store.get(id)
      const terminals = Option.isSome(stored)
        ? stored.value.history.filter((c) => MessageStore.isTerminal(c.status))
        : []
      yield* check(
        terminals.length === 1 && Option.isSome(stored) && stored.value.status === terminals[0]?.status,
        "race",
        "the history must hold exactly one terminal status, the current one"
      )
    })
  },
  {
    name: "messages: any sequence of changes ends where applyChange says (fixed seed)",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const statuses: ReadonlyArray<MessageStore.MessageStatus> = [
        "accepted", "queued", "submitted", "delivered", "failed", "undelivered", "expired", "rejected", "canceled"
      ]
      const samples = changeSequences(statuses)
      for (const changes of samples) {
        const id = unique("msg")
        const start = message(id, now)
        yield* store.insert(start)
        let expected = start
        for (const [i, change] of changes.entries()) {
          const statusChange = { status: change.status, at: now + i + 1 }
          const next = MessageStore.applyChange(expected, statusChange, { attempts: change.attempts })
          const exit = yield* Effect.exit(store.transition(id, statusChange, { attempts: change.attempts }))
          yield* check(
            Result.isSuccess(next) === Exit.isSuccess(exit),
            "transition",
            `${expected.status} → ${change.status}: the store and applyChange disagree`
          )
          if (Result.isSuccess(next)) expected = next.success
        }
        const stored = yield* store.get(id)
        yield* check(Option.isSome(stored) && same(stored.value, expected), "transition", "the stored message differs from applyChange's")
      }
    })
  },
  {
    name: "messages: annotate sets fields without a status change",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const id = unique("msg")
      yield* store.insert(message(id, now))
      const annotated = yield* store.annotate(id, { segmentStatuses: { "seg-1": "delivered" }, attempts: 2 })
      yield* check(
        annotated.status === "accepted" && annotated.history.length === 1 && annotated.attempts === 2 &&
          annotated.segmentStatuses?.["seg-1"] === "delivered",
        "annotate",
        "annotate must merge the patch and keep status and history"
      )
      const stored = yield* store.get(id)
      yield* check(Option.isSome(stored) && same(stored.value, annotated), "annotate", "the annotation must be stored")
      const missing = yield* Effect.exit(store.annotate(unique("absent"), { attempts: 1 }))
      yield* check(failureTag(missing) === "MessageNotFound", "annotate", "an unknown id is MessageNotFound")
    })
  },
  {
    name: "messages: findByProviderId finds by the carrier's id and by segment ids",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const id = unique("msg")
      const provider = unique("prov")
      const segments = [unique("seg"), unique("seg")]
      yield* store.insert(message(id, now))
      const before = yield* store.findByProviderId("sandbox", provider)
      yield* check(Option.isNone(before), "findByProviderId", "no provider id yet")
      yield* store.transition(id, { status: "submitted", at: now + 1 }, {
        transport: "sandbox",
        providerMessageId: provider,
        segmentIds: segments
      })
      for (const providerId of [provider, ...segments]) {
        const found = yield* store.findByProviderId("sandbox", providerId)
        yield* check(Option.isSome(found) && found.value.id === id, "findByProviderId", "each carrier id finds the message")
      }
      const found = yield* store.findByProviderId("sandbox", provider)
      yield* check(Option.isSome(found) && found.value.status === "submitted", "findByProviderId", "answers the current message")
      const otherTransport = yield* store.findByProviderId("other", provider)
      yield* check(Option.isNone(otherTransport), "findByProviderId", "ids are scoped by transport")
      // Ids added later by annotate are indexed too.
      const late = unique("seg")
      yield* store.annotate(id, { segmentIds: [...segments, late] })
      const foundLate = yield* store.findByProviderId("sandbox", late)
      yield* check(Option.isSome(foundLate) && foundLate.value.id === id, "findByProviderId", "annotate indexes carrier ids")
      // So does an insert of a message that already has them (written again, as after a retried write).
      const written = unique("msg")
      const writtenProvider = unique("prov")
      const writtenSegment = unique("seg")
      yield* store.insert({
        ...message(written, now),
        status: "submitted",
        transport: "sandbox",
        providerMessageId: writtenProvider,
        segmentIds: [writtenProvider, writtenSegment]
      })
      for (const providerId of [writtenProvider, writtenSegment]) {
        const byInsert = yield* store.findByProviderId("sandbox", providerId)
        yield* check(Option.isSome(byInsert) && byInsert.value.id === written, "findByProviderId", "insert indexes carrier ids")
      }
    })
  },
  {
    name: "messages: list answers one status, oldest first, within the limit",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const ids = [unique("c"), unique("a"), unique("b")]
      for (const [i, id] of ids.entries()) {
        yield* store.insert(message(id, now + i, { status: "queued", history: [{ status: "queued", at: now + i }] }))
      }
      const ours = (found: ReadonlyArray<MessageStore.StoredMessage>) =>
        found.filter((m) => ids.includes(m.id)).map((m) => m.id)
      const queued = yield* store.list({ status: "queued" })
      yield* check(same(ours(queued), ids), "list", "messages in one status, oldest first")
      yield* check(queued.every((m) => m.status === "queued"), "list", "only the asked status")
      const limited = yield* store.list({ status: "queued", limit: 2 })
      yield* check(limited.length <= 2, "list", "the limit holds")
      yield* store.transition(ids[0]!, { status: "submitted", at: now + 10 })
      const after = yield* store.list({ status: "queued" })
      yield* check(same(ours(after), ids.slice(1)), "list", "a message leaves its old status's list")
      const submitted = yield* store.list({ status: "submitted" })
      yield* check(ours(submitted).includes(ids[0]!), "list", "and joins its new status's list")
    })
  },
  {
    name: "messages: size counts the messages kept",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const before = yield* store.size
      for (let i = 0; i < 3; i++) yield* store.insert(message(unique("msg"), now))
      const after = yield* store.size
      yield* check(after === before + 3, "size", `expected ${before + 3}, got ${after}`)
    })
  },
  {
    name: "messages: a held receipt is taken once, by its transport and carrier id",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const [a, b, other] = [unique("pid"), unique("pid"), unique("pid")]
      yield* store.holdReport(report("carrier-a", a, "delivered", now), Duration.hours(1))
      yield* store.holdReport(report("carrier-a", b, "undelivered", now), Duration.hours(1))
      yield* store.holdReport(report("carrier-b", other, "delivered", now), Duration.hours(1))
      const none = yield* store.takeReports("carrier-a", [])
      yield* check(none.length === 0, "takeReports", "no ids, no receipts")
      const wrongTransport = yield* store.takeReports("carrier-b", [a])
      yield* check(wrongTransport.length === 0, "takeReports", "a receipt belongs to its transport")
      const taken = yield* store.takeReports("carrier-a", [a, b, unique("absent")])
      yield* check(
        same([...taken].sort((x, y) => (x.providerMessageId < y.providerMessageId ? -1 : 1)), [
          ...[report("carrier-a", a, "delivered", now), report("carrier-a", b, "undelivered", now)].sort((x, y) =>
            x.providerMessageId < y.providerMessageId ? -1 : 1
          )
        ]),
        "takeReports",
        "the held receipts come back whole"
      )
      const again = yield* store.takeReports("carrier-a", [a, b])
      yield* check(again.length === 0, "takeReports", "a taken receipt is gone")
      const kept = yield* store.takeReports("carrier-b", [other])
      yield* check(kept.length === 1, "takeReports", "other transports' receipts stay until taken")
    })
  },
  {
    name: "messages: receipts held before a submission's status change are taken once after it",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const [id, first, second] = [unique("msg"), unique("pid"), unique("pid")]
      yield* store.holdReport(report("carrier", first, "delivered", now), Duration.hours(1))
      yield* store.holdReport(report("carrier", second, "undelivered", now), Duration.zero)
      yield* store.insert(message(id, now, { status: "queued" }))
      yield* store.transition(id, { status: "submitted", at: now }, { transport: "carrier", providerMessageId: first, segmentIds: [first, second] })
      const taken = yield* store.takeReports("carrier", [first, second])
      yield* check(
        same(taken, [report("carrier", first, "delivered", now)]),
        "takeReports",
        "the receipt held for the submission, and not one past its ttl"
      )
      const again = yield* store.takeReports("carrier", [first, second])
      yield* check(again.length === 0, "takeReports", "a taken receipt is gone")
    })
  },
  {
    name: "messages: a held receipt past its ttl is not taken",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const id = unique("pid")
      yield* store.holdReport(report("carrier", id, "delivered", now), Duration.zero)
      const taken = yield* store.takeReports("carrier", [id])
      yield* check(taken.length === 0, "holdReport", "a receipt whose ttl passed must not be applied")
    })
  },
  {
    name: "messages: of 10 instances taking one held receipt, exactly one gets it",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const id = unique("pid")
      yield* store.holdReport(report("carrier", id, "delivered", now), Duration.hours(1))
      const takes = yield* Effect.forEach(Array.from({ length: 10 }), () => store.takeReports("carrier", [id]), {
        concurrency: "unbounded"
      })
      const got = takes.filter((reports) => reports.length > 0).length
      yield* check(got === 1, "takeReports", `${got} takers got the receipt, expected exactly 1`)
    })
  },
  ...messagesByRecipient
]

const report = (
  transport: string,
  providerMessageId: string,
  status: Transport.DeliveryStatus,
  at: number
): Transport.DeliveryReport => ({ _tag: "DeliveryReport", transport, providerMessageId, status, providerStatus: "DELIVRD", at })

/**
 * Cases for a `MessageStore` that judges a held receipt's ttl by the Effect
 * `Clock` (the memory, Redis and PostgreSQL stores do): they move a
 * `TestClock`, so run them where one is provided (`it.effect`).
 *
 * @category cases
 * @since 0.2.0
 */
export const messagesOnTestClock: ReadonlyArray<StoreCase<MessageStore.MessageStore>> = [
  {
    name: "messages: a held receipt is kept for its ttl on the Effect Clock",
    run: Effect.gen(function*() {
      const store = yield* MessageStore.MessageStore
      const now = yield* Clock.currentTimeMillis
      const [early, late] = [unique("pid"), unique("pid")]
      yield* store.holdReport(report("carrier", early, "delivered", now), Duration.minutes(10))
      yield* store.holdReport(report("carrier", late, "delivered", now), Duration.minutes(10))
      yield* TestClock.adjust(Duration.minutes(9))
      const within = yield* store.takeReports("carrier", [early])
      yield* check(within.length === 1, "holdReport", "a receipt is kept until its ttl passes")
      yield* TestClock.adjust(Duration.minutes(2))
      const past = yield* store.takeReports("carrier", [late])
      yield* check(past.length === 0, "holdReport", "a receipt past its ttl is dropped")
    })
  }
]

// verifications

const record = (id: string, now: number): Verification.VerificationRecord => ({
  _tag: "Verification",
  id,
  to: "+447700900123",
  country: "GB",
  range: "+4477009",
  prefix: "+44",
  locale: "en",
  channels: ["sms"],
  channel: "sms",
  status: "pending",
  nonce: "nonce",
  counter: 0,
  codeHash: "hash",
  createdAt: now,
  expiresAt: now + 600_000,
  lastSentAt: now,
  sendAttempts: 1,
  wrongChecks: 0,
  sends: [{ channel: "sms", at: now, counter: 0, fallback: false }]
})

const verificationsByRecipient: ReadonlyArray<StoreCase<Verification.VerificationStore>> = [
  {
    name: "verifications: eraseRecipient deletes every verification of a number, approved ones too, and its pointer",
    run: Effect.gen(function*() {
      const store = yield* Verification.VerificationStore
      const now = yield* Clock.currentTimeMillis
      const [to, other, tenant] = [uniqueNumber(), uniqueNumber(), unique("tenant")]
      const forever = { expectedVersion: undefined, expiresAt: now + 3_600_000 }
      const approved: Verification.VerificationRecord = { ...record(unique("id"), now), to, tenant, status: "approved", approvedAt: now }
      const pending: Verification.VerificationRecord = { ...record(unique("id"), now), to, tenant }
      const theirs: Verification.VerificationRecord = { ...record(unique("id"), now), to: other, tenant }
      const elsewhere: Verification.VerificationRecord = { ...record(unique("id"), now), to, tenant: unique("tenant") }
      for (const r of [approved, pending, theirs, elsewhere]) yield* store.set(`v:${r.id}`, r, forever)
      yield* store.set(Verification.recipientKey(to, tenant), { _tag: "Pointer", id: pending.id }, forever)
      yield* store.set(Verification.recipientKey(other, tenant), { _tag: "Pointer", id: theirs.id }, forever)
      // A rewrite keeps the record findable.
      yield* store.set(`v:${pending.id}`, { ...pending, sendAttempts: 2 }, { expectedVersion: 0, expiresAt: now + 3_600_000 })
      const found = yield* store.findByRecipient(to, tenant)
      yield* check(
        same(found.map((r) => [r.id, r.sendAttempts]).sort(), [[approved.id, 1], [pending.id, 2]].sort()),
        "findByRecipient",
        `found ${found.length}; expected the number's two verifications in its tenant, as last written`
      )
      const erased = yield* store.eraseRecipient(to, tenant)
      yield* check(erased === 2, "eraseRecipient", `answered ${erased}, expected 2`)
      for (const key of [`v:${approved.id}`, `v:${pending.id}`, Verification.recipientKey(to, tenant)]) {
        yield* check(Option.isNone(yield* store.get(key)), "eraseRecipient", "a record or the pointer of the number is left")
      }
      for (const key of [`v:${theirs.id}`, `v:${elsewhere.id}`, Verification.recipientKey(other, tenant)]) {
        yield* check(Option.isSome(yield* store.get(key)), "eraseRecipient", "another number's or tenant's verification went")
      }
      yield* check((yield* store.eraseRecipient(to, tenant)) === 0, "eraseRecipient", "erasing again erases nothing")
      yield* check((yield* store.findByRecipient(to, tenant)).length === 0, "findByRecipient", "nothing is found after erasure")
    })
  },
  {
    name: "verifications: findByRecipient leaves out expired verifications",
    run: Effect.gen(function*() {
      const store = yield* Verification.VerificationStore
      const now = yield* Clock.currentTimeMillis
      const [to, tenant] = [uniqueNumber(), unique("tenant")]
      const expired: Verification.VerificationRecord = { ...record(unique("id"), now), to, tenant }
      const live: Verification.VerificationRecord = { ...record(unique("id"), now), to, tenant }
      yield* store.set(`v:${expired.id}`, expired, { expectedVersion: undefined, expiresAt: now - 1 })
      yield* store.set(`v:${live.id}`, live, { expectedVersion: undefined, expiresAt: now + 60_000 })
      const found = yield* store.findByRecipient(to, tenant)
      yield* check(same(found.map((r) => r.id), [live.id]), "findByRecipient", `found ${found.length}, expected the live one only`)
      yield* store.eraseRecipient(to, tenant)
    })
  }
]

/**
 * Cases for `Verification.VerificationStore`.
 *
 * @category cases
 * @since 0.1.0
 */
export const verifications: ReadonlyArray<StoreCase<Verification.VerificationStore>> = [
  {
    name: "verifications: set creates version 0, get answers it",
    run: Effect.gen(function*() {
      const store = yield* Verification.VerificationStore
      const now = yield* Clock.currentTimeMillis
      const key = unique("v:+447700900123")
      const absent = yield* store.get(key)
      yield* check(Option.isNone(absent), "get", "an unknown key is None")
      const value = record(key, now)
      const wrote = yield* store.set(key, value, { expectedVersion: undefined, expiresAt: now + 60_000 })
      yield* check(wrote, "set", "creating an absent key must succeed")
      const got = yield* store.get(key)
      yield* check(
        Option.isSome(got) && got.value.version === 0 && same(got.value.value, value),
        "get",
        "a created value has version 0 and comes back unchanged"
      )
    })
  },
  {
    name: "verifications: set is a compare-and-set on the version",
    run: Effect.gen(function*() {
      const store = yield* Verification.VerificationStore
      const now = yield* Clock.currentTimeMillis
      const key = unique("v")
      const until = now + 60_000
      yield* store.set(key, { _tag: "Pointer", id: "a" }, { expectedVersion: undefined, expiresAt: until })
      const create = yield* store.set(key, { _tag: "Pointer", id: "x" }, { expectedVersion: undefined, expiresAt: until })
      yield* check(!create, "set", "creating an existing key must fail")
      const stale = yield* store.set(key, { _tag: "Pointer", id: "x" }, { expectedVersion: 5, expiresAt: until })
      yield* check(!stale, "set", "a wrong version must fail")
      const next = yield* store.set(key, { _tag: "Pointer", id: "b" }, { expectedVersion: 0, expiresAt: until })
      yield* check(next, "set", "the right version must succeed")
      const got = yield* store.get(key)
      yield* check(
        Option.isSome(got) && got.value.version === 1 && same(got.value.value, { _tag: "Pointer", id: "b" }),
        "set",
        "a write bumps the version"
      )
      const missing = yield* store.set(unique("v"), { _tag: "Pointer", id: "x" }, { expectedVersion: 0, expiresAt: until })
      yield* check(!missing, "set", "a version for an absent key must fail")
    })
  },
  {
    name: "verifications: of 20 concurrent writers of one version exactly one wins",
    run: Effect.gen(function*() {
      const store = yield* Verification.VerificationStore
      const now = yield* Clock.currentTimeMillis
      const key = unique("v")
      const until = now + 60_000
      yield* store.set(key, { _tag: "Pointer", id: "start" }, { expectedVersion: undefined, expiresAt: until })
      const wrote = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => store.set(key, { _tag: "Pointer", id: `w${i}` }, { expectedVersion: 0, expiresAt: until }),
        { concurrency: "unbounded" }
      )
      const winners = wrote.filter((ok) => ok).length
      yield* check(winners === 1, "race", `${winners} writers won, expected exactly 1`)
      const created = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => store.set(`${key}-new`, { _tag: "Pointer", id: `c${i}` }, { expectedVersion: undefined, expiresAt: until }),
        { concurrency: "unbounded" }
      )
      const creators = created.filter((ok) => ok).length
      yield* check(creators === 1, "race", `${creators} creators won, expected exactly 1`)
    })
  },
  {
    name: "verifications: expired values are absent and can be created again",
    run: Effect.gen(function*() {
      const store = yield* Verification.VerificationStore
      const now = yield* Clock.currentTimeMillis
      const key = unique("v")
      yield* store.set(key, { _tag: "Pointer", id: "old" }, { expectedVersion: undefined, expiresAt: now - 1 })
      const got = yield* store.get(key)
      yield* check(Option.isNone(got), "expiry", "a value past its expiresAt is absent")
      const stale = yield* store.set(key, { _tag: "Pointer", id: "x" }, { expectedVersion: 0, expiresAt: now + 60_000 })
      yield* check(!stale, "expiry", "an expired value cannot be updated")
      const again = yield* store.set(key, { _tag: "Pointer", id: "new" }, { expectedVersion: undefined, expiresAt: now + 60_000 })
      yield* check(again, "expiry", "an expired key can be created again")
      const fresh = yield* store.get(key)
      yield* check(Option.isSome(fresh) && fresh.value.version === 0, "expiry", "and starts again at version 0")
    })
  },
  {
    name: "verifications: remove deletes",
    run: Effect.gen(function*() {
      const store = yield* Verification.VerificationStore
      const now = yield* Clock.currentTimeMillis
      const key = unique("v")
      yield* store.set(key, { _tag: "Pointer", id: "a" }, { expectedVersion: undefined, expiresAt: now + 60_000 })
      yield* store.remove(key)
      const got = yield* store.get(key)
      yield* check(Option.isNone(got), "remove", "a removed key is absent")
      yield* store.remove(unique("absent"))
      const created = yield* store.set(key, { _tag: "Pointer", id: "b" }, { expectedVersion: undefined, expiresAt: now + 60_000 })
      yield* check(created, "remove", "a removed key can be created again")
    })
  },
  ...verificationsByRecipient
]

// consent

const DAY = 24 * 60 * 60 * 1000

const consentRecord = (tenant: string, to: string, seq: number, at: number): Consent.ConsentRecord => ({
  tenant,
  to,
  seq,
  purposes: { marketing: { status: "granted", at, seq, evidence: { source: "web-form", text: "Yes, send me offers", origin: { ip: "192.0.2.1" } } } },
  pending: {},
  timeZone: "Europe/London"
})

const consentRemoval: ReadonlyArray<StoreCase<Consent.ConsentStore>> = [
  {
    name: "consent: remove forgets a number's record and send times in its tenant only",
    run: Effect.gen(function*() {
      const store = yield* Consent.ConsentStore
      const now = yield* Clock.currentTimeMillis
      const [to, other, tenant, elsewhere] = [uniqueNumber(), uniqueNumber(), unique("tenant"), unique("tenant")]
      for (const [t, n] of [[tenant, to], [tenant, other], [elsewhere, to]] as const) {
        yield* store.put(consentRecord(t, n, 1, now))
        for (const purpose of Consent.countedPurposes) yield* store.recordSend(t, n, purpose, now)
      }
      yield* store.put(consentRecord("default", to, 1, now))
      yield* check(yield* store.remove(to, tenant), "remove", "removing a held record answers true")
      yield* check(Option.isNone(yield* store.get(tenant, to)), "remove", "the record is gone")
      for (const purpose of Consent.countedPurposes) {
        yield* check((yield* store.sends(tenant, to, purpose, now - DAY)).length === 0, "remove", `${purpose} send times are gone`)
        yield* check((yield* store.sends(tenant, other, purpose, now - DAY)).length === 1, "remove", "another number's send times stay")
        yield* check((yield* store.sends(elsewhere, to, purpose, now - DAY)).length === 1, "remove", "another tenant's send times stay")
      }
      yield* check(Option.isSome(yield* store.get(tenant, other)), "remove", "another number's record stays")
      yield* check(Option.isSome(yield* store.get(elsewhere, to)), "remove", "the number's record in another tenant stays")
      yield* check(!(yield* store.remove(to, tenant)), "remove", "removing again answers false")
      yield* check(yield* store.remove(to), "remove", "no tenant is the default tenant")
      yield* check(Option.isNone(yield* store.get("default", to)), "remove", "the default tenant's record is gone")
    })
  }
]

/**
 * Cases for `Consent.ConsentStore`.
 *
 * @category cases
 * @since 0.1.0
 */
export const consent: ReadonlyArray<StoreCase<Consent.ConsentStore>> = [
  {
    name: "consent: put then get round-trips a record, per tenant and recipient",
    run: Effect.gen(function*() {
      const store = yield* Consent.ConsentStore
      const now = yield* Clock.currentTimeMillis
      const tenant = unique("tenant")
      const absent = yield* store.get(tenant, "+447700900123")
      yield* check(Option.isNone(absent), "get", "an unknown recipient is None")
      const first = consentRecord(tenant, "+447700900123", 1, now)
      yield* store.put(first)
      const got = yield* store.get(tenant, "+447700900123")
      yield* check(Option.isSome(got) && same(got.value, first), "put", "the record must come back unchanged")
      const later: Consent.ConsentRecord = {
        ...first,
        seq: 2,
        purposes: { ...first.purposes, marketing: { status: "revoked", at: now + 1, seq: 2, evidence: { source: "keyword", keyword: "STOP" } } }
      }
      yield* store.put(later)
      const updated = yield* store.get(tenant, "+447700900123")
      yield* check(Option.isSome(updated) && same(updated.value, later), "put", "a later record replaces the earlier one")
      const otherTenant = yield* store.get(unique("tenant"), "+447700900123")
      const otherNumber = yield* store.get(tenant, "+447700900124")
      yield* check(Option.isNone(otherTenant) && Option.isNone(otherNumber), "get", "records are per tenant and recipient")
    })
  },
  {
    name: "consent: sends answers the times after `since`, oldest first",
    run: Effect.gen(function*() {
      const store = yield* Consent.ConsentStore
      const now = yield* Clock.currentTimeMillis
      const tenant = unique("tenant")
      const to = "+447700900123"
      // Recorded out of order, and twice in the same millisecond.
      for (const at of [now + 3000, now + 1000, now + 2000, now + 2000]) {
        yield* store.recordSend(tenant, to, "marketing", at)
      }
      const all = yield* store.sends(tenant, to, "marketing", now)
      yield* check(same(all, [now + 1000, now + 2000, now + 2000, now + 3000]), "sends", `got ${JSON.stringify(all)}`)
      const window = yield* store.sends(tenant, to, "marketing", now + 1000)
      yield* check(same(window, [now + 2000, now + 2000, now + 3000]), "sends", "`since` itself is excluded")
      const otherPurpose = yield* store.sends(tenant, to, "transactional", now)
      const otherNumber = yield* store.sends(tenant, "+447700900124", "marketing", now)
      const otherTenant = yield* store.sends(unique("tenant"), to, "marketing", now)
      yield* check(
        otherPurpose.length === 0 && otherNumber.length === 0 && otherTenant.length === 0,
        "sends",
        "sends are counted per tenant, recipient and purpose"
      )
    })
  },
  {
    name: "consent: sends older than 8 days are forgotten as new ones arrive",
    run: Effect.gen(function*() {
      const store = yield* Consent.ConsentStore
      const now = yield* Clock.currentTimeMillis
      const tenant = unique("tenant")
      const to = "+447700900123"
      yield* store.recordSend(tenant, to, "marketing", now - 9 * DAY)
      yield* store.recordSend(tenant, to, "marketing", now - 2 * DAY)
      yield* store.recordSend(tenant, to, "marketing", now)
      const kept = yield* store.sends(tenant, to, "marketing", now - 30 * DAY)
      yield* check(same(kept, [now - 2 * DAY, now]), "sends", `got ${JSON.stringify(kept)}`)
    })
  },
  ...consentRemoval
]

// audit

/**
 * Cases for `Audit.AuditStore`: each builds its own log on the store in
 * context, so give each case a fresh store.
 *
 * @category cases
 * @since 0.4.0
 */
export const audit: ReadonlyArray<StoreCase<Audit.AuditStore>> = [
  {
    name: "audit: purgeSubject drops the personal block of every entry about a number, and the chain still verifies",
    run: Effect.gen(function*() {
      const log = yield* Audit.make({ hashKey: "conformance" })
      const [to, other] = [uniqueNumber(), uniqueNumber()]
      yield* log.append({ kind: "send", to, body: "for the subject" })
      yield* log.append({ kind: "inbound", from: to, body: "from the subject" })
      yield* log.append({ kind: "send", to: other, body: "for someone else" })
      yield* log.append({ kind: "routing", data: { route: "primary" } })
      const { purged } = yield* log.purgeSubject(to)
      yield* check(purged === 2, "purgeSubject", `purged ${purged} entries, expected 2`)
      const entries = yield* log.entries()
      yield* check(entries[0]?.sensitive === undefined && entries[1]?.sensitive === undefined, "purgeSubject", "the subject's blocks are gone")
      yield* check(entries[0]?.purgedAt !== undefined, "purgeSubject", "a purged entry says when")
      yield* check(entries[2]?.sensitive?.body === "for someone else", "purgeSubject", "another number's block stays")
      const verified = yield* log.verify
      yield* check(verified.valid, "purgeSubject", "the chain must still verify")
      yield* check((yield* log.purgeSubject(to)).purged === 0, "purgeSubject", "purging again purges nothing")
    })
  }
]

// an unreachable backend

/**
 * Cases for stores whose backend does not answer (a closed port, a cut or
 * black-holed connection): every call fails with the shared
 * `StoreUnavailable`, typed, never a driver's error or a defect, and answers
 * within `within` (the store's timeout plus some slack). They measure real
 * time: run them with the live clock (`it.live`).
 *
 * @category cases
 * @since 0.2.0
 */
export const unreachable = (
  within: Duration.Input
): ReadonlyArray<
  StoreCase<Idempotency.IdempotencyStore | MessageStore.MessageStore | Verification.VerificationStore | Consent.ConsentStore>
> => {
  const limit = Duration.toMillis(Duration.fromInputUnsafe(within))
  const answersUnavailable = (operation: string, effect: Effect.Effect<unknown, unknown>) =>
    Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(effect)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      yield* check(failureTag(exit) === "StoreUnavailable", "unreachable", `${operation} must fail with StoreUnavailable`)
      yield* check(elapsed <= limit, "unreachable", `${operation} answered after ${elapsed} ms, limit ${limit} ms`)
    })
  const all = (calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]>) =>
    Effect.forEach(calls, ([operation, effect]) => answersUnavailable(operation, effect), { concurrency: "unbounded", discard: true })
  return [
    {
      name: "unreachable: the idempotency store fails typed, in time",
      run: Effect.flatMap(Effect.service(Idempotency.IdempotencyStore), (store) =>
        all([
          ["reserve", store.reserve(unique("key"), { messageId: "m", fingerprint: "f" }, Duration.hours(1))],
          ["release", store.release(unique("key"), "m")]
        ]))
    },
    {
      name: "unreachable: the message store fails typed, in time",
      run: Effect.flatMap(Effect.service(MessageStore.MessageStore), (store) =>
        all([
          ["insert", store.insert(message(unique("msg"), 0))],
          ["get", store.get(unique("msg"))],
          ["transition", store.transition(unique("msg"), { status: "queued", at: 1 })],
          ["annotate", store.annotate(unique("msg"), { attempts: 1 })],
          ["findByProviderId", store.findByProviderId("carrier", unique("pid"))],
          ["list", store.list({ status: "queued", limit: 1 })],
          ["size", store.size],
          ["holdReport", store.holdReport(report("carrier", unique("pid"), "delivered", 0), Duration.hours(1))],
          ["takeReports", store.takeReports("carrier", [unique("pid")])],
          ["findByRecipient", store.findByRecipient("+447700900123", "t")],
          ["eraseRecipient", store.eraseRecipient("+447700900123", "t")]
        ]))
    },
    {
      name: "unreachable: the verification store fails typed, in time",
      run: Effect.flatMap(Effect.service(Verification.VerificationStore), (store) =>
        all([
          ["get", store.get(unique("v"))],
          ["set", store.set(unique("v"), { _tag: "Pointer", id: "x" }, { expectedVersion: undefined, expiresAt: 2 ** 52 })],
          ["remove", store.remove(unique("v"))],
          ["findByRecipient", store.findByRecipient("+447700900123", "t")],
          ["eraseRecipient", store.eraseRecipient("+447700900123", "t")]
        ]))
    },
    {
      name: "unreachable: the consent store fails typed, in time",
      run: Effect.flatMap(Effect.service(Consent.ConsentStore), (store) =>
        all([
          ["get", store.get("t", "+447700900123")],
          ["put", store.put(consentRecord(unique("t"), "+447700900123", 1, 0))],
          ["recordSend", store.recordSend("t", "+447700900123", "marketing", 1)],
          ["sends", store.sends("t", "+447700900123", "marketing", 0)],
          ["remove", store.remove("+447700900123", "t")]
        ]))
    }
  ]
}

// the durable outbox

/**
 * How the {@link outbox} cases wait and what the Outbox under test was built
 * with.
 *
 * @category models
 * @since 0.2.0
 */
export interface OutboxSetup {
  /** Lets `duration` pass: `Effect.sleep` on a real store, `TestClock.adjust` on a `TestClock`. */
  readonly advance: (duration: Duration.Duration) => Effect.Effect<void>
  /** How long to wait for a due job before failing (delays, polls, lock expiry included). */
  readonly patience: Duration.Input
  /** The Outbox's `maxAttempts`. */
  readonly maxAttempts: number
  /** The smallest wait between two attempts of a job the Outbox's backoff gives. */
  readonly minBackoff: Duration.Input
}

/**
 * Cases for a durable `Outbox.Outbox` (`durable: true`). Each case runs its
 * own workers and expects the jobs it sees to be its own: provide each case
 * an Outbox on a queue of its own (the `name` option), fresh per case.
 *
 * @category cases
 * @since 0.2.0
 */
export const outbox = (setup: OutboxSetup): ReadonlyArray<StoreCase<Outbox.Outbox>> => {
  const step = Duration.millis(50)
  const patience = Duration.toMillis(Duration.fromInputUnsafe(setup.patience))
  /** Advances until `done` holds, at most `patience`. */
  const until = (done: () => boolean, rule: string, detail: string) =>
    Effect.gen(function*() {
      let waited = 0
      while (!done() && waited < patience) {
        yield* setup.advance(step)
        waited += Duration.toMillis(step)
      }
      yield* check(done(), rule, detail)
    })
  return [
    {
      name: "outbox: a job offered for later runs once, never before its time",
      run: Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        yield* check(outbox.durable, "durable", "these cases are for a durable Outbox")
        const now = yield* Clock.currentTimeMillis
        const at = now + 1_500
        const runs: Array<{ readonly id: string; readonly at: number }> = []
        yield* outbox.run((job) => Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => void runs.push({ id: job.messageId, at: t }))))
        const id = unique("msg")
        yield* outbox.offer({ messageId: id }, { at })
        yield* outbox.offer({ messageId: id }, { at })
        yield* until(() => runs.length > 0, "delay", "the delayed job never ran")
        yield* check(runs[0]!.id === id, "delay", "the job carries its message id")
        yield* check(runs[0]!.at >= at, "delay", `the job ran ${at - runs[0]!.at} ms early`)
        yield* setup.advance(Duration.seconds(2))
        yield* check(runs.length === 1, "delay", `a job offered twice under one id ran ${runs.length} times`)
      })
    },
    {
      name: "outbox: a failing job is retried after its backoff, and only its last attempt says last",
      run: Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        const runs: Array<{ readonly number: number; readonly last: boolean; readonly at: number }> = []
        yield* outbox.run((_, attempt) =>
          Effect.flatMap(Clock.currentTimeMillis, (t) => {
            runs.push({ number: attempt.number, last: attempt.last, at: t })
            return Effect.fail(new Outbox.RetryLater({ reason: "carrier down" }))
          })
        )
        yield* outbox.offer({ messageId: unique("msg") }, { at: yield* Clock.currentTimeMillis })
        yield* until(() => runs.length >= setup.maxAttempts, "retry", `${runs.length} of ${setup.maxAttempts} attempts ran`)
        yield* setup.advance(Duration.seconds(2))
        yield* check(runs.length === setup.maxAttempts, "retry", `${runs.length} attempts ran, expected ${setup.maxAttempts}`)
        yield* check(
          same(runs.map((r) => r.number), Array.from({ length: setup.maxAttempts }, (_, i) => i + 1)),
          "retry",
          `attempt numbers were ${runs.map((r) => r.number).join(",")}`
        )
        yield* check(
          same(runs.map((r) => r.last), Array.from({ length: setup.maxAttempts }, (_, i) => i === setup.maxAttempts - 1)),
          "retry",
          `last flags were ${runs.map((r) => r.last).join(",")}`
        )
        const minGap = Duration.toMillis(Duration.fromInputUnsafe(setup.minBackoff))
        const gaps = runs.slice(1).map((r, i) => r.at - runs[i]!.at)
        yield* check(gaps.every((gap) => gap >= minGap), "retry", `gaps ${gaps.join(",")} ms, backoff at least ${minGap} ms`)
      })
    },
    {
      name: "outbox: a job whose worker was interrupted mid-job runs again",
      run: Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        const started = yield* Deferred.make<void>()
        const crashed = yield* Scope.make()
        yield* outbox.run(() => Effect.andThen(Deferred.succeed(started, undefined), Effect.never)).pipe(Scope.provide(crashed))
        const id = unique("msg")
        yield* outbox.offer({ messageId: id }, { at: yield* Clock.currentTimeMillis })
        yield* until(() => Deferred.isDoneUnsafe(started), "crash", "the first worker never got the job")
        yield* Scope.close(crashed, Exit.void)
        const done: Array<string> = []
        yield* outbox.run((job) => Effect.sync(() => void done.push(job.messageId)))
        yield* until(() => done.includes(id), "crash", "the interrupted job never ran again")
      })
    }
  ]
}

/**
 * Every case above, for a backend that provides all four stores.
 *
 * @category cases
 * @since 0.1.0
 */
export const all: ReadonlyArray<
  StoreCase<Idempotency.IdempotencyStore | MessageStore.MessageStore | Verification.VerificationStore | Consent.ConsentStore>
> = [...idempotency, ...messages, ...verifications, ...consent]
