import * as Duration from "effect/Duration"
import { Transport } from "smsforge"

const throttled = new Set(["isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "Throttling.Api", "isp.FLOW_CONTROL"])
const invalidNumber = new Set(["isv.MOBILE_NUMBER_ILLEGAL", "isv.PHONE_NUMBER_ILLEGAL"])
const funds = new Set(["isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE"])
const auth = new Set([
  "InvalidAccessKeyId.NotFound",
  "InvalidAccessKeyId.Disabled",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "isv.ACCOUNT_NOT_EXISTS",
  "isv.ACCOUNT_ABNORMAL",
  "isp.RAM_PERMISSION_DENY",
  "Forbidden.RAM",
  // the signed request's timestamp is outside Alibaba's window: this host's
  // clock is off, so every request fails until it is fixed; it must count
  // against the route's circuit, which Rejected does not
  "InvalidTimeStamp.Expired"
])
const blocked = new Set(["isv.BLACK_KEY_CONTROL_LIMIT", "isv.DAY_LIMIT_CONTROL", "isv.DENY_IP_RANGE", "isv.SMS_TEST_NUMBER_LIMIT"])
const unavailable = new Set(["isp.SYSTEM_ERROR", "ServiceUnavailable", "InternalError", "SignatureNonceUsed", "isv.SYSTEM_ERROR"])

/**
 * Maps a dysmsapi error `Code` (and the HTTP status, when there is no code) to
 * a transport reason. Codes from https://help.aliyun.com/document_detail/101346.html.
 */
export const classify = (status: number, code: string | undefined): Transport.TransportErrorReason => {
  if (code === undefined) {
    const http = `http-${status}`
    if (status === 429) return new Transport.Throttled({ code: http })
    if (status === 401 || status === 403) return new Transport.AuthenticationFailed({ code: http })
    if (status >= 500 || status < 400) return new Transport.Unavailable({ code: http })
    return new Transport.Rejected({ code: http })
  }
  if (throttled.has(code)) return new Transport.Throttled({ code, retryAfter: Duration.seconds(60) })
  if (invalidNumber.has(code)) return new Transport.InvalidNumber({ code })
  if (funds.has(code)) return new Transport.InsufficientFunds({ code })
  if (auth.has(code)) return new Transport.AuthenticationFailed({ code })
  if (blocked.has(code)) return new Transport.Blocked({ code })
  if (unavailable.has(code) || status >= 500) return new Transport.Unavailable({ code })
  // isv.SMS_TEMPLATE_ILLEGAL, isv.SMS_SIGNATURE_ILLEGAL, isv.TEMPLATE_MISSING_PARAMETERS,
  // isv.INVALID_PARAMETERS, isv.INVALID_JSON_PARAM, isv.PARAM_LENGTH_LIMIT, …
  return new Transport.Rejected({ code })
}
