import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { createSmsClient } from "smsforge"
import {
  createNotices,
  NoticeRules,
  Notices,
  noticeTemplates,
  OrderEvents,
  OrderProgress
} from "../commerce/index.ts"
import { Sandbox } from "smsforge/testing"
import { describe, expect } from "vitest"

const templates = noticeTemplates({ brand: "Acme", approved: true })
const contact = { phone: "07400 123456", country: "GB" }
const event = (orderId: string, stage: OrderEvents.Stage, extra: Partial<OrderEvents.OrderEvent> = {}): OrderEvents.OrderEvent => ({
  platform: "shopify",
  shop: "acme.myshopify.com",
  orderId,
  orderName: `#${orderId}`,
  stage,
  contact,
  ...extra
})

const setup = () => {
  const carrier = Sandbox.makeUnsafe()
  const client = createSmsClient({ transports: [carrier], templates })
  const notices = createNotices({ client, templates })
  const close = async () => {
    await notices.close()
    await client.close()
  }
  return { carrier, client, notices, close }
}

const rank = (templateId: string) => OrderEvents.stages.indexOf(templateId.replace(/^commerce-/, "").replace(/-tracked$/, "") as "placed")

describe("notices through the pipeline", () => {
  it("sends each stage once, in the customer's language, with the Chinese signature first", async () => {
    const { carrier, notices, close } = setup()
    try {
      const zh = { phone: "13800138000", country: "CN", locale: "zh-CN" }
      expect((await notices.notify(event("1001", "placed", { contact: zh })))._tag).toBe("Sent")
      const tracked = event("1001", "fulfilled", { tracking: { number: "SF1234567890", carrier: "SF Express" }, contact: {} })
      expect((await notices.notify(tracked))._tag).toBe("Sent")
      expect((await notices.notify(event("1001", "placed", { contact: zh })))._tag).toBe("Duplicate")
      const texts = carrier.sent().map((m) => m.text)
      expect(texts).toEqual(["【Acme】您的订单#1001已提交，发货后我们会短信通知您。", "【Acme】订单#1001已由SF Express发出，运单号SF1234567890。"])
      expect(carrier.sent()[0]?.to).toBe("+8613800138000")

      await notices.notify(event("2002", "out_for_delivery", { contact: { phone: "+4915123456789", locale: "de-DE" } }))
      expect(carrier.sent()[2]?.text).toBe("Acme: Bestellung #2002 wird heute zugestellt.")
      await notices.notify(event("3003", "in_customs", { contact: { phone: "+33612345678", country: "FR" } }))
      expect(carrier.sent()[3]?.text).toBe("Acme : la commande #3003 est en dédouanement.")
    } finally {
      await close()
    }
  })

  it("never goes backwards: shipped after delivered is stale, an exception after delivered too", async () => {
    const { carrier, notices, close } = setup()
    try {
      expect((await notices.notify(event("1", "delivered")))._tag).toBe("Sent")
      expect((await notices.notify(event("1", "fulfilled")))._tag).toBe("Stale")
      expect((await notices.notify(event("1", "exception", { eventId: "e1" })))._tag).toBe("Stale")
      expect((await notices.notify(event("2", "exception", { eventId: "e1" })))._tag).toBe("Sent")
      expect((await notices.notify(event("2", "exception", { eventId: "e2" })))._tag).toBe("Sent")
      expect((await notices.notify(event("2", "exception", { eventId: "e2" })))._tag).toBe("Duplicate")
      expect(carrier.sent().map((m) => m.template?.id)).toEqual(["commerce-delivered", "commerce-exception", "commerce-exception"])
    } finally {
      await close()
    }
  })

  it("remembers the contact for tracking events that carry none, and skips an order without a number", async () => {
    const { carrier, notices, close } = setup()
    try {
      await notices.notify(event("9", "placed"))
      expect((await notices.notify(event("9", "in_transit", { contact: undefined })))._tag).toBe("Sent")
      expect(carrier.sent()[1]?.to).toBe("+447400123456")
      const skipped = await notices.notify(event("10", "placed", { contact: { country: "GB" } }))
      expect(skipped).toEqual({ _tag: "Skipped", stage: "placed", why: "no-contact" })
    } finally {
      await close()
    }
  })

  it("gives the claim back when the send fails, so the platform's retry sends", async () => {
    const carrier = Sandbox.makeUnsafe()
    const client = createSmsClient({ transports: [carrier], templates })
    let failNext = true
    const notices = createNotices({
      templates,
      client: {
        send: (request) => {
          if (failNext) {
            failNext = false
            return Promise.reject(Object.assign(new Error("down"), { _tag: "AllRoutesFailed" }))
          }
          return client.send(request)
        }
      }
    })
    try {
      const error = await notices.notify(event("5", "paid")).then(() => undefined, (e: Notices.NoticeError) => e)
      expect(error?.reason).toMatchObject({ _tag: "SendFailed", tag: "AllRoutesFailed", retryable: true })
      expect(error?.isRetryable).toBe(true)
      expect((await notices.notify(event("5", "paid")))._tag).toBe("Sent")
      expect(carrier.sent()).toHaveLength(1)
    } finally {
      await notices.close()
      await client.close()
    }
  })

  it("a send the pipeline refuses for good is not retryable: templates the client was never given", async () => {
    const carrier = Sandbox.makeUnsafe()
    const client = createSmsClient({ transports: [carrier] })
    const notices = createNotices({ client, templates })
    try {
      const error = await notices.notify(event("6", "placed")).then(() => undefined, (e: Notices.NoticeError) => e)
      expect(error?.reason).toMatchObject({ _tag: "SendFailed", tag: "TemplateNotFound", retryable: false })
      expect(error?.isRetryable).toBe(false)
    } finally {
      await notices.close()
      await client.close()
    }
  })
})

describe("the carriers' notice rules", () => {
  const refusal = async (options: { templates?: typeof templates; event?: OrderEvents.OrderEvent }) => {
    const sent: Array<unknown> = []
    const notices = createNotices({
      templates: options.templates ?? templates,
      client: { send: async (r) => (sent.push(r), { id: "m", status: "submitted" }) }
    })
    const error = await notices.notify(options.event ?? event("1", "placed")).then(() => undefined, (e: Notices.NoticeError) => e)
    await notices.close()
    expect(sent).toEqual([])
    return error?.reason
  }

  it("refuses a template not approved", async () => {
    expect(await refusal({ templates: noticeTemplates({ brand: "Acme" }) })).toMatchObject({ _tag: "NotApproved", template: "commerce-placed" })
  })

  it("refuses marketing words and a Chinese body without its signature", async () => {
    const withSale = templates.map((t) => t.id === "commerce-placed" ? { ...t, locales: { ...t.locales, default: "Acme: order {{order}} placed. Big SALE today!" } } : t)
    expect(await refusal({ templates: withSale })).toMatchObject({ _tag: "MarketingWords", field: "locales.default", word: "sale" })
    const unsigned = templates.map((t) => t.id === "commerce-placed" ? { ...t, locales: { ...t.locales, "zh-Hans": "您的订单{{order}}已提交。" } } : t)
    expect(await refusal({ templates: unsigned })).toMatchObject({ _tag: "MissingSignature", field: "locales.zh-Hans" })
  })

  it("refuses a variable over 80 characters and a number it cannot read, naming the field only", async () => {
    const long = await refusal({ event: event("1", "placed", { orderName: "#" + "9".repeat(80) }) })
    expect(long).toMatchObject({ _tag: "VariableTooLong", field: "variables.order", maxLength: 80 })
    const bad = await refusal({ event: event("1", "placed", { contact: { phone: "12", country: "GB" } }) })
    expect(bad).toEqual(expect.objectContaining({ _tag: "InvalidRecipient", field: "contact.phone" }))
    expect(JSON.stringify(bad)).not.toContain("12\"")
  })

  it("finds marketing words in every language, and none in the ready-made templates", () => {
    expect(["Rabatt heute", "50% off", "免费送", "セール開催", "Gran oferta", "Des soldes"].map(NoticeRules.marketingWord)).toEqual([
      "rabatt", "% off", "免费", "セール", "oferta", "soldes"
    ])
    expect(NoticeRules.marketingWord("Your order has shipped")).toBeUndefined()
    expect(templates.map(NoticeRules.checkTemplate)).toEqual(templates.map(() => undefined))
  })
})

describe("idempotency keys", () => {
  it("depend on platform, shop, order and stage only, and hold no personal data", () => {
    const a = Notices.idempotencyKeyOf(event("1001", "paid"))
    expect(a).toBe(Notices.idempotencyKeyOf(event("1001", "paid", { contact: { phone: "+33612345678" } })))
    expect(a).not.toBe(Notices.idempotencyKeyOf(event("1001", "paid", { shop: "other.myshopify.com" })))
    expect(a).not.toBe(Notices.idempotencyKeyOf(event("1001", "paid", { platform: "woocommerce" })))
    expect(a).not.toBe(Notices.idempotencyKeyOf(event("1001", "placed")))
    expect(a).toMatch(/^commerce:[0-9a-f]{64}$/)
  })
})

describe("properties", () => {
  const stageArb = fc.constantFrom<OrderEvents.Stage>(
    "placed", "paid", "fulfilled", "in_transit", "in_customs", "out_for_delivery", "delivered", "exception"
  )
  const deliveries = fc.array(
    fc.record({ order: fc.constantFrom("A", "B"), stage: stageArb, eventId: fc.constantFrom("x", "y") }),
    { minLength: 1, maxLength: 14 }
  ).chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: 0 })))

  it("a webhook delivered twice or out of order never sends twice and never sends backwards", async () => {
    await fc.assert(
      fc.asyncProperty(deliveries, async ([events, redelivered]) => {
        const { carrier, notices, close } = setup()
        try {
          for (const e of [...events, ...redelivered]) {
            await notices.notify(event(e.order, e.stage, e.stage === "exception" ? { eventId: e.eventId } : {}))
          }
          for (const order of ["A", "B"]) {
            const sent = carrier.sent().filter((m) => m.template?.variables.order === `#${order}`).map((m) => m.template!.id)
            const ranked = sent.filter((id) => id !== "commerce-exception").map(rank)
            expect(ranked).toEqual([...ranked].sort((x, y) => x - y))
            expect(new Set(ranked).size).toBe(ranked.length)
            expect(sent.filter((id) => id === "commerce-exception").length).toBeLessThanOrEqual(2)
            const delivered = sent.indexOf("commerce-delivered")
            if (delivered !== -1) expect(sent.slice(delivered + 1)).toEqual([])
          }
        } finally {
          await close()
        }
      }),
      { numRuns: 60 }
    )
  })

  it("deliveries racing each other still send each notice at most once", async () => {
    await fc.assert(
      fc.asyncProperty(deliveries, async ([events, redelivered]) => {
        const { carrier, notices, close } = setup()
        try {
          await Promise.all([...events, ...redelivered, ...events].map((e) =>
            notices.notify(event(e.order, e.stage, e.stage === "exception" ? { eventId: e.eventId } : {}))
          ))
          const keys = carrier.sent().map((m) => `${m.template?.variables.order}:${m.template?.id}`)
          const stagesSent = keys.filter((k) => !k.includes("commerce-exception"))
          expect(new Set(stagesSent).size).toBe(stagesSent.length)
        } finally {
          await close()
        }
      }),
      { numRuns: 40 }
    )
  })
})

describe("OrderProgress memory store", () => {
  it.effect("writes only at the version read, and erases a subject's records", () =>
    Effect.gen(function*() {
      const store = yield* OrderProgress.OrderProgressStore
      const progress = { rank: 0, sent: ["placed"], subject: OrderProgress.digest("+447400123456") }
      assert.isTrue(yield* store.set("k1", progress, { expectedVersion: undefined, expiresAt: 10_000 }))
      assert.isFalse(yield* store.set("k1", progress, { expectedVersion: undefined, expiresAt: 10_000 }))
      assert.isTrue(yield* store.set("k1", { ...progress, rank: 1 }, { expectedVersion: 0, expiresAt: 10_000 }))
      assert.strictEqual(Option.getOrThrow(yield* store.get("k1")).version, 1)
      assert.strictEqual((yield* store.findSubject(progress.subject)).length, 1)
      assert.strictEqual(yield* store.eraseSubject(progress.subject), 1)
      assert.isTrue(Option.isNone(yield* store.get("k1")))
    }).pipe(Effect.provide(Layer.fresh(OrderProgress.layerStoreMemory))))
})

describe("Notices on the Effect API", () => {
  const sent: Array<Notices.NoticeRequest> = []
  const Live = Notices.layer({
    templates,
    retention: 24 * 3600_000,
    stages: ["fulfilled", "delivered"],
    client: { send: async (r) => (sent.push(r), { id: `m${sent.length}`, status: "submitted" }) }
  }).pipe(Layer.provide(OrderProgress.layerStoreMemory))

  it.effect("stages turned off advance the order without a text; progress is forgotten after the retention", () =>
    Effect.gen(function*() {
      const notices = yield* Notices.Notices
      assert.deepStrictEqual(yield* notices.notify(event("1", "placed")), { _tag: "Skipped", stage: "placed", why: "stage-off" })
      assert.strictEqual((yield* notices.notify(event("1", "fulfilled")))._tag, "Sent")
      assert.strictEqual((yield* notices.notify(event("1", "fulfilled")))._tag, "Duplicate")
      assert.deepStrictEqual(sent.map((r) => [r.template, r.to, r.purpose, r.locale]), [["commerce-fulfilled", "+447400123456", "transactional", undefined]])
      yield* TestClock.adjust("25 hours")
      // A day later the order is unknown again: the pipeline's idempotency key is the last guard against a resend.
      const again = yield* notices.notify(event("1", "fulfilled"))
      assert.strictEqual(again._tag, "Sent")
      assert.strictEqual(sent[1]?.idempotencyKey, sent[0]?.idempotencyKey)
    }).pipe(Effect.provide(Live)))
})
