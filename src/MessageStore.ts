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
import { InsertionQueue } from "./internal/insertionQueue.ts"
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
}>()("smsforge/MessageStore") {}

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
    const messages = new Map<string, StoredMessage>()
    // Message ids by transport, then by the carrier's id for the message or
    // for one of its segments. Nested, not one map on joined keys: a joined
    // key is one more string kept per message.
    const byProvider = new Map<string, Map<string, string>>()
    const idsOf = (transport: string) => {
      let ids = byProvider.get(transport)
      if (ids === undefined) {
        ids = new Map()
        byProvider.set(transport, ids)
      }
      return ids
    }
    const forget = (message: StoredMessage) => {
      messages.delete(message.id)
      if (message.transport === undefined || message.providerMessageId === undefined) return
      const ids = idsOf(message.transport)
      if (ids.get(message.providerMessageId) === message.id) ids.delete(message.providerMessageId)
      if (message.segmentIds === undefined) return
      for (const id of message.segmentIds) if (ids.get(id) === message.id) ids.delete(id)
    }
    const save = (message: StoredMessage) => {
      messages.set(message.id, message)
      if (message.transport === undefined || message.providerMessageId === undefined) return message
      const ids = idsOf(message.transport)
      ids.set(message.providerMessageId, message.id)
      if (message.segmentIds !== undefined) for (const id of message.segmentIds) ids.set(id, message.id)
      return message
    }
    const order = new InsertionQueue<string>()
    const live = { get size() { return messages.size }, keys: () => messages.keys() }
    // When the oldest message kept passes its retention: until then, and
    // below capacity, an insert has nothing to evict and skips looking.
    let nextExpiry = Number.NEGATIVE_INFINITY
    const evict = (now: number) =>
      order.drain((id) => {
        const oldest = messages.get(id)
        if (oldest === undefined) return true
        if (messages.size <= capacity && oldest.createdAt >= now - retention) {
          nextExpiry = oldest.createdAt + retention
          return false
        }
        forget(oldest)
        return true
      }, live)

    // Receipts that came before their submit answer, by transport and carrier id, oldest first.
    const held = new Map<string, { readonly report: DeliveryReport; readonly keptUntil: number }>()
    const heldKey = (transport: string, id: string) => `${transport}\u0000${id}`
    const heldCapacity = 10_000

    const recipientMessages = (to: string, tenant: string | undefined) => {
      const found: Array<StoredMessage> = []
      for (const message of messages.values()) if (message.to === to && message.tenant === tenant) found.push(message)
      // Inserts may come out of creation order (a retried write); the answer is oldest first.
      return found.sort((a, b) => a.createdAt - b.createdAt)
    }

    const core: MessageStoreCore = {
      holdsReports: () => held.size > 0,
      insert: (message, now) => {
        if (!messages.has(message.id)) order.push(message.id)
        save(message)
        if (messages.size > capacity || now > nextExpiry) evict(now)
      },
      transition: (id, change, patch) => {
        const current = messages.get(id)
        if (current === undefined) return Result.fail(new MessageNotFound({ field: "id" }))
        const next = applyChange(current, change, patch)
        return Result.isFailure(next) ? next : Result.succeed(save(next.success))
      }
    }

    return cores.register(MessageStore.of({
      insert: (message) =>
        withNow((now) => {
          core.insert(message, now)
          return Effect.void
        }),
      get: (id) => Effect.sync(() => Option.fromUndefinedOr(messages.get(id))),
      transition: (id, change, patch) => Effect.suspend(() => Effect.fromResult(core.transition(id, change, patch))),
      annotate: (id, patch) =>
        Effect.suspend(() => {
          const current = messages.get(id)
          return current === undefined
            ? Effect.fail(new MessageNotFound({ field: "id" }))
            : Effect.succeed(save({ ...current, ...patch }))
        }),
      findByProviderId: (transport, providerMessageId) =>
        Effect.sync(() => {
          const id = byProvider.get(transport)?.get(providerMessageId)
          return Option.fromUndefinedOr(id === undefined ? undefined : messages.get(id))
        }),
      list: ({ limit = Number.POSITIVE_INFINITY, status }) =>
        Effect.sync(() => {
          const found: Array<StoredMessage> = []
          for (const message of messages.values()) {
            if (found.length >= limit) break
            if (message.status === status) found.push(message)
          }
          return found
        }),
      size: Effect.sync(() => messages.size),
      holdReport: (report, ttl) =>
        withNow((now) => {
          for (const [key, entry] of held) {
            if (entry.keptUntil > now && held.size < heldCapacity) break
            held.delete(key)
          }
          held.set(heldKey(report.transport, report.providerMessageId), { report, keptUntil: now + Duration.toMillis(ttl) })
          return Effect.void
        }),
      takeReports: (transport, ids) =>
        withNow((now) => {
          const found: Array<DeliveryReport> = []
          if (held.size === 0) return Effect.succeed(found)
          for (const id of ids) {
            const key = heldKey(transport, id)
            const entry = held.get(key)
            if (entry === undefined) continue
            held.delete(key)
            if (entry.keptUntil > now) found.push(entry.report)
          }
          return Effect.succeed(found)
        }),
      // A scan, not an index: an index would cost every kept message memory for a rare request.
      findByRecipient: (to, tenant) => Effect.sync(() => recipientMessages(to, tenant)),
      eraseRecipient: (to, tenant) =>
        Effect.sync(() => {
          const found = recipientMessages(to, tenant)
          for (const message of found) forget(message)
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
