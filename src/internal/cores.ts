/**
 * Synchronous cores of the built-in services, for the send path.
 *
 * Every operation of a service is an effect, so that Redis or SQL can take
 * its place. Through Effect's runtime each costs about 0.2 µs and some
 * garbage, and a send takes dozens: more than the work itself. The built-in
 * in-memory implementations are synchronous underneath, so each registers
 * its core here, under the service object it hands out, and `Sms` runs a
 * message on the cores when every service it needs has one. A service that
 * is wrapped, mocked or replaced is another object, without a core, and the
 * message takes the general path. The Effect methods of these services are
 * thin wrappers over the same cores: both paths share their logic.
 *
 * @internal
 */
import type * as Result from "effect/Result"
import type { CheckRequest, ConsentError, ConsentRecord, Decision } from "../Consent.ts"
import type { SmsEvent } from "../Events.ts"
import type { InvalidTransition, MessageNotFound, MessagePatch, StatusChange, StoredMessage } from "../MessageStore.ts"
import type { ParseOptions, PhoneNumber, PhoneNumberError, PhoneNumberPolicy } from "../PhoneNumbers.ts"
import type { RenderRequest, Rendered, TemplateVersion } from "../Templates.ts"

export interface PhoneNumbersCore {
  readonly validate: (
    input: string,
    options?: ParseOptions & { readonly policy?: PhoneNumberPolicy | undefined }
  ) => Result.Result<PhoneNumber, PhoneNumberError>
}

export interface ConsentStoreCore {
  readonly get: (tenant: string, to: string) => ConsentRecord | undefined
  readonly sends: (tenant: string, to: string, purpose: string, since: number) => ReadonlyArray<number>
}

export interface ConsentCore {
  /** `Consent.check` at `now`, for requests without `at`. */
  readonly check: (request: CheckRequest, now: number) => Result.Result<Decision, ConsentError>
}

export interface MessageStoreCore {
  readonly insert: (message: StoredMessage, now: number) => void
  readonly transition: (
    id: string,
    change: StatusChange,
    patch?: MessagePatch
  ) => Result.Result<StoredMessage, MessageNotFound | InvalidTransition>
}

export interface TemplateStoreCore {
  /** The version asked for, or the active one. */
  readonly get: (id: string, locale: string, version: number | undefined) => TemplateVersion | undefined
}

export interface TemplatesCore {
  /** The rendered text, or `undefined` when `Templates.render` must explain why not. */
  readonly render: (request: RenderRequest) => Rendered | undefined
}

export interface EventsCore {
  /** Whether anyone listens: events need not be built otherwise. */
  readonly listening: () => boolean
  readonly publish: (event: SmsEvent) => void
}

const registry = <C>() => {
  const cores = new WeakMap<object, C>()
  return {
    /** Registers `core` under `service` and answers the service. */
    register: <S extends object>(service: S, core: C): S => {
      cores.set(service, core)
      return service
    },
    of: (service: object): C | undefined => cores.get(service)
  }
}

export const phoneNumbers = registry<PhoneNumbersCore>()
export const consentStore = registry<ConsentStoreCore>()
export const consent = registry<ConsentCore>()
export const messageStore = registry<MessageStoreCore>()
export const events = registry<EventsCore>()
export const templateStore = registry<TemplateStoreCore>()
export const templates = registry<TemplatesCore>()
