import { Layer, ManagedRuntime } from "effect"
import { Sms } from "smsforge"
import { Sandbox } from "smsforge/testing"
import { afterAll, assert, describe, it } from "vitest"
import { ApiKeys, makeHandler } from "../console/index.ts"

const sandbox = Sandbox.makeUnsafe({ autoDeliver: true })
const acme = ApiKeys.generate("acme")
const other = ApiKeys.generate("other")
const app = makeHandler(Sms.layer({ transports: [sandbox] }), {
  apiKeys: [{ tenant: "acme", hash: acme.hash }, { tenant: "other", hash: other.hash }],
  maxBodyBytes: 4_096,
  reveal: (id) => sandbox.sent().find((m) => m.clientReference === id)?.text
})
afterAll(() => app.dispose())

const post = (path: string, body: unknown, key: string | null = acme.key, raw?: string) =>
  app.handler(new Request(`http://localhost${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
    body: raw ?? JSON.stringify(body)
  }))
const get = (path: string, key: string | null = acme.key) =>
  app.handler(new Request(`http://localhost${path}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } }))
const json = async (response: Response) => (await response.json()) as Record<string, unknown>
const UK = "+447400123456"

describe("HTTP API", () => {
  it("sends a message and reads it back with its history", async () => {
    const sent = await post("/messages", { to: UK, text: "Your order SL100200 has shipped." })
    assert.strictEqual(sent.status, 202)
    const receipt = await json(sent)
    assert.strictEqual(receipt.to, UK)
    assert.strictEqual(receipt.encoding, "GSM-7")
    const read = await json(await get(`/messages/${String(receipt.id)}`))
    assert.strictEqual(read.id, receipt.id)
    assert.includeMembers((read.history as Array<{ status: string }>).map((h) => h.status), ["accepted", "submitted"])
  })

  it("refuses a missing, a wrong and another tenant's key with typed JSON", async () => {
    for (const key of [null, "sfk_acme_wrong", "", acme.hash]) {
      const answer = await post("/messages", { to: UK, text: "hi" }, key)
      assert.strictEqual(answer.status, 401)
      assert.deepInclude(await json(answer), { _tag: "Unauthorized", field: "authorization" })
    }
    const mine = await json(await post("/messages", { to: UK, text: "mine" }))
    const theirs = await get(`/messages/${String(mine.id)}`, other.key)
    assert.strictEqual(theirs.status, 404)
    assert.strictEqual((await json(theirs))._tag, "MessageNotFound")
  })

  it("answers hostile bodies with a refusal naming the field, never echoing it", async () => {
    const cases: ReadonlyArray<readonly [unknown, string | undefined, string, string]> = [
      [undefined, "{not json", "InvalidRequest", "body"],
      [undefined, "\"\\ud800\"", "InvalidRequest", "body"],
      [[1, 2, 3], undefined, "InvalidRequest", "body"],
      [{ to: 5, text: "x" }, undefined, "InvalidRequest", "to"],
      [{ to: "not a number", text: "secret-123456" }, undefined, "InvalidPhoneNumber", "to"],
      [JSON.parse("{\"__proto__\":{\"admin\":true},\"to\":\"+447400123456\"}"), undefined, "InvalidRequest", "text"]
    ]
    for (const [body, raw, tag, field] of cases) {
      const answer = await post("/messages", body, acme.key, raw)
      assert.strictEqual(answer.status, tag === "InvalidPhoneNumber" ? 400 : 400)
      const refusal = await json(answer)
      assert.strictEqual(refusal._tag, tag)
      if (tag !== "InvalidRequest" || field !== "text") assert.strictEqual(refusal.field, field)
      assert.notInclude(JSON.stringify(refusal), "secret-123456")
    }
    assert.isUndefined(({} as Record<string, unknown>).admin)
  })

  it("refuses a body over the limit with 413 before reading it whole", async () => {
    const answer = await post("/messages", { to: UK, text: "x".repeat(10_000) })
    assert.strictEqual(answer.status, 413)
    assert.deepInclude(await json(answer), { _tag: "PayloadTooLarge", field: "body" })
  })

  it("answers a batch in order, one bad recipient failing alone", async () => {
    const answer = await json(await post("/messages/batch", {
      messages: [{ to: UK, text: "one" }, { to: "12", text: "two" }, { to: UK, text: "three" }]
    }))
    const results = answer.results as Array<{ ok: boolean; error?: { _tag: string } }>
    assert.deepStrictEqual(results.map((r) => r.ok), [true, false, true])
    assert.strictEqual(results[1]!.error!._tag, "InvalidPhoneNumber")
    const tooMany = await post("/messages/batch", { messages: Array.from({ length: 1_001 }, () => 1) })
    assert.strictEqual(tooMany.status, 400)
    assert.deepInclude(await json(tooMany), { _tag: "InvalidRequest", field: "messages" })
  })

  it("starts and checks a verification; a wrong code leaves it pending", async () => {
    const started = await post("/verifications", { to: "+447400123457" })
    assert.strictEqual(started.status, 201)
    const { verificationId } = await json(started)
    const wrong = await json(await post(`/verifications/${String(verificationId)}/check`, { code: "000000" }))
    assert.strictEqual(wrong.status, "pending")
    const text = sandbox.sent().filter((m) => m.to === "+447400123457").at(-1)!.text
    const code = /\d{6}/.exec(text)![0]
    const right = await json(await post(`/verifications/${String(verificationId)}/check`, { code }))
    assert.strictEqual(right.status, "approved")
    const missing = await post("/verifications/ver_0000000000000000/check", { code: "123456" })
    assert.oneOf(missing.status, [400, 404])
    assert.oneOf((await json(missing))._tag, ["VerificationNotFound", "InvalidRequest"])
  })

  it("takes receipts in smsforge's JSON shape", async () => {
    const answer = await post("/webhooks/receipts", { providerMessageId: "unknown", transport: "nope", status: "delivered" })
    assert.strictEqual(answer.status, 400)
    assert.deepInclude(await json(answer), { _tag: "InvalidRequest", field: "transport" })
  })

  it("serves its OpenAPI document", async () => {
    const doc = await json(await get("/openapi.json", null))
    assert.strictEqual(doc.openapi, "3.1.0")
    assert.containsAllKeys(doc.paths as object, ["/messages", "/messages/batch", "/verifications", "/verifications/{id}/check"])
  })
})

describe("console endpoints", () => {
  it("shows the inbox per recipient, masked, with the brand and the code picked out", async () => {
    await post("/messages", { to: "+447400123458", text: "【大润发优鲜】您的验证码为:253894。" })
    await new Promise((resolve) => setTimeout(resolve, 50))
    const inbox = await json(await get("/console/inbox", null))
    const recipients = inbox.recipients as Array<{ recipient: string; to: string }>
    const row = recipients.find((r) => r.to.endsWith("58"))!
    assert.notInclude(row.to, "7400123458".slice(0, 6))
    const mine = await json(await get(`/console/inbox?recipient=${row.recipient}`, null))
    const [entry] = mine.messages as Array<Record<string, unknown>>
    assert.strictEqual(entry!.brand, "大润发优鲜")
    assert.strictEqual(entry!.code, "253894")
    assert.strictEqual(entry!.encoding, "UCS-2")
  })

  it("is read-only unless enabled", async () => {
    const answer = await app.handler(new Request("http://localhost/console/send", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }))
    assert.strictEqual(answer.status, 403)
  })

  it("streams a change over server-sent events when a message moves", async () => {
    const stream = await get("/console/events", null)
    assert.strictEqual(stream.headers.get("content-type"), "text/event-stream")
    const reader = stream.body!.getReader()
    await post("/messages", { to: UK, text: "live" })
    const decoder = new TextDecoder()
    let seen = ""
    while (!seen.includes("event: change")) seen += decoder.decode((await reader.read()).value)
    await reader.cancel()
    assert.include(seen, "\"kind\":\"message\"")
    assert.notInclude(seen, UK)
  })
})

describe("mounting", () => {
  const carrier = Sandbox.makeUnsafe({ name: "twilio-like" })
  const received: Array<string> = []
  const mounted = makeHandler(Sms.layer({ transports: [carrier] }), {
    basePath: "/sms/",
    authorize: (request) => request.headers.get("x-staff") === "yes",
    webhooks: {
      // A carrier's own handler gets a client bound to the console's pipeline.
      carrier: (client) => async (request) => {
        const body = (await request.json()) as { id: string }
        received.push(body.id)
        await client.deliveryReceipt({ providerMessageId: body.id, transport: "twilio-like", status: "delivered" }).catch(() => undefined)
        return new Response("ok")
      }
    }
  })
  afterAll(() => mounted.dispose())

  it("answers under its base path only, and the page only to those authorize lets in", async () => {
    assert.strictEqual((await mounted.handler(new Request("http://h/elsewhere"))).status, 404)
    assert.strictEqual((await mounted.handler(new Request("http://h/sms/"))).status, 403)
    const page = await mounted.handler(new Request("http://h/sms/", { headers: { "x-staff": "yes" } }))
    assert.strictEqual(page.status, 200)
    const html = await page.text()
    assert.include(html, "data-base=\"/sms/\"")
    assert.include(html, "aria-label=\"Console views\"")
    assert.notInclude(html, "form class=\"send\"")
    const unknown = await mounted.handler(new Request("http://h/sms/nothing-here", { headers: { "x-staff": "yes" } }))
    assert.strictEqual(unknown.status, 404)
    assert.strictEqual((await json(unknown))._tag, "NotFound")
  })

  it("serves a carrier's webhook handler at /webhooks/<name>", async () => {
    const answer = await mounted.handler(new Request("http://h/sms/webhooks/carrier", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "SM123" })
    }))
    assert.strictEqual(await answer.text(), "ok")
    assert.deepStrictEqual(received, ["SM123"])
  })
})

describe("verifications view", () => {
  it("lists a verification with its wrong codes and approval, never the code", async () => {
    const { verificationId } = await json(await post("/verifications", { to: "+447400123459" }))
    await post(`/verifications/${String(verificationId)}/check`, { code: "111111" })
    const text = sandbox.sent().filter((m) => m.to === "+447400123459").at(-1)!.text
    const code = /\d{6}/.exec(text)![0]
    await post(`/verifications/${String(verificationId)}/check`, { code })
    await new Promise((resolve) => setTimeout(resolve, 50))
    const view = await get("/console/verifications", null)
    const body = await view.text()
    const parsed = JSON.parse(body) as { counts: Record<string, number>; recent: Array<Record<string, unknown>> }
    const row = parsed.recent.find((r) => r.verificationId === verificationId)!
    assert.strictEqual(row.status, "approved")
    assert.strictEqual(row.wrongChecks, 1)
    assert.isAtLeast(parsed.counts.approved!, 1)
    assert.notInclude(body, code)
    assert.notInclude(body, "+447400123459")
  })
})

describe("sharing the application's pipeline", () => {
  it("shows what the application sends through its own runtime", async () => {
    const carrier = Sandbox.makeUnsafe({ autoDeliver: true })
    const pipeline = Sms.layer({ transports: [carrier] })
    const memoMap = Layer.makeMemoMapUnsafe()
    const runtime = ManagedRuntime.make(pipeline, { memoMap })
    const shared = makeHandler(pipeline, { memoMap, showNumbers: true })
    try {
      await shared.handler(new Request("http://localhost/console/inbox")) // builds the console, which subscribes
      await runtime.runPromise(Sms.Sms.use((sms) => sms.send({ to: "+447400123460", text: "From the app itself" })))
      await new Promise((resolve) => setTimeout(resolve, 50))
      const inbox = await json(await shared.handler(new Request("http://localhost/console/inbox")))
      assert.deepInclude((inbox.recipients as Array<{ to: string }>).map((r) => r.to), "+447400123460")
    } finally {
      await shared.dispose()
      await runtime.dispose()
    }
  })
})

describe("spend", () => {
  it("sums exact costs from the price table by tenant, and downloads them as CSV", async () => {
    const carrier = Sandbox.makeUnsafe({ autoDeliver: true })
    const priced = makeHandler(Sms.layer({
      transports: [carrier],
      pricing: { prices: [{ route: "sandbox", country: "GB", price: "0.0415", currency: "GBP" }] }
    }), { apiKeys: [{ tenant: "acme", hash: acme.hash }] })
    const call = (path: string, body?: unknown) =>
      priced.handler(new Request(`http://localhost${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${acme.key}` },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      }))
    try {
      await call("/console/reports") // builds the console, which subscribes
      for (const text of ["Your order has shipped.", "x".repeat(200)]) {
        assert.strictEqual((await call("/messages", { to: UK, text })).status, 202)
      }
      let spend: { total: Array<Record<string, unknown>>; byTenant: Array<Record<string, unknown>> } | undefined
      for (let i = 0; i < 100 && spend?.total[0]?.messages !== 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10))
        spend = (await json(await call("/console/reports"))).spend as typeof spend
      }
      // 1 + 2 segments at 0.0415: exact, no float dust
      assert.deepStrictEqual(spend!.total, [{ key: "GBP", currency: "GBP", amount: "0.1245", messages: 2, segments: 3 }])
      assert.deepStrictEqual(spend!.byTenant.map((r) => [r.key, r.amount]), [["acme", "0.1245"]])
      const csv = await call("/console/reports/spend.csv")
      assert.strictEqual(csv.headers.get("content-type"), "text/csv; charset=utf-8")
      const lines = (await csv.text()).trim().split("\r\n")
      assert.strictEqual(lines[0], "breakdown,key,currency,amount,messages,segments")
      assert.include(lines, "tenant,acme,GBP,0.1245,2,3")
      assert.include(lines, "country,GB,GBP,0.1245,2,3")
    } finally {
      await priced.dispose()
    }
  })
})
