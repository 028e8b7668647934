/**
 * The `smsforge` command and its subcommands (effect's CLI modules).
 *
 * @since 0.2.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Argument, Command, Flag } from "effect/cli"
import { readFileSync } from "node:fs"
import { Sms } from "smsforge"
import { Sandbox } from "smsforge/testing"
import * as ApiKeys from "../console/ApiKeys.ts"
import * as Carriers from "./carriers.ts"
import * as Config from "./config.ts"
import { parseCsv } from "./csv.ts"
import * as Explain from "./explain.ts"
import * as Instance from "./instance.ts"
import * as Stores from "./stores.ts"

// errors

/**
 * A call to a running instance's API was refused or did not connect; `tag`
 * is the API's refusal (`Unauthorized`, `InvalidPhoneNumber` …).
 *
 * @category errors
 * @since 0.2.0
 */
export class ApiCallFailed extends Schema.TaggedError<ApiCallFailed>("smsforge/cli/ApiCallFailed")("ApiCallFailed", {
  tag: Schema.String,
  field: Schema.optional(Schema.String),
  status: Schema.Number
}) {
  override get message(): string {
    return `${this.tag}${this.field === undefined ? "" : `: ${this.field}`} (HTTP ${this.status || "no answer"})`
  }
}

// shared flags

const configFlag = Flag.String("config").pipe(Flag.withDescription("Path to smsforge.config.json, .js or .ts"), Flag.optional)
const hostFlag = Flag.String("host").pipe(Flag.withDescription("Address to listen on"), Flag.optional)
const portFlag = Flag.Int("port").pipe(Flag.withDescription("Port to listen on (0: any free port)"), Flag.optional)
const urlFlag = Flag.String("url").pipe(
  Flag.withDescription("A running smsforge dev/serve; the key comes from SMSFORGE_API_KEY"),
  Flag.withDefault("http://127.0.0.1:8025/")
)

const loadConfig = (path: Option.Option<string>) => Config.load(Option.getOrUndefined(path))

// API calls (send, verify): the key is read from the environment, never a flag, so it stays out of shell history.
const call = (url: string, path: string, body: unknown) =>
  Effect.gen(function*() {
    const key = process.env.SMSFORGE_API_KEY ?? Instance.DEV_KEY
    const response = yield* Effect.tryPromise({
      try: () =>
        fetch(new URL(path, url), {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify(body)
        }),
      catch: () => new ApiCallFailed({ tag: "Unreachable", field: "url", status: 0 })
    })
    const answer = yield* Effect.orElseSucceed(Effect.tryPromise(() => response.json() as Promise<unknown>), () => ({}))
    if (response.ok) return answer as Record<string, unknown>
    const refusal = answer as { readonly _tag?: unknown; readonly field?: unknown }
    return yield* new ApiCallFailed({
      tag: typeof refusal._tag === "string" ? refusal._tag : "HttpError",
      status: response.status,
      ...(typeof refusal.field === "string" ? { field: refusal.field } : {})
    })
  })

// dev and serve

const runInstance = (dev: boolean) => (flags: {
  readonly config: Option.Option<string>
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly demo: boolean
}) =>
  Effect.scoped(Effect.gen(function*() {
    const { config, file } = yield* loadConfig(flags.config)
    const host = Option.getOrElse(flags.host, () => config.console?.host ?? "127.0.0.1")
    const port = Option.getOrElse(flags.port, () => config.console?.port ?? 8025)
    const apiKeys = Config.apiKeys(config)
    const real = (config.transports ?? []).flatMap((r) => (r.type === "sandbox" ? [] : [r]))
    const carriers = yield* Effect.forEach(real, (route) => Effect.map(Carriers.make(route), (carrier) => [route.name, carrier] as const))
    const stores = yield* Stores.resolve(config.stores)
    const memoMap = Layer.makeMemoMapUnsafe()
    const instance = Instance.build({ config, dev, demo: flags.demo, apiKeys, carriers: Object.fromEntries(carriers), stores: stores.layer, memoMap })
    const { handler } = instance
    yield* Effect.addFinalizer(() => Effect.promise(handler.dispose))
    // Built before listening, on the handler's memo map: a store that cannot be
    // reached stops the command with its reason rather than failing each request.
    yield* Layer.buildWithMemoMap(instance.services, memoMap, yield* Effect.scope)
    const server = yield* Instance.listen(handler.handler, host, port)
    yield* Console.log(`smsforge ${dev ? "dev" : "serve"}${file === undefined ? "" : ` (${file})`}`)
    yield* Console.log(`  console  ${server.url}`)
    yield* Console.log(`  API      ${server.url}messages  (OpenAPI: ${server.url}openapi.json)`)
    if (carriers.length > 0) yield* Console.log(`  webhooks ${carriers.map(([name]) => `${server.url}webhooks/${name}`).join(", ")}`)
    yield* Console.log(`  stores   ${stores.backend}`)
    if (dev) yield* Console.log("  carriers Sandbox (simulated receipts and latency); API key: the dev key, see docs/console.md")
    else yield* Console.log(`  API keys ${apiKeys.length} tenant key(s)`)
    if (flags.demo) yield* Console.log("  demo     two shops (Shopify, WooCommerce): signed webhooks, order notices, sign-ups")
    yield* Console.log("Press Ctrl+C to stop.")
    return yield* Effect.never
  }))

const dev = Command.make("dev", {
  config: configFlag,
  host: hostFlag,
  port: portFlag,
  demo: Flag.Boolean("demo").pipe(Flag.withDescription("Send an online store's demo traffic"), Flag.withDefault(false))
}, runInstance(true)).pipe(Command.withDescription("Run a local instance on Sandbox carriers with the console and the API"))

const serve = Command.make("serve", { config: configFlag, host: hostFlag, port: portFlag }, (flags) =>
  runInstance(false)({ ...flags, demo: false })).pipe(
    Command.withDescription("Run the API and the console with the configured carriers and keys")
  )

// send

const progress = (done: number, total: number, failed: number) =>
  Effect.sync(() => process.stderr.write(`\r  ${done}/${total} sent, ${failed} refused`))

const sendCsv = (url: string, file: string) =>
  Effect.gen(function*() {
    const text = yield* Effect.try({ try: () => readFileSync(file, "utf8"), catch: () => new ApiCallFailed({ tag: "FileNotReadable", field: "csv", status: 0 }) })
    const rows = parseCsv(text)
    const reasons = new Map<string, number>()
    let ok = 0
    for (let start = 0; start < rows.length; start += 100) {
      const chunk = rows.slice(start, start + 100)
      const answer = yield* call(url, "messages/batch", { messages: chunk })
      const results = Array.isArray(answer.results) ? answer.results as ReadonlyArray<{ ok: boolean; error?: { _tag: string } }> : []
      for (const r of results) {
        if (r.ok) ok++
        else reasons.set(r.error?._tag ?? "Unknown", (reasons.get(r.error?._tag ?? "Unknown") ?? 0) + 1)
      }
      yield* progress(start + chunk.length, rows.length, start + chunk.length - ok)
    }
    yield* Effect.sync(() => process.stderr.write("\n"))
    yield* Console.log(`${rows.length} rows: ${ok} accepted, ${rows.length - ok} refused`)
    for (const [reason, count] of reasons) yield* Console.log(`  ${reason}: ${count}`)
  })

const send = Command.make("send", {
  to: Flag.String("to").pipe(Flag.withDescription("Recipient, E.164 or national"), Flag.optional),
  text: Flag.String("text").pipe(Flag.withDescription("The text to send"), Flag.optional),
  template: Flag.String("template").pipe(Flag.withDescription("A template id, instead of --text"), Flag.optional),
  locale: Flag.String("locale").pipe(Flag.withDescription("The template's locale, such as de or zh-CN"), Flag.optional),
  vars: Flag.KeyValuePair("var").pipe(Flag.withDescription("Template variable, name=value (repeatable)"), Flag.optional),
  csv: Flag.String("csv").pipe(Flag.withDescription("A CSV file with a header row: to,text or to,template,locale,<variables>"), Flag.optional),
  url: urlFlag
}, (flags) =>
  Effect.gen(function*() {
    if (Option.isSome(flags.csv)) return yield* sendCsv(flags.url, flags.csv.value)
    const request = {
      to: Option.getOrElse(flags.to, () => ""),
      ...Option.match(flags.text, { onNone: () => ({}), onSome: (text) => ({ text }) }),
      ...Option.match(flags.template, { onNone: () => ({}), onSome: (template) => ({ template, variables: Option.getOrElse(flags.vars, () => ({})) }) }),
      ...Option.match(flags.locale, { onNone: () => ({}), onSome: (locale) => ({ locale }) })
    }
    const receipt = yield* call(flags.url, "messages", request)
    yield* Console.log(`${String(receipt.id)}  ${String(receipt.status)}  ${String(receipt.encoding)} × ${String(receipt.segmentCount)}  route ${String(receipt.route ?? "–")}`)
  })).pipe(Command.withDescription("Send one message, or a CSV batch with progress, through a running instance"))

// verify

const verifyStart = Command.make("start", {
  to: Argument.String("to").pipe(Argument.withDescription("The number to send a code to")),
  locale: Flag.String("locale").pipe(Flag.withDescription("The code text's language"), Flag.optional),
  url: urlFlag
}, (flags) =>
  Effect.flatMap(
    call(flags.url, "verifications", { to: flags.to, ...Option.match(flags.locale, { onNone: () => ({}), onSome: (locale) => ({ locale }) }) }),
    (started) => Console.log(`${String(started.verificationId)}  ${String(started.status)}  expires ${new Date(Number(started.expiresAt)).toISOString()}`)
  )).pipe(Command.withDescription("Send a one-time code"))

const verifyCheck = Command.make("check", { id: Argument.String("verificationId"), code: Argument.String("code"), url: urlFlag }, (flags) =>
  Effect.flatMap(
    call(flags.url, `verifications/${encodeURIComponent(flags.id)}/check`, { code: flags.code }),
    (checked) => Console.log(`${String(checked.status)}  ${String(checked.attemptsLeft)} attempt(s) left`)
  )).pipe(Command.withDescription("Check a code"))

const verify = Command.make("verify").pipe(
  Command.withDescription("Start or check a verification through a running instance"),
  Command.withSubcommands([verifyStart, verifyCheck])
)

// segments, routes, keys

const segments = Command.make("segments", {
  text: Argument.String("text"),
  smart: Flag.Boolean("smart").pipe(Flag.withDescription("Apply smart encoding"), Flag.withDefault(false))
}, (flags) => Console.log(Explain.segments(flags.text, { smartEncoding: flags.smart }))).pipe(
  Command.withDescription("Show the encoding, the segments and what they cost")
)

const explain = Command.make("explain", {
  number: Argument.String("number"),
  purpose: Flag.Literals("purpose", ["transactional", "marketing", "verification"]).pipe(Flag.withDefault("transactional")),
  config: configFlag
}, (flags) =>
  Effect.gen(function*() {
    const { config } = yield* loadConfig(flags.config)
    // Routes are planned without submitting: a Sandbox stands in for every carrier, under its name.
    const transports = (config.transports ?? [{ name: "sandbox-eu" }, { name: "sandbox-global" }]).map((t) => Sandbox.makeUnsafe({ name: t.name }))
    const layer = Sms.layer({ ...Instance.pipelineConfig(config, transports) })
    const text = yield* Explain.routes(flags.number, { purpose: flags.purpose }).pipe(Effect.provide(layer))
    yield* Console.log(text)
  })).pipe(Command.withDescription("Which route a message to this number takes, and why"))

const routes = Command.make("routes").pipe(Command.withSubcommands([explain]), Command.withDescription("Inspect routing"))

const keysNew = Command.make("new", { tenant: Argument.String("tenant") }, (flags) =>
  Effect.gen(function*() {
    const { hash, key } = ApiKeys.generate(flags.tenant)
    // The key is shown once, on the terminal that asked for it; only its hash belongs in config.
    yield* Console.log(`key (give it to the tenant, shown once): ${key}`)
    yield* Console.log(`config: { "apiKeys": [{ "tenant": ${JSON.stringify(flags.tenant)}, "hash": "${hash}" }] }`)
  })).pipe(Command.withDescription("Create an API key for a tenant and print its hash for the config"))

const keys = Command.make("keys").pipe(Command.withSubcommands([keysNew]), Command.withDescription("Manage API keys"))

/**
 * The root command.
 *
 * @category commands
 * @since 0.2.0
 */
export const smsforge = Command.make("smsforge").pipe(
  Command.withDescription("An SMS aggregator inside your own process: dev inbox, reports, API"),
  Command.withSubcommands([dev, serve, send, verify, segments, routes, keys])
)

/**
 * Runs the command with arguments (without the node and script paths).
 *
 * @category running
 * @since 0.2.0
 */
export const run = Command.runWith(smsforge, { version: "0.2.0" })
