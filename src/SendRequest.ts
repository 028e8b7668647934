/**
 * What a caller asks to send, decoded from untrusted input.
 *
 * **Details**
 * - `{ to, text }` or `{ to, template, variables, locale? }`, plus optional
 *   `from`, `purpose`, `idempotencyKey`, `sendAt`, `validity`, `tenant` and
 *   `metadata`.
 * - Unknown keys, wrong types and malformed values end in an
 *   {@link InvalidRequest} that names the field; decoding never throws.
 * - `to` is only checked to be a string here; the PhoneNumbers service decides
 *   whether it is a number.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { stackless } from "./internal/errors.ts"
import { fieldName, firstProblem } from "./internal/issues.ts"
import { type CommonFields, decodeCommon } from "./internal/request/fast.ts"

const NonEmpty = Schema.String.check(Schema.isMinLength(1))

const MetadataValue = Schema.Union([Schema.String, Schema.Finite, Schema.Boolean])

const common = {
  to: NonEmpty,
  from: Schema.optional(NonEmpty.check(Schema.isMaxLength(20))),
  purpose: Schema.optional(Schema.Literals(["transactional", "marketing"])),
  idempotencyKey: Schema.optional(NonEmpty.check(Schema.isMaxLength(255))),
  sendAt: Schema.optional(Schema.Union([Schema.Finite, Schema.String, Schema.Date])),
  validity: Schema.optional(Schema.Union([Schema.Finite, Schema.String])),
  tenant: Schema.optional(NonEmpty.check(Schema.isMaxLength(128))),
  metadata: Schema.optional(Schema.Record(Schema.String, MetadataValue))
}

/**
 * A plain-text request.
 *
 * @category schemas
 * @since 0.1.0
 */
export const TextRequest = Schema.Struct({ ...common, text: NonEmpty })

/**
 * A templated request.
 *
 * @category schemas
 * @since 0.1.0
 */
export const TemplateRequest = Schema.Struct({
  ...common,
  template: NonEmpty,
  variables: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  locale: Schema.optional(NonEmpty.check(Schema.isMaxLength(35)))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const SendRequest = Schema.Union([TextRequest, TemplateRequest])

/**
 * The request as a caller writes it.
 *
 * @category models
 * @since 0.1.0
 */
export type SendRequest = typeof SendRequest.Type

/**
 * A decoded request with times resolved to epoch milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export interface DecodedRequest {
  readonly to: string
  readonly content:
    | { readonly _tag: "Text"; readonly text: string }
    | {
      readonly _tag: "Template"
      readonly id: string
      readonly variables: Readonly<Record<string, unknown>>
      readonly locale?: string | undefined
    }
  readonly from?: string | undefined
  readonly purpose: "transactional" | "marketing"
  readonly idempotencyKey?: string | undefined
  readonly sendAt?: number | undefined
  readonly validity?: number | undefined
  readonly tenant?: string | undefined
  readonly metadata?: Readonly<Record<string, string | number | boolean>> | undefined
}

/**
 * A request that cannot be sent as written.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidRequest extends stackless(Schema.TaggedError<InvalidRequest>("smsforge/SendRequest/InvalidRequest")(
  "InvalidRequest",
  { field: Schema.String, problem: Schema.String }
)) {
  override get message(): string {
    return `Invalid request: ${this.field} is ${this.problem}`
  }
}

const refuse = (field: string, problem: string): Result.Result<never, InvalidRequest> =>
  Result.fail(new InvalidRequest({ field, problem }))

const options = { onExcessProperty: "error" } as const
const decodeText = Schema.decodeUnknownResult(TextRequest, options)
const decodeTemplate = Schema.decodeUnknownResult(TemplateRequest, options)

const isRecord = (input: unknown): input is Record<string, unknown> =>
  typeof input === "object" && input !== null && !Array.isArray(input)

const problemWords = { missing: "missing", unexpected: "not allowed", "wrong-type": "of the wrong type", invalid: "invalid" }

const parseTime = (input: string | number | Date): number | undefined => {
  const millis = typeof input === "number" ? input : typeof input === "string" ? Date.parse(input) : input.getTime()
  return Number.isFinite(millis) ? millis : undefined
}

const parseDuration = (input: string | number): number | undefined => {
  if (typeof input === "number") return input > 0 ? input : undefined
  const decoded = Duration.fromInput(input as Duration.Input)
  if (decoded._tag === "None") return undefined
  const millis = Duration.toMillis(decoded.value)
  return Number.isFinite(millis) && millis > 0 ? millis : undefined
}

type Fields = typeof TextRequest.Type | typeof TemplateRequest.Type

/** `true` when A and B name the same fields. */
type SameFields<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : false

// The hand decoder answers the Schema's own shapes, field for field: a field
// added to one and not the other fails to compile here (its answers must also
// be assignable to `Fields`, below), where the differential test only samples.
;[true, true] satisfies [
  SameFields<Extract<CommonFields, { readonly text: string }>, typeof TextRequest.Type>,
  SameFields<Extract<CommonFields, { readonly template: string }>, typeof TemplateRequest.Type>
]

/**
 * Decodes untrusted input into a request, or names the field that is wrong.
 *
 * @category decoding
 * @since 0.1.0
 */
export const decode = (input: unknown): Result.Result<DecodedRequest, InvalidRequest> => {
  if (!isRecord(input)) return refuse("request", "not an object")
  if ("text" in input && "template" in input) {
    return refuse("template", "not allowed together with text")
  }
  let request: Fields | undefined = decodeCommon(input)
  if (request === undefined) {
    const decoded: Result.Result<Fields, Schema.SchemaError> = "template" in input ? decodeTemplate(input) : decodeText(input)
    if (Result.isFailure(decoded)) {
      const { path, problem } = firstProblem(decoded.failure.issue)
      return refuse(fieldName(path) || "request", problemWords[problem])
    }
    request = decoded.success
  }
  const sendAt = request.sendAt === undefined ? undefined : parseTime(request.sendAt)
  if (request.sendAt !== undefined && sendAt === undefined) {
    return refuse("sendAt", "not a time")
  }
  const validity = request.validity === undefined ? undefined : parseDuration(request.validity)
  if (request.validity !== undefined && validity === undefined) {
    return refuse("validity", "not a positive duration")
  }
  return Result.succeed({
    to: request.to,
    content: "template" in request
      ? { _tag: "Template", id: request.template, variables: request.variables ?? {}, locale: request.locale }
      : { _tag: "Text", text: request.text },
    from: request.from,
    purpose: request.purpose ?? "transactional",
    idempotencyKey: request.idempotencyKey,
    sendAt,
    validity,
    tenant: request.tenant,
    metadata: request.metadata
  })
}
