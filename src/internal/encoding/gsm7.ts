/**
 * GSM 7-bit alphabet tables (3GPP TS 23.038) as cost lookups keyed by UTF-16
 * code unit, plus the smart-encoding substitutions. Internal: never exported
 * from the package.
 *
 * A cost table answers, for one pairing of a basic (locking shift) table and an
 * extension (single shift) table, how many septets a code unit costs: 1 for
 * the basic table, 2 for the extension table (escape + code), 0 when the
 * pairing cannot encode it.
 */

/** Code units above this are never GSM-7 in any table we support (∞ is U+221E). */
export const TABLE_SIZE = 0x2220

/** 6.2.1 GSM 7 bit Default Alphabet, by septet value. 0x1B is the escape, never a character. */
const DEFAULT_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

/** 6.2.1.1 GSM 7 bit default alphabet extension table (septets 0x0A 0x14 0x28 0x29 0x2F 0x3C 0x3D 0x3E 0x40 0x65). */
const DEFAULT_EXTENSION = "\f^{}\\[~]|€"

/** A.3.1 Turkish National Language Locking Shift Table, by septet value. */
const TURKISH_LOCKING =
  "@£$¥€éùıòÇ\nĞğ\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bŞşßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "İABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§çabcdefghijklmnopqrstuvwxyzäöñüà"

/** A.2.1 Turkish National Language Single Shift Table (the characters it defines). */
const TURKISH_SINGLE = "\f^{}\\[~]|ĞİŞç€ğış"

/** A.2.2 Spanish National Language Single Shift Table. Spanish has no locking shift table. */
const SPANISH_SINGLE = "ç\f^{}\\[~]|ÁÍÓÚá€íóú"

/** A.3.3 Portuguese National Language Locking Shift Table, by septet value. */
const PORTUGUESE_LOCKING =
  "@£$¥êéúíóç\nÔô\rÁáΔ_ªÇÀ∞^\\€Ó|\u001bÂâÊÉ !\"#º%&'()*+,-./0123456789:;<=>?" +
  "ÍABCDEFGHIJKLMNOPQRSTUVWXYZÃÕÚÜ§~abcdefghijklmnopqrstuvwxyzãõ`üà"

/** A.2.3 Portuguese National Language Single Shift Table. */
const PORTUGUESE_SINGLE = "êç\fÔôÁáΦΓ^ΩΠΨΣΘÊ{}\\[~]|ÀÍÓÚÃÕÂ€íóúãõâ"

const buildCosts = (basic: string, extension: string): Uint8Array => {
  const table = new Uint8Array(TABLE_SIZE)
  for (let i = 0; i < extension.length; i++) table[extension.charCodeAt(i)] = 2
  for (let i = 0; i < basic.length; i++) {
    if (i !== 0x1b) table[basic.charCodeAt(i)] = 1
  }
  return table
}

/** 6.2.1.1's septet values, in the order of DEFAULT_EXTENSION. */
const DEFAULT_EXTENSION_SEPTETS = [0x0a, 0x14, 0x28, 0x29, 0x2f, 0x3c, 0x3d, 0x3e, 0x40, 0x65]

let defaultCodes: Map<number, number> | undefined
/** UTF-16 code unit → septet, or ESC << 8 | septet for the extension table; built at first use. */
const codesOfDefault = (): Map<number, number> => {
  if (defaultCodes !== undefined) return defaultCodes
  const codes = new Map<number, number>()
  for (let i = 0; i < DEFAULT_BASIC.length; i++) if (i !== 0x1b) codes.set(DEFAULT_BASIC.charCodeAt(i), i)
  for (let i = 0; i < DEFAULT_EXTENSION.length; i++) {
    codes.set(DEFAULT_EXTENSION.charCodeAt(i), 0x1b00 | DEFAULT_EXTENSION_SEPTETS[i]!)
  }
  return (defaultCodes = codes)
}

/**
 * The default alphabet's septets for `text`, one per octet (unpacked), an
 * extension character as ESC + code; a character outside the alphabet becomes
 * `?` (a surrogate pair is one character).
 */
export const defaultSeptets = (text: string): Uint8Array => {
  const codes = codesOfDefault()
  const out = new Uint8Array(text.length * 2)
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    const code = codes.get(unit)
    if (code === undefined) {
      out[n++] = 0x3f
      if (unit >= 0xd800 && unit <= 0xdbff) i++
    } else if (code > 0xff) {
      out[n++] = 0x1b
      out[n++] = code & 0xff
    } else {
      out[n++] = code
    }
  }
  return out.subarray(0, n)
}

/** Costs for the default alphabet with the default extension table. */
export const DEFAULT_COSTS: Uint8Array = buildCosts(DEFAULT_BASIC, DEFAULT_EXTENSION)

/** The national languages whose shift tables are supported. */
export type ShiftLanguage = "turkish" | "spanish" | "portuguese"

/**
 * One way to encode with a national language: which shift information
 * elements the UDH carries, and the cost table of the resulting pairing.
 */
export interface ShiftConfig {
  readonly language: ShiftLanguage
  readonly lockingShift: boolean
  readonly singleShift: boolean
  /** Octets the shift information elements add to the UDH (3 each). */
  readonly udhOctets: number
  readonly single: number
  readonly multi: number
  readonly costs: Uint8Array
}

/**
 * Septets left for text in a segment whose UDH holds `udhOctets` octets of
 * information elements: the UDH (with its length octet) is padded to a septet
 * boundary, so it takes ceil((UDHL + 1) * 8 / 7) septets of the 160.
 */
export const septetsPerSegment = (udhOctets: number): number =>
  udhOctets === 0 ? 160 : 160 - Math.ceil(((udhOctets + 1) * 8) / 7)

const CONCATENATION_IE = 5 // IEI, IEL, reference, total, sequence (8-bit reference)
const SHIFT_IE = 3 // IEI 0x24 or 0x25, IEL 1, language

const makeConfig = (
  language: ShiftLanguage,
  lockingShift: boolean,
  singleShift: boolean,
  basic: string,
  extension: string
): ShiftConfig => {
  const udhOctets = SHIFT_IE * ((lockingShift ? 1 : 0) + (singleShift ? 1 : 0))
  return {
    language,
    lockingShift,
    singleShift,
    udhOctets,
    single: septetsPerSegment(udhOctets),
    multi: septetsPerSegment(udhOctets + CONCATENATION_IE),
    costs: buildCosts(basic, extension)
  }
}

const configCache = new Map<ShiftLanguage, ReadonlyArray<ShiftConfig>>()

/**
 * The pairings a language allows, cheapest UDH first. Built on first use, so
 * a program that never asks for a shift table never pays for one.
 */
export const shiftConfigs = (language: ShiftLanguage): ReadonlyArray<ShiftConfig> => {
  const cached = configCache.get(language)
  if (cached !== undefined) return cached
  let configs: ReadonlyArray<ShiftConfig>
  switch (language) {
    case "turkish":
      configs = [
        makeConfig(language, false, true, DEFAULT_BASIC, TURKISH_SINGLE),
        makeConfig(language, true, false, TURKISH_LOCKING, DEFAULT_EXTENSION),
        makeConfig(language, true, true, TURKISH_LOCKING, TURKISH_SINGLE)
      ]
      break
    case "spanish":
      configs = [makeConfig(language, false, true, DEFAULT_BASIC, SPANISH_SINGLE)]
      break
    case "portuguese":
      configs = [
        makeConfig(language, false, true, DEFAULT_BASIC, PORTUGUESE_SINGLE),
        makeConfig(language, true, false, PORTUGUESE_LOCKING, DEFAULT_EXTENSION),
        makeConfig(language, true, true, PORTUGUESE_LOCKING, PORTUGUESE_SINGLE)
      ]
      break
  }
  configCache.set(language, configs)
  return configs
}

const unionCache = new Map<ShiftLanguage, Uint8Array>()

/**
 * Costs where a code unit counts as encodable when any pairing the language
 * allows (or the default alphabet) encodes it; used to name the characters
 * that forced UCS-2.
 */
export const unionCosts = (language: ShiftLanguage): Uint8Array => {
  const cached = unionCache.get(language)
  if (cached !== undefined) return cached
  const union = DEFAULT_COSTS.slice()
  for (const config of shiftConfigs(language)) {
    for (let i = 0; i < TABLE_SIZE; i++) {
      if (union[i] === 0) union[i] = config.costs[i]!
    }
  }
  unionCache.set(language, union)
  return union
}

/** True when `language` is one we have tables for (callers may be plain JavaScript). */
export const isShiftLanguage = (language: unknown): language is ShiftLanguage =>
  language === "turkish" || language === "spanish" || language === "portuguese"

/**
 * Septets `text` costs with `costs`, or -1 when a code unit is not encodable.
 */
export const septets = (text: string, costs: Uint8Array): number => {
  let units = 0
  for (let i = 0, n = text.length; i < n; i++) {
    const code = text.charCodeAt(i)
    const cost = code < TABLE_SIZE ? costs[code]! : 0
    if (cost === 0) return -1
    units += cost
  }
  return units
}

// smart encoding

/**
 * Look-alike substitutions into the default alphabet: typographic quotes,
 * dashes, ellipsis, Unicode spaces, invisible format characters, fullwidth
 * ASCII and Greek capitals that look Latin. Every replacement is default
 * GSM-7 (a test checks it).
 */
const SMART_PAIRS: ReadonlyArray<readonly [string, string]> = [
  // single quotes, primes, apostrophes, accents used as apostrophes
  ["\u2018\u2019\u201A\u201B\u2032\u2035\u02B9\u02BB\u02BC\u02BD\u02C8\u02CA\u02CB\u00B4\u0060\uFF07\u275B\u275C", "'"],
  // double quotes, guillemets, double primes
  ["\u201C\u201D\u201E\u201F\u2033\u2036\u00AB\u00BB\u02BA\u02EE\u275D\u275E\u301D\u301E\uFF02", "\""],
  ["\u2026", "..."],
  ["\u2025", ".."],
  ["\u2039", "<"],
  ["\u203A", ">"],
  // hyphens, dashes, minus, bullets
  ["\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\uFE58\uFE63\uFF0D\u2022", "-"],
  // spaces (no-break, en/em, thin, hair, narrow, ideographic, ogham) and tab
  ["\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u202F\u205F\u3000\t", " "],
  // line and paragraph separators, next line
  ["\u2028\u2029\u0085", "\n"],
  // invisible: soft hyphen, zero-width space/joiners, word joiner, direction marks, BOM
  ["\u00AD\u200B\u200C\u200D\u200E\u200F\u2060\uFEFF", ""],
  ["\u2044\u2215\u29F8", "/"],
  ["\u2216\u29F5\u29F9", "\\"],
  ["\u2223\u23D0", "|"],
  ["\u223C\u02DC", "~"],
  ["\u02C6", "^"],
  ["\u3002\uFF61", "."],
  ["\u3001\uFF64", ","],
  // Greek capitals that look Latin, and the symbols that are Greek letters in GSM
  ["\u0391", "A"], ["\u0392", "B"], ["\u0395", "E"], ["\u0396", "Z"], ["\u0397", "H"],
  ["\u0399", "I"], ["\u039A", "K"], ["\u039C", "M"], ["\u039D", "N"], ["\u039F", "O"],
  ["\u03A1", "P"], ["\u03A4", "T"], ["\u03A5", "Y"], ["\u03A7", "X"],
  ["\u2126", "\u03A9"],
  ["\u2206", "\u0394"]
]

const buildSmart = (): Map<number, string> => {
  const map = new Map<number, string>()
  for (const [from, to] of SMART_PAIRS) {
    for (let i = 0; i < from.length; i++) map.set(from.charCodeAt(i), to)
  }
  // fullwidth ASCII U+FF01–U+FF5E, where the ASCII character is GSM-7
  for (let code = 0xff01; code <= 0xff5e; code++) {
    const ascii = code - 0xfee0
    if (DEFAULT_COSTS[ascii] !== 0 && !map.has(code)) map.set(code, String.fromCharCode(ascii))
  }
  map.set(0xff40, "'") // fullwidth grave accent: ` itself is not GSM-7
  return map
}

let smartMap: Map<number, string> | undefined

/** The smart-encoding map, built on first use. */
export const smartReplacements = (): ReadonlyMap<number, string> => (smartMap ??= buildSmart())
