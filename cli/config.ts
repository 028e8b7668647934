/**
 * `smsforge.config.{json,js,mjs,ts,mts}`: decoded by Schema, with an error
 * naming the key at fault; secrets come from the environment only.
 *
 * **Gotchas**
 * - A `.ts` config is imported by Node itself, which strips types from
 *   22.18 (and from 22.6 with `--experimental-strip-types`): only erasable
 *   syntax (no `enum`, `namespace` or parameter properties). On an older
 *   Node it fails with `TypeScriptConfigUnsupported`.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { existsSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { PhoneNumbers, Router } from "smsforge"
import * as ApiKeys from "../console/ApiKeys.ts"
import * as Carriers from "./carriers.ts"
import * as Stores from "./stores.ts"

// models

/**
 * A Sandbox carrier: simulated latency, failures and receipts.
 *
 * @category schemas
 * @since 0.2.0
 */
export const SandboxRoute = Schema.Struct({
  name: Schema.String.check(Schema.isMinLength(1)),
  type: Schema.Literal("sandbox"),
  /** Milliseconds each submission takes. */
  latency: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Probability in [0, 1] that a submission fails (retried, then failed over). */
  failureRate: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  /** Probability in [0, 1] that a delivered-looking message ends undelivered. */
  undeliveredRate: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 })))
})

/**
 * The configuration file's schema.
 *
 * @category schemas
 * @since 0.2.0
 */
export const ConfigSchema = Schema.Struct({
  defaultCountry: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Z]{2}$/))),
  smartEncoding: Schema.optional(Schema.Boolean),
  maxSegments: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 255 }))),
  transports: Schema.optional(Schema.Array(Schema.Union([SandboxRoute, Carriers.TwilioRoute, Carriers.VonageRoute]))),
  routing: Schema.optional(Router.RoutingConfig),
  /** Exact prices per route and country (the `Pricing` module's rows): costs on messages, spend in the console's reports. */
  pricing: Schema.optional(Schema.Struct({
    prices: Schema.optional(Schema.Array(Schema.Struct({
      route: Schema.String.check(Schema.isMinLength(1)),
      country: Schema.String.check(Schema.isPattern(/^(?:[A-Z]{2}|001|\*)$/)),
      numberType: Schema.optional(PhoneNumbers.NumberType),
      mcc: Schema.optional(Schema.String.check(Schema.isPattern(/^\d{3}$/))),
      mnc: Schema.optional(Schema.String.check(Schema.isPattern(/^\d{2,3}$/))),
      price: Schema.String.check(Schema.isPattern(/^\d+(?:\.\d{1,6})?$/)),
      currency: Schema.String.check(Schema.isPattern(/^[A-Z]{3}$/))
    }))),
    /** Exchange rates into one currency for least-cost ranking across currencies, as decimal strings. */
    rates: Schema.optional(Schema.Record(Schema.String, Schema.String))
  })),
  templates: Schema.optional(Schema.Array(Schema.Struct({
    id: Schema.String,
    version: Schema.optional(Schema.Int),
    variables: Schema.Record(Schema.String, Schema.Literals(["string", "digits", "number"])),
    locales: Schema.Record(Schema.String, Schema.String),
    status: Schema.optional(Schema.Literals(["pending", "approved", "rejected"]))
  }))),
  verification: Schema.optional(Schema.Struct({
    brand: Schema.optional(Schema.String),
    codeLength: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 4, maximum: 10 }))),
    maxChecks: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 })))
  })),
  console: Schema.optional(Schema.Struct({
    host: Schema.optional(Schema.String),
    port: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65_535 }))),
    title: Schema.optional(Schema.String),
    basePath: Schema.optional(Schema.String),
    showNumbers: Schema.optional(Schema.Boolean),
    writable: Schema.optional(Schema.Boolean),
    maxBodyBytes: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1_024, maximum: 16_777_216 })))
  })),
  /** PostgreSQL or Redis instead of the memory stores; URLs as `"env:NAME"`. */
  stores: Schema.optional(Stores.StoresSettings),
  /** Tenants' keys as hashes (`smsforge keys new`); plain keys belong in `SMSFORGE_API_KEYS`. */
  apiKeys: Schema.optional(Schema.Array(Schema.Struct({
    tenant: Schema.String.check(Schema.isMinLength(1)),
    hash: Schema.String.check(Schema.makeFilter((s: string) => ApiKeys.isHash(s), { expected: "sha256:<base64url>" }))
  })))
})

/**
 * @category models
 * @since 0.2.0
 */
export type Config = typeof ConfigSchema.Type

// errors

/**
 * The configuration file cannot be read or does not match the schema; `key`
 * names where (`console.port`, `routing.routes.0.countries`).
 *
 * @category errors
 * @since 0.2.0
 */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>("smsforge/cli/InvalidConfig")("InvalidConfig", {
  file: Schema.String,
  key: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `${this.file}: ${this.key === "" ? "" : `${this.key}: `}${this.problem}`
  }
}

/**
 * A `.ts` configuration on a Node that cannot strip types; `node` is its
 * version.
 *
 * @category errors
 * @since 0.2.0
 */
export class TypeScriptConfigUnsupported extends Schema.TaggedError<TypeScriptConfigUnsupported>(
  "smsforge/cli/TypeScriptConfigUnsupported"
)("TypeScriptConfigUnsupported", {
  file: Schema.String,
  node: Schema.String
}) {
  override get message(): string {
    return `${this.file}: Node ${this.node} cannot load a TypeScript config; use smsforge.config.js or smsforge.config.json, ` +
      "or Node 22.18 or newer (22.6 or newer with --experimental-strip-types)"
  }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Decodes a configuration value; unknown keys are refused, so a typo is
 * named rather than silently ignored.
 *
 * @category decoding
 * @since 0.2.0
 */
export const decode = (input: unknown, file = "config"): Result.Result<Config, InvalidConfig> => {
  const result = Schema.decodeUnknownResult(ConfigSchema)(input, { onExcessProperty: "error" })
  if (Result.isSuccess(result)) return Result.succeed(result.success)
  const first = formatter(result.failure.issue).issues[0]
  const key = first?.path?.map(String).join(".") ?? ""
  // The schema's message can quote the value; only its first words are kept.
  const problem = first === undefined ? "invalid" : first.message.replace(/, got .*$/s, "")
  return Result.fail(new InvalidConfig({ file, key, problem }))
}

const CANDIDATES = ["smsforge.config.json", "smsforge.config.js", "smsforge.config.mjs", "smsforge.config.ts", "smsforge.config.mts"]

const isTypeScript = (file: string) => /\.[cm]?ts$/.test(file)

/**
 * Whether this Node imports `.ts` files: `process.features.typescript` from
 * 22.10; before that only the flags tell.
 *
 * @category loading
 * @since 0.2.0
 */
export const canImportTypeScript = (
  features: { readonly typescript?: "strip" | "transform" | false } = process.features,
  flags: ReadonlyArray<string> = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)]
): boolean =>
  features.typescript === undefined
    ? flags.some((flag) => flag === "--experimental-strip-types" || flag === "--experimental-transform-types")
    : features.typescript !== false

// What went wrong reading a file, in words that never quote its content.
const unreadable = (file: string, cause: unknown): InvalidConfig => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
  const problem = cause instanceof SyntaxError && file.endsWith(".json")
    ? "not valid JSON"
    : code === "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX"
    ? "uses TypeScript that Node cannot strip (enum, namespace, parameter properties): keep to erasable syntax"
    : cause instanceof SyntaxError
    ? "not valid JavaScript or TypeScript"
    : `cannot be read${code === undefined ? "" : ` (${code})`}`
  return new InvalidConfig({ file, key: "", problem })
}

const read = (file: string): Effect.Effect<unknown, InvalidConfig | TypeScriptConfigUnsupported> =>
  isTypeScript(file) && !canImportTypeScript()
    ? Effect.fail(new TypeScriptConfigUnsupported({ file, node: process.version }))
    : Effect.tryPromise({
      try: async () =>
        file.endsWith(".json")
          ? JSON.parse(readFileSync(file, "utf8")) as unknown
          : ((await import(pathToFileURL(file).href)) as { readonly default?: unknown }).default,
      catch: (cause) => unreadable(file, cause)
    })

/**
 * Finds and decodes the configuration: the `--config` path, else the first
 * `smsforge.config.{json,js,mjs,ts,mts}` in `cwd`, else an empty
 * configuration.
 *
 * @category loading
 * @since 0.2.0
 */
export const load = (
  path: string | undefined,
  cwd: string = process.cwd()
): Effect.Effect<{ readonly file?: string; readonly config: Config }, InvalidConfig | TypeScriptConfigUnsupported> =>
  Effect.gen(function*() {
    const file = path === undefined ? CANDIDATES.map((c) => resolve(cwd, c)).find((c) => existsSync(c)) : resolve(cwd, path)
    if (file === undefined) return { config: {} }
    const decoded = decode(yield* read(file), file)
    return Result.isSuccess(decoded) ? { file, config: decoded.success } : yield* Effect.fail(decoded.failure)
  })

/**
 * The API keys: the configuration's hashes plus `SMSFORGE_API_KEYS`
 * (`tenant:key,…`), hashed as soon as they are read.
 *
 * @category loading
 * @since 0.2.0
 */
export const apiKeys = (config: Config, env: NodeJS.ProcessEnv = process.env): ReadonlyArray<ApiKeys.StoredKey> => [
  ...(config.apiKeys ?? []),
  ...ApiKeys.fromEnvironment(env.SMSFORGE_API_KEYS)
]
