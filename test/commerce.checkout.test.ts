import { createSmsClient } from "smsforge"
import { Checkout } from "../commerce/index.ts"
import { Sandbox } from "smsforge/testing"
import { describe, expect, it } from "vitest"

const setup = () => {
  const carrier = Sandbox.makeUnsafe()
  return { carrier, client: createSmsClient({ transports: [carrier] }) }
}

describe("consent at checkout", () => {
  it("records the ticked box with the wording shown, the time, the source and the origin", async () => {
    const { client } = setup()
    try {
      const wording = "Text me offers from Acme. Reply STOP any time."
      const at = Date.parse("2026-12-01T10:00:00Z")
      const outcome = await Checkout.captureConsent(client, { to: "+447400123456", marketing: true, wording, source: "checkout:web", at, ip: "203.0.113.7" })
      expect(outcome).toEqual({ _tag: "Recorded" })
      const record = await client.consent.get("+447400123456")
      expect(record?.purposes.marketing).toMatchObject({ status: "granted", at, evidence: { source: "checkout:web", text: wording, origin: { ip: "203.0.113.7" } } })
    } finally {
      await client.close()
    }
  })

  it("records nothing for an unticked box, and refuses without the wording", async () => {
    const { client } = setup()
    try {
      expect(await Checkout.captureConsent(client, { to: "+447400123456", marketing: false, wording: "Offers by text", source: "checkout:web" })).toEqual({ _tag: "NotGiven" })
      expect(await client.consent.get("+447400123456")).toBeUndefined()
      const error = await Checkout.captureConsent(client, { to: "+447400123456", marketing: true, wording: " ", source: "checkout:web" }).catch((e: Checkout.MissingEvidence) => e)
      expect(error).toMatchObject({ _tag: "MissingEvidence", field: "wording" })
    } finally {
      await client.close()
    }
  })

  it("soft opt-in needs a sale and an offered opt-out, and lets marketing through with its opt-out line", async () => {
    const { carrier, client } = setup()
    try {
      const refused = await Checkout.softOptIn(client, {
        to: "+447400123456", duringSale: true, optOutOffered: false as true, wording: "Untick to refuse offers", source: "checkout:web", at: 1
      }).catch((e: Checkout.MissingEvidence) => e)
      expect(refused).toMatchObject({ _tag: "MissingEvidence", field: "optOutOffered" })
      const blocked = await Checkout.sendMarketing(client, { to: "+447400123456", text: "Winter boots are back" }).catch((e: { _tag: string }) => e._tag)
      expect(blocked).toBe("ConsentRequired")

      await Checkout.softOptIn(client, {
        to: "+447400123456", duringSale: true, optOutOffered: true, wording: "Untick to refuse offers", source: "checkout:web", at: Date.parse("2026-11-30T09:00:00Z")
      })
      const record = await client.consent.get("+447400123456")
      expect(record?.purposes.marketing?.evidence.source).toBe("soft-opt-in:checkout:web")
      await Checkout.sendMarketing(client, { to: "+447400123456", text: "Winter boots are back" })
      expect(carrier.sent()[0]?.text).toBe("Winter boots are back\nReply STOP to opt out")
    } finally {
      await client.close()
    }
  })

  it("adds the opt-out line in the message's language, once", () => {
    expect(Checkout.withOptOut("新品上市", "zh-CN")).toBe("新品上市\n回复TD退订")
    expect(Checkout.withOptOut("Neue Stiefel", "de-DE")).toBe("Neue Stiefel\nAbmelden: STOPP antworten")
    expect(Checkout.withOptOut("Nouveautés", "fr")).toBe("Nouveautés\nSTOP pour vous désabonner")
    expect(Checkout.withOptOut("Novedades", "es-MX")).toBe("Novedades\nResponda BAJA para darse de baja")
    expect(Checkout.withOptOut("新作", "ja")).toBe("新作\n配信停止はSTOPと返信")
    expect(Checkout.withOptOut("New in. Reply STOP to opt out")).toBe("New in. Reply STOP to opt out")
  })
})
