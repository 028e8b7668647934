// Heap after a full GC over 1,000,000 sends through the whole pipeline
// (Sms.layer with its defaults: bounded message store, bounded idempotency
// keys, the events bus), to a no-op carrier that answers every submission
// with a new provider id, as a real one does. Every request carries its own
// idempotency key, so that store is exercised too.
//
// The stores keep at most 100,000 messages and keys by default, so the heap
// rises until they are full (before the 250,000 mark) and must stay flat from
// there on: no per-message cost that grows with history.
//
// First, what one kept message costs (issue 15's goal: at most 400 bytes):
// heap used after a full GC with the message store full (100,000 messages,
// sends without idempotency keys) less the heap before the first send,
// divided by the messages kept. The keyed run's figure, which adds a
// 100,000-key idempotency store and whatever else keyed sends keep, is
// printed beside it.
//
//   npm run bench -- memory             (builds first)
//   node --expose-gc bench/memory.bench.mjs [sends]
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"

const dist = process.env.SMSFORGE_DIST ?? "../dist/index.js"
const { MessageStore, Sms, Transport } = await import(dist)

if (globalThis.gc === undefined) {
  console.error("run with node --expose-gc")
  process.exit(1)
}

const TOTAL = Number(process.argv[2] ?? 1_000_000)
const MARKS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map((f) => Math.round(TOTAL * f))
const CHUNK = 10_000
const CONCURRENCY = 100

const recipients = Array.from({ length: 1_000 }, (_, i) => `+447400${String(100_000 + i * 797).slice(-6)}`)
const TEXT = "Your order 4711 has shipped and will arrive tomorrow."

let providerIds = 0
const carrier = Transport.make({
  name: "noop",
  capabilities: {
    channel: "sms",
    unicode: true,
    concatenation: true,
    deliveryReceipts: true,
    inbound: false,
    senderTypes: ["long-code"]
  },
  submit: () => Effect.sync(() => ({ providerMessageId: `p${providerIds++}` }))
})

const heapBytes = () => {
  globalThis.gc()
  globalThis.gc()
  return process.memoryUsage().heapUsed
}

// What a kept message costs: the default store filled, then 10 % more sends, so it evicts too.
const PER_MESSAGE_BUDGET = 400
const perMessage = await (async () => {
  const runtime = ManagedRuntime.make(Sms.layer({ transports: [carrier], batchConcurrency: CONCURRENCY }))
  const sms = await runtime.runPromise(Sms.Sms)
  const store = await runtime.runPromise(MessageStore.MessageStore)
  const batch = (n, from) => Array.from({ length: n }, (_, i) => ({ to: recipients[(from + i) % recipients.length], text: TEXT }))
  // 1,000 sends first, so that warming up is not in the figure; the messages they kept are not counted.
  await runtime.runPromise(sms.sendBatch(batch(1_000, 0)))
  const warm = await runtime.runPromise(store.size)
  const before = heapBytes()
  for (let sent = 1_000; sent < 110_000; sent += CHUNK) await runtime.runPromise(sms.sendBatch(batch(CHUNK, sent)))
  const kept = await runtime.runPromise(store.size)
  const after = heapBytes()
  await runtime.dispose()
  return { bytes: (after - before) / (kept - warm), kept }
})()

const runtime = ManagedRuntime.make(Sms.layer({ transports: [carrier], batchConcurrency: CONCURRENCY }))
const sms = await runtime.runPromise(Sms.Sms)
const store = await runtime.runPromise(MessageStore.MessageStore)

const rows = []
const heapAtStart = heapBytes()
let sent = 0
let failed = 0
const started = process.hrtime.bigint()
const last = { heap: heapAtStart, kept: 0 }
const mark = async () => {
  const size = await runtime.runPromise(store.size)
  last.heap = heapBytes()
  last.kept = size
  rows.push({
    sends: sent.toLocaleString("en-US"),
    "heap used (MiB)": (last.heap / 2 ** 20).toFixed(1),
    "messages kept": size.toLocaleString("en-US"),
    "elapsed (s)": (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)
  })
}

await mark()
for (const target of MARKS.slice(1)) {
  while (sent < target) {
    const n = Math.min(CHUNK, target - sent)
    const requests = Array.from({ length: n }, (_, i) => ({
      to: recipients[(sent + i) % recipients.length],
      text: TEXT,
      idempotencyKey: `k${sent + i}`
    }))
    const results = await runtime.runPromise(sms.sendBatch(requests))
    for (const r of results) if (!r.ok) failed++
    sent += n
  }
  await mark()
}
await runtime.dispose()

console.log(`node ${process.version}; ${TOTAL.toLocaleString("en-US")} sends, ${CONCURRENCY} in flight; ${failed} failed`)
console.table(rows)
// The stores fill up at 100,000 sends (their default capacity): from the first
// mark past that, the heap must stay flat. A full store's hash tables swing
// between rehashes (a sawtooth of some MiB), so flat means the later half of
// the marks peaks no higher than the earlier half, within 5 %.
const CAPACITY = 100_000
const full = rows.filter((r) => Number(r.sends.replaceAll(",", "")) > CAPACITY).map((r) => Number(r["heap used (MiB)"]))
if (full.length < 4) {
  console.log(`fewer than four marks past ${CAPACITY.toLocaleString("en-US")} sends: run more sends to judge flatness`)
} else {
  const half = Math.floor(full.length / 2)
  const earlier = Math.max(...full.slice(0, half))
  const later = Math.max(...full.slice(half))
  const growth = (later - earlier) / earlier
  console.log(
    `past ${CAPACITY.toLocaleString("en-US")} sends: ${Math.min(...full).toFixed(1)}–${Math.max(...full).toFixed(1)} MiB; ` +
      `peak of the later marks ${later.toFixed(1)} vs the earlier ${earlier.toFixed(1)} MiB ` +
      `(${(growth * 100).toFixed(1)} %) — ${growth <= 0.05 ? "flat" : "GROWING"}`
  )
}

// The keyed run's heap less its start, per message kept at the last mark: with each message, its idempotency key.
const keyed = (last.heap - heapAtStart) / last.kept
console.log(
  `a kept message: ${perMessage.bytes.toFixed(0)} bytes (heap after GC over ${perMessage.kept.toLocaleString("en-US")} kept, ` +
    `sends without a key); with its idempotency key, in the run above: ${keyed.toFixed(0)} bytes`
)
console.log(
  `GOAL\tmemory-per-message\theap per kept message, after GC (sends without a key; ${keyed.toFixed(0)} B with its idempotency key)\t` +
    `${perMessage.bytes.toFixed(0)} B\t≤ ${PER_MESSAGE_BUDGET} B\t${perMessage.bytes <= PER_MESSAGE_BUDGET ? "met" : "not met"}`
)
