import { createHash } from "node:crypto"

/** SHA-256 of a key, so that no table key holds a phone number, an IP or a tenant in clear. */
export const digest = (value: string): string => createHash("sha256").update(value).digest("base64url")
