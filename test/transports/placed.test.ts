import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { TestRunner } from "effect/cluster"
import { Sms, Transport } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { PlacedTransport } from "../../transports/placed/index.ts"

// A placed transport on effect's in-memory cluster (one runner): what crosses
// the entity, how many connections open, and where receipts go. The fleet of
// several runners on PostgreSQL is test/integration/placed.test.ts.

const UK = (i: number) => `+4474009${String(i).padStart(5, "0")}`

/** Connections built by `connect`, each a Sandbox of its own, with the number open now and at most. */
const connections = () => {
  const built: Array<Sandbox.SandboxTransport> = []
  let open = 0
  let most = 0
  const connect = Effect.gen(function*() {
    const sandbox = yield* Sandbox.make({ name: "smsc-inner" })
    built.push(sandbox)
    most = Math.max(most, ++open)
    yield* Effect.addFinalizer(() => Effect.sync(() => void open--))
    return sandbox
  })
  return { connect, built, most: () => most }
}

const capabilities: Transport.Capabilities = {
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: true,
  inbound: true,
  senderTypes: ["alphanumeric", "long-code"]
}

describe("PlacedTransport", () => {
  it.live("every send of the pipeline goes through the one connection, and its receipts reach the pipeline", () =>
    Effect.gen(function*() {
      const smsc = connections()
      const transport = yield* PlacedTransport.make({ name: "smsc", capabilities, connect: smsc.connect })
      const context = yield* Layer.build(Sms.layerPipeline({ transports: [transport] }).pipe(Layer.provide(Sms.layerStoresMemory())))
      const sms = Context.get(context, Sms.Sms)
      const sent = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) => sms.send({ to: UK(i), text: i % 3 === 0 ? `Заказ ${i} отправлен` : `Order ${i} is out for delivery` }),
        { concurrency: "unbounded" }
      )
      assert.isTrue(sent.every((receipt) => receipt.status === "submitted" && receipt.transport === "smsc"))
      assert.strictEqual(smsc.built.length, 1, "one connection built for 30 concurrent sends")
      const carried = smsc.built[0]!.sent()
      assert.strictEqual(carried.length, 30)
      // the submission crossed the entity whole
      const first = carried.find((m) => m.clientReference === sent[0]!.id)!
      assert.strictEqual(first.encoding, "UCS-2")
      assert.strictEqual(first.text, "Заказ 0 отправлен")

      // a receipt on the connection reaches this pipeline under the placed transport's name
      yield* smsc.built[0]!.deliver(sent[1]!.providerMessageId!, "delivered")
      assert.strictEqual((yield* sms.get(sent[1]!.id)).status, "delivered")
    }).pipe(Effect.scoped, Effect.provide(TestRunner.layer)))

  it.live("with two connections a message always takes the same one, and no more than two open", () =>
    Effect.gen(function*() {
      const smsc = connections()
      const transport = yield* PlacedTransport.make({ name: "smsc", capabilities, connect: smsc.connect, connections: 2 })
      const submission = (reference: string): Transport.Submission => ({
        to: UK(1), text: "Your code is ready", segments: ["Your code is ready"], encoding: "GSM-7",
        clientReference: reference, purpose: "transactional"
      })
      const references = Array.from({ length: 40 }, (_, i) => `msg_${i}`)
      yield* Effect.forEach([...references, ...references], (reference) => transport.submit(submission(reference)), {
        concurrency: 8,
        discard: true
      })
      assert.strictEqual(smsc.built.length, 2)
      assert.isAtMost(smsc.most(), 2)
      for (const reference of references) {
        const holders = smsc.built.filter((sandbox) => sandbox.sent().some((m) => m.clientReference === reference))
        assert.strictEqual(holders.length, 1, `${reference} went through one connection`)
      }
      assert.isTrue(smsc.built.every((sandbox) => sandbox.sent().length > 0), "both connections carry messages")
    }).pipe(Effect.scoped, Effect.provide(TestRunner.layer)))

  it.live("a connect that fails fails that submission with its reason, and the next one connects again", () =>
    Effect.gen(function*() {
      const smsc = connections()
      let tries = 0
      const flaky = Effect.suspend(() =>
        ++tries === 1
          ? Effect.fail(new Transport.TransportError({ transport: "smsc-inner", reason: new Transport.Unavailable({ code: "bind refused" }) }))
          : smsc.connect
      )
      const transport = yield* PlacedTransport.make({ name: "smsc", capabilities, connect: flaky })
      const submission: Transport.Submission = {
        to: UK(3), text: "Out for delivery", segments: ["Out for delivery"], encoding: "GSM-7", clientReference: "msg_c", purpose: "transactional"
      }
      const error = yield* Effect.flip(transport.submit(submission))
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.isTrue(error.isRetryable)
      yield* transport.submit(submission)
      assert.strictEqual(tries, 2)
      assert.strictEqual(smsc.built[0]!.sent().length, 1)
    }).pipe(Effect.scoped, Effect.provide(TestRunner.layer)))

  it.live("the connection's refusal crosses as the same reason, under the placed transport's name", () =>
    Effect.gen(function*() {
      const smsc = connections()
      const transport = yield* PlacedTransport.make({ name: "smsc", capabilities, connect: smsc.connect })
      const submission: Transport.Submission = {
        to: UK(2), text: "Shipped", segments: ["Shipped"], encoding: "GSM-7", clientReference: "msg_r", purpose: "transactional"
      }
      yield* transport.submit(submission)
      yield* smsc.built[0]!.rejectNumber(UK(2))
      const error = yield* Effect.flip(transport.submit({ ...submission, clientReference: "msg_s" }))
      assert.strictEqual(error._tag, "TransportError")
      assert.strictEqual(error.transport, "smsc")
      assert.strictEqual(error.reason._tag, "InvalidNumber")
      assert.isFalse(error.isRetryable)
    }).pipe(Effect.scoped, Effect.provide(TestRunner.layer)))
})
