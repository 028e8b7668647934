// What a send costs with 1,000 against 1,000,000 messages kept in the
// in-memory message store: the store's maps and retained objects must not
// make garbage collection (or anything else) grow with its size. Budget
// (DESIGN.md, issue 15): a send with 1,000,000 kept at most 1.5x one with 1,000.
//
// One process per case, so one case's heap never colours the other's. Each
// fills its store (capacity = the case) with sends through the whole pipeline
// (Sms.layer defaults otherwise) to a no-op carrier that answers with a new
// provider id, then times sends with the store full, so every send also
// evicts the oldest message. Figures are process CPU time (user + system) per
// send, best of three rounds, as in pipeline.bench.mjs; wall-clock beside it.
//
//   npm run bench -- memory             (builds first)
//   node --expose-gc bench/memory-kept.bench.mjs [sends a round]
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const CASES = [1_000, 1_000_000]
const BUDGET = 1.5
const SENDS = Number(process.argv[2] ?? 100_000)

if (process.env.SMSFORGE_KEPT_CASE === undefined) {
  const self = fileURLToPath(import.meta.url)
  const results = CASES.map((kept) => {
    const child = spawnSync(process.execPath, ["--expose-gc", self, String(SENDS)], {
      env: { ...process.env, SMSFORGE_KEPT_CASE: String(kept) },
      encoding: "utf8",
      stdio: ["inherit", "pipe", "inherit"]
    })
    if (child.status !== 0) throw new Error(`the case of ${kept} kept messages failed`)
    return JSON.parse(child.stdout)
  })
  console.log(`node ${process.version}; ${SENDS.toLocaleString("en-US")} sends a round, best of three, one process per case`)
  console.table(results.map((r) => ({
    "messages kept": r.kept.toLocaleString("en-US"),
    "µs CPU a send": r.cpu.toFixed(2),
    "µs wall a send": r.wall.toFixed(2),
    "fill (s)": r.fill.toFixed(1),
    "heap used (MiB)": r.heap.toFixed(0)
  })))
  const ratio = results[1].cpu / results[0].cpu
  console.log(
    `GOAL\tkept-1m\ta send with 1,000,000 kept vs 1,000 (CPU)\t${results[1].cpu.toFixed(1)} vs ${results[0].cpu.toFixed(1)} µs = ${
      ratio.toFixed(2)
    }x\t≤ ${BUDGET}x\t${ratio <= BUDGET ? "met" : "not met"}`
  )
} else {
  const Effect = await import("effect/Effect")
  const ManagedRuntime = await import("effect/ManagedRuntime")
  const { Sms, Transport } = await import(process.env.SMSFORGE_DIST ?? "../dist/index.js")
  const kept = Number(process.env.SMSFORGE_KEPT_CASE)
  const recipients = Array.from({ length: 1_000 }, (_, i) => `+447400${String(100_000 + i * 797).slice(-6)}`)
  const TEXT = "Your order 4711 has shipped and will arrive tomorrow."
  let providerIds = 0
  const carrier = Transport.make({
    name: "noop",
    capabilities: { channel: "sms", unicode: true, concatenation: true, deliveryReceipts: true, inbound: false, senderTypes: ["long-code"] },
    submit: () => Effect.sync(() => ({ providerMessageId: `p${providerIds++}` }))
  })
  const runtime = ManagedRuntime.make(Sms.layer({ transports: [carrier], messages: { capacity: kept } }))
  const sms = await runtime.runPromise(Sms.Sms)
  // One send at a time inside one effect, so the figure is the send's, not runPromise's.
  const sendMany = (n) =>
    Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => sms.send({ to: recipients[i % recipients.length], text: TEXT }), {
      discard: true
    })
  const fillStarted = process.hrtime.bigint()
  for (let done = 0; done < kept;) {
    const n = Math.min(100_000, kept - done)
    await runtime.runPromise(sendMany(n))
    done += n
  }
  const fill = Number(process.hrtime.bigint() - fillStarted) / 1e9
  let best = { cpu: Number.POSITIVE_INFINITY, wall: Number.POSITIVE_INFINITY }
  for (let round = 0; round < 3; round++) {
    const cpu = process.cpuUsage()
    const wall = process.hrtime.bigint()
    await runtime.runPromise(sendMany(SENDS))
    const used = process.cpuUsage(cpu)
    const result = { cpu: (used.user + used.system) / SENDS, wall: Number(process.hrtime.bigint() - wall) / 1e3 / SENDS }
    if (result.cpu < best.cpu) best = result
  }
  globalThis.gc?.()
  const heap = process.memoryUsage().heapUsed / 2 ** 20
  await runtime.dispose()
  process.stdout.write(JSON.stringify({ kept, ...best, fill, heap }))
}
