/**
 * The HTTP API's definition (effect `HttpApi`): the endpoints, their
 * payloads and the refusals they answer. The server implementation is in
 * `Server.ts`; a typed client can be derived from {@link Api} alone.
 *
 * **Details**
 * - Every refusal is JSON `{ _tag, status, field?, message }` whose `_tag` is
 *   the library's reason (`InvalidPhoneNumber`, `ConsentRequired`,
 *   `TooManyAttempts` …) or `Unauthorized` / `PayloadTooLarge`; `message`
 *   names the reason and the field, never the value sent.
 *
 * @since 0.2.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity, OpenApi } from "effect/http-api"
import * as Context from "effect/Context"
import { SendRequest } from "smsforge"

const refusalFields = <S extends number>(status: S) => ({
  _tag: Schema.String,
  status: Schema.Literal(status),
  field: Schema.optional(Schema.String),
  message: Schema.String
})

/**
 * A refusal, one class per HTTP status so that each is documented and
 * encoded with its own status.
 *
 * @category errors
 * @since 0.2.0
 */
export class BadRequest extends Schema.Class<BadRequest>("smsforge/console/BadRequest")(refusalFields(400), {
  httpApiStatus: 400
}) {}
/** @category errors @since 0.2.0 */
export class Unauthorized extends Schema.Class<Unauthorized>("smsforge/console/Unauthorized")(refusalFields(401), {
  httpApiStatus: 401
}) {}
/** @category errors @since 0.2.0 */
export class Forbidden extends Schema.Class<Forbidden>("smsforge/console/Forbidden")(refusalFields(403), {
  httpApiStatus: 403
}) {}
/** @category errors @since 0.2.0 */
export class NotFound extends Schema.Class<NotFound>("smsforge/console/NotFound")(refusalFields(404), {
  httpApiStatus: 404
}) {}
/** @category errors @since 0.2.0 */
export class Unprocessable extends Schema.Class<Unprocessable>("smsforge/console/Unprocessable")(refusalFields(422), {
  httpApiStatus: 422
}) {}
/** @category errors @since 0.2.0 */
export class TooManyRequests extends Schema.Class<TooManyRequests>("smsforge/console/TooManyRequests")(refusalFields(429), {
  httpApiStatus: 429
}) {}
/** @category errors @since 0.2.0 */
export class BadGateway extends Schema.Class<BadGateway>("smsforge/console/BadGateway")(refusalFields(502), {
  httpApiStatus: 502
}) {}
/** @category errors @since 0.2.0 */
export class Unavailable extends Schema.Class<Unavailable>("smsforge/console/Unavailable")(refusalFields(503), {
  httpApiStatus: 503
}) {}

/**
 * @category errors
 * @since 0.2.0
 */
export type Refusal = BadRequest | Unauthorized | Forbidden | NotFound | Unprocessable | TooManyRequests | BadGateway | Unavailable

const refusals = [BadRequest, Forbidden, NotFound, Unprocessable, TooManyRequests, BadGateway, Unavailable] as const

/**
 * The tenant whose API key authorized the request.
 *
 * @category services
 * @since 0.2.0
 */
export class Tenant extends Context.Service<Tenant, { readonly name: string }>()("smsforge/console/Tenant") {}

/**
 * API-key authentication: `Authorization: Bearer <key>` (or `X-Api-Key`).
 *
 * @category middleware
 * @since 0.2.0
 */
export class ApiKeyAuth extends HttpApiMiddleware.Service<ApiKeyAuth, { provides: Tenant }>()("smsforge/console/ApiKeyAuth", {
  security: { bearer: HttpApiSecurity.bearer },
  error: Unauthorized
}) {}

const Status = Schema.Literals(["accepted", "queued", "submitted", "delivered", "failed", "undelivered", "expired", "rejected", "canceled"])

/**
 * A receipt as the API answers it.
 *
 * @category models
 * @since 0.2.0
 */
export const Receipt = Schema.Struct({
  id: Schema.String,
  status: Status,
  to: Schema.String,
  country: Schema.String,
  encoding: Schema.Literals(["GSM-7", "UCS-2"]),
  segmentCount: Schema.Number,
  route: Schema.optional(Schema.String),
  transport: Schema.optional(Schema.String),
  attempts: Schema.Number,
  sendAt: Schema.optional(Schema.Number)
})

/**
 * A stored message with its status history and route decisions.
 *
 * @category models
 * @since 0.2.0
 */
export const Message = Schema.Struct({
  ...Receipt.fields,
  purpose: Schema.String,
  history: Schema.Array(Schema.Struct({ status: Status, at: Schema.Number, reason: Schema.optional(Schema.String) })),
  decisions: Schema.Array(Schema.Struct({
    route: Schema.String,
    transport: Schema.String,
    reason: Schema.String,
    outcome: Schema.optional(Schema.String),
    attempts: Schema.Number
  })),
  createdAt: Schema.Number
})

const WireError = Schema.Struct({ _tag: Schema.String, field: Schema.optional(Schema.String), message: Schema.String })

/**
 * One entry of a batch answer, in the order of the requests.
 *
 * @category models
 * @since 0.2.0
 */
export const BatchItem = Schema.Union([
  Schema.Struct({ ok: Schema.Literal(true), receipt: Receipt }),
  Schema.Struct({ ok: Schema.Literal(false), error: WireError })
])

/**
 * @category models
 * @since 0.2.0
 */
export const MAX_BATCH = 1_000

const Batch = Schema.Struct({ messages: Schema.Array(Schema.Unknown) })

const Check = Schema.Struct({ code: Schema.String })

const VerificationStart = Schema.Struct({
  to: Schema.String,
  channel: Schema.optional(Schema.Literals(["sms", "voice", "email"])),
  locale: Schema.optional(Schema.String)
})

const VerificationStarted = Schema.Struct({
  verificationId: Schema.String,
  to: Schema.String,
  channel: Schema.String,
  status: Schema.Literal("pending"),
  expiresAt: Schema.Number,
  sendAttempts: Schema.Number
})

const VerificationChecked = Schema.Struct({
  verificationId: Schema.String,
  to: Schema.String,
  status: Schema.Literals(["pending", "approved", "expired", "canceled"]),
  channel: Schema.String,
  attemptsLeft: Schema.Number,
  expiresAt: Schema.Number
})

const ReceiptInput = Schema.Struct({
  providerMessageId: Schema.String,
  transport: Schema.String,
  status: Schema.String,
  errorCode: Schema.optional(Schema.String),
  at: Schema.optional(Schema.Number)
})

const InboundInput = Schema.Struct({
  transport: Schema.String,
  from: Schema.String,
  to: Schema.String,
  text: Schema.String,
  receivedAt: Schema.optional(Schema.Number)
})

/**
 * @category groups
 * @since 0.2.0
 */
export class MessagesGroup extends HttpApiGroup.make("messages").add(
  HttpApiEndpoint.post("send", "/messages", {
    payload: SendRequest.SendRequest,
    success: Receipt.pipe(HttpApiSchema.status(202)),
    error: refusals
  }),
  HttpApiEndpoint.get("get", "/messages/:id", {
    params: { id: Schema.String },
    success: Message,
    error: refusals
  }),
  HttpApiEndpoint.post("batch", "/messages/batch", {
    payload: Batch,
    success: Schema.Struct({ results: Schema.Array(BatchItem) }),
    error: refusals
  })
).middleware(ApiKeyAuth).annotateMerge(OpenApi.annotations({ title: "Messages" })) {}

/**
 * @category groups
 * @since 0.2.0
 */
export class VerificationsGroup extends HttpApiGroup.make("verifications").add(
  HttpApiEndpoint.post("start", "/verifications", {
    payload: VerificationStart,
    success: VerificationStarted.pipe(HttpApiSchema.status(201)),
    error: refusals
  }),
  HttpApiEndpoint.post("check", "/verifications/:id/check", {
    params: { id: Schema.String },
    payload: Check,
    success: VerificationChecked,
    error: refusals
  })
).middleware(ApiKeyAuth).annotateMerge(OpenApi.annotations({ title: "Verifications" })) {}

/**
 * Receipts and replies in smsforge's own shape, for carriers or gateways
 * that forward them as JSON; carriers with their own signed webhooks are
 * served under `/webhooks/<name>` by their handlers.
 *
 * @category groups
 * @since 0.2.0
 */
export class WebhooksGroup extends HttpApiGroup.make("webhooks").add(
  HttpApiEndpoint.post("receipt", "/webhooks/receipts", {
    payload: ReceiptInput,
    success: Schema.Struct({ outcome: Schema.String, messageId: Schema.optional(Schema.String), status: Schema.optional(Status) }),
    error: refusals
  }),
  HttpApiEndpoint.post("inbound", "/webhooks/inbound", {
    payload: InboundInput,
    success: Schema.Struct({ action: Schema.String }),
    error: refusals
  })
).middleware(ApiKeyAuth).annotateMerge(OpenApi.annotations({ title: "Webhooks" })) {}

/**
 * The payload schema of each endpoint that takes a body, by path pattern,
 * to name the field at fault when a body does not match.
 *
 * @category schemas
 * @since 0.2.0
 */
export const payloads: ReadonlyArray<readonly [RegExp, (input: unknown) => Result.Result<unknown, Schema.SchemaError>]> = [
  [/^\/messages$/, Schema.decodeUnknownResult(SendRequest.SendRequest)],
  [/^\/messages\/batch$/, Schema.decodeUnknownResult(Batch)],
  [/^\/verifications$/, Schema.decodeUnknownResult(VerificationStart)],
  [/^\/verifications\/[^/]+\/check$/, Schema.decodeUnknownResult(Check)],
  [/^\/webhooks\/receipts$/, Schema.decodeUnknownResult(ReceiptInput)],
  [/^\/webhooks\/inbound$/, Schema.decodeUnknownResult(InboundInput)]
]

/**
 * The whole API.
 *
 * @category api
 * @since 0.2.0
 */
export class Api extends HttpApi.make("smsforge")
  .add(MessagesGroup)
  .add(VerificationsGroup)
  .add(WebhooksGroup)
  .annotateMerge(OpenApi.annotations({
    title: "smsforge",
    description: "Send SMS, check one-time codes and feed receipts in. Authenticate with `Authorization: Bearer <API key>`."
  }))
{}
