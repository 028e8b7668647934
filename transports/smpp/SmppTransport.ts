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
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import smpp from "smpp"
import type { Pdu, PduValue, Session } from "smpp"
import { Transport } from "smsforge"
import { InvalidConfig, invalidSecret, type Secret, toRedacted } from "../internal/secret.ts"
import { classify, classifyBind, Status } from "./internal/classify.ts"
import type { AddressRules, IdFormat, LongMessages } from "./internal/codec.ts"
import {
  absoluteTime,
  address,
  buildParts,
  canonicalId,
  dataCoding,
  type IdFormats,
  type Part,
  readDeliver,
  statusOfStat,
  statusOfState
} from "./internal/codec.ts"

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

interface Connection {
  readonly session: Session
  /** Writes of one tick go out in one syscall: corked now, uncorked on the next tick. */
  corked: boolean
  readonly closed: Deferred.Deferred<void>
  readonly pending: Set<Pending>
  open: boolean
  failure: Transport.TransportErrorReason | undefined
}

interface Link {
  readonly role: "transceiver" | "transmitter" | "receiver"
  current: Connection | undefined
  readonly ready: Latch.Latch
  lastFailure: Transport.TransportErrorReason
  /**
   * `rebinding` right after a bound link is lost (the first re-bind is
   * immediate, so new submits wait for it); `down` once a connect or bind
   * attempt failed (new submits fail fast, so failover is quick).
   */
  state: "bound" | "rebinding" | "down"
}

const connectionLost = () => new Transport.Unavailable({ code: "connection-lost" })

/**
 * A `Timeout` the pipeline does not retry: with `resubmitUnknown: false` an
 * SMSC that may have taken the message must not get it twice.
 */
class OutcomeUnknown extends Transport.Timeout {
  override get isRetryable(): boolean {
    return false
  }
}

/** Authentication failures wait at least this long between binds: retrying a wrong password fast can lock the account. */
const authRetryFloor = Duration.minutes(1)

const errorCode = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : "socket-error"

const defaultReconnect: Schedule.Schedule<unknown, Transport.TransportErrorReason> = Schedule.exponential(
  "200 millis"
).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(30)))),
  Schedule.jittered
)

/** Writes a PDU, coalescing the writes of one tick into one socket write. */
const send = (conn: Connection, pdu: Pdu, onResponse?: (response: Pdu) => void): boolean => {
  if (!conn.corked) {
    conn.corked = true
    conn.session.socket.cork()
    process.nextTick(() => {
      conn.corked = false
      conn.session.socket.uncork()
    })
  }
  return conn.session.send(pdu, onResponse)
}

/** A request waiting for its response. */
interface Pending {
  /** Epoch milliseconds after which the sweeper fails it with `Timeout`. */
  readonly deadline: number
  readonly code: string
  readonly fail: (reason: Transport.TransportErrorReason) => void
  /** The connection closed before the answer. */
  readonly lost: (failure: Transport.TransportErrorReason) => void
  /** No answer by `deadline`. */
  readonly expire: () => void
}

/**
 * Sends a control request (bind, enquire_link, unbind) and waits for its
 * response; fails when the connection goes. Callers bound it with
 * `withTimeout`; submit_sm has its own path with the sweeper's deadline,
 * since one sweeper per link instead of a timer per request keeps it cheap.
 */
const request = (conn: Connection, pdu: Pdu): Effect.Effect<Pdu, Transport.TransportErrorReason> =>
  Effect.callback<Pdu, Transport.TransportErrorReason>((resume) => {
    if (!conn.open) {
      resume(Effect.fail(conn.failure ?? connectionLost()))
      return
    }
    let done = false
    const fail = (reason: Transport.TransportErrorReason) => {
      if (done) return
      done = true
      conn.pending.delete(entry)
      delete conn.session._callbacks[pdu.sequence_number]
      resume(Effect.fail(reason))
    }
    const entry: Pending = {
      deadline: Infinity,
      code: pdu.command,
      fail,
      lost: fail,
      expire: () => fail(new Transport.Timeout({ code: pdu.command }))
    }
    conn.pending.add(entry)
    const sent = send(conn, pdu, (response) => {
      if (done) return
      done = true
      conn.pending.delete(entry)
      resume(Effect.succeed(response))
    })
    if (!sent) {
      entry.fail(conn.failure ?? connectionLost())
      return
    }
    return Effect.sync(() => {
      done = true
      conn.pending.delete(entry)
      delete conn.session._callbacks[pdu.sequence_number]
    })
  })

const withTimeout = (millis: number, code: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(self, {
    duration: millis,
    orElse: () => Effect.fail(new Transport.Timeout({ code }))
  })

/** Receipt `stat:` words and `message_state` numbers; anything else falls back to the common words. */
const mapStatus = (providerStatus: string): Transport.DeliveryStatus | undefined => {
  const trimmed = providerStatus.trim()
  if (/^\d$/.test(trimmed)) return statusOfState(Number(trimmed))?.status
  return statusOfStat(trimmed)
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
    const port = config.port ?? 2775
    const windowSize = Math.max(1, Math.floor(config.windowSize ?? 10))
    const requestTimeout = Duration.toMillis(Duration.fromInputUnsafe(config.requestTimeout ?? "10 seconds"))
    const enquireLinkInterval = Duration.fromInputUnsafe(config.enquireLinkInterval ?? "30 seconds")
    const reconnect = config.reconnect ?? defaultReconnect
    const resubmitUnknown = config.resubmitUnknown ?? true
    const longMessages = config.longMessages ?? "udh"
    const registeredDelivery = (config.deliveryReceipts ?? true) ? 1 : 0
    const ids: IdFormats = {
      submit: config.messageIds?.submit ?? "opaque",
      receiptText: config.messageIds?.receiptText ?? config.messageIds?.submit ?? "opaque"
    }
    const overrides = config.commandStatus
    const window = Semaphore.makeUnsafe(windowSize)
    const clock = yield* Clock.Clock
    const sweepEvery = Math.max(10, Math.min(1_000, Math.floor(requestTimeout / 10)))
    let handler: Transport.FeedbackHandler | undefined
    let closing = false
    let reference = 0

    const deliverFibers = yield* FiberSet.make<void, never>()
    const runFork = yield* FiberSet.runtime(deliverFibers)<never>()

    // deliver_sm: acknowledged only once the handler has kept it

    const respond = (conn: Connection, pdu: Pdu, status: number): void => {
      if (conn.open) send(conn, pdu.response({ command_status: status }))
    }

    const handleDeliver = (conn: Connection, pdu: Pdu): Effect.Effect<void> => {
      let answered = false
      const answer = (status: number) =>
        Effect.sync(() => {
          if (answered) return
          answered = true
          respond(conn, pdu, status)
        })
      return Effect.gen(function*() {
        const read = readDeliver(pdu, ids)
        if (read._tag === "Malformed") {
          yield* Effect.logWarning(`smsforge/transports/smpp: deliver_sm without a usable ${read.field}`)
          return yield* answer(Status.RX_P_APPN)
        }
        const current = handler
        if (current === undefined) return yield* answer(Status.RX_T_APPN)
        const now = yield* Clock.currentTimeMillis
        const feedback: Transport.Feedback = read._tag === "Receipt"
          ? {
            _tag: "DeliveryReport",
            transport: name,
            providerMessageId: read.providerMessageId,
            status: read.status,
            providerStatus: read.providerStatus,
            errorCode: read.errorCode,
            at: now
          }
          : {
            _tag: "InboundMessage",
            transport: name,
            from: read.from,
            to: read.to,
            text: read.text,
            receivedAt: now,
            part: read.part
          }
        const exit = yield* Effect.exit(current(feedback))
        yield* answer(Exit.isSuccess(exit) ? Status.ROK : Status.RX_T_APPN)
      }).pipe(Effect.onExit(() => answer(Status.RX_T_APPN)))
    }

    const onPdu = (conn: Connection, pdu: Pdu): void => {
      if (pdu.isResponse()) return
      switch (pdu.command) {
        case "deliver_sm":
          runFork(handleDeliver(conn, pdu))
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

    const open: Effect.Effect<Connection, Transport.TransportErrorReason> = Effect.callback<
      Connection,
      Transport.TransportErrorReason
    >((resume) => {
      const session = smpp.connect({ host: config.host, port })
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
          onPdu(conn, pdu)
        } catch (cause) {
          conn.failure ??= new Transport.Unavailable({ code: "pdu-handling", cause })
          session.destroy()
        }
      })
      return Effect.sync(() => session.destroy())
    })

    const bind = (conn: Connection, role: Link["role"]) =>
      request(
        conn,
        new smpp.PDU(`bind_${role}`, {
          system_id: config.systemId,
          password: Redacted.value(password),
          system_type: config.systemType ?? "",
          interface_version: 0x34
        })
      ).pipe(
        Effect.flatMap((response) =>
          response.command_status === Status.ROK
            ? Effect.void
            : Effect.fail(classifyBind(response.command_status, overrides))
        )
      )

    const connect = (role: Link["role"]): Effect.Effect<Connection, Transport.TransportErrorReason> =>
      Effect.flatMap(open, (conn) =>
        bind(conn, role).pipe(
          Effect.as(conn),
          Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => conn.session.destroy()))
        )).pipe(withTimeout(requestTimeout, "bind"))

    /** The reconnect schedule, with authentication failures held to at least {@link authRetryFloor}. */
    const backoff = Schedule.modifyDelay(reconnect, ({ duration, input }) =>
      Effect.succeed(input._tag === "AuthenticationFailed" ? Duration.max(duration, authRetryFloor) : duration))

    const makeLink = (role: Link["role"]) =>
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
        const bindWithBackoff = connect(role).pipe(
          Effect.tapError((failure) =>
            Effect.andThen(
              Effect.sync(() => {
                link.lastFailure = failure
                link.state = "down"
                Deferred.doneUnsafe(firstAttempt, Effect.void)
              }),
              failure._tag === "AuthenticationFailed"
                ? Effect.logError(`smsforge/transports/smpp: ${role} bind refused (${failure._tag} ${failure.code ?? ""}), retrying slowly`)
                : Effect.logWarning(`smsforge/transports/smpp: ${role} bind failed (${failure._tag} ${failure.code ?? ""}), retrying`)
            )
          ),
          Effect.retry(backoff)
        )
        const loop = Effect.gen(function*() {
          while (true) {
            const conn = yield* bindWithBackoff
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
            if (closing) return
            yield* Effect.logWarning(
              `smsforge/transports/smpp: ${role} link lost (${link.lastFailure._tag} ${link.lastFailure.code ?? ""}), re-binding`
            )
          }
        }).pipe(Effect.ensuring(Effect.sync(() => {
          // a finite reconnect schedule ended: the link stays down
          if (link.state !== "bound") link.state = "down"
          Deferred.doneUnsafe(firstAttempt, Effect.void)
        })))
        const keepAlive = Effect.gen(function*() {
          while (true) {
            yield* Effect.sleep(enquireLinkInterval)
            const conn = link.current
            if (conn === undefined) continue
            const exit = yield* Effect.exit(request(conn, new smpp.PDU("enquire_link")).pipe(
              withTimeout(requestTimeout, "enquire_link")
            ))
            if (Exit.isFailure(exit) && conn.open) {
              conn.failure = new Transport.Timeout({ code: "enquire_link" })
              conn.session.destroy()
            }
          }
        })
        const sweep = Effect.gen(function*() {
          while (true) {
            yield* Effect.sleep(sweepEvery)
            const conn = link.current
            if (conn === undefined || conn.pending.size === 0) continue
            const now = clock.currentTimeMillisUnsafe()
            for (const entry of [...conn.pending]) {
              if (entry.deadline <= now) entry.expire()
            }
          }
        })
        yield* Effect.forkScoped(Effect.ignore(loop))
        yield* Effect.forkScoped(keepAlive)
        yield* Effect.forkScoped(sweep)
        yield* Deferred.await(firstAttempt)
        return link
      })

    const links: ReadonlyArray<Link> = config.bindMode === "transmitter-receiver"
      ? yield* Effect.all([makeLink("transmitter"), makeLink("receiver")], { concurrency: 2 })
      : [yield* makeLink("transceiver")]
    const tx = links[0]!

    // graceful close: drain the window and the receipts in hand, unbind, close
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closing = true
        yield* Effect.ignore(Effect.timeout(window.take(windowSize), requestTimeout))
        yield* Effect.ignore(Effect.timeout(FiberSet.awaitEmpty(deliverFibers), requestTimeout))
        yield* Effect.forEach(links, (link) => {
          const conn = link.current
          if (conn === undefined || !conn.open) return Effect.void
          return Effect.gen(function*() {
            yield* Effect.ignore(request(conn, new smpp.PDU("unbind")).pipe(withTimeout(requestTimeout, "unbind")))
            conn.failure = new Transport.Unavailable({ code: "closed" })
            conn.session.close()
            yield* Effect.ignore(Effect.timeout(Deferred.await(conn.closed), requestTimeout))
            if (conn.open) conn.session.destroy()
          })
        }, { concurrency: "unbounded", discard: true })
      })
    )

    // submit

    /** Why a submit cannot go out now: a refused bind as such, anything else as `Unavailable`. */
    const notBound = (): Transport.TransportErrorReason =>
      tx.lastFailure._tag === "AuthenticationFailed" ? tx.lastFailure : new Transport.Unavailable({ code: "not-bound" })

    /**
     * The bound transmitter. A new submit waits for a re-bind in progress
     * (at most `requestTimeout`) and fails fast while the link is down; a held
     * one (`heldUntil`, its link was lost under it) waits until then.
     */
    const bound = (heldUntil: number | undefined): Effect.Effect<Connection, Transport.TransportErrorReason> =>
      Effect.suspend(() => {
        const conn = tx.current
        if (conn !== undefined && conn.open) return Effect.succeed(conn)
        // closed, but the link loop has not seen it yet: wait for the re-bind, not on a stale open latch
        if (conn !== undefined) tx.ready.closeUnsafe()
        if (closing) return Effect.fail(new Transport.Unavailable({ code: "closed" }))
        if (heldUntil === undefined && tx.state === "down") return Effect.fail(notBound())
        const wait = heldUntil === undefined ? requestTimeout : heldUntil - clock.currentTimeMillisUnsafe()
        if (wait <= 0) return Effect.fail(notBound())
        return Effect.timeoutOrElse(tx.ready.await, {
          duration: wait,
          orElse: () => Effect.fail(notBound())
        }).pipe(Effect.flatMap(() => bound(heldUntil)))
      })

    const decodeSubmit = (response: Pdu): Effect.Effect<string, Transport.TransportErrorReason> => {
      if (response.command_status !== Status.ROK) return Effect.fail(classify(response.command_status, overrides))
      const id = response["message_id"]
      return typeof id === "string" && id !== ""
        ? Effect.succeed(canonicalId(id, ids.submit, ids.submit))
        : Effect.fail(new Transport.Unavailable({ code: "submit_sm_resp-without-message_id" }))
    }

    const unknownOutcome = (code: string): Transport.TransportErrorReason =>
      resubmitUnknown ? new Transport.Timeout({ code }) : new OutcomeUnknown({ code: "outcome-unknown" })

    /**
     * One submit_sm through the window. A link lost under it is one event,
     * not a failure per message: the submit keeps its window slot, waits for
     * the re-bind (up to `requestTimeout`) and goes again on the new bind,
     * unless it had reached the socket and `resubmitUnknown` is off.
     */
    const submitPdu = (params: Record<string, PduValue>): Effect.Effect<string, Transport.TransportErrorReason> =>
      window.withPermit(Effect.suspend(() => attempt(params, undefined)))

    /** Submits on the bound link; `heldUntil` is set once a link was lost under this submit. */
    const attempt = (params: Record<string, PduValue>, heldUntil: number | undefined): Effect.Effect<string, Transport.TransportErrorReason> => {
      const conn = tx.current
      return conn !== undefined && conn.open
        ? submitOn(conn, params, heldUntil)
        : Effect.flatMap(bound(heldUntil), (c) => submitOn(c, params, heldUntil))
    }

    /** What a submit whose connection closed before its answer does next. */
    const afterLoss = (params: Record<string, PduValue>, sent: boolean, heldUntil: number | undefined) =>
      sent && !resubmitUnknown
        ? Effect.fail(unknownOutcome("submit_sm"))
        : Effect.suspend(() => attempt(params, heldUntil ?? clock.currentTimeMillisUnsafe() + requestTimeout))

    const submitOn = (conn: Connection, params: Record<string, PduValue>, heldUntil: number | undefined) =>
      Effect.callback<string, Transport.TransportErrorReason>((resume) => {
        if (!conn.open) return resume(afterLoss(params, false, heldUntil))
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
          deadline: clock.currentTimeMillisUnsafe() + requestTimeout,
          code: "submit_sm",
          fail: (reason) => settle(Effect.fail(reason)),
          lost: () => settle(afterLoss(params, sent, heldUntil)),
          expire: () => settle(Effect.fail(unknownOutcome("submit_sm")))
        }
        conn.pending.add(entry)
        sent = send(conn, pdu, (response) => {
          if (done) return
          done = true
          conn.pending.delete(entry)
          resume(decodeSubmit(response))
        })
        if (!sent) return entry.lost(connectionLost())
        return Effect.sync(() => {
          done = true
          conn.pending.delete(entry)
          delete conn.session._callbacks[pdu.sequence_number]
        })
      })

    const defaultSource = config.defaultFrom === undefined ? undefined : address(config.defaultFrom, config.addressRules)

    const submitNow = (submission: Transport.Submission): Effect.Effect<Transport.SubmitResult, Transport.TransportErrorReason> => {
      reference = (reference + 1) & 0xff
      const built = buildParts(submission, longMessages, reference)
      if (built._tag === "TooLong") {
        return Effect.fail(new Transport.Rejected({ code: "message-too-long", detail: `${built.octets} octets` }))
      }
      const to = address(submission.to, config.addressRules)
      if (to === undefined) return Effect.fail(new Transport.InvalidNumber({ code: "destination_addr" }))
      const fromValue = submission.from ?? config.defaultFrom
      const from = fromValue === undefined
        ? { ton: 0, npi: 0, addr: "" }
        : fromValue === config.defaultFrom
        ? defaultSource
        : address(fromValue, config.addressRules)
      if (from === undefined) return Effect.fail(new Transport.Rejected({ code: "source_addr", detail: "sender" }))
      let validity = ""
      if (submission.validUntil !== undefined) {
        if (submission.validUntil <= clock.currentTimeMillisUnsafe()) {
          return Effect.fail(new Transport.Rejected({ code: "expired", detail: "validUntil" }))
        }
        validity = absoluteTime(submission.validUntil)
      }
      const params = (part: Part): Record<string, PduValue> => ({
        service_type: config.serviceType ?? "",
        source_addr_ton: from.ton,
        source_addr_npi: from.npi,
        source_addr: from.addr,
        dest_addr_ton: to.ton,
        dest_addr_npi: to.npi,
        destination_addr: to.addr,
        esm_class: part.esmClass,
        registered_delivery: registeredDelivery,
        validity_period: validity,
        data_coding: dataCoding(submission.encoding),
        short_message: part.shortMessage,
        ...(part.messagePayload === undefined ? {} : { message_payload: part.messagePayload })
      })
      const [first, ...rest] = built.parts
      if (first === undefined) return Effect.fail(new Transport.Rejected({ code: "empty-message" }))
      if (rest.length === 0) {
        return Effect.map(submitPdu(params(first)), (providerMessageId) => ({ providerMessageId }))
      }
      // parts in order; the first failure stops the rest
      return Effect.map(
        Effect.forEach(built.parts, (part) => submitPdu(params(part))),
        (segmentIds) => ({ providerMessageId: segmentIds[0]!, segmentIds })
      )
    }
    const submit = (submission: Transport.Submission) => Effect.suspend(() => submitNow(submission))

    const capabilities: Transport.Capabilities = {
      channel: "sms",
      unicode: true,
      concatenation: true,
      deliveryReceipts: registeredDelivery === 1,
      inbound: true,
      senderTypes: ["alphanumeric", "long-code", "short-code", "toll-free"],
      ...config.capabilities
    }

    return Transport.make({
      name,
      capabilities,
      submit,
      listen: (next) => Effect.sync(() => (handler = next)),
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
