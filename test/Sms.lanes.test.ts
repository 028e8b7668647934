// The express lane (built-in in-memory services run on their synchronous
// cores) and the general lane (every step an effect, as with Redis or SQL
// stores) must be indistinguishable: the same receipts and refusals, the same
// stored messages, the same events and the same submissions to the carriers.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Effect, Fiber, Layer, Option, PubSub, Schema } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { Consent, Events, MessageStore, Sms, Transport } from "smsforge"
import { Sandbox } from "smsforge/testing"

const people = ["+447400123456", "+447400123457", "+12015550123", "+4930123456", "+44 12", "07400 123458"]
const texts = ["Your parcel is out for delivery", "Votre colis arrive demain à 10h", "您的验证码是 123456", "x".repeat(1_700), "Sale: 20% off, reply STOP to opt out"]

const variableSets = [
  { order: "4711", day: "Tuesday" },
  { order: "4711" },
  { order: "4711", day: "Tuesday", extra: "x" },
  { code: "123456" },
  { order: "x".repeat(2_000), day: "Tuesday" }
]

type Step =
  | {
    readonly _tag: "send"
    readonly who: number
    readonly text: number
    readonly marketing: boolean
    readonly past: boolean
    readonly from: boolean
    readonly key: string | undefined
  }
  | { readonly _tag: "template"; readonly who: number; readonly id: string; readonly variables: number; readonly locale: string | undefined }
  | { readonly _tag: "consent"; readonly who: number; readonly grant: boolean; readonly all: boolean }
  | { readonly _tag: "fail"; readonly count: number; readonly reason: "Unavailable" | "Rejected" | "InvalidNumber" | "Throttled" }
  | { readonly _tag: "wait"; readonly hours: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    _tag: fc.constant("send" as const),
    who: fc.nat(people.length - 1),
    text: fc.nat(texts.length - 1),
    marketing: fc.boolean(),
    past: fc.boolean(),
    from: fc.boolean(),
    // a few keys, so repeats (the same request, or another one) come up
    key: fc.option(fc.constantFrom("order-1", "order-2", "order-3"), { nil: undefined })
  }) },
  { weight: 3, arbitrary: fc.record({
    _tag: fc.constant("template" as const),
    who: fc.nat(people.length - 1),
    id: fc.constantFrom("shipped", "shipped", "otp", "unknown"),
    variables: fc.nat(variableSets.length - 1),
    locale: fc.constantFrom(undefined, "de", "de-AT", "fr", "not a locale!")
  }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("consent" as const), who: fc.nat(3), grant: fc.boolean(), all: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({
    _tag: fc.constant("fail" as const),
    count: fc.integer({ min: 1, max: 4 }),
    reason: fc.constantFrom("Unavailable" as const, "Rejected" as const, "InvalidNumber" as const, "Throttled" as const)
  }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("wait" as const), hours: fc.integer({ min: 1, max: 13 }) }) }
)

const config: Sms.SmsConfig = {
  templates: [
    {
      id: "shipped",
      variables: Schema.Struct({ order: Schema.String, day: Schema.String }),
      locales: { default: "Order {{order}} ships on {{day}}.", de: "Bestellung {{order}} kommt am {{day}}." },
      status: "approved"
    },
    { id: "otp", variables: Schema.Struct({ code: Schema.String }), locales: { default: "Your code is {{code}}" } }
  ],
  defaultCountry: "GB",
  numbers: { allowedTypes: ["mobile", "fixed-line-or-mobile"] },
  consent: { quietHours: { start: "21:00", end: "08:00" } },
  maxSegments: 8,
  // retry jitter is seeded with the message id, which is random
  retry: { jitter: 0 }
}

// The same stores, but the message store is another object: it has no core,
// so every message takes the general lane.
const generalStores = Layer.merge(
  Sms.layerStoresMemory(config),
  Layer.effect(MessageStore.MessageStore, Effect.map(MessageStore.makeMemory(), (store) => MessageStore.MessageStore.of({ ...store })))
)

const reasonOf = (reason: Transport.TransportErrorReason["_tag"]) => Transport.reasonFromTag(reason)

const run = (steps: ReadonlyArray<Step>, lane: "express" | "general") =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.make({ name: "carrier" })
    const spare = yield* Sandbox.make({ name: "spare" })
    const layer = lane === "express"
      ? Sms.layer({ ...config, transports: [sandbox, spare] })
      : Sms.layerPipeline({ ...config, transports: [sandbox, spare] }).pipe(Layer.provideMerge(generalStores))
    const context = yield* Layer.build(layer)
    const sms = Context.get(context, Sms.Sms)
    const consent = Context.get(context, Consent.Consent)
    const subscription = yield* Context.get(context, Events.Events).subscribe
    // ids are random: number them in the order they appear
    const ids = new Map<string, number>()
    const idOf = (id: string) => {
      if (!ids.has(id)) ids.set(id, ids.size)
      return ids.get(id)!
    }
    const outcomes: Array<unknown> = []
    // Sends, lets retries run on the clock, and records the receipt or the refusal.
    const record = Effect.fnUntraced(function*(request: unknown) {
      const fiber = yield* Effect.forkChild(Effect.result(sms.send(request)))
      yield* TestClock.adjust("1 minute")
      const result = yield* Fiber.join(fiber)
      outcomes.push(
        result._tag === "Success"
          ? { ...result.success, id: idOf(result.success.id) }
          : JSON.parse(JSON.stringify(result.failure.reason))
      )
    })
    for (const s of steps) {
      switch (s._tag) {
        case "send": {
          const now = yield* Clock.currentTimeMillis
          yield* record({
            to: people[s.who]!,
            text: texts[s.text]!,
            purpose: s.marketing ? "marketing" : "transactional",
            ...(s.past ? { sendAt: now - 1_000 } : {}),
            ...(s.from ? { from: "ACME" } : {}),
            ...(s.key === undefined ? {} : { idempotencyKey: s.key })
          })
          break
        }
        case "template": {
          yield* record({
            to: people[s.who]!,
            template: s.id,
            variables: variableSets[s.variables]!,
            ...(s.locale === undefined ? {} : { locale: s.locale })
          })
          break
        }
        case "consent": {
          const change = { to: people[s.who]!.startsWith("+") ? people[s.who]! : "+447400123458", purpose: s.all ? "all" as const : "marketing" as const }
          yield* s.grant ? consent.grant(change) : consent.revoke(change)
          break
        }
        case "fail": {
          yield* sandbox.failNext(s.count, reasonOf(s.reason))
          break
        }
        case "wait": {
          yield* TestClock.adjust(`${s.hours} hours`)
          break
        }
      }
    }
    const stored = []
    for (const [id, n] of ids) {
      const message = yield* sms.get(id)
      stored.push({ ...message, id: n })
    }
    const published = (yield* PubSub.takeUpTo(subscription, 100_000)).map((e) =>
      e._tag === "StatusChanged" ? { ...e, messageId: idOf(e.messageId) } : e
    )
    const submissions = [...sandbox.sent(), ...spare.sent()].map((m) => ({ ...m, clientReference: idOf(m.clientReference) }))
    return { outcomes, stored, published, submissions }
  }).pipe(Effect.scoped)

describe("express and general lanes", () => {
  it("property: any sequence of sends (keyed or not), consent changes, carrier faults and waits ends the same way on both", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const express = await Effect.runPromise(run(steps, "express").pipe(Effect.provide(TestClock.layer())))
        const general = await Effect.runPromise(run(steps, "general").pipe(Effect.provide(TestClock.layer())))
        assert.deepStrictEqual(express, general)
      }),
      { numRuns: 200 }
    )
  })
})

describe("the express lane", () => {
  it.effect("is taken with the built-in stores: their effects are not run", () =>
    Effect.gen(function*() {
      const memory = yield* MessageStore.makeMemory()
      const refuse = () => Effect.die("the express lane ran an effect of the store")
      // the store's core, under a service whose insert and transition must not run
      const store = MessageStore.cores.register(
        MessageStore.MessageStore.of({ ...memory, insert: refuse, transition: refuse }),
        MessageStore.cores.of(memory)!
      )
      const sandbox = yield* Sandbox.make()
      const context = yield* Layer.build(
        Sms.layerPipeline({ transports: [sandbox], templates: config.templates }).pipe(
          Layer.provideMerge(Layer.merge(Sms.layerStoresMemory(), Layer.succeed(MessageStore.MessageStore, store)))
        )
      )
      const sms = Context.get(context, Sms.Sms)
      const receipt = yield* sms.send({ to: people[0]!, text: "Your parcel is out for delivery" })
      assert.strictEqual(receipt.status, "submitted")
      assert.strictEqual((yield* memory.get(receipt.id)).pipe(Option.map((m) => m.status), Option.getOrUndefined), "submitted")
      const templated = yield* sms.send({ to: people[0]!, template: "shipped", variables: { order: "4711", day: "Tuesday" }, locale: "de" })
      assert.strictEqual(templated.status, "submitted")
      assert.strictEqual(sandbox.sent().at(-1)?.text, "Bestellung 4711 kommt am Tuesday.")
    }).pipe(Effect.scoped))
})
