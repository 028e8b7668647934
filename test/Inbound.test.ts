import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Audit from "../src/Audit.ts"
import * as Consent from "../src/Consent.ts"
import * as Inbound from "../src/Inbound.ts"
import * as PhoneNumbers from "../src/PhoneNumbers.ts"
import type * as Transport from "../src/Transport.ts"

const US = "+12025550123"
const OURS = "+12025550100"

const layer = (options: Inbound.InboundOptions = {}, consent: Consent.ConsentOptions = {}) =>
  Inbound.layer(options).pipe(
    Layer.provideMerge(Layer.mergeAll(Consent.layerMemory(consent), PhoneNumbers.layerDefault, Audit.layerMemory()))
  )

const mo = (text: string, extra: Partial<Transport.InboundMessage> = {}): Transport.InboundMessage => ({
  _tag: "InboundMessage",
  transport: "sandbox",
  from: US,
  to: OURS,
  text,
  receivedAt: 0,
  ...extra
})

describe("keywords", () => {
  it("matches the standard and localised keywords", () => {
    const cases: ReadonlyArray<readonly [string, string | undefined, Inbound.KeywordAction | undefined]> = [
      ["STOP", undefined, "opt-out"],
      ["stop", "US", "opt-out"],
      ["  Stop!! ", "US", "opt-out"],
      ["STOPALL", undefined, "opt-out-all"],
      ["stop all", undefined, "opt-out-all"],
      ["Unsubscribe.", undefined, "opt-out"],
      ["cancel", undefined, "opt-out"],
      ["END", undefined, "opt-out"],
      ["quit", undefined, "opt-out"],
      ["Revoke", undefined, "opt-out"],
      ["OPTOUT", undefined, "opt-out"],
      ["opt-out", undefined, "opt-out"],
      ["Opt Out", undefined, "opt-out"],
      ["remove", undefined, "opt-out"],
      ["ＳＴＯＰ", undefined, "opt-out"],
      ["START", undefined, "opt-in"],
      ["unstop", undefined, "opt-in"],
      ["Yes!", undefined, "opt-in"],
      ["y", undefined, "positive"],
      ["HELP", undefined, "help"],
      ["info?", undefined, "help"],
      ["退订", "CN", "opt-out"],
      ["td", "CN", "opt-out"],
      ["T", "CN", "opt-out"],
      ["T", "US", undefined],
      ["退订。", "CN", "opt-out"],
      ["ARRET", "FR", "opt-out"],
      ["Arrêt", "FR", "opt-out"],
      ["stop", "FR", "opt-out"],
      ["oui", "FR", "opt-in"],
      ["BAJA", "ES", "opt-out"],
      ["alto", "MX", "opt-out"],
      ["STOPP", "DE", "opt-out"],
      ["please stop", "US", undefined],
      ["hello", undefined, undefined],
      ["", undefined, undefined]
    ]
    for (const [text, country, action] of cases) {
      assert.strictEqual(Inbound.matchKeyword(text, country)?.action, action, `${text} (${country})`)
    }
    assert.strictEqual(Inbound.matchKeyword("ARRÊT", "FR")?.locale, "fr")
  })

  it("is case- and whitespace-insensitive for every keyword (property)", () => {
    const sets = [
      [undefined, Inbound.builtinKeywords.default] as const,
      ...Object.entries(Inbound.builtinKeywords.byCountry).map(([c, s]) => [c, s] as const)
    ]
    const all = sets.flatMap(([country, set]) =>
      (["optOut", "optOutAll", "optIn", "help", "positive"] as const).flatMap((k) =>
        (set[k] ?? []).map((keyword) => ({ country, keyword }))
      )
    )
    const space = fc.constantFrom("", " ", "  ", "\t", "\n", "\u00A0")
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
        space,
        space,
        fc.constantFrom("", "!", ".", "?", "!!", "。", "！"),
        ({ country, keyword }, upper, lead, trail, punctuation) => {
          const expected = Inbound.matchKeyword(keyword, country)
          const cased = [...keyword].map((ch, i) => (upper[i % upper.length] ? ch.toUpperCase() : ch.toLowerCase())).join("")
          const variant = `${lead}${cased}${punctuation}${trail}`
          const got = Inbound.matchKeyword(variant, country)
          return expected !== undefined && got?.action === expected.action
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("custom sets are configurable per country", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const r = yield* inbound.handle(mo("nomore"))
      assert.strictEqual(r.action, "opt-out")
      const h = yield* inbound.handle(mo("STOP"))
      assert.strictEqual(h.action, "none")
    }).pipe(
      Effect.provide(layer({ keywords: { US: { optOut: ["NOMORE"] } }, replaceBuiltinKeywords: true })),
      Effect.runPromise
    ))
})

describe("reassembly", () => {
  const split = (text: string, n: number): Array<string> => {
    const size = Math.ceil(text.length / n) || 1
    return Array.from({ length: n }, (_, i) => text.slice(i * size, (i + 1) * size))
  }

  it("reassembles shuffled and duplicated parts into the original (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 2, maxLength: 300 }),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 255 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.infiniteStream(fc.nat()),
        (text, n, reference, duplicates, randoms) => {
          const pieces = split(text, n)
          const parts = pieces.map((t, i) => mo(t, { part: { reference, index: i + 1, count: n }, receivedAt: i }))
          const sent = [...parts, ...duplicates.map((d) => parts[d % n]!)]
          // Fisher–Yates with the generated randoms.
          const it = randoms[Symbol.iterator]()
          for (let i = sent.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1)
            ;[sent[i], sent[j]] = [sent[j]!, sent[i]!]
          }
          let state = Inbound.emptyReassembly
          const out: Array<Transport.InboundMessage> = []
          for (const p of sent) {
            const step = Inbound.reassemble(state, p, 0)
            state = step.state
            if (step.message !== undefined) out.push(step.message)
          }
          return out.length === 1 && out[0]!.text === pieces.join("") && out[0]!.part === undefined &&
            state.groups.size === 0
        }
      ),
      { numRuns: 500 }
    )
  })

  it("keeps senders and references apart, passes single messages through", () => {
    let s = Inbound.emptyReassembly
    const a1 = Inbound.reassemble(s, mo("Hel", { part: { reference: 7, index: 1, count: 2 } }), 0)
    s = a1.state
    const b2 = Inbound.reassemble(s, mo("X", { from: "+12025550124", part: { reference: 7, index: 2, count: 2 } }), 0)
    s = b2.state
    assert.isUndefined(a1.message)
    assert.isUndefined(b2.message)
    const single = Inbound.reassemble(s, mo("STOP"), 0)
    assert.strictEqual(single.message?.text, "STOP")
    const a2 = Inbound.reassemble(single.state, mo("lo", { part: { reference: 7, index: 2, count: 2 } }), 0)
    assert.strictEqual(a2.message?.text, "Hello")
    // An invalid header is read as a whole message.
    assert.strictEqual(Inbound.reassemble(s, mo("odd", { part: { reference: 1, index: 3, count: 2 } }), 0).message?.text, "odd")
  })

  it("drops incomplete messages after the TTL and beyond the bound", () => {
    let s = Inbound.emptyReassembly
    s = Inbound.reassemble(s, mo("a", { part: { reference: 1, index: 1, count: 2 } }), 0, { ttlMillis: 1000 }).state
    const late = Inbound.reassemble(s, mo("b", { part: { reference: 1, index: 2, count: 2 } }), 1000, { ttlMillis: 1000 })
    assert.isUndefined(late.message)
    assert.strictEqual(late.dropped, 1)
    let t = Inbound.emptyReassembly
    for (let r = 0; r < 10; r++) {
      t = Inbound.reassemble(t, mo("x", { part: { reference: r, index: 1, count: 2 } }), r, { maxPending: 3 }).state
    }
    assert.strictEqual(t.groups.size, 3)
  })
})

describe("Inbound", () => {
  it.effect("STOP opts out of marketing and answers with a transactional reply that bypasses consent", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const consent = yield* Consent.Consent
      yield* consent.grant({ to: US, purpose: "marketing" })
      const r = yield* inbound.handle({ from: "+1 (202) 555-0123", to: OURS, text: " stop ", transport: "sandbox" })
      assert.strictEqual(r.action, "opt-out")
      assert.strictEqual(r.scope, "marketing")
      assert.strictEqual(r.message.from, US)
      assert.include(r.reply ?? "", "ACME: ")
      assert.deepStrictEqual(r.replyMessage, {
        to: US,
        from: OURS,
        text: r.reply!,
        purpose: "transactional",
        bypassConsent: true
      })
      const exit = yield* Effect.flip(consent.check({ to: US, purpose: "marketing" }))
      assert.strictEqual(exit.reason._tag, "OptedOut")
      assert.strictEqual((yield* consent.check({ to: US, purpose: "transactional" }))._tag, "Allow")
      const record = Option.getOrThrow(yield* consent.get(US))
      assert.deepStrictEqual(
        [record.purposes["marketing"]?.evidence.source, record.purposes["marketing"]?.evidence.keyword],
        ["keyword", "stop"]
      )
      const audit = yield* Audit.Audit
      assert.deepStrictEqual((yield* audit.entries()).map((e) => e.kind), ["consent", "consent", "inbound"])
    }).pipe(Effect.provide(layer({ brand: "ACME" }))))

  it.effect("STOPALL blocks transactional messages too; START lifts it", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const consent = yield* Consent.Consent
      const r = yield* inbound.handle(mo("STOPALL"))
      assert.strictEqual(r.scope, "all")
      assert.strictEqual((yield* Effect.flip(consent.check({ to: US, purpose: "transactional" }))).reason._tag, "OptedOut")
      yield* TestClock.adjust("1 minute")
      const s = yield* inbound.handle(mo("start"))
      assert.strictEqual(s.action, "opt-in")
      assert.strictEqual((yield* consent.check({ to: US, purpose: "transactional" }))._tag, "Allow")
    }).pipe(Effect.provide(layer())))

  it.effect("START only undoes an opt-out, unless keywordOptIn is on", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const consent = yield* Consent.Consent
      const none = yield* inbound.handle(mo("YES"))
      assert.deepStrictEqual([none.action, none.reply], ["none", undefined])
      assert.strictEqual((yield* Effect.flip(consent.check({ to: US, purpose: "marketing" }))).reason._tag, "ConsentRequired")
      yield* consent.grant({ to: US, purpose: "marketing" })
      yield* inbound.handle(mo("STOP"))
      const back = yield* inbound.handle(mo("Start"))
      assert.deepStrictEqual([back.action, back.scope], ["opt-in", "marketing"])
      assert.strictEqual((yield* consent.check({ to: US, purpose: "marketing" }))._tag, "Allow")
    }).pipe(Effect.provide(layer())))

  it.effect("with keywordOptIn, START joins the program", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const consent = yield* Consent.Consent
      assert.strictEqual((yield* inbound.handle(mo("START"))).action, "opt-in")
      assert.strictEqual((yield* consent.check({ to: US, purpose: "marketing" }))._tag, "Allow")
    }).pipe(Effect.provide(layer({ keywordOptIn: true }))))

  it.effect("a positive reply confirms a pending double opt-in", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const consent = yield* Consent.Consent
      // Without anything pending, Y means nothing.
      assert.strictEqual((yield* inbound.handle(mo("Y"))).action, "none")
      yield* consent.requestConfirmation({ to: US, purpose: "marketing", text: "Reply YES for ACME deals" })
      const r = yield* inbound.handle(mo("y"))
      assert.strictEqual(r.action, "confirm")
      assert.deepStrictEqual(r.confirmed, ["marketing"])
      assert.strictEqual((yield* consent.check({ to: US, purpose: "marketing" }))._tag, "Allow")
      const evidence = Option.getOrThrow(yield* consent.get(US)).purposes["marketing"]?.evidence
      assert.strictEqual(evidence?.text, "Reply YES for ACME deals")
      assert.strictEqual(evidence?.keyword, "y")
    }).pipe(Effect.provide(layer())))

  it.effect("HELP answers in the keyword's language; replies are off for transactional-only senders", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const fr = yield* inbound.handle(mo("AIDE", { from: "+33612345678" }))
      assert.strictEqual(fr.action, "help")
      assert.include(fr.reply ?? "", "Répondez")
      const en = yield* inbound.handle(mo("help"))
      assert.include(en.reply ?? "", "Reply STOP")
      const silent = yield* inbound.handle(mo("STOP", { to: "+12025550199" }))
      assert.strictEqual(silent.action, "opt-out")
      assert.isUndefined(silent.reply)
      assert.isUndefined(silent.replyMessage)
    }).pipe(Effect.provide(layer({ transactionalOnlySenders: ["+12025550199"] }))))

  it.effect("a Chinese sender opts out with 退订 and gets a Chinese reply", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const consent = yield* Consent.Consent
      const r = yield* inbound.handle(mo(" 退订 ", { from: "+8613800138000" }))
      assert.deepStrictEqual([r.action, r.keyword?.locale], ["opt-out", "zh"])
      assert.include(r.reply ?? "", "退订")
      const e = yield* Effect.flip(consent.check({ to: "+8613800138000", purpose: "marketing" }))
      assert.strictEqual(e.reason._tag, "OptedOut")
      // T alone is a keyword for Chinese numbers only.
      assert.strictEqual((yield* inbound.handle(mo("T"))).action, "none")
    }).pipe(Effect.provide(layer())))

  it.effect("reply texts are configurable and can be turned off", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      assert.strictEqual((yield* inbound.handle(mo("STOP"))).reply, "Bye from {brand}".replace("{brand}", "Shop"))
      assert.isUndefined((yield* inbound.handle(mo("HELP"))).reply)
    }).pipe(Effect.provide(layer({ brand: "Shop", replyTexts: { "opt-out": "Bye from {brand}", help: false } }))))

  it.effect("parts are joined by index, not by arrival order", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const first = yield* inbound.handle(mo("ST", { part: { reference: 3, index: 2, count: 2 } }))
      assert.deepStrictEqual([first.action, first.complete], ["none", false])
      assert.strictEqual((yield* inbound.handle(mo("OP", { part: { reference: 3, index: 1, count: 2 } }))).action, "none")
    }).pipe(Effect.provide(layer())))

  it.effect("parts in order complete the message", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      yield* inbound.handle(mo("ST", { part: { reference: 3, index: 1, count: 2 } }))
      const done = yield* inbound.handle(mo("OP", { part: { reference: 3, index: 2, count: 2 } }))
      assert.deepStrictEqual([done.action, done.complete, done.message.text], ["opt-out", true, "STOP"])
    }).pipe(Effect.provide(layer())))

  it.effect("bad input fails with InvalidRequest naming the field; an unreadable sender does nothing", () =>
    Effect.gen(function*() {
      const inbound = yield* Inbound.Inbound
      const e = yield* Effect.flip(inbound.handle({ from: US, to: OURS }))
      assert.deepStrictEqual([e.reason._tag, "field" in e.reason ? e.reason.field : undefined], ["InvalidRequest", "text"])
      const n = yield* Effect.flip(inbound.handle(null))
      assert.strictEqual("field" in n.reason ? n.reason.field : undefined, "message")
      const r = yield* inbound.handle({ from: "ACME", to: OURS, text: "STOP" })
      assert.deepStrictEqual([r.action, r.complete], ["none", true])
    }).pipe(Effect.provide(layer())))
})
