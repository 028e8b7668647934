/**
 * A conformance suite any transport can run: the Sandbox, the built-in
 * carriers and third-party transports alike.
 *
 * **Details**
 * The suite is a list of named effects, so it runs under any test runner:
 *
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Sandbox, TransportConformance } from "smsforge/testing"
 *
 * for (const c of TransportConformance.suite({ make: Sandbox.make(), recipient: "+447700900123" })) {
 *   it.effect(c.name, () => Effect.scoped(c.run))
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Transport } from "smsforge"

/**
 * A transport broke a rule of the contract.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConformanceFailure extends Schema.TaggedError<ConformanceFailure>(
  "smsforge/testing/TransportConformance/ConformanceFailure"
)("ConformanceFailure", { rule: Schema.String, detail: Schema.String }) {
  override get message(): string {
    return `${this.rule}: ${this.detail}`
  }
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ConformanceOptions<E> {
  /** Builds a fresh transport for each case. */
  readonly make: Effect.Effect<Transport.Transport, E, Scope.Scope>
  /** A number the transport accepts. */
  readonly recipient: string
  /** A number the carrier refuses, to check that refusals are permanent. */
  readonly refusedRecipient?: string | undefined
  /** Credentials that must never appear in an error. */
  readonly secrets?: ReadonlyArray<string> | undefined
  readonly from?: string | undefined
}

/**
 * One named case.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConformanceCase {
  readonly name: string
  readonly run: Effect.Effect<void, unknown, Scope.Scope>
}

const check = (ok: boolean, rule: string, detail: string) =>
  ok ? Effect.void : Effect.fail(new ConformanceFailure({ rule, detail }))

const submission = (
  to: string,
  text: string,
  segments: ReadonlyArray<string>,
  encoding: Transport.MessageEncoding,
  from: string | undefined,
  reference: string
): Transport.Submission => ({
  to,
  from,
  text,
  segments,
  encoding,
  clientReference: reference,
  purpose: "transactional"
})

/**
 * The cases a transport should pass.
 *
 * @category constructors
 * @since 0.1.0
 */
export const suite = <E>(options: ConformanceOptions<E>): ReadonlyArray<ConformanceCase> => {
  const { from, recipient } = options
  const cases: Array<ConformanceCase> = [
    {
      name: "declares a name and capabilities",
      run: Effect.gen(function*() {
        const t = yield* options.make
        yield* check(t.name.length > 0, "name", "a transport needs a non-empty name")
        yield* check(["sms", "voice", "email"].includes(t.capabilities.channel), "capabilities.channel", "unknown channel")
        const rate = t.capabilities.maxPerSecond
        yield* check(rate === undefined || (Number.isFinite(rate) && rate > 0), "capabilities.maxPerSecond", "must be positive")
      })
    },
    {
      name: "accepts a GSM-7 message and answers a provider id",
      run: Effect.gen(function*() {
        const t = yield* options.make
        const result = yield* t.submit(submission(recipient, "Your code is 123456", ["Your code is 123456"], "GSM-7", from, "conf-1"))
        yield* check(result.providerMessageId.length > 0, "providerMessageId", "empty provider message id")
      })
    },
    {
      name: "gives distinct submissions distinct provider ids",
      run: Effect.gen(function*() {
        const t = yield* options.make
        const a = yield* t.submit(submission(recipient, "one", ["one"], "GSM-7", from, "conf-a"))
        const b = yield* t.submit(submission(recipient, "two", ["two"], "GSM-7", from, "conf-b"))
        yield* check(a.providerMessageId !== b.providerMessageId, "providerMessageId", "two messages got the same id")
      })
    },
    {
      name: "accepts UCS-2 and multipart messages it declares",
      run: Effect.gen(function*() {
        const t = yield* options.make
        if (t.capabilities.unicode) {
          yield* t.submit(submission(recipient, "验证码 123456 😀", ["验证码 123456 😀"], "UCS-2", from, "conf-u"))
        }
        if (t.capabilities.concatenation) {
          const parts = ["a".repeat(153), "b".repeat(153), "c".repeat(10)]
          const result = yield* t.submit(submission(recipient, parts.join(""), parts, "GSM-7", from, "conf-m"))
          const ids = result.segmentIds
          yield* check(ids === undefined || ids.length === parts.length, "segmentIds", "one id per segment expected")
        }
      })
    },
    {
      name: "maps our own delivery status words",
      run: Effect.gen(function*() {
        const t = yield* options.make
        for (const status of ["delivered", "undelivered", "expired", "rejected", "failed"] as const) {
          yield* check(t.mapStatus(status) === status, "mapStatus", `does not map "${status}"`)
        }
      })
    },
    {
      name: "accepts a feedback handler",
      run: Effect.gen(function*() {
        const t = yield* options.make
        yield* t.listen(() => Effect.void)
      })
    }
  ]
  const refused = options.refusedRecipient
  if (refused !== undefined) {
    cases.push({
      name: "fails a refused number with a permanent TransportError, without secrets",
      run: Effect.gen(function*() {
        const t = yield* options.make
        const error = yield* Effect.flip(t.submit(submission(refused, "hello", ["hello"], "GSM-7", from, "conf-r")))
        yield* check(error instanceof Transport.TransportError, "error", "failures must be TransportError")
        yield* check(!error.isRetryable, "reason", `${error.reason._tag} is retryable; a refused number is not`)
        const shown = `${error.message} ${JSON.stringify(error)}`
        for (const secret of options.secrets ?? []) {
          yield* check(!shown.includes(secret), "secrets", "a credential appears in an error")
        }
        yield* check(!shown.includes(refused.replace("+", "")), "privacy", "the phone number appears in an error")
      })
    })
  }
  return cases
}
