/**
 * Stable hashes and a small seeded PRNG, shared by routing, retries and the testing kit.
 * Pure, deterministic across processes and Node versions.
 *
 * @internal
 */

/** FNV-1a, 32 bit, over the UTF-16 code units of `input`, with a seed mixed in. */
export const hash32 = (input: string, seed = 0x811c9dc5): number => {
  let h = (seed ^ 0x811c9dc5) >>> 0
  for (let i = 0; i < input.length; i++) {
    h ^= input.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return avalanche(h)
}

/** murmur3's finaliser: spreads low-entropy hashes over all 32 bits. */
const avalanche = (x: number): number => {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

/** Turns a user seed (number or string) into a 32-bit integer. */
export const seedOf = (seed: number | string | undefined): number =>
  seed === undefined ? 0 : typeof seed === "number" && Number.isFinite(seed) ? avalanche(Math.trunc(seed) >>> 0) : hash32(String(seed))

/** A uniform number in [0, 1) derived from a seed and some parts. */
export const unit = (seed: number, ...parts: ReadonlyArray<string | number>): number =>
  hash32(parts.join("\u0000"), seed) / 4294967296

const MULBERRY = 0x6d2b79f5

/** mulberry32's output for one state. */
const mulberry = (a: number): number => {
  let t = a
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** mulberry32: a seeded PRNG returning numbers in [0, 1). */
export const prng = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + MULBERRY) >>> 0
    return mulberry(a)
  }
}

/**
 * The `n`-th number (from 1) that `prng(seed)` returns, without the `n - 1`
 * before it: mulberry32's state only counts up, so it is `seed + n × step`.
 */
export const prngAt = (seed: number, n: number): number => mulberry(((seed >>> 0) + Math.imul(n, MULBERRY)) >>> 0)
