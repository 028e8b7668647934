/**
 * SMPP command_status → smsforge failure reasons, classified once at the edge.
 *
 * @internal
 */
import { Transport } from "smsforge"

/** Names of the SMPP 3.4 (and 5.0) command_status values, for error codes and logs. */
export const statusNames: Readonly<Record<number, string>> = {
  0x00: "ESME_ROK",
  0x01: "ESME_RINVMSGLEN",
  0x02: "ESME_RINVCMDLEN",
  0x03: "ESME_RINVCMDID",
  0x04: "ESME_RINVBNDSTS",
  0x05: "ESME_RALYBND",
  0x06: "ESME_RINVPRTFLG",
  0x07: "ESME_RINVREGDLVFLG",
  0x08: "ESME_RSYSERR",
  0x0a: "ESME_RINVSRCADR",
  0x0b: "ESME_RINVDSTADR",
  0x0c: "ESME_RINVMSGID",
  0x0d: "ESME_RBINDFAIL",
  0x0e: "ESME_RINVPASWD",
  0x0f: "ESME_RINVSYSID",
  0x11: "ESME_RCANCELFAIL",
  0x13: "ESME_RREPLACEFAIL",
  0x14: "ESME_RMSGQFUL",
  0x15: "ESME_RINVSERTYP",
  0x33: "ESME_RINVNUMDESTS",
  0x34: "ESME_RINVDLNAME",
  0x40: "ESME_RINVDESTFLAG",
  0x42: "ESME_RINVSUBREP",
  0x43: "ESME_RINVESMCLASS",
  0x44: "ESME_RCNTSUBDL",
  0x45: "ESME_RSUBMITFAIL",
  0x48: "ESME_RINVSRCTON",
  0x49: "ESME_RINVSRCNPI",
  0x50: "ESME_RINVDSTTON",
  0x51: "ESME_RINVDSTNPI",
  0x53: "ESME_RINVSYSTYP",
  0x54: "ESME_RINVREPFLAG",
  0x55: "ESME_RINVNUMMSGS",
  0x58: "ESME_RTHROTTLED",
  0x61: "ESME_RINVSCHED",
  0x62: "ESME_RINVEXPIRY",
  0x63: "ESME_RINVDFTMSGID",
  0x64: "ESME_RX_T_APPN",
  0x65: "ESME_RX_P_APPN",
  0x66: "ESME_RX_R_APPN",
  0x67: "ESME_RQUERYFAIL",
  0xc0: "ESME_RINVOPTPARSTREAM",
  0xc1: "ESME_ROPTPARNOTALLWD",
  0xc2: "ESME_RINVPARLEN",
  0xc3: "ESME_RMISSINGOPTPARAM",
  0xc4: "ESME_RINVOPTPARAMVAL",
  0xfe: "ESME_RDELIVERYFAILURE",
  0xff: "ESME_RUNKNOWNERR",
  0x100: "ESME_RSERTYPUNAUTH",
  0x101: "ESME_RPROHIBITED",
  0x102: "ESME_RSERTYPUNAVAIL",
  0x103: "ESME_RSERTYPDENIED",
  0x104: "ESME_RINVDCS"
}

/** The command_status values smsforge uses by name. */
export const Status = {
  ROK: 0x00,
  RSYSERR: 0x08,
  RINVDSTADR: 0x0b,
  RBINDFAIL: 0x0d,
  RINVPASWD: 0x0e,
  RMSGQFUL: 0x14,
  RTHROTTLED: 0x58,
  /** Temporary application error: the SMSC keeps the PDU and redelivers it. */
  RX_T_APPN: 0x64,
  /** Permanent application error: the SMSC drops the PDU. */
  RX_P_APPN: 0x65,
  RINVCMDID: 0x03
} as const

/** The code an error carries: the status name, or its hex value for vendor codes. */
export const statusCode = (status: number): string =>
  statusNames[status] ?? `0x${status.toString(16).padStart(8, "0")}`

type ReasonTag = Transport.TransportErrorReason["_tag"]

const reasonTable: Readonly<Record<number, ReasonTag>> = {
  // retry: the SMSC is busy or failing
  0x14: "Throttled",
  0x58: "Throttled",
  0x08: "Unavailable",
  0x04: "Unavailable", // not bound: we re-bind
  0x05: "Unavailable",
  0x64: "Unavailable",
  0xff: "Unavailable",
  0x102: "Unavailable",
  // the destination
  0x0b: "InvalidNumber",
  0x50: "InvalidNumber",
  0x51: "InvalidNumber",
  0x40: "InvalidNumber",
  // the sender or service is not allowed
  0x0a: "Blocked",
  0x48: "Blocked",
  0x49: "Blocked",
  0x100: "Blocked",
  0x101: "Blocked",
  0x103: "Blocked",
  // credentials
  0x0d: "AuthenticationFailed",
  0x0e: "AuthenticationFailed",
  0x0f: "AuthenticationFailed",
  0x53: "AuthenticationFailed"
}

/** Builds the reason of a tag, carrying `code`. */
export const reasonOf = (tag: ReasonTag, code: string): Transport.TransportErrorReason =>
  Transport.reasonFromTag(tag, { code })

/**
 * Maps a non-zero command_status of a `submit_sm_resp` (or `generic_nack`)
 * to a reason. Unknown and vendor-specific codes are permanent (`Rejected`)
 * unless `overrides` names them: a retry of an unknown refusal risks a
 * duplicate for no gain.
 */
export const classify = (
  status: number,
  overrides?: Readonly<Record<number, ReasonTag>> | undefined
): Transport.TransportErrorReason =>
  reasonOf(overrides?.[status] ?? reasonTable[status] ?? "Rejected", statusCode(status))

/**
 * Maps a failed bind: retryable statuses stay retryable (the SMSC is busy),
 * every other refusal means our credentials or account were not accepted.
 */
export const classifyBind = (
  status: number,
  overrides?: Readonly<Record<number, ReasonTag>> | undefined
): Transport.TransportErrorReason => {
  const reason = classify(status, overrides)
  return reason.isRetryable ? reason : new Transport.AuthenticationFailed({ code: statusCode(status) })
}
