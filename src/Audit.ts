/**
 * An append-only, hash-chained audit log of what the pipeline did: sends,
 * status changes, consent changes, routing decisions, blocks and inbound
 * replies.
 *
 * **Details**
 * - Every entry carries `previousHash` and `hash = SHA-256(previousHash ‖
 *   canonical JSON of the entry)`, so changing, removing or reordering an
 *   entry breaks the chain; {@link Audit} `verify` answers the first index
 *   where it breaks. Anchor `head` somewhere else (a ticket, another
 *   database) to detect a rewrite of the whole tail.
 * - Personal data (recipient and sender numbers, message bodies) sits in a
 *   separate `sensitive` block with a random nonce. The chain hashes only the
 *   block's digest, so {@link Audit} `purge` can delete the block from old
 *   entries and the chain still verifies; once purged, the nonce is gone and
 *   the digest cannot be brute-forced back to a number.
 * - Numbers are stored as a keyed hash (HMAC-SHA-256) or redacted
 *   (`+44*******23`) unless `LogPhoneNumbers` is on. International numbers
 *   (`+…`) inside strings in `data` are always masked, even with
 *   `LogPhoneNumbers`: `data` is part of the chain and can never be purged.
 * - {@link Audit} `purgeSubject(to)` deletes the personal block of every
 *   entry about one number (a personal-data request), whatever its age.
 * - Codes are never stored: entries of kind `"verification"` never keep a
 *   body, and any value listed in `secrets` (a one-time code) is replaced by
 *   `[redacted]` in the body and in `data` before the entry is built.
 *
 * **Gotchas**
 * - The memory store lives as long as the layer; supply an
 *   {@link AuditStore} on a database for a log that outlives the process.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as Stream from "effect/Stream"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Events from "./Events.ts"
import type { StoreUnavailable } from "./Store.ts"
import * as internal from "./internal/audit/hash.ts"
import { loadPubSub, loadStream } from "./internal/lazy.ts"

// models

/**
 * A JSON value, as stored in an entry's `data`.
 *
 * @category models
 * @since 0.1.0
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * What an entry records. Other strings are allowed for the host's own entries.
 *
 * @category models
 * @since 0.1.0
 */
export type AuditKind =
  | "send"
  | "status"
  | "consent"
  | "routing"
  | "block"
  | "inbound"
  | "verification"
  | (string & {})

/**
 * What a caller appends.
 *
 * @category models
 * @since 0.1.0
 */
export interface AuditInput {
  readonly kind: AuditKind
  /** Epoch milliseconds; the clock's time when absent. */
  readonly at?: number | undefined
  readonly tenant?: string | undefined
  readonly messageId?: string | undefined
  /** The recipient (or the person, for consent and inbound entries). Hashed or redacted unless `LogPhoneNumbers`. */
  readonly to?: string | undefined
  /** Our sender, or the person for inbound entries. Hashed or redacted unless `LogPhoneNumbers`. */
  readonly from?: string | undefined
  /** A message body; kept until purged, never for kind `"verification"`. */
  readonly body?: string | undefined
  /** Non-personal details: status, route, reason, purpose. International numbers (`+…`) in strings are always masked; put free text in `body`. */
  readonly data?: { readonly [key: string]: Json } | undefined
  /** Values that must never be stored, such as a one-time code; removed from `body` and `data`. */
  readonly secrets?: ReadonlyArray<string> | undefined
}

/**
 * The personal part of an entry, deleted by {@link Audit} `purge`.
 *
 * @category models
 * @since 0.1.0
 */
export interface AuditSensitive {
  /** Random, so that the digest the chain keeps reveals nothing once the block is gone. */
  readonly nonce: string
  readonly to?: string | undefined
  readonly from?: string | undefined
  readonly body?: string | undefined
}

/**
 * One stored entry.
 *
 * @category models
 * @since 0.1.0
 */
export interface AuditEntry {
  readonly index: number
  readonly at: number
  readonly kind: string
  readonly tenant?: string | undefined
  readonly messageId?: string | undefined
  readonly data: { readonly [key: string]: Json }
  /** Absent once purged. */
  readonly sensitive?: AuditSensitive | undefined
  /** SHA-256 of the canonical JSON of `sensitive`; stays after a purge. */
  readonly sensitiveDigest?: string | undefined
  /** When `sensitive` was purged (not part of the hash). */
  readonly purgedAt?: number | undefined
  readonly previousHash: string
  readonly hash: string
}

/**
 * The answer of {@link Audit} `verify`.
 *
 * @category models
 * @since 0.1.0
 */
export type VerifyResult =
  | { readonly valid: true; readonly length: number; readonly head: string }
  | {
    readonly valid: false
    /** The first entry that does not verify. */
    readonly index: number
    readonly reason: "index-mismatch" | "broken-link" | "hash-mismatch" | "digest-mismatch" | "malformed"
  }

/**
 * Options of {@link make} and {@link layer}.
 *
 * @category models
 * @since 0.1.0
 */
export interface AuditOptions {
  /**
   * Store numbers in clear. Defaults to the `LogPhoneNumbers` reference
   * (off), read when the service is built.
   */
  readonly logPhoneNumbers?: boolean | undefined
  /** How numbers are stored when not in clear: keyed hash (default) or redacted. */
  readonly phoneNumbers?: "hash" | "redact" | undefined
  /**
   * The HMAC key for hashed numbers. Give a stable key to correlate entries
   * across restarts; a random key per service is used otherwise.
   */
  readonly hashKey?: Redacted.Redacted<string> | string | undefined
  /** Keep message bodies (until purged). On by default. */
  readonly storeBodies?: boolean | undefined
  /** How long personal data is kept; {@link Audit} `purgeExpired` purges older entries. */
  readonly retention?: Duration.Input | undefined
}

// service

/**
 * The audit log.
 *
 * @category services
 * @since 0.1.0
 */
export class Audit extends Context.Service<Audit, {
  /** Appends one entry and answers it as stored. */
  readonly append: (input: AuditInput) => Effect.Effect<AuditEntry>
  /** Entries from `from` (0 by default), at most `limit`. */
  readonly entries: (options?: { readonly from?: number; readonly limit?: number }) => Effect.Effect<ReadonlyArray<AuditEntry>>
  /** The number of entries and the latest hash, to anchor elsewhere. */
  readonly head: Effect.Effect<{ readonly length: number; readonly hash: string }>
  /** Recomputes the chain; answers the first index that does not verify. */
  readonly verify: Effect.Effect<VerifyResult>
  /** The whole log as JSON Lines, one entry a line. */
  readonly exportJsonl: Effect.Effect<string>
  /** The log as a stream of JSON Lines (each ends with `\n`), read page by page. */
  readonly exportStream: Stream.Stream<string>
  /** Deletes the personal block of entries older than `before` (epoch ms); the chain still verifies. */
  readonly purge: (before: number) => Effect.Effect<{ readonly purged: number }>
  /** `purge(now - retention)`; does nothing without a `retention` option. */
  readonly purgeExpired: Effect.Effect<{ readonly purged: number }>
  /**
   * Deletes the personal block of every entry about `to` (E.164), as
   * recipient or sender, whatever its age; the chain still verifies. Finds
   * entries that hold the number hashed with this log's key or in clear; a
   * redacted number (`phoneNumbers: "redact"`) names no one and is left.
   */
  readonly purgeSubject: (to: string) => Effect.Effect<{ readonly purged: number }, StoreUnavailable>
}>()("smsforge/Audit") {}

/** The part of an entry the chain hashes. */
const hashedBody = (entry: Omit<AuditEntry, "hash" | "sensitive" | "purgedAt">) => ({
  index: entry.index,
  at: entry.at,
  kind: entry.kind,
  tenant: entry.tenant,
  messageId: entry.messageId,
  data: entry.data,
  sensitiveDigest: entry.sensitiveDigest
})

/**
 * Computes the hash an entry should carry.
 *
 * @category utils
 * @since 0.1.0
 */
export const entryHash = (entry: Omit<AuditEntry, "hash" | "sensitive" | "purgedAt">): string =>
  internal.linkHash(entry.previousHash, hashedBody(entry))

const verifyFrom = (
  entries: Iterable<AuditEntry>,
  start: { readonly index: number; readonly hash: string }
): VerifyResult | { readonly next: { readonly index: number; readonly hash: string } } => {
  let expectedIndex = start.index
  let previous = start.hash
  for (const entry of entries) {
    if (entry.index !== expectedIndex) return { valid: false, index: expectedIndex, reason: "index-mismatch" }
    if (entry.previousHash !== previous) return { valid: false, index: expectedIndex, reason: "broken-link" }
    if (entryHash(entry) !== entry.hash) return { valid: false, index: expectedIndex, reason: "hash-mismatch" }
    if (entry.sensitive !== undefined && internal.sha256(internal.canonicalJson(entry.sensitive)) !== entry.sensitiveDigest) {
      return { valid: false, index: expectedIndex, reason: "digest-mismatch" }
    }
    if (entry.sensitive === undefined && entry.sensitiveDigest !== undefined && entry.purgedAt === undefined) {
      return { valid: false, index: expectedIndex, reason: "digest-mismatch" }
    }
    previous = entry.hash
    expectedIndex++
  }
  return { next: { index: expectedIndex, hash: previous } }
}

/**
 * Verifies a whole log, from its first entry.
 *
 * @category utils
 * @since 0.1.0
 */
export const verifyEntries = (entries: Iterable<AuditEntry>): VerifyResult => {
  const result = verifyFrom(entries, { index: 0, hash: internal.genesis })
  return "valid" in result ? result : { valid: true, length: result.next.index, head: result.next.hash }
}

/**
 * Verifies an export in JSON Lines (the output of `exportJsonl`), for
 * example in an auditor's own process.
 *
 * @category utils
 * @since 0.1.0
 */
export const verifyJsonl = (text: string): VerifyResult => {
  const entries: Array<AuditEntry> = []
  const lines = text.split("\n").filter((line) => line.trim().length > 0)
  for (let i = 0; i < lines.length; i++) {
    let parsed: unknown
    try {
      parsed = JSON.parse(lines[i] ?? "")
    } catch {
      return { valid: false, index: i, reason: "malformed" }
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return { valid: false, index: i, reason: "malformed" }
    }
    entries.push(parsed as AuditEntry)
  }
  return verifyEntries(entries)
}

const scrubJson = (value: Json, f: (s: string) => string): Json => {
  if (typeof value === "string") return f(value)
  if (value === null || typeof value !== "object") return value
  if (Array.isArray(value)) return (value as ReadonlyArray<Json>).map((v) => scrubJson(v, f))
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(value as { readonly [key: string]: Json })) out[k] = scrubJson(v, f)
  return out
}

const PAGE = 512

/**
 * Builds the audit log on the {@link AuditStore} in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: AuditOptions = {}) {
  const store = yield* AuditStore
  const streams = yield* loadStream
  const logPlain = options.logPhoneNumbers ?? (yield* Events.LogPhoneNumbers)
  const key = options.hashKey === undefined
    ? internal.nonce()
    : typeof options.hashKey === "string"
    ? options.hashKey
    : Redacted.value(options.hashKey)
  const storeBodies = options.storeBodies ?? true
  const retention = options.retention === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(options.retention))
  const hashed = (phone: string) => `hmac:${internal.hmac(key, phone).slice(0, 32)}`
  // `data` is part of the chain and can never be purged: a number in it is hashed or redacted even with LogPhoneNumbers.
  const maskInData = (phone: string): string => options.phoneNumbers === "redact" ? internal.redactPhone(phone) : hashed(phone)
  const mask = (phone: string): string => logPlain ? phone : maskInData(phone)
  const lock = yield* Semaphore.make(1)

  const build = (input: AuditInput, at: number, index: number, previousHash: string): AuditEntry => {
    const secrets = input.secrets ?? []
    const clean = (s: string) => internal.scrubPhones(internal.scrubSecrets(s, secrets), maskInData)
    const data: { [key: string]: Json } = {}
    for (const [k, v] of Object.entries(input.data ?? {})) data[k] = scrubJson(v, clean)
    const body = storeBodies && input.kind !== "verification" && input.body !== undefined
      ? internal.scrubSecrets(input.body, secrets)
      : undefined
    const sensitive: AuditSensitive | undefined = input.to === undefined && input.from === undefined && body === undefined
      ? undefined
      : {
        nonce: internal.nonce(),
        ...(input.to === undefined ? {} : { to: mask(input.to) }),
        ...(input.from === undefined ? {} : { from: mask(input.from) }),
        ...(body === undefined ? {} : { body })
      }
    const base = {
      index,
      at,
      kind: input.kind,
      ...(input.tenant === undefined ? {} : { tenant: input.tenant }),
      ...(input.messageId === undefined ? {} : { messageId: input.messageId }),
      data,
      ...(sensitive === undefined ? {} : { sensitiveDigest: internal.sha256(internal.canonicalJson(sensitive)) }),
      previousHash
    }
    return { ...base, ...(sensitive === undefined ? {} : { sensitive }), hash: entryHash(base) }
  }

  const append = (input: AuditInput): Effect.Effect<AuditEntry> =>
    lock.withPermits(1)(Effect.gen(function*() {
      const at = input.at ?? (yield* Clock.currentTimeMillis)
      const last = yield* store.last
      const entry = Option.isSome(last)
        ? build(input, at, last.value.index + 1, last.value.hash)
        : build(input, at, 0, internal.genesis)
      yield* store.append(entry)
      return entry
    }))

  const head = Effect.map(store.last, (last) =>
    Option.isSome(last)
      ? { length: last.value.index + 1, hash: last.value.hash }
      : { length: 0, hash: internal.genesis })

  const verify: Effect.Effect<VerifyResult> = Effect.gen(function*() {
    let cursor = { index: 0, hash: internal.genesis }
    while (true) {
      const page = yield* store.read(cursor.index, PAGE)
      const result = verifyFrom(page, cursor)
      if ("valid" in result) return result
      cursor = result.next
      if (page.length < PAGE) return { valid: true, length: cursor.index, head: cursor.hash } as const
    }
  })

  const exportStream: Stream.Stream<string> = streams.paginate(0, (from: number) =>
    Effect.map(store.read(from, PAGE), (page) =>
      [
        page.map((entry) => `${JSON.stringify(entry)}\n`),
        page.length < PAGE ? Option.none<number>() : Option.some(from + page.length)
      ] as const))

  const purge = (before: number): Effect.Effect<{ readonly purged: number }> =>
    lock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      let purged = 0
      let from = 0
      while (true) {
        const page = yield* store.read(from, PAGE)
        for (const entry of page) {
          const purgedEntry = entry.at < before ? withoutSensitive(entry, now) : undefined
          if (purgedEntry !== undefined) {
            yield* store.replace(purgedEntry)
            purged++
          }
        }
        if (page.length < PAGE) return { purged }
        from += page.length
      }
    }))

  const purgeSubject = (to: string) =>
    lock.withPermits(1)(Effect.flatMap(Clock.currentTimeMillis, (now) =>
      // Both forms: LogPhoneNumbers may have been on when older entries were written.
      store.purgeSubject([hashed(to), to], now)))

  return Audit.of({
    append,
    purgeSubject,
    entries: (o) => store.read(o?.from ?? 0, o?.limit ?? Number.MAX_SAFE_INTEGER),
    head,
    verify,
    exportJsonl: streams.mkString(exportStream),
    exportStream,
    purge,
    purgeExpired: retention === undefined
      ? Effect.succeed({ purged: 0 })
      : Effect.flatMap(Clock.currentTimeMillis, (now) => purge(now - retention))
  })
})

/**
 * The audit log on the {@link AuditStore} in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: AuditOptions = {}): Layer.Layer<Audit, never, AuditStore> =>
  Layer.effect(Audit, make(options))

/**
 * Appends when an audit log is present; does nothing otherwise, so modules
 * work without one.
 *
 * @category utils
 * @since 0.1.0
 */
export const append = (input: AuditInput): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Audit), (audit) =>
    Option.isSome(audit) ? Effect.asVoid(audit.value.append(input)) : Effect.void)

/**
 * Maps a pipeline event to an audit entry; `undefined` for events the
 * emitting module already audits itself (inbound replies, consent changes).
 *
 * @category utils
 * @since 0.1.0
 */
export const fromEvent = (event: Events.SmsEvent): AuditInput | undefined => {
  switch (event._tag) {
    case "StatusChanged":
      return {
        kind: "status",
        at: event.at,
        messageId: event.messageId,
        tenant: event.tenant,
        to: event.to,
        data: {
          status: event.status,
          ...(event.previous === undefined ? {} : { previous: event.previous }),
          ...(event.reason === undefined ? {} : { reason: event.reason }),
          ...(event.route === undefined ? {} : { route: event.route })
        }
      }
    case "Blocked":
      return {
        kind: "block",
        at: event.at,
        data: {
          scope: event.scope,
          reason: event.reason,
          ...(event.subject === undefined ? {} : { subject: event.subject })
        }
      }
    case "VerificationChanged":
      return {
        kind: "verification",
        at: event.at,
        data: {
          verificationId: event.verificationId,
          status: event.status,
          ...(event.channel === undefined ? {} : { channel: event.channel }),
          ...(event.country === undefined ? {} : { country: event.country })
        }
      }
    default:
      return undefined
  }
}

/**
 * Appends status changes, blocks and verification changes published on the
 * Events bus to the audit log, for as long as the scope lives.
 *
 * **Gotchas**
 * - The bus slides: under a burst larger than its capacity the oldest events
 *   are dropped before they are audited. Append directly where every entry
 *   must be kept.
 *
 * @category constructors
 * @since 0.1.0
 */
export const recordEvents: Effect.Effect<void, never, Audit | Events.Events | Scope.Scope> = Effect.gen(function*() {
  const audit = yield* Audit
  const events = yield* Events.Events
  const subscription = yield* events.subscribe
  const pubsubs = yield* loadPubSub
  yield* Effect.forkScoped(Effect.forever(Effect.flatMap(pubsubs.take(subscription), (event) => {
    const input = fromEvent(event)
    return input === undefined ? Effect.void : Effect.asVoid(audit.append(input))
  })))
})

/**
 * {@link recordEvents} as a layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRecordEvents: Layer.Layer<never, never, Audit | Events.Events> = Layer.effectDiscard(recordEvents)

// store

/**
 * Where entries are kept. Implementations keep entries in index order and
 * never reorder them; `replace` is used only by purges.
 *
 * @category services
 * @since 0.1.0
 */
export class AuditStore extends Context.Service<AuditStore, {
  /** Stores the entry at `entry.index`, which is the current length. */
  readonly append: (entry: AuditEntry) => Effect.Effect<void>
  /** The latest entry. */
  readonly last: Effect.Effect<Option.Option<AuditEntry>>
  /** Up to `limit` entries from index `from`, in order. */
  readonly read: (from: number, limit: number) => Effect.Effect<ReadonlyArray<AuditEntry>>
  /** Overwrites the entry at `entry.index` (purges only). */
  readonly replace: (entry: AuditEntry) => Effect.Effect<void>
  /**
   * Drops the `sensitive` block of every entry whose `sensitive.to` or
   * `sensitive.from` is one of `stored` (the forms the number was stored
   * in), stamping `purgedAt`; answers how many entries changed. Nothing
   * else of an entry changes, so the chain still verifies.
   */
  readonly purgeSubject: (
    stored: ReadonlyArray<string>,
    purgedAt: number
  ) => Effect.Effect<{ readonly purged: number }, StoreUnavailable>
}>()("smsforge/Audit/AuditStore") {}

/**
 * An entry without its personal block, as a purge leaves it; `undefined` when
 * it has none. The chain hashes the block's digest, which stays.
 *
 * @category utils
 * @since 0.4.0
 */
export const withoutSensitive = (entry: AuditEntry, purgedAt: number): AuditEntry | undefined => {
  if (entry.sensitive === undefined) return undefined
  const { sensitive: _, ...rest } = entry
  return { ...rest, purgedAt }
}

/**
 * Whether an entry's personal block names one of `stored` as recipient or
 * sender.
 *
 * @category utils
 * @since 0.4.0
 */
export const isAbout = (entry: AuditEntry, stored: ReadonlyArray<string>): boolean =>
  entry.sensitive !== undefined &&
  ((entry.sensitive.to !== undefined && stored.includes(entry.sensitive.to)) ||
    (entry.sensitive.from !== undefined && stored.includes(entry.sensitive.from)))

/**
 * Builds an in-memory store.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeStoreMemory: Effect.Effect<AuditStore["Service"]> = Effect.sync(() => {
  const entries: Array<AuditEntry> = []
  return AuditStore.of({
    append: (entry) => Effect.sync(() => void entries.push(entry)),
    last: Effect.sync(() => Option.fromNullishOr(entries[entries.length - 1])),
    read: (from, limit) => Effect.sync(() => entries.slice(from, from + limit)),
    replace: (entry) =>
      Effect.sync(() => {
        if (entry.index >= 0 && entry.index < entries.length) entries[entry.index] = entry
      }),
    purgeSubject: (stored, purgedAt) =>
      Effect.sync(() => {
        let purged = 0
        for (const [i, entry] of entries.entries()) {
          const purgedEntry = isAbout(entry, stored) ? withoutSensitive(entry, purgedAt) : undefined
          if (purgedEntry === undefined) continue
          entries[i] = purgedEntry
          purged++
        }
        return { purged }
      })
  })
})

/**
 * An in-memory store, for tests and single-process applications.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerStoreMemory: Layer.Layer<AuditStore> = Layer.effect(AuditStore, makeStoreMemory)

/**
 * The audit log on an in-memory store: nothing to start.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory = (options: AuditOptions = {}): Layer.Layer<Audit> =>
  layer(options).pipe(Layer.provide(layerStoreMemory))
