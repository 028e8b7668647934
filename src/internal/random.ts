/**
 * Random identifiers and tokens from a pool of bytes refilled 4 KiB at a
 * time, as node:crypto's `randomUUID` does internally: one system call per
 * few hundred identifiers instead of one each, and no string surgery.
 *
 * @internal
 */
import { randomFillSync } from "node:crypto"

const pool = Buffer.alloc(4096)
let offset = pool.length

const take = (bytes: number, encoding: "hex" | "base64url"): string => {
  if (bytes > pool.length) throw new RangeError(`at most ${pool.length} random bytes at a time`)
  if (offset + bytes > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const text = pool.toString(encoding, offset, offset + bytes)
  // Consumed bytes are wiped: tokens become secrets (verification nonces).
  pool.fill(0, offset, offset + bytes)
  offset += bytes
  return text
}

/** `bytes` random bytes, base64url. */
export const randomToken = (bytes: number): string => take(bytes, "base64url")

/** `bytes` random bytes, lowercase hex. */
export const randomHex = (bytes: number): string => take(bytes, "hex")
