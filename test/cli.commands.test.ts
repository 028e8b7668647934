// The command tree as a user types it (effect's CLI parser), against a dev
// instance on a free port.
import { NodeServices } from "@effect/platform-node"
import { Console, Effect, Exit, Scope } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { run } from "../cli/commands.ts"
import * as Instance from "../cli/instance.ts"

const cli = async (args: ReadonlyArray<string>) => {
  const lines: Array<string> = []
  const capture: Console.Console = { ...globalThis.console, log: (...parts: ReadonlyArray<unknown>) => void lines.push(parts.join(" ")) }
  const exit = await Effect.runPromiseExit(run(args).pipe(Effect.provideService(Console.Console, capture), Effect.provide(NodeServices.layer)))
  return { exit, out: lines.join("\n") }
}

describe("smsforge commands", () => {
  const scope = Effect.runSync(Scope.make())
  const { handler } = Instance.build({ config: {}, dev: true, demo: false, apiKeys: [] })
  const dir = mkdtempSync(join(tmpdir(), "smsforge-cli-"))
  let url = ""
  beforeAll(async () => {
    url = (await Effect.runPromise(Scope.provide(Instance.listen(handler.handler, "127.0.0.1", 0), scope))).url
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await handler.dispose()
  })

  it("segments prints the encoding and every segment", async () => {
    const { exit, out } = await cli(["segments", "Ваш код 123456"])
    assert.isTrue(Exit.isSuccess(exit))
    assert.include(out, "encoding: UCS-2")
    assert.include(out, "[1] \"Ваш код 123456\"")
  })

  it("send and verify go through a running instance with the dev key", async () => {
    const sent = await cli(["send", "--to", "+447400123456", "--text", "Your order has shipped", "--url", url])
    assert.isTrue(Exit.isSuccess(sent.exit))
    assert.match(sent.out, /^msg_\w+ {2}\w+ {2}GSM-7 × 1 {2}route eu-primary$/)
    const started = await cli(["verify", "start", "+447400123456", "--url", url])
    const id = started.out.split(" ")[0]!
    assert.match(id, /^vrf_/)
    const checked = await cli(["verify", "check", id, "000000", "--url", url])
    assert.include(checked.out, "pending")
  })

  it("send refuses with the API's tag and field", async () => {
    const { exit } = await cli(["send", "--to", "12", "--text", "hi", "--url", url])
    assert.isTrue(Exit.isFailure(exit))
    assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "InvalidPhoneNumber")
  })

  it("send --csv sends a batch and summarises it", async () => {
    const file = join(dir, "notices.csv")
    writeFileSync(file, "to,template,locale,order,carrier\n+447400123401,order-shipped,en,SL1,Royal Mail\n12,order-shipped,en,SL2,DHL\n+4915112345671,order-shipped,de,SL3,DHL\n")
    const { exit, out } = await cli(["send", "--csv", file, "--url", url])
    assert.isTrue(Exit.isSuccess(exit))
    assert.include(out, "3 rows: 2 accepted, 1 refused")
    assert.include(out, "InvalidPhoneNumber: 1")
  })

  it("a bad config file fails naming the key", async () => {
    const file = join(dir, "smsforge.config.json")
    writeFileSync(file, JSON.stringify({ console: { port: "eighty" } }))
    const { exit } = await cli(["routes", "explain", "+447400123456", "--config", file])
    assert.isTrue(Exit.isFailure(exit))
    assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "console.port")
  })

  it("keys new prints a key once and the hash for the config", async () => {
    const { out } = await cli(["keys", "new", "acme"])
    const key = /sfk_acme_\S+/.exec(out)![0]
    assert.include(out, "\"hash\": \"sha256:")
    assert.strictEqual(out.split(key).length, 2)
  })
})
