/**
 * API keys per tenant, held only as hashes and compared in constant time.
 *
 * **Details**
 * - A key is `sfk_<tenant>_<random>`; what is stored is
 *   `sha256:<base64url digest>`. A key has 192 random bits, so a fast hash is
 *   enough: there is nothing to guess by brute force, unlike a password.
 * - `verify` hashes the presented key and compares it with every stored hash
 *   with `timingSafeEqual`, without stopping at the first match, so the time
 *   taken says nothing about which hash or how much of it matched.
 *
 * @since 0.2.0
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

/**
 * A tenant's stored key: its hash, never the key.
 *
 * @category models
 * @since 0.2.0
 */
export interface StoredKey {
  readonly tenant: string
  /** `sha256:<base64url>`, as {@link hash} answers. */
  readonly hash: string
}

const PREFIX = "sha256:"

const digest = (key: string): Buffer => createHash("sha256").update(key, "utf8").digest()

/**
 * The stored form of a key.
 *
 * @category utils
 * @since 0.2.0
 */
export const hash = (key: string): string => PREFIX + digest(key).toString("base64url")

/**
 * A new random key for a tenant, and its stored form.
 *
 * @category constructors
 * @since 0.2.0
 */
export const generate = (tenant: string): { readonly key: string; readonly hash: string } => {
  const key = `sfk_${tenant.replace(/[^A-Za-z0-9-]/g, "-")}_${randomBytes(24).toString("base64url")}`
  return { key, hash: hash(key) }
}

/**
 * Whether a stored hash is well formed.
 *
 * @category predicates
 * @since 0.2.0
 */
export const isHash = (value: string): boolean =>
  value.startsWith(PREFIX) && Buffer.from(value.slice(PREFIX.length), "base64url").length === 32

/**
 * A key ring: which tenant, if any, a presented key belongs to.
 *
 * @category models
 * @since 0.2.0
 */
export interface KeyRing {
  readonly verify: (presented: string) => string | undefined
  readonly size: number
}

/**
 * Builds a key ring from stored hashes.
 *
 * @category constructors
 * @since 0.2.0
 */
export const ring = (keys: ReadonlyArray<StoredKey>): KeyRing => {
  const stored = keys.filter((k) => isHash(k.hash)).map((k) => ({
    tenant: k.tenant,
    digest: Buffer.from(k.hash.slice(PREFIX.length), "base64url")
  }))
  return {
    size: stored.length,
    verify: (presented) => {
      const candidate = digest(presented)
      let found: string | undefined
      for (const key of stored) {
        // Every hash is compared; a match does not end the loop.
        if (timingSafeEqual(candidate, key.digest) && found === undefined) found = key.tenant
      }
      return found
    }
  }
}

/**
 * Reads `tenant:key` pairs, comma-separated, as `SMSFORGE_API_KEYS` holds
 * them; the keys are hashed at once and only the hashes kept.
 *
 * @category constructors
 * @since 0.2.0
 */
export const fromEnvironment = (value: string | undefined): ReadonlyArray<StoredKey> =>
  (value ?? "").split(",").map((pair) => pair.trim()).filter((pair) => pair.length > 0).flatMap((pair) => {
    const at = pair.indexOf(":")
    if (at <= 0 || at === pair.length - 1) return []
    const key = pair.slice(at + 1)
    return [{ tenant: pair.slice(0, at), hash: key.startsWith(PREFIX) ? key : hash(key) }]
  })
