/**
 * Region rules: presets as data, and the pure part of their evaluation
 * (text and template checks). Per-number limits need a RateLimiter and run
 * in Router.
 *
 * @internal
 */
import type { Purpose, RegionRuleSpec } from "./rules.ts"
import { matchesRecipient, type Recipient } from "./select.ts"

/**
 * A region rule as written in config: which recipients and purposes it
 * applies to, and its check.
 *
 * @since 0.1.0
 */
export interface RegionRuleInput {
  readonly name: string
  readonly countries?: ReadonlyArray<string> | undefined
  readonly prefixes?: ReadonlyArray<string> | undefined
  readonly purposes?: ReadonlyArray<Purpose> | undefined
  readonly check:
    /** The text starts with `open`, a non-empty signature, then `close` (【Acme】). */
    | { readonly _tag: "SignaturePrefix"; readonly open: string; readonly close: string }
    /** The text matches a regular expression. */
    | { readonly _tag: "TextPattern"; readonly pattern: string; readonly flags?: string | undefined }
    /** The message comes from an approved template. */
    | { readonly _tag: "ApprovedTemplate" }
    /** At most `limit` messages per recipient in each `window` ("1 minute", "1 day"). */
    | {
      readonly _tag: "PerNumberLimit"
      readonly limits: ReadonlyArray<{ readonly limit: number; readonly window: string }>
    }
}

/** China (+86): a 【signature】 leads the text, only approved templates, per-number limits for codes. */
export const china: ReadonlyArray<RegionRuleInput> = [
  { name: "cn-signature", countries: ["CN"], prefixes: ["+86"], check: { _tag: "SignaturePrefix", open: "【", close: "】" } },
  { name: "cn-approved-template", countries: ["CN"], prefixes: ["+86"], check: { _tag: "ApprovedTemplate" } },
  {
    name: "cn-verification-limit",
    countries: ["CN"],
    prefixes: ["+86"],
    purposes: ["verification"],
    check: {
      _tag: "PerNumberLimit",
      limits: [
        { limit: 10, window: "1 day" },
        { limit: 5, window: "1 hour" },
        { limit: 1, window: "1 minute" }
      ]
    }
  }
]

/** United Kingdom: marketing must tell the recipient how to opt out. */
export const uk: ReadonlyArray<RegionRuleInput> = [
  {
    name: "uk-marketing-opt-out",
    countries: ["GB"],
    prefixes: ["+44"],
    purposes: ["marketing"],
    check: { _tag: "TextPattern", pattern: "\\b(?:stop|opt[ -]?out|unsubscribe)\\b", flags: "i" }
  }
]

export const all: ReadonlyArray<RegionRuleInput> = [...china, ...uk]

export interface RegionRequest {
  readonly to: Recipient
  readonly purpose: Purpose
  readonly text: string
  readonly template?: { readonly id: string; readonly approved: boolean } | undefined
}

export const applies = (rule: RegionRuleSpec, request: RegionRequest): boolean =>
  matchesRecipient(rule.countries, rule.prefixes, request.to) &&
  (rule.purposes === undefined || rule.purposes.includes(request.purpose))

export interface ContentViolation {
  readonly field: "text" | "template"
  readonly rule: string
}

/** The first text or template rule a message breaks, if any. */
export const checkContent = (
  rules: ReadonlyArray<RegionRuleSpec>,
  request: RegionRequest
): ContentViolation | undefined => {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!
    if (!applies(rule, request)) continue
    const check = rule.check
    switch (check._tag) {
      case "SignaturePrefix": {
        const close = request.text.indexOf(check.close, check.open.length)
        if (!request.text.startsWith(check.open) || close <= check.open.length) return { field: "text", rule: rule.name }
        break
      }
      case "TextPattern": {
        check.pattern.lastIndex = 0
        if (!check.pattern.test(request.text)) return { field: "text", rule: rule.name }
        break
      }
      case "ApprovedTemplate": {
        if (request.template === undefined || !request.template.approved) return { field: "template", rule: rule.name }
        break
      }
      case "PerNumberLimit":
        break
    }
  }
  return undefined
}
