#!/usr/bin/env node
/**
 * The `smsforge` executable.
 *
 * @since 0.2.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { ApiCallFailed, run } from "./commands.ts"
import { MissingSecret } from "./carriers.ts"
import { InvalidConfig } from "./config.ts"

// A refused call or a bad config is the user's to fix: one line naming the
// reason and the key or field, no stack trace.
const reported = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catch(effect, (error) =>
    error instanceof InvalidConfig || error instanceof ApiCallFailed || error instanceof MissingSecret
      ? Effect.sync(() => {
        process.stderr.write(`smsforge: ${error.message}\n`)
        process.exitCode = 1
      })
      : Effect.fail(error))

run(process.argv.slice(2)).pipe(reported, Effect.provide(NodeServices.layer), NodeRuntime.runMain)
