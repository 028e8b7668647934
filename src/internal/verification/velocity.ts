/**
 * The SMS-pumping velocity guard: per number range, sends that were not
 * followed by a successful check, counted in fixed windows. A range whose
 * unconverted sends exceed the threshold is blocked for a while.
 *
 * Plain state with explicit times, so it is tested without a clock.
 *
 * @internal
 */

/** @internal */
export interface VelocityConfig {
  readonly windowMillis: number
  /** Sends without a successful check allowed per range and window. */
  readonly maxUnconverted: number
  readonly blockMillis: number
}

interface RangeState {
  windowStart: number
  sends: number
  approvals: number
  blockedUntil: number
}

/** @internal */
export type VelocityVerdict =
  | { readonly _tag: "Allowed" }
  | { readonly _tag: "Blocked"; readonly until: number; readonly fresh: boolean }

/** @internal */
export interface VelocityGuard {
  /** Records a send to `range` at `now`; answers whether the range is (now) blocked. */
  readonly send: (range: string, now: number) => VelocityVerdict
  /** Records a successful check for a code sent to `range`. */
  readonly approve: (range: string, now: number) => void
  /** The end of the block on `range`, or 0 when it is not blocked. */
  readonly blockedUntil: (range: string, now: number) => number
  readonly blocked: (now: number) => ReadonlyArray<{ readonly range: string; readonly until: number }>
  readonly unblock: (range: string) => void
  readonly size: () => number
}

const allowed: VelocityVerdict = { _tag: "Allowed" }

/** @internal */
export const makeVelocityGuard = (config: VelocityConfig): VelocityGuard => {
  const ranges = new Map<string, RangeState>()
  let lastSweep = 0

  const sweep = (now: number) => {
    if (now - lastSweep < config.windowMillis) return
    lastSweep = now
    for (const [range, state] of ranges) {
      if (state.blockedUntil <= now && state.windowStart + config.windowMillis <= now) ranges.delete(range)
    }
  }

  const current = (range: string, now: number): RangeState => {
    let state = ranges.get(range)
    if (state === undefined) {
      state = { windowStart: now, sends: 0, approvals: 0, blockedUntil: 0 }
      ranges.set(range, state)
    } else if (state.windowStart + config.windowMillis <= now) {
      state.windowStart = now
      state.sends = 0
      state.approvals = 0
    }
    return state
  }

  return {
    send: (range, now) => {
      sweep(now)
      const state = current(range, now)
      if (state.blockedUntil > now) return { _tag: "Blocked", until: state.blockedUntil, fresh: false }
      state.sends += 1
      if (state.sends - state.approvals > config.maxUnconverted) {
        state.blockedUntil = now + config.blockMillis
        return { _tag: "Blocked", until: state.blockedUntil, fresh: true }
      }
      return allowed
    },
    approve: (range, now) => {
      const state = ranges.get(range)
      if (state !== undefined && state.windowStart + config.windowMillis > now) {
        state.approvals = Math.min(state.sends, state.approvals + 1)
      }
    },
    blockedUntil: (range, now) => {
      const until = ranges.get(range)?.blockedUntil ?? 0
      return until > now ? until : 0
    },
    blocked: (now) => {
      const out: Array<{ range: string; until: number }> = []
      for (const [range, state] of ranges) if (state.blockedUntil > now) out.push({ range, until: state.blockedUntil })
      return out
    },
    unblock: (range) => {
      ranges.delete(range)
    },
    size: () => ranges.size
  }
}
