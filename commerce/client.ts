/**
 * The Promise facade of the notices, for applications that do not use Effect.
 *
 * @since 0.3.0
 */
import type * as Layer from "effect/Layer"
import * as LayerM from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { layer as noticesLayer, type NoticeOutcome, Notices, type NoticesOptions } from "./Notices.ts"
import type { OrderEvent } from "./OrderEvents.ts"
import { layerStoreMemory, type OrderProgressStore } from "./OrderProgress.ts"

/**
 * @category models
 * @since 0.3.0
 */
export interface NoticesClient {
  /** Sends the notice an event calls for; rejects with a `NoticeError` (its `reason._tag` names why). */
  readonly notify: (event: OrderEvent) => Promise<NoticeOutcome>
  /** Releases the progress store's connections. */
  readonly close: () => Promise<void>
}

/**
 * @category models
 * @since 0.3.0
 */
export interface CreateNoticesOptions extends NoticesOptions {
  /** Where order progress is kept; memory by default. `layerStoreRedis` or `layerStoreSql` share it between instances. */
  readonly store?: Layer.Layer<OrderProgressStore, unknown> | undefined
}

/**
 * Notices on one managed runtime, for a webhook handler or your own code.
 *
 * @category constructors
 * @since 0.3.0
 */
export const createNotices = (options: CreateNoticesOptions): NoticesClient => {
  const runtime = ManagedRuntime.make(noticesLayer(options).pipe(LayerM.provide(options.store ?? layerStoreMemory)))
  return {
    notify: (event) => runtime.runPromise(Notices.use((notices) => notices.notify(event))),
    close: () => runtime.dispose()
  }
}
