// submit_sm per second through the SMPP transport against a local SMPP server
// (the `smpp` package's server, in a child process so the carrier does not
// share the client's event loop), with window sizes 1, 10 and 100. The peer is
// the bare `smpp` client with the same window: what the transport costs over
// writing PDUs by hand. Goal: at least 5,000 submit_sm/s with a window of 100.
// Besides the rate, the client's CPU time per message (process.cpuUsage) is
// printed: on a busy machine it is steadier than wall-clock throughput.
// Callers submit with concurrency 2 × window (CONCURRENCY=n to change), so the
// window, not the caller, limits what is outstanding; WINDOWS=1,10 picks sizes.
//
//   npx tsup && node bench/smpp.bench.mjs
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import smpp from "smpp"

if (process.argv[2] === "--server") {
  let next = 0
  const server = smpp.createServer((session) => {
    session.on("error", () => {})
    const bind = (pdu) => session.send(pdu.response({ system_id: "bench" }))
    session.on("bind_transceiver", bind)
    session.on("bind_transmitter", bind)
    session.on("enquire_link", (pdu) => session.send(pdu.response()))
    session.on("unbind", (pdu) => {
      session.send(pdu.response())
      session.close()
    })
    session.on("submit_sm", (pdu) => session.send(pdu.response({ message_id: (++next).toString(16) })))
  })
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }))
  process.on("message", (m) => m === "stop" && process.exit(0))
} else {
  const { Effect, Redacted } = await import("effect")
  const { SmppTransport } = await import("../dist/transports/smpp/index.js")
  const { Encoding } = await import("../dist/index.js")

  const child = fork(fileURLToPath(import.meta.url), ["--server"])
  const port = await new Promise((resolve) => child.once("message", (m) => resolve(m.port)))

  const analysis = Encoding.analyze("Your code is 123456. It expires in 10 minutes.")
  const submission = (i) => ({
    to: `+4477009${String(i % 100000).padStart(5, "0")}`,
    text: analysis.text,
    segments: analysis.segments,
    encoding: analysis.encoding,
    clientReference: `m-${i}`,
    purpose: "transactional"
  })

  const viaTransport = (windowSize, count) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const transport = yield* SmppTransport.make({
        host: "127.0.0.1",
        port,
        systemId: "bench",
        password: Redacted.make("bench"),
        windowSize,
        defaultFrom: "smsforge"
      })
      const run = (n, offset) =>
        Effect.forEach(Array.from({ length: n }, (_, i) => i + offset), (i) => transport.submit(submission(i)), {
          concurrency: windowSize * Number(process.env.CONCURRENCY ?? 2),
          discard: true
        })
      yield* run(Math.min(count, 500), 0) // warm-up
      const cpu = process.cpuUsage()
      const start = performance.now()
      yield* run(count, 1000)
      const used = process.cpuUsage(cpu)
      return { rate: count / ((performance.now() - start) / 1000), cpu: (used.user + used.system) / count }
    })))

  const viaBareClient = (windowSize, count) =>
    new Promise((resolve, reject) => {
      const session = smpp.connect({ host: "127.0.0.1", port })
      session.on("error", reject)
      session.bind_transceiver({ system_id: "bench", password: "bench" }, () => {
        let sent = 0
        let done = 0
        const cpu = process.cpuUsage()
        const start = performance.now()
        const pump = () => {
          while (sent < count && sent - done < windowSize) {
            const i = sent++
            const s = submission(i)
            session.submit_sm({
              source_addr_ton: 5,
              source_addr: "smsforge",
              dest_addr_ton: 1,
              dest_addr_npi: 1,
              destination_addr: s.to.slice(1),
              registered_delivery: 1,
              data_coding: 0,
              short_message: smpp.encodings.ASCII.encode(s.text)
            }, () => {
              done++
              if (done === count) {
                const rate = count / ((performance.now() - start) / 1000)
                const used = process.cpuUsage(cpu)
                session.unbind(() => session.close())
                resolve({ rate, cpu: (used.user + used.system) / count })
              } else pump()
            })
          }
        }
        pump()
      })
    })

  const rows = []
  const windows = [[1, 3000], [10, 20000], [100, 40000]].filter(([w]) =>
    !process.env.WINDOWS || process.env.WINDOWS.split(",").includes(String(w))
  )
  for (const [windowSize, count] of windows) {
    const bare = await viaBareClient(windowSize, count)
    const transport = await viaTransport(windowSize, count)
    rows.push({
      window: windowSize,
      messages: count,
      "smsforge submit_sm/s": Math.round(transport.rate),
      "bare smpp client/s": Math.round(bare.rate),
      "smsforge / bare": (transport.rate / bare.rate).toFixed(2),
      "smsforge CPU µs/msg": Math.round(transport.cpu),
      "bare CPU µs/msg": Math.round(bare.cpu)
    })
  }
  console.log(`SMPP submit_sm throughput on loopback (Node ${process.version}), carrier in a child process`)
  console.table(rows)
  const w100 = rows.find((r) => r.window === 100)
  if (w100) console.log(`window 100: ${w100["smsforge submit_sm/s"]} submit_sm/s (goal ≥ 5000: ${w100["smsforge submit_sm/s"] >= 5000 ? "met" : "NOT met"})`)
  child.send("stop")
}
