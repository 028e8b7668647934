/**
 * SMPP sessions as the transport holds them: a connection and its pending
 * requests, a link (one bind role) and its state, the request/response path
 * for control PDUs and the timings of the reconnect schedule.
 *
 * @internal
 */
import type * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Latch from "effect/Latch"
import * as Schedule from "effect/Schedule"
import type { Pdu, Session } from "smpp"
import { Transport } from "smsforge"

export interface Connection {
  readonly session: Session
  /** Writes of one tick go out in one syscall: corked now, uncorked on the next tick. */
  corked: boolean
  readonly closed: Deferred.Deferred<void>
  readonly pending: Set<Pending>
  open: boolean
  failure: Transport.TransportErrorReason | undefined
}

export interface Link {
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

/** A request waiting for its response. */
export interface Pending {
  /** Epoch milliseconds after which the sweeper fails it with `Timeout`. */
  readonly deadline: number
  readonly code: string
  readonly fail: (reason: Transport.TransportErrorReason) => void
  /** The connection closed before the answer. */
  readonly lost: (failure: Transport.TransportErrorReason) => void
  /** No answer by `deadline`. */
  readonly expire: () => void
}

export const connectionLost = () => new Transport.Unavailable({ code: "connection-lost" })

/**
 * A `Timeout` the pipeline does not retry: with `resubmitUnknown: false` an
 * SMSC that may have taken the message must not get it twice.
 */
export class OutcomeUnknown extends Transport.Timeout {
  override get isRetryable(): boolean {
    return false
  }
}

/** Authentication failures wait at least this long between binds: retrying a wrong password fast can lock the account. */
export const authRetryFloor = Duration.minutes(1)

export const errorCode = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : "socket-error"

/** The reconnect schedule, with authentication failures held to at least {@link authRetryFloor}. */
export const backoff = (reconnect: Schedule.Schedule<unknown, Transport.TransportErrorReason>) =>
  Schedule.modifyDelay(reconnect, ({ duration, input }) =>
    Effect.succeed(input._tag === "AuthenticationFailed" ? Duration.max(duration, authRetryFloor) : duration))

/** Writes a PDU, coalescing the writes of one tick into one socket write. */
export const send = (conn: Connection, pdu: Pdu, onResponse?: (response: Pdu) => void): boolean => {
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

/** Answers a request from the SMSC, if the connection is still open. */
export const respond = (conn: Connection, pdu: Pdu, status: number): void => {
  if (conn.open) send(conn, pdu.response({ command_status: status }))
}

/**
 * Sends a control request (bind, enquire_link, unbind) and waits for its
 * response; fails when the connection goes. Callers bound it with
 * `withTimeout`; submit_sm has its own path with the sweeper's deadline,
 * since one sweeper per link instead of a timer per request keeps it cheap.
 */
export const request = (conn: Connection, pdu: Pdu): Effect.Effect<Pdu, Transport.TransportErrorReason> =>
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

export const withTimeout = (millis: number, code: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(self, {
    duration: millis,
    orElse: () => Effect.fail(new Transport.Timeout({ code }))
  })
