import { describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Consent, Idempotency, MessageStore, Verification } from "smsforge"
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
  run(StoreConformance.verifications, Verification.layerStoreMemory)
  run(StoreConformance.consent, Consent.layerStoreMemory)
})
