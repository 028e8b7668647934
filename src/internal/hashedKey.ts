/**
 * Key names for shared stores (rate limits) that carry none of their parts in
 * clear: a store's key list is read by operators, dumped to logs and kept in
 * backups, and a phone number, an IP or a tenant there is personal data.
 *
 * @internal
 */
import { cryptoModule } from "./lazy.ts"

/**
 * `namespace/<digest>`: SHA-256 over the parts, truncated to 128 bits
 * (base64url). Stable across processes and versions, so processes sharing a
 * store agree on the key. Each part is length-prefixed, so `["ab", "c"]` and
 * `["a", "bc"]` (or parts holding the separator) never share a key.
 *
 * **Gotchas**
 * - A hash hides a value from casual reading, not from someone who hashes
 *   every phone number of a country to find a match.
 */
export const hashedKey = (namespace: string, parts: ReadonlyArray<string>): string => {
  const hash = cryptoModule().createHash("sha256")
  for (const part of parts) hash.update(`${part.length}:${part}`)
  return `${namespace}/${hash.digest("base64url").slice(0, 22)}`
}
