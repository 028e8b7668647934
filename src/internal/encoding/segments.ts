/**
 * Where segments may be cut. Internal: never exported from the package.
 *
 * - GSM-7: greedy by septet cost; a two-septet extension character that does
 *   not fit moves whole to the next segment, so an escape pair is never split.
 * - UCS-2: greedy by UTF-16 code unit; never between the halves of a
 *   surrogate pair, and never inside a grapheme cluster that fits in one
 *   segment (the cut moves back to the cluster's start, as phones do).
 *
 * Grapheme clusters are found at cut points only. Where both neighbours are
 * "simple" code points (see {@link isSimple}) the cut is a boundary; combining
 * marks, variation selectors, skin tones, tags, ZWJ emoji sequences, flags and
 * CR LF are resolved here with the UAX #29 rules that concern them; anything
 * else (Indic scripts, Hangul jamo, Thai…) asks `Intl.Segmenter`. A property
 * test checks the result against `Intl.Segmenter` alone.
 */
import { TABLE_SIZE } from "./gsm7.ts"

/**
 * Splits `text`, which costs `units` septets, with at most `limit` septets per
 * segment. Pushes the segments to `out` when given; returns how many there are.
 */
export const splitGsm = (
  text: string,
  units: number,
  costs: Uint8Array,
  limit: number,
  out: Array<string> | undefined
): number => {
  if (units === text.length) {
    // every character is one septet: cut every `limit` characters, no second pass
    const n = text.length
    if (out !== undefined) for (let i = 0; i < n; i += limit) out.push(text.slice(i, i + limit))
    return Math.ceil(n / limit)
  }
  let count = 0
  let start = 0
  let used = 0
  for (let i = 0, n = text.length; i < n; i++) {
    const code = text.charCodeAt(i)
    const cost = code < TABLE_SIZE ? costs[code]! : 0
    if (used + cost > limit) {
      if (out !== undefined) out.push(text.slice(start, i))
      count++
      start = i
      used = 0
    }
    used += cost
  }
  if (out !== undefined) out.push(start === 0 ? text : text.slice(start))
  return count + 1
}

const isHigh = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff
const isLow = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff

/**
 * A code point that is none of Extend, ZWJ, SpacingMark, Prepend,
 * Regional_Indicator, Hangul jamo or CR (UAX #29). Between two such code
 * points there is always a grapheme cluster boundary (GB999, or GB4/GB5 for
 * controls), whatever precedes them. A conservative allow-list: anything not
 * listed goes to `Intl.Segmenter`.
 */
export const isSimple = (cp: number): boolean => {
  if (cp < 0x300) return cp !== 0x0d
  if (cp < 0x2000) {
    return (cp >= 0x370 && cp <= 0x482) || (cp >= 0x48a && cp <= 0x58f) || (cp >= 0x5d0 && cp <= 0x5f4) ||
      cp >= 0x1e00
  }
  if (cp < 0x2c00) return cp !== 0x200c && cp !== 0x200d && (cp < 0x20d0 || cp >= 0x2100)
  if (cp < 0x10000) {
    return (cp >= 0x3000 && cp <= 0x3029) || (cp >= 0x3030 && cp <= 0x3098) || (cp >= 0x309b && cp <= 0x30ff) ||
      (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xff01 && cp <= 0xff9d)
  }
  return (cp >= 0x1f000 && cp <= 0x1f1e5) || (cp >= 0x1f200 && cp <= 0x1f3fa) || (cp >= 0x1f400 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3ffff)
}

/** True when a grapheme boundary at `at` (0 < at < length) is certain without a segmenter. */
const isCertainBoundary = (text: string, at: number): boolean => {
  let b = text.charCodeAt(at)
  if (isLow(b)) return false
  if (isHigh(b)) {
    const low = text.charCodeAt(at + 1)
    if (!isLow(low)) return false
    b = (b - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000
  }
  let a = text.charCodeAt(at - 1)
  if (isLow(a)) {
    const high = text.charCodeAt(at - 2)
    if (!isHigh(high)) return false
    a = (high - 0xd800) * 0x400 + (a - 0xdc00) + 0x10000
  } else if (isHigh(a)) {
    return false
  }
  return isSimple(a) && isSimple(b)
}

/** Grapheme_Cluster_Break=Extend (the common part) and ZWNJ: attach to what precedes. */
const isExtend = (cp: number): boolean =>
  (cp >= 0x300 && cp <= 0x36f) || cp === 0x200c || (cp >= 0x1ab0 && cp <= 0x1aff) || (cp >= 0x1dc0 && cp <= 0x1dff) ||
  (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xfe20 && cp <= 0xfe2f) ||
  (cp >= 0x1f3fb && cp <= 0x1f3ff) || (cp >= 0xe0020 && cp <= 0xe007f) || (cp >= 0xe0100 && cp <= 0xe01ef)

const isDiacritic = (unit: number): boolean => unit >= 0x300 && unit <= 0x36f

const isRegionalIndicator = (cp: number): boolean => cp >= 0x1f1e6 && cp <= 0x1f1ff

/** Controls break on both sides (GB4, GB5): a combining mark after one starts a new cluster. */
const isControl = (cp: number): boolean =>
  cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp === 0xad || cp === 0x200b || cp === 0x200e || cp === 0x200f ||
  (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp === 0xfeff

// Extended_Pictographic (emoji-data), as [first, last] pairs, for GB11 (emoji ZWJ sequences)
const PICTOGRAPHIC = [
  0xa9, 0xa9, 0xae, 0xae, 0x203c, 0x203c, 0x2049, 0x2049, 0x2122, 0x2122, 0x2139, 0x2139, 0x2194, 0x2199,
  0x21a9, 0x21aa, 0x231a, 0x231b, 0x2328, 0x2328, 0x2388, 0x2388, 0x23cf, 0x23cf, 0x23e9, 0x23f3, 0x23f8, 0x23fa,
  0x24c2, 0x24c2, 0x25aa, 0x25ab, 0x25b6, 0x25b6, 0x25c0, 0x25c0, 0x25fb, 0x25fe, 0x2600, 0x2605, 0x2607, 0x2612,
  0x2614, 0x2685, 0x2690, 0x2705, 0x2708, 0x2712, 0x2714, 0x2714, 0x2716, 0x2716, 0x271d, 0x271d, 0x2721, 0x2721,
  0x2728, 0x2728, 0x2733, 0x2734, 0x2744, 0x2744, 0x2747, 0x2747, 0x274c, 0x274c, 0x274e, 0x274e, 0x2753, 0x2755,
  0x2757, 0x2757, 0x2763, 0x2767, 0x2795, 0x2797, 0x27a1, 0x27a1, 0x27b0, 0x27b0, 0x27bf, 0x27bf, 0x2934, 0x2935,
  0x2b05, 0x2b07, 0x2b1b, 0x2b1c, 0x2b50, 0x2b50, 0x2b55, 0x2b55, 0x3030, 0x3030, 0x303d, 0x303d, 0x3297, 0x3297,
  0x3299, 0x3299, 0x1f000, 0x1f0ff, 0x1f10d, 0x1f10f, 0x1f12f, 0x1f12f, 0x1f16c, 0x1f171, 0x1f17e, 0x1f17f,
  0x1f18e, 0x1f18e, 0x1f191, 0x1f19a, 0x1f1ad, 0x1f1e5, 0x1f201, 0x1f20f, 0x1f21a, 0x1f21a, 0x1f22f, 0x1f22f,
  0x1f232, 0x1f23a, 0x1f23c, 0x1f23f, 0x1f249, 0x1f3fa, 0x1f400, 0x1f53d, 0x1f546, 0x1f64f, 0x1f680, 0x1f6ff,
  0x1f774, 0x1f77f, 0x1f7d5, 0x1f7ff, 0x1f80c, 0x1f80f, 0x1f848, 0x1f84f, 0x1f85a, 0x1f85f, 0x1f888, 0x1f88f,
  0x1f8ae, 0x1f8ff, 0x1f90c, 0x1f93a, 0x1f93c, 0x1f945, 0x1f947, 0x1faff, 0x1fc00, 0x1fffd
]

const isPictographic = (cp: number): boolean => {
  if (cp < 0xa9) return false
  // binary search over the [first, last] pairs
  let lo = 0
  let hi = PICTOGRAPHIC.length / 2 - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (cp < PICTOGRAPHIC[2 * mid]!) hi = mid - 1
    else if (cp > PICTOGRAPHIC[2 * mid + 1]!) lo = mid + 1
    else return true
  }
  return false
}

/** The code point starting at `i` (a lone surrogate is itself). */
const codePointAt = (text: string, i: number): number => {
  const unit = text.charCodeAt(i)
  if (isHigh(unit) && i + 1 < text.length) {
    const low = text.charCodeAt(i + 1)
    if (isLow(low)) return (unit - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000
  }
  return unit
}

/** Start index of the code point that ends just before `i` (i > 0). */
const previousStart = (text: string, i: number): number =>
  i >= 2 && isLow(text.charCodeAt(i - 1)) && isHigh(text.charCodeAt(i - 2)) ? i - 2 : i - 1

const JOINED = 1
const BOUNDARY = 0
const UNKNOWN = -1

/**
 * UAX #29 between the code point ending at `at` and the one starting there,
 * for the classes this module knows (simple, Extend, ZWJ, regional
 * indicators, CR LF); UNKNOWN otherwise, and the caller asks Intl.Segmenter.
 */
const pair = (text: string, at: number): number => {
  const bStart = at
  const aStart = previousStart(text, at)
  const a = codePointAt(text, aStart)
  const b = codePointAt(text, bStart)
  if ((a >= 0xd800 && a <= 0xdfff) || (b >= 0xd800 && b <= 0xdfff)) return UNKNOWN
  if (a === 0x0d) return b === 0x0a ? JOINED : BOUNDARY
  if (isExtend(b) || b === 0x200d) {
    if (isControl(a) || a === 0x0a) return BOUNDARY
    return isSimple(a) || isExtend(a) || a === 0x200d || isRegionalIndicator(a) ? JOINED : UNKNOWN
  }
  if (a === 0x200d) {
    // GB11: ExtPict Extend* ZWJ × ExtPict
    if (!isPictographic(b)) return UNKNOWN
    let i = aStart
    while (i > 0) {
      i = previousStart(text, i)
      const cp = codePointAt(text, i)
      if (isExtend(cp)) continue
      return isPictographic(cp) ? JOINED : UNKNOWN
    }
    return UNKNOWN
  }
  if (isRegionalIndicator(a) && isRegionalIndicator(b)) {
    // GB12/GB13: pairs of regional indicators, counted from the start of the run
    let run = 1
    let i = aStart
    while (i > 0) {
      i = previousStart(text, i)
      if (!isRegionalIndicator(codePointAt(text, i))) break
      run++
    }
    return run % 2 === 1 ? JOINED : BOUNDARY
  }
  const known = (cp: number) => isSimple(cp) || isExtend(cp) || cp === 0x200d || isRegionalIndicator(cp) || cp === 0x0a
  return known(a) && known(b) ? BOUNDARY : UNKNOWN
}

/**
 * The cluster containing the code unit at `at` as [start, end), looking no
 * further back than `floor` nor further ahead than `ceiling` (a cluster that
 * reaches either does not fit in a segment anyway); undefined when a class
 * this module does not know is met.
 */
const clusterAround = (
  text: string,
  at: number,
  floor: number,
  ceiling: number
): readonly [number, number] | undefined => {
  // from the start of the code point the cut falls in
  if (isLow(text.charCodeAt(at)) && isHigh(text.charCodeAt(at - 1))) at--
  let start = at
  for (;;) {
    // a run of combining diacritics (U+0300–U+036F) is one cluster: skip it without the full rules
    while (start > floor && isDiacritic(text.charCodeAt(start)) && isDiacritic(text.charCodeAt(start - 1))) start--
    if (start <= floor) break
    const p = pair(text, start)
    if (p === UNKNOWN) return undefined
    if (p === BOUNDARY) break
    start = previousStart(text, start)
  }
  let end = at
  const n = text.length
  for (;;) {
    end += isHigh(text.charCodeAt(end)) && isLow(text.charCodeAt(end + 1)) ? 2 : 1
    while (end < n && end < ceiling && isDiacritic(text.charCodeAt(end)) && isDiacritic(text.charCodeAt(end - 1))) end++
    if (end >= n || end >= ceiling) break
    const p = pair(text, end)
    if (p === UNKNOWN) return undefined
    if (p === BOUNDARY) break
  }
  return [start, end]
}

let segmenter: Intl.Segmenter | null | undefined

const graphemeSegmenter = (): Intl.Segmenter | null => {
  if (segmenter === undefined) {
    segmenter = typeof Intl === "object" && typeof Intl.Segmenter === "function"
      ? new Intl.Segmenter(undefined, { granularity: "grapheme" })
      : null
  }
  return segmenter
}

/**
 * Splits `text` with at most `limit` UTF-16 code units per segment. Pushes the
 * segments to `out` when given; returns how many there are.
 */
export const splitUcs2 = (text: string, limit: number, out: Array<string> | undefined): number => {
  const n = text.length
  let count = 0
  let start = 0
  let clusters: Intl.Segments | null | undefined
  while (n - start > limit) {
    let end = start + limit
    if (!isCertainBoundary(text, end)) {
      let cluster = clusterAround(text, end, start, end + limit + 1)
      if (cluster === undefined) {
        if (clusters === undefined) {
          const s = graphemeSegmenter()
          clusters = s === null ? null : s.segment(text)
        }
        const found = clusters === null ? undefined : clusters.containing(end)
        if (found !== undefined) cluster = [found.index, found.index + found.segment.length]
      }
      if (cluster !== undefined && cluster[0] > start && cluster[1] - cluster[0] <= limit) {
        // keep the cluster whole: it starts the next segment
        end = cluster[0]
      } else if (isHigh(text.charCodeAt(end - 1)) && isLow(text.charCodeAt(end))) {
        // the cluster cannot fit anywhere (or there is no segmenter): cut it, but never a surrogate pair
        end--
      }
    }
    if (out !== undefined) out.push(text.slice(start, end))
    count++
    start = end
  }
  if (out !== undefined) out.push(start === 0 ? text : text.slice(start))
  return count + 1
}
