import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option, Result } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { MessageStore } from "smsforge"

const statuses: ReadonlyArray<MessageStore.MessageStatus> = [
  "accepted",
  "queued",
  "submitted",
  "delivered",
  "failed",
  "undelivered",
  "expired",
  "rejected",
  "canceled"
]
const order = (s: MessageStore.MessageStatus) => ["accepted", "queued", "submitted"].indexOf(s)

const message = (id: string, createdAt = 0): MessageStore.StoredMessage => ({
  id,
  to: "+447700900123",
  country: "GB",
  purpose: "transactional",
  text: "hello",
  encoding: "GSM-7",
  segmentCount: 1,
  status: "accepted",
  history: [{ status: "accepted", at: createdAt }],
  attempts: 0,
  decisions: [],
  createdAt
})

describe("transition", () => {
  it("follows the life-cycle forward", () => {
    assert.isTrue(Result.isSuccess(MessageStore.transition("accepted", "queued")))
    assert.isTrue(Result.isSuccess(MessageStore.transition("queued", "submitted")))
    assert.isTrue(Result.isSuccess(MessageStore.transition("submitted", "delivered")))
    assert.isTrue(Result.isSuccess(MessageStore.transition("accepted", "canceled")))
    assert.isTrue(Result.isFailure(MessageStore.transition("submitted", "queued")))
    assert.isTrue(Result.isFailure(MessageStore.transition("delivered", "undelivered")))
    assert.isTrue(Result.isFailure(MessageStore.transition("queued", "queued")))
  })

  it("property: statuses only move forward and terminal statuses are final", () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...statuses), { maxLength: 30 }), (steps) => {
      let current: MessageStore.MessageStatus = "accepted"
      const seen: Array<MessageStore.MessageStatus> = [current]
      for (const next of steps) {
        const moved = MessageStore.transition(current, next)
        if (Result.isSuccess(moved)) {
          assert.isFalse(MessageStore.isTerminal(current))
          current = moved.success
          seen.push(current)
        }
      }
      // Every accepted change moved forward: no status repeats and at most one terminal.
      assert.strictEqual(new Set(seen).size, seen.length)
      assert.isAtMost(seen.filter(MessageStore.isTerminal).length, 1)
      for (let i = 1; i < seen.length; i++) {
        const before = seen[i - 1]!
        const after = seen[i]!
        assert.isTrue(MessageStore.isTerminal(after) || order(after) > order(before))
      }
    }))
  })
})

describe("memory store", () => {
  it.effect("records history and finds messages by provider id, segments included", () =>
    Effect.gen(function*() {
      const store = yield* MessageStore.makeMemory()
      yield* store.insert(message("m1"))
      yield* store.transition("m1", { status: "queued", at: 1 })
      const submitted = yield* store.transition("m1", { status: "submitted", at: 2 }, {
        transport: "sandbox",
        providerMessageId: "p1",
        segmentIds: ["p1", "p1-2"]
      })
      assert.deepStrictEqual(submitted.history.map((h) => h.status), ["accepted", "queued", "submitted"])
      assert.strictEqual(Option.getOrThrow(yield* store.findByProviderId("sandbox", "p1-2")).id, "m1")
      assert.isTrue(Option.isNone(yield* store.findByProviderId("other", "p1")))
      const backwards = yield* Effect.flip(store.transition("m1", { status: "queued", at: 3 }))
      assert.strictEqual(backwards._tag, "InvalidTransition")
      const missing = yield* Effect.flip(store.transition("nope", { status: "queued", at: 3 }))
      assert.strictEqual(missing._tag, "MessageNotFound")
    }))

  it.effect("keeps at most `capacity` messages and drops those past retention", () =>
    Effect.gen(function*() {
      const store = yield* MessageStore.makeMemory({ capacity: 100, retention: "1 hour" })
      for (let i = 0; i < 1000; i++) yield* store.insert(message(`m${i}`))
      assert.strictEqual(yield* store.size, 100)
      assert.isTrue(Option.isNone(yield* store.get("m0")))
      assert.isTrue(Option.isSome(yield* store.get("m999")))
      yield* TestClock.adjust("2 hours")
      yield* store.insert(message("late", 7_200_000))
      assert.strictEqual(yield* store.size, 1)
    }))

  // The store finds messages through maps keyed by a 30-bit hash of the id (and
  // of the transport with the carrier id), ids sharing one chained: these
  // pairs share theirs, so each removal path of a chain runs.
  it.effect("finds and forgets messages whose ids and carrier ids share an index hash", () =>
    Effect.gen(function*() {
      const [first, second] = [message("m19986"), { ...message("m987209"), to: "+447700900456" }]
      const submitted = (m: MessageStore.StoredMessage, providerMessageId: string) =>
        store.transition(m.id, { status: "submitted", at: 1 }, { transport: "t", providerMessageId })
      const found = (providerMessageId: string) =>
        Effect.map(store.findByProviderId("t", providerMessageId), (m) => Option.getOrUndefined(Option.map(m, (m) => m.id)))
      let store = yield* MessageStore.makeMemory()
      for (const m of [first, second]) yield* store.insert(m)
      yield* submitted(first, "p61026")
      yield* submitted(second, "p191998")
      assert.deepStrictEqual([yield* found("p61026"), yield* found("p191998")], ["m19986", "m987209"])
      // the later, first in its chain, goes: the earlier stays
      assert.strictEqual(yield* store.eraseRecipient(second.to), 1)
      assert.isTrue(Option.isSome(yield* store.get(first.id)))
      assert.deepStrictEqual([yield* found("p61026"), yield* found("p191998")], ["m19986", undefined])

      // the earlier, behind the later in its chain, goes: the later stays
      store = yield* MessageStore.makeMemory()
      for (const m of [first, second]) yield* store.insert(m)
      yield* submitted(first, "p61026")
      yield* submitted(second, "p191998")
      assert.strictEqual(yield* store.eraseRecipient(first.to), 1)
      assert.isTrue(Option.isNone(yield* store.get(first.id)))
      assert.strictEqual((yield* store.get(second.id)).pipe(Option.getOrThrow).id, second.id)
      assert.deepStrictEqual([yield* found("p61026"), yield* found("p191998")], [undefined, "m987209"])
      // its slot is reused by the next message, which the chain's survivor never answers for
      yield* store.insert(message("m3"))
      assert.isTrue(Option.isNone(yield* store.get(first.id)))
      assert.strictEqual(yield* store.size, 2)
    }))

  it.effect("lists by status, oldest first, with a limit", () =>
    Effect.gen(function*() {
      const store = yield* MessageStore.makeMemory()
      for (let i = 0; i < 5; i++) yield* store.insert(message(`m${i}`))
      yield* store.transition("m3", { status: "failed", at: 1 })
      yield* store.transition("m1", { status: "failed", at: 2 })
      assert.deepStrictEqual((yield* store.list({ status: "failed" })).map((m) => m.id), ["m1", "m3"])
      assert.strictEqual((yield* store.list({ status: "accepted", limit: 2 })).length, 2)
    }))
})

// The memory store keeps messages in columns and builds them again on read:
// what comes back must be what went in, field for field (undefined fields
// may be absent, as in every store's JSON).
describe("memory store properties", () => {
  const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
  const optional = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined })
  const text = fc.string({ maxLength: 12 })
  const at = fc.oneof(fc.integer({ min: 0, max: 2_000_000_000_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }))
  const change = fc.record({ status: fc.constantFrom(...statuses), at, reason: optional(text) })
  const decision = fc.record({
    route: fc.constantFrom("a", "b"),
    transport: fc.constantFrom("t1", "t2"),
    reason: fc.constantFrom("rank 1", "rank 2"),
    outcome: optional(fc.constantFrom("submitted", "Rejected")),
    attempts: fc.nat(3)
  })
  const stored = (id: string): fc.Arbitrary<MessageStore.StoredMessage> =>
    fc.record({
      id: fc.constant(id),
      tenant: optional(fc.constantFrom("acme", "globex")),
      to: fc.constantFrom("+447700900123", "+447700900456"),
      country: fc.constantFrom("GB", "US"),
      from: optional(fc.constantFrom("ACME", "+15550001")),
      purpose: fc.constantFrom("transactional" as const, "marketing" as const),
      text,
      withheld: optional(fc.boolean()),
      encoding: fc.constantFrom("GSM-7" as const, "UCS-2" as const),
      segmentCount: fc.nat(5),
      template: optional(fc.record({ id: text, version: fc.nat(3), locale: fc.constantFrom("en", "de") })),
      status: fc.constantFrom(...statuses),
      history: fc.array(change, { maxLength: 6 }),
      route: optional(fc.constantFrom("a", "b")),
      transport: optional(fc.constantFrom("t1", "t2")),
      providerMessageId: optional(fc.constantFrom("p1", "p2", "p3")),
      segmentIds: optional(fc.array(fc.constantFrom("s1", "s2"), { maxLength: 2 })),
      segmentStatuses: optional(fc.dictionary(fc.constantFrom("s1", "s2"), fc.constantFrom(...statuses))),
      attempts: fc.oneof(fc.nat(5), fc.double({ noNaN: true })),
      decisions: fc.array(decision, { maxLength: 2 }),
      cost: optional(fc.record({ amount: fc.constantFrom("0.0075", "1"), currency: fc.constantFrom("EUR", "USD") })),
      idempotencyKey: optional(text),
      createdAt: at,
      sendAt: optional(at),
      validUntil: optional(at),
      metadata: optional(fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean()), { maxKeys: 2 }))
    })

  it("property: every message inserted reads back unchanged, however many share a slot's fields", () => {
    fc.assert(fc.property(fc.array(fc.nat(9), { minLength: 1, maxLength: 40 }).chain((ids) =>
      fc.tuple(...ids.map((n) => stored(`m${n}`)))
    ), (messages) => {
      const store = Effect.runSync(MessageStore.makeMemory({ capacity: 5, retention: Duration.infinity }))
      const latest = new Map<string, MessageStore.StoredMessage>()
      for (const message of messages) {
        Effect.runSync(store.insert(message))
        // Rewriting an id keeps its place; past capacity the oldest goes.
        latest.set(message.id, message)
        if (latest.size > 5) latest.delete(latest.keys().next().value!)
      }
      // Kept for ever (times are arbitrary): the store keeps the model's messages, each as last written.
      const kept = [...latest.values()]
      assert.strictEqual(Effect.runSync(store.size), kept.length)
      for (const message of kept) {
        assert.deepStrictEqual(plain(Option.getOrThrow(Effect.runSync(store.get(message.id)))), plain(message))
      }
    }))
  })

  // A carrier may answer many messages with the same id (a sandbox, a
  // carrier's own bug): they share a chain, and evicting one must leave the
  // lookup answering with the last stored of those still kept.
  it("property: a carrier id finds the last stored message of those kept under it", () => {
    const write = fc.record({ transport: fc.constantFrom("t1", "t2"), providerMessageId: optional(fc.constantFrom("p1", "p2")) })
    fc.assert(fc.property(fc.array(write, { minLength: 1, maxLength: 60 }), (writes) => {
      const store = Effect.runSync(MessageStore.makeMemory({ capacity: 4, retention: Duration.infinity }))
      writes.forEach((w, i) => Effect.runSync(store.insert({ ...message(`m${i}`), ...w })))
      const kept = writes.map((w, i) => ({ ...w, id: `m${i}` })).slice(-4)
      for (const transport of ["t1", "t2"]) {
        for (const providerMessageId of ["p1", "p2"]) {
          const expected = [...kept].reverse().find((w) => w.transport === transport && w.providerMessageId === providerMessageId)
          const found = Option.getOrUndefined(Effect.runSync(store.findByProviderId(transport, providerMessageId)))
          assert.strictEqual(found?.id, expected?.id)
        }
      }
    }))
  })

  it("property: transitions and annotations answer and keep what the rule applied to plain objects gives", () => {
    const step = fc.oneof(
      fc.record({ _tag: fc.constant("transition" as const), id: fc.constantFrom("m0", "m1", "m2"), change, patch: fc.record({ route: optional(fc.constantFrom("a", "b")), transport: optional(fc.constantFrom("t1", "t2")), providerMessageId: optional(fc.constantFrom("p1", "p2")), attempts: fc.nat(4), decisions: fc.array(decision, { maxLength: 2 }) }) }),
      fc.record({ _tag: fc.constant("annotate" as const), id: fc.constantFrom("m0", "m1", "m2"), patch: fc.record({ segmentStatuses: fc.dictionary(fc.constantFrom("s1", "s2"), fc.constantFrom(...statuses)) }) })
    )
    fc.assert(fc.property(fc.tuple(stored("m0"), stored("m1"), stored("m2")), fc.array(step, { maxLength: 20 }), (initial, steps) => {
      const store = Effect.runSync(MessageStore.makeMemory({ retention: Duration.infinity }))
      const model = new Map(initial.map((m) => [m.id, m]))
      for (const message of initial) Effect.runSync(store.insert(message))
      for (const s of steps) {
        const before = model.get(s.id)!
        if (s._tag === "annotate") {
          const expected = { ...before, ...s.patch }
          model.set(s.id, expected)
          assert.deepStrictEqual(plain(Effect.runSync(store.annotate(s.id, s.patch))), plain(expected))
          continue
        }
        const expected = MessageStore.applyChange(before, s.change, s.patch)
        const got = Effect.runSync(Effect.result(store.transition(s.id, s.change, s.patch)))
        assert.strictEqual(got._tag, expected._tag)
        if (Result.isSuccess(expected) && Result.isSuccess(got)) {
          model.set(s.id, expected.success)
          assert.deepStrictEqual(plain(got.success), plain(expected.success))
        }
      }
      for (const [id, message] of model) {
        assert.deepStrictEqual(plain(Option.getOrThrow(Effect.runSync(store.get(id)))), plain(message))
        if (message.transport !== undefined && message.providerMessageId !== undefined) {
          const found = Effect.runSync(store.findByProviderId(message.transport, message.providerMessageId))
          // Another message may have taken the same carrier id since; it is found with that id.
          assert.isTrue(Option.isSome(found) && found.value.providerMessageId === message.providerMessageId)
        }
      }
    }))
  })
})
