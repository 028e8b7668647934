/**
 * One-time code primitives: HOTP codes from otplib over node:crypto (uniform
 * HMAC-derived codes above 8 digits), peppered code hashes compared in
 * constant time, and the TOTP secret sealing used by authenticator enrolments. Nothing here keeps a code; callers hash it at once.
 *
 * @internal
 */
import type * as crypto from "node:crypto"
import type { CryptoPlugin } from "otplib"
import { equalBytes } from "../constantTime.ts"
import { cryptoModule, nodeRequire, once } from "../lazy.ts"

const otplib = once(() => nodeRequire("otplib") as typeof import("otplib"))
const generateHotp = once(() => (nodeRequire("@otplib/hotp") as typeof import("@otplib/hotp")).generateSync)

// Made once, at the first code: otplib builds its defaults on every call that omits them.
// crypto: per-verification secrets are raw bytes; from Node 22 otplib's pure-JS
// HMAC is faster than keying node:crypto's (about 6 µs against 14), on Node 20
// node:crypto is (3 against 9). Measured, not guessed.
const defaults = once(() => ({
  guardrails: otplib().createGuardrails(),
  base32: new (otplib().ScureBase32Plugin)(),
  crypto: keyObjects ? new (otplib().NobleCryptoPlugin)() : nodeCrypto
}))

const toBuffer = (value: string | Uint8Array): Buffer =>
  typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value.buffer, value.byteOffset, value.byteLength)

// Node 22+ keys an HMAC from raw bytes about three times slower than from a
// KeyObject; Node 20 is fastest with raw bytes. Measured, not guessed.
const keyObjects = Number(process.versions.node.split(".")[0]) >= 22

const hmacKey = (bytes: Buffer): crypto.KeyObject | Buffer => (keyObjects ? cryptoModule().createSecretKey(bytes) : bytes)

/**
 * The process's secret: its bytes, and the same as an HMAC key in the form
 * this Node version hashes fastest.
 *
 * @internal
 */
export interface Pepper {
  readonly bytes: Buffer
  readonly key: crypto.KeyObject | Buffer
}

/**
 * otplib's crypto plugin over node:crypto: synchronous HMAC (so `generateSync`
 * works), on Node 20 about twice the speed of otplib's pure-JS plugin.
 *
 * @internal
 */
export const nodeCrypto: CryptoPlugin = {
  name: "node",
  hmac: (algorithm, key, data) => {
    const digest = cryptoModule().createHmac(algorithm, hmacKey(toBuffer(key))).update(toBuffer(data)).digest()
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
  },
  randomBytes: (length) => {
    const bytes = cryptoModule().randomBytes(length)
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  },
  constantTimeEqual: (a, b) => equalBytes(toBuffer(a), toBuffer(b))
}

/** @internal */
export const newPepper = (): Pepper => pepperFrom(cryptoModule().randomBytes(32))

/** @internal */
export const pepperFrom = (input: Uint8Array): Pepper => {
  // Always 32 bytes, whatever the configured length.
  const bytes = cryptoModule().createHash("sha256").update("smsforge/pepper\0").update(input).digest()
  return { bytes, key: hmacKey(bytes) }
}

/**
 * The per-verification HOTP secret: the pepper (kept in memory) followed by a
 * random nonce (kept in the store), so a leaked store alone cannot produce
 * codes. At most 64 bytes, so HMAC uses it as its key unhashed.
 *
 * @internal
 */
export const deriveSecret = (pepper: Pepper, nonce: string): Uint8Array => {
  const secret = Buffer.concat([pepper.bytes, Buffer.from(nonce, "utf8")])
  return new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
}

/**
 * RFC 4226 HOTP through otplib's own HOTP package: the `otplib` entry
 * dispatches on the strategy first, which costs a third of a code.
 *
 * @internal
 */
export const hotp = (secret: Uint8Array, counter: number, digits: number): string =>
  generateHotp()({ secret, counter, digits, ...defaults() })

/**
 * The longest code taken from HOTP's dynamic truncation. Truncation yields 31
 * bits (0 … 2^31 − 1), so a d-digit code is that value mod 10^d: 9 digits
 * would make 14.7% of codes half again as likely as the rest, and 10 digits
 * could only start with 0, 1 or 2. At 8 digits the RFC's own bias remains
 * (some codes 22/21 as likely), which RFC 4226 accepts up to 8.
 *
 * @internal
 */
export const HOTP_MAX_DIGITS = 8

// 5-byte chunks: exact as doubles, and 2^40 leaves under 1% rejected for 10 digits.
const CHUNK = 5
const CHUNK_RANGE = 2 ** (8 * CHUNK)
const UNIFORM_LABEL = Buffer.from("smsforge/otp-uniform", "utf8")

const uniformBlock = (secret: Uint8Array, counter: number, block: number): Uint8Array => {
  const data = Buffer.alloc(8 + 4 + UNIFORM_LABEL.length)
  data.writeBigUInt64BE(BigInt(counter), 0)
  data.writeUInt32BE(block, 8)
  UNIFORM_LABEL.copy(data, 12)
  // Synchronous for both plugins codes are made with.
  return defaults().crypto.hmac("sha256", secret, data) as Uint8Array
}

/**
 * A uniform `digits`-digit code from the same secret and counter: rejection
 * sampling over 40-bit chunks of HMAC-SHA-256 blocks (block index 0, 1, …),
 * so it can be recomputed at check time like a HOTP value. A chunk is used
 * only below the largest multiple of 10^digits, so every code is equally likely.
 *
 * @internal
 */
export const uniformCode = (secret: Uint8Array, counter: number, digits: number): string => {
  const modulus = 10 ** digits
  const limit = CHUNK_RANGE - (CHUNK_RANGE % modulus)
  for (let block = 0; ; block++) {
    const bytes = uniformBlock(secret, counter, block)
    for (let at = 0; at + CHUNK <= bytes.length; at += CHUNK) {
      const value = bytes[at]! * 2 ** 32 + ((bytes[at + 1]! << 24) >>> 0) + (bytes[at + 2]! << 16) + (bytes[at + 3]! << 8) + bytes[at + 4]!
      if (value < limit) return String(value % modulus).padStart(digits, "0")
    }
  }
}

/**
 * The code for a verification: RFC 4226 HOTP up to {@link HOTP_MAX_DIGITS}
 * digits, {@link uniformCode} above, where truncation's 31 bits fall short.
 *
 * @internal
 */
export const code = (secret: Uint8Array, counter: number, digits: number): string =>
  digits <= HOTP_MAX_DIGITS ? hotp(secret, counter, digits) : uniformCode(secret, counter, digits)

const codeDigest = (pepper: Pepper, verificationId: string, counter: number, code: string): Buffer =>
  cryptoModule().createHmac("sha256", pepper.key).update(`smsforge/otp-code\0${verificationId}\0${counter}\0${code}`).digest()

/**
 * A keyed hash of a code, bound to one verification and one counter.
 *
 * @internal
 */
export const hashCode = (pepper: Pepper, verificationId: string, counter: number, code: string): string =>
  codeDigest(pepper, verificationId, counter, code).toString("base64url")

/**
 * Whether `code` is the code `codeHash` (from {@link hashCode}) was made
 * from, compared in constant time. A corrupted stored hash is a mismatch.
 *
 * @internal
 */
export const matchesHash = (
  pepper: Pepper,
  verificationId: string,
  counter: number,
  code: string,
  codeHash: string
): boolean => equalBytes(codeDigest(pepper, verificationId, counter, code), Buffer.from(codeHash, "base64url"))

// TOTP (authenticator apps)

const sealKey = (pepper: Pepper): Buffer =>
  cryptoModule().createHmac("sha256", pepper.key).update("smsforge/totp-seal").digest()

/**
 * Encrypts a TOTP secret with a key derived from the pepper (AES-256-GCM).
 *
 * @internal
 */
export const seal = (pepper: Pepper, plain: string): string => {
  const iv = cryptoModule().randomBytes(12)
  const cipher = cryptoModule().createCipheriv("aes-256-gcm", sealKey(pepper), iv)
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")
}

/**
 * Decrypts what {@link seal} produced; `undefined` when the pepper differs or
 * the value was altered.
 *
 * @internal
 */
export const unseal = (pepper: Pepper, sealed: string): string | undefined => {
  try {
    const raw = Buffer.from(sealed, "base64url")
    const decipher = cryptoModule().createDecipheriv("aes-256-gcm", sealKey(pepper), raw.subarray(0, 12))
    decipher.setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8")
  } catch {
    return undefined
  }
}

/** @internal */
export const totpSecret = (): string => otplib().generateSecret({ crypto: nodeCrypto, base32: defaults().base32 })

/** @internal */
export const totpUri = (options: {
  readonly issuer: string
  readonly label: string
  readonly secret: string
  readonly digits: number
  readonly period: number
}): string =>
  otplib().generateURI({
    strategy: "totp",
    issuer: options.issuer,
    label: options.label,
    secret: options.secret,
    digits: options.digits,
    period: options.period
  })

/**
 * Checks a TOTP code at `epochSeconds`, one step either side, and refuses
 * steps at or before `afterTimeStep` (replay). Answers the matched step.
 *
 * @internal
 */
export const totpVerify = (options: {
  readonly secret: string
  readonly code: string
  readonly epochSeconds: number
  readonly digits: number
  readonly period: number
  readonly afterTimeStep?: number | undefined
}): number | undefined => {
  try {
    const { base32, crypto: codeCrypto, guardrails } = defaults()
    const result = otplib().verifySync({
      strategy: "totp",
      secret: options.secret,
      token: options.code,
      epoch: options.epochSeconds,
      digits: options.digits,
      period: options.period,
      epochTolerance: options.period,
      crypto: codeCrypto,
      base32,
      guardrails,
      ...(options.afterTimeStep !== undefined && options.afterTimeStep >= 0
        ? { afterTimeStep: options.afterTimeStep }
        : {})
    })
    return result.valid && "timeStep" in result ? result.timeStep : undefined
  } catch {
    return undefined
  }
}

/** @internal */
export const totpGenerate = (secret: string, epochSeconds: number, digits: number, period: number): string =>
  otplib().generateSync({ strategy: "totp", secret, epoch: epochSeconds, digits, period, ...defaults() })
