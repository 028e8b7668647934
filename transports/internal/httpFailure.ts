/**
 * What a carrier's HTTP call that got no answer means to the router: a time
 * limit is an unknown outcome (`Timeout`), anything else a network failure
 * (`Unavailable`), the same for every HTTP transport.
 *
 * @internal
 */
import { Transport } from "smsforge"
import type { HttpFailure } from "../../src/internal/http.ts"

/** @internal */
export const reasonOfHttpFailure = (failure: HttpFailure): Transport.Timeout | Transport.Unavailable =>
  failure._tag === "HttpTimeout"
    ? new Transport.Timeout({ code: "timeout" })
    : new Transport.Unavailable({ code: "network", cause: failure.cause })
