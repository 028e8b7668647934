/**
 * Spans on the send path, made only when a tracing backend is installed.
 *
 * `Effect.withSpan` costs about 3 µs even when nothing records the span: it
 * provides the parent span, which copies the fiber's context. Effect's own
 * advice (see `Tracer.nativeTracer`) is to compare the active tracer with the
 * native one and skip work that only a backend could observe.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/** Runs `self` in a span named `name` when a tracer other than the native one is active. */
export const withSpan = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  attributes: Readonly<Record<string, unknown>>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer ? self : Effect.withSpan(self, name, { attributes, captureStackTrace: false })
  )
