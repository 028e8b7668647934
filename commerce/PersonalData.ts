/**
 * Personal-data requests (GDPR articles 15 and 17) for one phone number:
 * export what the pipeline holds about it as JSON, and erase what the stores
 * let us erase, saying plainly what stays.
 *
 * **Details**
 * - Export reads the messages sent to the number (`MessageStore.findByRecipient`),
 *   its consent record (with the evidence), every verification still kept
 *   (`VerificationStore.findByRecipient`; never a code), the audit entries
 *   about it and the order notices' progress.
 * - Erase deletes the number's messages with their carrier ids
 *   (`MessageStore.eraseRecipient`), its consent record and send times
 *   (`ConsentStore.remove`), every verification of it
 *   (`VerificationStore.eraseRecipient`), the personal block of every audit
 *   entry about it (`Audit.purgeSubject`: the chain still verifies) and the
 *   order progress records, on whichever backend the stores run.
 * - What stays is listed in the answer's `retained`, each with the reason
 *   the law allows it: an opt-out kept as a suppression record (unless
 *   `keepOptOut: false`), and the non-personal skeleton of purged audit
 *   entries.
 *
 * **Gotchas**
 * - Audit entries keep numbers as keyed hashes; give export the same
 *   `auditHashKey` as the `Audit` layer's `hashKey`, or entries are found
 *   only through the number's message ids. Erase uses the layer's own key.
 * - The audit log is not split by tenant: erase purges the number's blocks
 *   in every tenant.
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
  /**
   * Keep a suppression record when the number opted out (the revoked
   * purposes and when, nothing else), so it is never texted again. On by
   * default.
   */
  readonly keepOptOut?: boolean | undefined
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
  readonly messagesErased: number
  readonly consentRemoved: boolean
  readonly verificationsErased: number
  readonly auditEntriesPurged: number
  readonly orderRecordsErased: number
  /** The audit chain verifies after the purge. */
  readonly auditChainValid: boolean
  /** What stays, how much, and why the law allows keeping it. */
  readonly retained: ReadonlyArray<RetainedData>
}

/**
 * Data an erasure keeps, and why.
 *
 * @category models
 * @since 0.4.0
 */
export interface RetainedData {
  readonly data: "consent" | "audit"
  readonly count: number
  readonly basis: string
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
  | Consent.ConsentStore
  | Verification.Verification
  | Verification.VerificationStore
  | Audit.Audit
  | OrderProgressStore

// What Consent uses when a request names no tenant.
const DEFAULT_TENANT = "default"

const toSubject = (to: string) => {
  const parsed = PhoneNumbers.parse(to, { field: "to" })
  return Result.isSuccess(parsed)
    ? Effect.succeed(parsed.success.e164 as string)
    : Effect.fail(new PersonalDataError({ field: "to", tag: "InvalidPhoneNumber" }))
}

const storeFailed = (field: string) => (error: { readonly _tag: string }) => new PersonalDataError({ field, tag: error._tag })

const messagesOf = (e164: string, options: PersonalDataOptions) =>
  MessageStore.MessageStore.use((store) => store.findByRecipient(e164, options.tenant)).pipe(
    Effect.mapError(storeFailed("messages"))
  )

const consentOf = (e164: string, options: PersonalDataOptions) =>
  Consent.ConsentStore.use((store) => store.get(options.tenant ?? DEFAULT_TENANT, e164)).pipe(
    Effect.map(Option.getOrNull),
    Effect.mapError(storeFailed("consent"))
  )

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

/** Every verification the store holds, read through the service so that no code, hash or nonce leaves it. */
const verificationsOf = (e164: string, options: PersonalDataOptions) =>
  Effect.gen(function*() {
    const records = yield* Verification.VerificationStore.use((s) => s.findByRecipient(e164, options.tenant)).pipe(
      Effect.mapError(storeFailed("verifications"))
    )
    const verification = yield* Verification.Verification
    const tenant = options.tenant === undefined ? {} : { tenant: options.tenant }
    const found = yield* Effect.forEach(records, (record) =>
      verification.get({ verificationId: record.id, ...tenant }).pipe(
        Effect.map(Option.some),
        // Expired between the two reads: nothing left to export.
        Effect.catch((error) =>
          error.reason._tag === "VerificationNotFound" ? Effect.succeed(Option.none()) : Effect.fail(storeFailed("verifications")(error.reason))
        )
      ))
    return found.flatMap(Option.toArray)
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
    const consent = yield* consentOf(e164, options)
    const verifications = yield* verificationsOf(e164, options)
    const audit = yield* auditOf(e164, new Set(messages.map((m) => m.id)), options)
    const orders = yield* OrderProgressStore.use((s) => s.findSubject(digest(e164))).pipe(
      Effect.mapError(storeFailed("orders"))
    )
    const now = yield* Clock.currentTimeMillis
    return { subject: e164, exportedAt: new Date(now).toISOString(), messages, consent, verifications, audit, orders }
  }).pipe(Effect.withSpan("smsforge/commerce/PersonalData.export"))

/**
 * The opt-outs of a record and nothing else: which purposes, when, and the
 * kind of source. No evidence text, origin, pending consent or time zone.
 */
const suppressionOf = (record: Consent.ConsentRecord): Consent.ConsentRecord | undefined => {
  const purposes: Record<string, Consent.PurposeState> = {}
  for (const [key, state] of Object.entries(record.purposes)) {
    if (state?.status === "revoked") purposes[key] = { status: "revoked", at: state.at, seq: state.seq, evidence: { source: state.evidence.source } }
  }
  return Object.keys(purposes).length === 0
    ? undefined
    : { to: record.to, tenant: record.tenant, seq: record.seq + 1, purposes, pending: {} }
}

/** Deletes the consent record and send times; writes the suppression record back when asked to keep opt-outs. */
const eraseConsent = (e164: string, options: PersonalDataOptions) =>
  Effect.gen(function*() {
    const store = yield* Consent.ConsentStore
    const tenant = options.tenant ?? DEFAULT_TENANT
    const current = Option.getOrUndefined(yield* store.get(tenant, e164))
    const removed = yield* store.remove(e164, tenant)
    const kept = current === undefined || options.keepOptOut === false ? undefined : suppressionOf(current)
    if (kept !== undefined) yield* store.put(kept)
    return { removed, kept }
  }).pipe(Effect.mapError(storeFailed("consent")))

const SUPPRESSION_BASIS =
  "An opt-out is kept as a suppression record (the number, the purposes refused and when) so that no message " +
  "goes to the number again: UK GDPR art. 17(3)(b) and 21(3) with PECR reg. 22, as the ICO's direct-marketing guidance advises."
const AUDIT_BASIS =
  "The purged entries' skeleton (kind, time, status, message id, the digest of the deleted block) stays so the audit " +
  "chain verifies; it names no one once the block and the number's messages are gone (art. 5(2) accountability)."

/**
 * Erases the number from every store (messages, consent, verifications,
 * audit blocks, order progress) and reports what it did and what the law
 * lets it keep.
 *
 * @category requests
 * @since 0.3.0
 */
export const eraseSubject = (to: string, options: PersonalDataOptions = {}): Effect.Effect<ErasureReport, PersonalDataError, Requirements> =>
  Effect.gen(function*() {
    const e164 = yield* toSubject(to)
    const messagesErased = yield* MessageStore.MessageStore.use((s) => s.eraseRecipient(e164, options.tenant)).pipe(
      Effect.mapError(storeFailed("messages"))
    )
    const consent = yield* eraseConsent(e164, options)
    const verificationsErased = yield* Verification.VerificationStore.use((s) => s.eraseRecipient(e164, options.tenant)).pipe(
      Effect.mapError(storeFailed("verifications"))
    )
    const orderRecordsErased = yield* OrderProgressStore.use((s) => s.eraseSubject(digest(e164))).pipe(
      Effect.mapError(storeFailed("orders"))
    )
    // Last: a send still in flight above may have appended an entry about the number.
    const audit = yield* Audit.Audit
    const { purged } = yield* audit.purgeSubject(e164).pipe(Effect.mapError(storeFailed("audit")))
    const chain = yield* audit.verify
    const retained: Array<RetainedData> = []
    if (consent.kept !== undefined) retained.push({ data: "consent", count: 1, basis: SUPPRESSION_BASIS })
    if (purged > 0) retained.push({ data: "audit", count: purged, basis: AUDIT_BASIS })
    return {
      messagesErased,
      consentRemoved: consent.removed,
      verificationsErased,
      auditEntriesPurged: purged,
      orderRecordsErased,
      auditChainValid: chain.valid,
      retained
    }
  }).pipe(Effect.withSpan("smsforge/commerce/PersonalData.erase"))
