/**
 * Canonical JSON, SHA-256 and phone-number masking for the audit chain.
 *
 * @internal
 */
import { cryptoModule } from "../lazy.ts"

/**
 * Serialises a value as canonical JSON: object keys sorted by code unit,
 * `undefined` members dropped, non-finite numbers as `null`, no whitespace.
 * Equal values always give equal strings.
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || value === undefined) return "null"
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false"
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null"
    case "bigint":
      return JSON.stringify(value.toString())
    case "string":
      return JSON.stringify(value)
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`
      }
      const keys = Object.keys(value).sort()
      const members: Array<string> = []
      for (const k of keys) {
        const v = (value as Record<string, unknown>)[k]
        if (v === undefined || typeof v === "function" || typeof v === "symbol") continue
        members.push(`${JSON.stringify(k)}:${canonicalJson(v)}`)
      }
      return `{${members.join(",")}}`
    }
    default:
      return "null"
  }
}

/** Hex SHA-256 of a UTF-8 string. */
export const sha256 = (text: string): string => cryptoModule().createHash("sha256").update(text, "utf8").digest("hex")

/** Hex HMAC-SHA-256. */
export const hmac = (key: string, text: string): string => cryptoModule().createHmac("sha256", key).update(text, "utf8").digest("hex")

/** 128 random bits, hex. */
export const nonce = (): string => cryptoModule().randomBytes(16).toString("hex")

/** The hash a chain starts from. */
export const genesis = "0".repeat(64)

/** The link hash of an entry: SHA-256 over the previous hash and the entry's canonical JSON. */
export const linkHash = (previous: string, body: unknown): string => sha256(`${previous}\n${canonicalJson(body)}`)

/** `+447700900123` → `+44*******23`: keeps the first three and the last two characters. */
export const redactPhone = (phone: string): string =>
  phone.length <= 5 ? "*".repeat(phone.length) : phone.slice(0, 3) + "*".repeat(phone.length - 5) + phone.slice(-2)

// Only international numbers (`+` first): ids, dates and amounts in free text stay intact.
const phonePattern = /\+\d[\d ().-]{4,18}\d/g

/** Replaces every international phone number (`+44 7400 123456`, `+12025550123`) in a free text. */
export const scrubPhones = (text: string, mask: (phone: string) => string): string =>
  text.indexOf("+") === -1 ? text : text.replace(phonePattern, (m) => {
    const digits = m.replace(/\D/g, "")
    return digits.length >= 6 && digits.length <= 15 ? mask(`+${digits}`) : m
  })

/** Replaces every occurrence of each secret (a one-time code) with `[redacted]`. */
export const scrubSecrets = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("[redacted]")
  return out
}
