#!/usr/bin/env node
/**
 * The `smsforge` executable.
 *
 * @since 0.2.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { Store } from "smsforge"
import { ApiCallFailed, run } from "./commands.ts"
import { MissingSecret } from "./carriers.ts"
import { InvalidConfig, TypeScriptConfigUnsupported } from "./config.ts"

// A refused call, a bad config or a store out of reach is the user's to fix: one line naming the
// reason and the key or field, no stack trace.
const reported = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catch(effect, (error) => {
    const line = error instanceof Store.StoreUnavailable
      ? `stores.${error.store ?? ""}: ${error.message}`
      : error instanceof InvalidConfig || error instanceof ApiCallFailed || error instanceof MissingSecret ||
          error instanceof TypeScriptConfigUnsupported
      ? error.message
      : undefined
    return line === undefined ? Effect.fail(error) : Effect.sync(() => {
      process.stderr.write(`smsforge: ${line}\n`)
      process.exitCode = 1
    })
  })

run(process.argv.slice(2)).pipe(reported, Effect.provide(NodeServices.layer), NodeRuntime.runMain)
