/**
 * What the Redis and SQL progress stores share: a time limit on every call
 * and one typed failure for an outage or a timeout.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { ProgressStoreUnavailable } from "../OrderProgress.ts"

/** Every store call fails typed within `millis`; the cause is kept, never shown in the message. @internal */
export const guarded = (operation: string, millis: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.timeout(millis),
    Effect.mapError((cause) => new ProgressStoreUnavailable({ operation, cause }))
  )
