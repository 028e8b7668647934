import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option, Schema, Scope } from "effect"
import * as PersistedQueue from "effect/persistence/PersistedQueue"
import * as RateLimiter from "effect/persistence/RateLimiter"
import { TestClock } from "effect/testing"
import { Consent, Idempotency, MessageStore, Outbox, Sms, Store, Templates, Verification } from "smsforge"
import { Codes, Sandbox } from "smsforge/testing"

const UK = "+447400123456"

// What outlives a process: the stores, and the outbox's queue.
const sharedStores = Layer.mergeAll(
  MessageStore.layerMemory(),
  Idempotency.layerMemory(),
  Templates.layerStoreMemory,
  Consent.layerStoreMemory,
  Verification.layerStoreMemory,
  RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory)),
  PersistedQueue.layerStoreMemory
)
type Shared = Layer.Success<typeof sharedStores>

const outboxOptions: Outbox.PersistedOptions = { maxAttempts: 3, recoverAfter: "2 minutes" }

/** One process of the application: a pipeline on the shared stores, ended by closing its scope. */
const startProcess = (
  shared: Context.Context<Shared>,
  carrier: Sandbox.SandboxTransport,
  config: Sms.SmsConfig = {}
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const outbox = Outbox.layerPersisted(outboxOptions).pipe(Layer.provide(PersistedQueue.layer))
    const pipeline = Sms.layerPipeline({ transports: [carrier], retry: { maxAttempts: 1 }, ...config }).pipe(
      Layer.provideMerge(outbox),
      Layer.provide(Layer.succeedContext(shared))
    )
    const context = yield* Layer.buildWithScope(pipeline, scope)
    return { sms: Context.get(context, Sms.Sms), context, stop: Scope.close(scope, Exit.void) }
  })

const withShared = <A, E>(body: (shared: Context.Context<Shared>) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.scoped(Effect.flatMap(Layer.build(sharedStores), body))

describe("durable Outbox (PersistedQueue, memory store)", () => {
  it.effect("a scheduled message is sent by the next process when the one that accepted it stopped", () =>
    withShared((shared) =>
      Effect.gen(function*() {
        const carrier = yield* Sandbox.make()
        const first = yield* startProcess(shared, carrier)
        const receipt = yield* first.sms.send({ to: UK, text: "Your order ships tomorrow", sendAt: 60 * 60_000 })
        assert.strictEqual(receipt.status, "accepted")
        yield* first.stop
        const second = yield* startProcess(shared, carrier)
        yield* TestClock.adjust("61 minutes")
        assert.deepStrictEqual((yield* carrier.outbox).map((m) => m.clientReference), [receipt.id])
        assert.strictEqual((yield* second.sms.get(receipt.id)).status, "submitted")
        yield* second.stop
      })))

  it.effect("a message whose routes failed transiently waits in the queue and goes after a restart", () =>
    withShared((shared) =>
      Effect.gen(function*() {
        const carrier = yield* Sandbox.make()
        yield* carrier.failAlways("Unavailable")
        const first = yield* startProcess(shared, carrier)
        const receipt = yield* first.sms.send({ to: UK, text: "Out for delivery" })
        // accepted and durable: the caller is told it is queued, not that it failed
        assert.strictEqual(receipt.status, "queued")
        yield* first.stop
        yield* carrier.recover
        const second = yield* startProcess(shared, carrier)
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual((yield* second.sms.get(receipt.id)).status, "submitted")
        assert.strictEqual((yield* carrier.outbox).length, 1)
        yield* second.stop
      })))

  it.effect("a delivery cut off mid-flight by the process stopping is finished by the next one", () =>
    withShared((shared) =>
      Effect.gen(function*() {
        const carrier = yield* Sandbox.make({ latency: "10 seconds", dedupeByReference: true })
        const first = yield* startProcess(shared, carrier)
        const caller = yield* Effect.forkChild(first.sms.send({ to: UK, text: "In customs" }))
        yield* TestClock.adjust("1 second")
        // the process dies: its callers and its own fibers alike
        yield* Fiber.interrupt(caller)
        yield* first.stop
        const [queued] = yield* (yield* Effect.service(MessageStore.MessageStore).pipe(Effect.provide(shared))).list({ status: "queued" })
        assert.isDefined(queued)
        const second = yield* startProcess(shared, carrier)
        yield* TestClock.adjust("2 minutes")
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual((yield* second.sms.get(queued!.id)).status, "submitted")
        assert.strictEqual((yield* carrier.outbox).length, 1)
        yield* second.stop
      })))

  it.effect("a message past its validity ends expired even when no process was running at the time", () =>
    withShared((shared) =>
      Effect.gen(function*() {
        const carrier = yield* Sandbox.make()
        const first = yield* startProcess(shared, carrier)
        const receipt = yield* first.sms.send({ to: UK, text: "Flash sale", sendAt: 60 * 60_000, validity: "30 minutes" })
        yield* first.stop
        yield* TestClock.adjust("3 hours")
        const second = yield* startProcess(shared, carrier)
        yield* TestClock.adjust("1 second")
        const stored = yield* second.sms.get(receipt.id)
        assert.strictEqual(stored.status, "expired")
        assert.strictEqual((yield* carrier.outbox).length, 0)
        yield* second.stop
      })))

  it.effect("after its last attempt a message ends failed, as a dead letter", () =>
    withShared((shared) =>
      Effect.gen(function*() {
        const carrier = yield* Sandbox.make()
        yield* carrier.failAlways("Unavailable")
        const process = yield* startProcess(shared, carrier)
        const receipt = yield* process.sms.send({ to: UK, text: "Delivered" })
        assert.strictEqual(receipt.status, "queued")
        yield* TestClock.adjust("1 hour")
        const stored = yield* process.sms.get(receipt.id)
        assert.strictEqual(stored.status, "failed")
        assert.deepStrictEqual((yield* process.sms.deadLetters()).map((m) => m.id), [receipt.id])
        // the first run in the accepting process, then maxAttempts runs of the job, the last one final
        assert.strictEqual(yield* carrier.attempts, 1 + 3)
        yield* process.stop
      })))

  it.effect("a code deferred by quiet hours survives a transient failure of its run and goes out on the next", () =>
    withShared((shared) =>
      Effect.gen(function*() {
        const carrier = yield* Sandbox.make()
        const process = yield* startProcess(shared, carrier, {
          consent: { quietHours: { start: "00:00", end: "06:00", purposes: ["transactional"] } }
        })
        const verification = yield* Effect.service(Verification.Verification).pipe(Effect.provide(process.context))
        yield* verification.start({ to: UK })
        // the run at the end of quiet hours fails; the job's next run goes through
        yield* carrier.failNext(1, "Unavailable")
        yield* TestClock.adjust("7 hours")
        assert.strictEqual(yield* carrier.attempts, 2)
        const [submission] = yield* carrier.outbox
        assert.isDefined(submission)
        assert.isDefined(Codes.extract(submission!.text))
        assert.strictEqual((yield* process.sms.get(submission!.clientReference)).status, "submitted")
        yield* process.stop
      })))

  it.effect("a canceled scheduled message stays canceled when its job comes due", () =>
    withShared((shared) =>
      Effect.gen(function*() {
        const carrier = yield* Sandbox.make()
        const process = yield* startProcess(shared, carrier)
        const receipt = yield* process.sms.send({ to: UK, text: "Reminder", sendAt: 60_000 })
        yield* process.sms.cancel(receipt.id)
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual((yield* process.sms.get(receipt.id)).status, "canceled")
        assert.strictEqual((yield* carrier.outbox).length, 0)
        yield* process.stop
      })))
})

// The memory default: the same send path, nothing durable.
const withPipeline = <A, E>(
  carrier: Sandbox.SandboxTransport,
  body: (sms: Sms.Sms["Service"]) => Effect.Effect<A, E, Sms.Services>,
  config: Sms.SmsConfig = {},
  stores: Layer.Layer<Sms.Stores> = Sms.layerStoresMemory()
) =>
  Effect.scoped(Layer.build(Sms.layerPipeline({ transports: [carrier], ...config }).pipe(Layer.provideMerge(stores))).pipe(
    Effect.flatMap((context) => Effect.provide(Effect.flatMap(Sms.Sms, body), context))
  ))

// StoreUnavailable as another copy of smsforge defines it (a store bundle
// loaded as CommonJS beside an ESM application): same tag, another class.
class ForeignStoreUnavailable extends Schema.TaggedError<ForeignStoreUnavailable>("smsforge/Store/StoreUnavailable")("StoreUnavailable", {
  store: Schema.optional(Schema.String),
  operation: Schema.optional(Schema.String)
}) {}

// A message store whose backend can be switched off.
const flakyStores = (down: { value: boolean }, failWith: () => Store.StoreUnavailable = () => new Store.StoreUnavailable({ store: "message", operation: "test" })) =>
  Layer.merge(
    Layer.effect(
      MessageStore.MessageStore,
      Effect.map(MessageStore.makeMemory(), (store) => {
        const guarded = <A>(effect: Effect.Effect<A, Store.StoreUnavailable>) =>
          Effect.suspend(() => down.value ? Effect.fail(failWith()) : effect)
        return MessageStore.MessageStore.of({
          ...store,
          insert: (message) => guarded(store.insert(message)),
          get: (id) => guarded(store.get(id))
        })
      })
    ),
    Layer.mergeAll(
      Idempotency.layerMemory(),
      Outbox.layerMemory(),
      Templates.layerStoreMemory,
      Consent.layerStoreMemory,
      Verification.layerStoreMemory,
      RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))
    )
  )

describe("the send path on the memory default", () => {
  it.effect("a caller interrupted mid-send with a key: the message goes on, and the key answers later sends", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make({ latency: "5 seconds" })
      yield* withPipeline(carrier, (sms) =>
        Effect.gen(function*() {
          const caller = yield* Effect.forkChild(sms.send({ to: UK, text: "Shipped", idempotencyKey: "order-1" }))
          yield* TestClock.adjust("1 second")
          yield* Fiber.interrupt(caller)
          const again = yield* Effect.forkChild(sms.send({ to: UK, text: "Shipped", idempotencyKey: "order-1" }))
          yield* TestClock.adjust("5 seconds")
          const receipt = yield* Fiber.join(again)
          assert.strictEqual(receipt.status, "submitted")
          assert.strictEqual((yield* carrier.outbox).length, 1)
          assert.strictEqual((yield* sms.send({ to: UK, text: "Shipped", idempotencyKey: "order-1" })).id, receipt.id)
        }))
    }))

  it.effect("a scheduled send repeated with its key answers the first receipt at once, and sends once at its time", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make()
      yield* withPipeline(carrier, (sms) =>
        Effect.gen(function*() {
          const request = { to: UK, text: "Your parcel arrives tomorrow", sendAt: 60 * 60_000, idempotencyKey: "parcel-7" }
          const first = yield* sms.send(request)
          assert.strictEqual(first.status, "accepted")
          // answered without the clock moving: nothing waits on the scheduled delivery
          const again = yield* sms.send(request)
          assert.strictEqual(again.id, first.id)
          yield* TestClock.adjust("61 minutes")
          assert.strictEqual((yield* carrier.outbox).length, 1)
          assert.strictEqual((yield* sms.get(first.id)).status, "submitted")
        }))
    }))

  it.effect("a send counted for a frequency cap ends submitted when the count cannot be written", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make()
      // the consent store answers reads, but its send counter is down
      const counterDown = Layer.effect(Consent.ConsentStore, Effect.map(Consent.makeStoreMemory, (store) =>
        Consent.ConsentStore.of({
          ...store,
          recordSend: () => Effect.fail(new Store.StoreUnavailable({ store: "consent", operation: "recordSend" }))
        })))
      const stores = Layer.merge(Sms.layerStoresMemory(), counterDown)
      yield* withPipeline(carrier, (sms) =>
        Effect.gen(function*() {
          const receipt = yield* sms.send({ to: UK, text: "Your parcel is on its way", purpose: "transactional" })
          assert.strictEqual(receipt.status, "submitted")
          assert.strictEqual((yield* carrier.outbox).length, 1)
        }), { consent: { frequencyCaps: { transactional: { perDay: 10 } } } }, stores)
    }))

  it.effect("a caller interrupted mid-send without a key: the message still ends submitted", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make({ latency: "5 seconds" })
      yield* withPipeline(carrier, (sms) =>
        Effect.gen(function*() {
          const caller = yield* Effect.forkChild(sms.send({ to: UK, text: "Shipped" }))
          yield* TestClock.adjust("1 second")
          yield* Fiber.interrupt(caller)
          yield* TestClock.adjust("5 seconds")
          const [sent] = yield* carrier.outbox
          assert.isDefined(sent)
          assert.strictEqual((yield* sms.get(sent!.clientReference)).status, "submitted")
        }))
    }))

  it.effect("a StoreUnavailable of another copy of smsforge's class is still a typed SmsError, not a defect", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make()
      const foreign = () => new ForeignStoreUnavailable({ store: "message", operation: "insert" }) as unknown as Store.StoreUnavailable
      yield* withPipeline(carrier, (sms) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(sms.send({ to: UK, text: "Paid" }))
          assert.strictEqual(error._tag, "SmsError")
          assert.instanceOf(error.reason, Store.StoreUnavailable)
          assert.strictEqual((error.reason as Store.StoreUnavailable).operation, "insert")
        }), {}, flakyStores({ value: true }, foreign))
    }))

  it.effect("a store outage is a typed, retryable StoreUnavailable, and a retry with the key sends once", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make()
      const down = { value: true }
      yield* withPipeline(carrier, (sms) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(sms.send({ to: UK, text: "Paid", idempotencyKey: "pay-1" }))
          assert.strictEqual(error.reason._tag, "StoreUnavailable")
          assert.isTrue((error.reason as Store.StoreUnavailable).isRetryable)
          assert.notInclude(error.message, UK)
          assert.strictEqual((yield* carrier.outbox).length, 0)
          down.value = false
          // the outage hid whether the message was stored, so the key stayed held:
          // the retry finds no message behind it and takes it over
          const retry = yield* Effect.forkChild(sms.send({ to: UK, text: "Paid", idempotencyKey: "pay-1" }))
          yield* TestClock.adjust("6 seconds")
          const receipt = yield* Fiber.join(retry)
          assert.strictEqual(receipt.status, "submitted")
          assert.strictEqual((yield* carrier.outbox).length, 1)
        }), {}, flakyStores(down))
    }))

  it.effect("tenant and key are one unambiguous pair: no tenant gets another's receipt", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make()
      yield* withPipeline(carrier, (sms) =>
        Effect.gen(function*() {
          const a = yield* sms.send({ to: UK, text: "Hi", tenant: "acme\u0000x", idempotencyKey: "k" })
          const b = yield* sms.send({ to: UK, text: "Hi", tenant: "acme", idempotencyKey: "x\u0000k" })
          assert.notStrictEqual(a.id, b.id)
          assert.strictEqual((yield* carrier.outbox).length, 2)
        }))
    }))

  it.effect("a receipt that reached another instance before the submit answer is applied from the shared store", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make({ latency: "1 second" })
      const stores = yield* Layer.build(Sms.layerStoresMemory())
      const shared = Layer.succeedContext(stores)
      yield* withPipeline(carrier, (first) =>
        withPipeline(carrier, (second) =>
          Effect.gen(function*() {
            const sending = yield* Effect.forkChild(first.send({ to: UK, text: "Delivered today" }))
            // the carrier's id is known before its answer reaches the first instance
            const outcome = yield* second.deliveryReceipt({ transport: "sandbox", providerMessageId: "sandbox-1", status: "delivered" })
            assert.strictEqual(outcome.outcome, "pending")
            yield* TestClock.adjust("1 second")
            const receipt = yield* Fiber.join(sending)
            assert.strictEqual((yield* second.get(receipt.id)).status, "delivered")
          }), {}, shared), {}, shared)
    }).pipe(Effect.scoped))

  it.effect("Outbox.layerMemory runs a scheduled job once, at its time", () =>
    Effect.gen(function*() {
      const carrier = yield* Sandbox.make()
      yield* withPipeline(carrier, (sms) =>
        Effect.gen(function*() {
          const receipt = yield* sms.send({ to: UK, text: "Later", sendAt: 30_000 })
          yield* TestClock.adjust("29 seconds")
          assert.strictEqual((yield* carrier.outbox).length, 0)
          yield* TestClock.adjust("1 second")
          assert.strictEqual((yield* sms.get(receipt.id)).status, "submitted")
          yield* TestClock.adjust("1 hour")
          assert.strictEqual((yield* carrier.outbox).length, 1)
        }))
    }))
})

describe("Store.guard", () => {
  it.effect("bounds a call by its timeout and names the store, never the value", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(Store.guard("message", "insert", "1 second")(Effect.never)))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "StoreUnavailable")
      assert.strictEqual(error.store, "message")
      assert.strictEqual(error.message, "The message store did not answer (insert)")
    }))

  it.effect("answers at the limit even when the call ignores interruption", () =>
    Effect.gen(function*() {
      // A driver draining a cancelled query: the call goes on after the limit, the caller does not wait for it.
      const stubborn = Effect.uninterruptible(Effect.sleep("1 minute"))
      const fiber = yield* Effect.forkChild(Effect.flip(Store.guard("message", "get", "1 second")(stubborn)))
      yield* TestClock.adjust("1 second")
      const exit = fiber.pollUnsafe()
      if (exit === undefined) return assert.fail("the caller did not answer at the limit")
      const error = yield* exit
      assert.strictEqual(error._tag, "StoreUnavailable")
      assert.strictEqual(error.message, "The message store did not answer (get)")
    }))

  it.effect("turns a driver's failure or defect into StoreUnavailable and lets interruption through", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(Store.guard("consent", "get")(Effect.fail(new Error("ECONNREFUSED +447400123456"))))
      assert.strictEqual(failed._tag, "StoreUnavailable")
      assert.notInclude(failed.message, "+44")
      const died = yield* Effect.flip(Store.guard("consent", "get")(Effect.die("boom")))
      assert.strictEqual(died._tag, "StoreUnavailable")
      const interrupted = yield* Effect.exit(Store.guard("consent", "get")(Effect.interrupt))
      assert.isTrue(Exit.hasInterrupts(interrupted))
      assert.isTrue(Option.isNone(Exit.findErrorOption(interrupted)))
    }))
})
