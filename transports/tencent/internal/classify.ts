/**
 * Tencent Cloud SMS error codes → transport reasons. Codes from the SMS error
 * code list (https://www.tencentcloud.com/document/api/382/40474, with the
 * API 3.0 common codes) and the sending error table
 * (https://cloud.tencent.com/document/api/382/59177). docs/transports.md gives
 * the reason for each judgement call.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import { Transport } from "smsforge"

/** Per-recipient windows: the same number again after the window. */
const recipientWindows: ReadonlyMap<string, Duration.Duration> = new Map([
  ["LimitExceeded.PhoneNumberThirtySecondLimit", Duration.seconds(30)],
  ["LimitExceeded.PhoneNumberOneHourLimit", Duration.hours(1)],
  ["LimitExceeded.DeliveryFrequencyLimit", Duration.seconds(60)]
])

/** This recipient has had its share today from this account: no retry today, another carrier may deliver. */
const recipientDaily = new Set([
  "LimitExceeded.PhoneNumberDailyLimit",
  "LimitExceeded.PhoneNumberSameContentDailyLimit"
])

/** The account (SmsSdkAppId) has used its own daily quota: the route is spent, like a credit balance. */
const accountQuota = new Set([
  "LimitExceeded.AppDailyLimit",
  "LimitExceeded.AppGlobalDailyLimit",
  "LimitExceeded.AppMainlandChinaDailyLimit",
  "LimitExceeded.DailyLimit"
])

const funds = new Set([
  "FailedOperation.InsufficientBalanceInSmsPackage",
  "UnauthorizedOperation.SerivceSuspendDueToArrears",
  "UnauthorizedOperation.ServiceSuspendDueToArrears"
])

const invalidNumber = new Set([
  "InvalidParameterValue.IncorrectPhoneNumber",
  "FailedOperation.PhoneNumberParseFail"
])

const blocked = new Set([
  "FailedOperation.PhoneNumberInBlacklist",
  "FailedOperation.PhoneNumberOnBlacklist",
  "FailedOperation.ContainSensitiveWord",
  "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
  // marketing only: this account's transactional messages still go
  "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny",
  ...recipientDaily
])

/** The request never reached a usable account or API: every message on this route fails alike. */
const routeConfig = new Set([
  "InternalError.SigVerificationFail",
  "InternalError.SigFieldMissing",
  "InternalError.RequestTimeException",
  "InvalidParameterValue.SdkAppIdNotExist",
  "FailedOperation.MissingSignatureList",
  "IpInBlacklist",
  "IpNotInWhitelist",
  "InvalidAction",
  "NoSuchProduct",
  "NoSuchVersion",
  "UnsupportedProtocol",
  "UnsupportedRegion"
])

const unavailable = new Set(["InternalError", "ServiceUnavailable", "ResourceUnavailable", "ResourceInsufficient"])

/**
 * Maps a Tencent Cloud error `Code` (and the HTTP status, when the answer has
 * no code) to a transport reason.
 */
export const classify = (status: number, code: string | undefined): Transport.TransportErrorReason => {
  if (code === undefined) {
    const http = `http-${status}`
    if (status === 429) return new Transport.Throttled({ code: http })
    if (status === 401 || status === 403) return new Transport.AuthenticationFailed({ code: http })
    // Tencent's API always answers JSON: anything else came from something in between
    return new Transport.Unavailable({ code: http })
  }
  const window = recipientWindows.get(code)
  if (window !== undefined) return new Transport.Throttled({ code, retryAfter: window })
  if (code === "RequestLimitExceeded" || code.startsWith("RequestLimitExceeded.")) {
    return new Transport.Throttled({ code, retryAfter: Duration.seconds(1) })
  }
  // "the request to send timed out" inside Tencent: it may have gone out
  if (code === "InternalError.Timeout") return new Transport.Timeout({ code })
  if (invalidNumber.has(code)) return new Transport.InvalidNumber({ code })
  if (funds.has(code) || accountQuota.has(code)) return new Transport.InsufficientFunds({ code })
  if (blocked.has(code)) return new Transport.Blocked({ code })
  if (routeConfig.has(code) || code.startsWith("AuthFailure") || code.startsWith("UnauthorizedOperation")) {
    return new Transport.AuthenticationFailed({ code })
  }
  if (unavailable.has(code) || code.startsWith("InternalError.") || status >= 500) return new Transport.Unavailable({ code })
  // FailedOperation.SignatureIncorrectOrUnapproved, FailedOperation.TemplateIncorrectOrUnapproved,
  // FailedOperation.TemplateParamSetNotMatchApprovedTemplate, FailedOperation.MarketingSendTimeConstraint,
  // InvalidParameterValue.TemplateParameterFormatError, UnsupportedOperation.*, MissingParameter, …
  return new Transport.Rejected({ code })
}
