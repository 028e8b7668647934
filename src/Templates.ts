/**
 * Message templates: versioned, per-locale texts with typed variables, an
 * approval status per version and a segment budget.
 *
 * **Details**
 * - A template is registered from a {@link TemplateDefinition}: an id, a
 *   version, one body per locale and its variables, declared as plain data
 *   (`{ code: "digits", minutes: "number" }`, no effect import needed), an
 *   Effect Schema struct, or any Standard Schema (zod, valibot). Bodies are parsed once, at registration, into literal and
 *   variable parts; rendering only concatenates them.
 * - Placeholders are `{{name}}` (whitespace inside the braces allowed). A
 *   literal brace is written `\{` or `\}`, a literal backslash before a brace
 *   `\\`. Single or unbalanced braces, `{{{`, unknown names, paths (`a.b`)
 *   and expressions are refused with `InvalidTemplate`.
 * - Values are inserted verbatim: a value containing `{{x}}` stays literal.
 *   Nothing is evaluated.
 * - Versions are immutable. Putting an existing version with other content
 *   fails with `TemplateVersionConflict`; putting it again with the same
 *   content changes nothing. A newly inserted version becomes active (unless
 *   `activate: false`); {@link Templates} `activate` rolls back or forward.
 * - Locales fall back `pt-BR → pt → default` and
 *   `zh-Hant-TW → zh-Hant → zh → default`; tags are compared in canonical
 *   BCP 47 case, so `PT-br` finds `pt-BR`.
 * - Storage is the {@link TemplateStore} service; {@link layerStoreMemory} is
 *   the default, {@link layerStoreKeyValue} keeps versions in any effect
 *   `KeyValueStore` (SQL, file system), and a Redis store implements the same
 *   five Effects.
 *
 * **Gotchas**
 * - The variables schema is code, not data: a version stored by another
 *   process renders here only once this process registered a definition for
 *   the same id and version.
 * - Error messages and fields name variables, never their values (they are
 *   often codes).
 *
 * **Example** (Register and render)
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Templates } from "smsforge"
 *
 * const program = Effect.gen(function*() {
 *   const templates = yield* Templates.Templates
 *   yield* templates.register({
 *     id: "otp",
 *     variables: Schema.Struct({ code: Schema.String, minutes: Schema.Number }),
 *     locales: { default: "Your code is {{code}}. It expires in {{ minutes }} minutes." }
 *   })
 *   const rendered = yield* templates.render({ id: "otp", variables: { code: "123456", minutes: 10 } })
 *   return rendered.text // => "Your code is 123456. It expires in 10 minutes."
 * }).pipe(Effect.provide(Templates.layerMemory))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as KeyValueStore from "effect/persistence/KeyValueStore"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { type CoreRegistry, registry } from "./internal/cores.ts"
import { loadKeyValueStore } from "./internal/lazy.ts"
import * as Tracing from "./internal/tracing.ts"
import type * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import type { StandardSchemaV1 } from "effect/StandardSchema"
import * as Encoding from "./Encoding.ts"
import { guard, StoreUnavailable } from "./Store.ts"
import { canonicalLocale, fallbackChain as chainOf } from "./internal/templates/locale.ts"
import { type Part as InternalPart, parseBody, renderParts } from "./internal/templates/parse.ts"

// models

/**
 * A version's approval by the carriers (Chinese carriers, for example, send
 * only approved templates).
 *
 * @category models
 * @since 0.1.0
 */
export type ApprovalStatus = "pending" | "approved" | "rejected"

/**
 * A sender signature such as `【Brand】`, added before (default) or after the
 * rendered text.
 *
 * @category models
 * @since 0.1.0
 */
export interface Signature {
  /** Inserted as is: include a space or separator when you want one. */
  readonly text: string
  readonly placement?: "prefix" | "suffix" | undefined
}

/**
 * The schema of a template's variables: an Effect Schema struct.
 *
 * @category models
 * @since 0.1.0
 */
export type VariablesSchema = Schema.Struct<Schema.Struct.Fields>

/**
 * A variable's type in a plain declaration: `"string"` (any text),
 * `"digits"` (a string of ASCII digits, leading zeros kept: codes, PINs) or
 * `"number"` (a finite number).
 *
 * @category models
 * @since 0.1.0
 */
export type VariableType = "string" | "digits" | "number"

/**
 * One variable in a plain declaration: its type, or its type with a length
 * cap on the rendered value and whether it may be left out.
 *
 * @category models
 * @since 0.1.0
 */
export type VariableSpec =
  | VariableType
  | {
    readonly type: VariableType
    /** Cap on the rendered value's length (UTF-16 units); a definition's `maxLength` wins. */
    readonly maxLength?: number | undefined
    /** May be left out (renders as empty); `false` when absent. */
    readonly optional?: boolean | undefined
  }

/**
 * Variables declared as plain data, without importing effect:
 * `{ name: "string", code: "digits", amount: { type: "number", optional: true } }`.
 *
 * @category models
 * @since 0.1.0
 */
export interface PlainVariables {
  readonly [name: string]: VariableSpec
}

/**
 * How a definition declares its variables: an Effect Schema struct, a
 * {@link PlainVariables} declaration, or any Standard Schema v1 object
 * schema (zod, valibot, arktype, `Schema.toStandardSchemaV1`).
 *
 * **Gotchas**
 * - A Standard Schema must validate synchronously; an async one fails every
 *   render with `InvalidTemplateVariables` (`wrong-type`, field `variables`).
 * - A Standard Schema's variable names are read from its `shape` (zod),
 *   `entries` (valibot) or `fields` (effect); for any other library they are
 *   the placeholders of the definition's bodies.
 *
 * @category models
 * @since 0.1.0
 */
export type VariablesDeclaration = VariablesSchema | PlainVariables | StandardSchemaV1

type PlainValue<T> = T extends "number" ? number : string
type SpecValue<V> = V extends VariableType ? PlainValue<V> : V extends { readonly type: infer T } ? PlainValue<T> : never
type IsOptional<V> = V extends { readonly optional: true } ? true : false

/**
 * The variables a render takes for a declaration, before decoding.
 *
 * @category models
 * @since 0.1.0
 */
export type VariablesInput<S> = S extends VariablesSchema ? S["Encoded"]
  : S extends StandardSchemaV1<infer I, unknown> ? I
  : S extends PlainVariables ?
      & { readonly [K in keyof S as IsOptional<S[K]> extends true ? never : K]: SpecValue<S[K]> }
      & { readonly [K in keyof S as IsOptional<S[K]> extends true ? K : never]?: SpecValue<S[K]> | undefined }
  : Readonly<Record<string, unknown>>

/**
 * The variable names of a declaration, for `maxLength` keys.
 *
 * @category models
 * @since 0.1.0
 */
export type VariableNames<S> = S extends VariablesSchema ? keyof S["fields"] & string
  : S extends PlainVariables ? keyof S & string
  : string

/**
 * A template version as code declares it.
 *
 * @category models
 * @since 0.1.0
 */
export interface TemplateDefinition<S extends VariablesDeclaration = VariablesDeclaration> {
  readonly id: string
  /** A positive integer; `1` when absent. */
  readonly version?: number | undefined
  /**
   * The variables: plain data (`{ code: "digits", minutes: "number" }`), an
   * Effect Schema struct, or a Standard Schema (see {@link VariablesDeclaration}).
   */
  readonly variables: S
  /** One body per locale: BCP 47 tags (`pt-BR`, `zh-Hant`) and `default`, the last fallback. */
  readonly locales: Readonly<Record<string, string>>
  /** Per-variable caps on the rendered value's length (UTF-16 units). */
  readonly maxLength?: { readonly [K in VariableNames<S>]?: number } | undefined
  /** The cap for variables without their own; the service's `maxVariableLength` (80) when absent. */
  readonly defaultMaxLength?: number | undefined
  readonly signature?: string | Signature | undefined
  /** The carrier's code for this version: one for all locales, or one per locale. */
  readonly providerTemplateCode?: string | Readonly<Record<string, string>> | undefined
  /** The initial approval status of a newly stored version; `"pending"` when absent. */
  readonly status?: ApprovalStatus | undefined
  /** Whether a newly stored version becomes active; `true` when absent. */
  readonly activate?: boolean | undefined
}

/**
 * One stored version of one locale of a template. Everything but `status`
 * is immutable.
 *
 * @category models
 * @since 0.1.0
 */
export interface TemplateVersion {
  readonly id: string
  /** Canonical BCP 47 tag or `"default"`. */
  readonly locale: string
  readonly version: number
  readonly body: string
  readonly providerTemplateCode?: string | undefined
  readonly signature?: Signature | undefined
  readonly status: ApprovalStatus
  /** Epoch milliseconds. */
  readonly createdAt: number
}

/**
 * A stored version and whether it is the active one of its locale.
 *
 * @category models
 * @since 0.1.0
 */
export interface StoredTemplate extends TemplateVersion {
  readonly active: boolean
}

/**
 * What to render.
 *
 * @category models
 * @since 0.1.0
 */
export interface RenderRequest {
  readonly id: string
  /** The recipient's locale; falls back to less specific ones, then `default`. */
  readonly locale?: string | undefined
  /** A fixed version; the active version of the chosen locale when absent. */
  readonly version?: number | undefined
  readonly variables: Readonly<Record<string, unknown>>
  /** ISO 3166 alpha-2 of the recipient; countries listed in `approvalRequiredCountries` require approval. */
  readonly country?: string | undefined
  /** Refuse a version that is not approved; decided by the route or country. */
  readonly requireApproval?: boolean | undefined
  /** Overrides the version's signature. */
  readonly signature?: string | Signature | undefined
}

/**
 * A rendered template.
 *
 * @category models
 * @since 0.1.0
 */
export interface Rendered {
  readonly id: string
  readonly version: number
  /** The locale actually used, after fallback. */
  readonly locale: string
  /** The full text, signature included. */
  readonly text: string
  readonly status: ApprovalStatus
  /** `status === "approved"`, what routes that require approval read. */
  readonly approved: boolean
  readonly providerTemplateCode?: string | undefined
  readonly signature?: string | undefined
  /** The decoded variables, for carriers that send by template code. */
  readonly variables: Readonly<Record<string, string | number>>
}

/**
 * The outcome of registering a definition, per locale.
 *
 * @category models
 * @since 0.1.0
 */
export interface Registered {
  readonly id: string
  readonly version: number
  readonly locales: ReadonlyArray<{ readonly locale: string; readonly outcome: PutOutcome }>
}

/**
 * Whether a put stored a new version or found the same content already there.
 *
 * @category models
 * @since 0.1.0
 */
export type PutOutcome = "inserted" | "unchanged"

/**
 * How to measure a template against a segment budget.
 *
 * @category models
 * @since 0.1.0
 */
export interface BudgetOptions {
  /** One locale (resolved with fallback); every locale when absent. */
  readonly locale?: string | undefined
  /** A fixed version; the active one when absent (service) — ignored by {@link budget}. */
  readonly version?: number | undefined
  readonly maxSegments: number
  /** Values to use instead of the generated worst case, by variable name. */
  readonly worstCase?: Readonly<Record<string, string>> | undefined
  /** Variables (or all, with `true`) whose worst case ends with a non-GSM character. */
  readonly unicode?: boolean | ReadonlyArray<string> | undefined
  /** The GSM character generated values are filled with; `"x"` when absent. */
  readonly fill?: string | undefined
  readonly signature?: string | Signature | undefined
  /** Passed to `Encoding.analyze`: smart encoding, national language shift tables. */
  readonly encoding?: Encoding.AnalyzeOptions | undefined
}

/**
 * One locale measured against the budget.
 *
 * @category models
 * @since 0.1.0
 */
export interface LocaleBudget {
  readonly locale: string
  readonly version: number
  /** The worst-case text measured (after smart encoding, when it applied). */
  readonly text: string
  readonly encoding: "GSM-7" | "UCS-2"
  readonly segments: number
  readonly units: number
  readonly unitsPerSegment: number
  readonly withinBudget: boolean
  /**
   * What makes it UCS-2: the locale's own text (or signature), or a
   * worst-case value (an override or a `unicode` variable).
   */
  readonly ucs2?: "template" | "worst-case" | undefined
  /**
   * What takes it over budget: the locale's text with every variable at its
   * cap in GSM characters, or only the worst-case values.
   */
  readonly overBudget?: "template" | "worst-case" | undefined
  readonly nonGsmCharacters: ReadonlyArray<string>
}

/**
 * A template measured against a segment budget, per locale.
 *
 * @category models
 * @since 0.1.0
 */
export interface BudgetReport {
  readonly id: string
  readonly maxSegments: number
  /** Every locale fits. */
  readonly ok: boolean
  readonly locales: ReadonlyArray<LocaleBudget>
}

/**
 * Options of the {@link Templates} service.
 *
 * @category models
 * @since 0.1.0
 */
export interface TemplatesOptions {
  /** The default cap on a variable's rendered length (UTF-16 units); 80. */
  readonly maxVariableLength?: number | undefined
  /** Countries (ISO 3166 alpha-2) where rendering requires an approved version unless the request says otherwise. */
  readonly approvalRequiredCountries?: ReadonlyArray<string> | undefined
  /** A signature for templates that declare none. */
  readonly signature?: string | Signature | undefined
  /** Definitions registered when the service is built. */
  readonly templates?: ReadonlyArray<TemplateDefinition> | undefined
}

/**
 * Declares a definition with its variable types inferred (an identity
 * function, for `maxLength` keys and typed renders).
 *
 * @category constructors
 * @since 0.1.0
 */
export const define = <const S extends VariablesDeclaration>(definition: TemplateDefinition<S>): TemplateDefinition<S> =>
  definition

/**
 * The variables a definition's renders take, as encoded (before decoding).
 *
 * @category models
 * @since 0.1.0
 */
export type VariablesOf<D> = D extends TemplateDefinition<infer S> ? VariablesInput<S> : never

// errors

/**
 * No template, locale or version matches.
 *
 * @category errors
 * @since 0.1.0
 */
export class TemplateNotFound extends Schema.TaggedError<TemplateNotFound>("smsforge/Templates/TemplateNotFound")(
  "TemplateNotFound",
  {
    field: Schema.String,
    id: Schema.String,
    locale: Schema.optional(Schema.String),
    version: Schema.optional(Schema.Number)
  }
) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A variable is missing, unexpected, of the wrong type or too long.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidTemplateVariables extends Schema.TaggedError<InvalidTemplateVariables>(
  "smsforge/Templates/InvalidTemplateVariables"
)("InvalidTemplateVariables", {
  /** `variables.<name>`, or `variables` when the variables are not an object. */
  field: Schema.String,
  /** The variable's name; `""` when the variables are not an object. */
  variable: Schema.String,
  problem: Schema.Literals(["missing", "unexpected", "wrong-type", "too-long"])
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The version is not approved, and the route or country requires approval.
 *
 * @category errors
 * @since 0.1.0
 */
export class TemplateNotApproved extends Schema.TaggedError<TemplateNotApproved>(
  "smsforge/Templates/TemplateNotApproved"
)("TemplateNotApproved", {
  field: Schema.String,
  id: Schema.String,
  version: Schema.Number,
  locale: Schema.String,
  status: Schema.Literals(["pending", "rejected"])
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A definition or body is malformed: bad placeholder, unbalanced braces,
 * bad locale tag, bad version or cap.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidTemplate extends Schema.TaggedError<InvalidTemplate>("smsforge/Templates/InvalidTemplate")(
  "InvalidTemplate",
  {
    /** For example `locales.pt-BR`, `version`, `maxLength.code`. */
    field: Schema.String,
    problem: Schema.String,
    /** UTF-16 index into the body, for body problems. */
    position: Schema.optional(Schema.Number)
  }
) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The version already exists with other content; versions are immutable.
 *
 * @category errors
 * @since 0.1.0
 */
export class TemplateVersionConflict extends Schema.TaggedError<TemplateVersionConflict>(
  "smsforge/Templates/TemplateVersionConflict"
)("TemplateVersionConflict", {
  field: Schema.String,
  id: Schema.String,
  locale: Schema.String,
  version: Schema.Number
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The template store holds a record that does not decode. A backend that
 * does not answer is {@link StoreUnavailable} instead.
 *
 * @category errors
 * @since 0.1.0
 */
export class TemplateStoreFailure extends Schema.TaggedError<TemplateStoreFailure>(
  "smsforge/Templates/TemplateStoreFailure"
)("TemplateStoreFailure", {
  field: Schema.String,
  /** The store operation: `put`, `get`, `list`, `activate`, `setStatus`. */
  operation: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The template store's backend did not answer in time or failed: the shared
 * store error, retryable.
 *
 * @category errors
 * @since 0.2.0
 */
export { StoreUnavailable } from "./Store.ts"

/**
 * Every reason a template operation can fail for.
 *
 * @category errors
 * @since 0.1.0
 */
export const TemplateErrorReason = Schema.Union([
  TemplateNotFound,
  InvalidTemplateVariables,
  TemplateNotApproved,
  InvalidTemplate,
  TemplateVersionConflict,
  TemplateStoreFailure,
  StoreUnavailable
])

/**
 * @category errors
 * @since 0.1.0
 */
export type TemplateErrorReason = typeof TemplateErrorReason.Type

/**
 * A failed template operation and its reason.
 *
 * @category errors
 * @since 0.1.0
 */
export class TemplateError extends Schema.TaggedError<TemplateError>("smsforge/TemplateError")("TemplateError", {
  reason: TemplateErrorReason
}) {
  override get message(): string {
    return "field" in this.reason ? `${this.reason._tag} (${this.reason.field})` : this.reason._tag
  }
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

const fail = (reason: TemplateErrorReason): TemplateError => new TemplateError({ reason })

// pure core

/**
 * A definition checked and parsed: what rendering and budgets run on.
 *
 * @category models
 * @since 0.1.0
 */
export interface CompiledTemplate {
  readonly id: string
  readonly version: number
  /** Declared variable names, in schema order. */
  readonly variables: ReadonlyArray<string>
  /** The effective length cap of each declared variable. */
  readonly maxLength: ReadonlyMap<string, number>
  /** Parsed bodies by canonical locale. */
  readonly locales: ReadonlyMap<string, CompiledLocale>
  readonly signature?: Signature | undefined
  readonly status: ApprovalStatus
  readonly activate: boolean
  /**
   * Checks variables against the schema and the caps; returns the decoded
   * values as text (for rendering) and as given to carriers.
   */
  readonly decode: (input: unknown) => Result.Result<DecodedVariables, InvalidTemplateVariables>
  /** Parses another body (for example one stored by another process) against the declared variables. */
  readonly parse: (locale: string, body: string) => Result.Result<ReadonlyArray<Part>, InvalidTemplate>
}

/**
 * One locale of a compiled template.
 *
 * @category models
 * @since 0.1.0
 */
export interface CompiledLocale {
  readonly locale: string
  readonly body: string
  readonly parts: ReadonlyArray<Part>
  readonly providerTemplateCode?: string | undefined
}

/**
 * Variables after decoding.
 *
 * @category models
 * @since 0.1.0
 */
export interface DecodedVariables {
  readonly text: ReadonlyMap<string, string>
  readonly values: Readonly<Record<string, string | number>>
}

/**
 * One piece of a parsed body: literal text, or a variable inserted verbatim.
 *
 * @category models
 * @since 0.1.0
 */
export type Part = InternalPart

const DEFAULT_MAX_VARIABLE_LENGTH = 80
const ID_MAX_LENGTH = 200

const isPositiveInteger = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n > 0

const normalizeSignature = (signature: string | Signature | undefined): Signature | undefined => {
  if (signature === undefined) return undefined
  const s = typeof signature === "string" ? { text: signature } : signature
  return { text: s.text, placement: s.placement ?? "prefix" }
}

const variableProblem = (
  issue: SchemaIssue.Issue,
  path: ReadonlyArray<PropertyKey>
): { readonly variable: string; readonly problem: InvalidTemplateVariables["problem"] } => {
  switch (issue._tag) {
    case "Pointer":
      return variableProblem(issue.issue, [...path, ...issue.path])
    case "Composite":
      return variableProblem(issue.issues[0], path)
    case "MissingKey":
      return { variable: String(path[0] ?? ""), problem: "missing" }
    case "UnexpectedKey":
      return { variable: String(path[0] ?? ""), problem: "unexpected" }
    case "Filter": {
      const representation = issue.filter.annotations?.["representation"]
      const filterId = typeof representation === "object" && representation !== null && "id" in representation
        ? String(representation.id)
        : ""
      return {
        variable: String(path[0] ?? ""),
        problem: filterId.endsWith("isMaxLength") ? "too-long" : "wrong-type"
      }
    }
    default:
      return { variable: String(path[0] ?? ""), problem: "wrong-type" }
  }
}

const withoutUndefined = (input: object): object => {
  const record = input as Readonly<Record<string, unknown>>
  for (const key in record) {
    if (Object.hasOwn(record, key) && record[key] === undefined) {
      const copy: Record<string, unknown> = {}
      for (const k of Object.keys(record)) {
        if (record[k] !== undefined) Object.defineProperty(copy, k, { value: record[k], enumerable: true, writable: true })
      }
      return copy
    }
  }
  return input
}

const MAX_NAME_IN_ERROR = 64

// variable declarations: Effect Schema, plain data or Standard Schema, each
// turned into names, caps and one decoder answering a variable and a problem

type VariableFailure = { readonly variable: string; readonly problem: InvalidTemplateVariables["problem"] }
type VariablesDecoder = (input: object) => Result.Result<unknown, VariableFailure>

type Declaration =
  | {
    readonly _tag: "Declared"
    readonly names: ReadonlyArray<string>
    readonly caps: ReadonlyMap<string, number>
    readonly decode: VariablesDecoder
  }
  | { readonly _tag: "Invalid"; readonly field: string; readonly problem: string }

const effectDecoder = (schema: Schema.Top): VariablesDecoder => {
  const decoder = SchemaParser.decodeUnknownResult(schema as unknown as Schema.Decoder<unknown>)
  return (input) => Result.mapError(decoder(input, { errors: "all", onExcessProperty: "error" }), (e) => variableProblem(e, []))
}

const Digits = Schema.String.check(Schema.isPattern(/^[0-9]+$/))
const plainTypes: Readonly<Record<VariableType, Schema.Top>> = { string: Schema.String, digits: Digits, number: Schema.Finite }

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null && !Array.isArray(u)

const plainDeclaration = (declared: Readonly<Record<string, unknown>>): Declaration => {
  const fields: Record<string, Schema.Top> = {}
  const caps = new Map<string, number>()
  for (const name of Object.keys(declared)) {
    const spec = declared[name]
    const type = typeof spec === "string" ? spec : isRecord(spec) ? spec["type"] : undefined
    const schema = typeof type === "string" && Object.hasOwn(plainTypes, type) ? plainTypes[type as VariableType] : undefined
    if (schema === undefined) {
      return { _tag: "Invalid", field: `variables.${name}`, problem: "a variable is \"string\", \"digits\" or \"number\", or { type, maxLength?, optional? }" }
    }
    if (isRecord(spec)) {
      for (const key of Object.keys(spec)) {
        if (key !== "type" && key !== "maxLength" && key !== "optional") {
          return { _tag: "Invalid", field: `variables.${name}.${key}`, problem: "unknown key (type, maxLength, optional)" }
        }
      }
      const cap = spec["maxLength"]
      if (cap !== undefined) {
        if (!isPositiveInteger(cap)) return { _tag: "Invalid", field: `variables.${name}.maxLength`, problem: "a length cap is a positive integer" }
        caps.set(name, cap)
      }
      if (spec["optional"] !== undefined && typeof spec["optional"] !== "boolean") {
        return { _tag: "Invalid", field: `variables.${name}.optional`, problem: "optional is a boolean" }
      }
    }
    fields[name] = isRecord(spec) && spec["optional"] === true ? Schema.optional(schema) : schema
  }
  return { _tag: "Declared", names: Object.keys(fields), caps, decode: effectDecoder(Schema.Struct(fields)) }
}

const isStandardSchema = (u: unknown): u is StandardSchemaV1 =>
  (typeof u === "object" || typeof u === "function") && u !== null && "~standard" in u &&
  isRecord((u as StandardSchemaV1)["~standard"]) && typeof (u as StandardSchemaV1)["~standard"].validate === "function"

/** The keys an object schema declares, where its library shows them (zod `shape`, valibot `entries`, effect `fields`). */
const declaredKeys = (schema: object): ReadonlyArray<string> | undefined => {
  for (const key of ["shape", "entries", "fields"] as const) {
    const value = (schema as Readonly<Record<string, unknown>>)[key]
    if (isRecord(value)) return Object.keys(value)
  }
  return undefined
}

const placeholders = (locales: unknown): ReadonlyArray<string> => {
  const names = new Set<string>()
  if (!isRecord(locales)) return []
  for (const body of Object.values(locales)) {
    if (typeof body !== "string") continue
    // a permissive parse, only to learn the names; the real parse checks the body
    for (const match of body.matchAll(/\{\{\s*([A-Za-z_$][\w$]*)\s*\}\}/g)) names.add(match[1]!)
  }
  return [...names]
}

const segmentKey = (segment: PropertyKey | StandardSchemaV1.PathSegment | undefined): string =>
  segment === undefined ? "" : typeof segment === "object" ? String(segment.key) : String(segment)

const standardDeclaration = (schema: StandardSchemaV1, locales: unknown): Declaration => {
  const names = declaredKeys(schema) ?? placeholders(locales)
  const declared = new Set(names)
  const decode: VariablesDecoder = (input) => {
    // unknown keys are refused whatever the library does with them
    for (const key of Object.keys(input)) {
      if (!declared.has(key)) return Result.fail({ variable: key, problem: "unexpected" })
    }
    let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>
    try {
      result = schema["~standard"].validate(input)
    } catch {
      // a validator that throws is the caller's bug; decoding still answers, never throws
      return Result.fail({ variable: "", problem: "wrong-type" })
    }
    if (result instanceof Promise) {
      result.catch(() => {}) // the answer is ignored; so is its failure
      return Result.fail({ variable: "", problem: "wrong-type" })
    }
    if (result.issues === undefined) return Result.succeed(result.value)
    const variable = segmentKey(result.issues[0]?.path?.[0])
    const missing = variable !== "" && (input as Readonly<Record<string, unknown>>)[variable] === undefined
    return Result.fail({ variable, problem: missing ? "missing" : "wrong-type" })
  }
  return { _tag: "Declared", names, caps: new Map(), decode }
}

const declarationOf = (variables: unknown, locales: unknown): Declaration => {
  if (Schema.isSchema(variables) && isRecord((variables as { readonly fields?: unknown }).fields)) {
    const schema = variables as VariablesSchema
    return { _tag: "Declared", names: Object.keys(schema.fields), caps: new Map(), decode: effectDecoder(schema) }
  }
  if (isStandardSchema(variables)) return standardDeclaration(variables, locales)
  if (isRecord(variables) && !Schema.isSchema(variables)) return plainDeclaration(variables)
  return {
    _tag: "Invalid",
    field: "variables",
    problem: "variables is a plain declaration ({ code: \"digits\" }), an Effect Schema struct or a Standard Schema"
  }
}

const invalidVariable = (name: string, problem: InvalidTemplateVariables["problem"]) => {
  // an unexpected key is caller input: keep errors small
  const variable = name.length > MAX_NAME_IN_ERROR ? `${name.slice(0, MAX_NAME_IN_ERROR)}…` : name
  return new InvalidTemplateVariables({
    field: variable === "" ? "variables" : `variables.${variable}`,
    variable,
    problem
  })
}

/**
 * Checks a definition and parses its bodies, without storing anything.
 *
 * **Details**
 * Use it in tests to fail on a malformed template before deployment; the
 * service runs it on `register`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const compile = <S extends VariablesDeclaration>(
  definition: TemplateDefinition<S>,
  options?: { readonly maxVariableLength?: number | undefined }
): Result.Result<CompiledTemplate, TemplateError> => {
  const invalid = (field: string, problem: string, position?: number) =>
    Result.fail(fail(new InvalidTemplate(position === undefined ? { field, problem } : { field, problem, position })))
  if (typeof definition.id !== "string" || definition.id.length === 0 || definition.id.length > ID_MAX_LENGTH) {
    return invalid("id", `an id is a non-empty string of at most ${ID_MAX_LENGTH} characters`)
  }
  const version = definition.version ?? 1
  if (!isPositiveInteger(version)) return invalid("version", "a version is a positive integer")
  const declaration = declarationOf(definition.variables, definition.locales)
  if (declaration._tag === "Invalid") return invalid(declaration.field, declaration.problem)
  const names = declaration.names
  for (const name of names) {
    if (name === "__proto__" || name === "constructor" || name === "prototype") {
      return invalid(`variables.${name}`, "a reserved name cannot be a variable")
    }
  }
  const declared = new Set(names)
  const defaultCap = definition.defaultMaxLength ?? options?.maxVariableLength ?? DEFAULT_MAX_VARIABLE_LENGTH
  if (!isPositiveInteger(defaultCap)) return invalid("defaultMaxLength", "a length cap is a positive integer")
  const maxLength = new Map<string, number>()
  for (const name of names) maxLength.set(name, declaration.caps.get(name) ?? defaultCap)
  const caps: Readonly<Record<string, number | undefined>> = definition.maxLength ?? {}
  for (const name of Object.keys(caps)) {
    const cap = caps[name]
    if (!declared.has(name)) return invalid(`maxLength.${name}`, "not a declared variable")
    if (cap === undefined) continue
    if (!isPositiveInteger(cap)) return invalid(`maxLength.${name}`, "a length cap is a positive integer")
    maxLength.set(name, cap)
  }
  const signature = normalizeSignature(definition.signature)
  if (signature !== undefined) {
    if (typeof signature.text !== "string" || signature.text.length === 0) {
      return invalid("signature", "a signature is a non-empty string")
    }
    if (signature.placement !== "prefix" && signature.placement !== "suffix") {
      return invalid("signature.placement", "placement is \"prefix\" or \"suffix\"")
    }
  }
  const status = definition.status ?? "pending"
  if (status !== "pending" && status !== "approved" && status !== "rejected") {
    return invalid("status", "status is \"pending\", \"approved\" or \"rejected\"")
  }
  const parse = (locale: string, body: string): Result.Result<ReadonlyArray<Part>, InvalidTemplate> => {
    if (typeof body !== "string") {
      return Result.fail(new InvalidTemplate({ field: `locales.${locale}`, problem: "a body is a string" }))
    }
    const parsed = parseBody(body, declared)
    return parsed._tag === "Parsed"
      ? Result.succeed(parsed.parts)
      : Result.fail(
        new InvalidTemplate({
          field: `locales.${locale}`,
          problem: parsed.problem.problem,
          position: parsed.problem.position
        })
      )
  }
  const codes = definition.providerTemplateCode
  const codeByLocale = new Map<string, string>()
  if (codes !== undefined && typeof codes !== "string") {
    for (const [tag, code] of Object.entries(codes)) {
      const locale = canonicalLocale(tag)
      if (locale === undefined) return invalid(`providerTemplateCode.${tag}`, "not a BCP 47 locale tag")
      if (typeof code !== "string" || code.length === 0) {
        return invalid(`providerTemplateCode.${tag}`, "a provider template code is a non-empty string")
      }
      codeByLocale.set(locale, code)
    }
  } else if (typeof codes === "string" && codes.length === 0) {
    return invalid("providerTemplateCode", "a provider template code is a non-empty string")
  }
  const locales = new Map<string, CompiledLocale>()
  const bodies = Object.entries(definition.locales ?? {})
  if (bodies.length === 0) return invalid("locales", "at least one locale body is required")
  for (const [tag, body] of bodies) {
    const locale = canonicalLocale(tag)
    if (locale === undefined) return invalid(`locales.${tag}`, "not a BCP 47 locale tag (or \"default\")")
    if (locales.has(locale)) return invalid(`locales.${tag}`, `duplicate of locale ${locale}`)
    const parts = parse(tag, body)
    if (Result.isFailure(parts)) return Result.fail(fail(parts.failure))
    const providerTemplateCode = typeof codes === "string" ? codes : codeByLocale.get(locale)
    locales.set(locale, {
      locale,
      body,
      parts: parts.success,
      ...(providerTemplateCode !== undefined ? { providerTemplateCode } : {})
    })
  }
  for (const locale of codeByLocale.keys()) {
    if (!locales.has(locale)) return invalid(`providerTemplateCode.${locale}`, "no body for this locale")
  }
  const decoder = declaration.decode
  const decode = (input: unknown): Result.Result<DecodedVariables, InvalidTemplateVariables> => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      return Result.fail(invalidVariable("", "wrong-type"))
    }
    // an explicit `undefined` reads as absent: "missing" for a required variable
    const decoded = decoder(withoutUndefined(input))
    if (Result.isFailure(decoded)) return Result.fail(invalidVariable(decoded.failure.variable, decoded.failure.problem))
    const record = decoded.success as Readonly<Record<string, unknown>>
    const text = new Map<string, string>()
    const values: Record<string, string | number> = {}
    for (const name of names) {
      if (!Object.hasOwn(record, name)) continue
      const value = record[name]
      let asText: string
      if (value === undefined) continue
      if (typeof value === "string") {
        asText = value
        values[name] = value
      } else if (typeof value === "number") {
        if (!Number.isFinite(value)) return Result.fail(invalidVariable(name, "wrong-type"))
        asText = String(value)
        values[name] = value
      } else if (typeof value === "boolean" || typeof value === "bigint") {
        asText = String(value)
        values[name] = asText
      } else {
        return Result.fail(invalidVariable(name, "wrong-type"))
      }
      if (asText.length > (maxLength.get(name) ?? defaultCap)) return Result.fail(invalidVariable(name, "too-long"))
      text.set(name, asText)
    }
    return Result.succeed({ text, values })
  }
  return Result.succeed({
    id: definition.id,
    version,
    variables: names,
    maxLength,
    locales,
    ...(signature !== undefined ? { signature } : {}),
    status,
    activate: definition.activate ?? true,
    decode,
    parse
  })
}

const sign = (text: string, signature: Signature | undefined): string =>
  signature === undefined ? text : signature.placement === "suffix" ? text + signature.text : signature.text + text

/**
 * The locales to try for a requested locale, most specific first, ending
 * with `"default"`: `zh-Hant-TW → zh-Hant → zh → default`.
 *
 * @category utils
 * @since 0.1.0
 */
export const fallbackChain = (locale: string | undefined): ReadonlyArray<string> => chainOf(locale)

/**
 * The canonical case of a BCP 47 tag (`pt-br` → `pt-BR`, `ZH-hant-tw` →
 * `zh-Hant-TW`); `undefined` when malformed.
 *
 * @category utils
 * @since 0.1.0
 */
export const normalizeLocale = (locale: string): string | undefined => canonicalLocale(locale)

/**
 * Renders a compiled template without a store: locale fallback, variables,
 * signature. Approval is the service's business.
 *
 * @category utils
 * @since 0.1.0
 */
export const renderCompiled = (
  template: CompiledTemplate,
  request: {
    readonly locale?: string | undefined
    readonly variables: unknown
    readonly signature?: string | Signature | undefined
  }
): Result.Result<Rendered, TemplateError> => {
  let chosen: CompiledLocale | undefined
  for (const locale of chainOf(request.locale)) {
    chosen = template.locales.get(locale)
    if (chosen !== undefined) break
  }
  if (chosen === undefined) {
    return Result.fail(fail(
      new TemplateNotFound({
        field: "locale",
        id: template.id,
        version: template.version,
        ...(request.locale !== undefined ? { locale: request.locale } : {})
      })
    ))
  }
  const decoded = template.decode(request.variables)
  if (Result.isFailure(decoded)) return Result.fail(fail(decoded.failure))
  const signature = normalizeSignature(request.signature) ?? template.signature
  return Result.succeed({
    id: template.id,
    version: template.version,
    locale: chosen.locale,
    text: sign(renderParts(chosen.parts, decoded.success.text), signature),
    status: template.status,
    approved: template.status === "approved",
    ...(chosen.providerTemplateCode !== undefined ? { providerTemplateCode: chosen.providerTemplateCode } : {}),
    ...(signature !== undefined ? { signature: signature.text } : {}),
    variables: decoded.success.values
  })
}

// budget

const UNICODE_SAMPLE = "\u4E2D"

const measure = (
  locale: string,
  version: number,
  parts: ReadonlyArray<Part>,
  maxLength: ReadonlyMap<string, number>,
  signature: Signature | undefined,
  options: BudgetOptions
): LocaleBudget => {
  const fill = options.fill !== undefined && options.fill.length > 0 ? options.fill : "x"
  const generated = (name: string): string => {
    const cap = maxLength.get(name) ?? DEFAULT_MAX_VARIABLE_LENGTH
    return fill.repeat(Math.ceil(cap / fill.length)).slice(0, cap)
  }
  const unicodeFor = (name: string): boolean =>
    options.unicode === true || (Array.isArray(options.unicode) && options.unicode.includes(name))
  const baseline = new Map<string, string>()
  const worst = new Map<string, string>()
  for (const part of parts) {
    if (part._tag !== "Variable" || baseline.has(part.name)) continue
    const value = generated(part.name)
    baseline.set(part.name, value)
    const override = options.worstCase !== undefined && Object.hasOwn(options.worstCase, part.name)
      ? options.worstCase[part.name]
      : undefined
    worst.set(
      part.name,
      override ?? (unicodeFor(part.name) ? value.slice(0, Math.max(0, value.length - 1)) + UNICODE_SAMPLE : value)
    )
  }
  const base = Encoding.analyze(sign(renderParts(parts, baseline), signature), options.encoding)
  const analysis = Encoding.analyze(sign(renderParts(parts, worst), signature), options.encoding)
  const text = analysis.text
  const segments = analysis.segments.length
  return {
    locale,
    version,
    text,
    encoding: analysis.encoding,
    segments,
    units: analysis.units,
    unitsPerSegment: analysis.unitsPerSegment,
    withinBudget: segments <= options.maxSegments,
    ...(analysis.encoding === "UCS-2"
      ? { ucs2: base.encoding === "UCS-2" ? "template" as const : "worst-case" as const }
      : {}),
    ...(segments > options.maxSegments
      ? { overBudget: base.segments.length > options.maxSegments ? "template" as const : "worst-case" as const }
      : {}),
    nonGsmCharacters: analysis.nonGsmCharacters
  }
}

const report = (id: string, maxSegments: number, locales: ReadonlyArray<LocaleBudget>): BudgetReport => ({
  id,
  maxSegments,
  ok: locales.every((l) => l.withinBudget),
  locales
})

/**
 * Measures a definition against a segment budget, per locale, with
 * worst-case variable values: each variable at its length cap, filled with a
 * GSM character, optionally ending with a non-GSM one.
 *
 * **Details**
 * Pure; use it in your own tests (`assert.isTrue(Templates.budget(otp, { maxSegments: 1 }).pipe(Result.getOrThrow).ok)`).
 * The service's `checkBudget` does the same for stored versions.
 *
 * @category utils
 * @since 0.1.0
 */
export const budget = <S extends VariablesDeclaration>(
  definition: TemplateDefinition<S>,
  options: BudgetOptions & { readonly maxVariableLength?: number | undefined }
): Result.Result<BudgetReport, TemplateError> => {
  const compiled = compile(definition, options)
  if (Result.isFailure(compiled)) return Result.fail(compiled.failure)
  const template = compiled.success
  const invalidOptions = checkBudgetOptions(options) ?? checkWorstCase(options, template)
  if (invalidOptions !== undefined) return Result.fail(invalidOptions)
  let locales: Array<CompiledLocale>
  if (options.locale !== undefined) {
    const found = chainOf(options.locale).map((l) => template.locales.get(l)).find((l) => l !== undefined)
    if (found === undefined) {
      return Result.fail(fail(new TemplateNotFound({ field: "locale", id: template.id, locale: options.locale })))
    }
    locales = [found]
  } else {
    locales = [...template.locales.values()]
  }
  const signature = normalizeSignature(options.signature) ?? template.signature
  return Result.succeed(
    report(
      template.id,
      options.maxSegments,
      locales.map((l) => measure(l.locale, template.version, l.parts, template.maxLength, signature, options))
    )
  )
}

const checkBudgetOptions = (options: BudgetOptions): TemplateError | undefined => {
  if (!isPositiveInteger(options.maxSegments)) {
    return fail(new InvalidTemplate({ field: "maxSegments", problem: "a segment budget is a positive integer" }))
  }
  if (options.fill !== undefined && (options.fill.length === 0 || Encoding.analyze(options.fill).encoding !== "GSM-7")) {
    return fail(new InvalidTemplate({ field: "fill", problem: "fill is a non-empty GSM-7 text" }))
  }
  return undefined
}

const checkWorstCase = (options: BudgetOptions, template: CompiledTemplate): TemplateError | undefined => {
  const names = [
    ...Object.keys(options.worstCase ?? {}),
    ...(Array.isArray(options.unicode) ? options.unicode : [])
  ]
  for (const name of names) {
    if (!template.variables.includes(name)) {
      return fail(new InvalidTemplate({
        field: options.worstCase !== undefined && Object.hasOwn(options.worstCase, name)
          ? `worstCase.${name}`
          : "unicode",
        problem: `'${name}' is not a declared variable`
      }))
    }
  }
  return undefined
}

// service

/**
 * The memory service's synchronous core, for the send path (internal/cores.ts).
 *
 * @internal
 */
export interface TemplatesCore {
  /** The rendered text, or `undefined` when `Templates.render` must explain why not. */
  readonly render: (request: RenderRequest) => Rendered | undefined
}

/** @internal */
export const cores: CoreRegistry<TemplatesCore> = registry()

/**
 * Registers, renders, activates and approves templates.
 *
 * @category services
 * @since 0.1.0
 */
export class Templates extends Context.Service<Templates, {
  /** Checks, parses and stores a definition's locales as one version. */
  readonly register: <S extends VariablesDeclaration>(
    definition: TemplateDefinition<S>
  ) => Effect.Effect<Registered, TemplateError>
  /** Renders the active (or a given) version in the best matching locale. */
  readonly render: (request: RenderRequest) => Effect.Effect<Rendered, TemplateError>
  /** Makes a stored version the active one of its locale (rollback or roll forward). */
  readonly activate: (id: string, locale: string, version: number) => Effect.Effect<void, TemplateError>
  /** Marks a stored version approved. */
  readonly approve: (id: string, locale: string, version: number) => Effect.Effect<void, TemplateError>
  /** Sets a stored version's approval status. */
  readonly setStatus: (
    id: string,
    locale: string,
    version: number,
    status: ApprovalStatus
  ) => Effect.Effect<void, TemplateError>
  /** Every stored version of a template, all locales. */
  readonly versions: (id: string) => Effect.Effect<ReadonlyArray<StoredTemplate>, TemplateError>
  /** Measures the active (or a given) version of each locale against a segment budget. */
  readonly checkBudget: (id: string, options: BudgetOptions) => Effect.Effect<BudgetReport, TemplateError>
}>()("smsforge/Templates") {}

const keyOf = (id: string, version: number) => `${id}\u0000${version}`

const localeParam = (id: string, locale: string): Effect.Effect<string, TemplateError> => {
  const canonical = canonicalLocale(locale)
  return canonical === undefined
    ? Effect.fail(fail(new TemplateNotFound({ field: "locale", id, locale })))
    : Effect.succeed(canonical)
}

/** The store as the service calls it: a backend outage is a {@link TemplateError} like any other reason. */
const liftStore = (store: TemplateStore["Service"]) => {
  const lift = <A>(effect: Effect.Effect<A, TemplateError | StoreUnavailable>): Effect.Effect<A, TemplateError> =>
    Effect.catchTag(effect, "StoreUnavailable", (reason) => Effect.fail(fail(reason)))
  return {
    put: (version: TemplateVersion, options?: { readonly activate?: boolean | undefined }) => lift(store.put(version, options)),
    get: (id: string, locale: string, version?: number | undefined) => lift(store.get(id, locale, version)),
    list: (id: string) => lift(store.list(id)),
    activate: (id: string, locale: string, version: number) => lift(store.activate(id, locale, version)),
    setStatus: (id: string, locale: string, version: number, status: ApprovalStatus) =>
      lift(store.setStatus(id, locale, version, status))
  }
}

/** What the service's functions share: the store, the options as they run, and what registration compiled. */
interface TemplatesState {
  readonly store: ReturnType<typeof liftStore>
  readonly maxVariableLength: number
  /** Upper-case country codes whose sends need an approved version. */
  readonly approvalCountries: ReadonlySet<string>
  readonly defaultSignature: Signature | undefined
  /** Compiled definitions by {@link keyOf}. */
  readonly definitions: Map<string, CompiledTemplate>
  /** Parsed bodies by {@link partsKey}. */
  readonly partsCache: Map<string, ReadonlyArray<Part>>
}

const partsKey = (id: string, locale: string, version: number) => `${id}\u0000${locale}\u0000${version}`

const makeState = (rawStore: TemplateStore["Service"], options: TemplatesOptions): TemplatesState => ({
  store: liftStore(rawStore),
  maxVariableLength: options.maxVariableLength ?? DEFAULT_MAX_VARIABLE_LENGTH,
  approvalCountries: new Set((options.approvalRequiredCountries ?? []).map((c) => c.toUpperCase())),
  defaultSignature: normalizeSignature(options.signature),
  definitions: new Map(),
  partsCache: new Map()
})

const definitionOf = (state: TemplatesState, id: string, version: number, locale: string) => {
  const template = state.definitions.get(keyOf(id, version))
  return template === undefined
    ? Effect.fail(fail(new TemplateNotFound({ field: "version", id, locale, version })))
    : Effect.succeed(template)
}

/** A stored version's body as parts, parsed once and cached. */
const cachedParts = (
  state: TemplatesState,
  template: CompiledTemplate,
  stored: TemplateVersion
): Result.Result<ReadonlyArray<Part>, TemplateError> => {
  const key = partsKey(stored.id, stored.locale, stored.version)
  const cached = state.partsCache.get(key)
  if (cached !== undefined) return Result.succeed(cached)
  const parsed = template.parse(stored.locale, stored.body)
  if (Result.isFailure(parsed)) return Result.fail(fail(parsed.failure))
  state.partsCache.set(key, parsed.success)
  return Result.succeed(parsed.success)
}

/** Fails with the `TemplateNotFound` that names what is missing: the template, the version or the locale. */
const notFound = (state: TemplatesState, id: string, locale: string | undefined, version: number | undefined) =>
  Effect.flatMap(state.store.list(id), (all) =>
    Effect.fail(fail(
      new TemplateNotFound({
        field: all.length === 0 ? "template" : version !== undefined ? "version" : "locale",
        id,
        ...(locale !== undefined ? { locale } : {}),
        ...(version !== undefined ? { version } : {})
      })
    )))

/** The stored version for the best locale of the fallback chain. */
const resolve = Effect.fnUntraced(
  function*(state: TemplatesState, id: string, locale: string | undefined, version: number | undefined) {
    for (const candidate of chainOf(locale)) {
      const found = yield* state.store.get(id, candidate, version)
      if (Option.isSome(found)) return found.value
    }
    return yield* notFound(state, id, locale, version)
  }
)

/** The stored record of each locale of a compiled definition; a version stored with other content conflicts. */
const recordsOf = Effect.fnUntraced(function*(state: TemplatesState, template: CompiledTemplate) {
  const createdAt = yield* Clock.currentTimeMillis
  const records: Array<TemplateVersion> = []
  for (const l of template.locales.values()) {
    const record: TemplateVersion = {
      id: template.id,
      locale: l.locale,
      version: template.version,
      body: l.body,
      ...(l.providerTemplateCode !== undefined ? { providerTemplateCode: l.providerTemplateCode } : {}),
      ...(template.signature !== undefined ? { signature: template.signature } : {}),
      status: template.status,
      createdAt
    }
    const existing = yield* state.store.get(template.id, l.locale, template.version)
    if (Option.isSome(existing) && !sameContent(existing.value, record)) {
      return yield* Effect.fail(fail(
        new TemplateVersionConflict({
          field: "version",
          id: template.id,
          locale: l.locale,
          version: template.version
        })
      ))
    }
    records.push(record)
  }
  return records
})

const register = <S extends VariablesDeclaration>(state: TemplatesState, definition: TemplateDefinition<S>) =>
  Effect.gen(function*() {
    const compiled = compile(definition, { maxVariableLength: state.maxVariableLength })
    if (Result.isFailure(compiled)) return yield* Effect.fail(compiled.failure)
    const template = compiled.success
    const records = yield* recordsOf(state, template)
    const outcomes: Array<{ readonly locale: string; readonly outcome: PutOutcome }> = []
    for (const record of records) {
      const outcome = yield* state.store.put(record, { activate: template.activate })
      outcomes.push({ locale: record.locale, outcome })
    }
    state.definitions.set(keyOf(template.id, template.version), template)
    for (const l of template.locales.values()) {
      state.partsCache.set(partsKey(template.id, l.locale, template.version), l.parts)
    }
    return { id: template.id, version: template.version, locales: outcomes }
  }).pipe(Effect.withSpan("smsforge/Templates.register", { attributes: { template: definition.id } }))

/** Refuses an unapproved version where the request or its country requires approval. */
const approvalRefusal = (
  state: TemplatesState,
  stored: TemplateVersion,
  request: RenderRequest
): TemplateError | undefined => {
  const required = request.requireApproval ??
    (request.country !== undefined && state.approvalCountries.has(request.country.toUpperCase()))
  if (!required || stored.status === "approved") return undefined
  return fail(
    new TemplateNotApproved({
      field: "template",
      id: stored.id,
      version: stored.version,
      locale: stored.locale,
      status: stored.status
    })
  )
}

// What render does once the stored version is found; shared by the Effect
// method and the synchronous core.
const finish = (state: TemplatesState, stored: TemplateVersion, request: RenderRequest): Result.Result<Rendered, TemplateError> => {
  const template = state.definitions.get(keyOf(stored.id, stored.version))
  if (template === undefined) {
    return Result.fail(fail(new TemplateNotFound({ field: "version", id: stored.id, locale: stored.locale, version: stored.version })))
  }
  const refusal = approvalRefusal(state, stored, request)
  if (refusal !== undefined) return Result.fail(refusal)
  const parts = cachedParts(state, template, stored)
  if (Result.isFailure(parts)) return Result.fail(parts.failure)
  const decoded = template.decode(request.variables)
  if (Result.isFailure(decoded)) return Result.fail(fail(decoded.failure))
  const signature = normalizeSignature(request.signature) ?? stored.signature ?? state.defaultSignature
  return Result.succeed({
    id: stored.id,
    version: stored.version,
    locale: stored.locale,
    text: sign(renderParts(parts.success, decoded.success.text), signature),
    status: stored.status,
    approved: stored.status === "approved",
    ...(stored.providerTemplateCode !== undefined ? { providerTemplateCode: stored.providerTemplateCode } : {}),
    ...(signature !== undefined ? { signature: signature.text } : {}),
    variables: decoded.success.values
  })
}

const renderWith = (state: TemplatesState) =>
  Effect.fnUntraced(
    function*(request: RenderRequest) {
      const stored = yield* resolve(state, request.id, request.locale, request.version)
      return yield* Effect.fromResult(finish(state, stored, request))
    },
    (effect, request) => Tracing.withSpan(effect, "smsforge/Templates.render", { template: request.id })
  )

// Only what renders: a refusal is for the Effect method to explain (naming
// the missing field takes the store's list).
const makeCore = (state: TemplatesState, rawStore: TemplateStore["Service"]): TemplatesCore | undefined => {
  const storeCore = storeCores.of(rawStore)
  return storeCore === undefined ? undefined : {
    render: (request) => {
      const chain = chainOf(request.locale)
      for (let i = 0; i < chain.length; i++) {
        const stored = storeCore.get(request.id, chain[i]!, request.version)
        if (stored === undefined) continue
        const rendered = finish(state, stored, request)
        return Result.isSuccess(rendered) ? rendered.success : undefined
      }
      return undefined
    }
  }
}

const setStatus = (state: TemplatesState, id: string, locale: string, version: number, status: ApprovalStatus) =>
  Effect.flatMap(localeParam(id, locale), (canonical) => state.store.setStatus(id, canonical, version, status))

/** The versions a budget check measures: one locale's, or every locale's active (or given) version. */
const budgetVersions = Effect.fnUntraced(function*(state: TemplatesState, id: string, options: BudgetOptions) {
  if (options.locale !== undefined) {
    return [yield* resolve(state, id, options.locale, options.version)]
  }
  const all = yield* state.store.list(id)
  const chosen = all.filter((v) => options.version !== undefined ? v.version === options.version : v.active)
  if (chosen.length === 0) return yield* notFound(state, id, undefined, options.version)
  return chosen
})

const checkBudget = (state: TemplatesState, id: string, options: BudgetOptions) =>
  Effect.gen(function*() {
    const invalidOptions = checkBudgetOptions(options)
    if (invalidOptions !== undefined) return yield* Effect.fail(invalidOptions)
    const chosen: ReadonlyArray<TemplateVersion> = yield* budgetVersions(state, id, options)
    const measured: Array<LocaleBudget> = []
    for (const stored of chosen) {
      const template = yield* definitionOf(state, stored.id, stored.version, stored.locale)
      const invalidWorstCase = checkWorstCase(options, template)
      if (invalidWorstCase !== undefined) return yield* Effect.fail(invalidWorstCase)
      const parts = yield* Effect.fromResult(cachedParts(state, template, stored))
      const signature = normalizeSignature(options.signature) ?? stored.signature ?? state.defaultSignature
      measured.push(measure(stored.locale, stored.version, parts, template.maxLength, signature, options))
    }
    return report(id, options.maxSegments, measured)
  })

const build = Effect.fnUntraced(function*(options: TemplatesOptions) {
  const rawStore = yield* TemplateStore
  const state = makeState(rawStore, options)
  const core = makeCore(state, rawStore)
  const service = Templates.of({
    register: (definition) => register(state, definition),
    render: renderWith(state),
    activate: (id, locale, version) =>
      Effect.flatMap(localeParam(id, locale), (canonical) => state.store.activate(id, canonical, version)),
    approve: (id, locale, version) => setStatus(state, id, locale, version, "approved"),
    setStatus: (id, locale, version, status) => setStatus(state, id, locale, version, status),
    versions: (id) => state.store.list(id),
    checkBudget: (id, options) => checkBudget(state, id, options)
  })
  return core === undefined ? service : cores.register(service, core)
})

/**
 * Renders a template from its definition, with the variables typed by the
 * definition's schema. The active version renders unless `version` is given.
 *
 * **Example** (Typed variables)
 * ```ts
 * const otp = Templates.define({ id: "otp", variables: Schema.Struct({ code: Schema.String }), locales: { default: "{{code}}" } })
 * Templates.render(otp, { variables: { code: "1234" }, locale: "de" })
 * // Templates.render(otp, { variables: { code: 1234 } })  — a type error
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const render = <S extends VariablesDeclaration>(
  definition: TemplateDefinition<S>,
  request: Omit<RenderRequest, "id" | "variables"> & { readonly variables: VariablesInput<S> }
): Effect.Effect<Rendered, TemplateError, Templates> =>
  Effect.flatMap(Effect.service(Templates), (templates) =>
    templates.render({ ...request, id: definition.id, variables: request.variables as Readonly<Record<string, unknown>> }))

/**
 * Builds the service over the {@link TemplateStore} in context and registers
 * `options.templates`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: TemplatesOptions = {}) {
  const templates = yield* build(options)
  for (const definition of options.templates ?? []) {
    yield* templates.register(definition)
  }
  return templates
})

/**
 * The {@link Templates} service over the {@link TemplateStore} in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: TemplatesOptions = {}): Layer.Layer<Templates, TemplateError, TemplateStore> =>
  Layer.effect(Templates, make(options))

// store

/**
 * The memory store's synchronous core, for the send path (internal/cores.ts).
 *
 * @internal
 */
export interface TemplateStoreCore {
  /** The version asked for, or the active one. */
  readonly get: (id: string, locale: string, version: number | undefined) => TemplateVersion | undefined
}

/** @internal */
export const storeCores: CoreRegistry<TemplateStoreCore> = registry()

/**
 * Where template versions live. Versions are immutable; only the approval
 * status and which version is active change.
 *
 * **Details**
 * Locales arrive canonical (`pt-BR`, `default`); a store compares them as
 * plain strings. `put` must be atomic per version: of two processes putting
 * different content for one version, one gets `TemplateVersionConflict`.
 * A backend that does not answer fails with {@link StoreUnavailable}, which
 * the service reports as a `TemplateError` with that reason.
 *
 * @category services
 * @since 0.1.0
 */
export class TemplateStore extends Context.Service<TemplateStore, {
  /**
   * Stores a new version (`"inserted"`, and active unless `activate: false`)
   * or finds the same content (`"unchanged"`, nothing changes); other content
   * for an existing version fails with `TemplateVersionConflict`.
   */
  readonly put: (
    version: TemplateVersion,
    options?: { readonly activate?: boolean | undefined }
  ) => Effect.Effect<PutOutcome, TemplateError | StoreUnavailable>
  /** One version, or the active one when `version` is absent. */
  readonly get: (
    id: string,
    locale: string,
    version?: number | undefined
  ) => Effect.Effect<Option.Option<StoredTemplate>, TemplateError | StoreUnavailable>
  /** Every version of every locale of a template, by locale then version. */
  readonly list: (id: string) => Effect.Effect<ReadonlyArray<StoredTemplate>, TemplateError | StoreUnavailable>
  /** Makes an existing version active; `TemplateNotFound` otherwise. */
  readonly activate: (id: string, locale: string, version: number) => Effect.Effect<void, TemplateError | StoreUnavailable>
  /** Sets an existing version's approval status; `TemplateNotFound` otherwise. */
  readonly setStatus: (
    id: string,
    locale: string,
    version: number,
    status: ApprovalStatus
  ) => Effect.Effect<void, TemplateError | StoreUnavailable>
}>()("smsforge/Templates/TemplateStore") {}

/**
 * Whether two records hold the same immutable content (status and creation
 * time aside).
 *
 * @category utils
 * @since 0.1.0
 */
export const sameContent = (a: TemplateVersion, b: TemplateVersion): boolean =>
  a.id === b.id &&
  a.locale === b.locale &&
  a.version === b.version &&
  a.body === b.body &&
  a.providerTemplateCode === b.providerTemplateCode &&
  a.signature?.text === b.signature?.text &&
  (a.signature?.placement ?? "prefix") === (b.signature?.placement ?? "prefix")

/**
 * A store in process memory.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeStoreMemory = (): TemplateStore["Service"] => {
  // id → locale → version → record
  const byId = new Map<string, Map<string, Map<number, TemplateVersion>>>()
  const active = new Map<string, number>()
  const activeKey = (id: string, locale: string) => `${id}\u0000${locale}`
  const lookup = (id: string, locale: string, version: number) => byId.get(id)?.get(locale)?.get(version)
  const missing = (id: string, locale: string, version: number) =>
    Effect.fail(fail(new TemplateNotFound({ field: "version", id, locale, version })))
  const withActive = (record: TemplateVersion): StoredTemplate => ({
    ...record,
    active: active.get(activeKey(record.id, record.locale)) === record.version
  })
  const core: TemplateStoreCore = {
    get: (id, locale, version) => {
      const v = version ?? active.get(activeKey(id, locale))
      return v === undefined ? undefined : lookup(id, locale, v)
    }
  }
  return storeCores.register(TemplateStore.of({
    put: (record, options) =>
      Effect.suspend(() => {
        const existing = lookup(record.id, record.locale, record.version)
        if (existing !== undefined) {
          return sameContent(existing, record)
            ? Effect.succeed("unchanged" as const)
            : Effect.fail(fail(
              new TemplateVersionConflict({
                field: "version",
                id: record.id,
                locale: record.locale,
                version: record.version
              })
            ))
        }
        let locales = byId.get(record.id)
        if (locales === undefined) byId.set(record.id, locales = new Map())
        let versions = locales.get(record.locale)
        if (versions === undefined) locales.set(record.locale, versions = new Map())
        versions.set(record.version, { ...record })
        if (options?.activate ?? true) active.set(activeKey(record.id, record.locale), record.version)
        return Effect.succeed("inserted" as const)
      }),
    get: (id, locale, version) =>
      Effect.sync(() => {
        const record = core.get(id, locale, version)
        return record === undefined ? Option.none() : Option.some(withActive(record))
      }),
    list: (id) =>
      Effect.sync(() => {
        const out: Array<StoredTemplate> = []
        const locales = byId.get(id)
        if (locales === undefined) return out
        for (const locale of [...locales.keys()].sort()) {
          const versions = locales.get(locale)!
          for (const version of [...versions.keys()].sort((a, b) => a - b)) out.push(withActive(versions.get(version)!))
        }
        return out
      }),
    activate: (id, locale, version) =>
      Effect.suspend(() => {
        if (lookup(id, locale, version) === undefined) return missing(id, locale, version)
        active.set(activeKey(id, locale), version)
        return Effect.void
      }),
    setStatus: (id, locale, version, status) =>
      Effect.suspend(() => {
        const record = lookup(id, locale, version)
        if (record === undefined) return missing(id, locale, version)
        byId.get(id)!.get(locale)!.set(version, { ...record, status })
        return Effect.void
      })
  }), core)
}

/**
 * The in-memory {@link TemplateStore}: nothing to start, lost on restart.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerStoreMemory: Layer.Layer<TemplateStore> = Layer.sync(TemplateStore, makeStoreMemory)

/**
 * The {@link Templates} service over a fresh in-memory store, with no
 * templates registered: the default.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Templates> = Layer.effect(Templates, build({})).pipe(
  Layer.provide(layerStoreMemory)
)

const StoredRecord = Schema.Struct({
  id: Schema.String,
  locale: Schema.String,
  version: Schema.Number,
  body: Schema.String,
  providerTemplateCode: Schema.optional(Schema.String),
  signature: Schema.optional(Schema.Struct({
    text: Schema.String,
    placement: Schema.optional(Schema.Literals(["prefix", "suffix"]))
  })),
  status: Schema.Literals(["pending", "approved", "rejected"]),
  createdAt: Schema.Number
})

const decodeStored = SchemaParser.decodeUnknownResult(Schema.fromJsonString(StoredRecord))

/**
 * A {@link TemplateStore} over effect's `KeyValueStore` (`layerSql`,
 * `layerFileSystem`, `layerMemory`, or any other backend).
 *
 * **Details**
 * - Keys: `<prefix><id>/<locale>/<version>` hold a version as JSON,
 *   `<prefix><id>/<locale>/active` the active version number (id and locale
 *   URI-encoded). `prefix` defaults to `"smsforge/templates/"`.
 * - `list` reads the store's keys, so keep templates under their own prefix
 *   or in their own store when it is large.
 * - Each call to the `KeyValueStore` is bounded by `timeout` (default
 *   `Store.defaultTimeout`); its failures are {@link StoreUnavailable}.
 *
 * **Gotchas**
 * - `KeyValueStore` has no compare-and-set: two processes putting different
 *   content for the same new version at the same moment can both succeed, the
 *   last write winning. Register new versions from one place (a deploy step).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerStoreKeyValue = (
  options: { readonly prefix?: string | undefined; readonly timeout?: Duration.Input | undefined } = {}
): Layer.Layer<TemplateStore, never, KeyValueStore.KeyValueStore> =>
  Layer.effect(
    TemplateStore,
    Effect.map(
      Effect.flatMap(loadKeyValueStore, (stores) => Effect.service(stores.KeyValueStore)),
      (kv) => makeStoreKeyValue(kv, options.prefix, options.timeout)
    )
  )

/**
 * Builds the `KeyValueStore`-backed store; see {@link layerStoreKeyValue}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeStoreKeyValue = (
  kv: KeyValueStore.KeyValueStore,
  prefix = "smsforge/templates/",
  timeout?: Duration.Input | undefined
): TemplateStore["Service"] => {
  const idPrefix = (id: string) => `${prefix}${encodeURIComponent(id)}/`
  const localePrefix = (id: string, locale: string) => `${idPrefix(id)}${encodeURIComponent(locale)}/`
  const recordKey = (id: string, locale: string, version: number) => `${localePrefix(id, locale)}${version}`
  const activeKey = (id: string, locale: string) => `${localePrefix(id, locale)}active`
  const call = (operation: string) => guard("template", operation, timeout)
  const read = (operation: string, key: string): Effect.Effect<TemplateVersion | undefined, TemplateError | StoreUnavailable> =>
    Effect.flatMap(call(operation)(kv.get(key)), (json) => {
      if (json === undefined) return Effect.succeed(undefined)
      const decoded = decodeStored(json)
      return Result.isSuccess(decoded)
        ? Effect.succeed(decoded.success)
        : Effect.fail(fail(new TemplateStoreFailure({ field: "store", operation })))
    })
  const readActive = (operation: string, id: string, locale: string) =>
    Effect.map(call(operation)(kv.get(activeKey(id, locale))), (value) => {
      const n = value === undefined ? Number.NaN : Number(value)
      return Number.isSafeInteger(n) ? n : undefined
    })
  const withActive = (operation: string, record: TemplateVersion) =>
    Effect.map(readActive(operation, record.id, record.locale), (active): StoredTemplate => ({
      ...record,
      active: active === record.version
    }))
  const missing = (id: string, locale: string, version: number) =>
    Effect.fail(fail(new TemplateNotFound({ field: "version", id, locale, version })))
  const write = (operation: string, key: string, value: string) => call(operation)(kv.set(key, value))
  return TemplateStore.of({
    put: (record, options) =>
      Effect.gen(function*() {
        const key = recordKey(record.id, record.locale, record.version)
        const existing = yield* read("put", key)
        if (existing !== undefined) {
          if (sameContent(existing, record)) return "unchanged" as const
          return yield* Effect.fail(fail(
            new TemplateVersionConflict({
              field: "version",
              id: record.id,
              locale: record.locale,
              version: record.version
            })
          ))
        }
        yield* write("put", key, JSON.stringify(record))
        if (options?.activate ?? true) {
          yield* write("put", activeKey(record.id, record.locale), String(record.version))
        }
        return "inserted" as const
      }),
    get: (id, locale, version) =>
      Effect.gen(function*() {
        const v = version ?? (yield* readActive("get", id, locale))
        if (v === undefined) return Option.none()
        const record = yield* read("get", recordKey(id, locale, v))
        return record === undefined ? Option.none() : Option.some(yield* withActive("get", record))
      }),
    list: (id) =>
      Effect.gen(function*() {
        const keys = yield* call("list")(kv.keys)
        const own = idPrefix(id)
        const out: Array<StoredTemplate> = []
        for (const key of keys) {
          if (!key.startsWith(own) || key.endsWith("/active")) continue
          const record = yield* read("list", key)
          if (record !== undefined && record.id === id) out.push(yield* withActive("list", record))
        }
        return out.sort((a, b) => a.locale < b.locale ? -1 : a.locale > b.locale ? 1 : a.version - b.version)
      }),
    activate: (id, locale, version) =>
      Effect.gen(function*() {
        const record = yield* read("activate", recordKey(id, locale, version))
        if (record === undefined) return yield* missing(id, locale, version)
        yield* write("activate", activeKey(id, locale), String(version))
      }),
    setStatus: (id, locale, version, status) =>
      Effect.gen(function*() {
        const key = recordKey(id, locale, version)
        const record = yield* read("setStatus", key)
        if (record === undefined) return yield* missing(id, locale, version)
        yield* write("setStatus", key, JSON.stringify({ ...record, status }))
      })
  })
}
