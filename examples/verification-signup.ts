/**
 * Sign-up with a phone number: a tiny node:http server with two routes,
 *
 *   POST /signup          { "phone": "+447400123456" }       → 202 { verificationId, expiresAt }
 *   POST /signup/verify   { "verificationId", "code" }       → 200 { status: "approved" | "pending" | … }
 *
 * built on the Effect API (`Verification.Verification`'s `start` and `check`)
 * run by one ManagedRuntime. Codes leave through a fake sender that plays the
 * user's phone; in production `Sms.layer` provides the sender over real
 * carriers. Typed errors become HTTP statuses, with `Retry-After` where the
 * error says when to try again. The program signs one user up, shows a wrong
 * code, the right one and a replay, and exits 0.
 *
 * Run: npm run build && node examples/verification-signup.ts   (Node 22.6+ strips the types)
 */
import { Duration, Effect, Layer, ManagedRuntime } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { PhoneNumbers, Verification } from "smsforge"

// ─── the user's phone: a sender that keeps texts in an inbox ───────────────

const inbox = new Map<string, Array<string>>()

const phoneSender = Layer.succeed(Verification.VerificationSender, {
  send: ({ to, text }) =>
    Effect.sync(() => {
      inbox.set(to, [...(inbox.get(to) ?? []), text])
      return { messageId: `msg-${inbox.size}-${inbox.get(to)!.length}` }
    }),
  deliveryStatus: () => Effect.succeed("delivered" as const)
})

const runtime = ManagedRuntime.make(
  Verification.layerMemoryWith({ brand: "Acme", ttl: "10 minutes" }).pipe(
    Layer.provide(Layer.mergeAll(phoneSender, PhoneNumbers.layerDefault))
  )
)

// ─── typed errors → HTTP ────────────────────────────────────────────────────

interface Reply {
  readonly status: number
  readonly body: unknown
  readonly retryAfter?: number | undefined
}

const statusOf: Record<string, number> = {
  InvalidPhoneNumber: 400,
  InvalidCode: 400,
  InvalidRequest: 400,
  VerificationNotFound: 404,
  Blocked: 403,
  TooManyAttempts: 429,
  TooManySends: 429,
  ResendCooldown: 429,
  RateLimited: 429,
  DeliveryFailed: 502,
  StoreUnavailable: 503
}

const toReply = (error: Verification.StartError): Reply => {
  const reason = error.reason
  const retryAfter = "retryAfter" in reason && reason.retryAfter !== undefined
    ? Math.ceil(Duration.toSeconds(reason.retryAfter))
    : undefined
  return {
    status: statusOf[reason._tag] ?? 400,
    body: { error: reason._tag, field: "field" in reason ? reason.field : undefined },
    retryAfter
  }
}

// ─── the two routes, as Effects ─────────────────────────────────────────────

const signUp = (body: { readonly phone?: unknown }, clientKey: string) =>
  Verification.Verification.use((verify) =>
    verify.start({ to: typeof body.phone === "string" ? body.phone : "", clientKey, locale: "en" })
  ).pipe(
    Effect.map((started): Reply => ({
      status: 202,
      body: { verificationId: started.verificationId, expiresAt: started.expiresAt }
    }))
  )

const confirm = (body: { readonly verificationId?: unknown; readonly code?: unknown }) =>
  Verification.Verification.use((verify) =>
    verify.check({
      verificationId: typeof body.verificationId === "string" ? body.verificationId : "",
      code: typeof body.code === "string" ? body.code : ""
    })
  ).pipe(
    Effect.map((checked): Reply => ({
      status: 200,
      body: { status: checked.status, attemptsLeft: checked.attemptsLeft }
    }))
  )

const route = (method: string | undefined, url: string | undefined, body: Record<string, unknown>, clientKey: string) =>
  method === "POST" && url === "/signup"
    ? signUp(body, clientKey)
    : method === "POST" && url === "/signup/verify"
    ? confirm(body)
    : Effect.succeed<Reply>({ status: 404, body: { error: "NotFound" } })

const server = Http.createServer((req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    let body: Record<string, unknown> = {}
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}")
    } catch {
      // an unreadable body is an empty one: the service names the missing field
    }
    const program = route(req.method, req.url, body, req.socket.remoteAddress ?? "unknown").pipe(
      Effect.catch((error) => Effect.succeed(toReply(error)))
    )
    runtime.runPromise(program).then(
      (reply) => {
        const headers: Record<string, string> = { "content-type": "application/json" }
        if (reply.retryAfter !== undefined) headers["retry-after"] = String(reply.retryAfter)
        res.writeHead(reply.status, headers).end(JSON.stringify(reply.body))
      },
      () => res.writeHead(500).end()
    )
  })
})

// ─── a user signs up ────────────────────────────────────────────────────────

const post = async (base: string, path: string, body: unknown) => {
  const response = await fetch(`${base}${path}`, { method: "POST", body: JSON.stringify(body) })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

const main = async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    const started = await post(base, "/signup", { phone: "+44 7400 123456" })
    console.log("POST /signup", started.status, started.body)
    if (started.status !== 202) throw new Error("sign-up was refused")
    const verificationId = started.body["verificationId"]

    // What the user's phone received:
    const text = inbox.get("+447400123456")?.at(-1) ?? ""
    console.log("SMS:", text.replace(/\d{6}/, "••••••"))
    const code = /\d{6}/.exec(text)?.[0] ?? ""
    const wrong = code === "000000" ? "111111" : "000000"

    const typo = await post(base, "/signup/verify", { verificationId, code: wrong })
    console.log("wrong code  ", typo.status, typo.body)
    const ok = await post(base, "/signup/verify", { verificationId, code })
    console.log("right code  ", ok.status, ok.body)
    const replay = await post(base, "/signup/verify", { verificationId, code })
    console.log("replayed    ", replay.status, replay.body)
    const again = await post(base, "/signup", { phone: "+447400123456" })
    const early = await post(base, "/signup", { phone: "+447400123456" })
    console.log("resend early", early.status, early.body)
    const bad = await post(base, "/signup", { phone: "12" })
    console.log("bad number  ", bad.status, bad.body)

    const expected = typo.body["status"] === "pending" && ok.body["status"] === "approved" &&
      replay.status === 404 && again.status === 202 && early.status === 429 && bad.status === 400
    if (!expected) throw new Error("unexpected answers")
  } finally {
    server.close()
    await runtime.dispose()
  }
}

await main()
