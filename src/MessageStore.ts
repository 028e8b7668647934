/**
 * Where messages and their status history live.
 *
 * **Details**
 * - A message's status moves only forward: `accepted → queued → submitted →
 *   delivered`, or to a terminal `failed`, `undelivered`, `expired`,
 *   `rejected` or `canceled`. {@link transition} is the one rule, and every
 *   store applies it, so receipts that arrive out of order or twice never move
 *   a status backwards.
 * - The memory store keeps a bounded number of messages for a bounded time,
 *   so memory stays flat however many messages go through.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { withNow } from "./internal/clock.ts"
import { type CoreRegistry, registry } from "./internal/cores.ts"
import type { Reservation } from "./Idempotency.ts"
import type { MoneyJson } from "./Pricing.ts"
import type { RouteDecision } from "./Router.ts"
import type { StoreUnavailable } from "./Store.ts"
import type { DeliveryReport, MessageEncoding } from "./Transport.ts"

// models

/**
 * @category models
 * @since 0.1.0
 */
export type MessageStatus =
  | "accepted"
  | "queued"
  | "submitted"
  | "delivered"
  | "failed"
  | "undelivered"
  | "expired"
  | "rejected"
  | "canceled"

/**
 * The statuses a message ends in.
 *
 * @category models
 * @since 0.1.0
 */
export type TerminalStatus = "delivered" | "failed" | "undelivered" | "expired" | "rejected" | "canceled"

const rank: Record<MessageStatus, number> = {
  accepted: 0,
  queued: 1,
  submitted: 2,
  delivered: 3,
  failed: 3,
  undelivered: 3,
  expired: 3,
  rejected: 3,
  canceled: 3
}

/**
 * @category predicates
 * @since 0.1.0
 */
export const isTerminal = (status: MessageStatus): status is TerminalStatus => rank[status] === 3

/**
 * One step of a message's history.
 *
 * @category models
 * @since 0.1.0
 */
export interface StatusChange {
  readonly status: MessageStatus
  /** Epoch milliseconds. */
  readonly at: number
  /** Why, for failures: a reason tag or a carrier error code. */
  readonly reason?: string | undefined
}

/**
 * A message as stored.
 *
 * @category models
 * @since 0.1.0
 */
export interface StoredMessage {
  readonly id: string
  readonly tenant?: string | undefined
  readonly to: string
  readonly country: string
  readonly from?: string | undefined
  readonly purpose: "transactional" | "marketing"
  /** What was sent, or {@link withheldText} when it carried a one-time code. */
  readonly text: string
  /** The text carried a one-time code, which is never stored: `text` is {@link withheldText}. */
  readonly withheld?: boolean | undefined
  readonly encoding: MessageEncoding
  readonly segmentCount: number
  /** The template it was rendered from, with what a carrier that sends by template code needs on a later run. */
  readonly template?: {
    readonly id: string
    readonly version: number
    readonly locale: string
    readonly approved?: boolean | undefined
    readonly providerTemplateCode?: string | undefined
    readonly variables?: Readonly<Record<string, string | number>> | undefined
  } | undefined
  readonly status: MessageStatus
  readonly history: ReadonlyArray<StatusChange>
  readonly route?: string | undefined
  readonly transport?: string | undefined
  readonly providerMessageId?: string | undefined
  /** Receipts per segment, for carriers that answer per part. */
  readonly segmentIds?: ReadonlyArray<string> | undefined
  readonly segmentStatuses?: Readonly<Record<string, MessageStatus>> | undefined
  readonly attempts: number
  readonly decisions: ReadonlyArray<RouteDecision>
  /** What the carrying route charged (segments × its price), when a price table prices it. */
  readonly cost?: MoneyJson | undefined
  readonly idempotencyKey?: string | undefined
  /** Epoch milliseconds. */
  readonly createdAt: number
  readonly sendAt?: number | undefined
  readonly validUntil?: number | undefined
  readonly metadata?: Readonly<Record<string, string | number | boolean>> | undefined
}

/**
 * The `text` stored for a message that carried a one-time code: the code
 * reaches the carrier, and is kept nowhere in the message store.
 *
 * @category constants
 * @since 0.1.0
 */
export const withheldText = "[withheld: one-time code]"

/**
 * Fields a status change may set alongside the status.
 *
 * @category models
 * @since 0.1.0
 */
export type MessagePatch = Partial<
  Pick<
    StoredMessage,
    "route" | "transport" | "providerMessageId" | "segmentIds" | "segmentStatuses" | "attempts" | "decisions" | "from" | "cost"
  >
>

// errors

/**
 * A status change the life-cycle does not allow.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>("smsforge/MessageStore/InvalidTransition")(
  "InvalidTransition",
  { from: Schema.String, to: Schema.String }
) {
  override get message(): string {
    return `A message cannot move from ${this.from} to ${this.to}`
  }
}

/**
 * @category errors
 * @since 0.1.0
 */
export class MessageNotFound extends Schema.TaggedError<MessageNotFound>("smsforge/MessageStore/MessageNotFound")(
  "MessageNotFound",
  { field: Schema.String }
) {}

// rules

/**
 * The life-cycle rule: a status moves only forward, and a terminal status is
 * final.
 *
 * @category rules
 * @since 0.1.0
 */
export const transition = (
  from: MessageStatus,
  to: MessageStatus
): Result.Result<MessageStatus, InvalidTransition> =>
  rank[to] > rank[from] ? Result.succeed(to) : Result.fail(new InvalidTransition({ from, to }))

/**
 * Applies a status change to a message, or answers why it cannot.
 *
 * @category rules
 * @since 0.1.0
 */
export const applyChange = (
  message: StoredMessage,
  change: StatusChange,
  patch: MessagePatch = {}
): Result.Result<StoredMessage, InvalidTransition> =>
  Result.map(transition(message.status, change.status), (status) => ({
    ...message,
    ...patch,
    status,
    history: [...message.history, change]
  }))

// service

/**
 * The memory store's synchronous core, for the send path (internal/cores.ts).
 *
 * @internal
 */
export interface MessageStoreCore {
  readonly insert: (message: StoredMessage, now: number) => void
  readonly transition: (
    id: string,
    change: StatusChange,
    patch?: MessagePatch
  ) => Result.Result<StoredMessage, MessageNotFound | InvalidTransition>
  /** Whether any receipt is held, so a send can skip asking. */
  readonly holdsReports: () => boolean
}

/** @internal */
export const cores: CoreRegistry<MessageStoreCore> = registry()

/**
 * Storage primitives for messages. Every operation is an effect so that
 * Redis- or SQL-backed stores can replace the memory one.
 *
 * @category services
 * @since 0.1.0
 */
export class MessageStore extends Context.Service<MessageStore, {
  readonly insert: (message: StoredMessage) => Effect.Effect<void, StoreUnavailable>
  readonly get: (id: string) => Effect.Effect<Option.Option<StoredMessage>, StoreUnavailable>
  /** Applies {@link applyChange} atomically; answers the updated message. */
  readonly transition: (
    id: string,
    change: StatusChange,
    patch?: MessagePatch
  ) => Effect.Effect<StoredMessage, MessageNotFound | InvalidTransition | StoreUnavailable>
  /** Sets fields without a status change (per-segment receipts). */
  readonly annotate: (id: string, patch: MessagePatch) => Effect.Effect<StoredMessage, MessageNotFound | StoreUnavailable>
  /** Finds a message by the carrier's id for it or for one of its segments. */
  readonly findByProviderId: (transport: string, providerMessageId: string) => Effect.Effect<Option.Option<StoredMessage>, StoreUnavailable>
  /** Messages in one status, oldest first. */
  readonly list: (options: { readonly status: MessageStatus; readonly limit?: number | undefined }) => Effect.Effect<
    ReadonlyArray<StoredMessage>,
    StoreUnavailable
  >
  readonly size: Effect.Effect<number, StoreUnavailable>
  /**
   * Keeps a receipt that arrived before its message's submit answer, for
   * `ttl`, where every instance can find it (a carrier may answer one instance
   * and report to another).
   */
  readonly holdReport: (report: DeliveryReport, ttl: Duration.Duration) => Effect.Effect<void, StoreUnavailable>
  /** Takes and removes the held receipts for these carrier ids of one transport. */
  readonly takeReports: (
    transport: string,
    providerMessageIds: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<DeliveryReport>, StoreUnavailable>
  /**
   * Every kept message to `to` (E.164) in `tenant` (no tenant: the messages
   * sent without one), in any status, oldest first. For personal-data
   * requests, not the send path.
   */
  readonly findByRecipient: (to: string, tenant?: string) => Effect.Effect<ReadonlyArray<StoredMessage>, StoreUnavailable>
  /**
   * Deletes every message to `to` in `tenant` with its carrier ids, and
   * answers how many went.
   *
   * **Details**
   * Messages are deleted, not anonymised: the number also sits in template
   * variables, metadata and route decisions, and a field list to blank would
   * miss what a later field adds. A receipt for a deleted message finds
   * nothing, as one for an expired message does.
   */
  readonly eraseRecipient: (to: string, tenant?: string) => Effect.Effect<number, StoreUnavailable>
  /**
   * Stores a new message with its durable Outbox job and, when it has one,
   * its idempotency key's reservation, in one write; answers the earlier
   * reservation when the key was held (and then writes nothing). Offered by
   * a store that keeps all three on one backend (the PostgreSQL and Redis
   * `layer`s); without it `send` calls the three stores inside the Outbox's
   * `transaction`.
   *
   * @since 0.2.0
   */
  readonly accept?: ((message: StoredMessage, key: AcceptKey | undefined) => Effect.Effect<Option.Option<Reservation>, StoreUnavailable>) | undefined
}>()("smsforge/MessageStore") {}

/**
 * A send's idempotency key, for {@link MessageStore}'s `accept`.
 *
 * @category models
 * @since 0.2.0
 */
export interface AcceptKey {
  /** The key as the idempotency store is given it. */
  readonly name: string
  readonly reservation: Reservation
  /** How long the key is held. */
  readonly ttl: Duration.Duration
}

/**
 * @category models
 * @since 0.1.0
 */
export interface MemoryStoreOptions {
  /** Most messages kept; the oldest go first. Default 100,000. */
  readonly capacity?: number | undefined
  /** How long a message is kept. Default 7 days. */
  readonly retention?: Duration.Input | undefined
}

// The memory store's records. A kept message is a slot in columns (typed
// arrays for numbers, plain arrays for strings), not an object graph: a
// `StoredMessage` with its history and decisions was about 20 objects and
// 1 KB, and garbage collection traced every one of them, so a send cost more
// the more messages were kept. The fields most messages share (country,
// route, decisions …) sit in one interned `Shared` record; what few messages
// have (a template, metadata, a history with reasons …) in a per-message
// `Rare` record. Reads build the `StoredMessage` again, with every field.

/** Fields that messages sent alike have in common. */
interface Shared {
  readonly tenant: string | undefined
  readonly country: string
  readonly from: string | undefined
  readonly purpose: StoredMessage["purpose"]
  readonly withheld: boolean | undefined
  readonly encoding: MessageEncoding
  readonly segmentCount: number
  readonly route: string | undefined
  readonly transport: string | undefined
  readonly decisions: ReadonlyArray<RouteDecision>
}

/** Fields few messages have; `history` only when it does not fit the columns. */
interface Rare {
  readonly template: StoredMessage["template"]
  readonly segmentIds: StoredMessage["segmentIds"]
  readonly segmentStatuses: StoredMessage["segmentStatuses"]
  readonly cost: MoneyJson | undefined
  readonly sendAt: number | undefined
  readonly metadata: StoredMessage["metadata"]
  readonly history: ReadonlyArray<StatusChange> | undefined
}

const statusList: ReadonlyArray<MessageStatus> = [
  "accepted",
  "queued",
  "submitted",
  "delivered",
  "failed",
  "undelivered",
  "expired",
  "rejected",
  "canceled"
]
const statusCode: Record<MessageStatus, number> = Object.fromEntries(statusList.map((s, i) => [s, i])) as Record<MessageStatus, number>

/** History entries kept in the columns: their statuses (4 bits each) and times after `createdAt`. */
const historySlots = 4
const maxDelta = 2 ** 31 - 1

const fnv = (hash: number, text: string): number => {
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return hash
}

/** FNV-1a, in the range of small integers: the id index's key. */
const hashOf = (text: string): number => fnv(0x811c9dc5, text) & 0x3fffffff

/** The carrier id index's key: the transport, a separator, the carrier's id. */
const providerHashOf = (transport: string, providerMessageId: string): number =>
  fnv(Math.imul(fnv(0x811c9dc5, transport), 0x01000193), providerMessageId) & 0x3fffffff

const sameDecisions = (a: ReadonlyArray<RouteDecision>, b: ReadonlyArray<RouteDecision>) => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (x.route !== y.route || x.transport !== y.transport || x.reason !== y.reason || x.outcome !== y.outcome || x.attempts !== y.attempts) {
      return false
    }
  }
  return true
}

const sameShared = (s: Shared, m: StoredMessage) =>
  s.tenant === m.tenant && s.country === m.country && s.from === m.from && s.purpose === m.purpose && s.withheld === m.withheld &&
  s.encoding === m.encoding && s.segmentCount === m.segmentCount && s.route === m.route && s.transport === m.transport &&
  sameDecisions(s.decisions, m.decisions)

/**
 * Kept messages by slot, found by id. Slots are reused once freed; the
 * columns grow by doubling up to the most the store keeps, so a full store
 * allocates nothing.
 */
class Records {
  /** Messages kept. */
  count = 0
  private size = 0
  private free: Array<number> = []
  private ids: Array<string | undefined> = []
  private to: Array<string | undefined> = []
  private text: Array<string | undefined> = []
  private providerIds: Array<string | undefined> = []
  private keys: Array<string | undefined> = []
  private shared: Array<Shared | undefined> = []
  private rare: Array<Rare | undefined> = []
  private createdAt = new Float64Array(0)
  private validUntil = new Float64Array(0)
  private attempts = new Float64Array(0)
  private status = new Uint8Array(0)
  /** Bit 0: `validUntil` is set. */
  private flags = new Uint8Array(0)
  /** The count of history entries in the columns, then their statuses, 4 bits each; 0 when `Rare` holds the history. */
  private history = new Uint32Array(0)
  private historyAt = new Int32Array(0)
  // Recently written shared records by country, newest first: most messages
  // match one, and traffic to many countries does not push each other's out.
  private recent = new Map<string, Array<Shared>>()
  // Slots in insertion order, each with the serial it was given then: a
  // slot freed and reused since no longer matches its serial there. The
  // oldest is found without a lookup in the id map, which, a million
  // messages large, costs a cache miss or two per call.
  private serial = new Float64Array(0)
  private nextSerial = 0
  private orderSlots: Array<number> = []
  private orderSerials: Array<number> = []
  private head = 0
  // Slots by a hash of their id, ids that share one chained through `next`:
  // a map keyed by small integers. Keyed by the id strings, a lookup in a
  // million-entry map compared candidates' text, a cache miss each: 3 µs
  // for a send's four lookups, against 0.6 µs.
  // Chains are doubly linked: a carrier that answers every message with the
  // same id puts them all under one hash, and evicting the oldest must not
  // walk the chain.
  private index = new Map<number, number>()
  private hashes = new Int32Array(0)
  private next = new Int32Array(0)
  private previous = new Int32Array(0)
  // Slots by a hash of their transport and carrier id, the same way; -1 in
  // `providerHashes`: not in this index. Segment ids are the store's to index.
  private byProvider = new Map<number, number>()
  private providerHashes = new Int32Array(0)
  private nextByProvider = new Int32Array(0)
  private previousByProvider = new Int32Array(0)

  constructor(private readonly most: number) {}

  /** The slot of the message with this id, or -1. */
  find(id: string): number {
    let slot = this.index.get(hashOf(id)) ?? -1
    while (slot !== -1 && this.ids[slot] !== id) slot = this.next[slot]!
    return slot
  }

  /** The slot of the message last stored with this transport and carrier id, or -1. */
  findByProvider(transport: string, providerMessageId: string): number {
    let slot = this.byProvider.get(providerHashOf(transport, providerMessageId)) ?? -1
    while (slot !== -1 && (this.providerIds[slot] !== providerMessageId || this.shared[slot]!.transport !== transport)) {
      slot = this.nextByProvider[slot]!
    }
    return slot
  }

  /** Stores `message` in a new slot, the newest, or over `slot`, which holds a message with its id. */
  write(message: StoredMessage, slot = this.allocate(message.id)): number {
    this.ids[slot] = message.id
    this.to[slot] = message.to
    this.text[slot] = message.text
    this.providerIds[slot] = message.providerMessageId
    this.keys[slot] = message.idempotencyKey
    this.shared[slot] = this.intern(message)
    this.indexProvider(slot, message.transport, message.providerMessageId)
    this.createdAt[slot] = message.createdAt
    this.validUntil[slot] = message.validUntil ?? 0
    this.flags[slot] = message.validUntil === undefined ? 0 : 1
    this.attempts[slot] = message.attempts
    this.status[slot] = statusCode[message.status]
    const compact = this.packHistory(slot, message.history, message.createdAt)
    this.rare[slot] = compact && message.template === undefined && message.segmentIds === undefined &&
        message.segmentStatuses === undefined && message.cost === undefined && message.sendAt === undefined &&
        message.metadata === undefined
      ? undefined
      : {
        template: message.template,
        segmentIds: message.segmentIds,
        segmentStatuses: message.segmentStatuses,
        cost: message.cost,
        sendAt: message.sendAt,
        metadata: message.metadata,
        history: compact ? undefined : message.history
      }
    return slot
  }

  read(slot: number): StoredMessage {
    const shared = this.shared[slot]!
    const rare = this.rare[slot]
    return {
      id: this.ids[slot]!,
      tenant: shared.tenant,
      to: this.to[slot]!,
      country: shared.country,
      from: shared.from,
      purpose: shared.purpose,
      text: this.text[slot]!,
      withheld: shared.withheld,
      encoding: shared.encoding,
      segmentCount: shared.segmentCount,
      template: rare?.template,
      status: statusList[this.status[slot]!]!,
      history: rare?.history ?? this.unpackHistory(slot),
      route: shared.route,
      transport: shared.transport,
      providerMessageId: this.providerIds[slot],
      segmentIds: rare?.segmentIds,
      segmentStatuses: rare?.segmentStatuses,
      attempts: this.attempts[slot]!,
      decisions: shared.decisions,
      cost: rare?.cost,
      idempotencyKey: this.keys[slot],
      createdAt: this.createdAt[slot]!,
      sendAt: rare?.sendAt,
      validUntil: (this.flags[slot]! & 1) === 0 ? undefined : this.validUntil[slot],
      metadata: rare?.metadata
    }
  }

  idOf(slot: number): string {
    return this.ids[slot]!
  }

  toOf(slot: number): string {
    return this.to[slot]!
  }

  tenantOf(slot: number): string | undefined {
    return this.shared[slot]!.tenant
  }

  statusOf(slot: number): MessageStatus {
    return statusList[this.status[slot]!]!
  }

  createdAtOf(slot: number): number {
    return this.createdAt[slot]!
  }

  transportOf(slot: number): string | undefined {
    return this.shared[slot]!.transport
  }

  providerIdOf(slot: number): string | undefined {
    return this.providerIds[slot]
  }

  segmentIdsOf(slot: number): ReadonlyArray<string> | undefined {
    return this.rare[slot]?.segmentIds
  }

  /** Kept slots, oldest first. */
  *live(): Generator<number> {
    for (let i = this.head; i < this.orderSlots.length; i++) {
      const slot = this.orderSlots[i]!
      if (this.ids[slot] !== undefined && this.serial[slot] === this.orderSerials[i]) yield slot
    }
  }

  /** Frees a slot, and what it held, for reuse. */
  release(slot: number): void {
    this.unlink(this.index, this.hashes, this.next, this.previous, slot)
    if (this.providerHashes[slot] !== -1) this.unlink(this.byProvider, this.providerHashes, this.nextByProvider, this.previousByProvider, slot)
    this.count--
    this.ids[slot] = this.to[slot] = this.text[slot] = this.providerIds[slot] = this.keys[slot] = undefined
    this.shared[slot] = undefined
    this.rare[slot] = undefined
    this.free.push(slot)
  }

  /** The oldest slot still kept, or -1. */
  oldest(): number {
    while (this.head < this.orderSlots.length) {
      const slot = this.orderSlots[this.head]!
      if (this.ids[slot] !== undefined && this.serial[slot] === this.orderSerials[this.head]) return slot
      this.head++
    }
    return -1
  }

  /** Drops the consumed and stale order entries once they are most of it. */
  compact(): void {
    if (this.head > 1024 && this.head * 2 > this.orderSlots.length) {
      this.orderSlots = this.orderSlots.slice(this.head)
      this.orderSerials = this.orderSerials.slice(this.head)
      this.head = 0
    }
    // Erased messages leave stale entries behind the head: rebuild once they pile up.
    if (this.orderSlots.length - this.head > 2 * this.count + 1024) {
      this.orderSlots = Array.from(this.live())
      this.orderSerials = this.orderSlots.map((slot) => this.serial[slot]!)
      this.head = 0
    }
  }

  private allocate(id: string): number {
    let slot = this.free.pop()
    if (slot === undefined) {
      if (this.size === this.createdAt.length) this.grow()
      slot = this.size++
    }
    this.link(this.index, this.hashes, this.next, this.previous, slot, hashOf(id))
    this.providerHashes[slot] = -1
    this.count++
    this.serial[slot] = this.nextSerial
    this.orderSlots.push(slot)
    this.orderSerials.push(this.nextSerial++)
    return slot
  }

  /** Keeps a slot under its carrier id, first among the slots under the same one: the last stored wins. */
  private indexProvider(slot: number, transport: string | undefined, providerMessageId: string | undefined): void {
    const hash = transport === undefined || providerMessageId === undefined ? -1 : providerHashOf(transport, providerMessageId)
    if (hash === this.providerHashes[slot] && (hash === -1 || this.byProvider.get(hash) === slot)) return
    if (this.providerHashes[slot] !== -1) this.unlink(this.byProvider, this.providerHashes, this.nextByProvider, this.previousByProvider, slot)
    if (hash === -1) this.providerHashes[slot] = -1
    else this.link(this.byProvider, this.providerHashes, this.nextByProvider, this.previousByProvider, slot, hash)
  }

  private link(index: Map<number, number>, hashes: Int32Array, next: Int32Array, previous: Int32Array, slot: number, hash: number): void {
    const first = index.get(hash) ?? -1
    hashes[slot] = hash
    next[slot] = first
    previous[slot] = -1
    if (first !== -1) previous[first] = slot
    index.set(hash, slot)
  }

  private unlink(index: Map<number, number>, hashes: Int32Array, next: Int32Array, previous: Int32Array, slot: number): void {
    const after = next[slot]!
    const before = previous[slot]!
    if (after !== -1) previous[after] = before
    if (before !== -1) next[before] = after
    else if (after === -1) index.delete(hashes[slot]!)
    else index.set(hashes[slot]!, after)
  }

  private grow(): void {
    // One past the most kept: an insert lands before the eviction it triggers.
    const length = Math.min(Math.max(1024, this.size * 2), this.most + 1)
    const widen = <T extends Float64Array | Uint8Array | Uint32Array | Int32Array>(from: T, make: (n: number) => T, n = length) => {
      const to = make(n)
      to.set(from)
      return to
    }
    this.createdAt = widen(this.createdAt, (n) => new Float64Array(n))
    this.serial = widen(this.serial, (n) => new Float64Array(n))
    this.hashes = widen(this.hashes, (n) => new Int32Array(n))
    this.next = widen(this.next, (n) => new Int32Array(n))
    this.previous = widen(this.previous, (n) => new Int32Array(n))
    this.providerHashes = widen(this.providerHashes, (n) => new Int32Array(n))
    this.nextByProvider = widen(this.nextByProvider, (n) => new Int32Array(n))
    this.previousByProvider = widen(this.previousByProvider, (n) => new Int32Array(n))
    this.validUntil = widen(this.validUntil, (n) => new Float64Array(n))
    this.attempts = widen(this.attempts, (n) => new Float64Array(n))
    this.status = widen(this.status, (n) => new Uint8Array(n))
    this.flags = widen(this.flags, (n) => new Uint8Array(n))
    this.history = widen(this.history, (n) => new Uint32Array(n))
    this.historyAt = widen(this.historyAt, (n) => new Int32Array(n), length * historySlots)
  }

  private intern(message: StoredMessage): Shared {
    let recent = this.recent.get(message.country)
    if (recent === undefined) {
      // bounded: a country is whatever string a message was stored with
      if (this.recent.size >= 512) this.recent.clear()
      recent = []
      this.recent.set(message.country, recent)
    }
    for (let i = 0; i < recent.length; i++) {
      const found = recent[i]!
      if (!sameShared(found, message)) continue
      if (i > 0) {
        recent.splice(i, 1)
        recent.unshift(found)
      }
      return found
    }
    const made: Shared = {
      tenant: message.tenant,
      country: message.country,
      from: message.from,
      purpose: message.purpose,
      withheld: message.withheld,
      encoding: message.encoding,
      segmentCount: message.segmentCount,
      route: message.route,
      transport: message.transport,
      decisions: message.decisions
    }
    recent.unshift(made)
    if (recent.length > 8) recent.pop()
    return made
  }

  /** Packs a history of at most four changes without reasons; answers false for any other. */
  private packHistory(slot: number, history: ReadonlyArray<StatusChange>, createdAt: number): boolean {
    if (history.length > historySlots) return this.noHistory(slot)
    let packed = history.length
    for (let i = 0; i < history.length; i++) {
      const change = history[i]!
      const code = statusCode[change.status]
      const delta = change.at - createdAt
      // kept in the columns only when it reads back exactly (a fractional time can round to an integer delta)
      if (change.reason !== undefined || code === undefined || !Number.isInteger(delta) || Math.abs(delta) > maxDelta || createdAt + delta !== change.at) {
        return this.noHistory(slot)
      }
      packed |= code << (3 + 4 * i)
      this.historyAt[slot * historySlots + i] = delta
    }
    this.history[slot] = packed >>> 0
    return true
  }

  private noHistory(slot: number): false {
    this.history[slot] = 0
    return false
  }

  private unpackHistory(slot: number): Array<StatusChange> {
    const packed = this.history[slot]!
    const count = packed & 7
    const createdAt = this.createdAt[slot]!
    const history: Array<StatusChange> = []
    for (let i = 0; i < count; i++) {
      history.push({ status: statusList[(packed >>> (3 + 4 * i)) & 15]!, at: createdAt + this.historyAt[slot * historySlots + i]! })
    }
    return history
  }
}

/** Receipts that came before their submit answer, by transport and carrier id, oldest first; at most 10,000. */
const makeHeldReports = () => {
  const held = new Map<string, { readonly report: DeliveryReport; readonly keptUntil: number }>()
  const keyOf = (transport: string, id: string) => `${transport}\u0000${id}`
  const capacity = 10_000
  const hold = (report: DeliveryReport, ttl: Duration.Input): Effect.Effect<void> =>
    withNow((now) => {
      for (const [key, entry] of held) {
        if (entry.keptUntil > now && held.size < capacity) break
        held.delete(key)
      }
      held.set(keyOf(report.transport, report.providerMessageId), { report, keptUntil: now + Duration.toMillis(ttl) })
      return Effect.void
    })
  const take = (transport: string, ids: ReadonlyArray<string>): Effect.Effect<Array<DeliveryReport>> =>
    withNow((now) => {
      const found: Array<DeliveryReport> = []
      if (held.size === 0) return Effect.succeed(found)
      for (const id of ids) {
        const key = keyOf(transport, id)
        const entry = held.get(key)
        if (entry === undefined) continue
        held.delete(key)
        if (entry.keptUntil > now) found.push(entry.report)
      }
      return Effect.succeed(found)
    })
  return { hold, take, holds: () => held.size > 0 }
}

/**
 * Creates an in-memory store with bounded retention.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory = (options: MemoryStoreOptions = {}): Effect.Effect<MessageStore["Service"]> =>
  Effect.sync(() => {
    const capacity = Math.max(1, options.capacity ?? 100_000)
    const retention = Duration.toMillis(options.retention ?? "7 days")
    // Insertion order is creation order, so the oldest message is always first.
    const records = new Records(capacity)
    // The records index each message's own carrier id. Message ids by
    // transport, then by the carrier's id for one of a message's segments, or
    // for the message before it was submitted again: nested, not one map on
    // joined keys, as a joined key is one more string kept.
    const others = new Map<string, Map<string, string>>()
    const idsOf = (transport: string) => {
      let ids = others.get(transport)
      if (ids === undefined) {
        ids = new Map()
        others.set(transport, ids)
      }
      return ids
    }
    const forget = (slot: number) => {
      const id = records.idOf(slot)
      const transport = records.transportOf(slot)
      const ids = transport === undefined ? undefined : others.get(transport)
      const providerId = records.providerIdOf(slot)
      if (ids !== undefined && providerId !== undefined) {
        if (ids.get(providerId) === id) ids.delete(providerId)
        for (const segment of records.segmentIdsOf(slot) ?? []) if (ids.get(segment) === id) ids.delete(segment)
      }
      records.release(slot)
    }
    const save = (message: StoredMessage, slot?: number) => {
      const transport = slot === undefined ? undefined : records.transportOf(slot)
      const providerId = slot === undefined ? undefined : records.providerIdOf(slot)
      records.write(message, slot)
      // A receipt for the carrier id a message had before still finds it.
      if (
        transport !== undefined && providerId !== undefined &&
        (transport !== message.transport || providerId !== message.providerMessageId)
      ) idsOf(transport).set(providerId, message.id)
      if (message.transport === undefined || message.providerMessageId === undefined || message.segmentIds === undefined) return message
      const ids = idsOf(message.transport)
      for (const id of message.segmentIds) ids.set(id, message.id)
      return message
    }
    const read = (id: string) => {
      const slot = records.find(id)
      return slot === -1 ? undefined : records.read(slot)
    }
    // When the oldest message kept passes its retention: until then, and
    // below capacity, an insert has nothing to evict and skips looking.
    let nextExpiry = Number.NEGATIVE_INFINITY
    const evict = (now: number) => {
      for (let oldest = records.oldest(); oldest !== -1; oldest = records.oldest()) {
        const createdAt = records.createdAtOf(oldest)
        if (records.count <= capacity && createdAt >= now - retention) {
          nextExpiry = createdAt + retention
          break
        }
        forget(oldest)
      }
      records.compact()
    }

    const held = makeHeldReports()

    const recipientSlots = (to: string, tenant: string | undefined) => {
      const found: Array<number> = []
      for (const slot of records.live()) if (records.toOf(slot) === to && records.tenantOf(slot) === tenant) found.push(slot)
      // Inserts may come out of creation order (a retried write); the answer is oldest first.
      return found.sort((a, b) => records.createdAtOf(a) - records.createdAtOf(b))
    }

    const core: MessageStoreCore = {
      holdsReports: held.holds,
      insert: (message, now) => {
        const slot = records.find(message.id)
        save(message, slot === -1 ? undefined : slot)
        if (records.count > capacity || now > nextExpiry) evict(now)
      },
      transition: (id, change, patch) => {
        const slot = records.find(id)
        if (slot === -1) return Result.fail(new MessageNotFound({ field: "id" }))
        const next = applyChange(records.read(slot), change, patch)
        return Result.isFailure(next) ? next : Result.succeed(save(next.success, slot))
      }
    }

    return cores.register(MessageStore.of({
      insert: (message) =>
        withNow((now) => {
          core.insert(message, now)
          return Effect.void
        }),
      get: (id) => Effect.sync(() => Option.fromUndefinedOr(read(id))),
      transition: (id, change, patch) => Effect.suspend(() => Effect.fromResult(core.transition(id, change, patch))),
      annotate: (id, patch) =>
        Effect.suspend(() => {
          const slot = records.find(id)
          return slot === -1
            ? Effect.fail(new MessageNotFound({ field: "id" }))
            : Effect.succeed(save({ ...records.read(slot), ...patch }, slot))
        }),
      findByProviderId: (transport, providerMessageId) =>
        Effect.sync(() => {
          const slot = records.findByProvider(transport, providerMessageId)
          if (slot !== -1) return Option.some(records.read(slot))
          const id = others.get(transport)?.get(providerMessageId)
          return Option.fromUndefinedOr(id === undefined ? undefined : read(id))
        }),
      list: ({ limit = Number.POSITIVE_INFINITY, status }) =>
        Effect.sync(() => {
          const found: Array<StoredMessage> = []
          for (const slot of records.live()) {
            if (found.length >= limit) break
            if (records.statusOf(slot) === status) found.push(records.read(slot))
          }
          return found
        }),
      size: Effect.sync(() => records.count),
      holdReport: held.hold,
      takeReports: held.take,
      // A scan, not an index: an index would cost every kept message memory for a rare request.
      findByRecipient: (to, tenant) => Effect.sync(() => recipientSlots(to, tenant).map((slot) => records.read(slot))),
      eraseRecipient: (to, tenant) =>
        Effect.sync(() => {
          const found = recipientSlots(to, tenant)
          for (const slot of found) forget(slot)
          return found.length
        })
    }), core)
  })

/**
 * The in-memory store.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory = (options: MemoryStoreOptions = {}): Layer.Layer<MessageStore> =>
  Layer.effect(MessageStore, makeMemory(options))
