import * as Duration from "effect/Duration"
import { Transport } from "smsforge"

/** Twilio error codes that say the destination cannot receive SMS. */
const invalidNumber = new Set([21211, 21217, 21407, 21614])
/**
 * Twilio error codes about this sender/destination pair on Twilio's routes
 * (21612: "cannot be connected at this time"): another carrier may connect
 * it, so they must not stop failover (`InvalidNumber` does), and they say
 * nothing about the route's health.
 */
const notRoutable = new Set([21612])
/** Twilio error codes that say the message was blocked. */
const blocked = new Set([21408, 21610])

/**
 * Maps a Twilio REST error (HTTP status + Twilio error code) to a transport
 * reason. The codes come from https://www.twilio.com/docs/api/errors.
 */
export const classify = (
  status: number,
  code: number | undefined,
  retryAfter: number | undefined,
  message?: string
): Transport.TransportErrorReason => {
  const codeString = code === undefined ? `http-${status}` : String(code)
  if (status === 429 || code === 20429 || code === 14107) {
    return new Transport.Throttled(retryAfter === undefined ? { code: codeString } : { code: codeString, retryAfter: Duration.millis(retryAfter) })
  }
  if (code !== undefined) {
    if (invalidNumber.has(code)) return new Transport.InvalidNumber({ code: codeString })
    if (notRoutable.has(code)) return new Transport.Rejected({ code: codeString, detail: "route" })
    if (blocked.has(code)) return new Transport.Blocked({ code: codeString })
    if (code === 20003 || code === 20008) return new Transport.AuthenticationFailed({ code: codeString })
    if (code === 20005) return new Transport.InsufficientFunds({ code: codeString })
  }
  if (message !== undefined && /insufficient (funds|balance)/i.test(message)) {
    return new Transport.InsufficientFunds({ code: codeString })
  }
  if (status === 401 || status === 403) return new Transport.AuthenticationFailed({ code: codeString })
  if (status === 402) return new Transport.InsufficientFunds({ code: codeString })
  if (status >= 500) return new Transport.Unavailable({ code: codeString })
  return new Transport.Rejected({ code: codeString })
}
