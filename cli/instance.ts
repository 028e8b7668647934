/**
 * A running instance for `smsforge dev` and `smsforge serve`: the pipeline on
 * Sandbox carriers with simulated receipts, the console and the API, served
 * on Node's `http`; on the memory stores, or PostgreSQL or Redis when the
 * configuration names them.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { type Pricing, type Router, Sms, type Store, type Transport } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { hash } from "../console/ApiKeys.ts"
import { toNodeListener } from "../console/node.ts"
import { type ConsoleOptions, makeHandler } from "../console/Server.ts"
import type * as Carriers from "./carriers.ts"
import type { Config, SandboxRoute } from "./config.ts"
import * as Demo from "./demo.ts"

/** The dev server's API key: loopback only, Sandbox carriers only, so not a secret. */
export const DEV_KEY = "dev"

const defaultTransports: ReadonlyArray<typeof SandboxRoute.Type> = [
  { name: "sandbox-eu", type: "sandbox", latency: 40, failureRate: 0.03, undeliveredRate: 0.05 },
  { name: "sandbox-global", type: "sandbox", latency: 90, failureRate: 0.01, undeliveredRate: 0.08 }
]

const defaultRouting: Router.RoutingRulesInput = {
  routes: [
    { name: "eu-primary", transport: "sandbox-eu", countries: ["GB", "DE", "ES", "FR", "IE", "NL"] },
    { name: "global", transport: "sandbox-global" }
  ]
}

// What the Sandbox routes charge, per segment, so the demo's reports show spend.
const defaultPricing: Pricing.PricingOptions = {
  prices: [
    { route: "eu-primary", country: "GB", price: "0.0400", currency: "USD" },
    { route: "eu-primary", country: "DE", price: "0.0750", currency: "USD" },
    { route: "eu-primary", country: "ES", price: "0.0600", currency: "USD" },
    { route: "eu-primary", country: "*", price: "0.0700", currency: "USD" },
    { route: "global", country: "CN", price: "0.0300", currency: "USD" },
    { route: "global", country: "US", price: "0.0080", currency: "USD" },
    { route: "global", country: "*", price: "0.0500", currency: "USD" }
  ]
}

interface Simulated {
  readonly sandbox: Sandbox.SandboxTransport
  readonly undeliveredRate: number
}

// Receipts arrive 0.3–2.5 s after a submission, mostly `delivered`, as a
// carrier's would; a few end `undelivered` with a carrier error code.
const simulateReceipts = (sandboxes: ReadonlyArray<Simulated>) => {
  const seen = new Set<string>()
  const due: Array<{ readonly at: number; readonly run: Effect.Effect<void> }> = []
  const codes = ["EC_ABSENT_SUBSCRIBER", "EC_UNKNOWN_SUBSCRIBER", "EC_CALL_BARRED"]
  const tick = Effect.suspend(() => {
    const now = Date.now()
    for (const { sandbox, undeliveredRate } of sandboxes) {
      for (const sent of sandbox.sent()) {
        if (seen.has(sent.providerMessageId)) continue
        seen.add(sent.providerMessageId)
        const undelivered = Math.random() < undeliveredRate
        due.push({
          at: now + 300 + Math.random() * 2_200,
          run: undelivered
            ? sandbox.deliver(sent.providerMessageId, "undelivered", codes[Math.floor(Math.random() * codes.length)])
            : sandbox.deliver(sent.providerMessageId, "delivered")
        })
      }
    }
    if (seen.size > 20_000) seen.clear()
    const ready = due.filter((d) => d.at <= now)
    for (const d of ready) due.splice(due.indexOf(d), 1)
    return Effect.forEach(ready, (d) => Effect.ignore(d.run), { discard: true })
  })
  return Effect.repeat(tick, Schedule.spaced("200 millis"))
}

/**
 * What an instance runs on.
 *
 * @category models
 * @since 0.2.0
 */
export interface InstanceOptions {
  readonly config: Config
  readonly dev: boolean
  readonly demo: boolean
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly apiKeys: ReadonlyArray<{ readonly tenant: string; readonly hash: string }>
  /** The configured real carriers, by route name (`Carriers.make`). */
  readonly carriers?: Readonly<Record<string, Carriers.Carrier>> | undefined
  /** The stores under the pipeline (`Stores.resolve`); default the memory stores. */
  readonly stores?: Layer.Layer<Sms.Stores, Store.StoreUnavailable> | undefined
  /** Shared with whoever builds `services` first, so both use one pipeline (and one connection pool). */
  readonly memoMap?: Layer.MemoMap | undefined
}

/**
 * The pipeline configuration an instance runs: the config file's, with the
 * demo templates and, without configured carriers, two Sandbox routes.
 *
 * @category constructors
 * @since 0.2.0
 */
export const pipelineConfig = (
  config: Config,
  transports: ReadonlyArray<Transport.Transport | Effect.Effect<Transport.Transport, unknown>>
): Sms.SmsConfig => ({
  transports,
  routing: routingOf(config) ?? (config.transports === undefined ? defaultRouting : undefined),
  ...(config.pricing !== undefined
    ? { pricing: config.pricing }
    : config.transports === undefined && config.routing === undefined
    ? { pricing: defaultPricing }
    : {}),
  ...(config.defaultCountry === undefined ? {} : { defaultCountry: config.defaultCountry }),
  ...(config.smartEncoding === undefined ? {} : { smartEncoding: config.smartEncoding }),
  ...(config.maxSegments === undefined ? {} : { maxSegments: config.maxSegments }),
  templates: [...Demo.templates, ...Demo.storeTemplates, ...(config.templates ?? [])],
  verification: { brand: "ShopLane", ...config.verification }
})

// The schema is declared `Codec<unknown, RoutingRulesInput>`; decoded, it is the rules.
const routingOf = (config: Config): Router.RoutingRulesInput | undefined => config.routing as Router.RoutingRulesInput | undefined

const lastOf = <A>(items: ReadonlyArray<A>, predicate: (a: A) => boolean): A | undefined => {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) return items[i]
  return undefined
}

const pricesOf = (routing: Router.RoutingRulesInput | undefined): ConsoleOptions["prices"] =>
  Object.fromEntries((routing?.routes ?? []).flatMap((r) => (r.price === undefined ? [] : [[r.name, r.price]])))

/**
 * Builds the instance's handler: Sandbox carriers, the pipeline, the
 * receipt simulator and, with `demo`, the demo traffic.
 *
 * @category constructors
 * @since 0.2.0
 */
export const build = (options: InstanceOptions) => {
  const routes = options.config.transports === undefined
    ? defaultTransports
    : options.config.transports.flatMap((r) => (r.type === "sandbox" ? [r] : []))
  const simulated: Array<Simulated> = routes.map((r, i) => ({
    sandbox: Sandbox.makeUnsafe({ name: r.name, seed: i + 1, latency: r.latency ?? 0, failureRate: r.failureRate ?? 0, outboxLimit: 5_000 }),
    undeliveredRate: r.undeliveredRate ?? 0
  }))
  const carriers = Object.entries(options.carriers ?? {})
  const config = pipelineConfig(options.config, [...simulated.map((s) => s.sandbox), ...carriers.map(([, c]) => c.transport)])
  const reveal = (id: string) => {
    for (const { sandbox } of simulated) {
      const sent = lastOf(sandbox.sent(), (m) => m.clientReference === id)
      if (sent !== undefined) return sent.text
    }
    return undefined
  }
  const lastTextTo = (to: string) => {
    let last: Sandbox.SentMessage | undefined
    for (const { sandbox } of simulated) {
      const sent = lastOf(sandbox.sent(), (m) => m.to === to)
      if (sent !== undefined && (last === undefined || sent.submittedAt >= last.submittedAt)) last = sent
    }
    return last?.text
  }
  const background = Layer.effectDiscard(Effect.gen(function*() {
    yield* Effect.forkScoped(simulateReceipts(simulated))
    if (options.demo) yield* Effect.forkScoped(Demo.run(lastTextTo))
  }))
  const stores = options.stores ?? Sms.layerStoresMemory(config)
  const services = background.pipe(Layer.provideMerge(Sms.layerPipeline(config)), Layer.provideMerge(stores))
  const c = options.config.console ?? {}
  const handler = makeHandler(services, {
    title: c.title ?? (options.dev ? "smsforge dev" : "smsforge"),
    basePath: c.basePath,
    showNumbers: c.showNumbers ?? false,
    writable: c.writable ?? options.dev,
    maxBodyBytes: c.maxBodyBytes,
    memoMap: options.memoMap,
    // Sandbox carriers are fake phones: showing what they were handed, codes included, is the point of dev.
    reveal,
    tenants: ["shoplane"],
    faults: simulated.map(({ sandbox }) => ({
      name: sandbox.name,
      fail: () => sandbox.controls.failAlways("Unavailable"),
      throttle: (perSecond: number) => sandbox.controls.throttle(perSecond),
      recover: () => sandbox.controls.recover()
    })),
    webhooks: Object.fromEntries(carriers.map(([name, c]) => [name, c.webhook])),
    prices: pricesOf(config.routing),
    apiKeys: [...options.apiKeys, ...(options.dev ? [{ tenant: "dev", hash: hash(DEV_KEY) }] : [])]
  })
  return { handler, services, sandboxes: simulated.map((s) => s.sandbox) }
}

/**
 * Serves a handler on `host:port` for as long as the scope lives; answers
 * the URL.
 *
 * @category constructors
 * @since 0.2.0
 */
export const listen = (handler: (request: Request) => Promise<Response>, host: string, port: number) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly url: string; readonly close: () => void }, Error>((resume) => {
      const server = createServer(toNodeListener(handler))
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(port, host, () => {
        const address = server.address() as AddressInfo
        const shown = host.includes(":") ? `[${host}]` : host
        resume(Effect.succeed({
          url: `http://${shown}:${address.port}/`,
          close: () => {
            server.closeAllConnections()
            server.close()
          }
        }))
      })
    }),
    (server) => Effect.sync(server.close)
  )
