/**
 * The SMPP transport against a real SMPP server on 127.0.0.1 (the `smpp`
 * package's server side acting as the carrier). Waits on events and
 * Deferreds; the TestClock drives enquire_link, so no test sleeps.
 */
import { assert, describe, it } from "@effect/vitest"
import { Config, Deferred, Effect, Exit, Fiber, Layer, Redacted, Schedule } from "effect"
import * as net from "node:net"
import { TestClock } from "effect/testing"
import smpp from "smpp"
import type { Pdu, PduValue, Server, Session } from "smpp"
import { Encoding, Sms, Transport } from "smsforge"
import { TransportConformance } from "smsforge/testing"
import { SmppTransport } from "../../transports/smpp/index.ts"

// the carrier

interface Carrier {
  readonly port: number
  /** Every session's submit_sm in arrival order, with the session index. */
  readonly submits: Array<{ readonly session: number; readonly pdu: Pdu }>
  /** Submissions the carrier answered with ESME_ROK, by text: what it accepted. */
  readonly accepted: Map<string, number>
  readonly binds: Array<string>
  readonly sessions: Array<Session>
  readonly enquireLinks: Array<{ readonly submitsSoFar: number }>
  readonly unbinds: Array<number>
  nextId: number
}

interface CarrierOptions {
  readonly password?: string
  /** Decides how to answer one submit_sm; the default accepts it. */
  readonly onSubmit?: (carrier: Carrier, session: Session, pdu: Pdu, sessionIndex: number) => void
  readonly onEnquireLink?: (carrier: Carrier) => void
  readonly onUnbind?: () => void
  readonly messageId?: (n: number) => string
  /** Listen on this port instead of a random one. */
  readonly port?: number
}

const textOf = (pdu: Pdu): string => {
  const body = pdu["message_payload"] ?? pdu["short_message"]
  if (typeof body === "object" && body !== null && "message" in body) {
    const message = (body as { message: unknown }).message
    return typeof message === "string" ? message : String(message)
  }
  return String(body)
}

/** Answers a submit_sm with ESME_ROK and records it as accepted. */
const accept = (carrier: Carrier, session: Session, pdu: Pdu, options: CarrierOptions): void => {
  const n = ++carrier.nextId
  const text = textOf(pdu)
  carrier.accepted.set(text, (carrier.accepted.get(text) ?? 0) + 1)
  session.send(pdu.response({ message_id: options.messageId?.(n) ?? `msg-${n}` }))
}

const startCarrier = (options: CarrierOptions = {}) =>
  Effect.acquireRelease(
    Effect.callback<Carrier>((resume) => {
      const carrier: Carrier = {
        port: 0,
        submits: [],
        accepted: new Map(),
        binds: [],
        sessions: [],
        enquireLinks: [],
        unbinds: [],
        nextId: 0
      }
      const server: Server = smpp.createServer((session) => {
        const index = carrier.sessions.length
        carrier.sessions.push(session)
        session.on("error", () => {})
        const onBind = (pdu: Pdu) => {
          carrier.binds.push(pdu.command)
          if (pdu["password"] !== (options.password ?? "secret")) {
            session.send(pdu.response({ command_status: 0x0e }))
            session.close()
            return
          }
          session.send(pdu.response({ system_id: "carrier" }))
        }
        session.on("bind_transceiver", onBind)
        session.on("bind_transmitter", onBind)
        session.on("bind_receiver", onBind)
        session.on("enquire_link", (pdu: Pdu) => {
          carrier.enquireLinks.push({ submitsSoFar: carrier.submits.length })
          session.send(pdu.response())
          options.onEnquireLink?.(carrier)
        })
        session.on("unbind", (pdu: Pdu) => {
          carrier.unbinds.push(index)
          session.send(pdu.response())
          options.onUnbind?.()
        })
        session.on("submit_sm", (pdu: Pdu) => {
          carrier.submits.push({ session: index, pdu })
          if (options.onSubmit) options.onSubmit(carrier, session, pdu, index)
          else accept(carrier, session, pdu, options)
        })
      })
      server.listen(options.port ?? 0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(Object.assign(carrier, {
          port: typeof address === "object" && address !== null ? address.port : 0,
          server
        })))
      })
    }),
    (carrier) =>
      Effect.callback<void>((resume) => {
        const server = (carrier as Carrier & { server: Server }).server
        for (const session of server.sessions) session.destroy()
        server.close(() => resume(Effect.void))
      })
  )

const config = (carrier: Carrier, overrides: Partial<SmppTransport.SmppConfig> = {}): SmppTransport.SmppConfig => ({
  host: "127.0.0.1",
  port: carrier.port,
  systemId: "esme",
  password: Redacted.make("secret"),
  enquireLinkInterval: "30 seconds",
  defaultFrom: "smsforge",
  ...overrides
})

const submission = (text: string, overrides: Partial<Transport.Submission> = {}): Transport.Submission => {
  const analysis = Encoding.analyze(text)
  return {
    to: "+447700900123",
    text: analysis.text,
    segments: analysis.segments,
    encoding: analysis.encoding,
    clientReference: "m-1",
    purpose: "transactional",
    ...overrides
  }
}

/** Resolves once `predicate` holds, re-checked every event-loop turn (no timers). */
const waitFor = (predicate: () => boolean) =>
  Effect.gen(function*() {
    while (!predicate()) yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
  })

/** Runs `effect` again, one event-loop turn apart, while it fails with `reason` (a bind still in flight). */
const whileFailing = <A>(effect: Effect.Effect<A, Transport.TransportError>, reason: string) =>
  Effect.gen(function*() {
    for (let turn = 0;; turn++) {
      const exit = yield* Effect.exit(effect)
      if (Exit.isSuccess(exit) || turn > 1_000) return yield* exit
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")
      if (error === undefined || error.error.reason._tag !== reason) return yield* exit
      yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
    }
  })

const sendDeliver = (session: Session, params: Record<string, PduValue>) =>
  Effect.callback<Pdu>((resume) => {
    session.send(new smpp.PDU("deliver_sm", params), (response) => resume(Effect.succeed(response)))
  })

describe("SmppTransport conformance", () => {
  const refused = "+447700900999"
  const make = Effect.flatMap(
    startCarrier({
      onSubmit: (carrier, session, pdu) =>
        pdu["destination_addr"] === refused.slice(1)
          ? session.send(pdu.response({ command_status: 0x0b }))
          : accept(carrier, session, pdu, {})
    }),
    (carrier) => SmppTransport.make(config(carrier))
  )
  for (const c of TransportConformance.suite({ make, recipient: "+447700900123", refusedRecipient: refused, secrets: ["secret"] })) {
    it.effect(c.name, () => Effect.scoped(c.run))
  }

  it.effect("maps receipt stat words and message_state numbers fed in from outside", () =>
    Effect.gen(function*() {
      const t = yield* make
      assert.strictEqual(t.mapStatus("DELIVRD"), "delivered")
      assert.strictEqual(t.mapStatus("UNDELIV"), "undelivered")
      assert.strictEqual(t.mapStatus("5"), "undelivered")
      assert.strictEqual(t.mapStatus("2"), "delivered")
      assert.strictEqual(t.mapStatus("expired"), "expired")
    }))
})

describe("SmppTransport", () => {
  it.effect("binds as a transceiver and submits GSM-7 with data_coding 0", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier))
      const text = "Hello @ {world} €5"
      const result = yield* transport.submit(submission(text, { validUntil: Date.UTC(2031, 0, 2, 3, 4, 5) }))
      assert.strictEqual(result.providerMessageId, "msg-1")
      assert.isUndefined(result.segmentIds)
      assert.deepStrictEqual(carrier.binds, ["bind_transceiver"])
      const pdu = carrier.submits[0]!.pdu
      assert.strictEqual(pdu["data_coding"], 0)
      assert.strictEqual(textOf(pdu), text)
      assert.strictEqual(pdu["destination_addr"], "447700900123")
      assert.strictEqual(pdu["dest_addr_ton"], 1)
      assert.strictEqual(pdu["dest_addr_npi"], 1)
      assert.strictEqual(pdu["source_addr"], "smsforge")
      assert.strictEqual(pdu["source_addr_ton"], 5)
      assert.strictEqual(pdu["registered_delivery"], 1)
      assert.strictEqual(pdu["esm_class"], 0)
      // the server decodes the absolute time back into a Date
      const validity = pdu["validity_period"]
      assert.instanceOf(validity, Date)
      assert.strictEqual((validity as Date).getTime(), Date.UTC(2031, 0, 2, 3, 4, 5))
    }))

  it.effect("submits UCS-2 with data_coding 8 and a numeric sender", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier))
      const text = "Привет, 世界 👋"
      yield* transport.submit(submission(text, { from: "+15005550006" }))
      const pdu = carrier.submits[0]!.pdu
      assert.strictEqual(pdu["data_coding"], 8)
      assert.strictEqual(textOf(pdu), text)
      assert.strictEqual(pdu["source_addr"], "15005550006")
      assert.strictEqual(pdu["source_addr_ton"], 1)
    }))

  it.effect("sends a long message as UDH parts with an 8-bit concatenation IE", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier))
      for (const text of ["0123456789".repeat(40), "Ж".repeat(150)]) {
        carrier.submits.length = 0
        const s = submission(text)
        assert.isAbove(s.segments.length, 1)
        const result = yield* transport.submit(s)
        assert.strictEqual(carrier.submits.length, s.segments.length)
        assert.deepStrictEqual(result.segmentIds, carrier.submits.map((_, i) => `msg-${carrier.nextId - s.segments.length + i + 1}`))
        assert.strictEqual(result.providerMessageId, result.segmentIds![0])
        const references = new Set<number>()
        carrier.submits.forEach(({ pdu }, i) => {
          assert.strictEqual((pdu["esm_class"] as number) & 0x40, 0x40)
          const body = pdu["short_message"] as { udh: Array<Buffer>; message: string }
          assert.strictEqual(body.udh.length, 1)
          const ie = body.udh[0]!
          assert.strictEqual(ie[0], 0x00)
          assert.strictEqual(ie[1], 3)
          assert.strictEqual(ie[3], s.segments.length)
          assert.strictEqual(ie[4], i + 1)
          references.add(ie[2]!)
          assert.strictEqual(body.message, s.segments[i])
        })
        assert.strictEqual(references.size, 1)
      }
    }))

  it.effect("sends a long message as one message_payload when configured", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier, { longMessages: "payload" }))
      const text = "payload ".repeat(60)
      yield* transport.submit(submission(text))
      assert.strictEqual(carrier.submits.length, 1)
      const pdu = carrier.submits[0]!.pdu
      assert.strictEqual(textOf(pdu), text)
      assert.strictEqual(pdu["esm_class"], 0)
    }))

  it.effect("never has more than windowSize requests outstanding", () =>
    Effect.gen(function*() {
      const windowSize = 3
      const held: Array<{ session: Session; pdu: Pdu }> = []
      let release = false
      let maxOutstanding = 0
      const options: CarrierOptions = {
        onSubmit: (carrier, session, pdu) => {
          if (release) return accept(carrier, session, pdu, options)
          held.push({ session, pdu })
          maxOutstanding = Math.max(maxOutstanding, held.length)
        }
      }
      const carrier = yield* startCarrier(options)
      const transport = yield* SmppTransport.make(config(carrier, { windowSize, enquireLinkInterval: "5 seconds" }))
      const fiber = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: 12 }, (_, i) => `w${i}`), (t) => transport.submit(submission(t)), {
          concurrency: "unbounded"
        })
      )
      yield* waitFor(() => held.length === windowSize)
      // an enquire_link sent now is written after every submit_sm the window let through
      yield* TestClock.adjust("5 seconds")
      yield* waitFor(() => carrier.enquireLinks.length === 1)
      assert.strictEqual(carrier.enquireLinks[0]!.submitsSoFar, windowSize)
      release = true
      for (const { session, pdu } of held.splice(0)) accept(carrier, session, pdu, options)
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(results.length, 12)
      assert.strictEqual(maxOutstanding, windowSize)
      assert.strictEqual(carrier.accepted.size, 12)
    }))

  it.effect("keeps the link alive with enquire_link", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      yield* SmppTransport.make(config(carrier, { enquireLinkInterval: "10 seconds" }))
      yield* TestClock.adjust("10 seconds")
      yield* waitFor(() => carrier.enquireLinks.length === 1)
      yield* TestClock.adjust("10 seconds")
      yield* waitFor(() => carrier.enquireLinks.length === 2)
    }))

  it.effect("fails a request without an answer after requestTimeout with Timeout", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier({ onSubmit: () => {} })
      const transport = yield* SmppTransport.make(config(carrier, { requestTimeout: "2 seconds" }))
      const fiber = yield* Effect.forkChild(Effect.flip(transport.submit(submission("never answered"))))
      yield* waitFor(() => carrier.submits.length === 1)
      yield* TestClock.adjust("2500 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.reason.code, "submit_sm")
      assert.isTrue(error.isRetryable)
    }))

  it.effect("re-binds when enquire_link goes unanswered", () =>
    Effect.gen(function*() {
      let answer = false
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier, { enquireLinkInterval: "10 seconds", requestTimeout: "2 seconds" }))
      // the carrier's session 0 stops answering enquire_link
      carrier.sessions[0]!.removeAllListeners("enquire_link")
      let unanswered = 0
      carrier.sessions[0]!.on("enquire_link", (pdu: Pdu) => {
        if (answer) carrier.sessions[0]!.send(pdu.response())
        else unanswered++
      })
      yield* TestClock.adjust("10 seconds")
      yield* waitFor(() => unanswered === 1)
      yield* TestClock.adjust("2 seconds")
      yield* waitFor(() => carrier.binds.length === 2)
      answer = true
      const result = yield* transport.submit(submission("after re-bind"))
      assert.strictEqual(carrier.submits[0]!.session, 1)
      assert.strictEqual(result.providerMessageId, "msg-1")
    }))

  it.effect("re-binds on the reconnect schedule while the SMSC refuses", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier, { reconnect: Schedule.spaced("1 second") }))
      // from now on the SMSC is busy for two more binds
      let busy = 2
      const refuse = (session: Session) => {
        session.removeAllListeners("bind_transceiver")
        session.on("bind_transceiver", (pdu: Pdu) => {
          carrier.binds.push(pdu.command)
          if (busy-- > 0) {
            session.send(pdu.response({ command_status: 0x08 }))
            return
          }
          session.send(pdu.response({ system_id: "carrier" }))
        })
      }
      const server = (carrier as Carrier & { server: Server }).server
      server.on("session", refuse)
      carrier.sessions[0]!.destroy()
      yield* waitFor(() => carrier.binds.length === 2) // the first attempt is immediate
      yield* TestClock.adjust("1 second")
      yield* waitFor(() => carrier.binds.length === 3)
      yield* TestClock.adjust("1 second")
      yield* waitFor(() => carrier.binds.length === 4)
      const result = yield* whileFailing(transport.submit(submission("after backoff")), "Unavailable")
      assert.strictEqual(result.providerMessageId, "msg-1")
    }))

  it.effect("drops and re-binds a link whose SMSC sends a malformed PDU", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier))
      const header = Buffer.alloc(16)
      header.writeUInt32BE(1 << 20, 0) // a command_length past the package's limit
      carrier.sessions[0]!.socket.write(header)
      yield* waitFor(() => carrier.binds.length === 2)
      yield* transport.submit(submission("after garbage"))
      assert.strictEqual(carrier.submits[0]!.session, 1)
    }))

  it.effect("answers an unbind from the SMSC and binds again", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier))
      const answered = yield* Effect.callback<Pdu>((resume) => {
        carrier.sessions[0]!.send(new smpp.PDU("unbind"), (response) => resume(Effect.succeed(response)))
      })
      assert.strictEqual(answered.command, "unbind_resp")
      yield* waitFor(() => carrier.binds.length === 2)
      yield* transport.submit(submission("after unbind"))
      assert.strictEqual(carrier.submits[0]!.session, 1)
    }))

  it.effect("maps a throttled submission to Throttled, retryable", () =>
    Effect.gen(function*() {
      let status = 0x58
      const carrier = yield* startCarrier({
        onSubmit: (_carrier, session, pdu) => session.send(pdu.response({ command_status: status }))
      })
      const transport = yield* SmppTransport.make(config(carrier))
      const throttled = yield* Effect.flip(transport.submit(submission("hi")))
      assert.strictEqual(throttled.reason._tag, "Throttled")
      assert.strictEqual(throttled.reason.code, "ESME_RTHROTTLED")
      assert.isTrue(throttled.isRetryable)
      status = 0x14
      const full = yield* Effect.flip(transport.submit(submission("hi")))
      assert.strictEqual(full.reason._tag, "Throttled")
      assert.strictEqual(full.reason.code, "ESME_RMSGQFUL")
    }))

  it.effect("maps an invalid destination to InvalidNumber, permanent", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier({
        onSubmit: (_carrier, session, pdu) => session.send(pdu.response({ command_status: 0x0b }))
      })
      const transport = yield* SmppTransport.make(config(carrier))
      const error = yield* Effect.flip(transport.submit(submission("hi")))
      assert.strictEqual(error.reason._tag, "InvalidNumber")
      assert.isFalse(error.isRetryable)
      assert.strictEqual(error.transport, "smpp")
    }))

  it.effect("a plain-string password binds and never shows in the transport or a bind failure", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier({ password: "plainpw" })
      const transport = yield* SmppTransport.make(config(carrier, { password: "plainpw" }))
      assert.strictEqual((yield* transport.submit(submission("Hello"))).providerMessageId, "msg-1")
      assert.notInclude(`${JSON.stringify(transport)} ${String(transport)}`, "plainpw")
      const refused = yield* startCarrier({ password: "other" })
      const refusedTransport = yield* SmppTransport.make(config(refused, { password: "plainpw" }))
      const error = yield* Effect.flip(refusedTransport.submit(submission("Hello")))
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
      assert.notInclude(`${JSON.stringify(error)} ${String(error)} ${error.message}`, "plainpw")
    }))

  it.effect("a password of the wrong type fails make before connecting, naming the field", () =>
    Effect.gen(function*() {
      for (const password of [undefined, 1234, { value: "x" }]) {
        const error = yield* Effect.flip(SmppTransport.make(config({ port: 1 } as Carrier, { password: password as unknown as string })))
        if (error._tag !== "InvalidConfig") return assert.fail(error._tag)
        assert.strictEqual(error.field, "password")
      }
    }))

  it.effect("retries a refused bind slowly, reports it, and binds once the password is right", () =>
    Effect.gen(function*() {
      let password = "other"
      const carrier = yield* startCarrier({ get password() { return password } })
      // make does not fail: the bind goes on in the background
      const transport = yield* SmppTransport.make(config(carrier))
      assert.strictEqual(carrier.binds.length, 1)
      const error = yield* Effect.flip(transport.submit(submission("hi")))
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
      assert.strictEqual(error.reason.code, "ESME_RINVPASWD")
      assert.notInclude(JSON.stringify(error), "secret")
      // the default schedule would try again after about 200 ms; a refused bind waits a minute
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(carrier.binds.length, 1)
      password = "secret"
      yield* TestClock.adjust("31 seconds")
      yield* waitFor(() => carrier.binds.length === 2)
      const result = yield* whileFailing(transport.submit(submission("after the fix")), "AuthenticationFailed")
      assert.strictEqual(result.providerMessageId, "msg-1")
    }))

  it.effect("a link drop with a full default window resubmits every unanswered submit on the new bind, once", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier({
        onSubmit: (carrier, session, pdu, sessionIndex) => {
          if (sessionIndex > 0) return accept(carrier, session, pdu, {})
          const onFirst = carrier.submits.filter((s) => s.session === 0).length
          if (onFirst <= 2) return accept(carrier, session, pdu, {})
          // hold the rest; with the default window of 10 full, drop the socket without answering
          if (onFirst === 12) session.destroy()
        }
      })
      const transport = yield* SmppTransport.make(config(carrier))
      const texts = Array.from({ length: 20 }, (_, i) => `drop-${i}`)
      // no retry here: the transport itself must carry every message over the drop
      const results = yield* Effect.forEach(texts, (t) => transport.submit(submission(t)), { concurrency: "unbounded" })
      assert.strictEqual(results.length, 20)
      assert.strictEqual(carrier.binds.length, 2, "one re-bind")
      assert.strictEqual(carrier.submits.filter((s) => s.session === 0).length, 12)
      assert.deepStrictEqual([...carrier.accepted.keys()].sort(), [...texts].sort())
      for (const count of carrier.accepted.values()) assert.strictEqual(count, 1)
      assert.strictEqual(new Set(results.map((r) => r.providerMessageId)).size, 20)
    }))

  it.live("through the pipeline with the default window and circuit breaker, a drop is no failure: every send submitted once, the route stays usable", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier({
        onSubmit: (carrier, session, pdu, sessionIndex) => {
          if (sessionIndex > 0) return accept(carrier, session, pdu, {})
          const onFirst = carrier.submits.filter((s) => s.session === 0).length
          if (onFirst <= 2) return accept(carrier, session, pdu, {})
          if (onFirst === 12) session.destroy()
        }
      })
      const context = yield* Layer.build(Sms.layer({ transports: [SmppTransport.make(config(carrier))] }))
      const sms = Sms.Sms.pipe(Effect.provide(context))
      const texts = Array.from({ length: 20 }, (_, i) => `pipeline ${i}`)
      const receipts = yield* Effect.forEach(
        texts,
        (text, i) => Effect.flatMap(sms, (s) => s.send({ to: `+4474001234${10 + i}`, text })),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(receipts.map((r) => [r.status, r.attempts]), texts.map(() => ["submitted", 1]))
      assert.strictEqual(carrier.binds.length, 2)
      for (const text of texts) assert.strictEqual(carrier.accepted.get(text), 1, text)
      const after = yield* Effect.flatMap(sms, (s) => s.send({ to: "+447400123499", text: "after" }))
      assert.strictEqual(after.status, "submitted")
    }))

  it.effect("with resubmitUnknown: false, a submit the SMSC took before the link dropped fails as an unknown outcome, not retried", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier({
        onSubmit: (carrier, session, pdu, sessionIndex) => {
          if (sessionIndex > 0) return accept(carrier, session, pdu, {})
          // the SMSC takes it, then the connection resets before submit_sm_resp
          const text = textOf(pdu)
          carrier.accepted.set(text, (carrier.accepted.get(text) ?? 0) + 1)
          session.destroy()
        }
      })
      const transport = yield* SmppTransport.make(config(carrier, { resubmitUnknown: false }))
      let attempts = 0
      const error = yield* Effect.suspend(() => {
        attempts++
        return transport.submit(submission("taken once"))
      }).pipe(Effect.retry({ schedule: Schedule.recurs(3), while: (e) => e.isRetryable }), Effect.flip)
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.reason.code, "outcome-unknown")
      assert.isFalse(error.isRetryable)
      assert.strictEqual(attempts, 1)
      assert.strictEqual(carrier.accepted.get("taken once"), 1)
      // the route works again on the new bind
      yield* waitFor(() => carrier.binds.length === 2)
      assert.strictEqual((yield* transport.submit(submission("next"))).providerMessageId, "msg-1")
    }))

  it.effect("hands receipts to the listener and acknowledges only after the handler completes", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier({ messageId: () => "1A2B3C4D" })
      const transport = yield* SmppTransport.make(
        config(carrier, { messageIds: { submit: "hex", receiptText: "decimal" } })
      )
      const result = yield* transport.submit(submission("receipt me"))
      assert.strictEqual(result.providerMessageId, "1a2b3c4d")

      const session = carrier.sessions[0]!
      // no listener yet: a temporary error, so the SMSC redelivers
      const early = yield* sendDeliver(session, {
        esm_class: 0x04,
        short_message: "id:439041101 sub:001 dlvrd:001 submit date:2311231200 done date:2311231201 stat:DELIVRD err:000 text:receipt me"
      })
      assert.strictEqual(early.command_status, 0x64)

      const stored: Array<Transport.Feedback> = []
      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      yield* transport.listen((feedback) =>
        Effect.gen(function*() {
          yield* Deferred.succeed(entered, undefined)
          yield* Deferred.await(gate)
          stored.push(feedback)
        })
      )
      let answered: Pdu | undefined
      session.send(
        new smpp.PDU("deliver_sm", {
          esm_class: 0x04,
          short_message:
            "id:439041101 sub:001 dlvrd:001 submit date:2311231200 done date:2311231201 stat:DELIVRD err:000 text:receipt me"
        }),
        (response) => (answered = response)
      )
      yield* Deferred.await(entered)
      assert.isUndefined(answered, "no deliver_sm_resp while the handler runs")
      yield* Deferred.succeed(gate, undefined)
      yield* waitFor(() => answered !== undefined)
      assert.strictEqual(answered!.command_status, 0)
      assert.strictEqual(stored.length, 1)
      const report = stored[0]!
      assert.strictEqual(report._tag, "DeliveryReport")
      if (report._tag === "DeliveryReport") {
        assert.strictEqual(report.providerMessageId, result.providerMessageId)
        assert.strictEqual(report.status, "delivered")
        assert.strictEqual(report.providerStatus, "DELIVRD")
        assert.strictEqual(report.errorCode, "000")
        assert.strictEqual(report.transport, "smpp")
      }

      // TLVs win over the text
      const tlv = yield* sendDeliver(session, {
        esm_class: 0x04,
        short_message: "",
        receipted_message_id: "001A2B3C4D",
        message_state: 5
      })
      assert.strictEqual(tlv.command_status, 0)
      const undelivered = stored[1]!
      assert.strictEqual(undelivered._tag === "DeliveryReport" && undelivered.status, "undelivered")
      assert.strictEqual(undelivered._tag === "DeliveryReport" && undelivered.providerMessageId, "1a2b3c4d")

      // a receipt without an id can never be stored: a permanent error
      const malformed = yield* sendDeliver(session, { esm_class: 0x04, short_message: "stat:DELIVRD" })
      assert.strictEqual(malformed.command_status, 0x65)
    }))

  it.effect("answers ESME_RX_T_APPN when the handler fails, so the SMSC redelivers", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier))
      let calls = 0
      yield* transport.listen(() =>
        Effect.suspend(() => (++calls === 1 ? Effect.die("store down") : Effect.void))
      )
      const session = carrier.sessions[0]!
      const params = { esm_class: 0x04, short_message: "id:abc stat:UNDELIV err:001" }
      const first = yield* sendDeliver(session, params)
      assert.strictEqual(first.command_status, 0x64)
      const redelivered = yield* sendDeliver(session, params)
      assert.strictEqual(redelivered.command_status, 0)
      assert.strictEqual(calls, 2)
    }))

  it.effect("hands inbound messages with their concatenation part to the listener", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const transport = yield* SmppTransport.make(config(carrier))
      const stored: Array<Transport.Feedback> = []
      yield* transport.listen((feedback) => Effect.sync(() => stored.push(feedback)))
      const session = carrier.sessions[0]!
      const ack = yield* sendDeliver(session, {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: "447700900123",
        destination_addr: "12345",
        esm_class: 0x40,
        data_coding: 8,
        short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 0x07, 0x02, 0x01]), message: "Привет" }
      })
      assert.strictEqual(ack.command_status, 0)
      const plain = yield* sendDeliver(session, { source_addr: "447700900124", source_addr_ton: 1, short_message: "STOP" })
      assert.strictEqual(plain.command_status, 0)
      const [first, second] = stored
      assert.deepStrictEqual(first, {
        _tag: "InboundMessage",
        transport: "smpp",
        from: "+447700900123",
        to: "12345",
        text: "Привет",
        receivedAt: 0,
        part: { reference: 7, count: 2, index: 1 }
      })
      assert.strictEqual(second?._tag === "InboundMessage" && second.text, "STOP")
      assert.strictEqual(second?._tag === "InboundMessage" && second.part, undefined)
    }))

  it.effect("binds a transmitter and a receiver, and unbinds both on close", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        const transport = yield* SmppTransport.make(config(carrier, { bindMode: "transmitter-receiver" }))
        assert.deepStrictEqual([...carrier.binds].sort(), ["bind_receiver", "bind_transmitter"])
        const stored: Array<Transport.Feedback> = []
        yield* transport.listen((feedback) => Effect.sync(() => stored.push(feedback)))
        yield* transport.submit(submission("via tx"))
        const txIndex = carrier.submits[0]!.session
        const rx = carrier.sessions[1 - txIndex]!
        const ack = yield* sendDeliver(rx, { source_addr: "447700900123", source_addr_ton: 1, short_message: "hi" })
        assert.strictEqual(ack.command_status, 0)
        assert.strictEqual(stored.length, 1)
      })))
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual([...carrier.unbinds].sort(), [0, 1])
    }))

  it.effect("binds with backoff when the SMSC is down at start, failing submits fast meanwhile", () =>
    Effect.gen(function*() {
      const port = yield* Effect.callback<number>((resume) => {
        const probe = net.createServer()
        probe.listen(0, "127.0.0.1", () => {
          const address = probe.address()
          probe.close(() => resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 1)))
        })
      })
      const transport = yield* SmppTransport.make(config({ port } as Carrier, { reconnect: Schedule.spaced("1 second") }))
      const error = yield* Effect.flip(transport.submit(submission("while down")))
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.strictEqual(error.reason.code, "not-bound")
      assert.isTrue(error.isRetryable)
      const carrier = yield* startCarrier({ port })
      yield* TestClock.adjust("1 second")
      yield* waitFor(() => carrier.binds.length === 1)
      const result = yield* whileFailing(transport.submit(submission("once up")), "Unavailable")
      assert.strictEqual(result.providerMessageId, "msg-1")
    }))

  it.effect("reads its settings from Config through layerConfig", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const result = yield* Effect.gen(function*() {
        const transport = yield* Transport.Transport
        return yield* transport.submit(submission("config"))
      }).pipe(
        Effect.provide(SmppTransport.layerConfig({
          host: Config.succeed("127.0.0.1"),
          port: Config.succeed(carrier.port),
          systemId: Config.succeed("esme"),
          password: Config.succeed(Redacted.make("secret"))
        }))
      )
      assert.strictEqual(result.providerMessageId, "msg-1")
    }))

  it.effect("serves as the pipeline's Transport through layer", () =>
    Effect.gen(function*() {
      const carrier = yield* startCarrier()
      const result = yield* Effect.gen(function*() {
        const transport = yield* Transport.Transport
        assert.strictEqual(transport.name, "carrier-a")
        assert.isTrue(transport.capabilities.unicode)
        return yield* transport.submit(submission("layer"))
      }).pipe(Effect.provide(SmppTransport.layer(config(carrier, { name: "carrier-a" }))))
      assert.strictEqual(result.providerMessageId, "msg-1")
      assert.deepStrictEqual(carrier.unbinds, [0])
    }))
})
