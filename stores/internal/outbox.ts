import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PersistedQueue from "effect/persistence/PersistedQueue"

/**
 * The queue store with a time limit on `offer`, the call a send waits for.
 * `take` waits for work by design and is left unbounded.
 */
export const boundedQueueStore = (
  timeout: Duration.Input
): Layer.Layer<PersistedQueue.PersistedQueueStore, never, PersistedQueue.PersistedQueueStore> =>
  Layer.effect(
    PersistedQueue.PersistedQueueStore,
    Effect.map(Effect.service(PersistedQueue.PersistedQueueStore), (store) =>
      PersistedQueue.PersistedQueueStore.of({
        ...store,
        offer: (options) =>
          Effect.timeoutOrElse(store.offer(options), {
            duration: timeout,
            orElse: () => Effect.fail(new PersistedQueue.PersistedQueueError({ message: "offer timed out" }))
          })
      }))
  )

/** A layer's failure of any kind (a driver's error or defect) as `error`; interruption passes. */
export const failLayerWith = <E>(error: (cause: unknown) => E) =>
<A, E0, R>(layer: Layer.Layer<A, E0, R>): Layer.Layer<A, E, R> =>
  Layer.catchCause(layer, (cause) => {
    const failed: Effect.Effect<Layer.Layer<A>, E> = Cause.hasInterruptsOnly(cause)
      ? Effect.failCause(cause as Cause.Cause<never>)
      : Effect.fail(error(Cause.squash(cause)))
    return Layer.unwrap(failed)
  })
