/**
 * Pure SMPP encoding rules: message bodies, UDH parts, addresses, absolute
 * times, message-id formats and the parsing of `deliver_sm` into receipts and
 * inbound messages. No sockets here, so every rule has a table or property test.
 *
 * @internal
 */
import { Encoding, type Transport } from "smsforge"

// models (re-exported by SmppTransport)

/**
 * How a message longer than one segment is carried: one `submit_sm` per
 * segment with a concatenation UDH, or the whole text in one `message_payload`.
 *
 * @category models
 * @since 0.1.0
 */
export type LongMessages = "udh" | "payload"

/**
 * Type of number and numbering plan of an address.
 *
 * @category models
 * @since 0.1.0
 */
export interface TonNpi {
  readonly ton: number
  readonly npi: number
}

/**
 * TON/NPI per kind of address, for senders and recipients; the defaults
 * follow common SMSC practice.
 *
 * @category models
 * @since 0.1.0
 */
export interface AddressRules {
  /** A sender ID with letters (at most 11 characters). Default TON 5 (alphanumeric), NPI 0. */
  readonly alphanumeric?: TonNpi | undefined
  /** `+` and digits. Default TON 1 (international), NPI 1 (E.164); the `+` is dropped. */
  readonly international?: TonNpi | undefined
  /** Up to 8 digits. Default TON 3 (network specific), NPI 0. */
  readonly shortCode?: TonNpi | undefined
  /** More than 8 digits without `+`. Default TON 0 (unknown), NPI 1. */
  readonly national?: TonNpi | undefined
}

/**
 * How an SMSC writes a message id: as hexadecimal or decimal digits of one
 * number, or as an opaque string kept verbatim.
 *
 * @category models
 * @since 0.1.0
 */
export type IdFormat = "hex" | "decimal" | "opaque"

// bodies

/** data_coding for a body encoding: 0 = SMSC default alphabet (GSM 03.38), 8 = UCS-2. */
export const dataCoding = (encoding: Transport.MessageEncoding): number => (encoding === "UCS-2" ? 8 : 0)

/**
 * GSM 03.38 default alphabet, unpacked (one septet per octet, an extension
 * character as ESC + code): the form SMSCs take for data_coding 0, and what
 * the `smpp` package's own encoder produces. The table is the encoder's own
 * (`Encoding.toGsm7Septets`); a character outside it becomes `?`, which
 * `Encoding.analyze` never hands over for GSM-7.
 */
export const encodeGsm7 = (text: string): Buffer => {
  const septets = Encoding.toGsm7Septets(text)
  return Buffer.from(septets.buffer, septets.byteOffset, septets.length)
}

/**
 * Encodes text for `short_message` / `message_payload`: GSM 03.38 unpacked
 * septets for data_coding 0, UTF-16 big-endian for UCS-2.
 */
export const encodeText = (text: string, encoding: Transport.MessageEncoding): Buffer =>
  encoding === "UCS-2" ? Buffer.from(text, "utf16le").swap16() : encodeGsm7(text)

/** The largest `short_message` SMPP 3.4 allows. */
export const maxShortMessage = 254

/** One submit_sm's body fields. */
export interface Part {
  readonly esmClass: number
  readonly shortMessage: Buffer
  readonly messagePayload?: Buffer | undefined
  /** Index (1-based) and count when this is one UDH part. */
  readonly udh?: { readonly reference: number; readonly index: number; readonly count: number } | undefined
}

/** A concatenation header with an 8-bit reference: IEI 0x00, length 3, ref, total, index. */
export const concatHeader = (reference: number, count: number, index: number): Buffer =>
  Buffer.from([0x05, 0x00, 0x03, reference & 0xff, count & 0xff, index & 0xff])

/**
 * Splits a submission into submit_sm bodies: one `short_message` when it fits
 * in one segment, else UDH parts (esm_class 0x40, one per pre-split segment)
 * or one `message_payload`. Fails with the offending size when a body is over
 * the SMPP limits.
 */
export const buildParts = (
  submission: Pick<Transport.Submission, "text" | "segments" | "encoding">,
  mode: LongMessages,
  reference: number
): { readonly _tag: "Parts"; readonly parts: ReadonlyArray<Part> } | { readonly _tag: "TooLong"; readonly octets: number } => {
  const segments = submission.segments.length === 0 ? [submission.text] : submission.segments
  if (segments.length === 1) {
    const body = encodeText(submission.text, submission.encoding)
    if (body.length <= maxShortMessage) return { _tag: "Parts", parts: [{ esmClass: 0, shortMessage: body }] }
    if (mode === "udh") return { _tag: "TooLong", octets: body.length }
  }
  if (mode === "payload") {
    const body = encodeText(submission.text, submission.encoding)
    if (body.length > 0xffff) return { _tag: "TooLong", octets: body.length }
    return { _tag: "Parts", parts: [{ esmClass: 0, shortMessage: Buffer.alloc(0), messagePayload: body }] }
  }
  if (segments.length > 255) return { _tag: "TooLong", octets: segments.length }
  const parts: Array<Part> = []
  for (let i = 0; i < segments.length; i++) {
    const body = Buffer.concat([concatHeader(reference, segments.length, i + 1), encodeText(segments[i]!, submission.encoding)])
    if (body.length > maxShortMessage) return { _tag: "TooLong", octets: body.length }
    parts.push({
      esmClass: 0x40,
      shortMessage: body,
      udh: { reference: reference & 0xff, index: i + 1, count: segments.length }
    })
  }
  return { _tag: "Parts", parts }
}

// addresses

/** An address as submit_sm carries it. */
export interface Address extends TonNpi {
  readonly addr: string
}

/** Applies the address rules; `undefined` for an address SMPP cannot carry. */
export const address = (value: string, rules: AddressRules = {}): Address | undefined => {
  if (/^\+\d{1,20}$/.test(value)) {
    const r = rules.international ?? { ton: 1, npi: 1 }
    return { ...r, addr: value.slice(1) }
  }
  if (/^\d{1,8}$/.test(value)) {
    const r = rules.shortCode ?? { ton: 3, npi: 0 }
    return { ...r, addr: value }
  }
  if (/^\d{9,20}$/.test(value)) {
    const r = rules.national ?? { ton: 0, npi: 1 }
    return { ...r, addr: value }
  }
  if (value.length >= 1 && value.length <= 11 && /^[\x20-\x7e]+$/.test(value)) {
    const r = rules.alphanumeric ?? { ton: 5, npi: 0 }
    return { ...r, addr: value }
  }
  return undefined
}

/** Renders an address we received: international numbers get their `+` back. */
export const renderAddress = (addr: string, ton: number): string =>
  ton === 1 && /^\d+$/.test(addr) ? `+${addr}` : addr

// times

const pad = (n: number, width = 2): string => n.toString().padStart(width, "0")

/**
 * SMPP absolute time `YYMMDDhhmmsstnnp` in UTC (`nn` = 00 quarter hours,
 * `p` = `+`), as `validity_period` takes it.
 */
export const absoluteTime = (epochMillis: number): string => {
  const d = new Date(epochMillis)
  return (
    pad(d.getUTCFullYear() % 100) +
    pad(d.getUTCMonth() + 1) +
    pad(d.getUTCDate()) +
    pad(d.getUTCHours()) +
    pad(d.getUTCMinutes()) +
    pad(d.getUTCSeconds()) +
    Math.floor(d.getUTCMilliseconds() / 100).toString() +
    "00+"
  )
}

/** Reads an absolute time back (years 2000–2099); `undefined` when malformed. */
export const parseAbsoluteTime = (value: string): number | undefined => {
  const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d)(\d\d)([+-])$/.exec(value)
  if (m === null) return undefined
  const [, yy, mo, dd, hh, mi, ss, t, nn, p] = m
  const utc = Date.UTC(2000 + Number(yy), Number(mo) - 1, Number(dd), Number(hh), Number(mi), Number(ss), Number(t) * 100)
  const offset = Number(nn) * 15 * 60_000
  return p === "+" ? utc - offset : utc + offset
}

// message ids

const parseId = (raw: string, format: IdFormat): bigint | undefined => {
  if (format === "hex" && /^[0-9a-fA-F]{1,32}$/.test(raw)) return BigInt(`0x${raw}`)
  if (format === "decimal" && /^\d{1,40}$/.test(raw)) return BigInt(raw)
  return undefined
}

/**
 * Reconciles a message id written in `from` to the canonical form of
 * `canonical` (the format of `submit_sm_resp`): lowercase hex without leading
 * zeros, decimal without leading zeros, or the trimmed string. An id that
 * does not parse in its declared format is kept verbatim.
 */
export const canonicalId = (raw: string, from: IdFormat, canonical: IdFormat): string => {
  const trimmed = raw.trim()
  if (canonical === "opaque") return trimmed
  const n = parseId(trimmed, from)
  if (n === undefined) return trimmed
  return canonical === "hex" ? n.toString(16) : n.toString(10)
}

// deliver_sm

/** The fields of a receipt text ("id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…"). */
export interface ReceiptText {
  readonly id?: string | undefined
  readonly sub?: string | undefined
  readonly dlvrd?: string | undefined
  readonly submitDate?: string | undefined
  readonly doneDate?: string | undefined
  readonly stat?: string | undefined
  readonly err?: string | undefined
  readonly text?: string | undefined
}

const receiptField = /(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:\s*/gi

/** Parses the SMPP 3.4 Appendix B receipt text; keys are case-insensitive, order free. */
export const parseReceiptText = (input: string): ReceiptText => {
  const found: Array<{ key: string; start: number; end: number }> = []
  for (const m of input.matchAll(receiptField)) {
    const key = m[1]!.toLowerCase()
    // `text:` runs to the end; never read keys inside it
    if (found.some((f) => f.key === "text")) break
    found.push({ key, start: m.index, end: m.index + m[0].length })
  }
  const out: Record<string, string> = {}
  for (let i = 0; i < found.length; i++) {
    const f = found[i]!
    const next = found[i + 1]
    const value = input.slice(f.end, next === undefined ? input.length : next.start)
    const name = f.key === "submit date" ? "submitDate" : f.key === "done date" ? "doneDate" : f.key
    if (!(name in out)) out[name] = f.key === "text" ? value : value.trim()
  }
  return out
}

/** Receipt `stat:` values (SMPP 3.4 Appendix B) in our vocabulary. */
export const statusOfStat = (stat: string): Transport.DeliveryStatus | undefined => {
  switch (stat.toUpperCase()) {
    case "DELIVRD":
      return "delivered"
    case "EXPIRED":
      return "expired"
    case "UNDELIV":
      return "undelivered"
    case "REJECTD":
      return "rejected"
    case "ACCEPTD":
    case "ENROUTE":
    case "SCHEDULED":
      return "enroute"
    case "DELETED":
    case "UNKNOWN":
    case "SKIPPED":
      return "failed"
    default:
      return undefined
  }
}

const stateNames = ["SCHEDULED", "ENROUTE", "DELIVERED", "EXPIRED", "DELETED", "UNDELIVERABLE", "ACCEPTED", "UNKNOWN", "REJECTED", "SKIPPED"]

/** The `message_state` TLV (0–9) in our vocabulary, with its SMPP name. */
export const statusOfState = (state: number): { readonly status: Transport.DeliveryStatus; readonly name: string } | undefined => {
  const name = stateNames[state]
  if (name === undefined) return undefined
  const status: Transport.DeliveryStatus = state === 2
    ? "delivered"
    : state === 3
    ? "expired"
    : state === 5
    ? "undelivered"
    : state === 8
    ? "rejected"
    : state === 4 || state === 7 || state === 9
    ? "failed"
    : "enroute"
  return { status, name }
}

/** A `deliver_sm` read into our terms; `Malformed` is acknowledged with a permanent error. */
export type Deliver =
  | {
    readonly _tag: "Receipt"
    readonly providerMessageId: string
    readonly status: Transport.DeliveryStatus
    readonly providerStatus?: string | undefined
    readonly errorCode?: string | undefined
  }
  | {
    readonly _tag: "Inbound"
    readonly from: string
    readonly to: string
    readonly text: string
    readonly part?: { readonly reference: number; readonly index: number; readonly count: number } | undefined
  }
  | { readonly _tag: "Malformed"; readonly field: string }

const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)
const num = (u: unknown): number | undefined => (typeof u === "number" && Number.isFinite(u) ? u : undefined)

const messageOf = (u: unknown): { text: string | undefined; udh: ReadonlyArray<Buffer> } => {
  if (typeof u === "string") return { text: u, udh: [] }
  if (Buffer.isBuffer(u)) return { text: u.toString("latin1"), udh: [] }
  if (typeof u === "object" && u !== null && "message" in u) {
    const message = u.message
    const udhRaw = "udh" in u ? u.udh : undefined
    const udh = Array.isArray(udhRaw) ? udhRaw.filter((b): b is Buffer => Buffer.isBuffer(b)) : []
    const text = typeof message === "string" ? message : Buffer.isBuffer(message) ? message.toString("latin1") : undefined
    return { text, udh }
  }
  return { text: undefined, udh: [] }
}

/** Concatenation info from UDH IEs 0x00 (8-bit ref) / 0x08 (16-bit ref), or the SAR TLVs. */
const partOf = (udh: ReadonlyArray<Buffer>, pdu: Readonly<Record<string, unknown>>) => {
  for (const ie of udh) {
    if (ie[0] === 0x00 && ie[1] === 3 && ie.length >= 5) {
      return { reference: ie[2]!, count: ie[3]!, index: ie[4]! }
    }
    if (ie[0] === 0x08 && ie[1] === 4 && ie.length >= 6) {
      return { reference: ie.readUInt16BE(2), count: ie[4]!, index: ie[5]! }
    }
  }
  const reference = num(pdu["sar_msg_ref_num"])
  const count = num(pdu["sar_total_segments"])
  const index = num(pdu["sar_segment_seqnum"])
  return reference !== undefined && count !== undefined && index !== undefined ? { reference, count, index } : undefined
}

/** Message-id formats of an SMSC, see {@link canonicalId}. */
export interface IdFormats {
  /** `submit_sm_resp.message_id` and the `receipted_message_id` TLV. */
  readonly submit: IdFormat
  /** The `id:` of the receipt text. */
  readonly receiptText: IdFormat
}

/**
 * Reads a decoded `deliver_sm`: a delivery receipt when esm_class says so
 * (MC delivery receipt 0x04 or intermediate notification 0x20), an inbound
 * message otherwise. The `receipted_message_id` / `message_state` TLVs win
 * over the receipt text.
 */
export const readDeliver = (pdu: Readonly<Record<string, unknown>>, ids: IdFormats): Deliver => {
  const esmClass = num(pdu["esm_class"]) ?? 0
  const type = esmClass & 0x3c
  const short = messageOf(pdu["short_message"])
  const payload = pdu["message_payload"] === undefined ? undefined : messageOf(pdu["message_payload"])
  const body = short.text !== undefined && short.text.length > 0 ? short : payload ?? short
  if (type === 0x04 || type === 0x20) {
    const text = parseReceiptText(body.text ?? "")
    const tlvId = str(pdu["receipted_message_id"])
    const providerMessageId = tlvId !== undefined && tlvId.trim() !== ""
      ? canonicalId(tlvId, ids.submit, ids.submit)
      : text.id !== undefined && text.id !== ""
      ? canonicalId(text.id, ids.receiptText, ids.submit)
      : undefined
    if (providerMessageId === undefined) return { _tag: "Malformed", field: "receipted_message_id" }
    const state = num(pdu["message_state"])
    const fromState = state === undefined ? undefined : statusOfState(state)
    const fromStat = text.stat === undefined ? undefined : statusOfStat(text.stat)
    const status = fromState?.status ?? fromStat ?? (type === 0x20 ? "enroute" : undefined)
    if (status === undefined) return { _tag: "Malformed", field: "stat" }
    const networkError = pdu["network_error_code"]
    const errorCode = text.err !== undefined && text.err !== ""
      ? text.err
      : Buffer.isBuffer(networkError)
      ? networkError.toString("hex")
      : undefined
    return {
      _tag: "Receipt",
      providerMessageId,
      status,
      providerStatus: text.stat ?? fromState?.name,
      errorCode
    }
  }
  const from = str(pdu["source_addr"])
  const to = str(pdu["destination_addr"])
  if (from === undefined || from === "") return { _tag: "Malformed", field: "source_addr" }
  if (body.text === undefined) return { _tag: "Malformed", field: "short_message" }
  return {
    _tag: "Inbound",
    from: renderAddress(from, num(pdu["source_addr_ton"]) ?? 0),
    to: renderAddress(to ?? "", num(pdu["dest_addr_ton"]) ?? 0),
    text: body.text,
    part: partOf(body.udh, pdu)
  }
}
