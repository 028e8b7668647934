import * as Duration from "effect/Duration"
import { Transport } from "smsforge"

/**
 * Maps a Vonage SMS API per-message `status` to a transport reason. The codes
 * come from https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms.
 */
export const classifyStatus = (status: string): Transport.TransportErrorReason => {
  const code = status
  switch (status) {
    case "1": // Throttled
    case "10": // Too many existing binds
      return new Transport.Throttled({ code, retryAfter: Duration.seconds(1) })
    case "4": // Invalid credentials
    case "14": // Invalid signature
    // account-level refusals: every message on this route fails the same
    // way, so they count against the route's circuit (Rejected would not)
    case "8": // Partner account barred
    case "11": // Account not enabled for HTTP
    case "32": // Signature and API secret disallowed
      return new Transport.AuthenticationFailed({ code })
    case "5": // Internal error
      return new Transport.Unavailable({ code })
    case "7": // Number barred
    case "29": // Non-whitelisted destination
      return new Transport.Blocked({ code })
    case "9": // Partner quota violation: not enough credit
      return new Transport.InsufficientFunds({ code })
    case "33": // Number de-activated
      return new Transport.InvalidNumber({ code })
    case "2": // Missing parameters
    case "3": // Invalid parameters
    case "6": // Invalid message
    case "12": // Message too long
    case "15": // Invalid sender address
    case "22": // Invalid network code
    case "23": // Invalid callback URL
    default:
      return new Transport.Rejected({ code })
  }
}

/** Maps an HTTP status when the answer carries no per-message status. */
export const classifyHttp = (status: number, retryAfter: number | undefined): Transport.TransportErrorReason => {
  const code = `http-${status}`
  if (status === 429) {
    return new Transport.Throttled(retryAfter === undefined ? { code } : { code, retryAfter: Duration.millis(retryAfter) })
  }
  if (status === 401 || status === 403) return new Transport.AuthenticationFailed({ code })
  // a 2xx without the documented answer: Vonage may have accepted the
  // message, so a resend could duplicate it; an unknown outcome, as a timeout
  if (status >= 200 && status < 300) return new Transport.Timeout({ code })
  if (status >= 500 || status < 400) return new Transport.Unavailable({ code })
  return new Transport.Rejected({ code })
}
