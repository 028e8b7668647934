import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Metric, Option, PubSub, Redacted } from "effect"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Events from "../src/Events.ts"
import { totpGenerate } from "../src/internal/verification/otp.ts"
import * as PhoneNumbers from "../src/PhoneNumbers.ts"
import * as Store from "../src/Store.ts"
import * as Verification from "../src/Verification.ts"

// A recording sender: the only place a code exists outside the service.

interface Sent {
  readonly to: string
  readonly text: string
  readonly channel: Verification.Channel
  readonly messageId: string
  readonly locale?: string | undefined
  readonly tenant?: string | undefined
}

interface Outbox {
  readonly sent: Array<Sent>
  readonly status: Map<string, "pending" | "delivered" | "failed">
  failNext: number
}

const makeOutbox = (): Outbox => ({ sent: [], status: new Map(), failNext: 0 })

const senderLayer = (box: Outbox) =>
  Layer.succeed(Verification.VerificationSender, {
    send: (message) =>
      Effect.suspend(() => {
        if (box.failNext > 0) {
          box.failNext -= 1
          return Effect.fail(new Verification.VerificationSendError({ code: "AllRoutesFailed" }))
        }
        const messageId = `m${box.sent.length + 1}`
        box.sent.push({ ...message, messageId })
        box.status.set(messageId, "pending")
        return Effect.succeed({ messageId })
      }),
    deliveryStatus: (messageId) => Effect.sync(() => box.status.get(messageId) ?? "pending")
  })

/** The code in the latest text sent to `to` (voice texts spell it out). */
const codeFor = (box: Outbox, to: string): string => {
  const last = box.sent.filter((s) => s.to === to).at(-1)
  const digits = last?.text.replace(/, /g, "").match(/\d{4,10}/)?.[0]
  if (digits === undefined) throw new Error("no code sent")
  return digits
}

const env = (box: Outbox, options: Verification.VerificationOptions = {}) =>
  Verification.layerMemoryWith(options).pipe(
    Layer.provideMerge(Layer.mergeAll(senderLayer(box), PhoneNumbers.layerDefault, Events.layer()))
  )

const UK = "+447400123456"
const UK2 = "+447400123457"
const FR = "+33612345678"
const PREMIUM = "+449098790000"

const reasonOf = <A>(exit: Exit.Exit<A, Verification.StartError>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") return "defect"
  return error.error.reason._tag
}

const failure = <A>(exit: Exit.Exit<A, Verification.StartError>): Verification.VerificationErrorReason => {
  if (Exit.isFailure(exit)) {
    const error = exit.cause.reasons.find((r) => r._tag === "Fail")
    if (error !== undefined && error._tag === "Fail" && error.error._tag === "VerificationError") {
      return error.error.reason
    }
  }
  throw new Error("expected a VerificationError")
}

const wrongCode = (code: string) => code.split("").map((d) => String((Number(d) + 1) % 10)).join("")

describe("Verification", () => {
  describe("start and check", () => {
    it.effect("sends a code and answers pending, never the code", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const started = yield* verify.start({ to: UK })
        assert.strictEqual(started.status, "pending")
        assert.strictEqual(started.to, UK)
        assert.strictEqual(started.channel, "sms")
        assert.strictEqual(started.sendAttempts, 1)
        assert.strictEqual(started.expiresAt, 10 * 60_000)
        assert.match(started.verificationId, /^vrf_/)
        assert.strictEqual(box.sent.length, 1)
        const code = codeFor(box, UK)
        assert.strictEqual(code.length, 6)
        assert.strictEqual(box.sent[0]!.text, `Your verification code is ${code}. It expires in 10 minutes.`)
        assert.notInclude(JSON.stringify(started), code)
        const info = yield* verify.get({ verificationId: started.verificationId })
        assert.notInclude(JSON.stringify(info), code)
      }).pipe(Effect.provide(env(box)))
    })

    it.effect("approves the right code once, then the verification is spent", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        const code = codeFor(box, UK)
        const wrong = yield* verify.check({ verificationId, code: wrongCode(code) })
        assert.strictEqual(wrong.status, "pending")
        assert.strictEqual(wrong.attemptsLeft, 4)
        const right = yield* verify.check({ verificationId, code })
        assert.strictEqual(right.status, "approved")
        assert.strictEqual(right.channel, "sms")
        const again = yield* Effect.exit(verify.check({ verificationId, code }))
        assert.strictEqual(reasonOf(again), "VerificationNotFound")
      }).pipe(Effect.provide(env(box)))
    })

    it.effect("a spent verification keeps neither the nonce nor the code's hash", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const store = yield* Verification.VerificationStore
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        const stored = () =>
          Effect.map(store.get(`v:${verificationId}`), (found) => {
            const value = Option.getOrThrow(found).value
            if (value._tag !== "Verification") throw new Error("not a verification")
            return value
          })
        const pending = yield* stored()
        assert.isAbove(pending.nonce.length, 0)
        assert.isAbove(pending.codeHash.length, 0)
        yield* verify.check({ verificationId, code: codeFor(box, UK) })
        const spent = yield* stored()
        assert.strictEqual(spent.status, "approved")
        assert.strictEqual(spent.nonce, "")
        assert.strictEqual(spent.codeHash, "")
      }).pipe(
        Effect.provide(Verification.layer().pipe(
          Layer.provideMerge(Layer.mergeAll(
            Verification.layerStoreMemory,
            RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory)),
            senderLayer(box),
            PhoneNumbers.layerDefault
          ))
        ))
      )
    })

    it.effect("checks by recipient, in national format too", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        yield* verify.start({ to: "07400 123456", defaultCountry: "GB" })
        const result = yield* verify.check({ to: UK, code: `${codeFor(box, UK).slice(0, 3)} ${codeFor(box, UK).slice(3)}` })
        assert.strictEqual(result.status, "approved")
      }).pipe(Effect.provide(env(box)))
    })

    it.effect("answers expired after the time to live and counts the expiry", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: FR })
        const code = codeFor(box, FR)
        yield* TestClock.adjust("9 minutes")
        assert.strictEqual((yield* verify.get({ verificationId })).status, "pending")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* verify.check({ verificationId, code })).status, "expired")
        assert.strictEqual((yield* verify.check({ verificationId, code })).status, "expired")
        const stats = yield* verify.stats
        assert.strictEqual(stats.expiries, 1)
        assert.strictEqual(stats.countries["FR"]?.expiries, 1)
        // A new start after expiry is a new verification.
        const next = yield* verify.start({ to: FR })
        assert.notStrictEqual(next.verificationId, verificationId)
      }).pipe(Effect.provide(env(box, { ttl: "10 minutes" })))
    })

    it.effect("answers canceled after cancel", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        const code = codeFor(box, UK)
        assert.strictEqual((yield* verify.cancel({ verificationId })).status, "canceled")
        assert.strictEqual((yield* verify.check({ verificationId, code })).status, "canceled")
        assert.strictEqual((yield* verify.check({ to: UK, code })).status, "canceled")
        // Start after cancel creates a new one.
        const next = yield* verify.start({ to: UK })
        assert.notStrictEqual(next.verificationId, verificationId)
      }).pipe(Effect.provide(env(box)))
    })

    it.effect("locks after the maximum of wrong checks, even for the right code", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        const code = codeFor(box, UK)
        for (let i = 0; i < 5; i++) {
          const r = yield* verify.check({ verificationId, code: wrongCode(code) })
          assert.strictEqual(r.status, "pending")
          assert.strictEqual(r.attemptsLeft, 4 - i)
        }
        const locked = yield* Effect.exit(verify.check({ verificationId, code }))
        const reason = failure(locked)
        assert.strictEqual(reason._tag, "TooManyAttempts")
        assert.isTrue((yield* verify.get({ verificationId })).locked)
        // A resend cannot unlock it.
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(reasonOf(yield* Effect.exit(verify.resend({ verificationId }))), "TooManyAttempts")
      }).pipe(Effect.provide(env(box)))
    })

    it.effect("supports 4 to 10 digit codes", () =>
      Effect.gen(function*() {
        for (const codeLength of [4, 10]) {
          const box = makeOutbox()
          yield* Effect.gen(function*() {
            const verify = yield* Verification.Verification
            const { verificationId } = yield* verify.start({ to: UK })
            const code = codeFor(box, UK)
            assert.strictEqual(code.length, codeLength)
            assert.strictEqual((yield* verify.check({ verificationId, code })).status, "approved")
          }).pipe(Effect.provide(env(box, { codeLength })))
        }
        const bad = yield* Effect.exit(Layer.build(env(makeOutbox(), { codeLength: 3 })).pipe(Effect.scoped))
        assert.isTrue(Exit.isFailure(bad))
      }))
  })

  describe("input", () => {
    it.effect("refuses malformed input with typed errors naming the field, never a defect", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const bad = yield* Effect.exit(verify.start({ to: "not a number" }))
        assert.isTrue(Exit.isFailure(bad))
        if (Exit.isFailure(bad)) {
          const f = bad.cause.reasons[0]
          assert.strictEqual(f?._tag, "Fail")
          if (f?._tag === "Fail") {
            assert.strictEqual(f.error._tag, "PhoneNumberError")
            assert.strictEqual(f.error.reason._tag, "InvalidPhoneNumber")
          }
        }
        const channel = failure(yield* Effect.exit(verify.start({ to: UK, channel: "fax" as never })))
        assert.deepStrictEqual([channel._tag, "field" in channel ? channel.field : ""], ["InvalidRequest", "channel"])
        const voice = failure(yield* Effect.exit(verify.start({ to: UK, channel: "voice" })))
        assert.strictEqual(voice._tag, "InvalidRequest")
        const locale = failure(yield* Effect.exit(verify.start({ to: UK, locale: "<script>" })))
        assert.deepStrictEqual([locale._tag, "field" in locale ? locale.field : ""], ["InvalidRequest", "locale"])
        const nothing = failure(yield* Effect.exit(verify.start(null as never)))
        assert.strictEqual(nothing._tag, "InvalidRequest")
        const { verificationId } = yield* verify.start({ to: UK })
        for (const code of ["12345", "abcdef", "1234567", "", 123456 as never]) {
          const r = failure(yield* Effect.exit(verify.check({ verificationId, code })))
          assert.deepStrictEqual([r._tag, "field" in r ? r.field : ""], ["InvalidCode", "code"])
        }
        // Malformed codes cost no attempt.
        assert.strictEqual((yield* verify.get({ verificationId })).wrongChecks, 0)
        const noTarget = failure(yield* Effect.exit(verify.check({ code: "123456" })))
        assert.strictEqual(noTarget._tag, "InvalidRequest")
        const badId = failure(yield* Effect.exit(verify.check({ verificationId: "x", code: "123456" })))
        assert.deepStrictEqual([badId._tag, "field" in badId ? badId.field : ""], ["InvalidRequest", "verificationId"])
        const unknown = failure(yield* Effect.exit(verify.check({ verificationId: "vrf_AAAAAAAAAAAAAAAAAAAAAAAA", code: "123456" })))
        assert.strictEqual(unknown._tag, "VerificationNotFound")
        const unknownTo = failure(yield* Effect.exit(verify.check({ to: FR, code: "123456" })))
        assert.deepStrictEqual([unknownTo._tag, "field" in unknownTo ? unknownTo.field : ""], ["VerificationNotFound", "to"])
        const ops: Array<(target: never) => Effect.Effect<unknown, Verification.StartError>> = [
          verify.resend,
          verify.cancel,
          verify.get
        ]
        for (const target of [null, 42, "vrf_x"] as Array<never>) {
          for (const op of ops) {
            const r = failure(yield* Effect.exit(op(target)))
            assert.deepStrictEqual([r._tag, "field" in r ? r.field : ""], ["InvalidRequest", "verificationId"])
          }
        }
      }).pipe(Effect.provide(env(box)))
    })

    it.effect("keeps tenants apart", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const a = yield* verify.start({ to: UK, tenant: "a" })
        const code = codeFor(box, UK)
        const cross = failure(yield* Effect.exit(verify.check({ verificationId: a.verificationId, code, tenant: "b" })))
        assert.strictEqual(cross._tag, "VerificationNotFound")
        const b = yield* verify.start({ to: UK, tenant: "b" })
        assert.notStrictEqual(a.verificationId, b.verificationId)
        assert.strictEqual(box.sent[1]?.tenant, "b")
      }).pipe(Effect.provide(env(box)))
    })
  })

  describe("resend", () => {
    it.effect("honours the cooldown and replaces the code", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        const first = codeFor(box, UK)
        yield* TestClock.adjust("10 seconds")
        const early = failure(yield* Effect.exit(verify.resend({ verificationId })))
        assert.strictEqual(early._tag, "ResendCooldown")
        if (early._tag === "ResendCooldown") assert.strictEqual(Duration.toMillis(early.retryAfter), 20_000)
        yield* TestClock.adjust("20 seconds")
        const again = yield* verify.resend({ verificationId })
        assert.strictEqual(again.verificationId, verificationId)
        assert.strictEqual(again.sendAttempts, 2)
        const second = codeFor(box, UK)
        if (second !== first) {
          assert.strictEqual((yield* verify.check({ verificationId, code: first })).status, "pending")
        }
        assert.strictEqual((yield* verify.check({ verificationId, code: second })).status, "approved")
      }).pipe(Effect.provide(env(box)))
    })

    it.effect("start while pending reuses the verification as a resend", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const a = yield* verify.start({ to: UK })
        assert.strictEqual(reasonOf(yield* Effect.exit(verify.start({ to: UK }))), "ResendCooldown")
        yield* TestClock.adjust("30 seconds")
        const b = yield* verify.start({ to: UK, locale: "fr" })
        assert.strictEqual(b.verificationId, a.verificationId)
        assert.strictEqual(b.sendAttempts, 2)
        assert.match(box.sent[1]!.text, /^Votre code de vérification est \d{6}\./)
        assert.strictEqual((yield* verify.check({ to: UK, code: codeFor(box, UK) })).status, "approved")
      }).pipe(Effect.provide(env(box)))
    })

    it.effect("allows 5 sends per 10 minutes, then says when to try again", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        for (let i = 0; i < 4; i++) {
          yield* TestClock.adjust("30 seconds")
          yield* verify.resend({ verificationId })
        }
        yield* TestClock.adjust("30 seconds")
        const refused = failure(yield* Effect.exit(verify.resend({ verificationId })))
        assert.strictEqual(refused._tag, "TooManySends")
        if (refused._tag !== "TooManySends") return
        const wait = Duration.toMillis(refused.retryAfter)
        assert.isTrue(wait > 0 && wait <= 10 * 60_000)
        yield* TestClock.adjust(Duration.millis(wait))
        // The verification expired meanwhile; a new start goes through.
        const fresh = yield* verify.start({ to: UK })
        assert.strictEqual(fresh.status, "pending")
      }).pipe(Effect.provide(env(box, { ttl: "30 minutes" }).pipe(Layer.fresh)))
    })

    it.effect("a failed send costs no cooldown", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        box.failNext = 1
        const failed = failure(yield* Effect.exit(verify.start({ to: UK })))
        assert.strictEqual(failed._tag, "DeliveryFailed")
        const retried = yield* verify.start({ to: UK })
        assert.strictEqual(retried.sendAttempts, 2)
        assert.strictEqual((yield* verify.check({ to: UK, code: codeFor(box, UK) })).status, "approved")
      }).pipe(Effect.provide(env(box)))
    })
  })

  describe("texts", () => {
    it.effect("localises, falls back to English, spells codes out for voice", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        yield* verify.start({ to: UK, locale: "es" })
        yield* verify.start({ to: UK2, locale: "pt-BR" })
        yield* verify.start({ to: FR, locale: "xx-YY", channel: "voice" })
        yield* verify.start({ to: "+8613800138000", locale: "zh-CN" })
        const [es, pt, voice, zh] = box.sent.map((s) => s.text)
        assert.match(es!, /^Acme: Tu código de verificación es \d{6}\. Caduca en 10 minutos\.$/)
        assert.match(pt!, /^Acme: Seu código de verificação é \d{6}\./)
        assert.match(voice!, /^Acme: Your verification code is \d(, \d){5}\./)
        assert.match(zh!, /^Acme: 您的验证码是\d{6}，10分钟内有效。$/)
        assert.strictEqual(box.sent[2]!.channel, "voice")
      }).pipe(Effect.provide(env(box, { brand: "Acme", channels: ["sms", "voice"] })))
    })

    it.effect("takes a custom text function", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        yield* verify.start({ to: UK, locale: "de" })
        assert.match(box.sent[0]!.text, /^de sms 5 \d{6}$/)
      }).pipe(Effect.provide(env(box, {
        ttl: "5 minutes",
        text: ({ channel, code, locale, minutes }) => `${locale} ${channel} ${minutes} ${code}`
      })))
    })
  })

  describe("fallback", () => {
    it.effect("repeats the code on the next channel when no receipt came", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        const code = codeFor(box, UK)
        yield* TestClock.adjust("29 seconds")
        assert.strictEqual(box.sent.length, 1)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(box.sent.length, 2)
        assert.strictEqual(box.sent[1]!.channel, "voice")
        assert.strictEqual(codeFor(box, UK), code)
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(box.sent[2]?.channel, "email")
        yield* TestClock.adjust("5 minutes")
        assert.strictEqual(box.sent.length, 3)
        const info = yield* verify.get({ verificationId })
        assert.strictEqual(info.sendAttempts, 3)
        assert.deepStrictEqual(info.sends.map((s) => [s.channel, s.fallback]), [["sms", false], ["voice", true], [
          "email",
          true
        ]])
        box.status.set(box.sent[1]!.messageId, "delivered")
        const checked = yield* verify.check({ verificationId, code })
        assert.strictEqual(checked.status, "approved")
        assert.strictEqual(checked.channel, "voice")
        assert.strictEqual((yield* verify.get({ verificationId })).deliveredChannel, "voice")
      }).pipe(Effect.provide(env(box, { channels: ["sms", "voice", "email"], fallbackAfter: "30 seconds" })))
    })

    it.effect("does not fall back when the first channel delivered, and records it", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        box.status.set(box.sent[0]!.messageId, "delivered")
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual(box.sent.length, 1)
        assert.strictEqual((yield* verify.get({ verificationId })).deliveredChannel, "sms")
      }).pipe(Effect.provide(env(box, { channels: ["sms", "voice"] })))
    })

    it.effect("stops when the verification was approved or resent", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const a = yield* verify.start({ to: UK })
        yield* verify.check({ verificationId: a.verificationId, code: codeFor(box, UK) })
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(box.sent.length, 1)
        const b = yield* verify.start({ to: UK2 })
        yield* TestClock.adjust("20 seconds")
        yield* verify.resend({ verificationId: b.verificationId, channel: "voice" })
        yield* TestClock.adjust("10 seconds")
        // The resend restarted the timer: nothing yet.
        assert.strictEqual(box.sent.length, 3)
        yield* TestClock.adjust("20 seconds")
        assert.strictEqual(box.sent.length, 4)
        assert.strictEqual(box.sent[3]!.channel, "sms")
      }).pipe(Effect.provide(env(box, { channels: ["sms", "voice"], resendCooldown: "20 seconds" })))
    })
  })

  describe("fraud and abuse", () => {
    it.effect("refuses premium-rate numbers and countries off the allow-list, with events", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const events = yield* Events.Events
        const sub = yield* events.subscribe
        const verify = yield* Verification.Verification
        const premium = failure(yield* Effect.exit(verify.start({ to: PREMIUM })))
        assert.deepStrictEqual(premium._tag === "Blocked" ? premium.reason : "", "number-type")
        const us = failure(yield* Effect.exit(verify.start({ to: "+14155550123" })))
        assert.deepStrictEqual(us._tag === "Blocked" ? us.reason : "", "country")
        assert.strictEqual(box.sent.length, 0)
        const seen = yield* PubSub.takeAll(sub)
        assert.deepStrictEqual(seen.map((e) => e._tag === "Blocked" ? e.reason : e._tag), ["number-type", "country"])
        assert.strictEqual((yield* verify.stats).blocks, 2)
      }).pipe(Effect.scoped, Effect.provide(env(box, { allowedCountries: ["GB", "FR"] })))
    })

    it.effect("blocks a number range when sends spike without successful checks", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const events = yield* Events.Events
        const sub = yield* events.subscribe
        const verify = yield* Verification.Verification
        // Converted sends do not count.
        for (let i = 0; i < 5; i++) {
          const to = `+4474001230${String(i).padStart(2, "0")}`
          const { verificationId } = yield* verify.start({ to })
          yield* verify.check({ verificationId, code: codeFor(box, to) })
        }
        for (let i = 0; i < 3; i++) yield* verify.start({ to: `+4474001231${String(i).padStart(2, "0")}` })
        const blocked = failure(yield* Effect.exit(verify.start({ to: "+447400123199" })))
        assert.strictEqual(blocked._tag, "Blocked")
        if (blocked._tag === "Blocked") {
          assert.strictEqual(blocked.reason, "velocity")
          assert.strictEqual(Duration.toMillis(blocked.retryAfter!), 60 * 60_000)
        }
        // Another number in the range is blocked too; another range is not.
        assert.strictEqual(reasonOf(yield* Effect.exit(verify.start({ to: "+447400999999" }))), "Blocked")
        yield* verify.start({ to: "+447500123456" })
        const all = yield* PubSub.takeAll(sub)
        const blocks = all.filter((e) => e._tag === "Blocked")
        assert.deepStrictEqual(blocks.map((e) => e._tag === "Blocked" ? [e.reason, e.subject] : []), [[
          "velocity",
          "+447400"
        ], ["velocity", "+447400"]])
        assert.deepStrictEqual((yield* verify.stats).blockedRanges.map((b) => b.range), ["+447400"])
        yield* verify.unblock("+447400")
        yield* verify.start({ to: "+447400999999" })
        yield* verify.start({ to: "+447400999998" })
        yield* verify.start({ to: "+447400999996" })
        // Blocked again; this time the block ends by itself.
        assert.strictEqual(reasonOf(yield* Effect.exit(verify.start({ to: "+447400999997" }))), "Blocked")
        yield* TestClock.adjust("61 minutes")
        yield* verify.start({ to: "+447400999997" })
      }).pipe(Effect.scoped, Effect.provide(env(box, { velocity: { maxUnconverted: 3 } })))
    })

    it.effect("rate-limits per client key, tenant, prefix and recipient", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        yield* verify.start({ to: "+447400100001", clientKey: "203.0.113.9" })
        yield* verify.start({ to: "+447500100002", clientKey: "203.0.113.9" })
        const client = failure(yield* Effect.exit(verify.start({ to: "+447911100003", clientKey: "203.0.113.9" })))
        assert.strictEqual(client._tag === "RateLimited" ? client.scope : client._tag, "client")
        if (client._tag === "RateLimited") assert.isTrue(Duration.toMillis(client.retryAfter) > 0)
        yield* verify.start({ to: "+447400100004", clientKey: "198.51.100.1" })

        yield* verify.start({ to: FR, tenant: "t1" })
        yield* verify.start({ to: "+33645678901", tenant: "t1" })
        const tenant = failure(yield* Effect.exit(verify.start({ to: "+33698765432", tenant: "t1" })))
        assert.strictEqual(tenant._tag === "RateLimited" ? tenant.scope : tenant._tag, "tenant")

        yield* verify.start({ to: "+4915123456789" })
        yield* verify.start({ to: "+4915123456780" })
        const prefix = failure(yield* Effect.exit(verify.start({ to: "+4915123456781" })))
        assert.strictEqual(prefix._tag === "RateLimited" ? prefix.scope : prefix._tag, "prefix")

        // A recipient limit over a longer window than maxSends: the third start
        // (after two spent verifications) is refused.
        for (let i = 0; i < 2; i++) {
          const { verificationId } = yield* verify.start({ to: "+33698765432" })
          yield* verify.check({ verificationId, code: codeFor(box, "+33698765432") })
        }
        const recipient = failure(yield* Effect.exit(verify.start({ to: "+33698765432" })))
        assert.strictEqual(recipient._tag === "RateLimited" ? recipient.scope : recipient._tag, "recipient")
      }).pipe(Effect.provide(env(box, {
        rateLimits: {
          client: { limit: 2, window: "1 hour" },
          tenant: { limit: 2, window: "1 minute" },
          prefix: { limit: 2, window: "1 hour", digits: 4 },
          recipient: { limit: 2, window: "1 day" }
        },
        velocity: false
      })))
    })

    it.effect("never puts a code in results, errors or events", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const events = yield* Events.Events
        const sub = yield* events.subscribe
        const verify = yield* Verification.Verification
        const outputs: Array<unknown> = []
        const started = yield* verify.start({ to: UK })
        outputs.push(started)
        const code = codeFor(box, UK)
        for (let i = 0; i < 6; i++) outputs.push(yield* Effect.exit(verify.check({ to: UK, code: wrongCode(code) })))
        outputs.push(yield* Effect.exit(verify.check({ to: UK, code })))
        outputs.push(yield* verify.get({ to: UK }))
        outputs.push(yield* PubSub.takeAll(sub))
        const text = JSON.stringify(outputs, (_, v) => (v instanceof Error ? { ...v, message: v.message } : v))
        assert.notInclude(text, code)
      }).pipe(Effect.scoped, Effect.provide(env(box)))
    })

    it.effect("a brute force of all 10^4 four-digit codes gets nowhere", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        const real = codeFor(box, UK)
        const outcomes = new Map<string, number>()
        let realOutcome = ""
        for (let n = 0; n < 10_000; n++) {
          const code = String(n).padStart(4, "0")
          const exit = yield* Effect.exit(verify.check({ verificationId, code }))
          const outcome = Exit.isSuccess(exit) ? exit.value.status : reasonOf(exit)
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
          if (code === real) realOutcome = outcome
        }
        assert.isFalse(outcomes.has("approved"))
        // At most the first five guesses were even compared.
        assert.isTrue((outcomes.get("pending") ?? 0) <= 5)
        assert.isTrue((outcomes.get("TooManyAttempts") ?? 0) >= 9_995)
        assert.notStrictEqual(realOutcome, "approved")
        assert.strictEqual((yield* verify.stats).approvals, 0)
      }).pipe(Effect.provide(env(box, { codeLength: 4 })))
    })
  })

  describe("authenticator apps", () => {
    it.effect("enrols with an otpauth URI and checks app codes once", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        yield* TestClock.setTime(1_700_000_000_000)
        const enrolled = yield* verify.totp.enroll({ subject: "user-1", label: "ada@example.com" })
        const uri = Redacted.value(enrolled.uri)
        assert.match(uri, /^otpauth:\/\/totp\/Acme:ada%40example\.com\?secret=[A-Z2-7]+/)
        assert.notInclude(String(enrolled.uri), "secret=")
        const secret = Redacted.value(enrolled.secret)
        const code = totpGenerate(secret, 1_700_000_000, 6, 30)
        assert.strictEqual((yield* verify.totp.check({ subject: "user-1", code })).status, "approved")
        // Replay of the same code is refused.
        assert.strictEqual((yield* verify.totp.check({ subject: "user-1", code })).status, "pending")
        yield* TestClock.adjust("30 seconds")
        const next = totpGenerate(secret, 1_700_000_030, 6, 30)
        assert.strictEqual((yield* verify.totp.check({ subject: "user-1", code: next })).status, "approved")
        const missing = failure(yield* Effect.exit(verify.totp.check({ subject: "user-2", code })))
        assert.strictEqual(missing._tag, "VerificationNotFound")
      }).pipe(Effect.provide(env(box, { brand: "Acme" })))
    })

    it.effect("locks an app after the maximum of wrong codes, for a while", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const enrolled = yield* verify.totp.enroll({ subject: "user-1" })
        const secret = Redacted.value(enrolled.secret)
        for (let i = 0; i < 3; i++) {
          const r = yield* verify.totp.check({ subject: "user-1", code: "000000" === totpGenerate(secret, 0, 6, 30) ? "111111" : "000000" })
          assert.strictEqual(r.status, "pending")
        }
        const locked = failure(yield* Effect.exit(verify.totp.check({ subject: "user-1", code: totpGenerate(secret, 0, 6, 30) })))
        assert.strictEqual(locked._tag, "TooManyAttempts")
        yield* TestClock.adjust("10 minutes")
        const code = totpGenerate(secret, 600, 6, 30)
        assert.strictEqual((yield* verify.totp.check({ subject: "user-1", code })).status, "approved")
        yield* verify.totp.remove({ subject: "user-1" })
        assert.strictEqual(reasonOf(yield* Effect.exit(verify.totp.check({ subject: "user-1", code }))), "VerificationNotFound")
      }).pipe(Effect.provide(env(box, { maxChecks: 3 })))
    })
  })

  describe("events", () => {
    it.effect("publishes each change of a verification, without numbers or codes", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const events = yield* Events.Events
        const sub = yield* events.subscribe
        const verify = yield* Verification.Verification
        const a = yield* verify.start({ to: UK })
        yield* verify.check({ verificationId: a.verificationId, code: wrongCode(codeFor(box, UK)) })
        yield* verify.check({ verificationId: a.verificationId, code: codeFor(box, UK) })
        const b = yield* verify.start({ to: FR })
        yield* verify.cancel({ to: FR })
        yield* verify.start({ to: UK2 })
        yield* TestClock.adjust("11 minutes")
        yield* verify.resend({ to: UK2 }).pipe(Effect.exit)
        const seen = (yield* PubSub.takeAll(sub)).map((e) =>
          e._tag === "VerificationChanged" ? `${e.verificationId === b.verificationId ? "b" : "-"}:${e.status}:${e.country}` : e._tag
        )
        assert.deepStrictEqual(seen, [
          "-:pending:GB",
          "-:approved:GB",
          "b:pending:FR",
          "b:canceled:FR",
          "-:pending:GB",
          "-:expired:GB"
        ])
      }).pipe(Effect.scoped, Effect.provide(env(box)))
    })

    it.effect("reaches a subscriber that came after the verification started", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK })
        const sub = yield* (yield* Events.Events).subscribe
        yield* verify.check({ verificationId, code: codeFor(box, UK) })
        const seen = (yield* PubSub.takeAll(sub)).map((e) => e._tag === "VerificationChanged" ? e.status : e._tag)
        assert.deepStrictEqual(seen, ["approved"])
      }).pipe(Effect.scoped, Effect.provide(env(box)))
    })

    it.effect("resends, reads and cancels by recipient", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const { verificationId } = yield* verify.start({ to: UK, locale: "de" })
        yield* TestClock.adjust("30 seconds")
        const again = yield* verify.resend({ to: "+44 7400 123456", channel: "voice" })
        assert.strictEqual(again.verificationId, verificationId)
        assert.strictEqual(again.channel, "voice")
        assert.match(box.sent[1]!.text, /^Ihr Bestätigungscode lautet \d(, \d){5}\./)
        const info = yield* verify.get({ to: UK })
        assert.deepStrictEqual(info.sends.map((s) => s.channel), ["sms", "voice"])
        assert.strictEqual((yield* verify.cancel({ to: UK })).status, "canceled")
        assert.strictEqual(reasonOf(yield* Effect.exit(verify.resend({ to: UK }))), "VerificationNotFound")
      }).pipe(Effect.provide(env(box, { channels: ["sms", "voice"], fallbackAfter: "1 minute" })))
    })
  })

  describe("metrics", () => {
    it.effect("updates the counters per country, channel and reason on the caller's registry", () => {
      const box = makeOutbox()
      const registry = new Map()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const a = yield* verify.start({ to: UK })
        yield* verify.check({ verificationId: a.verificationId, code: codeFor(box, UK) })
        yield* verify.start({ to: FR })
        yield* Effect.exit(verify.start({ to: PREMIUM }))
        yield* TestClock.adjust("11 minutes")
        yield* verify.check({ to: FR, code: "000000" })
        const counts = (yield* Metric.snapshot)
          .filter((m) => m.id.startsWith("smsforge_verification_"))
          .map((m) => {
            const attributes = Object.entries(m.attributes ?? {}).map(([k, v]) => `${k}=${v}`).sort().join(",")
            return `${m.id.slice("smsforge_verification_".length)} ${attributes} ${m.type === "Counter" ? m.state.count : "?"}`
          })
          .sort()
        assert.deepStrictEqual(counts, [
          "approvals country=GB 1",
          "blocks country=GB,reason=number-type 1",
          "expiries country=FR 1",
          "sends channel=sms,country=FR 1",
          "sends channel=sms,country=GB 1",
          "starts country=FR 1",
          "starts country=GB 1"
        ])
      }).pipe(Effect.provide(env(box)), Effect.provideService(Metric.MetricRegistry, registry))
    })

    it.effect("counts starts, approvals and expiries per country", () => {
      const box = makeOutbox()
      return Effect.gen(function*() {
        const verify = yield* Verification.Verification
        const a = yield* verify.start({ to: UK })
        yield* verify.check({ verificationId: a.verificationId, code: codeFor(box, UK) })
        yield* verify.start({ to: UK2 })
        yield* verify.start({ to: FR })
        yield* TestClock.adjust("11 minutes")
        yield* verify.check({ to: FR, code: "000000" })
        const stats = yield* verify.stats
        assert.strictEqual(stats.starts, 3)
        assert.strictEqual(stats.approvals, 1)
        assert.strictEqual(stats.expiries, 1)
        assert.deepStrictEqual(stats.countries["GB"], {
          starts: 2,
          sends: 2,
          approvals: 1,
          expiries: 0,
          blocks: 0,
          conversion: 0.5
        })
        assert.strictEqual(stats.countries["FR"]?.expiries, 1)
      }).pipe(Effect.provide(env(box)))
    })
  })
})

// Property: no sequence of operations approves a wrong code, approves twice,
// or approves after expiry or lockout.

type Op =
  | { readonly _tag: "start"; readonly who: number }
  | { readonly _tag: "checkRight"; readonly who: number }
  | { readonly _tag: "checkOld"; readonly who: number }
  | { readonly _tag: "checkGuess"; readonly who: number; readonly code: string }
  | { readonly _tag: "resend"; readonly who: number }
  | { readonly _tag: "cancel"; readonly who: number }
  | { readonly _tag: "wait"; readonly seconds: number }

const who = fc.integer({ min: 0, max: 1 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  who.map((w) => ({ _tag: "start" as const, who: w })),
  who.map((w) => ({ _tag: "checkRight" as const, who: w })),
  who.map((w) => ({ _tag: "checkOld" as const, who: w })),
  fc.tuple(who, fc.stringMatching(/^\d{6}$/)).map(([w, code]) => ({ _tag: "checkGuess" as const, who: w, code })),
  who.map((w) => ({ _tag: "resend" as const, who: w })),
  who.map((w) => ({ _tag: "cancel" as const, who: w })),
  fc.integer({ min: 1, max: 400 }).map((seconds) => ({ _tag: "wait" as const, seconds }))
)

describe("properties", () => {
  it("no sequence of start/check/cancel/resend approves a wrong code, twice, late or locked", async () => {
    const numbers = [UK, FR]
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const box = makeOutbox()
        const program = Effect.gen(function*() {
          const verify = yield* Verification.Verification
          let now = 0
          // Model per verification: its live code, previous codes, expiry and wrong checks.
          const model = new Map<string, { code: string; old: Array<string>; expiresAt: number; wrong: number }>()
          const latest: Array<string | undefined> = [undefined, undefined]
          const approved = new Set<string>()
          const onSent = (id: string, to: string, expiresAt: number) => {
            const m = model.get(id)
            const code = codeFor(box, to)
            if (m === undefined) model.set(id, { code, old: [], expiresAt, wrong: 0 })
            else model.set(id, { ...m, old: [...m.old, m.code], code, expiresAt })
          }
          for (const op of ops) {
            if (op._tag === "wait") {
              yield* TestClock.adjust(Duration.seconds(op.seconds))
              now += op.seconds * 1000
              continue
            }
            const to = numbers[op.who]!
            const id = latest[op.who]
            if (op._tag === "start") {
              const exit = yield* Effect.exit(verify.start({ to }))
              if (Exit.isSuccess(exit)) {
                latest[op.who] = exit.value.verificationId
                onSent(exit.value.verificationId, to, exit.value.expiresAt)
              }
              continue
            }
            if (id === undefined) continue
            const m = model.get(id)!
            if (op._tag === "resend") {
              const exit = yield* Effect.exit(verify.resend({ verificationId: id }))
              if (Exit.isSuccess(exit)) onSent(id, to, exit.value.expiresAt)
              continue
            }
            if (op._tag === "cancel") {
              yield* Effect.exit(verify.cancel({ verificationId: id }))
              continue
            }
            const code = op._tag === "checkRight"
              ? m.code
              : op._tag === "checkOld"
              ? (m.old.at(-1) ?? wrongCode(m.code))
              : op.code
            const lockedBefore = m.wrong >= 5
            const exit = yield* Effect.exit(verify.check({ verificationId: id, code }))
            if (Exit.isSuccess(exit)) {
              const r = exit.value
              if (r.status === "approved") {
                if (code !== m.code) throw new Error("approved a wrong code")
                if (approved.has(id)) throw new Error("approved twice")
                if (now >= m.expiresAt) throw new Error("approved after expiry")
                if (lockedBefore) throw new Error("approved after lockout")
                approved.add(id)
              }
              if (r.status === "pending") m.wrong += 1
            }
          }
        })
        await Effect.runPromise(
          program.pipe(Effect.provide(env(box, { velocity: false })), Effect.provide(TestClock.layer()))
        )
      }),
      { numRuns: 150 }
    )
  })
})

describe("Verification on a store that does not answer", () => {
  it.effect("start fails with VerificationError { StoreUnavailable }, the shared class, retryable", () => {
    const box = makeOutbox()
    const unavailable = (operation: string) => Effect.fail(new Verification.StoreUnavailable({ store: "verification", operation }))
    const Down = Layer.succeed(Verification.VerificationStore, Verification.VerificationStore.of({
      get: () => unavailable("get"),
      set: () => unavailable("set"),
      remove: () => unavailable("remove"),
      findByRecipient: () => unavailable("findByRecipient"),
      eraseRecipient: () => unavailable("eraseRecipient")
    }))
    return Effect.gen(function*() {
      const verify = yield* Verification.Verification
      const exit = yield* Effect.exit(verify.start({ to: UK }))
      const reason = failure(exit)
      assert.strictEqual(reason._tag, "StoreUnavailable")
      assert.instanceOf(reason, Store.StoreUnavailable)
      assert.isTrue(reason.isRetryable)
      assert.strictEqual(box.sent.length, 0)
    }).pipe(
      Effect.provide(Verification.layer().pipe(
        Layer.provideMerge(Layer.mergeAll(
          Down,
          RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory)),
          senderLayer(box),
          PhoneNumbers.layerDefault
        ))
      ))
    )
  })
})
