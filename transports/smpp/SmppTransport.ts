/**
 * An SMPP 3.4 client (ESME) as a smsforge transport, on the `smpp` package.
 *
 * **Details**
 * - Binds as a transceiver, or as a transmitter plus a receiver, and keeps the
 *   binds alive with `enquire_link`; a lost link reconnects and re-binds on
 *   the `reconnect` schedule. Closing the Layer scope waits for in-flight
 *   requests, unbinds and closes the sockets.
 * - `submit_sm` goes out with data_coding 0 (GSM 03.38, unpacked) or 8
 *   (UCS-2). A message longer than one segment becomes one UDH part per
 *   `Submission.segments` entry (8-bit reference, esm_class 0x40), or one
 *   `message_payload` when `longMessages: "payload"`.
 * - At most `windowSize` requests are outstanding on the transmitting bind.
 * - `deliver_sm` receipts and inbound messages go to the `listen` handler; the
 *   `deliver_sm_resp` is sent with ESME_ROK only once the handler's effect has
 *   completed (the receipt is stored), otherwise with ESME_RX_T_APPN so the
 *   SMSC redelivers it.
 *
 * **Gotchas**
 * - A lost link is one event, not a failure per message: the `submit_sm`s in
 *   the window keep their slots, wait for the re-bind (at most
 *   `requestTimeout`) and go again on the new bind, so callers see success.
 *   The SMSC may have taken one whose answer was lost, and SMPP has no
 *   idempotency key: that is at-least-once. `resubmitUnknown: false` makes it
 *   at-most-once: such a submit (and one unanswered after `requestTimeout`)
 *   fails with a `Timeout` coded `"outcome-unknown"` that is not retryable.
 * - Binding never fails `make`: the first bind is tried before it returns, and
 *   a failed one is retried on the `reconnect` schedule (a refused bind,
 *   `AuthenticationFailed`, at most once a minute, logged as an error). While
 *   the link is down a submit fails at once with `Unavailable` code
 *   `"not-bound"` (or the bind's `AuthenticationFailed`), so failover is quick.
 * - The parts of a long message are submitted in order; a failure stops the
 *   remaining parts, but parts already accepted stay accepted.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import smpp from "smpp"
import type { Pdu, PduValue } from "smpp"
import { Transport } from "smsforge"
import { InvalidConfig, invalidSecret, type Secret, toRedacted } from "../internal/secret.ts"
import { classifyBind, Status } from "./internal/classify.ts"
import type { AddressRules, IdFormat, LongMessages } from "./internal/codec.ts"
import { absoluteTime, type Address, address, buildParts, type IdFormats, readDeliver } from "./internal/codec.ts"
import { feedbackOf, mapStatus } from "./internal/feedback.ts"
import {
  backoff,
  type Connection,
  connectionLost,
  errorCode,
  type Link,
  type Pending,
  request,
  respond,
  send,
  withTimeout
} from "./internal/session.ts"
import { decodeSubmit, partParams, type SubmitFields, unknownOutcome } from "./internal/submit.ts"

export { InvalidConfig, type Secret }

// models

/**
 * How the transport binds: one transceiver session, or a transmitter for
 * `submit_sm` plus a receiver for `deliver_sm`.
 *
 * @category models
 * @since 0.1.0
 */
export type BindMode = "transceiver" | "transmitter-receiver"

// declared beside the codec that reads them, so the two do not import each other
export type { AddressRules, IdFormat, LongMessages, TonNpi } from "./internal/codec.ts"

/**
 * A failure reason a vendor-specific command_status can be mapped to.
 *
 * @category models
 * @since 0.1.0
 */
export type CommandStatusReason = Transport.TransportErrorReason["_tag"]

/**
 * Connection, bind and submission settings.
 *
 * @category models
 * @since 0.1.0
 */
export interface SmppConfig {
  /** The transport's name in routes, errors and metrics. Default `"smpp"`. */
  readonly name?: string | undefined
  readonly host: string
  /** Default 2775. */
  readonly port?: number | undefined
  readonly systemId: string
  /** Never logged; sent only in the bind PDU. A plain string is wrapped in a `Redacted` at `make`. */
  readonly password: Secret
  readonly systemType?: string | undefined
  /** Default `"transceiver"`. */
  readonly bindMode?: BindMode | undefined
  /** Outstanding `submit_sm` requests at most. Default 10. */
  readonly windowSize?: number | undefined
  /** Default 30 seconds. */
  readonly enquireLinkInterval?: Duration.Input | undefined
  /** How long a request (bind, submit_sm, enquire_link) waits for its answer. Default 10 seconds. */
  readonly requestTimeout?: Duration.Input | undefined
  /**
   * Delays between reconnect attempts, fed with the last failure. Default:
   * exponential from 200 ms, capped at 30 s, jittered, forever; the first
   * re-bind after a loss is immediate, and an `AuthenticationFailed` waits at
   * least a minute. A schedule that ends leaves the link down: submissions
   * then fail fast (`Unavailable` `"not-bound"`, or `AuthenticationFailed`).
   */
  readonly reconnect?: Schedule.Schedule<unknown, Transport.TransportErrorReason> | undefined
  /** Messages longer than one segment: UDH parts (default) or one `message_payload`. */
  readonly longMessages?: LongMessages | undefined
  /** Sender used when a submission has no `from`. */
  readonly defaultFrom?: string | undefined
  /** TON/NPI for senders and recipients by kind of address. */
  readonly addressRules?: AddressRules | undefined
  /** `service_type` of submit_sm. Default empty (SMSC default). */
  readonly serviceType?: string | undefined
  /** Ask for delivery receipts (registered_delivery 1). Default `true`. */
  readonly deliveryReceipts?: boolean | undefined
  /**
   * How the SMSC writes message ids (`submit` for submit_sm_resp and the
   * receipted_message_id TLV, `receiptText` for the `id:` of a receipt text).
   * Ids are reconciled to the `submit` format, so `SubmitResult` and
   * `DeliveryReport` carry the same string. Default opaque, same for both.
   */
  readonly messageIds?: { readonly submit?: IdFormat | undefined; readonly receiptText?: IdFormat | undefined } | undefined
  /** Maps vendor-specific command_status values to reasons, for example `{ 0x400: "InsufficientFunds" }`. */
  readonly commandStatus?: Readonly<Record<number, CommandStatusReason>> | undefined
  /** Overrides of the advertised capabilities. */
  readonly capabilities?: Partial<Transport.Capabilities> | undefined
  /**
   * What happens to a `submit_sm` whose outcome is unknown: sent, but the link
   * dropped (or `requestTimeout` passed) before its `submit_sm_resp`. `true`
   * (default, at-least-once): the transport holds it and submits it again on
   * the new bind, and a timed-out one fails with a retryable `Timeout`; the
   * SMSC may have taken the first copy, so a rare duplicate is possible.
   * `false` (at-most-once): it fails with `Timeout` code `"outcome-unknown"`
   * that is not retryable, so the pipeline does not send it again on this route.
   */
  readonly resubmitUnknown?: boolean | undefined
}

// internals

const defaultReconnect: Schedule.Schedule<unknown, Transport.TransportErrorReason> = Schedule.exponential(
  "200 millis"
).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(30)))),
  Schedule.jittered
)

/** The config as the transport runs it, defaults applied once at `make`. */
interface Settings {
  readonly config: SmppConfig
  readonly name: string
  readonly password: Redacted.Redacted<string>
  readonly port: number
  readonly windowSize: number
  /** Milliseconds. */
  readonly requestTimeout: number
  readonly enquireLinkInterval: Duration.Duration
  readonly reconnect: Schedule.Schedule<unknown, Transport.TransportErrorReason>
  readonly resubmitUnknown: boolean
  readonly longMessages: LongMessages
  readonly registeredDelivery: number
  readonly ids: IdFormats
  readonly overrides: SmppConfig["commandStatus"]
  /** How often the sweeper looks for submits past their deadline, in milliseconds. */
  readonly sweepEvery: number
  /** `defaultFrom` with the address rules applied, read once. */
  readonly defaultSource: Address | undefined
}

/** What the parts of one transport share: its settings, the submit window and the state they change. */
interface Smpp {
  readonly settings: Settings
  readonly clock: Clock.Clock
  readonly window: Semaphore.Semaphore
  readonly deliverFibers: FiberSet.FiberSet<void, never>
  /** Forks a `deliver_sm` handling into `deliverFibers`, so closing waits for it. */
  readonly runFork: (effect: Effect.Effect<void>) => void
  handler: Transport.FeedbackHandler | undefined
  closing: boolean
  /** The 8-bit concatenation reference of the last submission. */
  reference: number
}

const settingsOf = (config: SmppConfig, name: string, password: Redacted.Redacted<string>): Settings => {
  const requestTimeout = Duration.toMillis(Duration.fromInputUnsafe(config.requestTimeout ?? "10 seconds"))
  return {
    config,
    name,
    password,
    port: config.port ?? 2775,
    windowSize: Math.max(1, Math.floor(config.windowSize ?? 10)),
    requestTimeout,
    enquireLinkInterval: Duration.fromInputUnsafe(config.enquireLinkInterval ?? "30 seconds"),
    reconnect: config.reconnect ?? defaultReconnect,
    resubmitUnknown: config.resubmitUnknown ?? true,
    longMessages: config.longMessages ?? "udh",
    registeredDelivery: (config.deliveryReceipts ?? true) ? 1 : 0,
    ids: {
      submit: config.messageIds?.submit ?? "opaque",
      receiptText: config.messageIds?.receiptText ?? config.messageIds?.submit ?? "opaque"
    },
    overrides: config.commandStatus,
    sweepEvery: Math.max(10, Math.min(1_000, Math.floor(requestTimeout / 10))),
    defaultSource: config.defaultFrom === undefined ? undefined : address(config.defaultFrom, config.addressRules)
  }
}

const makeState = (settings: Settings): Effect.Effect<Smpp, never, Scope.Scope> =>
  Effect.gen(function*() {
    const window = Semaphore.makeUnsafe(settings.windowSize)
    const clock = yield* Clock.Clock
    const deliverFibers = yield* FiberSet.make<void, never>()
    const runFork = yield* FiberSet.runtime(deliverFibers)<never>()
    return { settings, clock, window, deliverFibers, runFork, handler: undefined, closing: false, reference: 0 }
  })

const capabilitiesOf = (settings: Settings): Transport.Capabilities => ({
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: settings.registeredDelivery === 1,
  inbound: true,
  senderTypes: ["alphanumeric", "long-code", "short-code", "toll-free"],
  ...settings.config.capabilities
})

// deliver_sm: acknowledged only once the handler has kept it

const handleDeliver = (s: Smpp, conn: Connection, pdu: Pdu): Effect.Effect<void> => {
  let answered = false
  const answer = (status: number) =>
    Effect.sync(() => {
      if (answered) return
      answered = true
      respond(conn, pdu, status)
    })
  return Effect.gen(function*() {
    const read = readDeliver(pdu, s.settings.ids)
    if (read._tag === "Malformed") {
      yield* Effect.logWarning(`smsforge/transports/smpp: deliver_sm without a usable ${read.field}`)
      return yield* answer(Status.RX_P_APPN)
    }
    const current = s.handler
    if (current === undefined) return yield* answer(Status.RX_T_APPN)
    const now = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(current(feedbackOf(s.settings.name, read, now)))
    yield* answer(Exit.isSuccess(exit) ? Status.ROK : Status.RX_T_APPN)
  }).pipe(Effect.onExit(() => answer(Status.RX_T_APPN)))
}

/** A request from the SMSC. */
const onPdu = (s: Smpp, conn: Connection, pdu: Pdu): void => {
  if (pdu.isResponse()) return
  switch (pdu.command) {
    case "deliver_sm":
      s.runFork(handleDeliver(s, conn, pdu))
      return
    case "enquire_link":
      respond(conn, pdu, Status.ROK)
      return
    case "unbind":
      respond(conn, pdu, Status.ROK)
      conn.failure = new Transport.Unavailable({ code: "unbound-by-smsc" })
      conn.session.close()
      return
    case "alert_notification":
    case "outbind":
      return
    default:
      respond(conn, pdu, Status.RINVCMDID)
  }
}

// connections

/** Opens a socket to the SMSC; on close it fails every pending request with the connection's failure. */
const open = (s: Smpp): Effect.Effect<Connection, Transport.TransportErrorReason> =>
  Effect.callback<Connection, Transport.TransportErrorReason>((resume) => {
    const session = smpp.connect({ host: s.settings.config.host, port: s.settings.port })
    const conn: Connection = {
      session,
      closed: Deferred.makeUnsafe<void>(),
      pending: new Set(),
      corked: false,
      open: false,
      failure: undefined
    }
    session.socket.setNoDelay(true)
    session.on("connect", () => {
      conn.open = true
      resume(Effect.succeed(conn))
    })
    session.on("error", (error: unknown) => {
      conn.failure ??= new Transport.Unavailable({ code: errorCode(error) })
      // socket errors close by themselves; a malformed PDU leaves the package's reader stuck
      session.destroy()
    })
    session.on("close", () => {
      conn.open = false
      const failure = conn.failure ?? connectionLost()
      conn.failure = failure
      const pending = [...conn.pending]
      conn.pending.clear()
      for (const entry of pending) entry.lost(failure)
      Deferred.doneUnsafe(conn.closed, Effect.void)
      resume(Effect.fail(failure))
    })
    session.on("pdu", (pdu: Pdu) => {
      // a throw here would stop the package's reader for good: drop the link instead
      try {
        onPdu(s, conn, pdu)
      } catch (cause) {
        conn.failure ??= new Transport.Unavailable({ code: "pdu-handling", cause })
        session.destroy()
      }
    })
    return Effect.sync(() => session.destroy())
  })

const bind = (settings: Settings, conn: Connection, role: Link["role"]) =>
  request(
    conn,
    new smpp.PDU(`bind_${role}`, {
      system_id: settings.config.systemId,
      password: Redacted.value(settings.password),
      system_type: settings.config.systemType ?? "",
      interface_version: 0x34
    })
  ).pipe(
    Effect.flatMap((response) =>
      response.command_status === Status.ROK
        ? Effect.void
        : Effect.fail(classifyBind(response.command_status, settings.overrides))
    )
  )

/** Opens and binds one connection, within `requestTimeout`; a failed bind destroys the socket. */
const connect = (s: Smpp, role: Link["role"]): Effect.Effect<Connection, Transport.TransportErrorReason> =>
  Effect.flatMap(open(s), (conn) =>
    bind(s.settings, conn, role).pipe(
      Effect.as(conn),
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => conn.session.destroy()))
    )).pipe(withTimeout(s.settings.requestTimeout, "bind"))

// links: bind, keep alive, re-bind

/**
 * Starts one bind role: its bind loop, `enquire_link` and the sweeper of
 * submit deadlines live in the scope. Waits for the first bind attempt,
 * whatever its outcome.
 */
const makeLink = (s: Smpp, role: Link["role"]): Effect.Effect<Link, never, Scope.Scope> =>
  Effect.gen(function*() {
    const link: Link = {
      role,
      current: undefined,
      ready: Latch.makeUnsafe(false),
      lastFailure: new Transport.Unavailable({ code: "not-bound" }),
      state: "rebinding"
    }
    // settled by the first bind attempt, whatever its outcome: make waits for it
    const firstAttempt = Deferred.makeUnsafe<void>()
    yield* Effect.forkScoped(Effect.ignore(bindLoop(s, link, firstAttempt)))
    yield* Effect.forkScoped(keepAlive(s, link))
    yield* Effect.forkScoped(sweep(s, link))
    yield* Deferred.await(firstAttempt)
    return link
  })

/** Connects and binds on the reconnect schedule, logging each failure and marking the link down. */
const bindWithBackoff = (s: Smpp, link: Link, firstAttempt: Deferred.Deferred<void>) =>
  connect(s, link.role).pipe(
    Effect.tapError((failure) =>
      Effect.andThen(
        Effect.sync(() => {
          link.lastFailure = failure
          link.state = "down"
          Deferred.doneUnsafe(firstAttempt, Effect.void)
        }),
        failure._tag === "AuthenticationFailed"
          ? Effect.logError(`smsforge/transports/smpp: ${link.role} bind refused (${failure._tag} ${failure.code ?? ""}), retrying slowly`)
          : Effect.logWarning(`smsforge/transports/smpp: ${link.role} bind failed (${failure._tag} ${failure.code ?? ""}), retrying`)
      )
    ),
    Effect.retry(backoff(s.settings.reconnect))
  )

/** Binds, holds the bind until its connection closes, and binds again, until the scope closes. */
const bindLoop = (s: Smpp, link: Link, firstAttempt: Deferred.Deferred<void>) => {
  const bindOnce = bindWithBackoff(s, link, firstAttempt)
  return Effect.gen(function*() {
    while (true) {
      const conn = yield* bindOnce
      link.current = conn
      link.state = "bound"
      link.ready.openUnsafe()
      Deferred.doneUnsafe(firstAttempt, Effect.void)
      // interrupted when the scope closes: whatever the finalizer left open goes
      yield* Deferred.await(conn.closed).pipe(Effect.onInterrupt(() => Effect.sync(() => conn.session.destroy())))
      link.ready.closeUnsafe()
      link.current = undefined
      link.lastFailure = conn.failure ?? connectionLost()
      link.state = "rebinding"
      if (s.closing) return
      yield* Effect.logWarning(
        `smsforge/transports/smpp: ${link.role} link lost (${link.lastFailure._tag} ${link.lastFailure.code ?? ""}), re-binding`
      )
    }
  }).pipe(Effect.ensuring(Effect.sync(() => {
    // a finite reconnect schedule ended: the link stays down
    if (link.state !== "bound") link.state = "down"
    Deferred.doneUnsafe(firstAttempt, Effect.void)
  })))
}

/** `enquire_link` every interval; an unanswered one drops the connection, so the link re-binds. */
const keepAlive = (s: Smpp, link: Link) =>
  Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(s.settings.enquireLinkInterval)
      const conn = link.current
      if (conn === undefined) continue
      const exit = yield* Effect.exit(request(conn, new smpp.PDU("enquire_link")).pipe(
        withTimeout(s.settings.requestTimeout, "enquire_link")
      ))
      if (Exit.isFailure(exit) && conn.open) {
        conn.failure = new Transport.Timeout({ code: "enquire_link" })
        conn.session.destroy()
      }
    }
  })

/** Expires the submits past their deadline: one sweeper per link instead of a timer per request. */
const sweep = (s: Smpp, link: Link) =>
  Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(s.settings.sweepEvery)
      const conn = link.current
      if (conn === undefined || conn.pending.size === 0) continue
      const now = s.clock.currentTimeMillisUnsafe()
      for (const entry of [...conn.pending]) {
        if (entry.deadline <= now) entry.expire()
      }
    }
  })

/** Graceful close: drain the window and the receipts in hand, unbind, close. */
const shutdown = (s: Smpp, links: ReadonlyArray<Link>) =>
  Effect.gen(function*() {
    const { requestTimeout, windowSize } = s.settings
    s.closing = true
    yield* Effect.ignore(Effect.timeout(s.window.take(windowSize), requestTimeout))
    yield* Effect.ignore(Effect.timeout(FiberSet.awaitEmpty(s.deliverFibers), requestTimeout))
    yield* Effect.forEach(links, (link) => unbind(s.settings, link), { concurrency: "unbounded", discard: true })
  })

/** Unbinds an open link and closes its socket, destroying it if it does not close in time. */
const unbind = (settings: Settings, link: Link): Effect.Effect<void> => {
  const conn = link.current
  if (conn === undefined || !conn.open) return Effect.void
  return Effect.gen(function*() {
    yield* Effect.ignore(request(conn, new smpp.PDU("unbind")).pipe(withTimeout(settings.requestTimeout, "unbind")))
    conn.failure = new Transport.Unavailable({ code: "closed" })
    conn.session.close()
    yield* Effect.ignore(Effect.timeout(Deferred.await(conn.closed), settings.requestTimeout))
    if (conn.open) conn.session.destroy()
  })
}

// submit

/** Why a submit cannot go out now: a refused bind as such, anything else as `Unavailable`. */
const notBound = (tx: Link): Transport.TransportErrorReason =>
  tx.lastFailure._tag === "AuthenticationFailed" ? tx.lastFailure : new Transport.Unavailable({ code: "not-bound" })

/**
 * The bound transmitter. A new submit waits for a re-bind in progress
 * (at most `requestTimeout`) and fails fast while the link is down; a held
 * one (`heldUntil`, its link was lost under it) waits until then.
 */
const bound = (s: Smpp, tx: Link, heldUntil: number | undefined): Effect.Effect<Connection, Transport.TransportErrorReason> =>
  Effect.suspend(() => {
    const conn = tx.current
    if (conn !== undefined && conn.open) return Effect.succeed(conn)
    // closed, but the link loop has not seen it yet: wait for the re-bind, not on a stale open latch
    if (conn !== undefined) tx.ready.closeUnsafe()
    if (s.closing) return Effect.fail(new Transport.Unavailable({ code: "closed" }))
    if (heldUntil === undefined && tx.state === "down") return Effect.fail(notBound(tx))
    const wait = heldUntil === undefined ? s.settings.requestTimeout : heldUntil - s.clock.currentTimeMillisUnsafe()
    if (wait <= 0) return Effect.fail(notBound(tx))
    return Effect.timeoutOrElse(tx.ready.await, {
      duration: wait,
      orElse: () => Effect.fail(notBound(tx))
    }).pipe(Effect.flatMap(() => bound(s, tx, heldUntil)))
  })

/**
 * One submit_sm through the window. A link lost under it is one event,
 * not a failure per message: the submit keeps its window slot, waits for
 * the re-bind (up to `requestTimeout`) and goes again on the new bind,
 * unless it had reached the socket and `resubmitUnknown` is off.
 */
const submitPdu = (s: Smpp, tx: Link, params: Record<string, PduValue>): Effect.Effect<string, Transport.TransportErrorReason> =>
  s.window.withPermit(Effect.suspend(() => attempt(s, tx, params, undefined)))

/** Submits on the bound link; `heldUntil` is set once a link was lost under this submit. */
const attempt = (
  s: Smpp,
  tx: Link,
  params: Record<string, PduValue>,
  heldUntil: number | undefined
): Effect.Effect<string, Transport.TransportErrorReason> => {
  const conn = tx.current
  return conn !== undefined && conn.open
    ? submitOn(s, tx, conn, params, heldUntil)
    : Effect.flatMap(bound(s, tx, heldUntil), (c) => submitOn(s, tx, c, params, heldUntil))
}

/** What a submit whose connection closed before its answer does next. */
const afterLoss = (s: Smpp, tx: Link, params: Record<string, PduValue>, sent: boolean, heldUntil: number | undefined) =>
  sent && !s.settings.resubmitUnknown
    ? Effect.fail(unknownOutcome(s.settings.resubmitUnknown, "submit_sm"))
    : Effect.suspend(() => attempt(s, tx, params, heldUntil ?? s.clock.currentTimeMillisUnsafe() + s.settings.requestTimeout))

/** Sends one submit_sm on `conn`; the sweeper expires it at its deadline, a lost connection hands it to {@link afterLoss}. */
const submitOn = (s: Smpp, tx: Link, conn: Connection, params: Record<string, PduValue>, heldUntil: number | undefined) =>
  Effect.callback<string, Transport.TransportErrorReason>((resume) => {
    if (!conn.open) return resume(afterLoss(s, tx, params, false, heldUntil))
    const pdu = new smpp.PDU("submit_sm", params)
    let done = false
    let sent = false
    const settle = (next: Effect.Effect<string, Transport.TransportErrorReason>) => {
      if (done) return
      done = true
      conn.pending.delete(entry)
      delete conn.session._callbacks[pdu.sequence_number]
      resume(next)
    }
    const entry: Pending = {
      deadline: s.clock.currentTimeMillisUnsafe() + s.settings.requestTimeout,
      code: "submit_sm",
      fail: (reason) => settle(Effect.fail(reason)),
      lost: () => settle(afterLoss(s, tx, params, sent, heldUntil)),
      expire: () => settle(Effect.fail(unknownOutcome(s.settings.resubmitUnknown, "submit_sm")))
    }
    conn.pending.add(entry)
    sent = send(conn, pdu, (response) => {
      if (done) return
      done = true
      conn.pending.delete(entry)
      resume(decodeSubmit(response, s.settings.overrides, s.settings.ids))
    })
    if (!sent) return entry.lost(connectionLost())
    return Effect.sync(() => {
      done = true
      conn.pending.delete(entry)
      delete conn.session._callbacks[pdu.sequence_number]
    })
  })

/** The fields every part of a submission shares, or why the submission cannot go out. */
const submitFields = (
  s: Smpp,
  submission: Transport.Submission
): Result.Result<SubmitFields, Transport.TransportErrorReason> => {
  const { config, defaultSource } = s.settings
  const to = address(submission.to, config.addressRules)
  if (to === undefined) return Result.fail(new Transport.InvalidNumber({ code: "destination_addr" }))
  const fromValue = submission.from ?? config.defaultFrom
  const from = fromValue === undefined
    ? { ton: 0, npi: 0, addr: "" }
    : fromValue === config.defaultFrom
    ? defaultSource
    : address(fromValue, config.addressRules)
  if (from === undefined) return Result.fail(new Transport.Rejected({ code: "source_addr", detail: "sender" }))
  let validity = ""
  if (submission.validUntil !== undefined) {
    if (submission.validUntil <= s.clock.currentTimeMillisUnsafe()) {
      return Result.fail(new Transport.Rejected({ code: "expired", detail: "validUntil" }))
    }
    validity = absoluteTime(submission.validUntil)
  }
  return Result.succeed({
    serviceType: config.serviceType ?? "",
    from,
    to,
    registeredDelivery: s.settings.registeredDelivery,
    validity,
    encoding: submission.encoding
  })
}

/** Submits a message: one submit_sm, or its parts in order (the first failure stops the rest). */
const submitNow = (s: Smpp, tx: Link, submission: Transport.Submission): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> => {
  s.reference = (s.reference + 1) & 0xff
  const built = buildParts(submission, s.settings.longMessages, s.reference)
  if (built._tag === "TooLong") {
    return Effect.fail(new Transport.Rejected({ code: "message-too-long", detail: `${built.octets} octets` }))
  }
  const fields = submitFields(s, submission)
  if (Result.isFailure(fields)) return Effect.fail(fields.failure)
  const [first, ...rest] = built.parts
  if (first === undefined) return Effect.fail(new Transport.Rejected({ code: "empty-message" }))
  if (rest.length === 0) {
    return Effect.map(submitPdu(s, tx, partParams(fields.success, first)), (providerMessageId) => ({ providerMessageId }))
  }
  // parts in order; the first failure stops the rest
  return Effect.map(
    Effect.forEach(built.parts, (part) => submitPdu(s, tx, partParams(fields.success, part))),
    (segmentIds) => ({ providerMessageId: segmentIds[0]!, segmentIds })
  )
}

// constructors

/**
 * Connects, binds and returns the transport; the bind lives in the scope.
 *
 * **Details**
 * The first connect and bind are tried before `make` succeeds, but their
 * failure does not fail it: the transport keeps binding in the background on
 * the `reconnect` schedule, and submits fail fast until it is bound (a wrong
 * password with `AuthenticationFailed`, an unreachable SMSC with
 * `Unavailable`), so a client built while the SMSC is down recovers.
 * A `password` that is not a string or a `Redacted` string fails first, with
 * {@link InvalidConfig}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  config: SmppConfig
): Effect.Effect<Transport.Transport, Transport.TransportError | InvalidConfig, Scope.Scope> =>
  Effect.gen(function*() {
    const name = config.name ?? "smpp"
    // some SMSCs bind with an empty password, so "" is a password here
    const password = toRedacted(config.password, { allowEmpty: true })
    if (password === undefined) return yield* Effect.fail(invalidSecret(name, "password"))
    const s = yield* makeState(settingsOf(config, name, password))
    const links: ReadonlyArray<Link> = config.bindMode === "transmitter-receiver"
      ? yield* Effect.all([makeLink(s, "transmitter"), makeLink(s, "receiver")], { concurrency: 2 })
      : [yield* makeLink(s, "transceiver")]
    const tx = links[0]!
    yield* Effect.addFinalizer(() => shutdown(s, links))
    return Transport.make({
      name,
      capabilities: capabilitiesOf(s.settings),
      submit: (submission) => Effect.suspend(() => submitNow(s, tx, submission)),
      listen: (next) => Effect.sync(() => (s.handler = next)),
      mapStatus
    })
  })

/**
 * Provides the SMPP transport as the `Transport.Transport` service; the bind
 * lives as long as the layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: SmppConfig): Layer.Layer<Transport.Transport, Transport.TransportError | InvalidConfig> =>
  Layer.effect(Transport.Transport, make(config))

/**
 * Like {@link layer}, with the settings read from `Config`
 * (for example `password: Config.redacted("SMPP_PASSWORD")`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<SmppConfig>
): Layer.Layer<Transport.Transport, Transport.TransportError | InvalidConfig | Config.ConfigError> =>
  Layer.effect(Transport.Transport, Effect.flatMap(Config.unwrap(config), make))
