/**
 * What the console shows, kept up to date from the library's Events bus:
 * the inbox per recipient, the report aggregates and the verifications, plus
 * a feed of changes for the page's server-sent events.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import { createHash, randomBytes } from "node:crypto"
import { Encoding, Events, type MessageStore, Sms, Verification } from "smsforge"
import * as Aggregates from "./Aggregates.ts"

// models

/**
 * One message as the inbox shows it.
 *
 * @category models
 * @since 0.2.0
 */
export interface InboxEntry {
  readonly id: string
  /** Opaque key of the recipient (the number itself only when numbers are shown). */
  readonly recipient: string
  /** The number, masked unless the console is configured to show numbers. */
  readonly to: string
  readonly country: string
  readonly status: MessageStore.MessageStatus
  readonly text: string
  /** The text carried a one-time code that the store does not keep. */
  readonly withheld: boolean
  /** The 【brand】 signature or leading `[brand]`, when present. */
  readonly brand?: string | undefined
  /** The one-time code in the text, when there is one. */
  readonly code?: string | undefined
  readonly encoding: string
  readonly segments: ReadonlyArray<string>
  readonly unitsPerSegment: number
  readonly nonGsmCharacters: ReadonlyArray<string>
  readonly template?: string | undefined
  readonly route?: string | undefined
  readonly history: ReadonlyArray<MessageStore.StatusChange>
  readonly decisions: ReadonlyArray<{ readonly route: string; readonly reason: string; readonly outcome?: string | undefined; readonly attempts: number }>
  readonly createdAt: number
}

/**
 * A verification as the console shows it (no code, ever).
 *
 * @category models
 * @since 0.2.0
 */
export interface VerificationRow {
  readonly verificationId: string
  readonly to: string
  readonly country: string
  readonly status: string
  readonly channel: string
  readonly sendAttempts: number
  readonly wrongChecks: number
  readonly locked: boolean
  readonly at: number
}

/**
 * @category models
 * @since 0.2.0
 */
export interface VerificationsView {
  readonly counts: Readonly<Record<string, number>>
  readonly recent: ReadonlyArray<VerificationRow>
  readonly blocks: ReadonlyArray<{ readonly scope: string; readonly reason: string; readonly subject?: string | undefined; readonly at: number }>
}

/**
 * A change pushed to the page.
 *
 * @category models
 * @since 0.2.0
 */
export type Change =
  | { readonly kind: "message"; readonly entry: InboxEntry }
  | { readonly kind: "verification"; readonly row: VerificationRow }
  | { readonly kind: "blocked"; readonly reason: string }

/**
 * @category models
 * @since 0.2.0
 */
export interface LiveOptions {
  /** Show whole phone numbers. Default `false`: `+44•••••••23`. */
  readonly showNumbers?: boolean | undefined
  /**
   * The text a carrier was handed, for messages whose stored text is withheld
   * (one-time codes). The dev server answers it from its Sandbox carriers;
   * leave it out in production, and codes stay withheld in the console too.
   */
  readonly reveal?: ((messageId: string) => string | undefined) | undefined
  /** IANA zone whose midnights end the days of the spend report; default `"UTC"`. */
  readonly timeZone?: string | undefined
  /** Price per segment by route and country (`"*"`: any other), for the cost column. */
  readonly prices?: Readonly<Record<string, Readonly<Record<string, number>>>> | undefined
  /** Tenants whose verifications the console may read (the API keys' tenants are added). */
  readonly tenants?: ReadonlyArray<string> | undefined
  readonly recipients?: number | undefined
  readonly perRecipient?: number | undefined
}

// text helpers

const BRAND = /【([^】\n]{1,40})】|^\[([^\]\n]{1,40})\]/u
const CODE = /(?<![\p{L}\p{N}])(\d{4,8})(?![\p{L}\p{N}])/u

/**
 * The brand signature and the code in a text.
 *
 * @category utils
 * @since 0.2.0
 */
export const pick = (text: string): { readonly brand?: string; readonly code?: string } => {
  const brand = BRAND.exec(text)
  const code = CODE.exec(text)
  return {
    ...(brand === null ? {} : { brand: (brand[1] ?? brand[2])! }),
    ...(code === null ? {} : { code: code[1]! })
  }
}

/**
 * A phone number with its middle hidden: country code and the last two digits.
 *
 * @category utils
 * @since 0.2.0
 */
export const mask = (e164: string): string => {
  if (e164.length < 6) return "•".repeat(e164.length)
  const head = e164.startsWith("+1") || e164.startsWith("+7") ? 2 : 3
  return e164.slice(0, head) + "•".repeat(Math.max(1, e164.length - head - 2)) + e164.slice(-2)
}

// service

/**
 * The console's live state.
 *
 * @category services
 * @since 0.2.0
 */
export class Live extends Context.Service<Live, {
  readonly inbox: (recipient?: string) => {
    readonly recipients: ReadonlyArray<{ readonly recipient: string; readonly to: string; readonly count: number; readonly last: number }>
    readonly messages: ReadonlyArray<InboxEntry>
  }
  readonly report: () => Aggregates.Report
  readonly verifications: () => VerificationsView
  readonly changes: PubSub.PubSub<Change>
  /** Folds events already read, for tests and for a host that replays history. */
  readonly aggregates: Aggregates.Aggregates
}>()("smsforge/console/Live") {}

type Folder = (event: Events.SmsEvent) => Effect.Effect<void>

interface Inbox {
  readonly byRecipient: Map<string, Array<InboxEntry>>
}

// Each route's price per segment for one country.
const pricesFor = (prices: LiveOptions["prices"], country: string): Readonly<Record<string, number>> | undefined => {
  if (prices === undefined) return undefined
  const out: Record<string, number> = {}
  for (const [route, table] of Object.entries(prices)) {
    const price = table[country] ?? table["*"]
    if (price !== undefined) out[route] = price
  }
  return out
}

const makeEntry = (message: MessageStore.StoredMessage, recipient: string, shown: string, revealed: string | undefined): InboxEntry => {
  const text = message.withheld === true && revealed !== undefined ? revealed : message.text
  const withheld = message.withheld === true && revealed === undefined
  const analysis = Encoding.analyze(withheld ? "" : text)
  const picked = withheld ? {} : pick(text)
  return {
    id: message.id,
    recipient,
    to: shown,
    country: message.country,
    status: message.status,
    text,
    withheld,
    ...picked,
    encoding: message.encoding,
    segments: withheld ? [] : analysis.segments,
    unitsPerSegment: analysis.unitsPerSegment,
    nonGsmCharacters: withheld ? [] : analysis.nonGsmCharacters,
    template: message.template === undefined ? undefined : `${message.template.id}@${message.template.locale}`,
    route: message.route,
    history: message.history,
    decisions: message.decisions.map((d) => ({ route: d.route, reason: d.reason, outcome: d.outcome, attempts: d.attempts })),
    createdAt: message.createdAt
  }
}

const upsert = (inbox: Inbox, entry: InboxEntry, limits: { readonly recipients: number; readonly perRecipient: number }) => {
  const list = inbox.byRecipient.get(entry.recipient) ?? []
  const at = list.findIndex((e) => e.id === entry.id)
  if (at >= 0) list[at] = entry
  else list.unshift(entry)
  if (list.length > limits.perRecipient) list.length = limits.perRecipient
  // Re-inserting moves the recipient to the end: the map is ordered by activity.
  inbox.byRecipient.delete(entry.recipient)
  inbox.byRecipient.set(entry.recipient, list)
  if (inbox.byRecipient.size > limits.recipients) {
    const oldest = inbox.byRecipient.keys().next().value
    if (oldest !== undefined) inbox.byRecipient.delete(oldest)
  }
}

const statusFolder = (
  options: LiveOptions,
  aggregates: Aggregates.Aggregates,
  inbox: Inbox,
  changes: PubSub.PubSub<Change>,
  sms: Sms.Sms["Service"]
): ((event: Events.StatusChanged) => Effect.Effect<void>) => {
  const salt = randomBytes(16)
  const keyOf = (e164: string) =>
    options.showNumbers === true ? e164 : "r_" + createHash("sha256").update(salt).update(e164).digest("base64url").slice(0, 12)
  const limits = { recipients: options.recipients ?? 500, perRecipient: options.perRecipient ?? 50 }
  return (event) =>
    Effect.flatMap(Effect.option(sms.get(event.messageId)), (found) => {
      const message = Option.getOrUndefined(found)
      aggregates.observe(event, () =>
        message === undefined ? undefined : {
          country: message.country,
          segments: message.segmentCount,
          // One-time codes have no template of the caller's; they are a kind of their own in the reports.
          template: message.template?.id ?? (message.withheld === true ? "(verification code)" : undefined),
          tenant: message.tenant,
          prices: pricesFor(options.prices, message.country)
        })
      if (message === undefined) return Effect.void
      const shown = options.showNumbers === true ? message.to : mask(message.to)
      const entry = makeEntry(message, keyOf(message.to), shown, message.withheld === true ? options.reveal?.(message.id) : undefined)
      upsert(inbox, entry, limits)
      return Effect.asVoid(PubSub.publish(changes, { kind: "message", entry }))
    })
}

// The event names no tenant while `get` is scoped by tenant, so the record is
// looked up under no tenant and then each tenant the console knows; without
// it the row carries what the event says.
const lookup = (
  verification: Verification.Verification["Service"],
  verificationId: string,
  tenants: ReadonlyArray<string | undefined>
): Effect.Effect<Option.Option<Verification.VerificationInfo>> =>
  Effect.gen(function*() {
    for (const tenant of tenants) {
      const found = yield* Effect.option(verification.get(tenant === undefined ? { verificationId } : { verificationId, tenant }))
      if (Option.isSome(found)) return found
    }
    return Option.none()
  })

const verificationFolder = (
  options: LiveOptions,
  state: { counts: Map<string, number>; recent: Map<string, VerificationRow> },
  changes: PubSub.PubSub<Change>,
  verification: Option.Option<Verification.Verification["Service"]>
) =>
(event: Events.VerificationChanged): Effect.Effect<void> => {
  state.counts.set(event.status, (state.counts.get(event.status) ?? 0) + 1)
  const tenants = [undefined, ...(options.tenants ?? [])]
  const found = Option.isNone(verification) ? Effect.succeed(Option.none()) : lookup(verification.value, event.verificationId, tenants)
  return Effect.flatMap(found, (info) => {
    const previous = state.recent.get(event.verificationId)
    const row: VerificationRow = Option.match(info, {
      onNone: () => ({
        verificationId: event.verificationId,
        to: previous?.to ?? "",
        country: event.country ?? previous?.country ?? "",
        status: event.status,
        channel: event.channel ?? previous?.channel ?? "sms",
        sendAttempts: previous?.sendAttempts ?? 0,
        wrongChecks: previous?.wrongChecks ?? 0,
        locked: event.status === "locked",
        at: event.at
      }),
      onSome: (v) => ({
        verificationId: v.verificationId,
        to: options.showNumbers === true ? v.to : mask(v.to),
        country: v.country,
        status: v.locked ? "locked" : v.status,
        channel: v.deliveredChannel ?? v.channel,
        sendAttempts: v.sendAttempts,
        wrongChecks: v.wrongChecks,
        locked: v.locked,
        at: event.at
      })
    })
    state.recent.delete(row.verificationId)
    state.recent.set(row.verificationId, row)
    if (state.recent.size > 200) {
      const oldest = state.recent.keys().next().value
      if (oldest !== undefined) state.recent.delete(oldest)
    }
    return Effect.asVoid(PubSub.publish(changes, { kind: "verification", row }))
  })
}

/**
 * Subscribes to the Events bus and keeps the console's state; lives as long
 * as the scope.
 *
 * @category constructors
 * @since 0.2.0
 */
export const make = Effect.fnUntraced(function*(options: LiveOptions = {}) {
  const events = yield* Events.Events
  const sms = yield* Sms.Sms
  const verification = yield* Effect.serviceOption(Verification.Verification)
  const changes = yield* PubSub.sliding<Change>(1_024)
  const aggregates = Aggregates.make({ timeZone: options.timeZone })
  const inbox: Inbox = { byRecipient: new Map() }
  const verifications = { counts: new Map<string, number>(), recent: new Map<string, VerificationRow>() }
  const blocks: Array<VerificationsView["blocks"][number]> = []
  const onStatus = statusFolder(options, aggregates, inbox, changes, sms)
  const onVerification = verificationFolder(options, verifications, changes, verification)
  const fold: Folder = (event) => {
    switch (event._tag) {
      case "StatusChanged":
        return onStatus(event)
      case "VerificationChanged":
        return onVerification(event)
      case "Blocked":
        blocks.unshift({ scope: event.scope, reason: event.reason, subject: event.subject, at: event.at })
        if (blocks.length > 100) blocks.length = 100
        return Effect.asVoid(PubSub.publish(changes, { kind: "blocked", reason: event.reason }))
      default:
        return Effect.void
    }
  }
  const subscription = yield* events.subscribe
  // One event the console cannot show must not stop it showing the next ones.
  const foldSafely = (event: Events.SmsEvent) => Effect.catchCause(fold(event), () => Effect.void)
  yield* Effect.forkScoped(Effect.forever(Effect.flatMap(PubSub.take(subscription), foldSafely)))

  return Live.of({
    inbox: (recipient) => {
      const recipients = Array.from(inbox.byRecipient, ([key, list]) => ({
        recipient: key,
        to: list[0]?.to ?? "",
        count: list.length,
        last: list[0]?.createdAt ?? 0
      })).reverse()
      const chosen = recipient ?? recipients[0]?.recipient
      return { recipients, messages: chosen === undefined ? [] : inbox.byRecipient.get(chosen) ?? [] }
    },
    report: aggregates.report,
    verifications: () => ({
      counts: Object.fromEntries(verifications.counts),
      recent: Array.from(verifications.recent.values()).reverse(),
      blocks: blocks.slice()
    }),
    changes,
    aggregates
  })
})

/**
 * @category layers
 * @since 0.2.0
 */
export const layer = (options: LiveOptions = {}): Layer.Layer<Live, never, Events.Events | Sms.Sms> =>
  Layer.effect(Live, make(options))
