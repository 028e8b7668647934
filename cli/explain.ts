/**
 * What `smsforge segments` and `smsforge routes explain` print, as plain
 * functions of their input so they are tested without a terminal.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { Encoding, PhoneNumbers, Pricing, Router } from "smsforge"

const visible = (s: string): string => JSON.stringify(s)

/**
 * The encoding, each segment, the characters that forced UCS-2, what smart
 * encoding would change and the cost in segments.
 *
 * @category commands
 * @since 0.2.0
 */
export const segments = (text: string, options: { readonly smartEncoding?: boolean | undefined } = {}): string => {
  const plain = Encoding.analyze(text)
  const smart = Encoding.analyze(text, { smartEncoding: true })
  const used = options.smartEncoding === true ? smart : plain
  const lines = [
    `encoding: ${used.encoding}${options.smartEncoding === true ? " (smart encoding on)" : ""}`,
    `length:   ${used.units} ${used.encoding === "GSM-7" ? "septets" : "UTF-16 units"}, ${used.unitsPerSegment} per segment`,
    `cost:     ${used.segments.length} segment${used.segments.length === 1 ? "" : "s"}`
  ]
  used.segments.forEach((segment, i) => lines.push(`  [${i + 1}] ${visible(segment)}`))
  if (plain.nonGsmCharacters.length > 0) {
    lines.push(`UCS-2 because of: ${plain.nonGsmCharacters.map((c) => `${visible(c)} U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`).join(", ")}`)
  }
  if (smart.replacements.length > 0) {
    const saving = plain.segments.length - smart.segments.length
    lines.push(
      `smart encoding would replace: ${smart.replacements.map((r) => `${visible(r.from)} → ${visible(r.to)}`).join(", ")}`,
      `  and send ${smart.encoding} in ${smart.segments.length} segment${smart.segments.length === 1 ? "" : "s"}${saving > 0 ? ` (${saving} fewer)` : ""}`
    )
  } else if (plain.encoding === "UCS-2") {
    lines.push("smart encoding would change nothing: these characters have no GSM-7 look-alike")
  }
  return lines.join("\n")
}

// The exact price table's cost when there is one, else the route's own price.
const costOf = (c: Router.Candidate): string =>
  c.exactCost !== undefined
    ? `, cost ${Pricing.format(c.exactCost.total)} (${Pricing.format(c.exactCost.unitPrice)} × ${c.exactCost.segments}, ${c.exactCost.basis} price)`
    : c.cost === undefined
    ? ""
    : `, cost ${c.cost}`

/**
 * Which route a message to `number` would take and why: the router's
 * candidates in order, each with its reason, without sending anything.
 *
 * @category commands
 * @since 0.2.0
 */
export const routes = (number: string, options: { readonly purpose?: Router.Purpose | undefined; readonly text?: string | undefined } = {}) =>
  Effect.gen(function*() {
    const phones = yield* PhoneNumbers.PhoneNumbers
    const router = yield* Router.Router
    const recipient = yield* phones.normalize(number)
    const text = options.text ?? "Your code is 123456"
    const analysis = Encoding.analyze(text)
    const candidates = yield* router.plan({
      messageId: "explain",
      to: { e164: recipient.e164, country: recipient.country },
      purpose: options.purpose ?? "transactional",
      text,
      segmentCount: analysis.segments.length,
      encoding: analysis.encoding
    })
    const lines = [`recipient: country ${recipient.country}, ${recipient.type}, ${analysis.encoding} in ${analysis.segments.length} segment(s)`]
    if (candidates.length === 0) lines.push("no route accepts this recipient")
    candidates.forEach((c, i) => {
      lines.push(`${i === 0 ? "→" : " "} ${i + 1}. ${c.route} (${c.transport})${c.from === undefined ? "" : ` from ${c.from}`}${costOf(c)}`)
      lines.push(`     ${c.reason}`)
    })
    return lines.join("\n")
  })
