/**
 * The router's edge with its transports: time limits on carrier calls,
 * misbehaving transports as typed route failures, and interruption.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, type Duration, Effect, Exit, Fiber, Layer, Option } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { answerProblem } from "../src/internal/routing/edge.ts"
import * as Router from "../src/Router.ts"
import * as Transport from "../src/Transport.ts"

// helpers

const capabilities: Transport.Capabilities = {
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: true,
  inbound: false,
  senderTypes: ["long-code"]
}

/** A well-behaved transport that records when it was called. */
const good = (name: string) => {
  const calls: Array<number> = []
  const transport = Transport.make({
    name,
    capabilities,
    submit: () =>
      Effect.map(Clock.currentTimeMillis, (at) => {
        calls.push(at)
        return { providerMessageId: `${name}-${calls.length}` }
      })
  })
  return { transport, calls }
}

/** A transport built by hand, outside `Transport.make`'s types: it can do anything. */
const raw = (name: string, submit: (s: Transport.Submission) => unknown, maxPerSecond?: number): Transport.Transport => {
  let calls = 0
  return {
    name,
    capabilities: maxPerSecond === undefined ? capabilities : { ...capabilities, maxPerSecond },
    submit: ((s: Transport.Submission) => {
      calls++
      return submit(s)
    }) as Transport.Transport["submit"],
    listen: () => Effect.void,
    mapStatus: () => undefined,
    get calls() {
      return calls
    }
  } as Transport.Transport
}

const request = (id: string, options: Partial<Router.RouteRequest> = {}): Router.RouteRequest => ({
  messageId: id,
  to: { e164: "+447700900123", country: "GB" },
  purpose: "transactional",
  text: "Hello",
  segmentCount: 1,
  encoding: "GSM-7",
  ...options
})

const submission = (r: Router.RouteRequest): Router.DispatchSubmission => ({
  to: r.to.e164,
  text: r.text,
  segments: [r.text],
  encoding: r.encoding,
  clientReference: r.messageId,
  purpose: "transactional"
})

/** Dispatches while moving the TestClock far enough for every time limit and backoff. */
const send = (router: Router.Router["Service"], r: Router.RouteRequest, advance: Duration.Input = "10 minutes") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.exit(router.dispatch(r, submission(r))))
    yield* TestClock.adjust(advance)
    return yield* Fiber.join(fiber)
  })

const success = (exit: Exit.Exit<Router.Dispatch, Router.RoutingError>): Router.Dispatch => {
  if (Exit.isSuccess(exit)) return exit.value
  assert.fail(`expected success, got ${String(exit.cause)}`)
}

/** The typed AllRoutesFailed of a failed dispatch; fails the test on a defect or any other shape. */
const allFailed = (exit: Exit.Exit<Router.Dispatch, Router.RoutingError>): Router.AllRoutesFailed => {
  if (Exit.isSuccess(exit)) assert.fail("expected a failure")
  assert.isFalse(Cause.hasDies(exit.cause), "no defect reaches the caller")
  const error = Cause.findErrorOption(exit.cause)
  assert.isTrue(Option.isSome(error))
  const reason = (error as Option.Some<Router.RoutingError>).value.reason
  assert.strictEqual(reason._tag, "AllRoutesFailed")
  return reason as Router.AllRoutesFailed
}

const outcomes = (dispatch: { readonly decisions: ReadonlyArray<Router.RouteDecision> }) =>
  dispatch.decisions.map((d) => [d.route, d.outcome, d.attempts])

const never = (name: string) => raw(name, () => Effect.never)

describe("Router edge", () => {
  describe("time limit on every carrier call", () => {
    it.effect("a submit that never answers times out after 30 s and fails over to the healthy backup", () =>
      Effect.scoped(Effect.gen(function*() {
        const b = good("b")
        const router = yield* Router.make({ transports: [never("hang"), b.transport], retry: { maxAttempts: 1 } })
        const start = yield* Clock.currentTimeMillis
        const sent = success(yield* send(router, request("1")))
        assert.strictEqual(sent.route, "b")
        assert.deepStrictEqual(outcomes(sent), [["hang", "Timeout", 1], ["b", "submitted", 1]])
        assert.deepStrictEqual(b.calls.map((at) => at - start), [30_000])
      })))

    it.effect("a never-settling Promise times out the same way", () =>
      Effect.scoped(Effect.gen(function*() {
        const hang = raw("hang", () => Effect.promise(() => new Promise<Transport.SubmitResult>(() => {})))
        const router = yield* Router.make({ transports: [hang, good("b").transport], retry: { maxAttempts: 1 } })
        assert.strictEqual(success(yield* send(router, request("1"))).route, "b")
      })))

    it.effect("a submit that ignores interruption (uninterruptible, never answers) cannot hold the dispatch either", () =>
      Effect.scoped(Effect.gen(function*() {
        const stubborn = raw("stubborn", () => Effect.uninterruptible(Effect.never))
        const b = good("b")
        const router = yield* Router.make({ transports: [stubborn, b.transport], timeout: "5 seconds", retry: { maxAttempts: 1 } })
        const start = yield* Clock.currentTimeMillis
        const sent = success(yield* send(router, request("1")))
        assert.deepStrictEqual(outcomes(sent), [["stubborn", "Timeout", 1], ["b", "submitted", 1]])
        assert.deepStrictEqual(b.calls.map((at) => at - start), [5_000])
      })))

    it.effect("a slow submit that answers in time is not cut off", () =>
      Effect.scoped(Effect.gen(function*() {
        const slow = raw("slow", () => Effect.as(Effect.sleep("29 seconds"), { providerMessageId: "late" }))
        const router = yield* Router.make({ transports: [slow] })
        assert.strictEqual(success(yield* send(router, request("1"))).providerMessageId, "late")
      })))

    it.effect("a timeout is retried by policy before failing over", () =>
      Effect.scoped(Effect.gen(function*() {
        const hang = never("hang")
        const router = yield* Router.make({
          transports: [hang, good("b").transport],
          timeout: "1 second",
          retry: { base: "100 millis", maxAttempts: 3, jitter: 0 }
        })
        const sent = success(yield* send(router, request("1")))
        assert.deepStrictEqual(outcomes(sent), [["hang", "Timeout", 3], ["b", "submitted", 1]])
        assert.strictEqual((hang as unknown as { calls: number }).calls, 3)
      })))

    it.effect("the route's timeout wins over the transport's, which wins over the router's", () =>
      Effect.scoped(Effect.gen(function*() {
        const b = good("b")
        const router = yield* Router.make({
          transports: [never("x"), never("y"), b.transport],
          timeout: "20 seconds",
          transportTimeouts: { x: "5 seconds", y: "7 seconds" },
          retry: { maxAttempts: 1 },
          rules: {
            routes: [
              { name: "x-route", transport: "x", timeout: "2 seconds" },
              { name: "y-route", transport: "y" },
              { name: "b", transport: "b" }
            ]
          }
        })
        const start = yield* Clock.currentTimeMillis
        success(yield* send(router, request("1")))
        // 2 s on x-route (its own), 7 s on y-route (its transport's)
        assert.deepStrictEqual(b.calls.map((at) => at - start), [9_000])
      })))

    it.effect("a route's timeout is decoded from config and checked", () =>
      Effect.gen(function*() {
        const field = (timeout: unknown) =>
          Effect.flip(Router.validateRules({ routes: [{ name: "a", transport: "a", timeout }] } as Router.RoutingRulesInput, ["a"])).pipe(
            Effect.map((e) => (e.reason as Router.InvalidRoutingRules).field)
          )
        assert.strictEqual(yield* field("soon"), "routes[0].timeout")
        assert.strictEqual(yield* field("0 millis"), "routes[0].timeout")
        assert.strictEqual(yield* field(30), "routes[0].timeout")
        yield* Router.validateRules({ routes: [{ name: "a", transport: "a", timeout: "10 seconds" }] }, ["a"])
      }))

    it.effect("a timeout counts as a failure of the route's circuit", () =>
      Effect.scoped(Effect.gen(function*() {
        const router = yield* Router.make({
          transports: [never("hang"), good("b").transport],
          timeout: "1 second",
          retry: { maxAttempts: 1 },
          circuitBreaker: { failures: 1, openDuration: "1 minute" }
        })
        success(yield* send(router, request("1"), "2 seconds"))
        assert.strictEqual((yield* router.routes).find((r) => r.name === "hang")!.circuit, "Open")
        const second = success(yield* send(router, request("2"), "1 second"))
        assert.deepStrictEqual(outcomes(second), [["hang", "CircuitOpen", 0], ["b", "submitted", 1]])
      })))

    it.effect("unknownOutcome: \"fail\" neither retries nor fails over a timeout: at most one send", () =>
      Effect.scoped(Effect.gen(function*() {
        const hang = never("hang")
        const b = good("b")
        const router = yield* Router.make({ transports: [hang, b.transport], timeout: "1 second", unknownOutcome: "fail" })
        const failed = allFailed(yield* send(router, request("1")))
        assert.deepStrictEqual(failed.failures.map((f) => [f.route, f.reason, f.attempts]), [["hang", "Timeout", 1], ["b", "Timeout", 0]])
        assert.strictEqual((hang as unknown as { calls: number }).calls, 1)
        assert.strictEqual(b.calls.length, 0)
      })))

    it.effect("unknownOutcome: \"fail\" stops on an \"accepted\" answer that breaks the contract, not on a throw", () =>
      Effect.scoped(Effect.gen(function*() {
        const b = good("b")
        const options = { unknownOutcome: "fail", retry: { maxAttempts: 3 } } as const
        const malformed = yield* Router.make({ transports: [raw("bad", () => Effect.succeed({})), b.transport], ...options })
        const failed = allFailed(yield* send(malformed, request("1")))
        assert.deepStrictEqual(failed.failures.map((f) => [f.route, f.reason, f.attempts]), [["bad", "ContractViolation", 1], ["b", "ContractViolation", 0]])
        assert.strictEqual(b.calls.length, 0)
        const throwing = yield* Router.make({
          transports: [raw("bad", () => {
            throw new Error("boom")
          }), b.transport],
          ...options
        })
        assert.strictEqual(success(yield* send(throwing, request("2"))).route, "b")
      })))
  })

  describe("transport misbehaviour is a route failure", () => {
    const viaMake = "throws inside Transport.make's submit"
    const misbehaviours: ReadonlyArray<readonly [string, (s: Transport.Submission) => unknown]> = [
      ["throws synchronously", () => {
        throw new Error("boom +447700900123")
      }],
      ["throws a string", () => {
        throw "boom"
      }],
      ["dies", () => Effect.die(new Error("boom"))],
      ["returns undefined", () => undefined],
      ["returns a Promise", () => Promise.resolve({ providerMessageId: "x" })],
      ["fails with a string", () => Effect.fail("nope")],
      ["fails with an Error", () => Effect.fail(new Error("nope"))],
      ["fails with a bare reason", () => Effect.fail(new Transport.Unavailable({}))],
      ["answers undefined", () => Effect.succeed(undefined)],
      ["answers {}", () => Effect.succeed({})],
      ["answers a numeric id", () => Effect.succeed({ providerMessageId: 42 })],
      ["answers an empty id", () => Effect.succeed({ providerMessageId: "" })],
      ["answers a blank id", () => Effect.succeed({ providerMessageId: "   " })],
      ["answers numeric segmentIds", () => Effect.succeed({ providerMessageId: "p", segmentIds: [1, 2] })],
      ["answers segmentIds that are not an array", () => Effect.succeed({ providerMessageId: "p", segmentIds: "p-1" })],
      [viaMake, () => undefined]
    ]

    const misbehaving = (name: string, label: string, behave: (s: Transport.Submission) => unknown): Transport.Transport =>
      label === viaMake
        ? Transport.make({
          name,
          capabilities,
          submit: () => {
            throw new Error("author's bug")
          }
        })
        : raw(name, behave)

    for (const [label, behave] of misbehaviours) {
      it.effect(`a transport that ${label}: ContractViolation, circuit counts it, the backup sends`, () =>
        Effect.scoped(Effect.gen(function*() {
          const b = good("b")
          const router = yield* Router.make({
            transports: [misbehaving("bad", label, behave), b.transport],
            circuitBreaker: { failures: 1, openDuration: "1 minute" }
          })
          const sent = success(yield* send(router, request("1")))
          assert.strictEqual(sent.route, "b")
          assert.deepStrictEqual(outcomes(sent), [["bad", "ContractViolation", 1], ["b", "submitted", 1]])
          assert.strictEqual((yield* router.routes).find((r) => r.name === "bad")!.circuit, "Open")
        })))

      it.effect(`a transport that ${label}, alone: the caller gets a typed AllRoutesFailed, never a defect`, () =>
        Effect.scoped(Effect.gen(function*() {
          const router = yield* Router.make({ transports: [misbehaving("bad", label, behave)] })
          const failed = allFailed(yield* send(router, request("1")))
          assert.deepStrictEqual(failed.failures.map((f) => [f.route, f.reason]), [["bad", "ContractViolation"]])
          assert.isFalse(failed.isRetryable)
          assert.isFalse(failed.message.includes("447700900123"))
        })))
    }

    it.effect("on shared stores (every call through the breaker and the rate limiter) too", () =>
      Effect.gen(function*() {
        const b = good("b")
        const router = yield* Router.make({
          transports: [raw("bad", () => Effect.succeed({ providerMessageId: 7 }), 5), never("hang"), b.transport],
          timeout: "1 second",
          retry: { maxAttempts: 2, base: "10 millis", jitter: 0 },
          circuitBreaker: { failures: 1, openDuration: "1 minute" }
        })
        const sent = success(yield* send(router, request("1")))
        // hang's timeout opened its circuit, so its retry found it open
        assert.deepStrictEqual(outcomes(sent), [["bad", "ContractViolation", 1], ["hang", "CircuitOpen", 1], ["b", "submitted", 1]])
        const circuits = Object.fromEntries((yield* router.routes).map((r) => [r.name, r.circuit]))
        assert.deepStrictEqual(circuits, { bad: "Open", hang: "Open", b: "Closed" })
      }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(RateLimiter.layerStoreMemory, CircuitBreaker.layerStoreMemory()))))

    it("answerProblem accepts exactly the SubmitResult shape (model check)", () => {
      const model = (v: unknown): boolean => {
        if (typeof v !== "object" || v === null) return false
        const r = v as Record<string, unknown>
        if (typeof r.providerMessageId !== "string" || r.providerMessageId.trim() === "") return false
        const ids = r.segmentIds
        return ids === undefined || (Array.isArray(ids) && ids.every((id) => typeof id === "string" && id !== ""))
      }
      const answer = fc.oneof(
        fc.anything(),
        fc.record({
          providerMessageId: fc.oneof(fc.string(), fc.integer(), fc.constant(undefined)),
          segmentIds: fc.option(fc.array(fc.oneof(fc.string(), fc.integer())), { nil: undefined })
        }, { requiredKeys: [] })
      )
      fc.assert(fc.property(answer, (v) => (answerProblem(v) === undefined) === model(v)))
    })

    it("property: whatever a transport answers, dispatch succeeds with a string id or fails typed", async () => {
      const answer = fc.oneof(
        fc.anything().map((v) => () => Effect.succeed(v)),
        fc.anything().map((v) => () => Effect.fail(v)),
        fc.anything().map((v) => () => Effect.die(v)),
        fc.anything().map((v) => () => v),
        fc.string().map((id) => () => Effect.succeed({ providerMessageId: id }))
      )
      await fc.assert(fc.asyncProperty(answer, async (behave) => {
        const exit = await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
          const router = yield* Router.make({ transports: [raw("t", behave)], retry: { maxAttempts: 1 } })
          return yield* router.dispatch(request("1"), submission(request("1")))
        })))
        if (Exit.isSuccess(exit)) return typeof exit.value.providerMessageId === "string" && exit.value.providerMessageId.trim() !== ""
        const error = Cause.findErrorOption(exit.cause)
        return !Cause.hasDies(exit.cause) && Option.isSome(error) && error.value.reason._tag === "AllRoutesFailed"
      }), { numRuns: 200 })
    })
  })

  describe("interruption never wedges anything", () => {
    it.effect("a dispatch interrupted mid-submit (Effect.timeout) leaves the route usable", () =>
      Effect.scoped(Effect.gen(function*() {
        let hanging = true
        const t = raw("t", () => (hanging ? Effect.never : Effect.succeed({ providerMessageId: "ok" })))
        const router = yield* Router.make({ transports: [t] })
        const r = request("1")
        const fiber = yield* Effect.forkChild(Effect.exit(Effect.timeout(router.dispatch(r, submission(r)), "1 second")))
        yield* TestClock.adjust("2 seconds")
        const exit = yield* Fiber.join(fiber)
        assert.isTrue(Exit.isFailure(exit))
        hanging = false
        const sent = success(yield* send(router, request("2"), "1 second"))
        assert.strictEqual(sent.providerMessageId, "ok")
        assert.strictEqual((yield* router.routes)[0]!.circuit, "Closed")
      })))

    it.effect("a caller interrupted while waiting for a rate slot frees its turn", () =>
      Effect.scoped(Effect.gen(function*() {
        const calls: Array<number> = []
        const t = raw("t", () => Effect.map(Clock.currentTimeMillis, (at) => (calls.push(at), { providerMessageId: `p${calls.length}` })), 1)
        const router = yield* Router.make({ transports: [t] })
        const start = yield* Clock.currentTimeMillis
        success(yield* send(router, request("1"), "1 millis"))
        const waiting = yield* Effect.forkChild(router.dispatch(request("2"), submission(request("2"))))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(waiting)
        const third = yield* Effect.forkChild(router.dispatch(request("3"), submission(request("3"))))
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.join(third)
        // the interrupted caller sent nothing; the next one got the slot at 1 s
        assert.deepStrictEqual(calls.map((at) => at - start), [0, 1_000])
      })))

    it.effect("a half-open probe interrupted mid-submit frees the probe: the next dispatch probes again", () =>
      Effect.scoped(Effect.gen(function*() {
        let mode: "down" | "hang" | "up" = "down"
        const t = raw("t", () =>
          mode === "down"
            ? Effect.fail(new Transport.TransportError({ transport: "t", reason: new Transport.Unavailable({}) }))
            : mode === "hang"
            ? Effect.never
            : Effect.succeed({ providerMessageId: "ok" }))
        const router = yield* Router.make({
          transports: [t],
          retry: { maxAttempts: 1 },
          circuitBreaker: { failures: 1, openDuration: "10 seconds" }
        })
        allFailed(yield* send(router, request("1"), "1 millis"))
        assert.strictEqual((yield* router.routes)[0]!.circuit, "Open")
        yield* TestClock.adjust("11 seconds")
        mode = "hang"
        const probe = yield* Effect.forkChild(router.dispatch(request("2"), submission(request("2"))))
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(probe)
        mode = "up"
        const sent = success(yield* send(router, request("3"), "1 second"))
        assert.deepStrictEqual(outcomes(sent), [["t", "submitted", 1]])
        assert.strictEqual((yield* router.routes)[0]!.circuit, "Closed")
      })))

    it.effect("an interrupted dispatch on a steady route keeps it steady: later failures still open the circuit", () =>
      Effect.scoped(Effect.gen(function*() {
        let mode: "hang" | "down" = "hang"
        const t = raw("t", () =>
          mode === "hang" ? Effect.never : Effect.fail(new Transport.TransportError({ transport: "t", reason: new Transport.Unavailable({}) })))
        const router = yield* Router.make({ transports: [t, good("b").transport], retry: { maxAttempts: 1 }, circuitBreaker: { failures: 2 } })
        const fiber = yield* Effect.forkChild(router.dispatch(request("1"), submission(request("1"))))
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(fiber)
        mode = "down"
        success(yield* send(router, request("2"), "1 second"))
        success(yield* send(router, request("3"), "1 second"))
        assert.strictEqual((yield* router.routes).find((r) => r.name === "t")!.circuit, "Open")
      })))
  })

  describe("circuits", () => {
    // Steady routes count a failure streak outside the breaker and hand it
    // over when one more failure could trip the circuit: whatever the mix of
    // outcomes, the circuit opens exactly when N failures come in a row,
    // successes ending a streak and ignored outcomes leaving it be.
    it("property: a circuit opens exactly after `failures` consecutive failures, as the breaker alone counts them", async () => {
      const answerOf = (answer: string) =>
        answer === "ok"
          ? Effect.succeed({ providerMessageId: "ok" })
          : Effect.fail(
            new Transport.TransportError({
              transport: "t",
              reason: answer === "down" ? new Transport.Unavailable({}) : new Transport.Rejected({ code: "x" })
            })
          )
      const check = (failures: number, answers: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          let next = 0
          const t = raw("t", () => answerOf(answers[next++]!))
          const router = yield* Router.make({
            transports: [t, good("b").transport],
            retry: { maxAttempts: 1 },
            circuitBreaker: { failures, openDuration: "1 hour" }
          })
          let streak = 0
          for (let i = 0; next < answers.length && streak < failures; i++) {
            const answer = answers[next]!
            yield* send(router, request(`m${i}`), "1 second")
            if (answer === "ok") streak = 0
            else if (answer === "down") streak++
            const circuit = (yield* router.routes).find((r) => r.name === "t")!.circuit
            assert.strictEqual(circuit, streak >= failures ? "Open" : "Closed", `after ${answers.slice(0, next).join(", ")}`)
          }
        })
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 5 }),
          fc.array(fc.constantFrom("ok", "down", "rejected"), { minLength: 1, maxLength: 30 }),
          (failures, answers) => Effect.runPromise(check(failures, answers).pipe(Effect.scoped, Effect.provide(TestClock.layer())))
        ),
        { numRuns: 60 }
      )
    })
  })
})
