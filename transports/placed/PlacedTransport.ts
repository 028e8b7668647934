/**
 * A carrier connection the cluster places: one per fleet, not one per
 * instance.
 *
 * An SMPP carrier allows one or two binds per account; N instances that each
 * bind open N. A placed transport is an `effect/cluster` entity per
 * connection: the cluster runs each on one runner of the fleet, where the
 * transport is built (the bind opened); every instance submits through it,
 * locally or over the cluster's connection between runners.
 *
 * **Details**
 * - `connections` entities per carrier (default 1); a submission goes to the
 *   one its client reference hashes to, so a retry of a message takes the
 *   same connection.
 * - `connect` runs in the entity's scope: on the runner the cluster assigns
 *   the entity to, when its first submission arrives. The scope closes (the
 *   bind is closed) when the entity has been idle for `idleTime` or moves
 *   to another runner (a runner joins, leaves or dies). A `connect` that
 *   fails fails that submission (a `TransportError`'s own reason, anything
 *   else as `Unavailable`), and the next submission connects again.
 * - Receipts and replies arriving on the connection go to the pipeline of the
 *   instance holding it; with shared stores (`smsforge/stores/postgres`,
 *   `smsforge/stores/redis`) that updates the message whichever instance
 *   sent it.
 * - Submissions are volatile cluster messages (not persisted): an accepted
 *   message's durability is the Outbox's. A submission the cluster cannot
 *   deliver (no runner holds the entity, its mailbox is full, the runner
 *   went away) fails with a retryable `Unavailable`, so the router retries
 *   or fails over as for a carrier outage.
 * - The rate limit and circuit of the route stay the router's, shared by
 *   the instances through the stores.
 *
 * Needs `Sharding` (`effect/cluster`), for example from
 * `NodeClusterSocket.layer()` of `@effect/platform-node` on the same
 * PostgreSQL.
 *
 * @since 0.2.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Entity from "effect/cluster/Entity"
import * as Sharding from "effect/cluster/Sharding"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { Transport } from "smsforge"

// models

/**
 * A submission as it crosses between runners.
 *
 * @category models
 * @since 0.2.0
 */
export const Submission = Schema.Struct({
  to: Schema.String,
  from: Schema.optional(Schema.String),
  text: Schema.String,
  segments: Schema.Array(Schema.String),
  encoding: Schema.Literals(["GSM-7", "UCS-2"]),
  validUntil: Schema.optional(Schema.Number),
  clientReference: Schema.String,
  purpose: Schema.Literals(["transactional", "marketing"]),
  template: Schema.optional(Schema.Struct({
    id: Schema.String,
    version: Schema.Number,
    providerTemplateCode: Schema.optional(Schema.String),
    variables: Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number]))
  }))
})

/**
 * A carrier's answer as it crosses between runners.
 *
 * @category models
 * @since 0.2.0
 */
export const SubmitResult = Schema.Struct({
  providerMessageId: Schema.String,
  segmentIds: Schema.optional(Schema.Array(Schema.String))
})

/**
 * The entity's one request: submit on the connection it holds.
 *
 * @category models
 * @since 0.2.0
 */
export const Submit = Rpc.make("Submit", { payload: Submission, success: SubmitResult, error: Transport.TransportErrorReason })

/**
 * The entity of a carrier's connections; its ids are `"0"`, `"1"` … up to
 * `connections`.
 *
 * @category models
 * @since 0.2.0
 */
export const entity = (name: string) => Entity.make(`smsforge/transport/${name}`, [Submit])

/**
 * @category models
 * @since 0.2.0
 */
export interface Options {
  /** The transport's name in routes; receipts from the connection carry it. */
  readonly name: string
  readonly capabilities: Transport.Capabilities
  /** Builds the connection, in the entity's scope, on the runner that holds it: for example `SmppTransport.make(…)`. */
  readonly connect: Effect.Effect<Transport.Transport, unknown, Scope.Scope>
  /** Connections the fleet holds at most. Default 1. */
  readonly connections?: number | undefined
  /** How long an idle connection stays open. Default 5 minutes. */
  readonly idleTime?: Duration.Input | undefined
  /** The carrier's status words, for receipts fed in from a webhook. */
  readonly mapStatus?: ((providerStatus: string) => Transport.DeliveryStatus | undefined) | undefined
}

// constructors

/** FNV-1a: the same connection for every submission of one message, on every instance. */
const connectionOf = (reference: string, connections: number): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < reference.length; i++) hash = Math.imul(hash ^ reference.charCodeAt(i), 0x01000193)
  return (hash >>> 0) % connections
}

/** The connection, opened in the entity's scope and listened to for the pipeline of this runner. */
const connectIn = (
  options: Options,
  pipeline: Deferred.Deferred<Transport.FeedbackHandler>,
  scope: Scope.Scope
): Effect.Effect<Transport.Transport, Transport.TransportErrorReason> =>
  Effect.gen(function*() {
    const connection = yield* Scope.provide(options.connect, scope)
    yield* connection.listen((feedback) =>
      Effect.flatMap(Deferred.await(pipeline), (handler) => handler({ ...feedback, transport: options.name }))
    )
    return connection
  }).pipe(Effect.mapError((error) =>
    isTransportError(error)
      ? error.reason
      : isReason(error)
      ? error
      : new Transport.Unavailable({ code: "connect", cause: error })
  ))

const isReason = Schema.is(Transport.TransportErrorReason)
const isTransportError = Schema.is(Transport.TransportError)

/**
 * Registers the carrier's entity with this runner and answers the transport
 * to route through; every instance of the fleet calls it with the same
 * options.
 *
 * @category constructors
 * @since 0.2.0
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const placed = entity(options.name)
  const connections = Math.max(1, Math.floor(options.connections ?? 1))
  const pipeline = yield* Deferred.make<Transport.FeedbackHandler>()
  const sharding = yield* Sharding.Sharding
  yield* sharding.registerEntity(
    placed,
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const connected = yield* Effect.cachedInvalidateWithTTL(connectIn(options, pipeline, scope), Duration.infinity)
      return placed.of({
        Submit: ({ payload }) =>
          connected[0].pipe(
            // a failed connect is not kept: the next submission tries again
            Effect.tapError(() => connected[1]),
            Effect.flatMap((connection) => Effect.mapError(connection.submit(payload), (error) => error.reason))
          )
      })
    }),
    { concurrency: "unbounded", maxIdleTime: options.idleTime ?? Duration.minutes(5) }
  )
  const clientFor = yield* placed.client
  const clients = Array.from({ length: connections }, (_, i) => clientFor(String(i)))
  return Transport.make({
    name: options.name,
    capabilities: options.capabilities,
    submit: (submission) =>
      clients[connectionOf(submission.clientReference, connections)]!.Submit(submission).pipe(
        Effect.catch((error) =>
          Effect.fail(isReason(error) ? error : new Transport.Unavailable({ code: "placement", cause: error }))
        )
      ),
    listen: (handler) => Effect.asVoid(Deferred.succeed(pipeline, handler)),
    mapStatus: options.mapStatus
  })
})
