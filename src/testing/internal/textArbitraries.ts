/**
 * fast-check arbitraries for message texts, for property tests of anything
 * that encodes, segments, stores or sends a text.
 *
 * **Details**
 * - Hand-built from the GSM 03.38 tables (3GPP TS 23.038), not from a Schema.
 * - Lengths lean towards the segment boundaries (152–154, 159–161, 305–307
 *   septets; 66–71, 133–135 code units), where encoders go wrong, and still
 *   cover everything from empty to four segments.
 *
 * @since 0.1.0
 */
import * as fc from "fast-check"

/** The GSM 7 bit default alphabet (6.2.1), without the escape. */
const GSM7_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

/** The default alphabet extension table (6.2.1.1): two septets each. */
const GSM7_EXTENSION = "\f^{}\\[~]|€"

const COMMON = "abcdefghijklmnopqrstuvwxyz       ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:-"

const chars = (alphabet: string): fc.Arbitrary<string> => fc.constantFrom(...Array.from(alphabet))

const septetLengths = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 480 }), weight: 3 },
  { arbitrary: fc.constantFrom(0, 1, 152, 153, 154, 159, 160, 161, 305, 306, 307, 459, 460), weight: 2 }
)

const ofLength = (unit: fc.Arbitrary<string>, lengths: fc.Arbitrary<number>): fc.Arbitrary<string> =>
  lengths.chain((length) => fc.string({ unit, minLength: length, maxLength: length }))

/**
 * Texts in the GSM-7 default alphabet only (one septet per character), mostly
 * Latin letters, digits and spaces with the alphabet's accented letters, Greek
 * capitals and symbols mixed in.
 *
 * @example
 * ```ts
 * import * as fc from "fast-check"
 * import { Encoding } from "smsforge"
 * import { Arbitraries } from "smsforge/testing/arbitraries"
 *
 * fc.assert(fc.property(Arbitraries.gsm7Text, (text) => Encoding.analyze(text).encoding === "GSM-7"))
 * ```
 *
 * @category arbitraries
 * @since 0.1.0
 */
export const gsm7Text: fc.Arbitrary<string> = ofLength(
  fc.oneof({ arbitrary: chars(COMMON), weight: 6 }, { arbitrary: chars(GSM7_BASIC), weight: 2 }),
  septetLengths
)

/**
 * GSM-7 texts that also use the extension table (`€ [ ] { } \ ^ ~ |` and form
 * feed, two septets each), so that escape pairs land on segment boundaries.
 *
 * @category arbitraries
 * @since 0.1.0
 */
export const gsm7ExtendedText: fc.Arbitrary<string> = ofLength(
  fc.oneof(
    { arbitrary: chars(COMMON), weight: 5 },
    { arbitrary: chars(GSM7_BASIC), weight: 2 },
    { arbitrary: chars(GSM7_EXTENSION), weight: 2 }
  ),
  septetLengths
)

/** Pieces that force UCS-2, several of them grapheme clusters of more than one code unit. */
const NON_GSM: ReadonlyArray<string> = [
  // Cyrillic, Greek small letters, CJK, Arabic, Hebrew, Thai, Hangul
  ..."ПриветмирЖЩЯжщяαβγδλμπσω你好快递已到达请取件验证码是短信ابتثשלוםกขคงสวัสดี안녕하세요",
  // Latin letters outside the default alphabet
  ..."ąćęłńśźżçïîôûâêëÿœšžőűğışİ",
  // punctuation that smart encoding could replace (alone, it still forces UCS-2)
  ..."“”‘’–—…\u00a0",
  // emoji: single code points, with a variation selector, with a skin tone
  "😀", "👍", "🎉", "📦", "🚚", "❤️", "✅", "👍🏽",
  // ZWJ sequences, flags, keycaps
  "👨‍👩‍👧‍👦", "🧑‍💻", "🏳️‍🌈", "❤️‍🔥", "🇫🇷", "🇯🇵", "🇺🇦", "1️⃣",
  // letters with combining marks, Indic conjuncts, Hangul jamo
  "e\u0301", "a\u0308\u0304", "n\u0303", "क्षि", "नमस्ते", "\u1100\u1161\u11a8",
  // an astral CJK ideograph (a surrogate pair that is not an emoji)
  "𠀀"
]

const ucs2Lengths = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 220 }), weight: 3 },
  { arbitrary: fc.constantFrom(60, 64, 65, 66, 67, 68, 69, 70, 71, 130, 133, 134, 135), weight: 2 }
)

/**
 * Texts that need UCS-2: GSM-7 text mixed with Cyrillic, CJK, Arabic, emoji
 * (ZWJ sequences, flags, skin tones), combining marks and typographic
 * punctuation. Every generated text has at least one character outside the
 * GSM-7 alphabet that smart encoding cannot replace, so it is UCS-2 with or
 * without smart encoding (a Turkish, Spanish or Portuguese shift table may
 * still make some of them GSM-7).
 *
 * @example
 * ```ts
 * import * as fc from "fast-check"
 * import { Encoding } from "smsforge"
 * import { Arbitraries } from "smsforge/testing/arbitraries"
 *
 * fc.assert(fc.property(Arbitraries.ucs2Text, (text) => Encoding.analyze(text).encoding === "UCS-2"))
 * ```
 *
 * @category arbitraries
 * @since 0.1.0
 */
export const ucs2Text: fc.Arbitrary<string> = fc
  .tuple(
    ofLength(
      fc.oneof(
        { arbitrary: chars(COMMON), weight: 5 },
        { arbitrary: chars(GSM7_BASIC + GSM7_EXTENSION), weight: 1 },
        { arbitrary: fc.constantFrom(...NON_GSM), weight: 3 }
      ),
      ucs2Lengths
    ),
    // a piece smart encoding cannot turn into GSM-7 (no punctuation, no letter + combining accent)
    fc.constantFrom(...NON_GSM.filter((piece) => !/^[“”‘’–—…\u00a0]$|[\u0300-\u036f]/.test(piece))),
    fc.nat()
  )
  .map(([text, forced, at]) => {
    const cut = Array.from(text)
    const index = cut.length === 0 ? 0 : at % (cut.length + 1)
    return cut.slice(0, index).join("") + forced + cut.slice(index).join("")
  })
