/**
 * The same pipeline as Effect services: `Sms.layer` builds it, the Sandbox
 * carrier records what it was handed, and typed errors are values.
 *
 * Run: npm run build && node examples/quick-start-effect.ts   (Node 22.6+ strips the types)
 */
import { Effect } from "effect"
import { Sms, Transport } from "smsforge"
import { Sandbox } from "smsforge/testing"

const program = Effect.gen(function*() {
  const carrier = yield* Sandbox.make()
  const backup = yield* Sandbox.make({ name: "backup" })
  // The first carrier is out of credit: the router fails over to the backup.
  yield* carrier.failAlways(new Transport.InsufficientFunds({}))

  const pipeline = Sms.layer({ transports: [carrier, backup] })
  return yield* Effect.gen(function*() {
    const sms = yield* Sms.Sms
    const receipt = yield* sms.send({ to: "+447400123456", text: "Your code is 482913" })
    console.log(receipt.transport, receipt.attempts)
    // => backup 2

    const refused = yield* Effect.flip(sms.send({ to: "+44 12", text: "hi" }))
    console.log(refused.reason._tag)
    // => InvalidPhoneNumber
    return receipt
  }).pipe(Effect.provide(pipeline))
})

const receipt = await Effect.runPromise(program.pipe(Effect.scoped))
if (receipt.transport !== "backup") throw new Error("expected failover to the backup carrier")
