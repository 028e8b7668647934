/**
 * Synchronous cores of the built-in services, for the send path.
 *
 * Every operation of a service is an effect, so that Redis or SQL can take
 * its place. Through Effect's runtime each costs about 0.2 µs and some
 * garbage, and a send takes dozens: more than the work itself. The built-in
 * in-memory implementations are synchronous underneath, so each registers
 * its core under the service object it hands out, in a registry its own
 * module declares with the core's type, and `Sms` runs a message on the cores
 * when every service it needs has one. A service that is wrapped, mocked or
 * replaced is another object, without a core, and the message takes the
 * general path. The Effect methods of these services are thin wrappers over
 * the same cores: both paths share their logic.
 *
 * @internal
 */

/** Cores of type `C`, each under the service object it belongs to. @internal */
export interface CoreRegistry<C> {
  /** Registers `core` under `service` and answers the service. */
  readonly register: <S extends object>(service: S, core: C) => S
  readonly of: (service: object) => C | undefined
}

/** @internal */
export const registry = <C>(): CoreRegistry<C> => {
  const cores = new WeakMap<object, C>()
  return {
    register: (service, core) => {
      cores.set(service, core)
      return service
    },
    of: (service) => cores.get(service)
  }
}
