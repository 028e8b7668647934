/**
 * `smsforge dev --demo`: an online store's traffic so the console fills
 * with what a real one sends — sign-up codes checked (sometimes wrongly at
 * first), and order notices (shipped, in customs, out for delivery) in
 * English, German, Spanish and Chinese.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { Sms, type Templates, Verification } from "smsforge"

/**
 * The store's notice templates, approved so region rules let them through.
 *
 * @category demo
 * @since 0.2.0
 */
export const templates: ReadonlyArray<Templates.TemplateDefinition> = [
  {
    id: "order-shipped",
    variables: { order: "string", carrier: "string" },
    status: "approved",
    locales: {
      default: "[ShopLane] Your order {{order}} has shipped with {{carrier}}. Track it at shoplane.example/t/{{order}}",
      de: "[ShopLane] Ihre Bestellung {{order}} wurde mit {{carrier}} versandt. Sendungsverfolgung: shoplane.example/t/{{order}}",
      es: "[ShopLane] Tu pedido {{order}} ha salido con {{carrier}}. Síguelo en shoplane.example/t/{{order}}",
      "zh-CN": "【闪购】您的订单{{order}}已由{{carrier}}发出，查询物流请访问 shoplane.example/t/{{order}}"
    }
  },
  {
    id: "order-customs",
    variables: { order: "string" },
    status: "approved",
    locales: {
      default: "[ShopLane] Order {{order}} is in customs clearance. No action is needed; we will text you when it moves on.",
      de: "[ShopLane] Bestellung {{order}} ist in der Zollabfertigung. Sie müssen nichts tun.",
      es: "[ShopLane] El pedido {{order}} está en aduanas. No tienes que hacer nada.",
      "zh-CN": "【闪购】您的订单{{order}}正在清关，无需任何操作，放行后我们会短信通知您。"
    }
  },
  {
    id: "order-out-for-delivery",
    variables: { order: "string", window: "string" },
    status: "approved",
    locales: {
      default: "[ShopLane] Order {{order}} is out for delivery today, {{window}}.",
      de: "[ShopLane] Bestellung {{order}} wird heute zugestellt, {{window}}.",
      es: "[ShopLane] El pedido {{order}} se entrega hoy, {{window}}.",
      "zh-CN": "【闪购】您的订单{{order}}今天{{window}}派送，请保持电话畅通。"
    }
  }
]

interface Shopper {
  readonly to: string
  readonly locale: string
  readonly carrier: string
}

// Numbers from ranges that are valid mobiles in each plan.
const shoppers: ReadonlyArray<Shopper> = [
  ...["+447400123401", "+447400123402", "+447400123403", "+447911234567"].map((to) => ({ to, locale: "en-GB", carrier: "Royal Mail" })),
  ...["+4915112345671", "+4915112345672", "+4917612345673"].map((to) => ({ to, locale: "de", carrier: "DHL" })),
  ...["+34612345671", "+34612345672"].map((to) => ({ to, locale: "es", carrier: "Correos" })),
  ...["+8613800138001", "+8613900139002", "+8618600186003"].map((to) => ({ to, locale: "zh-CN", carrier: "顺丰速运" }))
]

const pickOne = <A>(items: ReadonlyArray<A>): A => items[Math.floor(Math.random() * items.length)]!

const orderNumber = () => `SL${Math.floor(100_000 + Math.random() * 900_000)}`

const window = (locale: string) => {
  const from = 9 + Math.floor(Math.random() * 8)
  return locale === "zh-CN" ? `${from}:00-${from + 2}:00` : `${from}:00–${from + 2}:00`
}

const CODE = /(?<!\d)(\d{4,10})(?!\d)/

// A sign-up: a code is sent; the shopper types it, sometimes wrongly first,
// sometimes never (the verification then expires). The code is read off the
// fake phone (the Sandbox's last text to that number), as a person reads it.
const signUp = (lastTextTo: (to: string) => string | undefined) =>
  Effect.gen(function*() {
    const verification = yield* Verification.Verification
    // China's default region rules want an approved template for every SMS,
    // which a verification code cannot name yet: Chinese shoppers get notices only.
    const shopper = pickOne(shoppers.filter((s) => !s.to.startsWith("+86")))
    const started = yield* verification.start({ to: shopper.to, locale: shopper.locale, tenant: "shoplane" })
    const roll = Math.random()
    if (roll < 0.1) return
    yield* Effect.sleep(`${1_000 + Math.floor(Math.random() * 3_000)} millis`)
    if (roll < 0.25) yield* verification.check({ verificationId: started.verificationId, code: "000000", tenant: "shoplane" })
    const text = lastTextTo(started.to)
    const code = text === undefined ? undefined : CODE.exec(text)?.[1]
    if (code !== undefined) yield* verification.check({ verificationId: started.verificationId, code, tenant: "shoplane" })
  })

const notice = Effect.gen(function*() {
  const sms = yield* Sms.Sms
  const shopper = pickOne(shoppers)
  const order = orderNumber()
  const template = pickOne(["order-shipped", "order-shipped", "order-customs", "order-out-for-delivery"])
  const variables = template === "order-shipped"
    ? { order, carrier: shopper.carrier }
    : template === "order-customs"
    ? { order }
    : { order, window: window(shopper.locale) }
  yield* sms.send({ to: shopper.to, template, variables, locale: shopper.locale, tenant: "shoplane" })
})

/**
 * Runs the demo until interrupted: about one event a second.
 *
 * @category demo
 * @since 0.2.0
 */
export const run = (lastTextTo: (to: string) => string | undefined) =>
  Effect.gen(function*() {
    const startSignUp: Effect.Effect<void, never, Sms.Sms | Verification.Verification> = Effect.asVoid(Effect.forkChild(Effect.ignore(signUp(lastTextTo))))
    const sendNotice: Effect.Effect<void, never, Sms.Sms | Verification.Verification> = Effect.ignore(notice)
    const step = Effect.suspend(() => Math.random() < 0.45 ? startSignUp : sendNotice)
    yield* Effect.repeat(
      Effect.andThen(step, Effect.suspend(() => Effect.sleep(`${400 + Math.floor(Math.random() * 1_000)} millis`))),
      Schedule.forever
    )
  })
