import { Effect, Exit, Scope } from "effect"
import { existsSync, mkdirSync } from "node:fs"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as Instance from "../cli/instance.ts"

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const missing = existsSync(CHROMIUM) ? undefined : `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`
if (missing !== undefined) console.log(`browser tests skipped: ${missing}`)

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

describe.skipIf(missing !== undefined)("console in Chromium", () => {
  const scope = Effect.runSync(Scope.make())
  const { handler } = Instance.build({ config: {}, dev: true, demo: false, apiKeys: [] })
  let url = ""
  beforeAll(async () => {
    url = (await Effect.runPromise(Scope.provide(Instance.listen(handler.handler, "127.0.0.1", 0), scope))).url
    mkdirSync("test-results", { recursive: true })
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await handler.dispose()
  })

  it("shows a message and its code live, then a report", async () => {
    // Some traffic first, as a store sends it, so the reports have something to show.
    const api = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${Instance.DEV_KEY}`, "content-type": "application/json" },
        body: JSON.stringify(body)
      })
    await api("messages/batch", {
      messages: [
        { to: "+447400123401", template: "order-shipped", variables: { order: "SL100201", carrier: "Royal Mail" } },
        { to: "+4915112345671", template: "order-customs", variables: { order: "SL100202" }, locale: "de" },
        { to: "+8613800138001", template: "order-out-for-delivery", variables: { order: "SL100203", window: "14:00-16:00" }, locale: "zh-CN" },
        { to: "+34612345671", text: "Tu pedido SL100204 ha salido." }
      ]
    })
    await api("verifications", { to: "+447400123402" })
    const { chromium } = await import("playwright-core")
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
    try {
      const page = await browser.newPage()
      await page.goto(url)
      await page.getByRole("status").filter({ hasText: "live" }).waitFor()
      // Sent through the API after the page loaded: it must arrive over SSE.
      const sent = await fetch(`${url}messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${Instance.DEV_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ to: "+447400123488", text: "【大润发优鲜】您的验证码为:253894。" })
      })
      assert.strictEqual(sent.status, 202)
      // The new recipient appears in the list live; open it.
      const recipient = page.getByRole("button", { name: /88 \(1\)/ })
      await recipient.waitFor({ timeout: 10_000 })
      await recipient.click()
      const code = page.locator("[data-testid=message] mark.code").first()
      await code.waitFor({ timeout: 10_000 })
      assert.strictEqual(await code.textContent(), "253894")
      assert.strictEqual(await page.locator("[data-testid=brand]").first().textContent(), "大润发优鲜")
      await page.screenshot({ path: "test-results/console-inbox.png", fullPage: true })

      // The send form, by its labels.
      await page.getByLabel("To").fill("+447400123477")
      await page.getByLabel("Text").fill("Your parcel SL100300 arrives today")
      await page.getByRole("button", { name: "Send" }).press("Enter")
      await page.getByText(/^Sent: msg_/).waitFor()

      // Keyboard only: focus the Inbox tab, arrow to Reports.
      await page.getByRole("tab", { name: "Inbox" }).focus()
      await page.keyboard.press("ArrowRight")
      assert.strictEqual(await page.getByRole("tab", { name: "Reports" }).getAttribute("aria-selected"), "true")
      await page.locator("[data-testid=total] b").waitFor()
      assert.isAtLeast(Number(await page.locator("[data-testid=total] b").textContent()), 1)
      await page.screenshot({ path: "test-results/console-reports.png", fullPage: true })
      await page.keyboard.press("ArrowRight")
      await page.locator("[data-testid=verification]").first().waitFor()
      await page.screenshot({ path: "test-results/console-verifications.png", fullPage: true })
    } finally {
      await browser.close()
    }
  })
})
