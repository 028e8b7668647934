/**
 * The rules carriers enforce on notification (transactional) templates,
 * checked before a notice is sent so a refusal names its reason here, not
 * as a carrier's rejection later.
 *
 * **Details**
 * - No marketing words in any locale of a notice template (`sale`,
 *   `discount`, `免费`, `Rabatt`, `soldes`, `oferta`, `セール` …): carriers file
 *   such a text as marketing, which needs consent and other routes.
 * - A Chinese body starts with its 【signature】 (2 to 16 characters), as
 *   mainland carriers require.
 * - The template is approved (`status: "approved"`) before use.
 * - Each variable is at most 80 characters (the Templates service caps
 *   values at 80 too, unless configured otherwise; this keeps the carriers'
 *   limit whatever that setting).
 *
 * @since 0.3.0
 */
import * as Schema from "effect/Schema"
import type { Templates } from "smsforge"

// errors

/**
 * A notice template's body has a marketing word; `field` names the locale.
 *
 * @category errors
 * @since 0.3.0
 */
export class MarketingWords extends Schema.TaggedError<MarketingWords>("smsforge/commerce/MarketingWords")("MarketingWords", {
  template: Schema.String,
  field: Schema.String,
  word: Schema.String
}) {}

/**
 * A Chinese body does not start with a 【signature】.
 *
 * @category errors
 * @since 0.3.0
 */
export class MissingSignature extends Schema.TaggedError<MissingSignature>("smsforge/commerce/MissingSignature")(
  "MissingSignature",
  { template: Schema.String, field: Schema.String }
) {}

/**
 * The template is not approved (or not known to the notices).
 *
 * @category errors
 * @since 0.3.0
 */
export class NotApproved extends Schema.TaggedError<NotApproved>("smsforge/commerce/NotApproved")("NotApproved", {
  template: Schema.String
}) {}

/**
 * A variable's value is longer than carriers accept.
 *
 * @category errors
 * @since 0.3.0
 */
export class VariableTooLong extends Schema.TaggedError<VariableTooLong>("smsforge/commerce/VariableTooLong")(
  "VariableTooLong",
  { field: Schema.String, maxLength: Schema.Number }
) {}

/**
 * @category errors
 * @since 0.3.0
 */
export type RuleViolation = MarketingWords | MissingSignature | NotApproved | VariableTooLong

// rules

/**
 * The carriers' cap on a variable's length.
 *
 * @category constants
 * @since 0.3.0
 */
export const MAX_VARIABLE_LENGTH = 80

// Latin words match whole words, case-insensitively; CJK words match anywhere.
const latinWords = [
  "sale", "discount", "offer", "promo", "promotion", "coupon", "deal", "free", "win", "voucher",
  "rabatt", "angebot", "gratis", "gutschein", "aktion",
  "soldes", "promotion", "réduction", "offre", "gratuit", "bon de réduction",
  "oferta", "descuento", "rebaja", "cupón", "promoción", "regalo"
]
const cjkWords = ["免费", "优惠", "折扣", "促销", "特价", "红包", "抢购", "無料", "セール", "割引", "クーポン", "キャンペーン", "お得"]
const latin = new RegExp(`(?<![\\p{L}\\p{N}])(${latinWords.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(?![\\p{L}\\p{N}])`, "iu")

/**
 * The first marketing word in a text, or `undefined`.
 *
 * @category rules
 * @since 0.3.0
 */
export const marketingWord = (text: string): string | undefined => {
  const match = latin.exec(text)
  if (match !== null) return match[1]!.toLowerCase()
  // "50% off" follows a digit, which the whole-word pattern would not allow.
  if (/%\s*off(?![\p{L}\p{N}])/iu.test(text)) return "% off"
  return cjkWords.find((w) => text.includes(w))
}

const SIGNED = /^【[^【】]{2,16}】/u

/**
 * What is wrong with a notice template's bodies and status, or `undefined`.
 *
 * @category rules
 * @since 0.3.0
 */
export const checkTemplate = (definition: Templates.TemplateDefinition): RuleViolation | undefined => {
  for (const [locale, body] of Object.entries(definition.locales)) {
    const word = marketingWord(body)
    if (word !== undefined) return new MarketingWords({ template: definition.id, field: `locales.${locale}`, word })
    if (/^zh(?:$|-)/i.test(locale) && !/^zh-(?:Hant|TW|HK|MO)/i.test(locale) && !SIGNED.test(body)) {
      return new MissingSignature({ template: definition.id, field: `locales.${locale}` })
    }
  }
  return definition.status === "approved" ? undefined : new NotApproved({ template: definition.id })
}

/**
 * The first variable longer than {@link MAX_VARIABLE_LENGTH}, as a violation.
 *
 * @category rules
 * @since 0.3.0
 */
export const checkVariables = (variables: Readonly<Record<string, string>>): VariableTooLong | undefined => {
  for (const [name, value] of Object.entries(variables)) {
    if (value.length > MAX_VARIABLE_LENGTH) return new VariableTooLong({ field: `variables.${name}`, maxLength: MAX_VARIABLE_LENGTH })
  }
  return undefined
}
