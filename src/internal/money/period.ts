/**
 * Calendar periods for budget caps: the day or month an instant falls in, in
 * UTC or an IANA time zone, as a key (`2026-12-03`, `2026-12`).
 *
 * @internal
 */

export type Period = "day" | "month"

const formatters = new Map<string, Intl.DateTimeFormat>()

/** Whether the runtime knows the zone (`Europe/Berlin`); `UTC` always. */
export const isTimeZone = (zone: string): boolean => {
  if (zone === "UTC") return true
  try {
    formatterOf(zone)
    return true
  } catch {
    return false
  }
}

// Intl formatters are slow to build and fast to use: one per zone
const formatterOf = (zone: string): Intl.DateTimeFormat => {
  let formatter = formatters.get(zone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
    formatters.set(zone, formatter)
  }
  return formatter
}

const pad = (n: number) => String(n).padStart(2, "0")

/** The calendar date of an instant in a zone. */
const dateIn = (millis: number, zone: string): { readonly year: number; readonly month: number; readonly day: number } => {
  if (zone === "UTC") {
    const d = new Date(millis)
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() }
  }
  let year = 0
  let month = 0
  let day = 0
  for (const part of formatterOf(zone).formatToParts(millis)) {
    if (part.type === "year") year = Number(part.value)
    else if (part.type === "month") month = Number(part.value)
    else if (part.type === "day") day = Number(part.value)
  }
  return { year, month, day }
}

/** `2026-12-03` for a day, `2026-12` for a month. */
export const periodKey = (millis: number, period: Period, zone: string): string => {
  const { day, month, year } = dateIn(millis, zone)
  return period === "day" ? `${year}-${pad(month)}-${pad(day)}` : `${year}-${pad(month)}`
}

const DAY = 24 * 60 * 60 * 1000

/**
 * How long a period's counter must outlive its first write: the longest such
 * period (a 25-hour DST day, a 31-day month) and a margin for late commits.
 */
export const retention = (period: Period): number => (period === "day" ? 3 * DAY : 33 * DAY)
