/**
 * Picks GSM-7 or UCS-2 for a text and splits it into the SMS segments a
 * carrier bills, following 3GPP TS 23.038 (GSM 03.38) and TS 23.040.
 *
 * **Details**
 * - GSM-7 is used when every character is in the default alphabet or its
 *   extension table; an extension character (`€ [ ] { } \ ^ ~ |` and form
 *   feed) costs two septets (escape + code). One segment holds 160 septets;
 *   a concatenated message 153 per segment (the UDH takes 7).
 * - Anything else is UCS-2: UTF-16 code units, 70 in one segment, 67 per
 *   segment of a concatenated message.
 * - A segment never splits an escape pair or a surrogate pair, and keeps a
 *   grapheme cluster (a ZWJ emoji, a flag, a letter with its combining marks)
 *   whole wherever the cluster fits in one segment, as phones do. That can
 *   cost one more segment, and it is what the carrier bills.
 * - Smart encoding (off by default) replaces typographic quotes, dashes,
 *   ellipses, Unicode spaces and similar look-alikes with GSM-7 characters,
 *   only when that makes the whole message GSM-7 (and no longer).
 * - National language shift tables (Turkish, Spanish, Portuguese) are used
 *   only when asked for and only when they make the message GSM-7; each shift
 *   costs 3 UDH octets per segment, which the per-segment limits account for.
 *
 * **Gotchas**
 * - `text` in the result is what is actually sent: after smart encoding it
 *   may differ from the input. `segments` always concatenate to it.
 * - An empty text is one empty segment.
 * - `Ç` (U+00C7) is GSM-7; `ç` (U+00E7) is not in the default alphabet (it is
 *   in the Turkish, Spanish and Portuguese tables).
 *
 * @example
 * ```ts
 * import { Encoding } from "smsforge"
 *
 * Encoding.analyze("Your code is 123456").segments.length // => 1
 * Encoding.analyze("Привет").encoding // => "UCS-2"
 * ```
 *
 * @since 0.1.0
 */
import {
  DEFAULT_COSTS,
  defaultSeptets,
  isShiftLanguage,
  septets,
  type ShiftConfig,
  shiftConfigs,
  smartReplacements,
  TABLE_SIZE,
  unionCosts
} from "./internal/encoding/gsm7.ts"
import { splitGsm, splitUcs2 } from "./internal/encoding/segments.ts"

// models

/**
 * The body encoding of a message.
 *
 * @category models
 * @since 0.1.0
 */
export type MessageEncoding = "GSM-7" | "UCS-2"

/**
 * A national language whose 3GPP TS 23.038 shift tables can be used.
 * Turkish and Portuguese have a locking and a single shift table; Spanish has
 * only a single shift table.
 *
 * @category models
 * @since 0.1.0
 */
export type Language = "turkish" | "spanish" | "portuguese"

/**
 * Options for {@link analyze}.
 *
 * @category models
 * @since 0.1.0
 */
export interface AnalyzeOptions {
  /**
   * Replace look-alike characters (typographic quotes, dashes, ellipsis,
   * Unicode spaces, fullwidth ASCII, invisible format characters, a letter
   * followed by a combining accent that composes to a GSM-7 letter) when, and
   * only when, that makes the whole message GSM-7 without costing more
   * segments than UCS-2 would. Default `false`.
   */
  readonly smartEncoding?: boolean | undefined
  /**
   * Allow the national language shift tables of this language when the
   * default alphabet cannot encode the message. The recipient's phone must
   * support them (3GPP Release 8 and later).
   */
  readonly languageShift?: Language | undefined
}

/**
 * One smart-encoding substitution.
 *
 * @category models
 * @since 0.1.0
 */
export interface Replacement {
  /** The replaced characters of the input (one character, or a letter and its combining accent). */
  readonly from: string
  /** What was sent instead; may be several characters (`…` → `...`) or none (zero-width space). */
  readonly to: string
  /** UTF-16 offset of `from` in the input text. */
  readonly index: number
}

/**
 * Which national language shift information elements the message carries.
 *
 * @category models
 * @since 0.1.0
 */
export interface LanguageShift {
  readonly language: Language
  /** The basic table is the language's locking shift table (UDH IE 0x25). */
  readonly lockingShift: boolean
  /** The extension table is the language's single shift table (UDH IE 0x24). */
  readonly singleShift: boolean
}

/**
 * What {@link analyze} found.
 *
 * @category models
 * @since 0.1.0
 */
export interface Analysis {
  readonly encoding: MessageEncoding
  /** The text actually sent (after smart encoding, when it applied). */
  readonly text: string
  /** The segments, in order; they concatenate to `text`. Their number is the segment count. */
  readonly segments: ReadonlyArray<string>
  /** Septets for GSM-7 (an extension character counts two), UTF-16 code units for UCS-2. UDH not included. */
  readonly units: number
  /** The limit that applied to each segment: 160/153 (less with shift tables) for GSM-7, 70/67 for UCS-2. */
  readonly unitsPerSegment: number
  /**
   * The characters (unique, in order of appearance) that forced UCS-2; empty
   * for GSM-7. Computed on first read (a getter), so `{ ...analysis }` leaves
   * it out; `JSON.stringify` includes it.
   */
  readonly nonGsmCharacters: ReadonlyArray<string>
  /** Smart-encoding substitutions, in order; empty unless smart encoding applied. */
  readonly replacements: ReadonlyArray<Replacement>
  /** Present when a national language shift table is used. */
  readonly languageShift?: LanguageShift | undefined
}

// constants

const GSM_SINGLE = 160
const GSM_MULTI = 153
const UCS2_SINGLE = 70
const UCS2_MULTI = 67

const NONE: ReadonlyArray<never> = Object.freeze([])

// internals

/**
 * The analysis as returned: plain fields, plus `nonGsmCharacters` computed on
 * first read (listing them allocates a string per distinct character, which
 * the common caller, who only needs the segments, should not pay for).
 */
class Analyzed implements Analysis {
  readonly encoding: MessageEncoding
  readonly text: string
  readonly segments: ReadonlyArray<string>
  readonly units: number
  readonly unitsPerSegment: number
  readonly replacements: ReadonlyArray<Replacement>
  declare readonly languageShift?: LanguageShift | undefined
  /** For UCS-2: the text whose characters forced it, and the language whose tables were allowed. */
  #forcedBy: string | undefined
  #language: Language | undefined
  #nonGsm: ReadonlyArray<string> | undefined
  constructor(
    encoding: MessageEncoding,
    text: string,
    segments: ReadonlyArray<string>,
    units: number,
    unitsPerSegment: number,
    replacements: ReadonlyArray<Replacement>,
    forcedBy: string | undefined,
    language: Language | undefined
  ) {
    this.encoding = encoding
    this.text = text
    this.segments = segments
    this.units = units
    this.unitsPerSegment = unitsPerSegment
    this.replacements = replacements
    this.#forcedBy = forcedBy
    this.#language = language
    this.#nonGsm = forcedBy === undefined ? NONE : undefined
  }
  get nonGsmCharacters(): ReadonlyArray<string> {
    return this.#nonGsm ??= nonGsmCharacters(this.text, this.#forcedBy ?? this.text, this.#language)
  }
  toJSON(): object {
    const { encoding, languageShift, nonGsmCharacters, replacements, segments, text, units, unitsPerSegment } = this
    return languageShift === undefined
      ? { encoding, text, segments, units, unitsPerSegment, nonGsmCharacters, replacements }
      : { encoding, text, segments, units, unitsPerSegment, nonGsmCharacters, replacements, languageShift }
  }
}

const gsm = (
  text: string,
  units: number,
  single: number,
  multi: number,
  costs: Uint8Array,
  replacements: ReadonlyArray<Replacement>,
  config: ShiftConfig | undefined
): Analysis => {
  let segments: Array<string>
  let unitsPerSegment = single
  if (units <= single) {
    segments = [text]
  } else {
    segments = []
    unitsPerSegment = multi
    splitGsm(text, units, costs, multi, segments)
  }
  const result = new Analyzed("GSM-7", text, segments, units, unitsPerSegment, replacements, undefined, undefined)
  if (config !== undefined) {
    ;(result as { languageShift?: LanguageShift }).languageShift = {
      language: config.language,
      lockingShift: config.lockingShift,
      singleShift: config.singleShift
    }
  }
  return result
}

/** `forcedBy`: the text whose non-GSM characters are listed (the smart-encoded text when smart encoding ran). */
const ucs2 = (text: string, forcedBy: string, language: Language | undefined): Analysis => {
  const units = text.length
  let segments: Array<string>
  let unitsPerSegment = UCS2_SINGLE
  if (units <= UCS2_SINGLE) {
    segments = [text]
  } else {
    segments = []
    unitsPerSegment = UCS2_MULTI
    splitUcs2(text, UCS2_MULTI, segments)
  }
  return new Analyzed("UCS-2", text, segments, units, unitsPerSegment, NONE, forcedBy, language)
}

/**
 * The cheapest shift pairing that encodes `text`: fewest segments, then the
 * smallest UDH, then single shift before locking shift (an unsupported single
 * shift garbles only the shifted characters, a locking shift the whole text).
 */
const bestShift = (
  text: string,
  language: Language,
  replacements: ReadonlyArray<Replacement>
): Analysis | undefined => {
  let best: ShiftConfig | undefined
  let bestUnits = 0
  let bestCount = 0
  for (const config of shiftConfigs(language)) {
    const units = septets(text, config.costs)
    if (units < 0) continue
    const count = units <= config.single ? 1 : splitGsm(text, units, config.costs, config.multi, undefined)
    if (best === undefined || count < bestCount || (count === bestCount && config.udhOctets < best.udhOctets)) {
      best = config
      bestUnits = units
      bestCount = count
    }
  }
  return best === undefined
    ? undefined
    : gsm(text, bestUnits, best.single, best.multi, best.costs, replacements, best)
}

// Marks of the BMP code units already listed by the current `nonGsm` call: a
// stamp per call instead of a Set per call (wraps after 65535 calls).
let seen: Uint16Array | undefined
let stamp = 0

/** Unique code points of `text` that `costs` cannot encode, in order. */
const nonGsm = (text: string, costs: Uint8Array): Array<string> => {
  const out: Array<string> = []
  seen ??= new Uint16Array(0x10000)
  if (++stamp === 0x10000) {
    seen.fill(0)
    stamp = 1
  }
  let astral: Array<number> | undefined
  for (let i = 0, n = text.length; i < n; i++) {
    const code = text.charCodeAt(i)
    if (code < TABLE_SIZE && costs[code] !== 0) continue
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < n) {
      const low = text.charCodeAt(i + 1)
      if (low >= 0xdc00 && low <= 0xdfff) {
        const cp = (code - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000
        astral ??= []
        if (!astral.includes(cp)) {
          astral.push(cp)
          out.push(text.slice(i, i + 2))
        }
        i++
        continue
      }
    }
    if (seen[code] === stamp) continue
    seen[code] = stamp
    out.push(text.charAt(i))
  }
  return out
}

/**
 * The characters of `forcedBy` outside the default alphabet (and outside the
 * language's tables, when one was allowed), limited to those of the sent
 * `text`: removing a zero-width character in smart encoding can join two lone
 * surrogates into a character the input never had.
 */
const nonGsmCharacters = (text: string, forcedBy: string, language: Language | undefined): ReadonlyArray<string> => {
  let listed = nonGsm(forcedBy, language === undefined ? DEFAULT_COSTS : unionCosts(language))
  // every character is in some table of the language, but no one pairing holds them all
  if (listed.length === 0 && language !== undefined) listed = nonGsm(forcedBy, DEFAULT_COSTS)
  if (forcedBy === text) return listed
  const left = listed.filter((char) => text.includes(char))
  return left.length > 0 ? left : nonGsmCharacters(text, text, language)
}

const isDefaultGsm = (char: string): boolean => {
  const code = char.charCodeAt(0)
  return char.length === 1 && code < TABLE_SIZE && DEFAULT_COSTS[code] !== 0
}

/** Applies the smart-encoding map; `undefined` when nothing was replaced. */
const smartEncode = (
  text: string
): { readonly text: string; readonly replacements: ReadonlyArray<Replacement> } | undefined => {
  const map = smartReplacements()
  let parts: Array<string> | undefined
  let replacements: Array<Replacement> | undefined
  let last = 0
  for (let i = 0, n = text.length; i < n; i++) {
    const code = text.charCodeAt(i)
    if (code < TABLE_SIZE && DEFAULT_COSTS[code] !== 0) continue
    let to = map.get(code)
    let index = i
    if (to === undefined && code >= 0x300 && code <= 0x36f && i > last) {
      // a letter and a combining accent that compose to a GSM-7 letter (e + ◌́ → é)
      const composed = text.slice(i - 1, i + 1).normalize("NFC")
      if (isDefaultGsm(composed)) {
        to = composed
        index = i - 1
      }
    }
    if (to === undefined) continue
    parts ??= []
    replacements ??= []
    parts.push(text.slice(last, index), to)
    replacements.push({ from: text.slice(index, i + 1), to, index })
    last = i + 1
  }
  if (parts === undefined || replacements === undefined) return undefined
  parts.push(text.slice(last))
  return { text: parts.join(""), replacements }
}

const analyzeSlow = (text: string, options: AnalyzeOptions | undefined): Analysis => {
  // `?.`: untyped callers may pass null
  const requested = options?.languageShift
  const language = isShiftLanguage(requested) ? requested : undefined
  if (language !== undefined) {
    const shifted = bestShift(text, language, NONE)
    if (shifted !== undefined) return shifted
  }
  if (options?.smartEncoding === true) {
    const smart = smartEncode(text)
    if (smart !== undefined) {
      const units = septets(smart.text, DEFAULT_COSTS)
      const replaced = units >= 0
        ? gsm(smart.text, units, GSM_SINGLE, GSM_MULTI, DEFAULT_COSTS, smart.replacements, undefined)
        : language !== undefined
        ? bestShift(smart.text, language, smart.replacements)
        : undefined
      if (replaced === undefined) {
        // what is left after the substitutions is what forced UCS-2
        return ucs2(text, smart.text, language)
      }
      // "…" becomes three septets: never pay more segments than UCS-2 would
      const segments = replaced.segments.length
      if (
        segments === 1 ||
        segments <= (text.length <= UCS2_SINGLE ? 1 : splitUcs2(text, UCS2_MULTI, undefined))
      ) {
        return replaced
      }
    }
  }
  return ucs2(text, text, language)
}

const asText = (text: unknown): string => {
  if (typeof text === "string") return text
  if (text === null || text === undefined) return ""
  try {
    return String(text)
  } catch {
    return ""
  }
}

// constructors

/**
 * Picks the encoding of a text and splits it into SMS segments.
 *
 * **Details**
 * - Pure and total: never throws, whatever the input (lone surrogates are
 *   UCS-2 code units like any other; from untyped callers, `null` and
 *   `undefined` are an empty text and other values are converted with `String`).
 * - Pure GSM-7 texts take one table-lookup pass; a text is split only when it
 *   exceeds one segment.
 * - With `languageShift`, the pairing of locking and single shift tables with
 *   the fewest segments wins, then the smallest UDH, then single shift over
 *   locking shift.
 *
 * **Example** (GSM-7, UCS-2 and smart encoding)
 * ```ts
 * import { Encoding } from "smsforge"
 *
 * Encoding.analyze("Total: 5€").units // => 10 (€ is an extension character)
 * Encoding.analyze("Hi 👋").encoding // => "UCS-2"
 * const smart = Encoding.analyze("It’s “on” – now", { smartEncoding: true })
 * smart.text // => "It's \"on\" - now"
 * smart.encoding // => "GSM-7"
 * Encoding.analyze("Şifreniz: 1234", { languageShift: "turkish" }).languageShift
 * // => { language: "turkish", lockingShift: false, singleShift: true }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const analyze = (text: string, options?: AnalyzeOptions): Analysis => {
  if (typeof text !== "string") text = asText(text)
  let units = 0
  for (let i = 0, n = text.length; i < n; i++) {
    const code = text.charCodeAt(i)
    const cost = code < TABLE_SIZE ? DEFAULT_COSTS[code]! : 0
    if (cost === 0) return analyzeSlow(text, options)
    units += cost
  }
  return gsm(text, units, GSM_SINGLE, GSM_MULTI, DEFAULT_COSTS, NONE, undefined)
}

// utils

/**
 * The number of segments {@link analyze} would bill for a text.
 *
 * @example
 * ```ts
 * import { Encoding } from "smsforge"
 *
 * Encoding.segmentCount("a".repeat(161)) // => 2
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const segmentCount = (text: string, options?: AnalyzeOptions): number => analyze(text, options).segments.length

/**
 * The septets a GSM-7 text is sent as in the default alphabet (3GPP TS
 * 23.038), one per octet (unpacked), as SMPP's data_coding 0 takes them.
 *
 * **Details**
 * - An extension character (`€`, `{`, `[` …) is two septets: ESC (0x1B) and
 *   its code, so the length equals `analyze(text).units` for a GSM-7 text.
 * - A character outside the default alphabet becomes `?` (0x3F); check with
 *   {@link isGsm7} first, or let `analyze` choose UCS-2.
 *
 * @example
 * ```ts
 * import { Encoding } from "smsforge"
 *
 * Array.from(Encoding.toGsm7Septets("@€")) // => [0, 27, 101]
 * ```
 *
 * @category utils
 * @since 0.2.0
 */
export const toGsm7Septets = (text: string): Uint8Array => defaultSeptets(text)

/**
 * True when the text can be sent as GSM-7 as it is: every character is in
 * the default alphabet or its extension table (or, with `languageShift`, in
 * that language's shift tables). Smart encoding is not applied.
 *
 * @example
 * ```ts
 * import { Encoding } from "smsforge"
 *
 * Encoding.isGsm7("Café {ok}") // => true
 * Encoding.isGsm7("Çay şimdi", { languageShift: "turkish" }) // => true
 * Encoding.isGsm7("naïve") // => false
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const isGsm7 = (text: string, options?: { readonly languageShift?: Language | undefined }): boolean => {
  text = asText(text)
  if (septets(text, DEFAULT_COSTS) >= 0) return true
  const language = options?.languageShift
  return isShiftLanguage(language) && shiftConfigs(language).some((config) => septets(text, config.costs) >= 0)
}

/**
 * Segment limits, in units, for a message of one or several segments without
 * shift tables: `{ "GSM-7": { single: 160, multi: 153 }, "UCS-2": { single: 70, multi: 67 } }`.
 *
 * @category constants
 * @since 0.1.0
 */
export const limits: {
  readonly "GSM-7": { readonly single: number; readonly multi: number }
  readonly "UCS-2": { readonly single: number; readonly multi: number }
} = {
  "GSM-7": { single: GSM_SINGLE, multi: GSM_MULTI },
  "UCS-2": { single: UCS2_SINGLE, multi: UCS2_MULTI }
}
