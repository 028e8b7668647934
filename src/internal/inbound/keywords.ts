/**
 * Pure keyword matching for inbound replies (STOP, START, HELP and their
 * localised forms).
 *
 * @internal
 */

/**
 * What a keyword asks for: opt out of marketing, of everything, opt in,
 * help, or a positive answer that only confirms a double opt-in.
 *
 * @category models
 * @since 0.1.0
 */
export type KeywordAction = "opt-out" | "opt-out-all" | "opt-in" | "help" | "positive"

/**
 * Keyword lists by action, with the locale of their replies; every list is
 * optional.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeywordSet {
  /** Opt out of marketing (or of everything, see the `stopScope` option). */
  readonly optOut?: ReadonlyArray<string> | undefined
  /** Opt out of everything, transactional messages included. */
  readonly optOutAll?: ReadonlyArray<string> | undefined
  /** Opt back in; also confirms a pending double opt-in. */
  readonly optIn?: ReadonlyArray<string> | undefined
  readonly help?: ReadonlyArray<string> | undefined
  /** Positive answers that only confirm a pending double opt-in (Y, 是, はい). */
  readonly positive?: ReadonlyArray<string> | undefined
  /** Language of the automatic replies for this set, e.g. `"fr"`. */
  readonly locale?: string | undefined
}

/**
 * A keyword that matched.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeywordMatch {
  readonly action: KeywordAction
  /** The keyword as listed, e.g. `"ARRÊT"`. */
  readonly keyword: string
  /** The locale of the set the keyword came from. */
  readonly locale: string
}



/** The keywords every country understands. */
export const defaultKeywords: KeywordSet = {
  optOut: ["STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT-OUT", "REMOVE"],
  optOutAll: ["STOPALL", "STOP ALL"],
  optIn: ["START", "UNSTOP", "YES"],
  help: ["HELP", "INFO"],
  positive: ["Y"],
  locale: "en"
}

/** Localised keyword sets by ISO 3166 alpha-2 country, used on top of {@link defaultKeywords}. */
export const countryKeywords: Readonly<Record<string, KeywordSet>> = {
  CN: {
    optOut: ["退订", "TD", "T", "退定", "取消订阅"],
    optIn: ["订阅"],
    help: ["帮助"],
    positive: ["是", "好", "确认", "同意"],
    locale: "zh"
  },
  TW: { optOut: ["退訂", "取消訂閱"], help: ["幫助"], positive: ["是", "確認"], locale: "zh-TW" },
  HK: { optOut: ["退訂", "取消訂閱"], help: ["幫助"], positive: ["是", "確認"], locale: "zh-HK" },
  FR: { optOut: ["ARRET", "ARRÊT", "STOP", "DESABONNER", "DÉSABONNER"], optIn: ["OUI"], help: ["AIDE"], locale: "fr" },
  BE: { optOut: ["ARRET", "ARRÊT", "STOP", "AFMELDEN"], optIn: ["OUI", "JA"], help: ["AIDE", "HULP"], locale: "fr" },
  CH: { optOut: ["STOPP", "ARRET", "ARRÊT", "ABMELDEN"], optIn: ["JA", "OUI"], help: ["HILFE", "AIDE"], locale: "de" },
  CA: { optOut: ["ARRET", "ARRÊT"], optIn: ["OUI"], help: ["AIDE"], locale: "fr" },
  ES: { optOut: ["BAJA", "ALTO", "PARAR", "CANCELAR"], optIn: ["ALTA", "SI", "SÍ"], help: ["AYUDA"], locale: "es" },
  MX: { optOut: ["BAJA", "ALTO", "PARAR", "CANCELAR"], optIn: ["ALTA", "SI", "SÍ"], help: ["AYUDA"], locale: "es" },
  AR: { optOut: ["BAJA", "ALTO", "PARAR", "CANCELAR"], optIn: ["ALTA", "SI", "SÍ"], help: ["AYUDA"], locale: "es" },
  CO: { optOut: ["BAJA", "ALTO", "PARAR", "CANCELAR"], optIn: ["ALTA", "SI", "SÍ"], help: ["AYUDA"], locale: "es" },
  CL: { optOut: ["BAJA", "ALTO", "PARAR", "CANCELAR"], optIn: ["ALTA", "SI", "SÍ"], help: ["AYUDA"], locale: "es" },
  PE: { optOut: ["BAJA", "ALTO", "PARAR", "CANCELAR"], optIn: ["ALTA", "SI", "SÍ"], help: ["AYUDA"], locale: "es" },
  DE: { optOut: ["STOPP", "ABMELDEN", "ABBESTELLEN"], optIn: ["JA"], help: ["HILFE"], locale: "de" },
  AT: { optOut: ["STOPP", "ABMELDEN", "ABBESTELLEN"], optIn: ["JA"], help: ["HILFE"], locale: "de" },
  IT: { optOut: ["ANNULLA", "CANCELLA", "DISISCRIVI"], optIn: ["SI", "SÌ"], help: ["AIUTO"], locale: "it" },
  PT: { optOut: ["SAIR", "PARAR", "CANCELAR"], optIn: ["SIM"], help: ["AJUDA"], locale: "pt" },
  BR: { optOut: ["SAIR", "PARAR", "CANCELAR"], optIn: ["SIM"], help: ["AJUDA"], locale: "pt" },
  NL: { optOut: ["AFMELDEN", "UITSCHRIJVEN"], optIn: ["JA"], help: ["HULP"], locale: "nl" },
  SE: { optOut: ["AVSLUTA"], optIn: ["JA"], help: ["HJÄLP"], locale: "sv" },
  PL: { optOut: ["WYPISZ"], optIn: ["TAK"], help: ["POMOC"], locale: "pl" },
  JP: { optOut: ["停止", "配信停止"], help: ["ヘルプ"], positive: ["はい"], locale: "ja" },
  KR: { optOut: ["수신거부", "거부"], help: ["도움말"], positive: ["네", "예"], locale: "ko" }
}

/**
 * Normalises a text for keyword comparison: Unicode NFKC (full-width letters
 * become ASCII), upper case, whitespace removed, surrounding punctuation and
 * symbols dropped.
 */
export const normalizeKeyword = (text: string): string =>
  text
    .normalize("NFKC")
    .toUpperCase()
    .replace(/[\s\u200B-\u200D\uFEFF]+/gu, "")
    .replace(/^[\p{P}\p{S}]+/u, "")
    .replace(/[\p{P}\p{S}]+$/u, "")

const actions: ReadonlyArray<readonly [KeywordAction, keyof KeywordSet]> = [
  ["opt-out-all", "optOutAll"],
  ["opt-out", "optOut"],
  ["help", "help"],
  ["opt-in", "optIn"],
  ["positive", "positive"]
]

/** A prepared lookup table from normalised keyword to its meaning. */
export type KeywordTable = ReadonlyMap<string, KeywordMatch>

/**
 * Builds a lookup table from keyword sets; earlier sets win on conflicts, so
 * pass the country's set before the default one.
 */
export const compile = (sets: ReadonlyArray<KeywordSet>): KeywordTable => {
  const table = new Map<string, KeywordMatch>()
  for (const set of sets) {
    const locale = set.locale ?? "en"
    for (const [action, key] of actions) {
      const list = set[key]
      if (typeof list === "string" || list === undefined) continue
      for (const keyword of list) {
        const k = normalizeKeyword(keyword)
        if (k.length > 0 && !table.has(k)) table.set(k, { action, keyword, locale })
      }
    }
  }
  return table
}

/** Matches a whole message against a table; `undefined` when it is not a keyword. */
export const matchTable = (table: KeywordTable, text: string): KeywordMatch | undefined => {
  // A keyword reply is short; longer texts are conversations, not commands.
  if (text.length > 64) return undefined
  return table.get(normalizeKeyword(text))
}

const cache = new Map<string, KeywordTable>()

/**
 * Matches a message from a sender in `country` against that country's set
 * (when any) and the default set.
 */
export const match = (text: string, country?: string | undefined): KeywordMatch | undefined => {
  const key = country?.toUpperCase() ?? ""
  let table = cache.get(key)
  if (table === undefined) {
    const local = countryKeywords[key]
    table = compile(local === undefined ? [defaultKeywords] : [local, defaultKeywords])
    cache.set(key, table)
  }
  return matchTable(table, text)
}
