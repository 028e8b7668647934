/**
 * Time zones and local wall-clock arithmetic for quiet hours.
 *
 * Everything here is pure and uses `Intl.DateTimeFormat`, which carries the
 * IANA database of the running Node, so daylight-saving changes are handled
 * by the platform rather than by tables of our own.
 *
 * @internal
 */

/**
 * Default IANA zone per ISO 3166 alpha-2 country. Countries spanning several
 * zones map to a documented representative (the most populous or the capital's
 * zone); {@link countryZones} lists all of a country's zones.
 */
export const countryTimeZones: Readonly<Record<string, string>> = {
  AE: "Asia/Dubai", AF: "Asia/Kabul", AL: "Europe/Tirane", AM: "Asia/Yerevan", AO: "Africa/Luanda",
  AR: "America/Argentina/Buenos_Aires", AT: "Europe/Vienna", AU: "Australia/Sydney", AZ: "Asia/Baku",
  BA: "Europe/Sarajevo", BD: "Asia/Dhaka", BE: "Europe/Brussels", BG: "Europe/Sofia", BH: "Asia/Bahrain",
  BO: "America/La_Paz", BR: "America/Sao_Paulo", BY: "Europe/Minsk", CA: "America/Toronto", CH: "Europe/Zurich",
  CI: "Africa/Abidjan", CL: "America/Santiago", CM: "Africa/Douala", CN: "Asia/Shanghai", CO: "America/Bogota",
  CR: "America/Costa_Rica", CY: "Asia/Nicosia", CZ: "Europe/Prague", DE: "Europe/Berlin", DK: "Europe/Copenhagen",
  DO: "America/Santo_Domingo", DZ: "Africa/Algiers", EC: "America/Guayaquil", EE: "Europe/Tallinn", EG: "Africa/Cairo",
  ES: "Europe/Madrid", ET: "Africa/Addis_Ababa", FI: "Europe/Helsinki", FR: "Europe/Paris", GB: "Europe/London",
  GE: "Asia/Tbilisi", GH: "Africa/Accra", GR: "Europe/Athens", GT: "America/Guatemala", HK: "Asia/Hong_Kong",
  HN: "America/Tegucigalpa", HR: "Europe/Zagreb", HU: "Europe/Budapest", ID: "Asia/Jakarta", IE: "Europe/Dublin",
  IL: "Asia/Jerusalem", IN: "Asia/Kolkata", IQ: "Asia/Baghdad", IR: "Asia/Tehran", IS: "Atlantic/Reykjavik",
  IT: "Europe/Rome", JM: "America/Jamaica", JO: "Asia/Amman", JP: "Asia/Tokyo", KE: "Africa/Nairobi",
  KH: "Asia/Phnom_Penh", KR: "Asia/Seoul", KW: "Asia/Kuwait", KZ: "Asia/Almaty", LB: "Asia/Beirut",
  LK: "Asia/Colombo", LT: "Europe/Vilnius", LU: "Europe/Luxembourg", LV: "Europe/Riga", MA: "Africa/Casablanca",
  MD: "Europe/Chisinau", ME: "Europe/Podgorica", MK: "Europe/Skopje", MM: "Asia/Yangon", MN: "Asia/Ulaanbaatar",
  MO: "Asia/Macau", MT: "Europe/Malta", MU: "Indian/Mauritius", MX: "America/Mexico_City", MY: "Asia/Kuala_Lumpur",
  NG: "Africa/Lagos", NI: "America/Managua", NL: "Europe/Amsterdam", NO: "Europe/Oslo", NP: "Asia/Kathmandu",
  NZ: "Pacific/Auckland", OM: "Asia/Muscat", PA: "America/Panama", PE: "America/Lima", PH: "Asia/Manila",
  PK: "Asia/Karachi", PL: "Europe/Warsaw", PR: "America/Puerto_Rico", PT: "Europe/Lisbon", PY: "America/Asuncion",
  QA: "Asia/Qatar", RO: "Europe/Bucharest", RS: "Europe/Belgrade", RU: "Europe/Moscow", SA: "Asia/Riyadh",
  SE: "Europe/Stockholm", SG: "Asia/Singapore", SI: "Europe/Ljubljana", SK: "Europe/Bratislava", SN: "Africa/Dakar",
  SV: "America/El_Salvador", TH: "Asia/Bangkok", TN: "Africa/Tunis", TR: "Europe/Istanbul", TW: "Asia/Taipei",
  TZ: "Africa/Dar_es_Salaam", UA: "Europe/Kyiv", UG: "Africa/Kampala", US: "America/New_York", UY: "America/Montevideo",
  UZ: "Asia/Tashkent", VE: "America/Caracas", VN: "Asia/Ho_Chi_Minh", ZA: "Africa/Johannesburg", ZM: "Africa/Lusaka",
  ZW: "Africa/Harare"
}

/**
 * Every zone of the countries that span several, representative first.
 */
export const countryZones: Readonly<Record<string, ReadonlyArray<string>>> = {
  US: ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"],
  CA: ["America/Toronto", "America/Halifax", "America/St_Johns", "America/Winnipeg", "America/Regina", "America/Edmonton", "America/Vancouver"],
  AU: ["Australia/Sydney", "Australia/Brisbane", "Australia/Adelaide", "Australia/Darwin", "Australia/Perth"],
  BR: ["America/Sao_Paulo", "America/Manaus", "America/Fortaleza", "America/Rio_Branco", "America/Noronha"],
  MX: ["America/Mexico_City", "America/Cancun", "America/Chihuahua", "America/Hermosillo", "America/Tijuana"],
  RU: ["Europe/Moscow", "Europe/Kaliningrad", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan", "Asia/Kamchatka"],
  ID: ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"],
  KZ: ["Asia/Almaty", "Asia/Aqtobe"],
  AR: ["America/Argentina/Buenos_Aires"],
  CL: ["America/Santiago", "Pacific/Easter"],
  NZ: ["Pacific/Auckland", "Pacific/Chatham"],
  PT: ["Europe/Lisbon", "Atlantic/Azores"],
  ES: ["Europe/Madrid", "Atlantic/Canary"],
  MN: ["Asia/Ulaanbaatar", "Asia/Hovd"],
  UA: ["Europe/Kyiv"]
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

/** The zone for a country, or `UTC` when the table has none. */
export const timeZoneForCountry = (country: string, overrides?: Readonly<Record<string, string>>): string =>
  overrides?.[country.toUpperCase()] ?? countryTimeZones[country.toUpperCase()] ?? "UTC"

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
