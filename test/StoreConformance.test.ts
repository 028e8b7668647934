import { describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Schedule } from "effect"
import { PersistedQueue } from "effect/persistence"
import { TestClock } from "effect/testing"
import { Audit, Consent, Idempotency, MessageStore, Outbox, Verification } from "smsforge"
import * as StoreConformance from "../src/testing/StoreConformance.ts"

// The memory stores are the reference every backend is held to.
const run = <R>(cases: ReadonlyArray<StoreConformance.StoreCase<R>>, layer: Layer.Layer<R>) => {
  for (const c of cases) {
    it.effect(c.name, () => Effect.scoped(c.run).pipe(Effect.provide(layer)))
  }
}

describe("StoreConformance on the memory stores", () => {
  run(StoreConformance.idempotency, Idempotency.layerMemory())
  run(StoreConformance.messages, MessageStore.layerMemory())
  run(StoreConformance.messagesOnTestClock, MessageStore.layerMemory())
  run(StoreConformance.verifications, Verification.layerStoreMemory)
  run(StoreConformance.consent, Consent.layerStoreMemory)
  run(StoreConformance.audit, Layer.fresh(Audit.layerStoreMemory))
})

describe("StoreConformance: the persisted Outbox on effect's memory queue store, on the TestClock", () => {
  const maxAttempts = 3
  // Each case gets a fresh store: the cases expect the jobs they see to be their own.
  const layer = Outbox.layerPersisted({ maxAttempts, backoff: Schedule.spaced("1 second") }).pipe(
    Layer.provide(PersistedQueue.layer),
    Layer.provide(PersistedQueue.layerStoreMemory),
    Layer.fresh
  )
  run(
    StoreConformance.outbox({ advance: TestClock.adjust, patience: "1 minute", maxAttempts, minBackoff: Duration.seconds(1) }),
    layer
  )
})
