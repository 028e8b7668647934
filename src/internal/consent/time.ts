/**
 * Time zones and local wall-clock arithmetic for quiet hours.
 *
 * Everything here is pure and uses `Intl`, which carries the IANA database
 * and ICU's region → zone data of the running Node, so daylight-saving
 * changes and a country's zones come from the platform rather than from
 * tables of our own (bar the representative of a multi-zone country).
 *
 * @internal
 */

/**
 * The zone used for each country that spans several (by the runtime's ICU
 * data) unless a recipient's zone or a configured one says otherwise: the
 * capital's, which is also where most of its people live. The number's own
 * area is not used: libphonenumber has no zones, and a mobile number travels.
 * Tested: every entry is one of its country's zones, and every multi-zone
 * country libphonenumber knows has an entry; one without would use the
 * default zone.
 */
export const representativeZones: Readonly<Record<string, string>> = {
  AR: "America/Argentina/Buenos_Aires", AU: "Australia/Sydney", BR: "America/Sao_Paulo", CA: "America/Toronto",
  CD: "Africa/Kinshasa", CL: "America/Santiago", CN: "Asia/Shanghai", CY: "Asia/Nicosia", DE: "Europe/Berlin",
  EC: "America/Guayaquil", ES: "Europe/Madrid", FM: "Pacific/Pohnpei", GL: "America/Nuuk", ID: "Asia/Jakarta",
  KI: "Pacific/Tarawa", KZ: "Asia/Almaty", MH: "Pacific/Majuro", MN: "Asia/Ulaanbaatar", MX: "America/Mexico_City",
  MY: "Asia/Kuala_Lumpur", NZ: "Pacific/Auckland", PF: "Pacific/Tahiti", PG: "Pacific/Port_Moresby",
  PS: "Asia/Hebron", PT: "Europe/Lisbon", RU: "Europe/Moscow", UA: "Europe/Kyiv", US: "America/New_York",
  UZ: "Asia/Tashkent"
}

/**
 * Regions with numbers but no zones in ICU, and the region whose zone they
 * keep: Ascension and Tristan da Cunha (St Helena's, UTC all year), Kosovo
 * (Serbia's).
 */
export const zoneRegionAliases: Readonly<Record<string, string>> = { AC: "SH", TA: "SH", XK: "RS" }

/** A country's zones: the one used by default, then every other. */
export interface CountryZones {
  /** `undefined` when the country has several zones and no representative, or none known. */
  readonly representative: string | undefined
  /** The representative first; every zone of the country when the runtime lists them. */
  readonly all: ReadonlyArray<string>
}

type LocaleWithZones = Intl.Locale & {
  readonly timeZones?: ReadonlyArray<string> | undefined
  readonly getTimeZones?: (() => ReadonlyArray<string> | undefined) | undefined
}

/**
 * ICU's zones for a region: `getTimeZones()` in newer engines, the
 * `timeZones` getter in V8 before it (Node 20). Empty when the engine has
 * neither or no data for the region.
 */
const intlZones = (region: string): ReadonlyArray<string> => {
  try {
    const locale = new Intl.Locale(`und-${region}`) as LocaleWithZones
    return (typeof locale.getTimeZones === "function" ? locale.getTimeZones() : locale.timeZones) ?? []
  } catch {
    return []
  }
}

/** The platform's canonical name for a zone (`Europe/Kyiv` and `Europe/Kiev` are one zone). */
const canonicalZone = (timeZone: string): string => formatter(timeZone).resolvedOptions().timeZone

const noZones: CountryZones = { representative: undefined, all: [] }

/**
 * A country's zones from a region → zones lister (ICU's; a test passes one
 * standing for a runtime without the data).
 */
export const countryZonesFrom = (
  country: string,
  listZones: (region: string) => ReadonlyArray<string> = intlZones
): CountryZones => {
  const listed = listZones(country)
  const alias = zoneRegionAliases[country]
  const zones = listed.length > 0 || alias === undefined ? listed : listZones(alias)
  const chosen = representativeZones[country]
  if (zones.length === 0) {
    // No ICU region data (an engine without Intl.Locale zones): only the representatives are known.
    return chosen === undefined ? noZones : { representative: chosen, all: [chosen] }
  }
  if (zones.length === 1) return { representative: zones[0], all: zones }
  if (chosen === undefined || !isValidTimeZone(chosen)) return { representative: undefined, all: zones }
  const canonical = canonicalZone(chosen)
  if (!zones.includes(canonical)) return { representative: undefined, all: zones }
  return { representative: chosen, all: [chosen, ...zones.filter((z) => z !== canonical)] }
}

// At most 52 × 52 keys: only two-letter inputs are kept.
const countryCache = new Map<string, CountryZones>()

/**
 * The zones of an ISO 3166 alpha-2 country, from the runtime's ICU data,
 * cached per country (it is read on every send).
 */
export const zonesOfCountry = (country: string): CountryZones => {
  let zones = countryCache.get(country)
  if (zones === undefined) {
    if (!/^[A-Za-z]{2}$/.test(country)) return noZones
    // ICU lists a region's zones by scanning them all: about 1 ms, hence the cache.
    zones = countryZonesFrom(country.toUpperCase())
    countryCache.set(country, zones)
  }
  return zones
}

const formatters = new Map<string, Intl.DateTimeFormat>()

const formatter = (timeZone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short"
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** Whether the platform knows an IANA zone name. */
export const isValidTimeZone = (timeZone: string): boolean => {
  if (formatters.has(timeZone)) return true
  try {
    formatter(timeZone)
    return true
  } catch {
    return false
  }
}

/** The zone for a country, or `UTC` when it has no single or representative zone. */
export const timeZoneForCountry = (country: string, overrides?: Readonly<Record<string, string>>): string =>
  overrides?.[country.toUpperCase()] ?? zonesOfCountry(country).representative ?? "UTC"

/** A wall-clock reading in some zone. */
export interface WallClock {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
  readonly second: number
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekday: number
}

const weekdays: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 }

/** The wall clock in `timeZone` at epoch milliseconds `at`, read from `Intl` directly. */
const wallClockIntl = (at: number, timeZone: string): WallClock => {
  const parts = formatter(timeZone).formatToParts(new Date(at))
  let year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, weekday = 0
  for (const p of parts) {
    switch (p.type) {
      case "year": year = Number(p.value); break
      case "month": month = Number(p.value); break
      case "day": day = Number(p.value); break
      case "hour": hour = Number(p.value) % 24; break
      case "minute": minute = Number(p.value); break
      case "second": second = Number(p.value); break
      case "weekday": weekday = weekdays[p.value] ?? 0; break
    }
  }
  return { year, month, day, hour, minute, second, weekday }
}

const BUCKET = 15 * 60_000
const offsets = new Map<string, number>()

/**
 * UTC offset of `timeZone` at `at`, in milliseconds (positive east of
 * Greenwich). Offsets change only at transitions, which fall on quarter
 * hours in every zone in use, so one reading of `Intl` per zone and quarter
 * hour is kept (a bounded cache; `Intl` formatting costs tens of µs).
 */
export const offsetAt = (at: number, timeZone: string): number => {
  const bucket = Math.floor(at / BUCKET)
  const key = `${timeZone}\u0000${bucket}`
  let offset = offsets.get(key)
  if (offset === undefined) {
    const start = bucket * BUCKET
    const w = wallClockIntl(start, timeZone)
    offset = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - start
    if (offsets.size >= 4096) offsets.clear()
    offsets.set(key, offset)
  }
  return offset
}

/** The wall clock in `timeZone` at epoch milliseconds `at`. */
export const wallClock = (at: number, timeZone: string): WallClock => {
  const d = new Date(at + offsetAt(at, timeZone))
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay()
  }
}

const wallKey = (w: { year: number; month: number; day: number; hour: number; minute: number }): number =>
  Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute)

/**
 * The first instant at which the wall clock in `timeZone` reads the given
 * local date and time, or — when that local time does not exist because the
 * clocks jump forward over it — the instant of the jump (the first instant
 * whose local time is later). When the local time occurs twice (clocks go
 * back), the earlier instant.
 */
export const zonedTimeToEpoch = (
  local: { readonly year: number; readonly month: number; readonly day: number; readonly hour: number; readonly minute: number },
  timeZone: string
): number => {
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute)
  const target = asUtc
  const offsets = new Set([offsetAt(asUtc - 36 * 3_600_000, timeZone), offsetAt(asUtc, timeZone), offsetAt(asUtc + 36 * 3_600_000, timeZone)])
  const exact: Array<number> = []
  const candidates: Array<number> = []
  for (const o of offsets) {
    const t = asUtc - o
    candidates.push(t)
    if (wallKey(wallClock(t, timeZone)) === target) exact.push(t)
  }
  if (exact.length > 0) return Math.min(...exact)
  // A gap: search the earliest instant whose wall clock is at or after the target.
  let lo = Math.min(...candidates) - 3 * 3_600_000
  let hi = Math.max(...candidates) + 3 * 3_600_000
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000
    if (mid <= lo) break
    if (wallKey(wallClock(mid, timeZone)) >= target) hi = mid
    else lo = mid
  }
  return hi
}

/** A daily window in local time, `HH:MM` to `HH:MM`; it may wrap past midnight. */
export interface LocalWindow {
  readonly start: number // minutes after midnight
  readonly end: number
  /** Whole local days without messages, 0 = Sunday … 6 = Saturday. */
  readonly days?: ReadonlySet<number> | undefined
}

/** Parses `"HH:MM"` to minutes after midnight, or `undefined` when malformed. */
export const parseHourMinute = (text: string): number | undefined => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim())
  if (m === null) return undefined
  const h = Number(m[1])
  const mi = Number(m[2])
  if (h > 24 || mi > 59 || (h === 24 && mi !== 0)) return undefined
  return h * 60 + mi
}

const inWindow = (minutes: number, window: LocalWindow): boolean =>
  window.start === window.end
    ? false
    : window.start < window.end
    ? minutes >= window.start && minutes < window.end
    : minutes >= window.start || minutes < window.end

/**
 * Whether `at` falls in the quiet window in `timeZone`, and if so the first
 * instant after it when the window ends (DST-correct).
 */
export const quietUntil = (at: number, timeZone: string, window: LocalWindow): number | undefined => {
  if (window.days === undefined || window.days.size === 0) return quietUntilDaily(at, timeZone, window)
  let t = at
  for (let i = 0; i < 16; i++) {
    const w = wallClock(t, timeZone)
    if (window.days.has(w.weekday)) {
      // Skip to the next local midnight.
      const next = new Date(Date.UTC(w.year, w.month - 1, w.day + 1))
      t = zonedTimeToEpoch(
        { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate(), hour: 0, minute: 0 },
        timeZone
      )
      continue
    }
    const until = quietUntilDaily(t, timeZone, window)
    if (until === undefined) break
    t = until
  }
  return t === at ? undefined : t
}

const quietUntilDaily = (at: number, timeZone: string, window: LocalWindow): number | undefined => {
  const w = wallClock(at, timeZone)
  const minutes = w.hour * 60 + w.minute
  if (!inWindow(minutes, window)) return undefined
  // The window ends today when it does not wrap, or when we are past midnight in a wrapping one.
  const endsToday = window.start < window.end || minutes < window.end
  const date = new Date(Date.UTC(w.year, w.month - 1, w.day + (endsToday ? 0 : 1)))
  const endHour = Math.floor(window.end / 60)
  const until = zonedTimeToEpoch(
    {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate() + (endHour === 24 ? 1 : 0),
      hour: endHour % 24,
      minute: window.end % 60
    },
    timeZone
  )
  return until > at ? until : at + 60_000
}

/**
 * Like {@link quietUntil} but across several zones: quiet while any zone is
 * quiet, until the first instant when none is.
 */
export const quietUntilAll = (at: number, timeZones: ReadonlyArray<string>, window: LocalWindow): number | undefined => {
  let t = at
  let quiet = false
  for (let round = 0; round < 2 * timeZones.length + 2; round++) {
    let moved = false
    for (const zone of timeZones) {
      const until = quietUntil(t, zone, window)
      if (until !== undefined) {
        t = until
        quiet = true
        moved = true
      }
    }
    if (!moved) break
  }
  return quiet ? t : undefined
}
