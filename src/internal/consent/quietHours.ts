/**
 * Consent's time settings — zones and quiet hours — compiled once from its
 * options, and the send-time questions asked of them: which zones hold for
 * a recipient, and until when a message must wait.
 *
 * @internal
 */
import * as time from "./time.ts"

/** A quiet window as configured: `HH:MM` to `HH:MM`, optionally whole days. */
export interface WindowOptions {
  readonly start: string
  readonly end: string
  readonly days?: ReadonlyArray<number> | undefined
}

/** The options the schedule reads (Consent's `ConsentOptions` is one). */
export interface ScheduleOptions {
  readonly defaultTimeZone?: string | undefined
  readonly timeZones?: { readonly [country: string]: string } | undefined
  readonly quietHours?:
    | WindowOptions & {
      readonly mode?: "defer" | "refuse" | undefined
      readonly purposes?: ReadonlyArray<string> | undefined
      readonly multiZone?: "representative" | "strictest" | undefined
      readonly byCountry?: { readonly [country: string]: WindowOptions } | undefined
    }
    | undefined
}

/** Quiet hours, compiled. */
export interface Quiet {
  readonly window: time.LocalWindow
  /** By upper-case country. */
  readonly byCountry: ReadonlyMap<string, time.LocalWindow>
  readonly purposes: ReadonlySet<string>
  readonly refuse: boolean
  /** Every zone of a multi-zone country, not only its representative. */
  readonly strictest: boolean
}

export interface Schedule {
  readonly defaultZone: string
  /** By upper-case country. */
  readonly zoneOverrides: Readonly<Record<string, string>>
  readonly quiet: Quiet | undefined
}

/**
 * Compiles the options; a setting it cannot use falls back to a default and
 * leaves a warning, so a typo never turns quiet hours off.
 */
export const compile = (options: ScheduleOptions): { readonly schedule: Schedule; readonly warnings: ReadonlyArray<string> } => {
  const warnings: Array<string> = []
  let defaultZone = "UTC"
  if (options.defaultTimeZone !== undefined) {
    if (time.isValidTimeZone(options.defaultTimeZone)) defaultZone = options.defaultTimeZone
    else warnings.push("defaultTimeZone is not a known time zone; using UTC")
  }
  const zoneOverrides: Record<string, string> = {}
  for (const [country, zone] of Object.entries(options.timeZones ?? {})) {
    if (time.isValidTimeZone(zone)) zoneOverrides[country.toUpperCase()] = zone
    else warnings.push(`timeZones.${country} is not a known time zone; using the runtime's zone for the country`)
  }
  const quiet = options.quietHours
  if (quiet === undefined) return { schedule: { defaultZone, zoneOverrides, quiet: undefined }, warnings }
  const window = compileWindow(quiet, "quietHours", warnings)
  const byCountry = new Map<string, time.LocalWindow>()
  for (const [country, w] of Object.entries(quiet.byCountry ?? {})) {
    byCountry.set(country.toUpperCase(), compileWindow(w, `quietHours.byCountry.${country}`, warnings))
  }
  return {
    schedule: {
      defaultZone,
      zoneOverrides,
      quiet: {
        window,
        byCountry,
        purposes: new Set(quiet.purposes ?? ["marketing"]),
        refuse: quiet.mode === "refuse",
        strictest: quiet.multiZone === "strictest"
      }
    },
    warnings
  }
}

const compileWindow = (w: WindowOptions, field: string, warnings: Array<string>): time.LocalWindow => {
  const days = w.days === undefined ? undefined : new Set(w.days.filter((d) => Number.isInteger(d) && d >= 0 && d <= 6))
  if (days !== undefined && days.size === 7) warnings.push(`${field}.days lists every day; ignoring days`)
  const daysOption = days === undefined || days.size === 0 || days.size === 7 ? {} : { days }
  const start = time.parseHourMinute(w.start)
  const end = time.parseHourMinute(w.end)
  if (start !== undefined && end !== undefined) return { start, end, ...daysOption }
  warnings.push(`${field} is not HH:MM to HH:MM; using 21:00 to 08:00`)
  return { start: 21 * 60, end: 8 * 60, ...daysOption }
}

/**
 * The zones a recipient's local time is read in: their own zone, else their
 * country's (configured, then the runtime's), else the default.
 */
export const zonesFor = (
  schedule: Schedule,
  ownZone: string | undefined,
  country: string | undefined
): ReadonlyArray<string> => {
  if (ownZone !== undefined) return [ownZone]
  if (country === undefined) return [schedule.defaultZone]
  const c = country.toUpperCase()
  if (schedule.zoneOverrides[c] !== undefined) return [schedule.zoneOverrides[c]]
  const zones = time.zonesOfCountry(c)
  if (zones.representative === undefined) return [schedule.defaultZone]
  return schedule.quiet?.strictest === true ? zones.all : [zones.representative]
}

/** When quiet hours hold a message of `purpose` at `at`, the instant they end in every zone. */
export const until = (
  quiet: Quiet,
  purpose: string,
  country: string | undefined,
  zones: ReadonlyArray<string>,
  at: number
): number | undefined => {
  if (!quiet.purposes.has(purpose)) return undefined
  const window = (country === undefined ? undefined : quiet.byCountry.get(country.toUpperCase())) ?? quiet.window
  return time.quietUntilAll(at, zones, window)
}
