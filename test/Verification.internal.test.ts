import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as crypto from "node:crypto"
import { NobleCryptoPlugin } from "otplib"
import * as otp from "../src/internal/verification/otp.ts"
import { randomId, randomToken } from "../src/internal/random.ts"
import * as texts from "../src/internal/verification/text.ts"
import { makeVelocityGuard } from "../src/internal/verification/velocity.ts"
import * as Verification from "../src/Verification.ts"

// RFC 4226 appendix D: secret "12345678901234567890", counters 0..9.
const RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
// The same truncated values (appendix D) to 8 digits.
const RFC4226_8 = ["84755224", "94287082", "37359152", "26969429", "40338314", "68254676", "18287922", "82162583", "73399871", "45520489"]

describe("otp", () => {
  it("HOTP through otplib and the node:crypto plugin matches the RFC 4226 vectors", () => {
    const secret = new TextEncoder().encode("12345678901234567890")
    RFC4226.forEach((code, counter) => assert.strictEqual(otp.hotp(secret, counter, 6), code))
  })

  it("codes of 6 and 8 digits are RFC 4226 HOTP values", () => {
    const secret = new TextEncoder().encode("12345678901234567890")
    RFC4226.forEach((code, counter) => assert.strictEqual(otp.code(secret, counter, 6), code))
    RFC4226_8.forEach((code, counter) => assert.strictEqual(otp.code(secret, counter, 8), code))
  })

  it("9- and 10-digit codes are the documented rejection sampling over HMAC-SHA-256 blocks", () => {
    // An independent reading of the derivation, so a change to it (which would
    // break checks of codes already sent) shows here.
    const reference = (secret: Uint8Array, counter: number, digits: number): string => {
      const modulus = 10n ** BigInt(digits)
      const limit = 2n ** 40n - (2n ** 40n % modulus)
      for (let block = 0; ; block++) {
        const data = Buffer.alloc(12)
        data.writeBigUInt64BE(BigInt(counter))
        data.writeUInt32BE(block, 8)
        const mac = crypto.createHmac("sha256", secret).update(Buffer.concat([data, Buffer.from("smsforge/otp-uniform")])).digest()
        for (let at = 0; at + 5 <= mac.length; at += 5) {
          const value = BigInt(`0x${mac.subarray(at, at + 5).toString("hex")}`)
          if (value < limit) return (value % modulus).toString().padStart(digits, "0")
        }
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(1_000_000), fc.constantFrom(9, 10), (secret, counter, digits) => {
        const code = otp.code(secret, counter, digits)
        assert.match(code, new RegExp(`^\\d{${digits}}$`))
        assert.strictEqual(code, reference(secret, counter, digits))
        assert.strictEqual(otp.code(secret, counter, digits), code, "recomputable at check time")
      }),
      { seed: 4226, numRuns: 200 }
    )
  })

  it("9- and 10-digit codes have uniform leading digits", () => {
    // HOTP truncation gives 31 bits: 10-digit codes would all start with 0, 1
    // or 2, and 9-digit codes would start with 0 half again as often as with 3.
    const n = 5000
    // Chi-square with 9 degrees of freedom: a uniform source exceeds 60.66
    // with probability 1e-9 (9-digit HOTP truncation scores over 100).
    const bound = 60.66
    const inputs = fc.sample(fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(1_000_000)), { seed: 20261202, numRuns: n })
    for (const digits of [9, 10]) {
      const counts = Array.from({ length: 10 }, () => 0)
      for (const [secret, counter] of inputs) counts[Number(otp.code(secret, counter, digits)[0])]! += 1
      const expected = n / 10
      const chiSquare = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0)
      assert.isTrue(counts.every((c) => c > 0), `${digits} digits: every leading digit appears (${counts.join(" ")})`)
      assert.isBelow(chiSquare, bound, `${digits} digits: leading digits ${counts.join(" ")}`)
    }
  })

  it("the node:crypto plugin and otplib's pure-JS one compute the same HMAC as node:crypto", () => {
    // Codes use one or the other, by Node version: both must agree.
    const noble = new NobleCryptoPlugin()
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array(), (key, data) => {
      const expected = crypto.createHmac("sha1", key).update(data).digest()
      return Buffer.from(otp.nodeCrypto.hmac("sha1", key, data) as Uint8Array).equals(expected) &&
        Buffer.from(noble.hmac("sha1", key, data) as Uint8Array).equals(expected)
    }))
  })

  it("code hashes match only the same verification, counter and code", () => {
    const pepper = otp.newPepper()
    const other = otp.newPepper()
    fc.assert(fc.property(
      fc.string({ minLength: 1, maxLength: 30 }),
      fc.nat(100),
      fc.stringMatching(/^\d{4,10}$/),
      fc.stringMatching(/^\d{4,10}$/),
      (id, counter, a, b) => {
        const stored = otp.hashCode(pepper, id, counter, a)
        assert.isTrue(otp.matchesHash(pepper, id, counter, a, stored))
        assert.strictEqual(otp.matchesHash(pepper, id, counter, b, stored), a === b)
        assert.isFalse(otp.matchesHash(pepper, id, counter + 1, a, stored))
        assert.isFalse(otp.matchesHash(pepper, `${id}x`, counter, a, stored))
        assert.isFalse(otp.matchesHash(other, id, counter, a, stored))
        assert.notInclude(stored, a)
      }
    ))
    assert.isFalse(otp.matchesHash(pepper, "x", 0, "1234", "AAAA"))
    assert.isFalse(otp.matchesHash(pepper, "x", 0, "1234", ""))
  })

  it("derived secrets depend on pepper and nonce", () => {
    const pepper = otp.newPepper()
    const a = otp.deriveSecret(pepper, "n1")
    assert.deepStrictEqual(a, otp.deriveSecret(pepper, "n1"))
    assert.notDeepEqual(a, otp.deriveSecret(pepper, "n2"))
    assert.notDeepEqual(a, otp.deriveSecret(otp.newPepper(), "n1"))
  })

  it("sealed TOTP secrets open only with the same pepper, and not when altered", () => {
    const pepper = otp.newPepper()
    fc.assert(fc.property(fc.string(), (plain) => {
      const sealed = otp.seal(pepper, plain)
      assert.strictEqual(otp.unseal(pepper, sealed), plain)
      assert.isUndefined(otp.unseal(otp.newPepper(), sealed))
      const raw = Buffer.from(sealed, "base64url")
      raw[raw.length - 1] = raw[raw.length - 1]! ^ 1
      assert.isUndefined(otp.unseal(pepper, raw.toString("base64url")))
    }), { numRuns: 50 })
  })

  it("random tokens and ids are distinct and of the asked length, across pool refills", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 2000; i++) {
      const t = randomToken(18)
      assert.strictEqual(Buffer.from(t, "base64url").length, 18)
      assert.isFalse(seen.has(t))
      seen.add(t)
      const id = randomId("msg_", 16)
      assert.match(id, /^msg_[0-9a-f]{32}$/)
      assert.isFalse(seen.has(id))
      seen.add(id)
    }
  })

  it("TOTP codes verify within one step and not after", () => {
    const secret = otp.totpSecret()
    const at = 1_700_000_000
    const code = otp.totpGenerate(secret, at, 6, 30)
    assert.isDefined(otp.totpVerify({ secret, code, epochSeconds: at + 25, digits: 6, period: 30 }))
    assert.isUndefined(otp.totpVerify({ secret, code, epochSeconds: at + 95, digits: 6, period: 30 }))
    const step = otp.totpVerify({ secret, code, epochSeconds: at, digits: 6, period: 30 })!
    assert.isUndefined(otp.totpVerify({ secret, code, epochSeconds: at, digits: 6, period: 30, afterTimeStep: step }))
    assert.isUndefined(otp.totpVerify({ secret: "not base32!", code, epochSeconds: at, digits: 6, period: 30 }))
  })
})

describe("texts", () => {
  it("every built-in text contains the code and the minutes", () => {
    fc.assert(fc.property(
      fc.constantFrom(...texts.builtInLocales),
      fc.stringMatching(/^\d{4,10}$/),
      fc.integer({ min: 1, max: 60 }),
      (locale, code, minutes) => {
        const text = texts.render(locale, { code, minutes })
        assert.include(text, code)
        assert.include(text, String(minutes))
      }
    ))
  })

  it("resolves a locale to its language, else English", () => {
    assert.strictEqual(texts.resolveLocale("pt-BR"), "pt")
    assert.strictEqual(texts.resolveLocale("ZH_hant"), "zh")
    assert.strictEqual(texts.resolveLocale("xx"), "en")
    assert.strictEqual(texts.resolveLocale("de"), "de")
    assert.strictEqual(texts.resolveLocale("EN"), "en")
    for (const inherited of ["constructor", "toString", "__proto__", "hasOwnProperty-x"]) {
      assert.strictEqual(texts.resolveLocale(inherited), "en")
    }
    assert.strictEqual(texts.resolveLocale(undefined), "en")
    fc.assert(fc.property(fc.string(), (tag) => texts.builtInLocales.includes(texts.resolveLocale(tag))))
  })

  it("spells a code out digit by digit", () => {
    assert.strictEqual(texts.spellOut("1234"), "1, 2, 3, 4")
  })
})

describe("velocity guard", () => {
  const config = { windowMillis: 60_000, maxUnconverted: 5, blockMillis: 300_000 }

  it("never blocks while unconverted sends stay within the threshold", () => {
    fc.assert(fc.property(
      fc.array(fc.record({ approve: fc.boolean(), dt: fc.nat(5_000) }), { maxLength: 200 }),
      (steps) => {
        const guard = makeVelocityGuard(config)
        let now = 0
        let windowStart = 0
        let sends = 0
        let approvals = 0
        let blockedUntil = 0
        for (const step of steps) {
          now += step.dt
          if (windowStart + config.windowMillis <= now) {
            windowStart = now
            sends = 0
            approvals = 0
          }
          const verdict = guard.send("+447400", now)
          if (blockedUntil > now) {
            assert.strictEqual(verdict._tag, "Blocked")
            continue
          }
          sends += 1
          const expectBlock = sends - approvals > config.maxUnconverted
          assert.strictEqual(verdict._tag, expectBlock ? "Blocked" : "Allowed")
          if (expectBlock) blockedUntil = now + config.blockMillis
          else if (step.approve) {
            guard.approve("+447400", now)
            approvals += 1
          }
        }
      }
    ))
  })

  it("keeps ranges apart, lists blocks, unblocks, and forgets idle ranges", () => {
    const guard = makeVelocityGuard(config)
    for (let i = 0; i < 6; i++) guard.send("+447400", 0)
    assert.strictEqual(guard.send("+447400", 1)._tag, "Blocked")
    assert.strictEqual(guard.send("+447500", 1)._tag, "Allowed")
    assert.deepStrictEqual(guard.blocked(1), [{ range: "+447400", until: 300_000 }])
    guard.unblock("+447400")
    assert.strictEqual(guard.send("+447400", 2)._tag, "Allowed")
    guard.send("+33612", 400_000)
    assert.isTrue(guard.size() <= 2)
  })
})

describe("memory store", () => {
  it.effect("writes only with the expected version and forgets expired entries", () =>
    Effect.gen(function*() {
      const store = yield* Verification.makeStoreMemory
      const value: Verification.StoredValue = { _tag: "Pointer", id: "a" }
      assert.isTrue(yield* store.set("k", value, { expectedVersion: undefined, expiresAt: 1_000 }))
      assert.isFalse(yield* store.set("k", value, { expectedVersion: undefined, expiresAt: 1_000 }))
      assert.isFalse(yield* store.set("k", value, { expectedVersion: 3, expiresAt: 1_000 }))
      assert.isTrue(yield* store.set("k", { _tag: "Pointer", id: "b" }, { expectedVersion: 0, expiresAt: 1_000 }))
      const got = yield* store.get("k")
      assert.deepStrictEqual(Option.getOrUndefined(got), { value: { _tag: "Pointer", id: "b" }, version: 1 })
      yield* TestClock.adjust(1_000)
      assert.isTrue(Option.isNone(yield* store.get("k")))
      assert.isTrue(yield* store.set("k", value, { expectedVersion: undefined, expiresAt: 5_000 }))
      yield* store.remove("k")
      assert.isTrue(Option.isNone(yield* store.get("k")))
    }))

  it.effect("an answer stays as it was read when the key is written again", () =>
    Effect.gen(function*() {
      const store = yield* Verification.makeStoreMemory
      yield* store.set("k", { _tag: "Pointer", id: "a" }, { expectedVersion: undefined, expiresAt: 1_000 })
      const first = yield* store.get("k")
      assert.isTrue(yield* store.set("k", { _tag: "Pointer", id: "b" }, { expectedVersion: 0, expiresAt: 2_000 }))
      assert.deepStrictEqual(Option.getOrUndefined(first), { value: { _tag: "Pointer", id: "a" }, version: 0 })
      assert.deepStrictEqual(Option.getOrUndefined(yield* store.get("k")), { value: { _tag: "Pointer", id: "b" }, version: 1 })
      // The rewrite moved the expiry too.
      yield* TestClock.adjust(1_500)
      assert.isTrue(Option.isSome(yield* store.get("k")))
    }))

  it.effect("sweeps expired entries as new ones arrive", () =>
    Effect.gen(function*() {
      const store = yield* Verification.makeStoreMemory
      for (let i = 0; i < 100; i++) {
        yield* store.set(`old${i}`, { _tag: "Pointer", id: "x" }, { expectedVersion: undefined, expiresAt: 10 })
      }
      yield* TestClock.adjust(20)
      for (let i = 0; i < 100; i++) {
        yield* store.set(`new${i}`, { _tag: "Pointer", id: "y" }, { expectedVersion: undefined, expiresAt: 1e9 })
      }
      let live = 0
      for (let i = 0; i < 100; i++) if (Option.isSome(yield* store.get(`old${i}`))) live++
      assert.strictEqual(live, 0)
    }))
})
