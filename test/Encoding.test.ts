import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { createRequire } from "node:module"
import { count as smsLengthCount } from "sms-length"
import { SegmentedMessage } from "sms-segments-calculator"
import { Encoding } from "smsforge"
import { gsm7ExtendedText, gsm7Text, ucs2Text } from "../src/testing/internal/textArbitraries.ts"

// FC_RUNS=5000 npx vitest run test/Encoding.test.ts for a deeper search
fc.configureGlobal({ numRuns: Number(process.env["FC_RUNS"] ?? 100) })

const require = createRequire(import.meta.url)
const splitSms = require("split-sms") as { split: (text: string) => { parts: ReadonlyArray<unknown> } }

// Reference tables written out again from 3GPP TS 23.038 (6.2.1, 6.2.1.1), independently of src/internal/encoding/gsm7.ts.
const BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
const EXTENSION = "\f^{}\\[~]|€"

/** Septets of a default-alphabet text, or -1. */
const septets = (text: string): number => {
  let units = 0
  for (const char of text) {
    if (BASIC.includes(char)) units += 1
    else if (EXTENSION.includes(char)) units += 2
    else return -1
  }
  return units
}

const isHigh = (unit: number) => unit >= 0xd800 && unit <= 0xdbff
const isLow = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff
const lengths = (segments: ReadonlyArray<string>) => segments.map((s) => s.length)

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" })

/**
 * Reference UCS-2 splitter, written the slow and obvious way: pack whole
 * grapheme clusters greedily; a cluster longer than a segment fills the
 * current segment code point by code point.
 */
const referenceUcs2 = (text: string, limit: number): Array<string> => {
  const out: Array<string> = []
  let current = ""
  for (const { segment } of graphemes.segment(text)) {
    if (current.length + segment.length <= limit) {
      current += segment
    } else if (segment.length <= limit) {
      out.push(current)
      current = segment
    } else {
      for (const cp of segment) {
        if (current.length + cp.length > limit) {
          out.push(current)
          current = ""
        }
        current += cp
      }
    }
  }
  out.push(current)
  return out
}

/** Checks the laws every analysis obeys; returns nothing, fails through assert. */
const checkLaws = (input: string, options?: Encoding.AnalyzeOptions) => {
  const r = Encoding.analyze(input, options)
  assert.strictEqual(r.segments.join(""), r.text, "segments concatenate to text")
  assert.isAtLeast(r.segments.length, 1)
  if (r.replacements.length === 0) assert.strictEqual(r.text, input)
  if (r.encoding === "UCS-2") {
    assert.strictEqual(r.text, input, "UCS-2 sends the input unchanged")
    assert.strictEqual(r.units, input.length)
    assert.isAbove(r.nonGsmCharacters.length, 0)
    assert.strictEqual(r.replacements.length, 0)
    assert.strictEqual(r.unitsPerSegment, r.segments.length === 1 ? 70 : 67)
    for (const s of r.segments) assert.isAtMost(s.length, r.unitsPerSegment)
    for (let i = 1; i < r.segments.length; i++) {
      const prev = r.segments[i - 1]!
      const next = r.segments[i]!
      assert.isFalse(isHigh(prev.charCodeAt(prev.length - 1)) && isLow(next.charCodeAt(0)), "surrogate pair split")
    }
    if (r.segments.length > 1) assert.deepStrictEqual(r.segments, referenceUcs2(input, 67))
    assert.strictEqual(new Set(r.nonGsmCharacters).size, r.nonGsmCharacters.length, "unique")
    for (const c of r.nonGsmCharacters) {
      assert.isTrue(input.includes(c))
      assert.strictEqual(septets(c), -1)
    }
  } else {
    assert.deepStrictEqual(r.nonGsmCharacters, [])
    if (r.languageShift === undefined) {
      assert.strictEqual(r.units, septets(r.text))
      assert.strictEqual(r.unitsPerSegment, r.segments.length === 1 ? 160 : 153)
      // greedy and tight: each segment fits, and the next character would not have
      for (let i = 0; i < r.segments.length; i++) {
        const s = r.segments[i]!
        assert.isAtMost(septets(s), r.unitsPerSegment)
        const next = r.segments[i + 1]
        if (next !== undefined) assert.isAbove(septets(s) + septets(next.charAt(0)), r.unitsPerSegment)
      }
    } else {
      assert.isTrue(options?.languageShift !== undefined)
      assert.strictEqual(septets(input) < 0 || (options?.smartEncoding === true && r.replacements.length > 0), true)
    }
  }
  if (r.replacements.length > 0) {
    assert.strictEqual(r.encoding, "GSM-7", "smart encoding only when it yields GSM-7")
    // the replacements rebuild the sent text from the input
    let rebuilt = ""
    let last = 0
    for (const { from, index, to } of r.replacements) {
      assert.strictEqual(input.slice(index, index + from.length), from)
      rebuilt += input.slice(last, index) + to
      last = index + from.length
    }
    assert.strictEqual(rebuilt + input.slice(last), r.text)
  }
  return r
}

describe("Encoding", () => {
  describe("vectors (3GPP TS 23.038 / 23.040)", () => {
    const a = (n: number) => "a".repeat(n)
    const x = (n: number) => "x".repeat(n)
    const cyr = (n: number) => "П".repeat(n)

    const vectors: ReadonlyArray<{
      readonly name: string
      readonly text: string
      readonly encoding: Encoding.MessageEncoding
      readonly units: number
      readonly segments: ReadonlyArray<number>
    }> = [
      { name: "empty text is one empty segment", text: "", encoding: "GSM-7", units: 0, segments: [0] },
      { name: "160 GSM characters: one segment", text: a(160), encoding: "GSM-7", units: 160, segments: [160] },
      { name: "161 GSM characters: 153 + 8", text: a(161), encoding: "GSM-7", units: 161, segments: [153, 8] },
      { name: "306 GSM characters: two full segments", text: a(306), encoding: "GSM-7", units: 306, segments: [153, 153] },
      { name: "307 GSM characters: three", text: a(307), encoding: "GSM-7", units: 307, segments: [153, 153, 1] },
      { name: "159 + € = 161 septets: two", text: a(159) + "€", encoding: "GSM-7", units: 161, segments: [153, 7] },
      { name: "158 + € = 160 septets: one", text: a(158) + "€", encoding: "GSM-7", units: 160, segments: [159] },
      {
        name: "€ on septets 153–154 moves whole to segment 2 (306 septets, 3 segments)",
        text: a(152) + "€" + a(152),
        encoding: "GSM-7",
        units: 306,
        segments: [152, 152, 1]
      },
      {
        name: "{ ending exactly on septet 153 stays",
        text: a(151) + "{" + a(10),
        encoding: "GSM-7",
        units: 163,
        segments: [152, 10]
      },
      { name: "@ and £ are one septet", text: "@£".repeat(80), encoding: "GSM-7", units: 160, segments: [160] },
      {
        name: "every extension character is two septets",
        text: "\f^{}\\[~]|€",
        encoding: "GSM-7",
        units: 20,
        segments: [10]
      },
      { name: "70 Cyrillic: one UCS-2 segment", text: cyr(70), encoding: "UCS-2", units: 70, segments: [70] },
      { name: "71 Cyrillic: 67 + 4", text: cyr(71), encoding: "UCS-2", units: 71, segments: [67, 4] },
      { name: "134 Cyrillic: two full segments", text: cyr(134), encoding: "UCS-2", units: 134, segments: [67, 67] },
      {
        name: "surrogate pair on units 67–68 moves to segment 2",
        text: x(66) + "😀" + x(66),
        encoding: "UCS-2",
        units: 134,
        segments: [66, 67, 1]
      },
      {
        name: "ZWJ family emoji (11 units) across the boundary stays whole",
        text: x(60) + "👨‍👩‍👧‍👦" + x(63),
        encoding: "UCS-2",
        units: 134,
        segments: [60, 67, 7]
      },
      {
        name: "ZWJ technologist 🧑‍💻 across the boundary stays whole",
        text: x(64) + "🧑‍💻" + x(65),
        encoding: "UCS-2",
        units: 134,
        segments: [64, 67, 3]
      },
      {
        name: "flag 🇫🇷 (two regional indicators) across the boundary stays whole",
        text: x(65) + "🇫🇷" + x(65),
        encoding: "UCS-2",
        units: 134,
        segments: [65, 67, 2]
      },
      {
        name: "letter + combining accent across the boundary stays whole",
        text: x(66) + "e\u0301" + x(66),
        encoding: "UCS-2",
        units: 134,
        segments: [66, 67, 1]
      },
      {
        name: "skin-tone emoji 👍🏽 across the boundary stays whole",
        text: x(65) + "👍🏽" + x(65),
        encoding: "UCS-2",
        units: 134,
        segments: [65, 67, 2]
      },
      {
        name: "a cluster longer than a segment is cut, never inside a surrogate pair",
        text: "a" + "\u0301".repeat(100),
        encoding: "UCS-2",
        units: 101,
        segments: [67, 34]
      },
      { name: "ç (U+00E7) is not GSM-7", text: "ça va", encoding: "UCS-2", units: 5, segments: [5] },
      { name: "Ç (U+00C7) is GSM-7", text: "Ça va", encoding: "GSM-7", units: 5, segments: [5] },
      { name: "a backtick is not GSM-7", text: "`ok`", encoding: "UCS-2", units: 4, segments: [4] },
      { name: "a lone surrogate is a UCS-2 unit", text: "ab\ud800cd", encoding: "UCS-2", units: 5, segments: [5] }
    ]

    for (const v of vectors) {
      it(v.name, () => {
        const r = checkLaws(v.text)
        assert.strictEqual(r.encoding, v.encoding)
        assert.strictEqual(r.units, v.units)
        assert.deepStrictEqual(lengths(r.segments), v.segments)
        assert.strictEqual(Encoding.segmentCount(v.text), v.segments.length)
      })
    }

    it("lists the characters that forced UCS-2, unique and in order", () => {
      const r = Encoding.analyze("Ça coûte 5€ 😀😀 naïve û")
      assert.deepStrictEqual(r.nonGsmCharacters, ["û", "😀", "ï"])
      assert.deepStrictEqual(Encoding.analyze("hello").nonGsmCharacters, [])
    })

    it("isGsm7 and limits", () => {
      assert.isTrue(Encoding.isGsm7("Café {ok} 5€"))
      assert.isFalse(Encoding.isGsm7("naïve"))
      assert.isTrue(Encoding.isGsm7("Çay şimdi", { languageShift: "turkish" }))
      assert.isFalse(Encoding.isGsm7("Çay şimdi"))
      assert.deepStrictEqual(Encoding.limits, { "GSM-7": { single: 160, multi: 153 }, "UCS-2": { single: 70, multi: 67 } })
    })
  })

  describe("smart encoding", () => {
    it("replaces typographic punctuation and spaces when that makes the message GSM-7", () => {
      const input = "It’s “on” – now… 10\u00a0km"
      const r = checkLaws(input, { smartEncoding: true })
      assert.strictEqual(r.encoding, "GSM-7")
      assert.strictEqual(r.text, "It's \"on\" - now... 10 km")
      assert.deepStrictEqual(r.replacements, [
        { from: "’", to: "'", index: 2 },
        { from: "“", to: "\"", index: 5 },
        { from: "”", to: "\"", index: 8 },
        { from: "–", to: "-", index: 10 },
        { from: "…", to: "...", index: 15 },
        { from: "\u00a0", to: " ", index: 19 }
      ])
    })

    it("is off by default", () => {
      const r = Encoding.analyze("“quoted”")
      assert.strictEqual(r.encoding, "UCS-2")
      assert.deepStrictEqual(r.nonGsmCharacters, ["“", "”"])
    })

    it("is not applied when the message stays UCS-2, and names what forced it", () => {
      const r = checkLaws("“Party” 🎉", { smartEncoding: true })
      assert.strictEqual(r.encoding, "UCS-2")
      assert.strictEqual(r.text, "“Party” 🎉")
      assert.deepStrictEqual(r.replacements, [])
      assert.deepStrictEqual(r.nonGsmCharacters, ["🎉"])
    })

    it("composes a letter and a combining accent, removes zero-width characters, maps fullwidth ASCII", () => {
      const r = checkLaws("Cafe\u0301\u200b ＯＫ", { smartEncoding: true })
      assert.strictEqual(r.text, "Café OK")
      assert.deepStrictEqual(r.replacements[0], { from: "e\u0301", to: "é", index: 3 })
    })

    it("is not applied when the longer GSM-7 text would cost more segments than UCS-2", () => {
      const ellipses = "…".repeat(200) // 200 UCS-2 units = 3 segments; 600 septets = 4
      const r = checkLaws(ellipses, { smartEncoding: true })
      assert.strictEqual(r.encoding, "UCS-2")
      assert.strictEqual(r.segments.length, 3)
      assert.strictEqual(checkLaws("…".repeat(100), { smartEncoding: true }).encoding, "GSM-7") // 2 and 2
      const short = checkLaws("…".repeat(60), { smartEncoding: true }) // 1 UCS-2 segment; 180 septets = 2
      assert.strictEqual(short.encoding, "UCS-2")
      assert.strictEqual(short.segments.length, 1)
    })

    it("leaves GSM-7 text alone", () => {
      const r = Encoding.analyze("plain 'ascii' - text...", { smartEncoding: true })
      assert.deepStrictEqual(r.replacements, [])
    })
  })

  describe("national language shift tables", () => {
    it("is not used when the default alphabet suffices", () => {
      const r = Encoding.analyze("Merhaba", { languageShift: "turkish" })
      assert.strictEqual(r.languageShift, undefined)
      assert.strictEqual(r.unitsPerSegment, 160)
    })

    it("Turkish single shift: one segment holds 155 septets (UDHL 3 → 5 septets)", () => {
      const r = checkLaws("ğ" + "a".repeat(153), { languageShift: "turkish" })
      assert.deepStrictEqual(r.languageShift, { language: "turkish", lockingShift: false, singleShift: true })
      assert.strictEqual(r.units, 155)
      assert.strictEqual(r.unitsPerSegment, 155)
      assert.strictEqual(r.segments.length, 1)
    })

    it("Turkish locking shift when it saves a segment (ğ is one septet there)", () => {
      const r = checkLaws("ğ" + "a".repeat(154), { languageShift: "turkish" })
      assert.deepStrictEqual(r.languageShift, { language: "turkish", lockingShift: true, singleShift: false })
      assert.strictEqual(r.units, 155)
      assert.strictEqual(r.segments.length, 1)
    })

    it("Turkish falls back to single shift when the text has characters the locking table lacks (è)", () => {
      const r = checkLaws("è ğ" + "a".repeat(300), { languageShift: "turkish" })
      assert.deepStrictEqual(r.languageShift, { language: "turkish", lockingShift: false, singleShift: true })
      assert.strictEqual(r.units, 304)
      assert.strictEqual(r.unitsPerSegment, 149)
      assert.deepStrictEqual(lengths(r.segments), [148, 149, 6])
    })

    it("Spanish single shift: multipart holds 149 septets (UDHL 8 → 11 septets)", () => {
      const r = checkLaws("á" + "a".repeat(300), { languageShift: "spanish" })
      assert.deepStrictEqual(r.languageShift, { language: "spanish", lockingShift: false, singleShift: true })
      assert.strictEqual(r.units, 302)
      assert.strictEqual(r.unitsPerSegment, 149)
      assert.deepStrictEqual(lengths(r.segments), [148, 149, 4])
      // an extension character never straddles: á on septets 149–150 moves whole
      const straddle = checkLaws("a".repeat(148) + "á" + "a".repeat(10), { languageShift: "spanish" })
      assert.deepStrictEqual(lengths(straddle.segments), [148, 11])
    })

    it("Spanish has no locking shift table", () => {
      const r = checkLaws("ú".repeat(100), { languageShift: "spanish" })
      assert.deepStrictEqual(r.languageShift, { language: "spanish", lockingShift: false, singleShift: true })
      assert.strictEqual(r.units, 200)
      assert.strictEqual(r.segments.length, 2)
    })

    it("Portuguese locking shift (ª is only in the locking table)", () => {
      const r = checkLaws("1ª vez", { languageShift: "portuguese" })
      assert.deepStrictEqual(r.languageShift, { language: "portuguese", lockingShift: true, singleShift: false })
      assert.strictEqual(r.unitsPerSegment, 155)
    })

    it("Portuguese locking + single shift: 152 single, 146 multipart (UDHL 6 → 8, UDHL 11 → 14)", () => {
      const one = checkLaws("º Φ" + "a".repeat(149), { languageShift: "portuguese" })
      assert.deepStrictEqual(one.languageShift, { language: "portuguese", lockingShift: true, singleShift: true })
      assert.strictEqual(one.units, 153)
      assert.strictEqual(one.segments.length, 2)
      assert.strictEqual(one.unitsPerSegment, 146)
      const fits = checkLaws("º Φ" + "a".repeat(148), { languageShift: "portuguese" })
      assert.strictEqual(fits.units, 152)
      assert.strictEqual(fits.unitsPerSegment, 152)
      assert.strictEqual(fits.segments.length, 1)
    })

    it("stays UCS-2 when no table helps, naming what forced it", () => {
      const r = checkLaws("Şifre 😀", { languageShift: "turkish" })
      assert.strictEqual(r.encoding, "UCS-2")
      assert.strictEqual(r.languageShift, undefined)
      assert.deepStrictEqual(r.nonGsmCharacters, ["😀"])
    })

    it("combines with smart encoding", () => {
      const r = checkLaws("“Günaydın” şimdi", { languageShift: "turkish", smartEncoding: true })
      assert.strictEqual(r.encoding, "GSM-7")
      assert.strictEqual(r.text, "\"Günaydın\" şimdi")
      assert.isDefined(r.languageShift)
    })

    it("never throws on what untyped callers pass", () => {
      const loose = Encoding.analyze as (text: unknown, options?: unknown) => Encoding.Analysis
      assert.strictEqual(loose("ğ“", null).encoding, "UCS-2")
      assert.strictEqual(loose(12345).text, "12345")
      assert.strictEqual(loose(undefined).text, "")
      assert.strictEqual(loose({ toString: () => { throw new Error("no") } }).text, "")
      assert.isFalse(Encoding.isGsm7("ğ", null as unknown as undefined))
    })

    it("ignores an unknown language from untyped callers", () => {
      const options = { languageShift: "klingon" } as unknown as Encoding.AnalyzeOptions
      assert.strictEqual(Encoding.analyze("ğ", options).encoding, "UCS-2")
    })
  })

  describe("peers disagree (each case above is the standard's answer)", () => {
    const peers = {
      "sms-length": (t: string) => smsLengthCount(t).messages,
      "split-sms": (t: string) => splitSms.split(t).parts.length,
      "sms-segments-calculator": (t: string) => new SegmentedMessage(t).segmentsCount
    }
    // [text, our count, which peers get it wrong and what they say]
    const cases: ReadonlyArray<readonly [string, string, number, Partial<Record<keyof typeof peers, number>>]> = [
      // sms-length divides septets by 153 and ignores that an escape pair cannot straddle
      ["extension character on the 153 boundary", "a".repeat(152) + "€" + "a".repeat(152), 3, { "sms-length": 2 }],
      // sms-length divides code units by 67 and ignores surrogate pairs
      ["surrogate pair on the 67 boundary", "x".repeat(66) + "😀" + "x".repeat(66), 3, { "sms-length": 2 }],
      // split-sms and sms-length cut inside a flag (between its two regional indicators)
      ["flag on the 67 boundary", "x".repeat(65) + "🇫🇷" + "x".repeat(65), 3, { "sms-length": 2, "split-sms": 2 }],
      // split-sms and sms-length cut between a letter and its accent
      ["combining accent on the 67 boundary", "x".repeat(66) + "e\u0301" + "x".repeat(66), 3, {
        "sms-length": 2,
        "split-sms": 2
      }],
      // sms-length ignores clusters and pairs; split-sms happens to cut this one right (between surrogates)
      ["ZWJ family emoji on the 67 boundary", "x".repeat(60) + "👨‍👩‍👧‍👦" + "x".repeat(63), 3, { "sms-length": 2 }],
      // sms-segments-calculator's grapheme-splitter (Unicode 10 rules) cuts ❤️‍🔥 after its ZWJ; the others ignore clusters
      ["ZWJ heart on fire on the 67 boundary", "x".repeat(64) + "❤️‍🔥" + "x".repeat(65), 3, {
        "sms-length": 2,
        "split-sms": 2,
        "sms-segments-calculator": 2
      }],
      // sms-length leaves form feed out of its extension table
      ["form feed is an extension character", "a".repeat(159) + "\f", 2, { "sms-length": 3 }],
      // sms-length counts an empty message as zero messages
      ["empty text", "", 1, { "sms-length": 0 }]
    ]
    for (const [name, text, ours, wrong] of cases) {
      it(name, () => {
        assert.strictEqual(Encoding.segmentCount(text), ours)
        for (const [peer, run] of Object.entries(peers)) {
          const theirs = run(text)
          const expected = wrong[peer as keyof typeof peers]
          assert.strictEqual(theirs, expected ?? ours, `${peer} says ${theirs}`)
        }
      })
    }
  })

  describe("properties", () => {
    const options = fc.record(
      {
        smartEncoding: fc.boolean(),
        languageShift: fc.constantFrom<Encoding.Language | undefined>(undefined, "turkish", "spanish", "portuguese")
      },
      { requiredKeys: [] }
    )

    it("toGsm7Septets: as many septets as analyze counts units, each a 7-bit value, ESC only before an extension code", () => {
      fc.assert(fc.property(fc.oneof(gsm7Text, gsm7ExtendedText), (t) => {
        const septets = Encoding.toGsm7Septets(t)
        const analysis = Encoding.analyze(t)
        assert.strictEqual(analysis.encoding, "GSM-7")
        assert.strictEqual(septets.length, analysis.units)
        for (let i = 0; i < septets.length; i++) {
          assert.isBelow(septets[i]!, 0x80)
          if (septets[i] === 0x1b) assert.include([0x0a, 0x14, 0x28, 0x29, 0x2f, 0x3c, 0x3d, 0x3e, 0x40, 0x65], septets[++i])
        }
      }))
    })

    it("toGsm7Septets: the standard's code points (TS 23.038 6.2.1)", () => {
      assert.deepStrictEqual(Array.from(Encoding.toGsm7Septets("@£$Δ_ÆæßÉ Aaà")), [0x00, 0x01, 0x02, 0x10, 0x11, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x41, 0x61, 0x7f])
      assert.deepStrictEqual(Array.from(Encoding.toGsm7Septets("\f^{}\\[~]|€")), [
        0x1b, 0x0a, 0x1b, 0x14, 0x1b, 0x28, 0x1b, 0x29, 0x1b, 0x2f, 0x1b, 0x3c, 0x1b, 0x3d, 0x1b, 0x3e, 0x1b, 0x40, 0x1b, 0x65
      ])
      assert.deepStrictEqual(Array.from(Encoding.toGsm7Septets("ñ😀")), [0x7d, 0x3f])
    })

    it("never throws, and the laws hold on arbitrary Unicode (binary)", () => {
      fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 400 }), options, (t, o) => {
        checkLaws(t, o as Encoding.AnalyzeOptions)
      }))
    })

    it("the laws hold on grapheme strings", () => {
      fc.assert(fc.property(fc.string({ unit: "grapheme", size: "max", maxLength: 200 }), options, (t, o) => {
        checkLaws(t, o as Encoding.AnalyzeOptions)
      }))
    })

    it("the laws hold on tricky pieces glued together", () => {
      const pieces = fc.constantFrom(
        "a", "x", "€", "{", "@", "\r\n", "😀", "👨‍👩‍👧‍👦", "🧑‍💻", "🇫🇷", "👍🏽", "e\u0301", "\u0301", "\u200d", "\ufe0f",
        "ğ", "ş", "á", "º", "Φ", "“", "…", "\u00a0", "П", "你", "\ud800", "\udc00", "क्षि", "\u1100\u1161",
        "🏃‍♀️", "👩‍⚕️", "🇺", "🇸", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "\u0301\u0301", "\n", "\r", "©\u200d©", "‼️", "ก", "\u0e33", "\u0915\u094d",
        "\u0600", "각", "\u11a8", "\u200b", "\u00ad", "\ufe0f", "\u{1f3fb}", "\u{e0067}", "☆", "😀\u200d\u200d😀"
      )
      fc.assert(fc.property(fc.array(pieces, { size: "max", maxLength: 200 }), options, (parts, o) => {
        checkLaws(parts.join(""), o as Encoding.AnalyzeOptions)
      }))
    })

    it("cut points resolved without Intl.Segmenter agree with it (known classes only)", () => {
      // simple letters, emoji, ZWJ, variation selector, skin tone, tags, regional
      // indicators, combining marks, controls: the classes decided locally
      const known = fc.constantFrom(
        "x", "П", "你", "각", "©", "😀", "👩", "❤", "♀", "🏴", "🇫", "🇷", "\u0301", "\u0308", "\u200d", "\ufe0f",
        "\u{1f3fd}", "\u{e0067}", "\u{e007f}", "\r", "\n", "\u200b", "\u00ad", "\u20e3", "1", "\u{1f53e}", "\u2606"
      )
      fc.assert(fc.property(fc.array(known, { minLength: 40, maxLength: 160, size: "max" }), (parts) => {
        const text = "П" + parts.join("")
        const r = checkLaws(text)
        if (r.segments.length > 1) assert.deepStrictEqual(r.segments, referenceUcs2(text, 67))
      }))
    })

    it("gsm7Text is GSM-7, one septet a character, ceil(n/153) segments when multipart", () => {
      fc.assert(fc.property(gsm7Text, (t) => {
        const r = checkLaws(t)
        assert.strictEqual(r.encoding, "GSM-7")
        assert.strictEqual(r.units, t.length)
        assert.strictEqual(r.segments.length, t.length <= 160 ? 1 : Math.ceil(t.length / 153))
      }))
    })

    it("gsm7ExtendedText is GSM-7 and never straddles an escape pair", () => {
      fc.assert(fc.property(gsm7ExtendedText, (t) => {
        const r = checkLaws(t)
        assert.strictEqual(r.encoding, "GSM-7")
        assert.isAtLeast(r.segments.length, r.units <= 160 ? 1 : Math.ceil(r.units / 153))
      }))
    })

    it("ucs2Text is UCS-2, with or without smart encoding", () => {
      fc.assert(fc.property(ucs2Text, fc.boolean(), (t, smartEncoding) => {
        const r = checkLaws(t, { smartEncoding })
        assert.strictEqual(r.encoding, "UCS-2")
        assert.isAtLeast(r.segments.length, r.units <= 70 ? 1 : Math.ceil(r.units / 67))
      }))
    })

    it("a shift table is reported only when the default alphabet cannot encode the text", () => {
      fc.assert(fc.property(fc.string({ unit: fc.constantFrom(..."aeiouçğışİÇáéíóúãõêºªΦ€{ "), maxLength: 300, size: "max" }),
        fc.constantFrom<Encoding.Language>("turkish", "spanish", "portuguese"), (t, languageShift) => {
          const r = checkLaws(t, { languageShift })
          if (septets(t) >= 0) assert.strictEqual(r.languageShift, undefined)
          if (r.languageShift !== undefined) {
            const ies = (r.languageShift.lockingShift ? 1 : 0) + (r.languageShift.singleShift ? 1 : 0)
            const single = ies === 1 ? 155 : 152
            const multi = ies === 1 ? 149 : 146
            assert.strictEqual(r.unitsPerSegment, r.segments.length === 1 ? single : multi)
            assert.strictEqual(Encoding.isGsm7(t, { languageShift }), true)
          }
          if (r.encoding === "UCS-2") assert.isFalse(Encoding.isGsm7(t, { languageShift }))
        }))
    })

    it("smart encoding never makes a message cost more segments", () => {
      fc.assert(fc.property(
        fc.array(fc.constantFrom("a", " ", "’", "“", "”", "–", "…", "…", "…", "\u00a0", "\u200b", "😀", "П"), {
          size: "max",
          maxLength: 200
        }),
        (parts) => {
          const t = parts.join("")
          const plain = Encoding.analyze(t)
          const smart = checkLaws(t, { smartEncoding: true })
          assert.isAtMost(smart.segments.length, plain.segments.length)
        }
      ))
    })
  })
})
