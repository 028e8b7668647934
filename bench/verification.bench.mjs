// Verification: start + check cycles per second through the built package,
// against otplib doing the same job by hand, in the same run. Like is
// compared with like: a cycle that sends a text is judged against otplib
// plus a send, not against otplib alone.
//
//   npm run build && node bench/verification.bench.mjs
//
// Rows:
//   otplib generate + verify              the bare floor: no storage, rate
//                                         limits, numbers or sending
//   otplib generate + notifme send        the yardstick of a hand-rolled OTP
//     + verify                            flow that texts its code: notifme-sdk
//                                         sending through a no-op provider
//   otplib generate + smsforge send       the same with our pipeline's send
//     + verify                            (Sms facade, no-op carrier)
//   Verification (own sender)             Verification.layerMemory with a
//                                         sender that only records the text (the
//                                         code is read back from it, as a test
//                                         would); judged against the bare floor
//   Verification via Sms                  the same cycle through Sms.layer: the
//                                         SMS pipeline (idempotency, consent,
//                                         routing, message store) to a no-op
//                                         carrier; judged against otplib +
//                                         notifme send (goal ≥ 0.5x) and
//                                         otplib + smsforge send
// Each row runs in alternating rounds; the median round is reported, per
// wall-clock second and per CPU second of this process (steadier when the
// machine is shared); ratios are CPU rates. Guards stay on (rate limits raised
// so a benchmark does not trip them); a pool of 2,000 recipients is cycled, so
// numbers come from the PhoneNumbers cache.
import { Effect, Layer, ManagedRuntime } from "effect"
import NotifmeModule from "notifme-sdk"
import { generateSecret, generateSync, verifySync } from "otplib"
import { capabilities } from "./carrier.mjs"

const { createSmsClient, PhoneNumbers, Sms, Transport, Verification } = await import(process.env.SMSFORGE_DIST ?? "../dist/index.js")
const NotifmeSdk = NotifmeModule.default ?? NotifmeModule

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const ROUND_MS = Number(process.env.ROUND_MS ?? 1000)
const POOL = 2000
const numbers = Array.from({ length: POOL }, (_, i) => `+4474001${String(10000 + i).padStart(5, "0")}`)
const CODE = /\d{6}/

const generous = { limit: 1e9, window: "1 hour" }
const options = {
  maxSends: generous,
  rateLimits: { recipient: generous, prefix: generous, client: generous, tenant: generous }
}

// raw otplib
const secret = generateSecret()
let counter = 0
const cpuNow = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}
const rates = (n, wallStart, cpuStart) => ({
  wall: n / ((performance.now() - wallStart) / 1000),
  cpu: n / ((cpuNow() - cpuStart) / 1000)
})
// One by-hand cycle: generate, send (or not), verify.
const handRound = (send) => async () => {
  const until = performance.now() + ROUND_MS
  let n = 0
  const started = performance.now()
  const cpu = cpuNow()
  while (performance.now() < until) {
    for (let i = 0; i < 50; i++) {
      const token = generateSync({ secret, strategy: "hotp", counter })
      if (send !== undefined) await send(numbers[counter % POOL], `Your code is ${token}`)
      if (!verifySync({ secret, token, strategy: "hotp", counter }).valid) throw new Error("otplib refused its own code")
      counter++
      n++
    }
  }
  return rates(n, started, cpu)
}

const notifme = new NotifmeSdk({ channels: { sms: { providers: [{ type: "custom", id: "noop", send: async () => "id" }] } } })
const notifmeSend = async (to, text) => {
  const result = await notifme.send({ sms: { from: "Verify", to, text } })
  if (result.status !== "success") throw new Error("notifme failed")
}

const noopCarrier = Transport.make({ name: "noop", capabilities, submit: () => Effect.succeed({ providerMessageId: "id" }) })
const client = createSmsClient({ transports: [noopCarrier] })
const smsforgeSend = (to, text) => client.send({ to, text })

// Verification with a recording sender
let lastText = ""
const ownSender = Layer.succeed(Verification.VerificationSender, {
  send: (message) =>
    Effect.sync(() => {
      lastText = message.text
      return { messageId: "m" }
    }),
  deliveryStatus: () => Effect.succeed("pending")
})
const ownRuntime = ManagedRuntime.make(
  Verification.layerMemoryWith(options).pipe(Layer.provide(Layer.mergeAll(ownSender, PhoneNumbers.layerDefault)))
)

// The cycle: start, read the code from what was sent, check it.
const cycles = (n, offset) =>
  Verification.Verification.use((verify) =>
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const started = yield* verify.start({ to: numbers[(offset + i) % POOL] })
        const code = CODE.exec(lastText)[0]
        const checked = yield* verify.check({ verificationId: started.verificationId, code })
        if (checked.status !== "approved") throw new Error(`not approved: ${checked.status}`)
      }
    })
  )

let offset = 0
const roundOf = (runtime) => async () => {
  const until = performance.now() + ROUND_MS
  const started = performance.now()
  const cpu = cpuNow()
  let n = 0
  while (performance.now() < until) {
    await runtime.runPromise(cycles(50, offset))
    offset += 50
    n += 50
  }
  return rates(n, started, cpu)
}

// Verification through the whole SMS pipeline to a no-op carrier that records the text
let smsRuntime
try {
  const recording = Transport.make({
    name: "noop",
    capabilities,
    submit: (submission) => {
      lastText = submission.text
      return Effect.succeed({ providerMessageId: "id" })
    }
  })
  smsRuntime = ManagedRuntime.make(Sms.layer({ transports: [recording], verification: options }))
  await smsRuntime.runPromise(cycles(10, 0))
} catch (error) {
  console.log(`(Verification via Sms skipped: ${error?.message ?? error})`)
  smsRuntime = undefined
}

const rows = [
  ["otplib generate + verify", handRound(undefined)],
  ["otplib generate + notifme send + verify", handRound(notifmeSend)],
  ["otplib generate + smsforge send + verify", handRound(smsforgeSend)],
  ["Verification (own sender)", roundOf(ownRuntime)]
]
if (smsRuntime !== undefined) rows.push(["Verification via Sms", roundOf(smsRuntime)])

// warm up
await ownRuntime.runPromise(cycles(POOL, 0))
if (smsRuntime !== undefined) await smsRuntime.runPromise(cycles(POOL, 0))
for (const [, round] of rows.slice(0, 3)) await round()

const results = rows.map(() => [])
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < rows.length; i++) results[i].push(await rows[i][1]())
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const wall = results.map((rs) => median(rs.map((r) => r.wall)))
const cpu = results.map((rs) => median(rs.map((r) => r.cpu)))
// the yardstick each row is judged against: like with like
const yardstick = [0, 0, 0, 0, 1]

console.log(`\nverification: start + check cycles (median of ${ROUNDS} rounds of ${ROUND_MS} ms, node ${process.version})`)
console.log("| case | cycles/s (wall) | µs/cycle (wall) | cycles per CPU-s | vs its yardstick (CPU) |")
console.log("|---|---:|---:|---:|---:|")
const fmt = (n) => Math.round(n).toLocaleString("en")
rows.forEach(([name], i) => {
  const against = yardstick[i] === i ? "" : `${(cpu[i] / cpu[yardstick[i]]).toFixed(2)}x ${rows[yardstick[i]][0]}`
  console.log(`| ${name} | ${fmt(wall[i])} | ${(1e6 / wall[i]).toFixed(1)} | ${fmt(cpu[i])} | ${against} |`)
})
if (smsRuntime === undefined) {
  console.log("\nVerification via Sms did not run: its goal is not judged")
} else {
  const vsNotifme = cpu[4] / cpu[1]
  console.log(`Verification via Sms vs otplib + smsforge send + verify: ${(cpu[4] / cpu[2]).toFixed(2)}x (CPU)`)
  console.log(
    `GOAL\tverification\tVerification via Sms, ${fmt(cpu[4])} vs otplib + notifme send + verify ${fmt(cpu[1])} cycles per CPU-s\t` +
      `${vsNotifme.toFixed(2)}x\t≥ 0.5x\t${vsNotifme >= 0.5 ? "met" : "not met"}`
  )
}

await ownRuntime.dispose()
await client.close()
if (smsRuntime !== undefined) await smsRuntime.dispose()
