/**
 * The pure SMPP rules: command_status classification (table), receipt
 * parsing, message-id reconciliation, absolute times, addresses and UDH parts
 * (tables and fast-check properties).
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import smpp from "smpp"
import { Encoding } from "smsforge"
import { classify, classifyBind, statusCode } from "../../transports/smpp/internal/classify.ts"
import {
  absoluteTime,
  address,
  buildParts,
  canonicalId,
  encodeText,
  parseAbsoluteTime,
  parseReceiptText,
  readDeliver,
  statusOfStat
} from "../../transports/smpp/internal/codec.ts"

describe("classify", () => {
  const table: ReadonlyArray<readonly [number, string, boolean]> = [
    [0x58, "Throttled", true],
    [0x14, "Throttled", true],
    [0x08, "Unavailable", true],
    [0x04, "Unavailable", true],
    [0x64, "Unavailable", true],
    [0xff, "Unavailable", true],
    [0x0b, "InvalidNumber", false],
    [0x50, "InvalidNumber", false],
    [0x51, "InvalidNumber", false],
    [0x0a, "Blocked", false],
    [0x101, "Blocked", false],
    [0x0d, "AuthenticationFailed", false],
    [0x0e, "AuthenticationFailed", false],
    [0x0f, "AuthenticationFailed", false],
    [0x01, "Rejected", false],
    [0x45, "Rejected", false],
    [0x62, "Rejected", false],
    [0x65, "Rejected", false],
    [0x104, "Rejected", false],
    [0x400, "Rejected", false]
  ]
  for (const [status, tag, retryable] of table) {
    it(`${statusCode(status)} → ${tag}`, () => {
      const reason = classify(status)
      assert.strictEqual(reason._tag, tag)
      assert.strictEqual(reason.isRetryable, retryable)
      assert.strictEqual(reason.code, statusCode(status))
    })
  }

  it("names known statuses and writes vendor codes in hex", () => {
    assert.strictEqual(statusCode(0x58), "ESME_RTHROTTLED")
    assert.strictEqual(statusCode(0x0b), "ESME_RINVDSTADR")
    assert.strictEqual(statusCode(0x401), "0x00000401")
  })

  it("takes vendor overrides", () => {
    assert.strictEqual(classify(0x401, { 0x401: "InsufficientFunds" })._tag, "InsufficientFunds")
    assert.strictEqual(classify(0x0b, { 0x0b: "Blocked" })._tag, "Blocked")
  })

  it("treats every permanent bind refusal as AuthenticationFailed, keeps busy statuses retryable", () => {
    assert.strictEqual(classifyBind(0x0e)._tag, "AuthenticationFailed")
    assert.strictEqual(classifyBind(0x0d)._tag, "AuthenticationFailed")
    assert.strictEqual(classifyBind(0x53)._tag, "AuthenticationFailed")
    assert.strictEqual(classifyBind(0x45)._tag, "AuthenticationFailed")
    assert.strictEqual(classifyBind(0x08)._tag, "Unavailable")
    assert.strictEqual(classifyBind(0x58)._tag, "Throttled")
  })

  it("classifies every status without throwing", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 0xffffffff }), (status) => {
      const reason = classify(status)
      return typeof reason._tag === "string" && reason.code === statusCode(status)
    }))
  })
})

describe("receipts", () => {
  const text =
    "id:0123456789 sub:001 dlvrd:001 submit date:2311231200 done date:2311231201 stat:DELIVRD err:000 text:Hello id:x stat:UNDELIV"

  it("parses the Appendix B receipt text; text: runs to the end", () => {
    assert.deepStrictEqual(parseReceiptText(text), {
      id: "0123456789",
      sub: "001",
      dlvrd: "001",
      submitDate: "2311231200",
      doneDate: "2311231201",
      stat: "DELIVRD",
      err: "000",
      text: "Hello id:x stat:UNDELIV"
    })
    assert.deepStrictEqual(parseReceiptText("ID:ab STAT:expired"), { id: "ab", stat: "expired" })
    assert.deepStrictEqual(parseReceiptText(""), {})
  })

  it("maps stat values", () => {
    const table: Record<string, string | undefined> = {
      DELIVRD: "delivered",
      EXPIRED: "expired",
      UNDELIV: "undelivered",
      REJECTD: "rejected",
      ACCEPTD: "enroute",
      ENROUTE: "enroute",
      DELETED: "failed",
      UNKNOWN: "failed",
      nonsense: undefined
    }
    for (const [stat, status] of Object.entries(table)) assert.strictEqual(statusOfStat(stat), status)
  })

  it("reads a receipt deliver_sm, reconciling a decimal receipt id with a hex submit id", () => {
    const read = readDeliver({ esm_class: 0x04, short_message: { message: "id:439041101 stat:DELIVRD err:000" } }, {
      submit: "hex",
      receiptText: "decimal"
    })
    assert.deepStrictEqual(read, {
      _tag: "Receipt",
      providerMessageId: "1a2b3c4d",
      status: "delivered",
      providerStatus: "DELIVRD",
      errorCode: "000"
    })
  })

  it("prefers the receipted_message_id and message_state TLVs", () => {
    const read = readDeliver({
      esm_class: 0x04,
      short_message: { message: "id:999 stat:DELIVRD" },
      receipted_message_id: "00ABC",
      message_state: 8
    }, { submit: "hex", receiptText: "decimal" })
    assert.strictEqual(read._tag === "Receipt" && read.providerMessageId, "abc")
    assert.strictEqual(read._tag === "Receipt" && read.status, "rejected")
  })

  it("reports a receipt without an id or a state as malformed", () => {
    const ids = { submit: "opaque", receiptText: "opaque" } as const
    assert.deepStrictEqual(readDeliver({ esm_class: 0x04, short_message: { message: "stat:DELIVRD" } }, ids), {
      _tag: "Malformed",
      field: "receipted_message_id"
    })
    assert.deepStrictEqual(readDeliver({ esm_class: 0x04, short_message: { message: "id:1 stat:WHAT" } }, ids), {
      _tag: "Malformed",
      field: "stat"
    })
  })

  it("reads an inbound message with a 16-bit concatenation reference", () => {
    const read = readDeliver({
      esm_class: 0x40,
      source_addr: "447700900123",
      source_addr_ton: 1,
      destination_addr: "MyBrand",
      dest_addr_ton: 5,
      short_message: { udh: [Buffer.from([0x08, 0x04, 0x12, 0x34, 0x03, 0x02])], message: "part two" }
    }, { submit: "opaque", receiptText: "opaque" })
    assert.deepStrictEqual(read, {
      _tag: "Inbound",
      from: "+447700900123",
      to: "MyBrand",
      text: "part two",
      part: { reference: 0x1234, count: 3, index: 2 }
    })
  })

  it("never throws on arbitrary deliver_sm fields", () => {
    fc.assert(fc.property(
      fc.record({
        esm_class: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.string()),
        short_message: fc.oneof(fc.string(), fc.record({ message: fc.string() }), fc.constant(null)),
        receipted_message_id: fc.option(fc.string(), { nil: undefined }),
        message_state: fc.option(fc.integer({ min: -5, max: 20 }), { nil: undefined }),
        source_addr: fc.option(fc.string(), { nil: undefined })
      }),
      (pdu) => ["Receipt", "Inbound", "Malformed"].includes(readDeliver(pdu, { submit: "hex", receiptText: "decimal" })._tag)
    ))
  })
})

describe("message ids", () => {
  it("reconciles hex and decimal renderings of one number", () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.nat(4), fc.boolean(), (n, zeros, upper) => {
      const hex = "0".repeat(zeros) + (upper ? n.toString(16).toUpperCase() : n.toString(16))
      const dec = n.toString(10)
      return (
        canonicalId(hex, "hex", "hex") === canonicalId(dec, "decimal", "hex") &&
        canonicalId(hex, "hex", "decimal") === canonicalId(dec, "decimal", "decimal") &&
        canonicalId(canonicalId(hex, "hex", "hex"), "hex", "hex") === canonicalId(hex, "hex", "hex")
      )
    }))
  })

  it("keeps opaque and unparseable ids verbatim (trimmed)", () => {
    assert.strictEqual(canonicalId(" a-b-c ", "opaque", "opaque"), "a-b-c")
    assert.strictEqual(canonicalId("xyz", "hex", "decimal"), "xyz")
    assert.strictEqual(canonicalId("1A", "decimal", "hex"), "1A")
    assert.strictEqual(canonicalId("439041101", "decimal", "hex"), "1a2b3c4d")
  })
})

describe("absolute time", () => {
  it("formats validity_period as YYMMDDhhmmsstnnp in UTC", () => {
    assert.strictEqual(absoluteTime(Date.UTC(2026, 10, 23, 16, 5, 9, 730)), "261123160509700+")
  })

  it("round-trips to the tenth of a second", () => {
    fc.assert(fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31) }), (t) => {
      const text = absoluteTime(t)
      return text.length === 16 && parseAbsoluteTime(text) === t - (t % 100)
    }))
  })
})

describe("addresses", () => {
  it("applies TON/NPI rules", () => {
    assert.deepStrictEqual(address("+447700900123"), { ton: 1, npi: 1, addr: "447700900123" })
    assert.deepStrictEqual(address("MyBrand"), { ton: 5, npi: 0, addr: "MyBrand" })
    assert.deepStrictEqual(address("12345"), { ton: 3, npi: 0, addr: "12345" })
    assert.deepStrictEqual(address("07700900123"), { ton: 0, npi: 1, addr: "07700900123" })
    assert.deepStrictEqual(address("12345", { shortCode: { ton: 0, npi: 1 } }), { ton: 0, npi: 1, addr: "12345" })
    assert.isUndefined(address("TwelveChars!"))
    assert.isUndefined(address(""))
    assert.isUndefined(address("Brand\u00e9"))
  })
})

describe("parts", () => {
  it("one short_message for one segment; UDH parts that concatenate to the text otherwise", () => {
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom(..."abc XYZ 019@£{}[]€\n"), maxLength: 700 }),
      fc.string({ unit: fc.constantFrom(..."жЖ世界 a😀"), maxLength: 300 })
    )
    fc.assert(fc.property(text, fc.nat(255), (input, reference) => {
      const analysis = Encoding.analyze(input)
      const built = buildParts(analysis, "udh", reference)
      if (built._tag !== "Parts") return false
      if (analysis.segments.length <= 1) {
        return built.parts.length === 1 && built.parts[0]!.esmClass === 0 &&
          built.parts[0]!.shortMessage.equals(encodeText(analysis.text, analysis.encoding))
      }
      const bodies = built.parts.map((p, i) => {
        const udh = p.shortMessage.subarray(0, 6)
        const expected = [0x05, 0x00, 0x03, reference, analysis.segments.length, i + 1]
        if (p.esmClass !== 0x40 || !udh.equals(Buffer.from(expected)) || p.shortMessage.length > 254) return undefined
        return p.shortMessage.subarray(6)
      })
      return bodies.every((b) => b !== undefined) &&
        Buffer.concat(bodies as Array<Buffer>).equals(encodeText(analysis.text, analysis.encoding))
    }))
  })

  it("carries a long message in message_payload when configured", () => {
    const analysis = Encoding.analyze("x".repeat(500))
    const built = buildParts(analysis, "payload", 1)
    assert.strictEqual(built._tag, "Parts")
    if (built._tag === "Parts") {
      assert.strictEqual(built.parts.length, 1)
      assert.strictEqual(built.parts[0]!.shortMessage.length, 0)
      assert.strictEqual(built.parts[0]!.messagePayload?.length, 500)
    }
  })

  it("encodes GSM-7 exactly as the smpp package's GSM 03.38 encoder does", () => {
    const gsm = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\f^{}\\[~]|€"
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...gsm), maxLength: 200 }), (text) =>
      encodeText(text, "GSM-7").equals(smpp.encodings.ASCII.encode(text))
    ))
    assert.strictEqual(encodeText("a😀b", "GSM-7").toString("latin1"), "a?b")
  })

  it("encodes GSM 03.38 extension characters as escape pairs and UCS-2 big-endian", () => {
    assert.deepStrictEqual([...encodeText("@{€", "GSM-7")], [0x00, 0x1b, 0x28, 0x1b, 0x65])
    assert.deepStrictEqual([...encodeText("Ж", "UCS-2")], [0x04, 0x16])
  })
})
