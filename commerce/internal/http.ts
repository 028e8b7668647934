/**
 * What the platform webhook handlers share: a bounded reader that keeps the
 * raw bytes (signatures are over bytes, not over a re-encoded string), a
 * constant-time comparison and JSON answers that never echo the input.
 *
 * @internal
 */
import { timingSafeEqual } from "node:crypto"

/** A body that could not be read whole: `TooLarge` or `UnreadableBody`. @internal */
export class BodyProblem {
  constructor(readonly tag: "TooLarge" | "UnreadableBody") {}
}

/** Reads the body up to `limit` bytes, as bytes. @internal */
export const readBytes = async (request: Request, limit: number): Promise<Uint8Array | BodyProblem> => {
  try {
    const body = request.body
    if (body === null) return new Uint8Array(0)
    const reader = body.getReader()
    const chunks: Array<Uint8Array> = []
    let total = 0
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!(value instanceof Uint8Array)) return new BodyProblem("UnreadableBody")
      total += value.byteLength
      if (total > limit) {
        await reader.cancel().catch(() => undefined)
        return new BodyProblem("TooLarge")
      }
      chunks.push(value)
    }
    const bytes = new Uint8Array(total)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.byteLength
    }
    return bytes
  } catch {
    return new BodyProblem("UnreadableBody")
  }
}

/**
 * Compares two byte strings in constant time; different lengths are a
 * mismatch that still spends one comparison's time. @internal
 */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.byteLength !== b.byteLength) {
    timingSafeEqual(a, a)
    return false
  }
  return timingSafeEqual(a, b)
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/** The body as UTF-8 text; `undefined` when it is not valid UTF-8. @internal */
export const utf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** Parses JSON; `undefined` when it is not JSON. @internal */
export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/** A JSON answer. @internal */
export const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } })

/** A plain object, not an array. @internal */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A string or a finite number as a non-empty string; `undefined` otherwise. @internal */
export const idOf = (value: unknown): string | undefined =>
  typeof value === "string" && value.length > 0 && value.length <= 200
    ? value
    : typeof value === "number" && Number.isFinite(value)
    ? String(value)
    : undefined

/** A string field of at most `max` characters; `undefined` otherwise. @internal */
export const text = (value: unknown, max = 200): string | undefined =>
  typeof value === "string" && value.length > 0 && value.length <= max ? value : undefined
