/**
 * How far each order's notices have gone: a small compare-and-set store, so
 * that a webhook delivered twice never sends twice and one delivered late
 * never sends a notice that goes backwards.
 *
 * **Details**
 * - A record per order (platform, shop, order id): the highest stage
 *   notified, the notices sent (stages, and exceptions by event id), the
 *   contact last seen (tracking events often carry none) and a digest of
 *   the number, so a personal-data request can erase it.
 * - `set` writes only when the version read is still the stored one; the
 *   memory store here, `OrderProgressRedis.layerStoreRedis` and
 *   `OrderProgressSql.layerStoreSql` behave alike.
 * - Keys are SHA-256 digests: no order number or phone number in a key.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import type { Contact } from "./OrderEvents.ts"

// models

/**
 * What is kept about one order.
 *
 * @category models
 * @since 0.3.0
 */
export interface Progress {
  /** The highest stage rank notified; -1 before the first. */
  readonly rank: number
  /** Stages notified, and `exception:<event id>`. */
  readonly sent: ReadonlyArray<string>
  readonly contact?: Contact | undefined
  /** SHA-256 of the E.164 number, for erasure. */
  readonly subject?: string | undefined
}

/**
 * A record and its version.
 *
 * @category models
 * @since 0.3.0
 */
export interface VersionedProgress {
  readonly progress: Progress
  readonly version: number
}

// errors

/**
 * The progress store could not be read or written; retry later.
 *
 * @category errors
 * @since 0.3.0
 */
export class ProgressStoreUnavailable extends Schema.TaggedError<ProgressStoreUnavailable>(
  "smsforge/commerce/ProgressStoreUnavailable"
)("ProgressStoreUnavailable", { operation: Schema.String, cause: Schema.optional(Schema.Defect()) }) {
  get isRetryable(): boolean {
    return true
  }
}

// store service

/**
 * The store behind order progress.
 *
 * **Details**
 * - `set(key, progress, { expectedVersion, expiresAt })` writes only when
 *   the stored version is `expectedVersion` (`undefined`: only when absent)
 *   and answers whether it wrote; the new version is `expectedVersion + 1`
 *   (0 when created). Expired records are absent.
 * - `eraseSubject(subject)` removes every record whose `subject` is that
 *   digest and answers how many.
 *
 * @category store
 * @since 0.3.0
 */
export class OrderProgressStore extends Context.Service<OrderProgressStore, {
  readonly get: (key: string) => Effect.Effect<Option.Option<VersionedProgress>, ProgressStoreUnavailable>
  readonly set: (
    key: string,
    progress: Progress,
    options: { readonly expectedVersion: number | undefined; readonly expiresAt: number }
  ) => Effect.Effect<boolean, ProgressStoreUnavailable>
  readonly eraseSubject: (subject: string) => Effect.Effect<number, ProgressStoreUnavailable>
  /** Every live record about a subject, for a personal-data export. */
  readonly findSubject: (subject: string) => Effect.Effect<ReadonlyArray<Progress>, ProgressStoreUnavailable>
}>()("smsforge/commerce/OrderProgressStore") {}

/**
 * The digest a key or subject is stored under.
 *
 * @category utils
 * @since 0.3.0
 */
export const digest = (value: string): string => createHash("sha256").update(value, "utf8").digest("hex")

/**
 * A memory store: what it holds dies with the process.
 *
 * @category store
 * @since 0.3.0
 */
export const makeStoreMemory: Effect.Effect<OrderProgressStore["Service"]> = Effect.sync(() => {
  const entries = new Map<string, { progress: Progress; version: number; expiresAt: number }>()
  const live = (key: string, now: number) => {
    const entry = entries.get(key)
    if (entry !== undefined && entry.expiresAt <= now) {
      entries.delete(key)
      return undefined
    }
    return entry
  }
  const liveEntries = (now: number) => [...entries.entries()].filter(([key]) => live(key, now) !== undefined)
  return OrderProgressStore.of({
    get: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entry = live(key, now)
        return entry === undefined ? Option.none() : Option.some({ progress: entry.progress, version: entry.version })
      }),
    set: (key, progress, { expectedVersion, expiresAt }) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entry = live(key, now)
        if (entry?.version !== expectedVersion) return false
        entries.set(key, { progress, version: expectedVersion === undefined ? 0 : expectedVersion + 1, expiresAt })
        return true
      }),
    eraseSubject: (subject) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let erased = 0
        for (const [key, entry] of liveEntries(now)) {
          if (entry.progress.subject === subject) {
            entries.delete(key)
            erased++
          }
        }
        return erased
      }),
    findSubject: (subject) =>
      Effect.map(
        Clock.currentTimeMillis,
        (now) => liveEntries(now).filter(([, e]) => e.progress.subject === subject).map(([, e]) => e.progress)
      )
  })
})

/**
 * @category store
 * @since 0.3.0
 */
export const layerStoreMemory: Layer.Layer<OrderProgressStore> = Layer.effect(OrderProgressStore, makeStoreMemory)
