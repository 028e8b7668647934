#!/usr/bin/env node
/**
 * The `smsforge` executable.
 *
 * @since 0.2.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { run } from "./commands.ts"

run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain({ disableErrorReporting: false }))
