/**
 * Personal-data requests (GDPR articles 15 and 17) for one phone number:
 * export what the pipeline holds about it as JSON, and erase what the stores
 * let us erase, saying plainly what stays.
 *
 * **Details**
 * - Export reads the messages sent to the number, its consent record (with
 *   the evidence), its latest verification (never a code), the audit
 *   entries about it and the order notices' progress.
 * - Erase removes the personal block of every audit entry about the number
 *   (as `Audit.purge` does by age: the chain still verifies) when the
 *   `AuditStore` is in context, the order progress records, and cancels a
 *   pending verification.
 * - What the stores offer no way to erase yet is listed in the answer's
 *   `retained`, with the store method that is missing, so a controller can
 *   answer the request truthfully.
 *
 * **Gotchas**
 * - Audit entries keep numbers as keyed hashes; give the same `auditHashKey`
 *   as the `Audit` layer's `hashKey`, or entries are found only through the
 *   number's message ids.
 * - Messages are found by scanning every status (`MessageStore.list`), as the
 *   store has no index by recipient: fine for a request now and then, not
 *   for a hot path.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { createHmac } from "node:crypto"
import { Audit, Consent, MessageStore, PhoneNumbers, Verification } from "smsforge"
import { digest, OrderProgressStore, type Progress } from "./OrderProgress.ts"
import type { Secret } from "./Signatures.ts"

// models

/**
 * @category models
 * @since 0.3.0
 */
export interface PersonalDataOptions {
  /** The `Audit` layer's `hashKey`, to find entries that hold the number hashed. */
  readonly auditHashKey?: Secret | undefined
  readonly tenant?: string | undefined
  /** How many messages per status are read at most; 100,000 by default. */
  readonly scanLimit?: number | undefined
}

/**
 * Everything held about one number, JSON-serialisable.
 *
 * @category models
 * @since 0.3.0
 */
export interface SubjectExport {
  readonly subject: string
  readonly exportedAt: string
  readonly messages: ReadonlyArray<MessageStore.StoredMessage>
  readonly consent: Consent.ConsentRecord | null
  readonly verifications: ReadonlyArray<Verification.VerificationInfo>
  readonly audit: ReadonlyArray<Audit.AuditEntry>
  readonly orders: ReadonlyArray<Progress>
}

/**
 * What an erasure did and what it could not do.
 *
 * @category models
 * @since 0.3.0
 */
export interface ErasureReport {
  readonly auditEntriesPurged: number
  readonly orderRecordsErased: number
  readonly verificationCanceled: boolean
  /** The audit chain verifies after the purge. */
  readonly auditChainValid: boolean
  /** Data kept because its store has no erase method yet: what, and the method missing. */
  readonly retained: ReadonlyArray<{ readonly data: "messages" | "consent" | "verifications" | "audit"; readonly count: number; readonly missing: string }>
}

// errors

/**
 * The request cannot be carried out; `field` names what is wrong, `tag` the
 * store's reason.
 *
 * @category errors
 * @since 0.3.0
 */
export class PersonalDataError extends Schema.TaggedError<PersonalDataError>("smsforge/commerce/PersonalDataError")(
  "PersonalDataError",
  { field: Schema.String, tag: Schema.String }
) {}

type Requirements =
  | MessageStore.MessageStore
  | Consent.Consent
  | Verification.Verification
  | Audit.Audit
  | OrderProgressStore

const STATUSES: ReadonlyArray<MessageStore.MessageStatus> = [
  "accepted", "queued", "submitted", "delivered", "failed", "undelivered", "expired", "rejected", "canceled"
]

const toSubject = (to: string) => {
  const parsed = PhoneNumbers.parse(to, { field: "to" })
  return Result.isSuccess(parsed)
    ? Effect.succeed(parsed.success.e164 as string)
    : Effect.fail(new PersonalDataError({ field: "to", tag: "InvalidPhoneNumber" }))
}

const storeFailed = (field: string) => (error: { readonly _tag: string }) => new PersonalDataError({ field, tag: error._tag })

const messagesOf = (e164: string, options: PersonalDataOptions) =>
  Effect.gen(function*() {
    const store = yield* MessageStore.MessageStore
    const found: Array<MessageStore.StoredMessage> = []
    for (const status of STATUSES) {
      const page = yield* store.list({ status, limit: options.scanLimit ?? 100_000 }).pipe(Effect.mapError(storeFailed("messages")))
      for (const message of page) if (message.to === e164 && message.tenant === options.tenant) found.push(message)
    }
    return found
  })

const auditOf = (e164: string, messageIds: ReadonlySet<string>, options: PersonalDataOptions) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    const key = options.auditHashKey === undefined ? undefined : typeof options.auditHashKey === "string" ? options.auditHashKey : Redacted.value(options.auditHashKey)
    // The Audit layer's keyed-hash form of a number.
    const hashed = key === undefined ? undefined : `hmac:${createHmac("sha256", key).update(e164, "utf8").digest("hex").slice(0, 32)}`
    const about = (value: string | undefined) => value !== undefined && (value === e164 || value === hashed)
    const entries = yield* audit.entries()
    return entries.filter((entry) =>
      (entry.messageId !== undefined && messageIds.has(entry.messageId)) ||
      about(entry.sensitive?.to) ||
      about(entry.sensitive?.from)
    )
  })

const verificationsOf = (e164: string, options: PersonalDataOptions) =>
  Effect.gen(function*() {
    const verification = yield* Verification.Verification
    const info = yield* verification.get({ to: e164, ...(options.tenant === undefined ? {} : { tenant: options.tenant }) }).pipe(
      Effect.map(Option.some),
      Effect.catch((error) =>
        error.reason._tag === "VerificationNotFound" ? Effect.succeed(Option.none()) : Effect.fail(storeFailed("verifications")(error.reason))
      )
    )
    return Option.toArray(info)
  })

/**
 * Everything held about a number, as JSON-ready data.
 *
 * @category requests
 * @since 0.3.0
 */
export const exportSubject = (to: string, options: PersonalDataOptions = {}): Effect.Effect<SubjectExport, PersonalDataError, Requirements> =>
  Effect.gen(function*() {
    const e164 = yield* toSubject(to)
    const messages = yield* messagesOf(e164, options)
    const consent = yield* Consent.Consent.use((c) => c.get(e164, options.tenant))
    const verifications = yield* verificationsOf(e164, options)
    const audit = yield* auditOf(e164, new Set(messages.map((m) => m.id)), options)
    const orders = yield* OrderProgressStore.use((s) => s.findSubject(digest(e164))).pipe(
      Effect.mapError(storeFailed("orders"))
    )
    const now = yield* Clock.currentTimeMillis
    return {
      subject: e164,
      exportedAt: new Date(now).toISOString(),
      messages,
      consent: Option.getOrNull(consent),
      verifications,
      audit,
      orders
    }
  }).pipe(Effect.withSpan("smsforge/commerce/PersonalData.export"))

/**
 * Erases what the stores allow and reports what stays.
 *
 * @category requests
 * @since 0.3.0
 */
export const eraseSubject = (to: string, options: PersonalDataOptions = {}): Effect.Effect<ErasureReport, PersonalDataError, Requirements> =>
  Effect.gen(function*() {
    const found = yield* exportSubject(to, options)
    const now = yield* Clock.currentTimeMillis
    const auditStore = yield* Effect.serviceOption(Audit.AuditStore)
    const personal = found.audit.filter((entry) => entry.sensitive !== undefined)
    let purged = 0
    if (Option.isSome(auditStore)) {
      for (const entry of personal) {
        // The chain hashes the block's digest, not the block: dropping it keeps every link valid.
        const { sensitive: _dropped, ...rest } = entry
        yield* auditStore.value.replace({ ...rest, purgedAt: now })
        purged++
      }
    }
    const orders = yield* OrderProgressStore.use((s) => s.eraseSubject(digest(found.subject))).pipe(
      Effect.mapError(storeFailed("orders"))
    )
    const verification = yield* Verification.Verification
    const pending = found.verifications.filter((v) => v.status === "pending")
    for (const v of pending) yield* verification.cancel({ verificationId: v.verificationId }).pipe(Effect.ignore)
    const chain = yield* Audit.Audit.use((a) => a.verify)
    const retained: Array<ErasureReport["retained"][number]> = []
    if (found.messages.length > 0) retained.push({ data: "messages", count: found.messages.length, missing: "MessageStore.eraseRecipient" })
    if (found.consent !== null) retained.push({ data: "consent", count: 1, missing: "ConsentStore.remove" })
    if (purged < personal.length) retained.push({ data: "audit", count: personal.length - purged, missing: "Audit.purgeSubject (or the AuditStore in context)" })
    if (found.verifications.length > 0) retained.push({ data: "verifications", count: found.verifications.length, missing: "VerificationStore.eraseRecipient" })
    return {
      auditEntriesPurged: purged,
      orderRecordsErased: orders,
      verificationCanceled: pending.length > 0,
      auditChainValid: chain.valid,
      retained
    }
  }).pipe(Effect.withSpan("smsforge/commerce/PersonalData.erase"))
