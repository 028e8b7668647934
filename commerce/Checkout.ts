/**
 * Marketing consent at checkout, as the UK's PECR (regulation 22) asks:
 * express consent recorded with its evidence, the soft opt-in for existing
 * customers, and an opt-out line in every marketing message.
 *
 * **Details**
 * - {@link captureConsent}: the box the customer ticked (never pre-ticked),
 *   recorded with the wording shown, the time and the source (`checkout:web`),
 *   plus the request's origin, through the client's consent records.
 * - {@link softOptIn}: a customer whose number was taken during a sale may
 *   get marketing of similar products without ticking a box, only when a
 *   simple way to refuse was offered right there. Recorded with source
 *   `soft-opt-in:<source>`, the opt-out wording shown and the sale's time.
 * - {@link withOptOut} adds the opt-out line in the message's language
 *   (`Reply STOP to opt out`, `回复TD退订`, `STOPP antworten …`); the keywords
 *   are the ones the inbound pipeline already honours. {@link sendMarketing}
 *   never sends marketing without it.
 *
 * @since 0.3.0
 */
import * as Schema from "effect/Schema"

// models

/**
 * The calls checkout consent makes: `createSmsClient(…)` fits as it is.
 *
 * @category models
 * @since 0.3.0
 */
export interface ConsentClient {
  readonly consent: {
    readonly grant: (change: {
      readonly to: string
      readonly purpose?: "marketing"
      readonly tenant?: string
      readonly source?: string
      readonly text?: string
      readonly at?: number
      readonly origin?: { readonly ip?: string; readonly userAgent?: string; readonly channel?: string }
    }) => Promise<unknown>
  }
  readonly send: (request: {
    readonly to: string
    readonly text: string
    readonly purpose: "marketing"
    readonly tenant?: string
    readonly idempotencyKey?: string
  }) => Promise<{ readonly id: string; readonly status: string }>
}

/**
 * @category models
 * @since 0.3.0
 */
export interface CheckoutConsent {
  readonly to: string
  /** The marketing box as the customer left it; it must start unticked. */
  readonly marketing: boolean
  /** The wording shown next to the box, word for word. */
  readonly wording: string
  /** Where: `checkout:web`, `checkout:app`, `pos:store-12`. */
  readonly source: string
  /** When the box was submitted (epoch ms); now when absent. */
  readonly at?: number | undefined
  readonly ip?: string | undefined
  readonly userAgent?: string | undefined
  readonly tenant?: string | undefined
}

/**
 * @category models
 * @since 0.3.0
 */
export interface SoftOptIn {
  readonly to: string
  /** The number came from this sale (or negotiations for one). */
  readonly duringSale: true
  /** A simple way to refuse was offered when the number was taken. */
  readonly optOutOffered: true
  /** The opt-out wording shown at the sale. */
  readonly wording: string
  readonly source: string
  /** The sale's time (epoch ms). */
  readonly at: number
  readonly tenant?: string | undefined
}

/**
 * What became of a checkout's consent.
 *
 * @category models
 * @since 0.3.0
 */
export type ConsentOutcome = { readonly _tag: "Recorded" } | { readonly _tag: "NotGiven" }

// errors

/**
 * The evidence PECR needs is missing or empty; `field` names it.
 *
 * @category errors
 * @since 0.3.0
 */
export class MissingEvidence extends Schema.TaggedError<MissingEvidence>("smsforge/commerce/MissingEvidence")(
  "MissingEvidence",
  { field: Schema.String }
) {}

// functions

const nonEmpty = (value: unknown, max: number): value is string =>
  typeof value === "string" && value.trim().length > 0 && value.length <= max

/**
 * Records the checkout's marketing consent with its evidence; nothing when
 * the box was left unticked. Rejects with {@link MissingEvidence} when the
 * wording or the source is missing.
 *
 * @category consent
 * @since 0.3.0
 */
export const captureConsent = async (client: ConsentClient, input: CheckoutConsent): Promise<ConsentOutcome> => {
  if (!nonEmpty(input.wording, 1000)) throw new MissingEvidence({ field: "wording" })
  if (!nonEmpty(input.source, 100)) throw new MissingEvidence({ field: "source" })
  if (input.marketing !== true) return { _tag: "NotGiven" }
  const origin = {
    channel: "sms",
    ...(input.ip === undefined ? {} : { ip: input.ip }),
    ...(input.userAgent === undefined ? {} : { userAgent: input.userAgent })
  }
  await client.consent.grant({
    to: input.to,
    purpose: "marketing",
    source: input.source,
    text: input.wording,
    origin,
    ...(input.at === undefined ? {} : { at: input.at }),
    ...(input.tenant === undefined ? {} : { tenant: input.tenant })
  })
  return { _tag: "Recorded" }
}

/**
 * Records a soft opt-in for an existing customer. Rejects with
 * {@link MissingEvidence} unless the number came from a sale and a way to
 * refuse was offered there (`duringSale`, `optOutOffered`, `wording`).
 *
 * @category consent
 * @since 0.3.0
 */
export const softOptIn = async (client: ConsentClient, input: SoftOptIn): Promise<ConsentOutcome> => {
  if (input.duringSale !== true) throw new MissingEvidence({ field: "duringSale" })
  if (input.optOutOffered !== true) throw new MissingEvidence({ field: "optOutOffered" })
  if (!nonEmpty(input.wording, 1000)) throw new MissingEvidence({ field: "wording" })
  if (!nonEmpty(input.source, 100)) throw new MissingEvidence({ field: "source" })
  if (!Number.isFinite(input.at)) throw new MissingEvidence({ field: "at" })
  await client.consent.grant({
    to: input.to,
    purpose: "marketing",
    source: `soft-opt-in:${input.source}`,
    text: input.wording,
    at: input.at,
    ...(input.tenant === undefined ? {} : { tenant: input.tenant })
  })
  return { _tag: "Recorded" }
}

const OPT_OUT: ReadonlyArray<readonly [RegExp, string, RegExp]> = [
  [/^zh(?!-(?:Hant|TW|HK|MO))/i, "回复TD退订", /TD退订|退订/],
  [/^zh/i, "回覆退訂取消訂閱", /退訂/],
  [/^de/i, "Abmelden: STOPP antworten", /\bSTOPP\b/],
  [/^fr/i, "STOP pour vous désabonner", /\bSTOP\b/],
  [/^es/i, "Responda BAJA para darse de baja", /\bBAJA\b/],
  [/^ja/i, "配信停止はSTOPと返信", /STOP/],
  [/^/, "Reply STOP to opt out", /\bSTOP\b/]
]

/**
 * The opt-out line for a locale (English when unknown).
 *
 * @category consent
 * @since 0.3.0
 */
export const optOutLine = (locale?: string): string => OPT_OUT.find(([tag]) => tag.test(locale ?? ""))![1]

/**
 * The text with the locale's opt-out line on its own line, unless the text
 * already names the opt-out keyword.
 *
 * @category consent
 * @since 0.3.0
 */
export const withOptOut = (text: string, locale?: string): string => {
  const [, line, present] = OPT_OUT.find(([tag]) => tag.test(locale ?? ""))!
  return present.test(text) ? text : `${text.trimEnd()}\n${line}`
}

/**
 * Sends a marketing text with its opt-out line. The pipeline still checks
 * consent, opt-outs, quiet hours and frequency caps.
 *
 * @category consent
 * @since 0.3.0
 */
export const sendMarketing = (
  client: ConsentClient,
  request: { readonly to: string; readonly text: string; readonly locale?: string; readonly tenant?: string; readonly idempotencyKey?: string }
) =>
  client.send({
    to: request.to,
    text: withOptOut(request.text, request.locale),
    purpose: "marketing",
    ...(request.tenant === undefined ? {} : { tenant: request.tenant }),
    ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey })
  })
