/**
 * PostgreSQL-backed stores (through effect's `SqlClient`), so that several
 * application instances share one truth and an accepted message survives a
 * crash.
 *
 * **Details**
 * - Each store creates its tables with `CREATE TABLE IF NOT EXISTS` when its
 *   layer is built (under an advisory lock, so instances starting together do
 *   not race). Table names start with `tablePrefix` (default `"smsforge_"`;
 *   letters, digits and `_` only).
 * - Atomicity comes from the database: idempotency keys and verification
 *   creation are `INSERT … ON CONFLICT`, verification updates are
 *   `UPDATE … WHERE version = ?`, and a message transition applies
 *   `MessageStore.applyChange` to the row it read and writes it only if the
 *   row is unchanged (compare-and-set), reading again when it changed.
 * - Expiry follows the Effect `Clock`, as the memory stores do: expired rows
 *   are invisible at once, and {@link purge} deletes them (the all-in-one
 *   {@link layer} runs it every hour).
 * - Idempotency keys, consent, verification and rate-limit keys are stored as
 *   SHA-256 digests, so no key column holds a phone number, an IP or a
 *   tenant; message rows and consent records do hold numbers and texts,
 *   because the application reads them back. Plan retention accordingly;
 *   `eraseRecipient` and `remove` delete one number's rows at once, found
 *   through a `recipient` column holding a digest of tenant and number.
 * - Every call is bounded by `timeout` (default `Store.defaultTimeout`, 5
 *   seconds) and fails with the shared `Store.StoreUnavailable` when the
 *   database does not answer or fails; no `SqlError` reaches a caller, typed
 *   or as a defect. Building a layer (its migrations) fails the same way.
 *
 * **Gotchas**
 * - effect has no SQL `RateLimiterStore`; {@link layerRateLimiter} ports
 *   effect's memory algorithms to row-locked state in `<prefix>rate_limits`.
 *   Redis (`RateLimiter.layerStoreRedis`) is cheaper per call where a Redis
 *   is at hand.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as KeyValueStore from "effect/persistence/KeyValueStore"
import * as PersistedQueue from "effect/persistence/PersistedQueue"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import { Consent, Idempotency, MessageStore, Outbox, Store, Templates, Transport, Verification } from "smsforge"
import { digest } from "../internal/digest.ts"
import { bounded, lastWrites, type LastWrites } from "../internal/lastWrites.ts"
import { boundedQueueStore, failLayerWith } from "../internal/outbox.ts"
import { layerRateLimiterStore } from "./RateLimiterStore.ts"

// models

/**
 * @category models
 * @since 0.1.0
 */
export interface StoreOptions {
  /** Prepended to every table name. Default `"smsforge_"`. */
  readonly tablePrefix?: string | undefined
  /** The time limit on each store call. Default `Store.defaultTimeout` (5 seconds). */
  readonly timeout?: Duration.Input | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface MessageStoreOptions extends StoreOptions {
  /** How long a message is kept after its creation. Default 7 days. */
  readonly retention?: Duration.Input | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface LayerOptions extends StoreOptions {
  readonly messages?: Omit<MessageStoreOptions, "tablePrefix" | "timeout"> | undefined
  /** The durable Outbox's options; see {@link layerOutbox}. */
  readonly outbox?: Omit<OutboxOptions, "tablePrefix" | "timeout"> | undefined
  /** How often expired rows are deleted; `false` never (call {@link purge} yourself). Default 1 hour. */
  readonly purgeEvery?: Duration.Input | false | undefined
}

const tablePrefix = (options: StoreOptions | undefined): string => {
  const prefix = options?.tablePrefix ?? "smsforge_"
  // Identifiers are quoted as well; the check keeps names predictable.
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)) {
    throw new TypeError("tablePrefix: letters, digits and _ only, at most 41 characters")
  }
  return prefix
}
/** The edge of the database for one store: time limit and `StoreUnavailable`. */
const guardOf = (store: string, options: StoreOptions | undefined) => (operation: string) =>
  Store.guard(store, operation, options?.timeout ?? Store.defaultTimeout)
const DAY = 24 * 60 * 60 * 1000
const SEND_HISTORY = 8 * DAY

/**
 * Runs DDL once per database at a time. Instances starting together wait for
 * each other's lock, so this gets a longer limit than a call.
 */
const migrate = (
  sql: SqlClient.SqlClient,
  store: string,
  options: StoreOptions | undefined,
  statements: ReadonlyArray<Effect.Effect<unknown, SqlError>>
) =>
  sql.withTransaction(
    Effect.andThen(
      sql`SELECT pg_advisory_xact_lock(7240193)`,
      Effect.forEach(statements, (statement) => statement, { discard: true })
    )
  ).pipe(Store.guard(store, "migrate", Duration.times(Duration.fromInputUnsafe(options?.timeout ?? Store.defaultTimeout), 6)))

// idempotency

/**
 * Reserves `key` unless a live reservation holds it: one `INSERT … ON
 * CONFLICT DO UPDATE … WHERE expired … RETURNING key`, which returns a row
 * only when this reservation won. `now` is when the key is judged.
 */
const reserveKey = (
  sql: SqlClient.SqlClient,
  table: Statement.Identifier,
  key: string,
  reservation: Idempotency.Reservation,
  expiresAt: number,
  now: number
) =>
  sql`INSERT INTO ${table} AS held (key, message_id, fingerprint, expires_at)
    VALUES (${key}, ${reservation.messageId}, ${reservation.fingerprint}, ${expiresAt})
    ON CONFLICT (key) DO UPDATE SET
      message_id = EXCLUDED.message_id, fingerprint = EXCLUDED.fingerprint, expires_at = EXCLUDED.expires_at
    WHERE held.expires_at <= ${now}
    RETURNING key`

/** When a key reserved `now` for `ttl` expires, in epoch milliseconds. */
const expiryOf = (now: number, ttl: Duration.Duration) => now + Math.max(0, Math.ceil(Duration.toMillis(ttl)))

/**
 * Builds an idempotency store on table `<prefix>idempotency`. `reserve` is one
 * `INSERT … ON CONFLICT DO UPDATE … WHERE expired`: of any number of
 * concurrent reserves of a key exactly one wins.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeIdempotency = (options: StoreOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const guard = guardOf("idempotency", options)
    const table = sql(`${tablePrefix(options)}idempotency`)
    yield* migrate(sql, "idempotency", options, [
      sql`CREATE TABLE IF NOT EXISTS ${table} (
        key text PRIMARY KEY,
        message_id text NOT NULL,
        fingerprint text NOT NULL,
        expires_at bigint NOT NULL
      )`
    ])
    const reserve = (key: string, reservation: Idempotency.Reservation, ttl: Duration.Duration) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const expiresAt = expiryOf(now, ttl)
        while (true) {
          const won = yield* reserveKey(sql, table, key, reservation, expiresAt, now)
          if (won.length > 0) return Option.none<Idempotency.Reservation>()
          const rows = yield* sql<{ readonly message_id: string; readonly fingerprint: string }>`
            SELECT message_id, fingerprint FROM ${table} WHERE key = ${key} AND expires_at > ${now}`
          const row = rows[0]
          // Released or expired between the two statements: try again.
          if (row !== undefined) return Option.some<Idempotency.Reservation>({ messageId: row.message_id, fingerprint: row.fingerprint })
        }
      })
    return Idempotency.IdempotencyStore.of({
      reserve: (key, reservation, ttl) => reserve(digest(key), reservation, ttl).pipe(guard("reserve")),
      release: (key, messageId) =>
        sql`DELETE FROM ${table} WHERE key = ${digest(key)} AND message_id = ${messageId}`.pipe(
          Effect.asVoid,
          guard("release")
        )
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerIdempotency = (
  options: StoreOptions = {}
): Layer.Layer<Idempotency.IdempotencyStore, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(Idempotency.IdempotencyStore, makeIdempotency(options))

// messages

type Row = { readonly data: string }

const messageTables = (sql: SqlClient.SqlClient, prefix: string) => {
  const messages = sql(`${prefix}messages`)
  const ids = sql(`${prefix}message_ids`)
  const held = sql(`${prefix}held_reports`)
  return {
    messages,
    ids,
    held,
    ddl: [
      sql`CREATE TABLE IF NOT EXISTS ${messages} (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        status text NOT NULL,
        created_at bigint NOT NULL,
        data text NOT NULL
      )`,
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${prefix}messages_status`)} ON ${messages} (status, created_at, seq)`,
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${prefix}messages_created`)} ON ${messages} (created_at)`,
      // A digest of tenant and number, for personal-data requests; NULL in rows written before 0.4.
      sql`ALTER TABLE ${messages} ADD COLUMN IF NOT EXISTS recipient text`,
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${prefix}messages_recipient`)} ON ${messages} (recipient)`,
      sql`CREATE TABLE IF NOT EXISTS ${ids} (
        transport text NOT NULL,
        provider_id text NOT NULL,
        message_id text NOT NULL REFERENCES ${messages} (id) ON DELETE CASCADE,
        PRIMARY KEY (transport, provider_id)
      )`,
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${prefix}message_ids_message`)} ON ${ids} (message_id)`,
      // Receipts that came before their submit answer, by the carrier's id (never a number).
      sql`CREATE TABLE IF NOT EXISTS ${held} (
        transport text NOT NULL,
        provider_id text NOT NULL,
        report text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (transport, provider_id)
      )`
    ]
  } as const
}

/** A held receipt as the table keeps it. */
type HeldRow = { readonly report: string; readonly expires_at: string | number }

/**
 * Receipts a submission's status change took in its own statement, by
 * transport and carrier id (an empty list: none was held), so that the
 * send's `takeReports` right after needs no round trip of its own.
 */
const takenReports = () => bounded<ReadonlyArray<HeldRow>>(4_096)
const takenKey = (transport: string, providerId: string) => `${transport}\u0000${providerId}`

/** Receipts that came before their submit answer, kept until their ttl by the Effect Clock. */
const heldReports = (
  sql: SqlClient.SqlClient,
  held: ReturnType<typeof messageTables>["held"],
  taken: ReturnType<typeof takenReports>,
  guard: (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, Store.StoreUnavailable, R>
): Pick<MessageStore.MessageStore["Service"], "holdReport" | "takeReports"> => ({
  holdReport: (report, ttl) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      sql`INSERT INTO ${held} (transport, provider_id, report, expires_at)
        VALUES (${report.transport}, ${report.providerMessageId}, ${JSON.stringify(report)}, ${now + Math.ceil(Duration.toMillis(ttl))})
        ON CONFLICT (transport, provider_id) DO UPDATE SET report = EXCLUDED.report, expires_at = EXCLUDED.expires_at`).pipe(
        Effect.asVoid,
        guard("holdReport")
      ),
  // DELETE … RETURNING: of two instances taking one receipt, one gets it.
  takeReports: (transport, providerIds) =>
    providerIds.length === 0 ? Effect.succeed([]) : Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const stashed = providerIds.map((id) => taken.get(takenKey(transport, id)))
      for (const id of providerIds) taken.delete(takenKey(transport, id))
      const rows = stashed.every((entry) => entry !== undefined)
        ? stashed.flat()
        : yield* sql<HeldRow>`
          DELETE FROM ${held} WHERE transport = ${transport} AND provider_id IN ${sql.in(providerIds)}
          RETURNING report, expires_at`
      return rows.filter((row) => Number(row.expires_at) > now).map((row) => JSON.parse(row.report) as Transport.DeliveryReport)
    }).pipe(guard("takeReports"))
})

const decode = (row: Row) => JSON.parse(row.data) as MessageStore.StoredMessage
// `to` is E.164 (no NUL), so the pair is unambiguous.
const recipientOf = (to: string, tenant: string | undefined) => digest(`${tenant ?? ""}\u0000${to}`)

/** A message's row, written as `data` (its JSON); `when` makes it part of a statement's condition. */
const insertMessage = (
  sql: SqlClient.SqlClient,
  messages: Statement.Identifier,
  message: MessageStore.StoredMessage,
  data: string,
  when: Statement.Fragment = sql.literal("")
) =>
  sql`INSERT INTO ${messages} (id, status, created_at, data, recipient)
    SELECT ${message.id}::text, ${message.status}::text, ${message.createdAt}::bigint, ${data}::text, ${recipientOf(message.to, message.tenant)}::text
    ${when}
    ON CONFLICT (id) DO UPDATE SET
      status = EXCLUDED.status, created_at = EXCLUDED.created_at, data = EXCLUDED.data, recipient = EXCLUDED.recipient`

/** The carrier's ids of a message (its own and its segments'), once each; none before it was submitted. */
const providerIdsOf = (message: MessageStore.StoredMessage): ReadonlyArray<string> =>
  message.transport === undefined || message.providerMessageId === undefined
    ? []
    : [...new Set([message.providerMessageId, ...(message.segmentIds ?? [])])]

/** A message's carrier ids as rows of `<prefix>message_ids`, and their upsert. */
const carrierIds = (sql: SqlClient.SqlClient, ids: ReturnType<typeof messageTables>["ids"]) => {
  const idRows = (message: MessageStore.StoredMessage) =>
    providerIdsOf(message).map((providerId) => sql`(${message.transport!}, ${providerId}, ${message.id})`)

  // The carrier ids' upsert; `when` limits it to a condition of the statement it is part of.
  const upsertIds = (rows: ReturnType<typeof idRows>, when = sql.literal("WHERE true")) =>
    sql`INSERT INTO ${ids} (transport, provider_id, message_id)
      SELECT v.transport, v.provider_id, v.message_id
      FROM (VALUES ${sql.join(", ", false)(rows)}) AS v (transport, provider_id, message_id)
      ${when}
      ON CONFLICT (transport, provider_id) DO UPDATE SET message_id = EXCLUDED.message_id`
  return { idRows, upsertIds }
}

/**
 * A message's compare-and-set for {@link makeMessages}; answers whether it
 * changed the row.
 */
const compareAndSet = (
  sql: SqlClient.SqlClient,
  tables: ReturnType<typeof messageTables>,
  written: LastWrites<string>,
  taken: ReturnType<typeof takenReports>
) => {
  const { held, ids, messages } = tables
  const { idRows, upsertIds } = carrierIds(sql, ids)
  /**
   * One statement: the row changes only if it still holds what was read,
   * and the carrier's ids are indexed with it; answers whether it changed.
   * A compare-and-set instead of `SELECT … FOR UPDATE` in a transaction: two
   * round trips for a status change instead of five.
   */
  return (id: string, read: string, next: MessageStore.StoredMessage, from: number) => {
    const rows = idRows(next)
    const data = JSON.stringify(next)
    const indexed = rows.length === 0 ? sql`SELECT 1` : upsertIds(rows, sql.literal("WHERE EXISTS (SELECT 1 FROM updated)"))
    // A submission's answer takes the receipts that came before it in the same statement.
    const providerIds = next.status === "submitted" ? providerIdsOf(next) : []
    const take = providerIds.length === 0
      ? sql`SELECT NULL::text AS provider_id, NULL::text AS report, NULL::bigint AS expires_at WHERE false`
      : sql`DELETE FROM ${held} WHERE transport = ${next.transport!} AND provider_id IN ${sql.in(providerIds)}
          AND EXISTS (SELECT 1 FROM updated) RETURNING provider_id, report, expires_at`
    return Effect.map(
      sql<{ readonly n: number; readonly taken: string }>`WITH updated AS (
          UPDATE ${messages} SET status = ${next.status}, data = ${data}
          WHERE id = ${id} AND data = ${read} AND created_at >= ${from} RETURNING id
        ), indexed AS (${indexed}), taken AS (${take})
        SELECT (SELECT count(*) FROM updated)::int4 AS n,
          (SELECT coalesce(json_agg(json_build_array(provider_id, report, expires_at)), '[]'::json) FROM taken)::text AS taken`,
      (result) => {
        const changed = Number(result[0]?.n ?? 0) === 1
        if (changed) written.remember(id, data, next)
        else written.forget(id)
        if (changed && providerIds.length > 0) {
          const found = JSON.parse(result[0]?.taken ?? "[]") as ReadonlyArray<readonly [string, string, number]>
          for (const providerId of providerIds) {
            taken.set(
              takenKey(next.transport!, providerId),
              found.filter(([id]) => id === providerId).map(([, report, expires_at]) => ({ report, expires_at }))
            )
          }
        }
        return changed
      }
    )
  }
}

/**
 * Builds a message store on tables `<prefix>messages` (one row per message,
 * the message as JSON), `<prefix>message_ids` (carrier and segment ids) and
 * `<prefix>held_reports` (receipts that came before their submit answer).
 *
 * **Details**
 * - Messages older than `retention` (default 7 days, from `createdAt`) are
 *   invisible, and {@link purge} deletes them with their carrier ids.
 * - `transition` and `annotate` write the row only if it still holds what
 *   they read (compare-and-set, with the carrier ids in the same statement),
 *   and read again when another instance wrote first, so concurrent receipts
 *   for one message apply one at a time across instances and the life-cycle
 *   rule holds.
 * - A held receipt is kept until its `ttl` passes by the Effect `Clock`;
 *   `takeReports` deletes what it returns, so one instance applies it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMessages = (options: MessageStoreOptions = {}) => messagesStore(options, undefined)

/** Where {@link layer}'s message store writes a new message's Outbox job, so `accept` is one statement. */
interface AcceptInto {
  readonly queue: string
  readonly recoverAfter: Duration.Duration
}

const messagesStore = (options: MessageStoreOptions, into: AcceptInto | undefined) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const guard = guardOf("message", options)
    const retention = Duration.toMillis(options.retention ?? "7 days")
    const prefix = tablePrefix(options)
    const tables = messageTables(sql, prefix)
    const { ddl, held, ids, messages } = tables
    yield* migrate(sql, "message", options, ddl)

    const cutoff = Effect.map(Clock.currentTimeMillis, (now) => now - retention)
    const written = lastWrites<string>(4_096)
    const taken = takenReports()

    /** Every row still held for the recipient, expired or not; rows from before the column by their JSON. */
    const byRecipient = (to: string, tenant: string | undefined) =>
      Effect.map(
        sql<Row>`SELECT data FROM ${messages}
          WHERE recipient = ${recipientOf(to, tenant)} OR (recipient IS NULL AND data::jsonb ->> 'to' = ${to})
          ORDER BY created_at, seq`,
        (rows) => rows.map(decode).filter((message) => message.to === to && message.tenant === tenant)
      )

    const { idRows, upsertIds } = carrierIds(sql, ids)

    const writeIf = compareAndSet(sql, tables, written, taken)

    // The domain answer travels as a Result, so the guard turns only the database's failures into StoreUnavailable.
    // A write that lost a race to another instance's reads the row again and re-applies `f`. The
    // first try starts from what this instance last wrote, when it still holds it: one statement, no read.
    const update = <E>(
      operation: string,
      id: string,
      f: (message: MessageStore.StoredMessage) => Result.Result<MessageStore.StoredMessage, E>
    ) => {
      const readAndWrite = Effect.gen(function*() {
        const from = yield* cutoff
        const rows = yield* sql<Row>`SELECT data FROM ${messages} WHERE id = ${id} AND created_at >= ${from}`
        const row = rows[0]
        if (row === undefined) return Result.fail<E | MessageStore.MessageNotFound>(new MessageStore.MessageNotFound({ field: "id" }))
        const next = f(decode(row))
        if (Result.isFailure(next)) return next
        return (yield* writeIf(id, row.data, next.success, from)) ? next : undefined
      })
      const fromLastWrite = Effect.suspend(() => {
        const last = written.get(id)
        if (last === undefined) return Effect.undefined
        const next = f(last.message)
        // a refusal is decided on the row as it is now, not as this instance last saw it
        if (Result.isFailure(next)) return Effect.undefined
        return Effect.flatMap(cutoff, (from) => Effect.map(writeIf(id, last.version, next.success, from), (changed) => changed ? next : undefined))
      })
      return fromLastWrite.pipe(
        Effect.flatMap((outcome) => outcome !== undefined ? Effect.succeed(outcome) : Effect.repeat(readAndWrite, { until: (outcome) => outcome !== undefined })),
        Effect.map((outcome) => outcome!),
        guard(operation),
        Effect.flatMap(Effect.fromResult)
      )
    }

    return MessageStore.MessageStore.of({
      insert: (message) => {
        const data = JSON.stringify(message)
        const row = insertMessage(sql, messages, message, data)
        const rows = idRows(message)
        // A new message has no carrier ids yet: one statement, with no transaction (or savepoint) around it.
        return (rows.length === 0 ? Effect.asVoid(row) : Effect.andThen(row, upsertIds(rows)).pipe(sql.withTransaction)).pipe(
          Effect.tap(() => Effect.sync(() => written.remember(message.id, data, message))),
          guard("insert")
        )
      },
      get: (id) =>
        Effect.gen(function*() {
          const rows = yield* sql<Row>`SELECT data FROM ${messages} WHERE id = ${id} AND created_at >= ${yield* cutoff}`
          return Option.map(Option.fromUndefinedOr(rows[0]), decode)
        }).pipe(guard("get")),
      transition: (id, change, patch) => update("transition", id, (message) => MessageStore.applyChange(message, change, patch)),
      annotate: (id, patch) => update("annotate", id, (message) => Result.succeed({ ...message, ...patch })),
      findByProviderId: (transport, providerMessageId) =>
        Effect.gen(function*() {
          const rows = yield* sql<Row>`
            SELECT m.data FROM ${ids} i JOIN ${messages} m ON m.id = i.message_id
            WHERE i.transport = ${transport} AND i.provider_id = ${providerMessageId} AND m.created_at >= ${yield* cutoff}`
          return Option.map(Option.fromUndefinedOr(rows[0]), decode)
        }).pipe(guard("findByProviderId")),
      list: ({ limit, status }) =>
        Effect.gen(function*() {
          const from = yield* cutoff
          const rows = limit === undefined || !Number.isFinite(limit)
            ? yield* sql<Row>`
                SELECT data FROM ${messages} WHERE status = ${status} AND created_at >= ${from}
                ORDER BY created_at, seq`
            : yield* sql<Row>`
                SELECT data FROM ${messages} WHERE status = ${status} AND created_at >= ${from}
                ORDER BY created_at, seq LIMIT ${Math.max(0, Math.floor(limit))}`
          return rows.map(decode)
        }).pipe(guard("list")),
      size: Effect.gen(function*() {
        const rows = yield* sql<{ readonly n: number }>`
          SELECT count(*)::int4 AS n FROM ${messages} WHERE created_at >= ${yield* cutoff}`
        return Number(rows[0]?.n ?? 0)
      }).pipe(guard("size")),
      findByRecipient: (to, tenant) => byRecipient(to, tenant).pipe(guard("findByRecipient")),
      // Carrier ids go with their message (ON DELETE CASCADE).
      eraseRecipient: (to, tenant) =>
        Effect.gen(function*() {
          const found = yield* byRecipient(to, tenant)
          if (found.length === 0) return 0
          const rows = yield* sql`DELETE FROM ${messages} WHERE id IN ${sql.in(found.map((m) => m.id))} RETURNING id`
          for (const message of found) written.forget(message.id)
          return rows.length
        }).pipe(sql.withTransaction, guard("eraseRecipient")),
      ...heldReports(sql, held, taken, guard),
      accept: into === undefined ? undefined : acceptStatement(sql, prefix, messages, into, written, guard("accept"))
    })
  })

/**
 * The message, its Outbox job and its key's reservation as one statement (a
 * statement is atomic): one round trip where a transaction takes five. The
 * job row is the one effect's SQL `PersistedQueue` writes for an offer, and
 * its poll finds it as it finds those.
 */
const acceptStatement = (
  sql: SqlClient.SqlClient,
  prefix: string,
  messages: Statement.Identifier,
  into: AcceptInto,
  written: LastWrites<string>,
  guard: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, Store.StoreUnavailable, R>
) => {
  const keys = sql(`${prefix}idempotency`)
  const jobs = sql(`${prefix}outbox`)
  const recoverAfter = Duration.toMillis(into.recoverAfter)
  type Held = { readonly won: number; readonly message_id: string | null; readonly fingerprint: string | null }

  return (message: MessageStore.StoredMessage, key: MessageStore.AcceptKey | undefined) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const data = JSON.stringify(message)
      // As the queue's own offer: a delay in whole seconds from the database's clock.
      const delay = Math.ceil((message.sendAt === undefined ? recoverAfter : message.sendAt - now) / 1000)
      const visibleAt = delay <= 0 ? sql`NOW()` : sql`clock_timestamp() + INTERVAL '${sql.literal(String(delay))} seconds'`
      const storeMessage = (when: Statement.Fragment) => insertMessage(sql, messages, message, data, when)
      const storeJob = (when: Statement.Fragment) =>
        sql`INSERT INTO ${jobs} (id, queue_name, element, state, attempts, visible_at, created_at, updated_at)
          SELECT ${message.id}::text, ${into.queue}::text, ${JSON.stringify({ messageId: message.id })}::text, 'pending', 0, ${visibleAt}, NOW(), NOW()
          ${when}
          ON CONFLICT (id, queue_name) DO NOTHING`
      if (key === undefined) {
        yield* sql`WITH stored AS (${storeMessage(sql.literal(""))}) ${storeJob(sql.literal(""))}`
        written.remember(message.id, data, message)
        return Option.none<Idempotency.Reservation>()
      }
      const name = digest(key.name)
      const expiresAt = expiryOf(now, key.ttl)
      const won = sql.literal("WHERE EXISTS (SELECT 1 FROM won)")
      while (true) {
        // The final SELECT sees the table as the statement began: the holder when the key was held.
        const rows = yield* sql<Held>`WITH won AS (${reserveKey(sql, keys, name, key.reservation, expiresAt, now)}),
          stored AS (${storeMessage(won)}), job AS (${storeJob(won)})
          SELECT (SELECT count(*) FROM won)::int4 AS won, h.message_id, h.fingerprint
          FROM (SELECT 1) AS one LEFT JOIN ${keys} h ON h.key = ${name} AND h.expires_at > ${now}`
        const row = rows[0]
        if (row !== undefined && Number(row.won) === 1) {
          written.remember(message.id, data, message)
          return Option.none<Idempotency.Reservation>()
        }
        // Released, or held by a send committed after this statement began: ask again.
        if (row?.message_id != null && row.fingerprint != null) {
          return Option.some<Idempotency.Reservation>({ messageId: row.message_id, fingerprint: row.fingerprint })
        }
      }
    }).pipe(guard)
}

/**
 * @category layers
 * @since 0.1.0
 */
export const layerMessages = (
  options: MessageStoreOptions = {}
): Layer.Layer<MessageStore.MessageStore, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(MessageStore.MessageStore, makeMessages(options))

// verifications

/**
 * Builds a verification store on table `<prefix>verifications`: `set` is an
 * `INSERT … ON CONFLICT` for a new key and `UPDATE … WHERE version = ?`
 * otherwise. Fails with `Store.StoreUnavailable` when the database does.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeVerifications = (options: StoreOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const guard = guardOf("verification", options)
    const table = sql(`${tablePrefix(options)}verifications`)
    yield* migrate(sql, "verification", options, [
      sql`CREATE TABLE IF NOT EXISTS ${table} (
        key text PRIMARY KEY,
        value text NOT NULL,
        version int4 NOT NULL,
        expires_at bigint NOT NULL
      )`,
      // A digest of tenant and number on verification records, for personal-data requests; NULL before 0.4.
      sql`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS recipient text`,
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${tablePrefix(options)}verifications_recipient`)} ON ${table} (recipient)`
    ])
    const recipientOf = (value: Verification.StoredValue) =>
      value._tag === "Verification" ? digest(`${value.tenant ?? ""}\u0000${value.to}`) : null
    const findByRecipient = (to: string, tenant: string | undefined) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql<{ readonly value: string }>`
          SELECT value FROM ${table}
          WHERE (recipient = ${digest(`${tenant ?? ""}\u0000${to}`)} OR (recipient IS NULL AND value::jsonb ->> 'to' = ${to}))
            AND expires_at > ${now}`
        const found: Array<Verification.VerificationRecord> = []
        for (const row of rows) {
          const value = JSON.parse(row.value) as Verification.StoredValue
          if (Verification.isRecordOf(value, to, tenant)) found.push(value)
        }
        return found.sort((a, b) => a.createdAt - b.createdAt)
      })
    const eraseRecipient = (to: string, tenant: string | undefined) =>
      Effect.gen(function*() {
        const rows = yield* sql<{ readonly key: string; readonly value: string }>`
          SELECT key, value FROM ${table}
          WHERE recipient = ${digest(`${tenant ?? ""}\u0000${to}`)} OR (recipient IS NULL AND value::jsonb ->> 'to' = ${to})`
        // The value decides: a digest could collide.
        const keys = rows.filter((row) => Verification.isRecordOf(JSON.parse(row.value) as Verification.StoredValue, to, tenant))
          .map((row) => row.key)
        const erased = keys.length === 0
          ? []
          : yield* sql`DELETE FROM ${table} WHERE key IN ${sql.in(keys)} RETURNING key`
        yield* sql`DELETE FROM ${table} WHERE key = ${digest(Verification.recipientKey(to, tenant))}`
        return erased.length
      }).pipe(sql.withTransaction)
    return Verification.VerificationStore.of({
      get: (key) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const rows = yield* sql<{ readonly value: string; readonly version: number }>`
            SELECT value, version FROM ${table} WHERE key = ${digest(key)} AND expires_at > ${now}`
          return Option.map(Option.fromUndefinedOr(rows[0]), (row): Verification.Versioned => ({
            value: JSON.parse(row.value) as Verification.StoredValue,
            version: Number(row.version)
          }))
        }).pipe(guard("get")),
      set: (key, value, options) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const json = JSON.stringify(value)
          const rows = options.expectedVersion === undefined
            ? yield* sql`
                INSERT INTO ${table} AS cur (key, value, version, expires_at, recipient)
                VALUES (${digest(key)}, ${json}, 0, ${options.expiresAt}, ${recipientOf(value)})
                ON CONFLICT (key) DO UPDATE SET
                  value = EXCLUDED.value, version = 0, expires_at = EXCLUDED.expires_at, recipient = EXCLUDED.recipient
                WHERE cur.expires_at <= ${now}
                RETURNING version`
            : yield* sql`
                UPDATE ${table} SET
                  value = ${json}, version = version + 1, expires_at = ${options.expiresAt}, recipient = ${recipientOf(value)}
                WHERE key = ${digest(key)} AND version = ${options.expectedVersion} AND expires_at > ${now}
                RETURNING version`
          return rows.length > 0
        }).pipe(guard("set")),
      remove: (key) => sql`DELETE FROM ${table} WHERE key = ${digest(key)}`.pipe(Effect.asVoid, guard("remove")),
      findByRecipient: (to, tenant) => findByRecipient(to, tenant).pipe(guard("findByRecipient")),
      eraseRecipient: (to, tenant) => eraseRecipient(to, tenant).pipe(guard("eraseRecipient"))
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerVerifications = (
  options: StoreOptions = {}
): Layer.Layer<Verification.VerificationStore, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(Verification.VerificationStore, makeVerifications(options))

// consent

/**
 * Builds a consent store on tables `<prefix>consent` (one record per tenant
 * and recipient, keyed by a digest) and `<prefix>consent_sends`.
 *
 * **Details**
 * - `put` never replaces a record with one of a lower `seq`, so an instance
 *   holding a stale copy cannot undo a later opt-out written by another one.
 * - Send times older than 8 days are deleted as new ones are recorded.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeConsent = (options: StoreOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const guard = guardOf("consent", options)
    const prefix = tablePrefix(options)
    const records = sql(`${prefix}consent`)
    const sends = sql(`${prefix}consent_sends`)
    yield* migrate(sql, "consent", options, [
      sql`CREATE TABLE IF NOT EXISTS ${records} (
        key text PRIMARY KEY,
        seq bigint NOT NULL,
        data text NOT NULL
      )`,
      sql`CREATE TABLE IF NOT EXISTS ${sends} (
        id bigserial PRIMARY KEY,
        key text NOT NULL,
        at bigint NOT NULL
      )`,
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${prefix}consent_sends_key`)} ON ${sends} (key, at)`
    ])
    // Unchanged since 0.1.0 so existing opt-outs stay found; `to` is E.164 (no NUL), so the pair is unambiguous.
    const recordKey = (tenant: string, to: string) => digest(`${tenant}\u0000${to}`)
    const sendsKey = (tenant: string, to: string, purpose: string) => digest(`${tenant}\u0000${to}\u0000${purpose}`)
    return Consent.ConsentStore.of({
      get: (tenant, to) =>
        sql<Row>`SELECT data FROM ${records} WHERE key = ${recordKey(tenant, to)}`.pipe(
          Effect.map((rows) => Option.map(Option.fromUndefinedOr(rows[0]), (row) => JSON.parse(row.data) as Consent.ConsentRecord)),
          guard("get")
        ),
      put: (record) =>
        sql`INSERT INTO ${records} AS cur (key, seq, data)
          VALUES (${recordKey(record.tenant, record.to)}, ${record.seq}, ${JSON.stringify(record)})
          ON CONFLICT (key) DO UPDATE SET seq = EXCLUDED.seq, data = EXCLUDED.data WHERE cur.seq <= EXCLUDED.seq`.pipe(
          Effect.asVoid,
          guard("put")
        ),
      recordSend: (tenant, to, purpose, at) =>
        Effect.gen(function*() {
          const key = sendsKey(tenant, to, purpose)
          yield* sql`INSERT INTO ${sends} (key, at) VALUES (${key}, ${at})`
          yield* sql`DELETE FROM ${sends} WHERE key = ${key} AND at <= ${at - SEND_HISTORY}`
        }).pipe(guard("recordSend")),
      sends: (tenant, to, purpose, since) =>
        sql<{ readonly at: number }>`
          SELECT at::float8 AS at FROM ${sends} WHERE key = ${sendsKey(tenant, to, purpose)} AND at > ${since}
          ORDER BY at, id`.pipe(
          Effect.map((rows) => rows.map((row) => Number(row.at))),
          guard("sends")
        ),
      remove: (to, tenant = "default") =>
        Effect.gen(function*() {
          // Send times are keyed by a digest that includes the purpose: the purposes Consent counts.
          yield* sql`DELETE FROM ${sends} WHERE key IN ${sql.in(Consent.countedPurposes.map((p) => sendsKey(tenant, to, p)))}`
          const rows = yield* sql`DELETE FROM ${records} WHERE key = ${recordKey(tenant, to)} RETURNING key`
          return rows.length > 0
        }).pipe(sql.withTransaction, guard("remove"))
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layerConsent = (
  options: StoreOptions = {}
): Layer.Layer<Consent.ConsentStore, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(Consent.ConsentStore, makeConsent(options))

// templates

/**
 * Templates in table `<prefix>templates` through effect's
 * `KeyValueStore.layerSql` and `Templates.layerStoreKeyValue`, each call
 * bounded by `timeout`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerTemplates = (
  options: StoreOptions = {}
): Layer.Layer<Templates.TemplateStore, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Layer.unwrap(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table = `${tablePrefix(options)}templates`
    // effect's SQL key-value store creates its table without a lock: instances
    // starting together on an empty database raced (a unique violation), so
    // the table is made first, as every other table here, under the lock.
    yield* migrate(sql, "template", options, [
      sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (id TEXT PRIMARY KEY, value BYTEA NOT NULL, value_type SMALLINT NOT NULL)`
    ])
    return Templates.layerStoreKeyValue({ timeout: options.timeout }).pipe(Layer.provide(KeyValueStore.layerSql({ table })))
  }))

// rate limits

/**
 * A `RateLimiter` whose counters live in `<prefix>rate_limits`, shared by
 * every instance; see `makeRateLimiterStore`. Keys are stored as digests.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRateLimiter = (
  options: StoreOptions = {}
): Layer.Layer<RateLimiter.RateLimiter | RateLimiter.RateLimiterStore, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Layer.unwrap(Effect.sync(() =>
    RateLimiter.layer.pipe(Layer.provideMerge(layerRateLimiterStore(tablePrefix(options), { timeout: options.timeout })))
  ))

// outbox

/**
 * @category models
 * @since 0.2.0
 */
export interface OutboxOptions extends StoreOptions, Omit<Outbox.PersistedOptions, "transaction"> {
  /** How often an idle worker asks the table for due jobs. Default 1 second. */
  readonly pollInterval?: Duration.Input | undefined
  /**
   * After how long without a refresh a taken job counts as abandoned (its
   * process died) and is taken again. Default 2 minutes; the database rounds
   * it to whole seconds.
   */
  readonly lockExpiration?: Duration.Input | undefined
  /** How often a running job's lock is refreshed. Default 30 seconds; keep it well under `lockExpiration`. */
  readonly lockRefreshInterval?: Duration.Input | undefined
  /**
   * Deletes finished jobs every `interval` (default 1 hour) once older than
   * `timeToLive` (default 30 days: an id offered again within it is not
   * queued twice), and dead letters once older than `failedTimeToLive`
   * (default never); `false` never (run `PersistedQueue.layerCleanup` in one
   * instance yourself).
   */
  readonly cleanup?: Parameters<typeof PersistedQueue.layerCleanup>[0] | false | undefined
}

/** Marks a failure of the effect inside a transaction, so it is told apart from the database's own. */
class Inner {
  constructor(readonly error: unknown) {}
}

/**
 * `SqlClient.withTransaction` as the Outbox's `transaction`: what `effect`
 * writes through this `SqlClient` (the message, the idempotency key, the job)
 * commits together or not at all. Its own failures pass through; the
 * database's (begin, commit, a lost connection) are `StoreUnavailable`.
 *
 * @category constructors
 * @since 0.2.0
 */
export const transaction = (sql: SqlClient.SqlClient, timeout: Duration.Input = Store.defaultTimeout) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | Store.StoreUnavailable, R> =>
  sql.withTransaction(Effect.mapError(effect, (error) => new Inner(error))).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new Store.StoreUnavailable({ store: "outbox", operation: "transaction", cause: "timed out" }))
    }),
    Effect.catchCause((cause): Effect.Effect<never, E | Store.StoreUnavailable> => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      // A connection lost mid-transaction fails the rollback too: the effect's
      // own failure then arrives beside the database's, either may be a defect.
      const values = cause.reasons.flatMap((reason) =>
        reason._tag === "Fail" ? [reason.error] : reason._tag === "Die" ? [reason.defect] : []
      )
      const database = values.find((value) =>
        isSqlError(value) || value instanceof Store.StoreUnavailable ||
        (value instanceof Inner && value.error instanceof Store.StoreUnavailable)
      )
      if (database !== undefined) {
        return Effect.fail(
          database instanceof Store.StoreUnavailable
            ? database
            : database instanceof Inner
            ? database.error as Store.StoreUnavailable
            : new Store.StoreUnavailable({ store: "outbox", operation: "transaction", cause: database })
        )
      }
      const inner = values.find((value): value is Inner => value instanceof Inner)
      if (inner !== undefined) return Effect.fail(inner.error as E)
      // A defect of the effect itself stays a defect.
      return Effect.failCause(cause as Cause.Cause<never>)
    })
  )

const isSqlError = (value: unknown): boolean =>
  typeof value === "object" && value !== null && "_tag" in value && value._tag === "SqlError"

/**
 * The durable Outbox on this database: effect's `PersistedQueue` on table
 * `<prefix>outbox` (created at start with its migrations table
 * `<prefix>outbox_migrations`), with {@link transaction} joining a send's
 * message, idempotency key and job in one transaction.
 *
 * **Details**
 * - Delays (scheduled sends, backoff between attempts) are kept by the
 *   database and measured by its clock, in whole seconds.
 * - A job whose worker died is taken again `lockExpiration` after its last
 *   lock refresh. A job runs at least once.
 * - `offer` is bounded by `timeout`; an outage fails it with
 *   `StoreUnavailable`.
 * - Finished jobs are deleted after 30 days, dead letters kept (`cleanup`).
 *
 * @category layers
 * @since 0.2.0
 */
export const layerOutbox = (
  options: OutboxOptions = {}
): Layer.Layer<Outbox.Outbox, Store.StoreUnavailable, SqlClient.SqlClient> => {
  const timeout = options.timeout ?? Store.defaultTimeout
  const { cleanup, lockExpiration, lockRefreshInterval, pollInterval, tablePrefix: _, timeout: __, ...outbox } = options
  const queueStore = PersistedQueue.layerStoreSql({
    tableName: `${tablePrefix(options)}outbox`,
    pollInterval,
    lockExpiration,
    lockRefreshInterval
  }).pipe(failLayerWith((cause) => new Store.StoreUnavailable({ store: "outbox", operation: "migrate", cause })))
  return Layer.unwrap(Effect.map(Effect.service(SqlClient.SqlClient), (sql) =>
    Outbox.layerPersisted({ ...outbox, transaction: transaction(sql, timeout) }).pipe(
      Layer.provide(PersistedQueue.layer),
      Layer.provide(cleanup === false ? Layer.empty : PersistedQueue.layerCleanup(cleanup)),
      Layer.provide(boundedQueueStore(timeout)),
      Layer.provide(queueStore)
    )))
}

// retention

/**
 * Deletes what has expired: messages past `retention` (with their carrier
 * ids), held receipts, idempotency keys, verification values and rate-limit
 * state past their expiry, and send times older than 8 days. Tables that
 * were never created are skipped.
 *
 * @category constructors
 * @since 0.1.0
 */
export const purge = (options: MessageStoreOptions = {}): Effect.Effect<void, Store.StoreUnavailable, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const prefix = tablePrefix(options)
    const now = yield* Clock.currentTimeMillis
    const retention = Duration.toMillis(options.retention ?? "7 days")
    const exists = (table: string) =>
      Effect.map(sql<{ readonly t: string | null }>`SELECT to_regclass(${table})::text AS t`, (rows) => rows[0]?.t != null)
    const when = (table: string, statement: Effect.Effect<unknown, SqlError>) =>
      Effect.flatMap(exists(table), (found) => (found ? Effect.asVoid(statement) : Effect.void))
    yield* when(`${prefix}messages`, sql`DELETE FROM ${sql(`${prefix}messages`)} WHERE created_at < ${now - retention}`)
    yield* when(`${prefix}held_reports`, sql`DELETE FROM ${sql(`${prefix}held_reports`)} WHERE expires_at <= ${now}`)
    yield* when(`${prefix}idempotency`, sql`DELETE FROM ${sql(`${prefix}idempotency`)} WHERE expires_at <= ${now}`)
    yield* when(`${prefix}verifications`, sql`DELETE FROM ${sql(`${prefix}verifications`)} WHERE expires_at <= ${now}`)
    yield* when(`${prefix}rate_limits`, sql`DELETE FROM ${sql(`${prefix}rate_limits`)} WHERE expires_at <= ${now}`)
    yield* when(`${prefix}consent_sends`, sql`DELETE FROM ${sql(`${prefix}consent_sends`)} WHERE at <= ${now - SEND_HISTORY}`)
  }).pipe(Store.guard("purge", "purge", Duration.minutes(5)))

/**
 * Runs {@link purge} every `every` for the life of the layer; failures are
 * logged and retried at the next round.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerPurge = (
  options: MessageStoreOptions & { readonly every?: Duration.Input | undefined } = {}
): Layer.Layer<never, never, SqlClient.SqlClient> =>
  Layer.effectDiscard(
    purge(options).pipe(
      Effect.catchCause((cause) => Effect.logWarning("smsforge: PostgreSQL purge failed", cause)),
      Effect.repeat(Schedule.spaced(options.every ?? "1 hour")),
      Effect.delay(options.every ?? "1 hour"),
      Effect.forkScoped,
      Effect.asVoid
    )
  )

// all of them

/**
 * Every store of `Sms.Stores` on one database: idempotency, messages,
 * verifications, consent, templates and the rate limiter, the durable
 * Outbox ({@link layerOutbox}), plus an hourly {@link purge}. Provide it to
 * `Sms.layerPipeline(config)`.
 *
 * **Details**
 * - Every table is created when the layer is built (`CREATE TABLE IF NOT
 *   EXISTS` under an advisory lock, and the Outbox's own migrations), so a
 *   fleet can start together against an empty database.
 * - A send's message, Outbox job and idempotency key are written by one
 *   statement (the message store's `accept`), so replace these stores
 *   together, not one of the three alone.
 * - The `RateLimiterStore` is provided as well, so the Router's per-route
 *   limits are shared. Circuit breakers stay per instance: effect has no SQL
 *   `CircuitBreakerStore` (use `CircuitBreaker.layerStoreRedis` for shared
 *   circuits).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: LayerOptions = {}
): Layer.Layer<
  | Idempotency.IdempotencyStore
  | MessageStore.MessageStore
  | Verification.VerificationStore
  | Consent.ConsentStore
  | Templates.TemplateStore
  | RateLimiter.RateLimiter
  | RateLimiter.RateLimiterStore
  | Outbox.Outbox,
  Store.StoreUnavailable,
  SqlClient.SqlClient
> => {
  const store = { tablePrefix: options.tablePrefix, timeout: options.timeout }
  const purging = options.purgeEvery === false
    ? Layer.empty
    : layerPurge({ ...options.messages, ...store, every: options.purgeEvery })
  return Layer.mergeAll(
    layerIdempotency(store),
    Layer.effect(
      MessageStore.MessageStore,
      messagesStore({ ...options.messages, ...store }, {
        queue: options.outbox?.name ?? Outbox.defaultName,
        recoverAfter: Duration.fromInputUnsafe(options.outbox?.recoverAfter ?? Outbox.defaultRecoverAfter)
      })
    ),
    layerVerifications(store),
    layerConsent(store),
    layerTemplates(store),
    layerRateLimiter(store),
    layerOutbox({ ...options.outbox, ...store }),
    purging
  )
}
