/**
 * Where accepted messages wait for delivery.
 *
 * `send` accepts a message (decode, number, consent, template, encoding,
 * idempotency) and offers a job for it to the Outbox; delivery (route, rate
 * limit, circuit, submit, retry, failover, dead letter) is the Outbox's
 * worker.
 *
 * **Details**
 * - {@link layerMemory}, the default, needs nothing started: scheduled sends
 *   wait in fibers of this process and are lost with it.
 * - {@link layerPersisted} puts jobs in effect's `PersistedQueue`, on Redis or
 *   SQL (`smsforge/stores/redis`, `smsforge/stores/postgres` wire it): a job
 *   outlives the process that offered it. Scheduled sends and the backoff
 *   between attempts are the queue's delays, kept by the store; a job whose
 *   worker died is taken again when its lease lapses.
 * - A message sent now is delivered at once by the process that accepted it;
 *   its job waits for `recoverAfter` (default 2 minutes) and then finds the
 *   message settled, or finishes what a crash left undone. The carrier call's
 *   time limits must add up to less than `recoverAfter`.
 * - A job runs at least once: a crash between a carrier's answer and the
 *   store's update repeats the submission. Every submission carries the
 *   message id as the client reference, so a carrier that deduplicates by it
 *   sends once.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as PersistedQueue from "effect/persistence/PersistedQueue"
import * as Pull from "effect/Pull"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { loadPersistedQueue } from "./internal/lazy.ts"
import { StoreUnavailable } from "./Store.ts"

// models

/**
 * The work item of one accepted message. The message record holds the rest.
 *
 * @category models
 * @since 0.2.0
 */
export const Job = Schema.Struct({ messageId: Schema.String })

/**
 * @category models
 * @since 0.2.0
 */
export type Job = typeof Job.Type

/**
 * Which try of a job this is.
 *
 * @category models
 * @since 0.2.0
 */
export interface Attempt {
  /** 1 for the first run of the job. */
  readonly number: number
  /** No retry follows if this one asks for it: the message must end now. */
  readonly last: boolean
}

/**
 * What the worker does with a job. It fails with {@link RetryLater} to be run
 * again after the Outbox's backoff.
 *
 * @category models
 * @since 0.2.0
 */
export type Worker = (job: Job, attempt: Attempt) => Effect.Effect<void, RetryLater>

// errors

/**
 * The worker could not finish a job now (every route failed transiently) and
 * asks for another try.
 *
 * @category errors
 * @since 0.2.0
 */
export class RetryLater extends Schema.TaggedError<RetryLater>("smsforge/Outbox/RetryLater")("RetryLater", {
  reason: Schema.String
}) {}

// service

/**
 * @category services
 * @since 0.2.0
 */
export class Outbox extends Context.Service<Outbox, {
  /** Whether jobs outlive this process. */
  readonly durable: boolean
  /**
   * Hands over a job, to run at `at` (epoch milliseconds) or, without it,
   * after `recoverAfter` for a durable Outbox (the accepting process delivers
   * at once) and never for the memory one.
   */
  readonly offer: (job: Job, options?: { readonly at?: number | undefined }) => Effect.Effect<void, StoreUnavailable>
  /** Runs `worker` for every due job until the scope closes. */
  readonly run: (worker: Worker) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Runs `effect` so that its store writes and its offers commit together,
   * where the backend can (one SQL transaction); otherwise runs it as it is.
   */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreUnavailable, R>
}>()("smsforge/Outbox") {}

/**
 * @category models
 * @since 0.2.0
 */
export interface Options {
  /** Runs of a job before its message ends `failed`. Default 1 in memory, 8 when durable. */
  readonly maxAttempts?: number | undefined
  /** The wait before each further run. Default exponential from 5 seconds, at most 10 minutes. */
  readonly backoff?: Schedule.Schedule<unknown, number> | undefined
}

const defaultBackoff: Schedule.Schedule<unknown, number> = Schedule.min([
  Schedule.exponential("5 seconds"),
  Schedule.spaced("10 minutes")
])

// memory

const waitFor = (at: number | undefined): Effect.Effect<void> =>
  at === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sleep(Duration.millis(Math.max(0, at - now))))

/** The delays a schedule gives, in order, up to `count`. */
const delaysOf = (schedule: Schedule.Schedule<unknown, number>, count: number) =>
  Effect.gen(function*() {
    const step = yield* Schedule.toStep(schedule)
    const delays: Array<Duration.Duration> = []
    let now = 0
    for (let i = 0; i < count; i++) {
      const next = yield* Pull.catchDone(step(now, i + 1), () => Effect.undefined)
      // a finished schedule keeps its last delay
      const delay = next?.[1] ?? delays[delays.length - 1] ?? Duration.zero
      delays.push(delay)
      now += Duration.toMillis(delay)
    }
    return delays
  })

/**
 * The in-process Outbox: jobs run in fibers of this process.
 *
 * @category constructors
 * @since 0.2.0
 */
export const makeMemory = Effect.fnUntraced(function*(options: Options = {}) {
  const scope = yield* Effect.scope
  const maxAttempts = Math.max(1, options.maxAttempts ?? 1)
  const delays = yield* delaysOf(options.backoff ?? defaultBackoff, maxAttempts - 1)
  const worker = yield* Deferred.make<Worker>()

  const runJob = (job: Job, run: Worker, number: number): Effect.Effect<void> =>
    Effect.catchTag(run(job, { number, last: number >= maxAttempts }), "RetryLater", () =>
      number >= maxAttempts
        ? Effect.void
        : Effect.andThen(Effect.sleep(delays[number - 1] ?? Duration.zero), runJob(job, run, number + 1)))

  return Outbox.of({
    durable: false,
    offer: (job, offer) =>
      offer?.at === undefined ? Effect.void : Effect.asVoid(Effect.forkIn(
        Effect.andThen(waitFor(offer.at), Effect.flatMap(Deferred.await(worker), (run) => runJob(job, run, 1))),
        scope
      )),
    run: (run) => Deferred.succeed(worker, run),
    transaction: (effect) => effect
  })
})

/**
 * The default Outbox: in this process, nothing to start.
 *
 * @category layers
 * @since 0.2.0
 */
export const layerMemory = (options: Options = {}): Layer.Layer<Outbox> => Layer.effect(Outbox, makeMemory(options))

// persisted

/**
 * @category models
 * @since 0.2.0
 */
export interface PersistedOptions extends Options {
  /** The queue's name in the store. Default `"smsforge_outbox"`. */
  readonly name?: string | undefined
  /** Jobs this process runs at once. Default 32. */
  readonly concurrency?: number | undefined
  /** When the job of a message sent now runs to finish what a crash left. Default 2 minutes. */
  readonly recoverAfter?: Duration.Input | undefined
  /** Joins offers and store writes in one transaction (the PostgreSQL stores pass `SqlClient.withTransaction`). */
  readonly transaction?: (<A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreUnavailable, R>) | undefined
}

/**
 * The durable Outbox's queue name when none is given.
 *
 * @category constants
 * @since 0.2.0
 */
export const defaultName = "smsforge_outbox"

/**
 * When the job of a message sent now runs, when not configured.
 *
 * @category constants
 * @since 0.2.0
 */
export const defaultRecoverAfter: Duration.Duration = Duration.minutes(2)

const unavailable = (operation: string) => (cause: unknown) => new StoreUnavailable({ store: "outbox", operation, cause })

/**
 * The durable Outbox on effect's `PersistedQueue`, whichever store backs it.
 *
 * @category constructors
 * @since 0.2.0
 */
export const makePersisted = Effect.fnUntraced(function*(options: PersistedOptions = {}) {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 8)
  const recoverAfter = Duration.fromInputUnsafe(options.recoverAfter ?? defaultRecoverAfter)
  const queues = yield* loadPersistedQueue
  const queue = yield* queues.make({
    name: options.name ?? defaultName,
    schema: Job,
    maxAttempts,
    retrySchedule: options.backoff ?? defaultBackoff
  })
  const concurrency = Math.max(1, options.concurrency ?? 32)

  const runOne = (worker: Worker) =>
    // the queue counts this run in `attempts` already
    queue.take((job, meta) => worker(job, { number: meta.attempts, last: meta.attempts >= maxAttempts }))

  // A failed run was rescheduled by the queue; a store outage waits a little before asking again.
  const loop = (worker: Worker) =>
    runOne(worker).pipe(
      Effect.catchCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.void),
      Effect.forever
    )

  return Outbox.of({
    durable: true,
    offer: (job, offer) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        queue.offer(job, {
          id: job.messageId,
          delay: offer?.at === undefined ? recoverAfter : Duration.millis(Math.max(0, offer.at - now))
        })).pipe(Effect.asVoid, Effect.mapError(unavailable("offer"))),
    run: (worker) => Effect.asVoid(Effect.forkScoped(Effect.forEach(Array.from({ length: concurrency }), () => loop(worker), { concurrency, discard: true }))),
    transaction: options.transaction ?? ((effect) => effect)
  })
})

/**
 * The durable Outbox. Provide a `PersistedQueue.PersistedQueueFactory` with
 * the store of your choice, or use the layers of `smsforge/stores/redis` and
 * `smsforge/stores/postgres`, which do.
 *
 * @category layers
 * @since 0.2.0
 */
export const layerPersisted = (
  options: PersistedOptions = {}
): Layer.Layer<Outbox, never, PersistedQueue.PersistedQueueFactory> => Layer.effect(Outbox, makePersisted(options))
