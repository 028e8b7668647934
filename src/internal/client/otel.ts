/**
 * An Effect `Tracer` that records into an OpenTelemetry `TracerProvider`.
 *
 * The types below are the few members of `@opentelemetry/api` the bridge
 * calls, written structurally so the core needs no OpenTelemetry package:
 * any provider of the 1.x API fits (`trace.getTracerProvider()`, an SDK's
 * `BasicTracerProvider` or `NodeTracerProvider`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** The OpenTelemetry span context: ids and the sampled flag. */
export interface OtelSpanContext {
  readonly traceId: string
  readonly spanId: string
  readonly traceFlags: number
  readonly isRemote?: boolean | undefined
}

/** The members of an OpenTelemetry span the bridge calls. */
export interface OtelSpan {
  spanContext(): OtelSpanContext
  setAttribute(key: string, value: never): unknown
  addEvent(name: string, attributes?: never, startTime?: never): unknown
  setStatus(status: { code: number; message?: string }): unknown
  end(endTime?: never): void
}

/** The members of an OpenTelemetry tracer the bridge calls. */
export interface OtelTracer {
  startSpan(name: string, options?: never, context?: never): OtelSpan
}

/** An OpenTelemetry `TracerProvider`: `trace.getTracerProvider()` or an SDK provider. */
export interface OtelTracerProvider {
  getTracer(name: string, version?: string): OtelTracer
}

// @opentelemetry/api keys its context with Symbol.for(description), so a
// context written here is read by any copy of the API.
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN")

class SpanContextOnly {
  constructor(readonly values: ReadonlyMap<symbol, unknown>) {}
  getValue(key: symbol): unknown {
    return this.values.get(key)
  }
  setValue(key: symbol, value: unknown): SpanContextOnly {
    return new SpanContextOnly(new Map(this.values).set(key, value))
  }
  deleteValue(key: symbol): SpanContextOnly {
    const values = new Map(this.values)
    values.delete(key)
    return new SpanContextOnly(values)
  }
}

const kinds: Record<Tracer.SpanKind, number> = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 }
const hrTime = (nanos: bigint): [number, number] => [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)]

const attributeValue = (value: unknown): string | number | boolean | undefined =>
  typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? value
    : typeof value === "bigint"
    ? value.toString()
    : undefined

// A parent that is not ours (an `ExternalSpan` from incoming headers) is
// handed over as a remote span context, as the OpenTelemetry API does.
const otelParent = (parent: Tracer.AnySpan): unknown =>
  parent instanceof OtelBridgeSpan
    ? parent.span
    : {
      spanContext: () => ({ traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.sampled ? 1 : 0, isRemote: true }),
      isRecording: () => false
    }

class OtelBridgeSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId: string
  readonly traceId: string
  readonly sampled: boolean
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  status: Tracer.SpanStatus
  constructor(
    readonly span: OtelSpan,
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly annotations: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    readonly kind: Tracer.SpanKind,
    startTime: bigint
  ) {
    const context = span.spanContext()
    this.spanId = context.spanId
    this.traceId = context.traceId
    this.sampled = (context.traceFlags & 1) === 1
    this.links = [...links]
    this.status = { _tag: "Started", startTime }
  }
  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
    const converted = attributeValue(value)
    if (converted !== undefined) this.span.setAttribute(key, converted as never)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    const converted: Record<string, string | number | boolean> = {}
    for (const [key, value] of Object.entries(attributes ?? {})) {
      const v = attributeValue(value)
      if (v !== undefined) converted[key] = v
    }
    this.span.addEvent(name, converted as never, hrTime(startTime) as never)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
    // The status names the failure's tag only: an error's message is the
    // application's text and stays out of the trace backend.
    if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) {
      this.span.setStatus({ code: 1 })
    } else {
      const error = Cause.squash(exit.cause)
      const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Defect"
      this.span.setStatus({ code: 2, message: tag })
    }
    this.span.end(hrTime(endTime) as never)
  }
}

/** An Effect tracer whose spans are made by `provider`'s tracer for smsforge. */
export const make = (provider: OtelTracerProvider, version: string): Tracer.Tracer => {
  const tracer = provider.getTracer("smsforge", version)
  return Tracer.make({
    span(options) {
      const parent = Option.getOrUndefined(options.parent)
      // Without a parent the provider's active context is used, so smsforge's
      // spans nest under the application's own request span.
      const span = tracer.startSpan(
        options.name,
        { kind: kinds[options.kind], startTime: hrTime(options.startTime), root: options.root } as never,
        (parent === undefined || options.root ? undefined : new SpanContextOnly(new Map([[SPAN_KEY, otelParent(parent)]]))) as never
      )
      return new OtelBridgeSpan(span, options.name, options.parent, options.annotations, options.links, options.kind, options.startTime)
    }
  })
}
