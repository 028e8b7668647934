import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import { Transport } from "smsforge"

/**
 * The submission values a request field can take.
 *
 * @category models
 * @since 0.1.0
 */
export type SubmissionField =
  | "to"
  | "toDigits"
  | "from"
  | "text"
  | "encoding"
  | "clientReference"
  | "purpose"
  | "segmentCount"
  | "validUntil"
  | "validitySeconds"
  | "templateId"
  | "templateCode"
  | "templateVariables"

/**
 * A request field: a submission value, a constant, or a submission value mapped through a table.
 *
 * @category models
 * @since 0.1.0
 */
export type FieldSource =
  | SubmissionField
  | { readonly value: string | number | boolean | Redacted.Redacted<string> }
  | { readonly field: SubmissionField; readonly map: Readonly<Record<string, string | number | boolean>> }

/**
 * A reason's tag, as used in the error tables.
 *
 * @category models
 * @since 0.1.0
 */
export type ReasonTag = Transport.TransportErrorReason["_tag"]


type Value = string | number | boolean | Readonly<Record<string, string | number>> | undefined

/** Reads one submission value; `undefined` leaves the field out. */
export const submissionValue = (submission: Transport.Submission, field: SubmissionField, now: number): Value => {
  switch (field) {
    case "to":
      return submission.to
    case "toDigits":
      return submission.to.replace(/^\+/, "")
    case "from":
      return submission.from
    case "text":
      return submission.text
    case "encoding":
      return submission.encoding
    case "clientReference":
      return submission.clientReference
    case "purpose":
      return submission.purpose
    case "segmentCount":
      return submission.segments.length
    case "validUntil":
      return submission.validUntil === undefined ? undefined : new Date(submission.validUntil).toISOString()
    case "validitySeconds":
      return submission.validUntil === undefined ? undefined : Math.max(1, Math.floor((submission.validUntil - now) / 1000))
    case "templateId":
      return submission.template?.id
    case "templateCode":
      return submission.template?.providerTemplateCode
    case "templateVariables":
      return submission.template?.variables
  }
}

/** Resolves a field source; secrets are revealed only here, into the outgoing request. */
export const resolve = (source: FieldSource, submission: Transport.Submission, now: number): Value => {
  if (typeof source === "string") return submissionValue(submission, source, now)
  if ("value" in source) return Redacted.isRedacted(source.value) ? Redacted.value(source.value) : source.value
  const raw = submissionValue(submission, source.field, now)
  if (raw === undefined || typeof raw === "object") return raw
  return source.map[String(raw)] ?? raw
}

/** Sets `a.b.c` in a JSON object. */
export const setPath = (target: Record<string, unknown>, path: string, value: unknown): void => {
  const keys = path.split(".")
  let current = target
  for (const key of keys.slice(0, -1)) {
    const next = current[key]
    if (next !== null && typeof next === "object" && !Array.isArray(next)) current = next as Record<string, unknown>
    else {
      const created: Record<string, unknown> = {}
      current[key] = created
      current = created
    }
  }
  current[keys[keys.length - 1] ?? path] = value
}

/** The default reading of an HTTP status. */
export const defaultTag = (status: number): ReasonTag => {
  if (status === 429) return "Throttled"
  if (status === 401 || status === 403) return "AuthenticationFailed"
  if (status === 402) return "InsufficientFunds"
  if (status === 408) return "Timeout"
  if (status >= 500) return "Unavailable"
  return "Rejected"
}

/** Picks the reason: the code table first, then the exact status, then `4xx`/`5xx`, then the default. */
export const classify = (
  status: number,
  code: string | undefined,
  tables: {
    readonly byStatus?: Readonly<Record<string, ReasonTag>> | undefined
    readonly byCode?: Readonly<Record<string, ReasonTag>> | undefined
  }
): ReasonTag =>
  (code !== undefined ? tables.byCode?.[code] : undefined) ??
    tables.byStatus?.[String(status)] ??
    tables.byStatus?.[`${Math.floor(status / 100)}xx`] ??
    (status >= 200 && status < 300 ? "Rejected" : defaultTag(status))

/** Builds the reason instance for a tag. */
export const reason = (tag: ReasonTag, code: string, retryAfter: number | undefined): Transport.TransportErrorReason =>
  Transport.reasonFromTag(tag, retryAfter === undefined ? { code } : { code, retryAfter: Duration.millis(retryAfter) })
