/**
 * The HTTP API's handlers: each endpoint calls the pipeline and turns its
 * typed failure into the refusal of the matching HTTP status.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { HttpApiBuilder } from "effect/http-api"
import { type MessageStore, Sms, Verification } from "smsforge"
import * as Api from "./Api.ts"
import type * as ApiKeys from "./ApiKeys.ts"

type Status = 400 | 403 | 404 | 422 | 429 | 502 | 503

// The library's reason tags by HTTP status; anything else is 422.
const statusByTag: Readonly<Record<string, Status>> = {
  InvalidRequest: 400,
  InvalidPhoneNumber: 400,
  InvalidTemplateVariables: 400,
  InvalidTemplate: 400,
  InvalidCode: 400,
  InvalidTimeZone: 400,
  ConsentRequired: 403,
  OptedOut: 403,
  CountryNotAllowed: 403,
  NumberTypeNotAllowed: 403,
  Blocked: 403,
  RegionRuleViolation: 403,
  TemplateNotApproved: 403,
  MessageNotFound: 404,
  TemplateNotFound: 404,
  VerificationNotFound: 404,
  RateLimited: 429,
  TooManyAttempts: 429,
  TooManySends: 429,
  ResendCooldown: 429,
  FrequencyCapExceeded: 429,
  AllRoutesFailed: 502,
  DeliveryFailed: 502,
  StoreUnavailable: 503,
  TemplateStoreFailure: 503
}

interface Reason {
  readonly _tag: string
  readonly message: string
  readonly field?: unknown
}

/**
 * The refusal for one of the library's failure reasons.
 *
 * @category utils
 * @since 0.2.0
 */
export const refusalOf = (reason: Reason): Api.Refusal => {
  const fields = {
    _tag: reason._tag,
    message: reason.message,
    ...(typeof reason.field === "string" ? { field: reason.field } : {})
  }
  const status = statusByTag[reason._tag] ?? 422
  switch (status) {
    case 400:
      return new Api.BadRequest({ ...fields, status })
    case 403:
      return new Api.Forbidden({ ...fields, status })
    case 404:
      return new Api.NotFound({ ...fields, status })
    case 422:
      return new Api.Unprocessable({ ...fields, status })
    case 429:
      return new Api.TooManyRequests({ ...fields, status })
    case 502:
      return new Api.BadGateway({ ...fields, status })
    case 503:
      return new Api.Unavailable({ ...fields, status })
  }
}

/**
 * The JSON body of a refusal, for answers built outside the HttpApi.
 *
 * @category utils
 * @since 0.2.0
 */
export const refusalBody = (status: number, tag: string, field: string | undefined, message: string) =>
  JSON.stringify({ _tag: tag, status, ...(field === undefined ? {} : { field }), message })

const refuse = <A, R>(effect: Effect.Effect<A, { readonly reason: Reason }, R>): Effect.Effect<A, Api.Refusal, R> =>
  Effect.mapError(effect, (error) => refusalOf(error.reason))

// Absent fields stay absent in the JSON rather than `null`.
const toReceipt = (r: Sms.Receipt) => ({
  id: r.id,
  status: r.status,
  to: r.to,
  country: r.country,
  encoding: r.encoding,
  segmentCount: r.segmentCount,
  attempts: r.attempts,
  ...(r.route === undefined ? {} : { route: r.route }),
  ...(r.transport === undefined ? {} : { transport: r.transport }),
  ...(r.sendAt === undefined ? {} : { sendAt: r.sendAt })
})

const toMessage = (m: MessageStore.StoredMessage) => ({
  ...toReceipt({ ...m, sendAt: m.sendAt }),
  purpose: m.purpose,
  history: m.history,
  decisions: m.decisions,
  createdAt: m.createdAt
})

// A request names its tenant through its key: a body's own `tenant` is overridden.
const asTenant = (request: unknown, tenant: string): unknown =>
  typeof request === "object" && request !== null && !Array.isArray(request) ? { ...request, tenant } : request

const messages = HttpApiBuilder.group(Api.Api, "messages", Effect.fnUntraced(function*(handlers) {
  const sms = yield* Sms.Sms
  return handlers
    .handle("send", ({ payload }) =>
      Effect.flatMap(Api.Tenant, (tenant) => refuse(Effect.map(sms.send(asTenant(payload, tenant.name)), toReceipt))))
    .handle("get", ({ params }) =>
      Effect.flatMap(Api.Tenant, (tenant) =>
        refuse(Effect.flatMap(sms.get(params.id), (m) =>
          // Another tenant's message is as absent as a missing one.
          m.tenant === undefined || m.tenant === tenant.name
            ? Effect.succeed(toMessage(m))
            : Effect.fail({ reason: { _tag: "MessageNotFound", field: "id", message: "MessageNotFound: id" } })))))
    .handle("batch", ({ payload }) =>
      Effect.flatMap(Api.Tenant, (tenant) => {
        if (payload.messages.length > Api.MAX_BATCH) {
          return Effect.fail(new Api.BadRequest({ _tag: "InvalidRequest", status: 400, field: "messages", message: `InvalidRequest: messages (at most ${Api.MAX_BATCH})` }))
        }
        return refuse(Effect.map(sms.sendBatch(payload.messages.map((m) => asTenant(m, tenant.name))), (results) => ({
          results: results.map((r) =>
            r.ok
              ? { ok: true as const, receipt: toReceipt(r.receipt) }
              : { ok: false as const, error: { _tag: r.error.reason._tag, field: fieldOf(r.error.reason), message: r.error.reason.message } }
          )
        })))
      }))
}))

const fieldOf = (reason: object): string | undefined =>
  "field" in reason && typeof reason.field === "string" ? reason.field : undefined

const verifications = HttpApiBuilder.group(Api.Api, "verifications", Effect.fnUntraced(function*(handlers) {
  const verification = yield* Verification.Verification
  return handlers
    .handle("start", ({ payload }) =>
      Effect.flatMap(Api.Tenant, (tenant) =>
        refuse(Effect.map(verification.start({ ...payload, tenant: tenant.name }), (r) => ({
          verificationId: r.verificationId,
          to: r.to,
          channel: r.channel,
          status: r.status,
          expiresAt: r.expiresAt,
          sendAttempts: r.sendAttempts
        })))))
    .handle("check", ({ params, payload }) =>
      Effect.flatMap(Api.Tenant, (tenant) =>
        refuse(Effect.map(verification.check({ verificationId: params.id, code: payload.code, tenant: tenant.name }), (r) => ({
          verificationId: r.verificationId,
          to: r.to,
          status: r.status,
          channel: r.channel,
          attemptsLeft: r.attemptsLeft,
          expiresAt: r.expiresAt
        })))))
}))

const webhooks = HttpApiBuilder.group(Api.Api, "webhooks", Effect.fnUntraced(function*(handlers) {
  const sms = yield* Sms.Sms
  return handlers
    .handle("receipt", ({ payload }) =>
      refuse(Effect.map(sms.deliveryReceipt(payload), (r) => ({ outcome: r.outcome, messageId: r.messageId, status: r.status }))))
    .handle("inbound", ({ payload }) =>
      refuse(Effect.map(sms.inbound({ ...payload, receivedAt: payload.receivedAt ?? Date.now() }), (r) => ({ action: r.action }))))
}))

const unauthorized = new Api.Unauthorized({ _tag: "Unauthorized", status: 401, field: "authorization", message: "Unauthorized: authorization" })

/**
 * The API-key check: the key's tenant, or `Unauthorized`.
 *
 * @category layers
 * @since 0.2.0
 */
export const layerAuth = (keys: ApiKeys.KeyRing): Layer.Layer<Api.ApiKeyAuth> =>
  Layer.succeed(Api.ApiKeyAuth, {
    bearer: (effect, { credential }) => {
      const tenant = keys.verify(Redacted.value(credential))
      return tenant === undefined ? Effect.fail(unauthorized) : Effect.provideService(effect, Api.Tenant, { name: tenant })
    }
  })

/**
 * Every group's handlers.
 *
 * @category layers
 * @since 0.2.0
 */
export const layerHandlers = Layer.mergeAll(messages, verifications, webhooks)
