import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Result, Schema } from "effect"
import * as KeyValueStore from "effect/persistence/KeyValueStore"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Templates from "../src/Templates.ts"

const otp = Templates.define({
  id: "otp",
  variables: Schema.Struct({ code: Schema.String, minutes: Schema.Number }),
  maxLength: { code: 8 },
  locales: {
    default: "Your code is {{code}}. It expires in {{ minutes }} minutes.",
    pt: "Seu código é {{code}}. Expira em {{minutes}} minutos.",
    "pt-BR": "Seu código: {{code}} ({{minutes}} min).",
    "zh-Hant": "您的驗證碼是{{code}}，{{minutes}}分鐘內有效。"
  }
})

const run = <A, E>(effect: Effect.Effect<A, E, Templates.Templates>) =>
  Effect.provide(effect, Templates.layerMemory)

/** The reason of a failed template effect, or a test failure. */
const reasonOf = <A>(effect: Effect.Effect<A, Templates.TemplateError, Templates.Templates>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
    const error = Exit.findErrorOption(exit)
    if (Option.isNone(error)) return assert.fail("expected a typed failure")
    assert.instanceOf(error.value, Templates.TemplateError)
    return error.value.reason
  })

const failureOf = <A>(result: Result.Result<A, Templates.TemplateError>): Templates.TemplateErrorReason => {
  if (Result.isSuccess(result)) return assert.fail("expected a failure")
  return result.failure.reason
}

/** A store fails with a TemplateError or, when its backend does not answer, the shared StoreUnavailable. */
const reasonIn = (error: Templates.TemplateError | Templates.StoreUnavailable): Templates.TemplateErrorReason =>
  error._tag === "TemplateError" ? error.reason : error

const Xs = Schema.Struct({ x: Schema.String, y: Schema.String })

describe("Templates", () => {
  describe("parsing", () => {
    const ok: ReadonlyArray<readonly [string, string, Record<string, string>]> = [
      ["Hello {{x}}", "Hello A", { x: "A", y: "" }],
      ["{{x}}{{y}}", "AB", { x: "A", y: "B" }],
      ["{{  x  }} and {{\ty\n}}", "A and B", { x: "A", y: "B" }],
      ["literal \\{ and \\} and \\\\", "literal { and } and \\", { x: "", y: "" }],
      ["\\{\\{x\\}\\}", "{{x}}", { x: "A", y: "" }],
      ["\\{{{x}}\\}", "{A}", { x: "A", y: "" }],
      ["a \\ b", "a \\ b", { x: "", y: "" }],
      ["no placeholders", "no placeholders", { x: "", y: "" }],
      ["{{x}} {{x}}", "A A", { x: "A", y: "" }],
      ["", "", { x: "", y: "" }]
    ]
    for (const [body, expected, variables] of ok) {
      it(`renders ${JSON.stringify(body)}`, () => {
        const compiled = Result.getOrThrow(Templates.compile({ id: "t", variables: Xs, locales: { default: body } }))
        const rendered = Result.getOrThrow(Templates.renderCompiled(compiled, { variables }))
        assert.strictEqual(rendered.text, expected)
      })
    }

    const bad: ReadonlyArray<readonly [string, RegExp]> = [
      ["Hello {x}", /unbalanced '\{'/],
      ["Hello }", /unbalanced '\}'/],
      ["Hello {{x}", /unbalanced '\}'|placeholder ends/],
      ["Hello {{x", /unclosed/],
      ["{{{x}}}", /'\{\{\{'/],
      ["{{x}}}", /'\}\}\}'/],
      ["{{}}", /empty placeholder/],
      ["{{ }}", /empty placeholder/],
      ["{{a.b}}", /not a variable name/],
      ["{{x.length}}", /not a variable name/],
      ["{{__proto__}}", /reserved/],
      ["{{constructor}}", /reserved/],
      ["{{x + y}}", /one variable name/],
      ["{{x()}}", /not a variable name/],
      ["{{z}}", /unknown placeholder 'z'/],
      ["{{ {{x}} }}", /unbalanced '\{'/],
      ["{{x}} {{y", /unclosed/]
    ]
    for (const [body, problem] of bad) {
      it(`refuses ${JSON.stringify(body)}`, () => {
        const reason = failureOf(Templates.compile({ id: "t", variables: Xs, locales: { "pt-BR": body } }))
        assert.strictEqual(reason._tag, "InvalidTemplate")
        if (reason._tag !== "InvalidTemplate") return
        assert.strictEqual(reason.field, "locales.pt-BR")
        assert.match(reason.problem, problem)
        assert.isNumber(reason.position)
      })
    }

    const badDefinitions: ReadonlyArray<readonly [string, Templates.TemplateDefinition, string]> = [
      ["empty id", { id: "", variables: Xs, locales: { default: "a" } }, "id"],
      ["zero version", { id: "t", version: 0, variables: Xs, locales: { default: "a" } }, "version"],
      ["fractional version", { id: "t", version: 1.5, variables: Xs, locales: { default: "a" } }, "version"],
      ["no locales", { id: "t", variables: Xs, locales: {} }, "locales"],
      [
        "a reserved variable name",
        { id: "t", variables: Schema.Struct({ constructor: Schema.String }), locales: { default: "a" } },
        "variables.constructor"
      ],
      ["bad locale tag", { id: "t", variables: Xs, locales: { "not a tag": "a" } }, "locales.not a tag"],
      ["duplicate locale", { id: "t", variables: Xs, locales: { "pt-BR": "a", "pt-br": "b" } }, "locales.pt-br"],
      ["cap of an unknown variable", { id: "t", variables: Xs, maxLength: { z: 3 }, locales: { default: "a" } }, "maxLength.z"],
      ["zero cap", { id: "t", variables: Xs, maxLength: { x: 0 }, locales: { default: "a" } }, "maxLength.x"],
      ["empty signature", { id: "t", variables: Xs, signature: "", locales: { default: "a" } }, "signature"],
      [
        "code for a missing locale",
        { id: "t", variables: Xs, providerTemplateCode: { fr: "SMS_1" }, locales: { default: "a" } },
        "providerTemplateCode.fr"
      ]
    ]
    for (const [name, definition, field] of badDefinitions) {
      it(`refuses a definition: ${name}`, () => {
        const reason = failureOf(Templates.compile(definition))
        assert.deepInclude(reason, { _tag: "InvalidTemplate", field })
      })
    }
  })

  describe("locales", () => {
    const canonical: ReadonlyArray<readonly [string, string | undefined]> = [
      ["pt-br", "pt-BR"],
      ["PT_BR", "pt-BR"],
      ["zh-hant-tw", "zh-Hant-TW"],
      ["ZH-HANT", "zh-Hant"],
      ["es-419", "es-419"],
      ["Default", "default"],
      ["en-US-u-ca-gregory", "en-US-u-ca-gregory"],
      ["", undefined],
      ["e", undefined],
      ["en--US", undefined],
      ["en US", undefined],
      ["123", undefined]
    ]
    for (const [input, expected] of canonical) {
      it(`normalizes ${JSON.stringify(input)}`, () => {
        assert.strictEqual(Templates.normalizeLocale(input), expected)
      })
    }

    const chains: ReadonlyArray<readonly [string | undefined, ReadonlyArray<string>]> = [
      ["pt-BR", ["pt-BR", "pt", "default"]],
      ["zh-Hant-TW", ["zh-Hant-TW", "zh-Hant", "zh", "default"]],
      ["ZH-hant-tw", ["zh-Hant-TW", "zh-Hant", "zh", "default"]],
      ["en", ["en", "default"]],
      ["en-US-u-ca-gregory", ["en-US-u-ca-gregory", "en-US", "en", "default"]],
      ["default", ["default"]],
      [undefined, ["default"]],
      ["%%%", ["default"]]
    ]
    for (const [input, expected] of chains) {
      it(`falls back from ${JSON.stringify(input)}`, () => {
        assert.deepStrictEqual(Templates.fallbackChain(input), expected)
      })
    }

    it.effect("renders the most specific existing locale, case-insensitively", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(otp)
        const variables = { code: "123456", minutes: 5 }
        const cases: ReadonlyArray<readonly [string | undefined, string]> = [
          ["pt-BR", "pt-BR"],
          ["PT-br", "pt-BR"],
          ["pt-PT", "pt"],
          ["pt", "pt"],
          ["zh-Hant-TW", "zh-Hant"],
          ["zh-Hans-CN", "default"],
          ["fr", "default"],
          [undefined, "default"]
        ]
        for (const [locale, expected] of cases) {
          const rendered = yield* templates.render({ id: "otp", locale, variables })
          assert.strictEqual(rendered.locale, expected, String(locale))
        }
        const zh = yield* templates.render({ id: "otp", locale: "zh-Hant-TW", variables })
        assert.strictEqual(zh.text, "您的驗證碼是123456，5分鐘內有效。")
      })))

    it.effect("fails with TemplateNotFound naming the locale when no chain member exists", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register({ id: "fr-only", variables: Xs, locales: { fr: "{{x}}{{y}}" } })
        const reason = yield* reasonOf(templates.render({ id: "fr-only", locale: "de", variables: { x: "", y: "" } }))
        assert.deepInclude(reason, { _tag: "TemplateNotFound", field: "locale" })
        const unknown = yield* reasonOf(templates.render({ id: "nope", variables: {} }))
        assert.deepInclude(unknown, { _tag: "TemplateNotFound", field: "template" })
      })))
  })

  describe("rendering", () => {
    it.effect("renders typed variables", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        const registered = yield* templates.register(otp)
        assert.strictEqual(registered.version, 1)
        assert.deepStrictEqual(registered.locales.map((l) => l.outcome), ["inserted", "inserted", "inserted", "inserted"])
        const rendered = yield* templates.render({ id: "otp", variables: { code: "123456", minutes: 10 } })
        assert.deepStrictEqual(rendered, {
          id: "otp",
          version: 1,
          locale: "default",
          text: "Your code is 123456. It expires in 10 minutes.",
          status: "pending",
          approved: false,
          variables: { code: "123456", minutes: 10 }
        })
      })))

    const variableErrors: ReadonlyArray<readonly [string, Record<string, unknown>, string, string]> = [
      ["missing", { minutes: 10 }, "code", "missing"],
      ["undefined reads as missing", { code: undefined, minutes: 10 }, "code", "missing"],
      ["unexpected", { code: "1", minutes: 10, extra: "x" }, "extra", "unexpected"],
      ["wrong type (number for string)", { code: 123, minutes: 10 }, "code", "wrong-type"],
      ["wrong type (string for number)", { code: "1", minutes: "10" }, "minutes", "wrong-type"],
      ["wrong type (object)", { code: { toString: "1" }, minutes: 10 }, "code", "wrong-type"],
      ["too long (per-variable cap)", { code: "123456789", minutes: 10 }, "code", "too-long"],
      ["a long unexpected key, truncated", { code: "1", minutes: 1, ["k".repeat(100)]: 1 }, `${"k".repeat(64)}…`, "unexpected"],
      ["prototype key", JSON.parse("{\"code\":\"1\",\"minutes\":1,\"__proto__\":{\"x\":1}}"), "__proto__", "unexpected"]
    ]
    for (const [name, variables, variable, problem] of variableErrors) {
      it.effect(`refuses variables: ${name}`, () =>
        run(Effect.gen(function*() {
          const templates = yield* Templates.Templates
          yield* templates.register(otp)
          const exit = yield* Effect.exit(templates.render({ id: "otp", variables }))
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.findErrorOption(exit)
          assert.isTrue(Option.isSome(error))
          if (Option.isNone(error)) return
          const reason = error.value.reason
          assert.strictEqual(reason._tag, "InvalidTemplateVariables")
          if (reason._tag !== "InvalidTemplateVariables") return
          assert.strictEqual(reason.variable, variable)
          assert.strictEqual(reason.field, `variables.${variable}`)
          assert.strictEqual(reason.problem, problem)
          // values never reach the message
          assert.notInclude(error.value.message, "123456789")
          assert.notInclude(JSON.stringify(error.value), "123456789")
        })))
    }

    it.effect("renders from a definition with typed variables", () =>
      run(Effect.gen(function*() {
        yield* Templates.Templates.use((t) => t.register(otp))
        const rendered = yield* Templates.render(otp, { locale: "pt-BR", variables: { code: "42", minutes: 3 } })
        assert.strictEqual(rendered.text, "Seu código: 42 (3 min).")
        // @ts-expect-error minutes is a number
        const typed = Templates.render(otp, { variables: { code: "42", minutes: "3" } })
        assert.isDefined(typed)
      })))

    it.effect("refuses variables that are not an object", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(otp)
        const reason = yield* reasonOf(
          templates.render({ id: "otp", variables: null as unknown as Record<string, unknown> })
        )
        assert.deepInclude(reason, { _tag: "InvalidTemplateVariables", field: "variables", problem: "wrong-type" })
      })))

    it.effect("applies the default cap, configurable per layer and per definition", () =>
      Effect.gen(function*() {
        const def = { id: "long", variables: Schema.Struct({ name: Schema.String }), locales: { default: "Hi {{name}}" } }
        const render = (name: string) =>
          Templates.Templates.use((t) => t.render({ id: "long", variables: { name } }))
        const memory = Layer.provide(Templates.layer({ templates: [def] }), Templates.layerStoreMemory)
        yield* Effect.provide(render("a".repeat(80)), memory)
        const tooLong = yield* Effect.provide(reasonOf(render("a".repeat(81))), memory)
        assert.deepInclude(tooLong, { _tag: "InvalidTemplateVariables", variable: "name", problem: "too-long" })
        const small = Layer.provide(Templates.layer({ templates: [def], maxVariableLength: 5 }), Templates.layerStoreMemory)
        const capped = yield* Effect.provide(reasonOf(render("abcdef")), small)
        assert.deepInclude(capped, { problem: "too-long" })
        const own = Layer.provide(
          Templates.layer({ templates: [{ ...def, defaultMaxLength: 200 }], maxVariableLength: 5 }),
          Templates.layerStoreMemory
        )
        const rendered = yield* Effect.provide(render("a".repeat(200)), own)
        assert.strictEqual(rendered.text.length, 203)
      }))

    it.effect("maps a schema length check to too-long and other checks to wrong-type", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register({
          id: "checked",
          variables: Schema.Struct({
            code: Schema.String.check(Schema.isMaxLength(4)),
            n: Schema.Number.check(Schema.isInt())
          }),
          locales: { default: "{{code}} {{n}}" }
        })
        const long = yield* reasonOf(templates.render({ id: "checked", variables: { code: "12345", n: 1 } }))
        assert.deepInclude(long, { variable: "code", problem: "too-long" })
        const frac = yield* reasonOf(templates.render({ id: "checked", variables: { code: "1", n: 1.5 } }))
        assert.deepInclude(frac, { variable: "n", problem: "wrong-type" })
      })))

    it.effect("renders an absent optional variable as empty and uses decoded values", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register({
          id: "opt",
          variables: Schema.Struct({
            name: Schema.optional(Schema.String),
            n: Schema.NumberFromString,
            ok: Schema.Boolean
          }),
          locales: { default: "Hi {{name}}! {{n}} {{ok}}" }
        })
        const rendered = yield* templates.render({ id: "opt", variables: { n: "42", ok: true } })
        assert.strictEqual(rendered.text, "Hi ! 42 true")
        assert.deepStrictEqual(rendered.variables, { n: 42, ok: "true" })
      })))

    it.effect("adds a signature as prefix or suffix, overridable at render time", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register({
          id: "cn",
          variables: Schema.Struct({ code: Schema.String }),
          signature: "【Acme】",
          providerTemplateCode: { "zh-Hans": "SMS_123", default: "SMS_100" },
          locales: { "zh-Hans": "您的验证码是{{code}}", default: "Your code is {{code}}" }
        })
        yield* templates.register({
          id: "suffix",
          variables: Schema.Struct({}),
          signature: { text: " — Acme", placement: "suffix" },
          locales: { default: "Hello" }
        })
        const zh = yield* templates.render({ id: "cn", locale: "zh-Hans-CN", variables: { code: "1234" } })
        assert.strictEqual(zh.text, "【Acme】您的验证码是1234")
        assert.strictEqual(zh.signature, "【Acme】")
        assert.strictEqual(zh.providerTemplateCode, "SMS_123")
        const en = yield* templates.render({ id: "cn", variables: { code: "1234" } })
        assert.strictEqual(en.providerTemplateCode, "SMS_100")
        const other = yield* templates.render({ id: "cn", variables: { code: "1" }, signature: "【Other】" })
        assert.strictEqual(other.text, "【Other】Your code is 1")
        const suffix = yield* templates.render({ id: "suffix", variables: {} })
        assert.strictEqual(suffix.text, "Hello — Acme")
      })))

    it.effect("uses the service's default signature for templates without one", () =>
      Effect.gen(function*() {
        const rendered = yield* Templates.Templates.use((t) => t.render({ id: "s", variables: {} })).pipe(
          Effect.provide(Layer.provide(
            Templates.layer({
              signature: { text: "[Acme] " },
              templates: [{ id: "s", variables: Schema.Struct({}), locales: { default: "Hi" } }]
            }),
            Templates.layerStoreMemory
          ))
        )
        assert.strictEqual(rendered.text, "[Acme] Hi")
      }))

    it("an error's message names the reason and field only", () => {
      const error = new Templates.TemplateError({
        reason: new Templates.InvalidTemplateVariables({ field: "variables.code", variable: "code", problem: "too-long" })
      })
      assert.strictEqual(error.message, "InvalidTemplateVariables (variables.code)")
      assert.isFalse(error.isRetryable)
    })
  })

  describe("versions", () => {
    const v = (version: number, body: string, extra: Partial<Templates.TemplateDefinition> = {}) => ({
      id: "promo",
      version,
      variables: Schema.Struct({ name: Schema.String }),
      locales: { default: body },
      ...extra
    })

    it.effect("a new version becomes active; activate rolls back; explicit versions render", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(v(1, "v1 {{name}}"))
        yield* templates.register(v(2, "v2 {{name}}"))
        const render = (version?: number) =>
          Effect.map(templates.render({ id: "promo", version, variables: { name: "A" } }), (r) => r.text)
        assert.strictEqual(yield* render(), "v2 A")
        assert.strictEqual(yield* render(1), "v1 A")
        yield* templates.activate("promo", "DEFAULT", 1)
        assert.strictEqual(yield* render(), "v1 A")
        const missing = yield* reasonOf(templates.activate("promo", "default", 3))
        assert.deepInclude(missing, { _tag: "TemplateNotFound", field: "version", version: 3 })
        const noVersion = yield* reasonOf(render(7))
        assert.deepInclude(noVersion, { _tag: "TemplateNotFound", field: "version" })
      })))

    it.effect("re-registering the same content changes nothing, not even the active version", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(v(1, "v1 {{name}}"))
        yield* templates.register(v(2, "v2 {{name}}"))
        yield* templates.activate("promo", "default", 1)
        const again = yield* templates.register(v(2, "v2 {{name}}"))
        assert.deepStrictEqual(again.locales, [{ locale: "default", outcome: "unchanged" }])
        const rendered = yield* templates.render({ id: "promo", variables: { name: "A" } })
        assert.strictEqual(rendered.version, 1)
      })))

    it.effect("putting other content under an existing version is a conflict", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(v(1, "v1 {{name}}"))
        const reason = yield* reasonOf(templates.register(v(1, "changed {{name}}")))
        assert.deepInclude(reason, { _tag: "TemplateVersionConflict", field: "version", id: "promo", version: 1 })
        const signed = yield* reasonOf(templates.register(v(1, "v1 {{name}}", { signature: "【X】" })))
        assert.strictEqual(signed._tag, "TemplateVersionConflict")
        const rendered = yield* templates.render({ id: "promo", variables: { name: "A" } })
        assert.strictEqual(rendered.text, "v1 A")
      })))

    it.effect("a version registered with activate: false stays staged", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(v(1, "v1 {{name}}"))
        yield* templates.register(v(2, "v2 {{name}}", { activate: false }))
        const active = yield* templates.render({ id: "promo", variables: { name: "A" } })
        assert.strictEqual(active.version, 1)
        const versions = yield* templates.versions("promo")
        assert.deepStrictEqual(versions.map((s) => [s.version, s.active]), [[1, true], [2, false]])
      })))

    it.effect("records the creation time from the Clock", () =>
      run(Effect.gen(function*() {
        yield* TestClock.adjust("1 hour")
        const templates = yield* Templates.Templates
        yield* templates.register(v(1, "v1 {{name}}"))
        const [stored] = yield* templates.versions("promo")
        assert.strictEqual(stored?.createdAt, 3_600_000)
      })))
  })

  describe("approval", () => {
    it.effect("refuses an unapproved version when approval is required, until approved", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(otp)
        const variables = { code: "1", minutes: 1 }
        const pending = yield* reasonOf(templates.render({ id: "otp", variables, requireApproval: true }))
        assert.deepInclude(pending, { _tag: "TemplateNotApproved", field: "template", id: "otp", version: 1, status: "pending" })
        yield* templates.approve("otp", "default", 1)
        const ok = yield* templates.render({ id: "otp", variables, requireApproval: true })
        assert.isTrue(ok.approved)
        // approval is per locale
        const pt = yield* reasonOf(templates.render({ id: "otp", locale: "pt", variables, requireApproval: true }))
        assert.strictEqual(pt._tag, "TemplateNotApproved")
        yield* templates.setStatus("otp", "default", 1, "rejected")
        const rejected = yield* reasonOf(templates.render({ id: "otp", variables, requireApproval: true }))
        assert.deepInclude(rejected, { status: "rejected" })
        // without the requirement, any status renders
        const any = yield* templates.render({ id: "otp", variables })
        assert.strictEqual(any.status, "rejected")
      })))

    it.effect("countries listed in approvalRequiredCountries require approval unless the request says otherwise", () =>
      Effect.gen(function*() {
        const layer = Layer.provide(
          Templates.layer({ approvalRequiredCountries: ["cn"], templates: [otp] }),
          Templates.layerStoreMemory
        )
        const variables = { code: "1", minutes: 1 }
        const cn = yield* reasonOf(Templates.Templates.use((t) => t.render({ id: "otp", country: "CN", variables })))
          .pipe(Effect.provide(layer))
        assert.strictEqual(cn._tag, "TemplateNotApproved")
        const overridden = yield* Templates.Templates.use((t) =>
          t.render({ id: "otp", country: "CN", variables, requireApproval: false })
        ).pipe(Effect.provide(layer))
        assert.strictEqual(overridden.version, 1)
        const gb = yield* Templates.Templates.use((t) => t.render({ id: "otp", country: "GB", variables })).pipe(
          Effect.provide(layer)
        )
        assert.strictEqual(gb.version, 1)
      }))

    it.effect("a definition can declare its version approved", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register({ ...otp, status: "approved" })
        const rendered = yield* templates.render({ id: "otp", variables: { code: "1", minutes: 1 }, requireApproval: true })
        assert.isTrue(rendered.approved)
      })))
  })

  describe("budget", () => {
    it("measures each locale with worst-case values (pure)", () => {
      const report = Result.getOrThrow(Templates.budget(otp, { maxSegments: 1 }))
      assert.strictEqual(report.id, "otp")
      const byLocale = new Map(report.locales.map((l) => [l.locale, l]))
      const def = byLocale.get("default")!
      assert.strictEqual(def.encoding, "GSM-7")
      assert.strictEqual(def.segments, 1)
      assert.isTrue(def.withinBudget)
      // code capped at 8, minutes at the default 80
      assert.include(def.text, "xxxxxxxx.")
      assert.include(def.text, "x".repeat(80))
      const zh = byLocale.get("zh-Hant")!
      assert.strictEqual(zh.encoding, "UCS-2")
      assert.strictEqual(zh.ucs2, "template")
      assert.isFalse(zh.withinBudget)
      assert.strictEqual(zh.overBudget, "template")
      assert.strictEqual(zh.unitsPerSegment, 67)
      assert.isFalse(report.ok)
      // "código" has no non-GSM character: ó is not in GSM 03.38
      assert.strictEqual(byLocale.get("pt")!.ucs2, "template")
    })

    it("reports when a worst-case value turns it UCS-2 or over budget", () => {
      const short = Templates.define({
        id: "short",
        variables: Schema.Struct({ name: Schema.String }),
        maxLength: { name: 20 },
        locales: { default: "Hi {{name}}" }
      })
      const gsm = Result.getOrThrow(Templates.budget(short, { maxSegments: 1 }))
      assert.strictEqual(gsm.locales[0]!.encoding, "GSM-7")
      assert.isUndefined(gsm.locales[0]!.ucs2)
      const unicode = Result.getOrThrow(Templates.budget(short, { maxSegments: 1, unicode: true }))
      assert.strictEqual(unicode.locales[0]!.encoding, "UCS-2")
      assert.strictEqual(unicode.locales[0]!.ucs2, "worst-case")
      assert.strictEqual(unicode.locales[0]!.text.length, 23)
      const given = Result.getOrThrow(Templates.budget(short, { maxSegments: 1, worstCase: { name: "Zoë 😀".repeat(20) } }))
      assert.strictEqual(given.locales[0]!.ucs2, "worst-case")
      assert.isFalse(given.locales[0]!.withinBudget)
      assert.strictEqual(given.locales[0]!.overBudget, "worst-case")
      assert.isAbove(given.locales[0]!.segments, 1)
    })

    it("resolves one locale with fallback and refuses a bad budget", () => {
      const report = Result.getOrThrow(Templates.budget(otp, { maxSegments: 2, locale: "pt-PT" }))
      assert.deepStrictEqual(report.locales.map((l) => l.locale), ["pt"])
      const bad = failureOf(Templates.budget(otp, { maxSegments: 0 }))
      assert.deepInclude(bad, { _tag: "InvalidTemplate", field: "maxSegments" })
      const fill = failureOf(Templates.budget(otp, { maxSegments: 1, fill: "中" }))
      assert.deepInclude(fill, { _tag: "InvalidTemplate", field: "fill" })
      const typo = failureOf(Templates.budget(otp, { maxSegments: 1, worstCase: { cod: "1" } }))
      assert.deepInclude(typo, { _tag: "InvalidTemplate", field: "worstCase.cod" })
      const unicodeTypo = failureOf(Templates.budget(otp, { maxSegments: 1, unicode: ["cod"] }))
      assert.deepInclude(unicodeTypo, { _tag: "InvalidTemplate", field: "unicode" })
    })

    it.effect("checks stored versions through the service", () =>
      run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(otp)
        yield* templates.register({ ...otp, version: 2, locales: { default: "Code {{code}}" }, signature: "【Acme】" })
        const report = yield* templates.checkBudget("otp", { maxSegments: 1 })
        const locales = report.locales.map((l) => [l.locale, l.version] as const)
        assert.sameDeepMembers([...locales], [["default", 2], ["pt", 1], ["pt-BR", 1], ["zh-Hant", 1]])
        const def = report.locales.find((l) => l.locale === "default")!
        assert.strictEqual(def.text, "【Acme】Code xxxxxxxx")
        assert.strictEqual(def.ucs2, "template")
        const v1 = yield* templates.checkBudget("otp", { maxSegments: 1, locale: "en", version: 1 })
        assert.deepStrictEqual(v1.locales.map((l) => [l.locale, l.version, l.encoding]), [["default", 1, "GSM-7"]])
        const none = yield* reasonOf(templates.checkBudget("nope", { maxSegments: 1 }))
        assert.deepInclude(none, { _tag: "TemplateNotFound", field: "template" })
      })))
  })

  describe("stores", () => {
    const stores: ReadonlyArray<readonly [string, Layer.Layer<Templates.TemplateStore>]> = [
      ["memory", Templates.layerStoreMemory],
      ["KeyValueStore", Layer.provide(Templates.layerStoreKeyValue({ prefix: "t/" }), KeyValueStore.layerMemory)]
    ]
    const record = (locale: string, version: number, body: string): Templates.TemplateVersion => ({
      id: "a/b c",
      locale,
      version,
      body,
      status: "pending",
      createdAt: 1
    })
    for (const [name, layer] of stores) {
      it.effect(`${name}: put, get, list, activate, setStatus`, () =>
        Effect.gen(function*() {
          const store = yield* Templates.TemplateStore
          assert.strictEqual(yield* store.put(record("default", 1, "one")), "inserted")
          assert.strictEqual(yield* store.put(record("default", 1, "one")), "unchanged")
          assert.strictEqual(yield* store.put(record("default", 2, "two"), { activate: false }), "inserted")
          assert.strictEqual(yield* store.put({ ...record("pt-BR", 1, "um"), signature: { text: "[X]", placement: "suffix" } }), "inserted")
          const active = yield* store.get("a/b c", "default")
          assert.deepInclude(Option.getOrThrow(active), { version: 1, body: "one", active: true })
          const staged = yield* store.get("a/b c", "default", 2)
          assert.deepInclude(Option.getOrThrow(staged), { version: 2, active: false })
          assert.isTrue(Option.isNone(yield* store.get("a/b c", "fr")))
          assert.isTrue(Option.isNone(yield* store.get("other", "default")))
          yield* store.activate("a/b c", "default", 2)
          yield* store.setStatus("a/b c", "default", 1, "approved")
          const list = yield* store.list("a/b c")
          assert.deepStrictEqual(
            list.map((v) => [v.locale, v.version, v.status, v.active]),
            [["default", 1, "approved", false], ["default", 2, "pending", true], ["pt-BR", 1, "pending", true]]
          )
          assert.deepStrictEqual(list[2]!.signature, { text: "[X]", placement: "suffix" })
          // status is not content: a put after approval is still "unchanged"
          assert.strictEqual(yield* store.put(record("default", 1, "one")), "unchanged")
          const conflict = yield* Effect.flip(store.put(record("default", 1, "uno")))
          assert.strictEqual(reasonIn(conflict)._tag, "TemplateVersionConflict")
          const missing = yield* Effect.flip(store.activate("a/b c", "default", 9))
          assert.deepInclude(reasonIn(missing), { _tag: "TemplateNotFound", field: "version", version: 9 })
          const missingStatus = yield* Effect.flip(store.setStatus("a/b c", "fr", 1, "approved"))
          assert.strictEqual(reasonIn(missingStatus)._tag, "TemplateNotFound")
          assert.deepStrictEqual(yield* store.list("a/b"), [])
        }).pipe(Effect.provide(layer)))
    }

    it.effect("KeyValueStore: a corrupt record is a retryable TemplateStoreFailure", () =>
      Effect.gen(function*() {
        const kv = yield* KeyValueStore.KeyValueStore
        const store = Templates.makeStoreKeyValue(kv)
        yield* store.put(record("default", 1, "one"))
        const keys = yield* kv.keys
        const key = keys.find((k) => k.endsWith("/1"))!
        yield* kv.set(key, "{not json")
        const error = yield* Effect.flip(store.get("a/b c", "default"))
        assert.deepInclude(reasonIn(error), { _tag: "TemplateStoreFailure", field: "store", operation: "get" })
        assert.isTrue(error.isRetryable)
      }).pipe(Effect.provide(KeyValueStore.layerMemory)))

    it.effect("the service runs on the KeyValueStore store", () =>
      Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(otp)
        const rendered = yield* templates.render({ id: "otp", locale: "pt-BR", variables: { code: "9", minutes: 1 } })
        assert.strictEqual(rendered.text, "Seu código: 9 (1 min).")
      }).pipe(
        Effect.provide(Templates.layer().pipe(
          Layer.provide(Templates.layerStoreKeyValue()),
          Layer.provide(KeyValueStore.layerMemory)
        ))
      ))
  })

  describe("properties", () => {
    const names = ["a", "b", "c", "d"] as const
    const Four = Schema.Struct({ a: Schema.String, b: Schema.String, c: Schema.String, d: Schema.String })
    const escape = (text: string) => text.replace(/[\\{}]/g, (c) => `\\${c}`)
    const partArb = fc.oneof(
      fc.string({ maxLength: 12 }).map((text) => ({ _tag: "Literal" as const, text })),
      fc.constantFrom(...names).map((name) => ({ _tag: "Variable" as const, name }))
    )
    const valueArb = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom("{{a}}", "{{ b }}", "\\{", "}}", "{{__proto__}}", "{{{c}}}"),
      fc.string({ unit: "grapheme", maxLength: 20 })
    ).filter((s) => s.length <= 80)

    it("renders literal parts and values exactly; values never expand", () => {
      fc.assert(
        fc.property(
          fc.array(partArb, { maxLength: 12 }),
          fc.record({ a: valueArb, b: valueArb, c: valueArb, d: valueArb }),
          (parts, values) => {
            const body = parts.map((p) =>
              p._tag === "Literal" ? escape(p.text) : `{{${p.name.length % 2 === 0 ? p.name : ` ${p.name} `}}}`
            ).join("")
            const compiled = Result.getOrThrow(Templates.compile({ id: "p", variables: Four, locales: { default: body } }))
            const rendered = Result.getOrThrow(Templates.renderCompiled(compiled, { variables: values }))
            const expected = parts.map((p) => p._tag === "Literal" ? p.text : values[p.name]).join("")
            return rendered.text === expected
          }
        )
      )
    })

    it("parsing any text either succeeds or fails with InvalidTemplate, never throws", () => {
      fc.assert(
        fc.property(fc.string({ unit: fc.constantFrom("{", "}", "\\", " ", "a", "b", ".", "x") , maxLength: 30 }), (body) => {
          const result = Templates.compile({ id: "p", variables: Four, locales: { default: body } })
          return Result.isSuccess(result) || result.failure.reason._tag === "InvalidTemplate"
        })
      )
    })

    it("an escaped literal renders back exactly", () => {
      fc.assert(
        fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), fc.string({ unit: fc.constantFrom("{", "}", "\\", "a"), maxLength: 20 }), (a, b) => {
          const text = a + b
          const compiled = Templates.compile({ id: "p", variables: Four, locales: { default: escape(text) } })
          return Result.isSuccess(compiled) &&
            Result.getOrThrow(Templates.renderCompiled(compiled.success, { variables: { a: "", b: "", c: "", d: "" } })).text === text
        })
      )
    })

    it("a value of the wrong type is refused naming the variable", () => {
      const compiled = Result.getOrThrow(
        Templates.compile({ id: "p", variables: otp.variables, locales: { default: "{{code}} {{minutes}}" } })
      )
      fc.assert(
        fc.property(fc.anything().filter((v) => typeof v !== "string"), (value) => {
          const result = Templates.renderCompiled(compiled, { variables: { code: value, minutes: 1 } })
          return Result.isFailure(result) &&
            result.failure.reason._tag === "InvalidTemplateVariables" &&
            result.failure.reason.variable === "code" &&
            result.failure.reason.problem === (value === undefined ? "missing" : "wrong-type")
        })
      )
    })

    it("locale canonicalisation is idempotent and case-insensitive", () => {
      const subtag = fc.stringMatching(/^[A-Za-z]{2,3}$|^[A-Za-z]{4}$|^[0-9]{3}$/)
      fc.assert(
        fc.property(fc.array(subtag, { minLength: 1, maxLength: 4 }), (subtags) => {
          const tag = subtags.join("-")
          const once = Templates.normalizeLocale(tag)
          if (once === undefined) return Templates.normalizeLocale(tag.toUpperCase()) === undefined
          return Templates.normalizeLocale(once) === once &&
            Templates.normalizeLocale(tag.toLowerCase()) === once &&
            Templates.normalizeLocale(tag.toUpperCase().replace(/-/g, "_")) === once
        })
      )
    })

    it("a missing or extra variable is refused naming it", () => {
      const compiled = Result.getOrThrow(
        Templates.compile({ id: "p", variables: Four, locales: { default: "{{a}}{{b}}{{c}}{{d}}" } })
      )
      const extraName = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !(names as ReadonlyArray<string>).includes(k))
      fc.assert(
        fc.property(
          fc.record({ a: fc.string(), b: fc.string(), c: fc.string(), d: fc.string() }),
          fc.oneof(
            fc.constantFrom(...names).map((name) => ({ kind: "missing" as const, name })),
            extraName.map((name) => ({ kind: "unexpected" as const, name }))
          ),
          (values, change) => {
            const variables: Record<string, string> = { ...values }
            if (change.kind === "missing") delete variables[change.name]
            else Object.defineProperty(variables, change.name, { value: "v", enumerable: true, writable: true, configurable: true })
            const result = Templates.renderCompiled(compiled, { variables })
            if (Result.isSuccess(result)) return false
            const reason = result.failure.reason
            return reason._tag === "InvalidTemplateVariables" &&
              reason.variable === change.name &&
              reason.field === `variables.${change.name}` &&
              reason.problem === change.kind
          }
        )
      )
    })

    const stores: ReadonlyArray<readonly [string, () => Layer.Layer<Templates.TemplateStore>]> = [
      ["memory", () => Templates.layerStoreMemory],
      ["KeyValueStore", () => Layer.provide(Templates.layerStoreKeyValue(), KeyValueStore.layerMemory)]
    ]
    for (const [storeName, storeLayer] of stores) it(`versions are immutable under random put/activate sequences (${storeName} store)`, async () => {
      type Command =
        | { readonly _tag: "Put"; readonly locale: string; readonly version: number; readonly body: string; readonly activate: boolean }
        | { readonly _tag: "Activate"; readonly locale: string; readonly version: number }
      const locale = fc.constantFrom("default", "pt", "pt-BR")
      const version = fc.integer({ min: 1, max: 4 })
      const command: fc.Arbitrary<Command> = fc.oneof(
        fc.record({
          _tag: fc.constant("Put" as const),
          locale,
          version,
          body: fc.constantFrom("one", "two", "three"),
          activate: fc.boolean()
        }),
        fc.record({ _tag: fc.constant("Activate" as const), locale, version })
      )
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 30 }), async (commands) => {
          const program = Effect.gen(function*() {
            const store = yield* Templates.TemplateStore
            const model = new Map<string, string>()
            const active = new Map<string, number>()
            for (const c of commands) {
              const key = `${c.locale}/${c.version}`
              if (c._tag === "Put") {
                const result = yield* Effect.exit(store.put({
                  id: "t",
                  locale: c.locale,
                  version: c.version,
                  body: c.body,
                  status: "pending",
                  createdAt: 0
                }, { activate: c.activate }))
                const first = model.get(key)
                if (first === undefined) {
                  if (!Exit.isSuccess(result) || result.value !== "inserted") return false
                  model.set(key, c.body)
                  if (c.activate) active.set(c.locale, c.version)
                } else if (first === c.body) {
                  if (!Exit.isSuccess(result) || result.value !== "unchanged") return false
                } else {
                  const error = Exit.findErrorOption(result)
                  if (Option.isNone(error) || reasonIn(error.value)._tag !== "TemplateVersionConflict") return false
                }
              } else {
                const result = yield* Effect.exit(store.activate("t", c.locale, c.version))
                if (model.has(key)) {
                  if (!Exit.isSuccess(result)) return false
                  active.set(c.locale, c.version)
                } else if (Exit.isSuccess(result)) return false
              }
              // every stored version still holds the content first put
              for (const [k, body] of model) {
                const [l, v] = k.split("/") as [string, string]
                const stored = yield* store.get("t", l, Number(v))
                if (Option.isNone(stored) || stored.value.body !== body) return false
              }
              for (const l of ["default", "pt", "pt-BR"]) {
                const current = yield* store.get("t", l)
                const expected = active.get(l)
                if (expected === undefined ? Option.isSome(current) : Option.isNone(current) || current.value.version !== expected) {
                  return false
                }
              }
            }
            return true
          })
          return Effect.runPromise(Effect.provide(program, storeLayer()))
        })
      )
    })

    it("the fallback chain picks the most specific existing locale", async () => {
      const language = fc.constantFrom("pt", "zh", "en", "sr")
      const script = fc.option(fc.constantFrom("Hant", "Latn", "Cyrl"), { nil: undefined })
      const region = fc.option(fc.constantFrom("BR", "TW", "US", "419"), { nil: undefined })
      const casing = fc.constantFrom("lower", "upper", "asis")
      await fc.assert(
        fc.asyncProperty(language, script, region, casing, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), async (lang, scr, reg, cas, present) => {
          const canonical = [lang, scr, reg].filter((s) => s !== undefined).join("-")
          const chain = Templates.fallbackChain(canonical)
          const requested = cas === "lower" ? canonical.toLowerCase() : cas === "upper" ? canonical.toUpperCase() : canonical
          // register a random subset of the chain (default always present)
          const locales: Record<string, string> = {}
          chain.forEach((l, i) => {
            if (l === "default" || present[i] === true) locales[l] = l
          })
          const expected = chain.find((l) => Object.hasOwn(locales, l))!
          const result = Templates.renderCompiled(
            Result.getOrThrow(Templates.compile({ id: "f", variables: Schema.Struct({}), locales })),
            { locale: requested, variables: {} }
          )
          const viaService = await Effect.runPromise(
            Templates.Templates.use((t) =>
              Effect.andThen(
                t.register({ id: "f", variables: Schema.Struct({}), locales }),
                t.render({ id: "f", locale: requested, variables: {} })
              )
            ).pipe(Effect.provide(Templates.layerMemory))
          )
          return Result.isSuccess(result) && result.success.locale === expected && result.success.text === expected &&
            viaService.locale === expected
        })
      )
    })
  })
})

describe("variables without effect", () => {
  const renderWith = (
    variables: unknown,
    input: unknown,
    body = "Hi {{name}}, code {{code}}, {{amount}}"
  ): Result.Result<Templates.Rendered, Templates.TemplateError> => {
    const compiled = Templates.compile({ id: "t", variables: variables as Templates.VariablesDeclaration, locales: { default: body } })
    if (Result.isFailure(compiled)) return Result.fail(compiled.failure)
    return Templates.renderCompiled(compiled.success, { variables: input })
  }
  const textOf = (result: Result.Result<Templates.Rendered, Templates.TemplateError>) => {
    if (Result.isFailure(result)) return assert.fail(String(result.failure.reason._tag))
    return result.success.text
  }
  const variableFailure = (result: Result.Result<unknown, Templates.TemplateError>) => {
    const reason = failureOf(result)
    if (reason._tag !== "InvalidTemplateVariables") return assert.fail(reason._tag)
    return { field: reason.field, variable: reason.variable, problem: reason.problem }
  }

  describe("plain declaration", () => {
    const plain = { name: { type: "string", maxLength: 5 }, code: "digits", amount: { type: "number", optional: true } } as const

    it("renders, and checks each variable by name", () => {
      assert.strictEqual(textOf(renderWith(plain, { name: "Ann", code: "0042", amount: 9.5 })), "Hi Ann, code 0042, 9.5")
      assert.strictEqual(textOf(renderWith(plain, { name: "Ann", code: "0042" })), "Hi Ann, code 0042, ")
      assert.deepStrictEqual(variableFailure(renderWith(plain, { code: "1" })), { field: "variables.name", variable: "name", problem: "missing" })
      assert.deepStrictEqual(variableFailure(renderWith(plain, { name: "Ann", code: "12a" })), { field: "variables.code", variable: "code", problem: "wrong-type" })
      assert.deepStrictEqual(variableFailure(renderWith(plain, { name: "Ann", code: 42 })), { field: "variables.code", variable: "code", problem: "wrong-type" })
      assert.deepStrictEqual(variableFailure(renderWith(plain, { name: "Ann", code: "1", amount: "9" })), { field: "variables.amount", variable: "amount", problem: "wrong-type" })
      assert.deepStrictEqual(variableFailure(renderWith(plain, { name: "Annabel", code: "1" })), { field: "variables.name", variable: "name", problem: "too-long" })
      assert.deepStrictEqual(variableFailure(renderWith(plain, { name: "Ann", code: "1", nmae: "x" })), { field: "variables.nmae", variable: "nmae", problem: "unexpected" })
    })

    it("a bad declaration is InvalidTemplate naming the variable", () => {
      for (const [variables, field] of [
        [{ name: "text", code: "digits", amount: "number" }, "variables.name"],
        [{ name: "string", code: { type: "digits", max: 3 }, amount: "number" }, "variables.code.max"],
        [{ name: "string", code: { type: "digits", maxLength: 0 }, amount: "number" }, "variables.code.maxLength"],
        [{ name: "string", code: "digits", amount: { type: "number", optional: "yes" } }, "variables.amount.optional"]
      ] as const) {
        const reason = failureOf(renderWith(variables, {}))
        assert.strictEqual(reason._tag, "InvalidTemplate")
        assert.strictEqual((reason as Templates.InvalidTemplate).field, field)
      }
    })

    it("types a typed render from the declaration", () => {
      const receipt = Templates.define({ id: "receipt", variables: { name: "string", total: "number" }, maxLength: { name: 20 }, locales: { default: "{{name}}: {{total}}" } })
      const variables: Templates.VariablesOf<typeof receipt> = { name: "Ann", total: 3 }
      const asConfig: ReadonlyArray<Templates.TemplateDefinition> = [receipt]
      assert.strictEqual(asConfig.length, 1)
      // @ts-expect-error total is a number
      const wrong: Templates.VariablesOf<typeof receipt> = { name: "Ann", total: "3" }
      assert.isDefined(wrong)
      return Effect.runPromise(run(Effect.gen(function*() {
        const templates = yield* Templates.Templates
        yield* templates.register(receipt)
        const rendered = yield* Templates.render(receipt, { variables })
        assert.strictEqual(rendered.text, "Ann: 3")
      })))
    })

    it("any extra key is unexpected, named; any valid values render (properties)", () => {
      const spec = fc.constantFrom<Templates.VariableType>("string", "digits", "number")
      const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/)
      fc.assert(fc.property(fc.dictionary(name, spec, { minKeys: 1, maxKeys: 5 }), name, (declared, extra) => {
        fc.pre(!Object.hasOwn(declared, extra))
        const values: Record<string, unknown> = {}
        for (const [k, t] of Object.entries(declared)) values[k] = t === "number" ? 7 : t === "digits" ? "0123" : "ok"
        const body = Object.keys(declared).map((k) => `{{${k}}}`).join(" ")
        assert.isTrue(Result.isSuccess(renderWith(declared, values, body)))
        assert.deepStrictEqual(variableFailure(renderWith(declared, { ...values, [extra]: "x" }, body)), {
          field: `variables.${extra}`,
          variable: extra,
          problem: "unexpected"
        })
      }))
    })
  })

  describe("Standard Schema", () => {
    const Fields = Schema.Struct({ name: Schema.String, code: Schema.String, amount: Schema.Number })
    // only the Standard Schema face: no `fields`, so names come from the bodies
    const bare = { "~standard": Schema.toStandardSchemaV1(Fields)["~standard"] }
    // a zod-like schema: a `shape` and a hand-written validate
    const zodLike = {
      shape: { name: {}, code: {}, amount: {} },
      "~standard": {
        version: 1 as const,
        vendor: "test",
        validate: (value: unknown) => {
          const v = value as Record<string, unknown>
          for (const key of ["name", "code", "amount"]) {
            if (!(key in v)) return { issues: [{ message: "Required", path: [{ key }] }] }
          }
          return typeof v["amount"] === "number" ? { value } : { issues: [{ message: "Expected number", path: ["amount"] }] }
        }
      }
    }

    it("renders and names the variable in InvalidTemplateVariables", () => {
      for (const schema of [bare, zodLike, Schema.toStandardSchemaV1(Fields)]) {
        assert.strictEqual(textOf(renderWith(schema, { name: "Ann", code: "1", amount: 2 })), "Hi Ann, code 1, 2")
        assert.deepStrictEqual(variableFailure(renderWith(schema, { name: "Ann", code: "1", amount: "2" })), { field: "variables.amount", variable: "amount", problem: "wrong-type" })
        assert.deepStrictEqual(variableFailure(renderWith(schema, { name: "Ann", amount: 2 })), { field: "variables.code", variable: "code", problem: "missing" })
        assert.deepStrictEqual(variableFailure(renderWith(schema, { name: "Ann", code: "1", amount: 2, extra: 1 })), { field: "variables.extra", variable: "extra", problem: "unexpected" })
      }
    })

    it("a throwing Standard Schema fails the render, never throws", () => {
      const throwing = { "~standard": { version: 1 as const, vendor: "test", validate: (): never => { throw new Error("boom") } } }
      assert.deepStrictEqual(variableFailure(renderWith(throwing, { name: "a", code: "1", amount: 1 })), { field: "variables", variable: "", problem: "wrong-type" })
    })

    it("an async Standard Schema fails the render as wrong-type, never hangs", () => {
      const asyncSchema = { "~standard": { version: 1 as const, vendor: "test", validate: (value: unknown) => Promise.resolve({ value }) } }
      assert.deepStrictEqual(variableFailure(renderWith(asyncSchema, { name: "a", code: "1", amount: 1 })), { field: "variables", variable: "", problem: "wrong-type" })
    })
  })
})

describe("Templates on a store that does not answer", () => {
  it.effect("a KeyValueStore call past its timeout is StoreUnavailable, and the service reports TemplateError { StoreUnavailable }", () =>
    Effect.gen(function*() {
      const hung = KeyValueStore.makeStringOnly({
        get: () => Effect.never,
        set: () => Effect.never,
        remove: () => Effect.never,
        clear: Effect.never,
        size: Effect.never,
        keys: Effect.never
      })
      const store = Templates.makeStoreKeyValue(hung, "t/", "1 second")
      const fiber = yield* Effect.forkChild(Effect.flip(store.get("welcome", "default")))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "StoreUnavailable")
      const templates = yield* Templates.make().pipe(Effect.provide(Layer.succeed(Templates.TemplateStore, store)))
      const listing = yield* Effect.forkChild(Effect.flip(templates.versions("welcome")))
      yield* TestClock.adjust("1 second")
      const reported = yield* Fiber.join(listing)
      assert.strictEqual(reported.reason._tag, "StoreUnavailable")
      assert.isTrue(reported.isRetryable)
    }))
})
