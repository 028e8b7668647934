/**
 * Random identifiers and tokens from a pool of bytes refilled 4 KiB at a
 * time, as node:crypto's `randomUUID` does internally: one system call per
 * few hundred identifiers instead of one each, and no string surgery.
 *
 * @internal
 */
import { cryptoModule } from "./lazy.ts"

const pool = Buffer.alloc(4096)
let offset = pool.length

const reserve = (bytes: number): number => {
  if (bytes > pool.length) throw new RangeError(`at most ${pool.length} random bytes at a time`)
  if (offset + bytes > pool.length) {
    cryptoModule().randomFillSync(pool)
    offset = 0
  }
  const at = offset
  offset += bytes
  return at
}

// Consumed bytes are wiped: tokens become secrets (verification nonces).
const wipe = (at: number, bytes: number) => pool.fill(0, at, at + bytes)

const take = (bytes: number, encoding: "hex" | "base64url"): string => {
  const at = reserve(bytes)
  const text = pool.toString(encoding, at, at + bytes)
  wipe(at, bytes)
  return text
}

const hexDigits = Buffer.from("0123456789abcdef", "latin1")
const idBuffer = Buffer.alloc(256)

/**
 * `prefix` then `bytes` random bytes in lowercase hex, as one flat string:
 * joining the two would keep a concatenation node beside the text for as
 * long as the id lives (every stored message has one).
 */
export const randomId = (prefix: string, bytes: number): string => {
  const at = reserve(bytes)
  const start = idBuffer.write(prefix, 0, "latin1")
  for (let i = 0; i < bytes; i++) {
    const byte = pool[at + i]!
    idBuffer[start + 2 * i] = hexDigits[byte >> 4]!
    idBuffer[start + 2 * i + 1] = hexDigits[byte & 15]!
  }
  wipe(at, bytes)
  return idBuffer.toString("latin1", 0, start + 2 * bytes)
}

/** `bytes` random bytes, base64url. */
export const randomToken = (bytes: number): string => take(bytes, "base64url")

