import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Result } from "effect"
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
