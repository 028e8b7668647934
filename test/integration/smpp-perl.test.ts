/**
 * The SMPP transport against an SMSC nobody on this project wrote: Net::SMPP
 * (Debian `libnet-smpp-perl`) in test/fixtures/smpp-smsc.pl, on a random
 * loopback port, through the whole pipeline (createSmsClient). The SMSC is a
 * real socket peer in another process, so the waits are bounded waits on its
 * events, never fixed sleeps.
 */
import { afterEach, assert, describe, it, test } from "vitest"
import { createSmsClient, type SmsClient } from "smsforge"
import { SmppTransport } from "../../transports/smpp/index.ts"
import { available, type Smsc, startSmsc, stopSmscs, waitFor } from "../fixtures/smsc.ts"

const clients: Array<SmsClient> = []
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  stopSmscs()
})

const client = (smsc: Smsc, overrides: Partial<SmppTransport.SmppConfig> = {}): SmsClient => {
  const c = createSmsClient({
    transports: [SmppTransport.make({ host: "127.0.0.1", port: smsc.port, systemId: "esme", password: "secret", defaultFrom: "smsforge", ...overrides })]
  })
  clients.push(c)
  return c
}

/** Distinct valid UK mobile numbers, so no per-recipient guard interferes. */
const recipient = (i: number) => `+4474001234${String(10 + i).padStart(2, "0")}`

const textOf = (submit: Smsc["submits"][number]): string =>
  submit.dataCoding === 8 ? Buffer.from(submit.body).swap16().toString("utf16le") : submit.body.toString("latin1")

const suite = () => {
  it("binds and submits GSM-7 (data_coding 0) and UCS-2 (data_coding 8)", async () => {
    const smsc = await startSmsc()
    const sms = client(smsc)
    const gsm = await sms.send({ to: recipient(1), text: "Your code is 123456" })
    const ucs = await sms.send({ to: recipient(2), text: "Ваш код 123456 ✓" })
    // the SMSC's event lines can trail its answers on the socket
    await waitFor(() => smsc.answers.length === 2, "the SMSC's answer lines")
    assert.strictEqual(gsm.status, "submitted")
    assert.strictEqual(gsm.encoding, "GSM-7")
    assert.strictEqual(ucs.encoding, "UCS-2")
    assert.deepStrictEqual(smsc.binds.map((b) => [b.session, b.ok]), [[1, true]])
    assert.deepStrictEqual(smsc.submits.map((s) => [s.dataCoding, textOf(s)]), [[0, "Your code is 123456"], [8, "Ваш код 123456 ✓"]])
    assert.deepStrictEqual([gsm.providerMessageId, ucs.providerMessageId], smsc.answers.map((a) => a.id))
  })

  it("a link drop mid-window with the default settings: every message submitted once, the route usable again", async () => {
    // the first session answers 2 submit_sm, holds the next 10 (the default window is full), then drops
    const smsc = await startSmsc(["--hold-after", "2", "--drop-after", "12"])
    const sms = client(smsc)
    await sms.send({ to: recipient(0), text: "warm-up" }) // bound; the warm-up is answered submit 1
    const texts = Array.from({ length: 20 }, (_, i) => `window ${i}`)
    const receipts = await Promise.all(texts.map((text, i) => sms.send({ to: recipient(i + 1), text })))
    await waitFor(() => smsc.drops.length === 1, "the drop")
    // the SMSC's event lines can trail its answers on the socket
    await waitFor(() => smsc.answers.length >= 21, "the SMSC's answer lines")

    // every message submitted, with no retry by the pipeline and no circuit opened
    assert.deepStrictEqual(receipts.map((r) => r.status), texts.map(() => "submitted"))
    assert.deepStrictEqual(receipts.map((r) => r.attempts), texts.map(() => 1))
    assert.deepStrictEqual(smsc.binds.map((b) => b.session), [1, 2], "one re-bind")
    const heldOnFirst = smsc.submits.filter((s) => s.session === 1).length - 2
    assert.strictEqual(heldOnFirst, 10, "the drop came with the default window of 10 in flight")

    // no text answered twice (once per submit answered, whichever session it went on)
    const answered = new Map<string, number>()
    for (const a of smsc.answers) {
      const submit = smsc.submits.find((s) => s.session === a.session && s.seq === a.seq)!
      answered.set(textOf(submit), (answered.get(textOf(submit)) ?? 0) + 1)
    }
    for (const text of ["warm-up", ...texts]) assert.strictEqual(answered.get(text), 1, text)
    assert.strictEqual(new Set(receipts.map((r) => r.providerMessageId)).size, 20)

    // the route is usable again within the first reconnect backoff (200 ms, jittered)
    const after = await sms.send({ to: recipient(30), text: "after the drop" })
    await waitFor(() => smsc.answers.length >= 22, "the SMSC's answer lines")
    assert.strictEqual(after.status, "submitted")
    assert.strictEqual(after.attempts, 1)
    const rebindAfter = smsc.binds[1]!.at - smsc.drops[0]!.at
    // the first re-bind is immediate; allow the first backoff steps (200 ms, 400 ms) for a loaded machine
    assert.isBelow(rebindAfter, 1_000)
    console.log(
      `smpp-perl: ${texts.length} sent, ${heldOnFirst} in flight at the drop, ${smsc.submits.length} submit_sm seen, ` +
        `${smsc.answers.length} answered, re-bound ${rebindAfter} ms after the drop`
    )
  })

  it("a refused bind (ESME_RINVPASWD) surfaces as AuthenticationFailed in AllRoutesFailed, without the password", async () => {
    const smsc = await startSmsc(["--password", "other"])
    const sms = client(smsc)
    const error = await sms.send({ to: recipient(1), text: "refused" }).then(
      () => undefined,
      (e: { _tag: string; failures?: ReadonlyArray<{ reason: string }> }) => e
    )
    assert.strictEqual(error?._tag, "AllRoutesFailed")
    assert.deepStrictEqual(error?.failures?.map((f) => f.reason), ["AuthenticationFailed"])
    assert.notInclude(JSON.stringify(error), "secret")
    // The SMSC prints its event after answering, so the client can be first.
    await waitFor(() => smsc.binds.length === 1, "the refused bind's event", 5_000)
    assert.deepStrictEqual(smsc.binds.map((b) => b.ok), [false])
    assert.strictEqual(smsc.submits.length, 0)
  })

  it("binds once the SMSC comes up after the client started", async () => {
    const probe = await startSmsc()
    const port = probe.port
    probe.process.kill()
    await new Promise((r) => probe.process.once("exit", r))
    const sms = client(probe)
    const down = await sms.send({ to: recipient(1), text: "while down" }).then(() => undefined, (e: { _tag: string }) => e._tag)
    assert.strictEqual(down, "AllRoutesFailed")
    const smsc = await startSmsc(["--port", String(port)])
    // the reconnect backoff (exponential from 200 ms) brings the bind without rebuilding the client
    await waitFor(() => smsc.binds.length === 1, "the bind", 20_000)
    let receipt: Awaited<ReturnType<SmsClient["send"]>> | undefined
    for (let i = 0; receipt === undefined && i < 50; i++) {
      receipt = await sms.send({ to: recipient(2), text: "once up" }).catch(() => undefined)
      if (receipt === undefined) await new Promise((r) => setTimeout(r, 100))
    }
    assert.strictEqual(receipt?.status, "submitted")
  })
}

if (available) describe("SMPP against Net::SMPP (perl)", suite)
else test.skip("SMPP against Net::SMPP (skipped: perl with Net::SMPP is not installed: apt-get install libnet-smpp-perl)", () => {})
