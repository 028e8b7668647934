/**
 * Replies from people (MO messages): concatenated parts reassembled,
 * STOP / START / HELP keywords matched in many languages, consent updated,
 * and the automatic answer prepared.
 *
 * **Details**
 * - {@link Inbound} `handle` normalises the sender (PhoneNumbers), waits for
 *   every part of a concatenated message, matches the whole text against the
 *   keyword sets of the sender's country and the default set, applies the
 *   consent change and answers the reply to send.
 * - Matching ignores case, whitespace, full-width forms and surrounding
 *   punctuation (`" stop! "`, `"Opt Out"`, `"ＳＴＯＰ"`); only a message that
 *   is the keyword counts, so "please don't stop" is a conversation.
 * - STOP-type keywords revoke `marketing` (or `all`, with
 *   `stopScope: "all"`); STOPALL always revokes `all`. START, UNSTOP, YES
 *   confirm a pending double opt-in when there is one, and otherwise undo an
 *   earlier opt-out (they grant marketing to someone who never had it only
 *   with `keywordOptIn`); Y-type words only confirm.
 * - The reply is a transactional message flagged `bypassConsent: true`: the
 *   confirmation of an opt-out must reach the person who just opted out, and
 *   the pipeline honours the flag for this message only.
 * - The pipeline (`Sms`) publishes every inbound message as an
 *   `InboundReceived` event; this module does not, so nothing is published
 *   twice.
 *
 * **Gotchas**
 * - Replies are off for the numbers listed in `transactionalOnlySenders`,
 *   but their STOP keywords still opt people out.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Audit from "./Audit.ts"
import * as Consent from "./Consent.ts"
import * as keywords from "./internal/inbound/keywords.ts"
import type { KeywordMatch, KeywordSet } from "./internal/inbound/keywords.ts"
import * as PhoneNumbers from "./PhoneNumbers.ts"
import { InvalidRequest } from "./SendRequest.ts"
import { StoreUnavailable } from "./Store.ts"
import type * as Transport from "./Transport.ts"

// models

/**
 * Keyword actions, sets and matches (declared beside the keyword lists).
 *
 * @category models
 * @since 0.1.0
 */
export type { KeywordAction, KeywordMatch, KeywordSet } from "./internal/inbound/keywords.ts"

/**
 * What {@link Inbound} `handle` did with a message.
 *
 * @category models
 * @since 0.1.0
 */
export type InboundAction = "opt-out" | "opt-in" | "help" | "confirm" | "none"

/**
 * The automatic answer, ready for the pipeline: transactional, and flagged
 * to pass the consent check (an opt-out confirmation goes to someone who
 * just opted out).
 *
 * @category models
 * @since 0.1.0
 */
export interface ReplyMessage {
  readonly to: string
  /** Our number the person wrote to. */
  readonly from: string
  readonly text: string
  readonly purpose: "transactional"
  readonly bypassConsent: true
  readonly tenant?: string | undefined
}

/**
 * The outcome of {@link Inbound} `handle`.
 *
 * @category models
 * @since 0.1.0
 */
export interface InboundResult {
  readonly action: InboundAction
  /** The message, reassembled, with `from` in E.164 when it could be normalised. */
  readonly message: Transport.InboundMessage
  /** `false` while other parts of a concatenated message are awaited. */
  readonly complete: boolean
  readonly keyword?: KeywordMatch | undefined
  /** For opt-outs: what was revoked. */
  readonly scope?: Consent.Scope | undefined
  /** For confirmations: the purposes confirmed. */
  readonly confirmed?: ReadonlyArray<string> | undefined
  /** The reply text, when one is to be sent. */
  readonly reply?: string | undefined
  readonly replyMessage?: ReplyMessage | undefined
}

/**
 * Reply texts by action, either one text or texts by locale (`"en"`, `"fr"` …,
 * falling back to `"en"`). `{brand}` is replaced by the `brand` option.
 *
 * @category models
 * @since 0.1.0
 */
export type ReplyTexts = {
  readonly [action in "opt-out" | "opt-out-all" | "opt-in" | "help" | "confirm"]?:
    | string
    | { readonly [locale: string]: string }
    | false
}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @category models
 * @since 0.1.0
 */
export interface InboundOptions {
  /** Extra keyword sets: `default` for every country, others by ISO country; consulted before the built-in ones. */
  readonly keywords?: { readonly [country: string]: KeywordSet } | undefined
  /** Use only the sets given in `keywords`, not the built-in ones. */
  readonly replaceBuiltinKeywords?: boolean | undefined
  /** What STOP revokes: `marketing` (default) or `all`. */
  readonly stopScope?: "marketing" | "all" | undefined
  /**
   * Let START / YES from someone with no marketing consent on record grant
   * it (a keyword-joined program). Off by default: then these keywords only
   * undo an earlier opt-out, so a "yes" in a conversation grants nothing.
   */
  readonly keywordOptIn?: boolean | undefined
  /** Send automatic replies (default `true`). */
  readonly replies?: boolean | undefined
  /** Reply texts overriding the built-in ones; `false` turns one off. */
  readonly replyTexts?: ReplyTexts | undefined
  /** Program name put in replies, e.g. `"ACME"`. */
  readonly brand?: string | undefined
  /** Our numbers that send transactional messages only: no automatic replies for them. */
  readonly transactionalOnlySenders?: ReadonlyArray<string> | undefined
  /** How to read a sender in national format. */
  readonly defaultCountry?: string | undefined
  readonly reassembly?: ReassemblyOptions | undefined
}

// errors

/**
 * Every reason {@link Inbound} `handle` can fail for.
 *
 * @category errors
 * @since 0.1.0
 */
export const InboundErrorReason = Schema.Union([InvalidRequest, StoreUnavailable])

/**
 * @category errors
 * @since 0.1.0
 */
export type InboundErrorReason = typeof InboundErrorReason.Type

/**
 * An inbound message that cannot be read.
 *
 * @category errors
 * @since 0.1.0
 */
export class InboundError extends Schema.TaggedError<InboundError>("smsforge/InboundError")("InboundError", {
  reason: InboundErrorReason
}) {
  override get message(): string {
    return this.reason.message
  }
  /** A store that was down (the consent change a keyword makes) may be up on the next try. */
  get isRetryable(): boolean {
    return this.reason._tag === "StoreUnavailable"
  }
}

// pure: keywords

/**
 * Matches a whole message against the keywords of `country` and the
 * default set; `undefined` when it is not a keyword.
 *
 * **Example** (Matching)
 * ```ts
 * import { Inbound } from "smsforge"
 * Inbound.matchKeyword(" Stop! ")?.action        // => "opt-out"
 * Inbound.matchKeyword("退订", "CN")?.action      // => "opt-out"
 * Inbound.matchKeyword("hello")                   // => undefined
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const matchKeyword = (text: string, country?: string | undefined): KeywordMatch | undefined =>
  keywords.match(text, country)

/**
 * The normal form keywords are compared in: NFKC, upper case, no whitespace,
 * no surrounding punctuation.
 *
 * @category utils
 * @since 0.1.0
 */
export const normalizeKeyword = keywords.normalizeKeyword

/**
 * The built-in keyword sets: `default` and by ISO country.
 *
 * @category constants
 * @since 0.1.0
 */
export const builtinKeywords: { readonly default: KeywordSet; readonly byCountry: { readonly [country: string]: KeywordSet } } = {
  default: keywords.defaultKeywords,
  byCountry: keywords.countryKeywords
}

// pure: reassembly

/**
 * Limits of the reassembly buffer.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReassemblyOptions {
  /** How long the parts of an incomplete message are kept; 10 minutes by default. */
  readonly ttlMillis?: number | undefined
  /** At most this many incomplete messages; the oldest is dropped beyond. 1,000 by default. */
  readonly maxPending?: number | undefined
}

/**
 * The parts received so far of one concatenated message.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReassemblyGroup {
  /** When the first part arrived (epoch ms). */
  readonly first: number
  readonly count: number
  readonly parts: ReadonlyMap<number, Transport.InboundMessage>
}

/**
 * The reassembly buffer: incomplete messages, and recently completed ones
 * whose late duplicate parts are ignored.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReassemblyState {
  readonly groups: ReadonlyMap<string, ReassemblyGroup>
  readonly completed: ReadonlyMap<string, number>
}

/**
 * An empty buffer.
 *
 * @category constructors
 * @since 0.1.0
 */
export const emptyReassembly: ReassemblyState = { groups: new Map(), completed: new Map() }

/**
 * What {@link reassemble} answers: the new buffer, and the whole message
 * when this part completed one (or was not a part at all).
 *
 * @category models
 * @since 0.1.0
 */
export interface ReassemblyStep {
  readonly state: ReassemblyState
  readonly message?: Transport.InboundMessage | undefined
  /** Incomplete messages dropped by expiry or by the size bound in this step. */
  readonly dropped: number
}

const isValidPart = (p: Transport.InboundMessage["part"]): p is NonNullable<Transport.InboundMessage["part"]> =>
  p !== undefined && Number.isInteger(p.count) && Number.isInteger(p.index) && Number.isInteger(p.reference) &&
  p.count >= 2 && p.count <= 255 && p.index >= 1 && p.index <= p.count

/**
 * Adds one message to the buffer. A message without a (valid) part header
 * passes through; parts are grouped by sender, recipient, reference and
 * count, may arrive in any order, and duplicates are ignored — also those
 * arriving after their message was completed, for `ttlMillis`.
 *
 * @category utils
 * @since 0.1.0
 */
export const reassemble = (
  state: ReassemblyState,
  message: Transport.InboundMessage,
  now: number,
  options: ReassemblyOptions = {}
): ReassemblyStep => {
  const ttl = options.ttlMillis ?? 600_000
  const max = Math.max(1, options.maxPending ?? 1000)
  const groups = new Map<string, ReassemblyGroup>()
  let dropped = 0
  for (const [k, g] of state.groups) {
    if (g.first + ttl > now) groups.set(k, g)
    else dropped++
  }
  const completed = new Map<string, number>()
  for (const [k, at] of state.completed) if (at + ttl > now) completed.set(k, at)
  const part = message.part
  if (!isValidPart(part)) {
    return { state: { groups, completed }, message: part === undefined ? message : dropPart(message), dropped }
  }
  const key = `${message.from}\u0000${message.to}\u0000${part.reference}\u0000${part.count}`
  if (completed.has(key)) return { state: { groups, completed }, dropped }
  const group = groups.get(key) ?? { first: now, count: part.count, parts: new Map() }
  if (group.parts.has(part.index)) return { state: { groups, completed }, dropped }
  const parts = new Map(group.parts)
  parts.set(part.index, message)
  if (parts.size === part.count) {
    groups.delete(key)
    completed.set(key, now)
    while (completed.size > max) {
      const oldest = completed.keys().next()
      if (oldest.done === true) break
      completed.delete(oldest.value)
    }
    const ordered = Array.from({ length: part.count }, (_, i) => parts.get(i + 1)).filter(
      (p): p is Transport.InboundMessage => p !== undefined
    )
    const head = ordered[0] ?? message
    const whole: Transport.InboundMessage = dropPart({
      ...head,
      text: ordered.map((p) => p.text).join(""),
      receivedAt: Math.max(...ordered.map((p) => p.receivedAt))
    })
    return { state: { groups, completed }, message: whole, dropped }
  }
  groups.delete(key)
  groups.set(key, { ...group, parts })
  while (groups.size > max) {
    const oldest = groups.keys().next()
    if (oldest.done === true) break
    groups.delete(oldest.value)
    dropped++
  }
  return { state: { groups, completed }, dropped }
}

const dropPart = (message: Transport.InboundMessage): Transport.InboundMessage => {
  const { part: _, ...rest } = message
  return rest
}

// replies

const builtinReplies: { readonly [action: string]: { readonly [locale: string]: string } } = {
  "opt-out": {
    en: "{brand}You are unsubscribed from marketing messages. Reply START to resubscribe.",
    fr: "{brand}Vous êtes désinscrit(e) des messages promotionnels. Répondez START pour vous réinscrire.",
    es: "{brand}Se ha dado de baja de los mensajes promocionales. Responda ALTA para volver a suscribirse.",
    de: "{brand}Sie sind von Werbenachrichten abgemeldet. Antworten Sie START, um sich wieder anzumelden.",
    it: "{brand}Sei stato cancellato dai messaggi promozionali. Rispondi START per iscriverti di nuovo.",
    pt: "{brand}Você cancelou o recebimento de mensagens promocionais. Responda START para voltar.",
    nl: "{brand}U bent afgemeld voor marketingberichten. Antwoord START om u opnieuw aan te melden.",
    zh: "{brand}您已退订营销短信。"
  },
  "opt-out-all": {
    en: "{brand}You are unsubscribed and will receive no more messages. Reply START to resubscribe.",
    fr: "{brand}Vous êtes désinscrit(e) et ne recevrez plus de messages. Répondez START pour vous réinscrire.",
    es: "{brand}Se ha dado de baja y no recibirá más mensajes. Responda ALTA para volver a suscribirse.",
    de: "{brand}Sie sind abgemeldet und erhalten keine Nachrichten mehr. Antworten Sie START, um sich wieder anzumelden.",
    zh: "{brand}您已退订，将不再收到短信。"
  },
  "opt-in": {
    en: "{brand}You are subscribed again. Reply STOP to unsubscribe, HELP for help.",
    fr: "{brand}Vous êtes à nouveau inscrit(e). Répondez STOP pour vous désinscrire.",
    es: "{brand}Se ha suscrito de nuevo. Responda BAJA para darse de baja.",
    de: "{brand}Sie sind wieder angemeldet. Antworten Sie STOPP, um sich abzumelden.",
    zh: "{brand}您已重新订阅。回复TD退订。"
  },
  confirm: {
    en: "{brand}Thank you, your subscription is confirmed. Reply STOP to unsubscribe.",
    fr: "{brand}Merci, votre inscription est confirmée. Répondez STOP pour vous désinscrire.",
    es: "{brand}Gracias, su suscripción está confirmada. Responda BAJA para darse de baja.",
    de: "{brand}Danke, Ihre Anmeldung ist bestätigt. Antworten Sie STOPP, um sich abzumelden.",
    zh: "{brand}订阅已确认。回复TD退订。"
  },
  help: {
    en: "{brand}Reply STOP to unsubscribe, START to resubscribe. Msg & data rates may apply.",
    fr: "{brand}Répondez STOP pour vous désinscrire, START pour vous réinscrire.",
    es: "{brand}Responda BAJA para darse de baja, ALTA para suscribirse.",
    de: "{brand}Antworten Sie STOPP zum Abmelden, START zum Anmelden.",
    zh: "{brand}回复TD退订。"
  }
}

/**
 * The reply text for an action in a locale, or `undefined` when replies for
 * it are off.
 *
 * @category utils
 * @since 0.1.0
 */
export const replyText = (
  action: "opt-out" | "opt-out-all" | "opt-in" | "help" | "confirm",
  locale: string,
  options: { readonly replyTexts?: ReplyTexts | undefined; readonly brand?: string | undefined } = {}
): string | undefined => {
  const custom = options.replyTexts?.[action]
  if (custom === false) return undefined
  const language = locale.split("-")[0] ?? "en"
  const pick = (texts: { readonly [locale: string]: string } | undefined) =>
    texts === undefined ? undefined : texts[locale] ?? texts[language] ?? texts["en"]
  const template = typeof custom === "string"
    ? custom
    : pick(custom) ?? pick(builtinReplies[action])
  if (template === undefined) return undefined
  const name = options.brand ?? ""
  const lead = template.startsWith("{brand}") ? (name === "" ? "" : `${name}: `) : ""
  return lead + template.slice(template.startsWith("{brand}") ? "{brand}".length : 0).replaceAll("{brand}", name)
}

// decoding

const decodeInput = (input: unknown, now: number): Transport.InboundMessage | InvalidRequest => {
  if (typeof input !== "object" || input === null) return new InvalidRequest({ field: "message", problem: "not an object" })
  const o = input as { readonly [key: string]: unknown }
  for (const field of ["from", "to", "text"] as const) {
    if (typeof o[field] !== "string") return new InvalidRequest({ field, problem: "not a string" })
  }
  if (o["transport"] !== undefined && typeof o["transport"] !== "string") {
    return new InvalidRequest({ field: "transport", problem: "not a string" })
  }
  if (o["providerMessageId"] !== undefined && typeof o["providerMessageId"] !== "string") {
    return new InvalidRequest({ field: "providerMessageId", problem: "not a string" })
  }
  const raw = o["receivedAt"]
  const receivedAt = raw === undefined
    ? now
    : typeof raw === "number"
    ? raw
    : raw instanceof Date
    ? raw.getTime()
    : typeof raw === "string"
    ? Date.parse(raw)
    : Number.NaN
  if (!Number.isFinite(receivedAt)) return new InvalidRequest({ field: "receivedAt", problem: "not a time" })
  const p = o["part"]
  let part: Transport.InboundMessage["part"]
  if (p !== undefined) {
    const q = p as { readonly [key: string]: unknown }
    if (
      typeof p !== "object" || p === null || typeof q["reference"] !== "number" || typeof q["index"] !== "number" ||
      typeof q["count"] !== "number"
    ) {
      return new InvalidRequest({ field: "part", problem: "not a part header" })
    }
    part = { reference: q["reference"], index: q["index"], count: q["count"] }
  }
  return {
    _tag: "InboundMessage",
    transport: typeof o["transport"] === "string" ? o["transport"] : "unknown",
    from: o["from"] as string,
    to: o["to"] as string,
    text: o["text"] as string,
    receivedAt,
    ...(typeof o["providerMessageId"] === "string" ? { providerMessageId: o["providerMessageId"] } : {}),
    ...(part === undefined ? {} : { part })
  }
}

// service

/**
 * Handles replies from people.
 *
 * @category services
 * @since 0.1.0
 */
export class Inbound extends Context.Service<Inbound, {
  /**
   * Reads one inbound message (a `Transport.InboundMessage` or a plain
   * object with `from`, `to`, `text`, optional `receivedAt`, `transport`,
   * `providerMessageId`, `part`, `tenant`) and acts on it.
   */
  readonly handle: (message: unknown) => Effect.Effect<InboundResult, InboundError>
}>()("smsforge/Inbound") {}

/**
 * Builds the inbound handler; needs PhoneNumbers and Consent, and appends to
 * the Audit log when one is present.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: InboundOptions = {}) {
  const ctx: InboundContext = {
    options,
    phones: yield* PhoneNumbers.PhoneNumbers,
    consent: yield* Consent.Consent,
    buffer: yield* Ref.make(emptyReassembly),
    quiet: new Set(options.transactionalOnlySenders ?? []),
    tables: new Map()
  }
  return Inbound.of({ handle: (input) => handle(ctx, input) })
})

// What every message handled shares, built once by make.
interface InboundContext {
  readonly options: InboundOptions
  readonly phones: PhoneNumbers.PhoneNumbers["Service"]
  readonly consent: Consent.Consent["Service"]
  /** Parts of concatenated messages awaiting the rest. */
  readonly buffer: Ref.Ref<ReassemblyState>
  /** Our numbers that never send automatic replies. */
  readonly quiet: ReadonlySet<string>
  /** Compiled keyword tables by upper-case country ("" for none), built on first use. */
  readonly tables: Map<string, keywords.KeywordTable>
}

const handle = Effect.fnUntraced(function*(
  ctx: InboundContext,
  input: unknown
): Effect.gen.Return<InboundResult, InboundError> {
  const now = yield* Clock.currentTimeMillis
  const decoded = decodeInput(input, now)
  if (decoded instanceof InvalidRequest) return yield* new InboundError({ reason: decoded })
  const tenant = typeof (input as { tenant?: unknown }).tenant === "string"
    ? (input as { tenant: string }).tenant
    : undefined
  const sender = yield* Effect.option(
    ctx.phones.normalize(decoded.from, { defaultCountry: ctx.options.defaultCountry, field: "from" })
  )
  const normalised: Transport.InboundMessage = sender._tag === "Some"
    ? { ...decoded, from: sender.value.e164 }
    : decoded
  const step = yield* Ref.modify(ctx.buffer, (state) => {
    const s = reassemble(state, normalised, now, ctx.options.reassembly)
    return [s, s.state] as const
  })
  if (step.message === undefined) {
    return { action: "none", message: normalised, complete: false }
  }
  const message = step.message
  if (sender._tag === "None") {
    yield* audit(message, "none", undefined, tenant)
    return { action: "none", message, complete: true }
  }
  const match = keywords.matchTable(tableFor(ctx, sender.value.country), message.text)
  const outcome = match === undefined ? nothingDone : yield* act(ctx, match, changeOf(message, tenant))
  const reply = outcome.replyKey === undefined || ctx.options.replies === false || ctx.quiet.has(message.to)
    ? undefined
    : replyText(outcome.replyKey, match?.locale ?? "en", ctx.options)
  yield* audit(message, outcome.action, match, tenant)
  return resultOf(message, match, outcome, reply, tenant)
})

const tableFor = (ctx: InboundContext, country: string | undefined): keywords.KeywordTable => {
  const c = country?.toUpperCase() ?? ""
  let table = ctx.tables.get(c)
  if (table === undefined) {
    const custom = ctx.options.keywords ?? {}
    const sets: Array<KeywordSet | undefined> = [custom[c], custom["default"]]
    if (ctx.options.replaceBuiltinKeywords !== true) sets.push(keywords.countryKeywords[c], keywords.defaultKeywords)
    // Country sets come before default ones, custom before built-in.
    const ordered = [sets[0], sets[2], sets[1], sets[3]].filter((s): s is KeywordSet => s !== undefined)
    table = keywords.compile(ordered)
    ctx.tables.set(c, table)
  }
  return table
}

/** The consent change a keyword makes, with the message as its evidence. */
const changeOf = (message: Transport.InboundMessage, tenant: string | undefined): Consent.ConsentChange => ({
  to: message.from,
  tenant,
  source: "keyword",
  keyword: message.text.trim(),
  origin: {
    channel: "sms",
    ...(message.providerMessageId === undefined ? {} : { requestId: message.providerMessageId })
  },
  at: message.receivedAt
})

/** What a keyword did, and which reply answers it. */
interface Outcome {
  readonly action: InboundAction
  readonly replyKey?: "opt-out" | "opt-out-all" | "opt-in" | "help" | "confirm" | undefined
  readonly scope?: Consent.Scope | undefined
  readonly confirmed?: ReadonlyArray<string> | undefined
}

const nothingDone: Outcome = { action: "none" }

// The consent change a keyword makes: an outage is the caller's to retry; any
// other refusal of a change built here from a decoded message is a bug.
const consentChange = <A>(effect: Effect.Effect<A, Consent.ConsentError>): Effect.Effect<A, InboundError> =>
  Effect.catch(effect, (error) =>
    error.reason._tag === "StoreUnavailable" ? Effect.fail(new InboundError({ reason: error.reason })) : Effect.die(error))

const act = (ctx: InboundContext, match: KeywordMatch, change: Consent.ConsentChange): Effect.Effect<Outcome, InboundError> => {
  switch (match.action) {
    case "opt-out":
    case "opt-out-all": {
      const scope = match.action === "opt-out-all" ? "all" : ctx.options.stopScope ?? "marketing"
      return Effect.as(consentChange(ctx.consent.revoke({ ...change, purpose: scope })), {
        action: "opt-out",
        replyKey: scope === "all" ? "opt-out-all" : "opt-out",
        scope
      })
    }
    case "opt-in":
    case "positive":
      return consentChange(optIn(ctx, match.action === "opt-in", change))
    case "help":
      return Effect.succeed({ action: "help", replyKey: "help" })
  }
}

/**
 * A positive reply confirms what is pending; failing that, an opt-in keyword
 * undoes what an opt-out did: it lifts a revocation of `all` and restores
 * revoked marketing.
 */
const optIn = Effect.fnUntraced(function*(ctx: InboundContext, optInKeyword: boolean, change: Consent.ConsentChange) {
  const confirmed = yield* ctx.consent.confirm(change)
  if (confirmed.length > 0) return { action: "confirm", replyKey: "confirm", confirmed } satisfies Outcome
  if (!optInKeyword) return nothingDone
  const record = Option.getOrUndefined(yield* ctx.consent.get(change.to, change.tenant))
  const lifted: Array<Consent.Scope> = []
  if (record?.purposes["all"]?.status === "revoked") lifted.push("all")
  const marketing = record?.purposes["marketing"]?.status
  if (marketing === "revoked" || (marketing === undefined && ctx.options.keywordOptIn === true)) {
    lifted.push("marketing")
  }
  for (const purpose of lifted) yield* ctx.consent.grant({ ...change, purpose })
  if (lifted.length === 0) return nothingDone
  return {
    action: "opt-in",
    replyKey: "opt-in",
    scope: lifted.includes("marketing") ? "marketing" : "all"
  } satisfies Outcome
})

const resultOf = (
  message: Transport.InboundMessage,
  match: KeywordMatch | undefined,
  outcome: Outcome,
  reply: string | undefined,
  tenant: string | undefined
): InboundResult => ({
  action: outcome.action,
  message,
  complete: true,
  ...(match === undefined ? {} : { keyword: match }),
  ...(outcome.scope === undefined ? {} : { scope: outcome.scope }),
  ...(outcome.confirmed === undefined ? {} : { confirmed: outcome.confirmed }),
  ...(reply === undefined ? {} : {
    reply,
    replyMessage: {
      to: message.from,
      from: message.to,
      text: reply,
      purpose: "transactional",
      bypassConsent: true,
      ...(tenant === undefined ? {} : { tenant })
    }
  })
})

const audit = (
  message: Transport.InboundMessage,
  action: InboundAction,
  match: KeywordMatch | undefined,
  tenant: string | undefined
) =>
  Audit.append({
    kind: "inbound",
    at: message.receivedAt,
    tenant,
    from: message.from,
    to: message.to,
    body: message.text,
    data: {
      action,
      transport: message.transport,
      ...(match === undefined ? {} : { keyword: match.keyword }),
      ...(message.providerMessageId === undefined ? {} : { providerMessageId: message.providerMessageId })
    }
  })

/**
 * The inbound handler; needs PhoneNumbers and Consent.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: InboundOptions = {}): Layer.Layer<Inbound, never, PhoneNumbers.PhoneNumbers | Consent.Consent> =>
  Layer.effect(Inbound, make(options))
