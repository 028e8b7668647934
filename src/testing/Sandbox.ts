/**
 * A carrier for tests: it records every submission and fails, throttles,
 * delays, delivers and replies when told to.
 *
 * **Details**
 * - Time comes from the Effect `Clock`, so latency and throttle windows move
 *   with `TestClock.adjust` and no test sleeps on the wall clock.
 * - Random failures come from a seeded generator: the same seed gives the
 *   same failures, run after run.
 * - `deliver` and `reply` hand receipts and replies to the pipeline's
 *   listener, exactly as a real carrier's connection would.
 * - The controls are Effects; `sandbox.controls` holds the same controls for
 *   tests written with Promises: plain functions where nothing waits
 *   (`failNext`, `throttle`, `sent` …) and Promises where the pipeline does
 *   work (`deliver`, `deliverAll`, `reply`). A reason is an error instance or
 *   just its tag (`"Throttled"`).
 *
 * **Example** (Controls for a test written with Promises)
 * ```ts
 * import { createSmsClient } from "smsforge"
 * import { Sandbox } from "smsforge/testing"
 *
 * const carrier = Sandbox.makeUnsafe()
 * const client = createSmsClient({ transports: [carrier], retry: { maxAttempts: 1 } })
 * carrier.controls.failNext(1, "Unavailable")
 * await client.send({ to: "+447400123456", text: "Hi" }).then(() => "sent", (e: { _tag: string }) => e._tag) // => "AllRoutesFailed"
 * await client.send({ to: "+447400123456", text: "Hi again" }) // a receipt: the carrier recovered
 * await carrier.controls.deliverAll()
 * await client.close()
 * ```
 *
 * **Example** (Failing the next two submissions)
 * ```ts
 * import { Effect } from "effect"
 * import { Sandbox } from "smsforge/testing"
 *
 * const program = Effect.gen(function*() {
 *   const sandbox = yield* Sandbox.make()
 *   yield* sandbox.failNext(2)
 *   return yield* sandbox.outbox
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Transport } from "smsforge"
import { prng } from "../internal/seededHash.ts"

/**
 * A submission the sandbox accepted.
 *
 * @category models
 * @since 0.1.0
 */
export interface SentMessage extends Transport.Submission {
  readonly providerMessageId: string
  /** Epoch milliseconds by the Effect clock. */
  readonly submittedAt: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface SandboxOptions {
  readonly name?: string | undefined
  readonly capabilities?: Partial<Transport.Capabilities> | undefined
  /** Seed for `failureRate`; the same seed fails the same submissions. */
  readonly seed?: number | undefined
  /** Probability in [0, 1] that a submission fails with `Unavailable`. */
  readonly failureRate?: number | undefined
  /** Time each submission takes, on the Effect clock. */
  readonly latency?: Duration.Input | undefined
  /** Emit a `delivered` receipt as soon as a submission is accepted. */
  readonly autoDeliver?: boolean | undefined
  /**
   * The most submissions the outbox keeps, the oldest dropped first. Default:
   * all of them; bound it in long runs (soak tests, benchmarks).
   */
  readonly outboxLimit?: number | undefined
  /**
   * Answer a submission whose `clientReference` was accepted before with the
   * earlier provider id, without sending it again, as carriers that
   * deduplicate by reference do. Repeats are counted either way.
   */
  readonly dedupeByReference?: boolean | undefined
}

/**
 * A reason to fail with: a reason instance, or just its tag
 * (`"Unavailable"`, `"Throttled"`, `"InvalidNumber"` …), so tests need not
 * import effect or build errors.
 *
 * @category models
 * @since 0.1.0
 */
export type ReasonInput = Transport.TransportErrorReason | Transport.TransportErrorReason["_tag"]

/**
 * The sandbox's controls for tests written with Promises: plain functions
 * where nothing waits, Promises where the pipeline does work.
 *
 * @category models
 * @since 0.1.0
 */
export interface SandboxControls {
  /** Every accepted submission (the last `outboxLimit` of them), oldest first. */
  readonly sent: () => ReadonlyArray<SentMessage>
  /** Submissions attempted, failed ones included. */
  readonly attempts: () => number
  /** Accepted submissions whose `clientReference` had been accepted before. */
  readonly repeats: () => number
  readonly clear: () => void
  /** Fail the next `count` submissions (default reason `Unavailable`). */
  readonly failNext: (count: number, reason?: ReasonInput) => void
  /** Fail every submission until `recover`. */
  readonly failAlways: (reason?: ReasonInput) => void
  readonly recover: () => void
  /** Refuse one recipient (default reason `InvalidNumber`). */
  readonly rejectNumber: (to: string, reason?: ReasonInput) => void
  /** Answer `Throttled` beyond `perSecond` submissions in any one-second window. */
  readonly throttle: (perSecond: number, retryAfter?: Duration.Input) => void
  readonly setLatency: (latency: Duration.Input) => void
  /** Send a delivery receipt for one accepted submission; resolves once the pipeline has taken it. */
  readonly deliver: (providerMessageId: string, status?: Transport.DeliveryStatus, errorCode?: string) => Promise<void>
  /** Send a delivery receipt for every accepted submission. */
  readonly deliverAll: (status?: Transport.DeliveryStatus) => Promise<void>
  /** A person's reply reaching the pipeline; resolves once the pipeline has taken it. */
  readonly reply: (message: { readonly from: string; readonly to?: string; readonly text: string }) => Promise<void>
}

/**
 * A transport with controls for tests.
 *
 * @category models
 * @since 0.1.0
 */
export interface SandboxTransport extends Transport.Transport {
  /** Every accepted submission (the last `outboxLimit` of them), oldest first. */
  readonly outbox: Effect.Effect<ReadonlyArray<SentMessage>>
  /** The outbox, for tests written with Promises. */
  readonly sent: () => ReadonlyArray<SentMessage>
  /** Submissions attempted, failed ones included. */
  readonly attempts: Effect.Effect<number>
  /** Accepted submissions whose `clientReference` had been accepted before. */
  readonly repeats: Effect.Effect<number>
  readonly clear: Effect.Effect<void>
  /** Fail the next `count` submissions (default reason `Unavailable`). */
  readonly failNext: (count: number, reason?: ReasonInput) => Effect.Effect<void>
  /** Fail every submission until `recover`. */
  readonly failAlways: (reason?: ReasonInput) => Effect.Effect<void>
  readonly recover: Effect.Effect<void>
  /** Refuse one recipient (default reason `InvalidNumber`). */
  readonly rejectNumber: (to: string, reason?: ReasonInput) => Effect.Effect<void>
  /** Answer `Throttled` beyond `perSecond` submissions in any one-second window. */
  readonly throttle: (perSecond: number, retryAfter?: Duration.Input) => Effect.Effect<void>
  readonly setLatency: (latency: Duration.Input) => Effect.Effect<void>
  /** Send a delivery receipt for one accepted submission to the pipeline. */
  readonly deliver: (
    providerMessageId: string,
    status?: Transport.DeliveryStatus,
    errorCode?: string
  ) => Effect.Effect<void>
  /** Send a delivery receipt for every accepted submission. */
  readonly deliverAll: (status?: Transport.DeliveryStatus) => Effect.Effect<void>
  /** A person's reply reaching the pipeline. */
  readonly reply: (message: { readonly from: string; readonly to?: string; readonly text: string }) => Effect.Effect<void>
  /** The same controls without Effect, for tests written with Promises. */
  readonly controls: SandboxControls
}

interface Faults {
  readonly failNext: number
  readonly nextReason: Transport.TransportErrorReason | undefined
  readonly always: Transport.TransportErrorReason | undefined
  readonly rejected: ReadonlyMap<string, Transport.TransportErrorReason>
  readonly throttle: { readonly perSecond: number; readonly retryAfter: Duration.Duration } | undefined
  readonly latency: Duration.Duration
}

const toDuration = (input: Duration.Input | undefined, fallback: Duration.Duration): Duration.Duration => {
  if (input === undefined) return fallback
  const decoded = Duration.fromInput(input)
  return decoded._tag === "Some" ? decoded.value : fallback
}

const toReason = (input: ReasonInput | undefined): Transport.TransportErrorReason | undefined =>
  typeof input === "string" ? Transport.reasonFromTag(input) : input

const defaultCapabilities: Transport.Capabilities = {
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: true,
  inbound: true,
  senderTypes: ["alphanumeric", "long-code", "short-code", "toll-free"]
}

/**
 * Creates a sandbox transport.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: SandboxOptions = {}): Effect.Effect<SandboxTransport> =>
  Effect.sync(() => makeUnsafe(options))

/**
 * Creates a sandbox transport outside Effect, for tests written with Promises.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeUnsafe = (options: SandboxOptions = {}): SandboxTransport => {
  const state = makeState(options)
  const set = setters(state)
  const transport = Transport.make({
    name: state.name,
    capabilities: { ...defaultCapabilities, ...options.capabilities },
    submit: (submission) => submit(state, submission),
    listen: (handler) =>
      Effect.sync(() => {
        state.listener = handler
      })
  })
  const deliver = (providerMessageId: string, status?: Transport.DeliveryStatus, errorCode?: string) =>
    deliverReceipt(state, providerMessageId, status, errorCode)
  const deliverAll = (status?: Transport.DeliveryStatus) => deliverEvery(state, status)
  const reply = (message: Reply) => replyFrom(state, message)
  const outbox = () => state.sent.slice(state.dropped)

  // Promise-side receipts and replies run on the default runtime (the real
  // clock): the listener is the pipeline's own Effect, already provided.
  const controls: SandboxControls = {
    sent: outbox,
    attempts: () => state.attempts,
    repeats: () => state.repeats,
    ...set,
    deliver: (providerMessageId, status, errorCode) => Effect.runPromise(deliver(providerMessageId, status, errorCode)),
    deliverAll: (status) => Effect.runPromise(deliverAll(status)),
    reply: (message) => Effect.runPromise(reply(message))
  }

  return {
    ...transport,
    outbox: Effect.sync(outbox),
    sent: outbox,
    attempts: Effect.sync(() => state.attempts),
    repeats: Effect.sync(() => state.repeats),
    clear: Effect.sync(set.clear),
    failNext: (count, reason) => Effect.sync(() => set.failNext(count, reason)),
    failAlways: (reason) => Effect.sync(() => set.failAlways(reason)),
    recover: Effect.sync(set.recover),
    rejectNumber: (to, reason) => Effect.sync(() => set.rejectNumber(to, reason)),
    throttle: (perSecond, retryAfter) => Effect.sync(() => set.throttle(perSecond, retryAfter)),
    setLatency: (latency) => Effect.sync(() => set.setLatency(latency)),
    deliver,
    deliverAll,
    reply,
    controls
  }
}

type Reply = { readonly from: string; readonly to?: string; readonly text: string }

// One sandbox's state, shared by its submit path and its controls.
interface SandboxState {
  readonly name: string
  readonly random: () => number
  readonly failureRate: number
  readonly autoDeliver: boolean
  readonly dedupeByReference: boolean
  readonly outboxLimit: number
  /** Accepted submissions; the first `dropped` are past the outbox limit. */
  readonly sent: Array<SentMessage>
  dropped: number
  attempts: number
  counter: number
  repeats: number
  /** Provider ids by client reference, to count (and, when asked, absorb) repeats. */
  readonly references: Map<string, string>
  /** The throttle's current one-second window. */
  window: { readonly start: number; readonly count: number }
  listener: Transport.FeedbackHandler | undefined
  faults: Faults
}

const makeState = (options: SandboxOptions): SandboxState => ({
  name: options.name ?? "sandbox",
  random: prng(options.seed ?? 1),
  failureRate: options.failureRate ?? 0,
  autoDeliver: options.autoDeliver === true,
  dedupeByReference: options.dedupeByReference === true,
  outboxLimit: options.outboxLimit === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(options.outboxLimit)),
  sent: [],
  dropped: 0,
  attempts: 0,
  counter: 0,
  repeats: 0,
  references: new Map(),
  window: { start: 0, count: 0 },
  listener: undefined,
  faults: {
    failNext: 0,
    nextReason: undefined,
    always: undefined,
    rejected: new Map(),
    throttle: undefined,
    latency: toDuration(options.latency, Duration.zero)
  }
})

// Each control is a plain function first; the Effect and Promise forms wrap it.
const setters = (state: SandboxState) => ({
  failNext: (count: number, reason?: ReasonInput) => {
    state.faults = { ...state.faults, failNext: Math.max(0, Math.floor(count)), nextReason: toReason(reason) }
  },
  failAlways: (reason?: ReasonInput) => {
    state.faults = { ...state.faults, always: toReason(reason) ?? new Transport.Unavailable({}) }
  },
  recover: () => {
    state.faults = { ...state.faults, always: undefined, failNext: 0, throttle: undefined }
  },
  rejectNumber: (to: string, reason?: ReasonInput) => {
    state.faults = {
      ...state.faults,
      rejected: new Map(state.faults.rejected).set(to, toReason(reason) ?? new Transport.InvalidNumber({}))
    }
  },
  throttle: (perSecond: number, retryAfter: Duration.Input = "1 second") => {
    state.faults = { ...state.faults, throttle: { perSecond, retryAfter: toDuration(retryAfter, Duration.seconds(1)) } }
  },
  setLatency: (latency: Duration.Input) => {
    state.faults = { ...state.faults, latency: toDuration(latency, Duration.zero) }
  },
  clear: () => {
    state.sent.length = 0
    state.dropped = 0
    state.attempts = 0
    state.repeats = 0
    state.references.clear()
  }
})

// Combinators, not a generator: a benchmark's carrier is this sandbox.
const submit = (
  state: SandboxState,
  submission: Transport.Submission
): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> => {
  const latency = state.faults.latency
  const now = Clock.clockWith((clock) => accept(state, submission, clock.currentTimeMillisUnsafe()))
  return Duration.toMillis(latency) > 0 ? Effect.andThen(Effect.sleep(latency), now) : now
}

const accept = (
  state: SandboxState,
  submission: Transport.Submission,
  now: number
): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> => {
  state.attempts++
  const failure = decide(state, submission, now)
  if (failure !== undefined) return Effect.fail(failure)
  const earlier = state.references.get(submission.clientReference)
  if (earlier !== undefined) {
    state.repeats++
    if (state.dedupeByReference) return Effect.succeed({ providerMessageId: earlier })
  }
  const providerMessageId = `${state.name}-${++state.counter}`
  state.references.set(submission.clientReference, providerMessageId)
  // bounded like the outbox, so a long run's memory stays flat
  if (state.references.size > state.outboxLimit) state.references.delete(state.references.keys().next().value!)
  // Field by field: spreading a submission costs microseconds when its shape varies.
  record(state, {
    to: submission.to,
    from: submission.from,
    text: submission.text,
    segments: submission.segments,
    encoding: submission.encoding,
    validUntil: submission.validUntil,
    clientReference: submission.clientReference,
    purpose: submission.purpose,
    template: submission.template,
    providerMessageId,
    submittedAt: now
  })
  const result = { providerMessageId }
  return state.autoDeliver ? Effect.as(deliverReceipt(state, providerMessageId), result) : Effect.succeed(result)
}

/** The fault a submission meets, if any: a refused number, then failures, the throttle, random failures. */
const decide = (
  state: SandboxState,
  submission: Transport.Submission,
  now: number
): Transport.TransportErrorReason | undefined => {
  const current = state.faults
  const rejected = current.rejected.get(submission.to)
  if (rejected !== undefined) return rejected
  if (current.always !== undefined) return current.always
  if (current.failNext > 0) {
    state.faults = { ...current, failNext: current.failNext - 1 }
    return current.nextReason ?? new Transport.Unavailable({})
  }
  if (current.throttle !== undefined) {
    if (now - state.window.start >= 1000) state.window = { start: now, count: 0 }
    if (state.window.count >= current.throttle.perSecond) {
      return new Transport.Throttled({ retryAfter: current.throttle.retryAfter })
    }
    state.window = { start: state.window.start, count: state.window.count + 1 }
  }
  if (state.failureRate > 0 && state.random() < state.failureRate) {
    return new Transport.Unavailable({ code: "sandbox-random" })
  }
  return undefined
}

const record = (state: SandboxState, message: SentMessage) => {
  state.sent.push(message)
  // drop in blocks, so that trimming the array is rare
  if (state.sent.length - state.dropped > state.outboxLimit) state.dropped++
  if (state.dropped > 1024 || (state.dropped > 0 && state.dropped >= state.sent.length / 2)) {
    state.sent.splice(0, state.dropped)
    state.dropped = 0
  }
}

const feed = (state: SandboxState, feedback: Transport.Feedback) =>
  state.listener === undefined ? Effect.void : state.listener(feedback)

const deliverReceipt = (
  state: SandboxState,
  providerMessageId: string,
  status: Transport.DeliveryStatus = "delivered",
  errorCode?: string
) =>
  Effect.flatMap(Clock.currentTimeMillis, (at) =>
    feed(state, {
      _tag: "DeliveryReport",
      transport: state.name,
      providerMessageId,
      status,
      providerStatus: status,
      errorCode,
      at
    }))

const deliverEvery = (state: SandboxState, status: Transport.DeliveryStatus | undefined) =>
  Effect.forEach(state.sent.slice(state.dropped), (m) => deliverReceipt(state, m.providerMessageId, status), {
    discard: true
  })

const replyFrom = (state: SandboxState, message: Reply) =>
  Effect.flatMap(Clock.currentTimeMillis, (receivedAt) =>
    feed(state, {
      _tag: "InboundMessage",
      transport: state.name,
      from: message.from,
      to: message.to ?? "sandbox",
      text: message.text,
      receivedAt
    }))

/**
 * Provides a sandbox as the pipeline's only transport.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: SandboxOptions = {}): Layer.Layer<Transport.Transport> =>
  Layer.effect(Transport.Transport, make(options))
