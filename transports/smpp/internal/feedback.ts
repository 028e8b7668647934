/**
 * What a `deliver_sm` means to smsforge: a read receipt or inbound message as
 * `Transport.Feedback`, and receipt statuses as delivery statuses.
 *
 * @internal
 */
import type { Transport } from "smsforge"
import { type Deliver, statusOfStat, statusOfState } from "./codec.ts"

/** Receipt `stat:` words and `message_state` numbers; anything else falls back to the common words. */
export const mapStatus = (providerStatus: string): Transport.DeliveryStatus | undefined => {
  const trimmed = providerStatus.trim()
  if (/^\d$/.test(trimmed)) return statusOfState(Number(trimmed))?.status
  return statusOfStat(trimmed)
}

/** A well-formed `deliver_sm`, received at `now`, as the feedback the `listen` handler gets. */
export const feedbackOf = (
  transport: string,
  read: Exclude<Deliver, { readonly _tag: "Malformed" }>,
  now: number
): Transport.Feedback =>
  read._tag === "Receipt"
    ? {
      _tag: "DeliveryReport",
      transport,
      providerMessageId: read.providerMessageId,
      status: read.status,
      providerStatus: read.providerStatus,
      errorCode: read.errorCode,
      at: now
    }
    : {
      _tag: "InboundMessage",
      transport,
      from: read.from,
      to: read.to,
      text: read.text,
      receivedAt: now,
      part: read.part
    }
