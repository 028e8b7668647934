/**
 * Errors built on hot paths.
 *
 * @internal
 */

/**
 * Builds an error without capturing a stack trace. Capturing one costs more
 * than a whole send (about 3 µs); an error that wraps a carrier's answer in
 * our own code has no stack worth reading, and its reason carries the cause.
 * The same holds for expected refusals (an invalid number, a malformed
 * request): answers to the caller's input, whose stack says nothing.
 */
export const withoutStack = <A>(make: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}
