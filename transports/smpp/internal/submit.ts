/**
 * The `submit_sm` side of the SMPP codec: the fields of one part, the reading
 * of its `submit_sm_resp`, and the reason for an unknown outcome.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Pdu, PduValue } from "smpp"
import { Transport } from "smsforge"
import { classify, Status } from "./classify.ts"
import { type Address, canonicalId, dataCoding, type IdFormats, type Part } from "./codec.ts"
import { OutcomeUnknown } from "./session.ts"

/** What every part of one submission shares. */
export interface SubmitFields {
  readonly serviceType: string
  readonly from: Address
  readonly to: Address
  readonly registeredDelivery: number
  readonly validity: string
  readonly encoding: Transport.MessageEncoding
}

/** The `submit_sm` parameters of one part. */
export const partParams = (fields: SubmitFields, part: Part): Record<string, PduValue> => ({
  service_type: fields.serviceType,
  source_addr_ton: fields.from.ton,
  source_addr_npi: fields.from.npi,
  source_addr: fields.from.addr,
  dest_addr_ton: fields.to.ton,
  dest_addr_npi: fields.to.npi,
  destination_addr: fields.to.addr,
  esm_class: part.esmClass,
  registered_delivery: fields.registeredDelivery,
  validity_period: fields.validity,
  data_coding: dataCoding(fields.encoding),
  short_message: part.shortMessage,
  ...(part.messagePayload === undefined ? {} : { message_payload: part.messagePayload })
})

/** The message id of a `submit_sm_resp`, in the `submit` format, or why there is none. */
export const decodeSubmit = (
  response: Pdu,
  overrides: Readonly<Record<number, Transport.TransportErrorReason["_tag"]>> | undefined,
  ids: IdFormats
): Effect.Effect<string, Transport.TransportErrorReason> => {
  if (response.command_status !== Status.ROK) return Effect.fail(classify(response.command_status, overrides))
  const id = response["message_id"]
  return typeof id === "string" && id !== ""
    ? Effect.succeed(canonicalId(id, ids.submit, ids.submit))
    : Effect.fail(new Transport.Unavailable({ code: "submit_sm_resp-without-message_id" }))
}

/** A submit whose answer never came: retryable when `resubmitUnknown`, otherwise {@link OutcomeUnknown}. */
export const unknownOutcome = (resubmitUnknown: boolean, code: string): Transport.TransportErrorReason =>
  resubmitUnknown ? new Transport.Timeout({ code }) : new OutcomeUnknown({ code: "outcome-unknown" })
