/**
 * Errors built on hot paths.
 *
 * @internal
 */

/**
 * An error class whose instances are built without a stack trace, whoever
 * builds them. Capturing one costs more than a whole send (about 3 µs), and
 * these errors are answers, not bugs: a carrier's refusal or outage, or a
 * caller's invalid input, whose fields say what happened while a stack would
 * show only our own frames.
 */
export const stackless = <C extends abstract new(...args: Array<any>) => object>(Base: C): C => {
  abstract class Stackless extends Base {
    constructor(...args: Array<any>) {
      const limit = Error.stackTraceLimit
      Error.stackTraceLimit = 0
      try {
        super(...args)
      } finally {
        Error.stackTraceLimit = limit
      }
    }
  }
  return Stackless
}
