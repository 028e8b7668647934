/**
 * Ready-made order and logistics notice templates in English (the default),
 * Simplified Chinese, German, French, Spanish and Japanese.
 *
 * **Details**
 * - The brand is written into every body, so it is no variable a caller
 *   could change: in English, German, French, Spanish and Japanese as a
 *   prefix (`Acme: …`), in Chinese as the 【Acme】 signature carriers in
 *   mainland China require at the start.
 * - Variables: `order` (the order's name), and for tracked shipments
 *   `carrier` and `tracking`; each at most 80 characters.
 * - The templates are `pending` until you say your carriers approved them:
 *   `noticeTemplates({ brand, approved: true })`. A pending template is
 *   refused before sending (see `Notices`).
 *
 * @since 0.3.0
 */
import * as Schema from "effect/Schema"
import type { Templates } from "smsforge"
import type { Stage } from "./OrderEvents.ts"

/**
 * The template a stage sends: `commerce-<stage>`, and
 * `commerce-fulfilled-tracked` when a shipment has a tracking number.
 *
 * @category models
 * @since 0.3.0
 */
export type NoticeTemplateId = `commerce-${Stage}` | "commerce-fulfilled-tracked"

type Bodies = Readonly<Record<"default" | "zh-Hans" | "de" | "fr" | "es" | "ja", string>>

// `B` stands for the brand; it is replaced once, when the definitions are built.
const bodies: Readonly<Record<NoticeTemplateId, Bodies>> = {
  "commerce-placed": {
    default: "B: we have your order {{order}}. We will text you when it ships.",
    "zh-Hans": "【B】您的订单{{order}}已提交，发货后我们会短信通知您。",
    de: "B: Ihre Bestellung {{order}} ist eingegangen. Wir melden uns beim Versand.",
    fr: "B : votre commande {{order}} est enregistrée. Nous vous écrirons à l'expédition.",
    es: "B: hemos recibido su pedido {{order}}. Le avisaremos cuando se envíe.",
    ja: "B：ご注文{{order}}を承りました。発送時にお知らせします。"
  },
  "commerce-paid": {
    default: "B: payment for order {{order}} is confirmed.",
    "zh-Hans": "【B】订单{{order}}已付款成功。",
    de: "B: Die Zahlung für Bestellung {{order}} ist bestätigt.",
    fr: "B : le paiement de la commande {{order}} est confirmé.",
    es: "B: el pago del pedido {{order}} está confirmado.",
    ja: "B：ご注文{{order}}のお支払いを確認しました。"
  },
  "commerce-fulfilled": {
    default: "B: order {{order}} has shipped.",
    "zh-Hans": "【B】订单{{order}}已发货。",
    de: "B: Bestellung {{order}} wurde versandt.",
    fr: "B : la commande {{order}} a été expédiée.",
    es: "B: el pedido {{order}} ha sido enviado.",
    ja: "B：ご注文{{order}}を発送しました。"
  },
  "commerce-fulfilled-tracked": {
    default: "B: order {{order}} has shipped with {{carrier}}, tracking number {{tracking}}.",
    "zh-Hans": "【B】订单{{order}}已由{{carrier}}发出，运单号{{tracking}}。",
    de: "B: Bestellung {{order}} ist mit {{carrier}} unterwegs, Sendungsnummer {{tracking}}.",
    fr: "B : la commande {{order}} est expédiée par {{carrier}}, numéro de suivi {{tracking}}.",
    es: "B: el pedido {{order}} se ha enviado con {{carrier}}, número de seguimiento {{tracking}}.",
    ja: "B：ご注文{{order}}を{{carrier}}で発送しました。追跡番号{{tracking}}。"
  },
  "commerce-in_transit": {
    default: "B: order {{order}} is in transit.",
    "zh-Hans": "【B】订单{{order}}正在运输途中。",
    de: "B: Bestellung {{order}} ist unterwegs.",
    fr: "B : la commande {{order}} est en cours d'acheminement.",
    es: "B: el pedido {{order}} está en tránsito.",
    ja: "B：ご注文{{order}}は輸送中です。"
  },
  "commerce-in_customs": {
    default: "B: order {{order}} is in customs clearance.",
    "zh-Hans": "【B】订单{{order}}正在清关。",
    de: "B: Bestellung {{order}} ist in der Zollabfertigung.",
    fr: "B : la commande {{order}} est en dédouanement.",
    es: "B: el pedido {{order}} está en aduanas.",
    ja: "B：ご注文{{order}}は通関手続き中です。"
  },
  "commerce-out_for_delivery": {
    default: "B: order {{order}} is out for delivery today.",
    "zh-Hans": "【B】订单{{order}}正在派送中。",
    de: "B: Bestellung {{order}} wird heute zugestellt.",
    fr: "B : la commande {{order}} est en cours de livraison.",
    es: "B: el pedido {{order}} está en reparto.",
    ja: "B：ご注文{{order}}は本日配達予定です。"
  },
  "commerce-delivered": {
    default: "B: order {{order}} has been delivered.",
    "zh-Hans": "【B】订单{{order}}已签收。",
    de: "B: Bestellung {{order}} wurde zugestellt.",
    fr: "B : la commande {{order}} a été livrée.",
    es: "B: el pedido {{order}} ha sido entregado.",
    ja: "B：ご注文{{order}}の配達が完了しました。"
  },
  "commerce-exception": {
    default: "B: there is a problem delivering order {{order}}. Please check your tracking page.",
    "zh-Hans": "【B】订单{{order}}派送异常，请查看物流信息。",
    de: "B: Bei der Zustellung von Bestellung {{order}} gibt es ein Problem. Bitte prüfen Sie die Sendungsverfolgung.",
    fr: "B : un problème retarde la livraison de la commande {{order}}. Consultez le suivi.",
    es: "B: hay un problema con la entrega del pedido {{order}}. Consulte el seguimiento.",
    ja: "B：ご注文{{order}}の配達に問題が発生しました。追跡情報をご確認ください。"
  }
}

/**
 * The template ids, one per stage plus the tracked shipment.
 *
 * @category constants
 * @since 0.3.0
 */
export const noticeTemplateIds = Object.keys(bodies) as ReadonlyArray<NoticeTemplateId>

/**
 * @category models
 * @since 0.3.0
 */
export interface NoticeTemplateOptions {
  /** The shop's name as customers know it; 2 to 16 characters, no braces or 【】. */
  readonly brand: string
  /** Your carriers approved these texts (required before use); `false` by default. */
  readonly approved?: boolean | undefined
  /** The template version; bump it when you change the brand. `1` by default. */
  readonly version?: number | undefined
}

/**
 * A brand that cannot be written into a template: its length or a character.
 *
 * @category errors
 * @since 0.3.0
 */
export class InvalidBrand extends Schema.TaggedError<InvalidBrand>("smsforge/commerce/InvalidBrand")("InvalidBrand", {
  field: Schema.String
}) {
  override get message(): string {
    return "InvalidBrand: brand must be 2 to 16 characters without braces, backslashes or 【】"
  }
}

const BRAND = /^[^{}\\【】\r\n]{2,16}$/u

/**
 * The notice templates, with the brand written in, to register with the
 * client (`createSmsClient({ templates: noticeTemplates({ brand }) })`).
 * Throws {@link InvalidBrand} for a brand that cannot be written into a body:
 * it is configuration, fixed at start-up.
 *
 * @category constructors
 * @since 0.3.0
 */
export const noticeTemplates = (options: NoticeTemplateOptions): ReadonlyArray<Templates.TemplateDefinition> => {
  if (!BRAND.test(options.brand)) throw new InvalidBrand({ field: "brand" })
  const brand = options.brand
  return noticeTemplateIds.map((id) => {
    const tracked = id === "commerce-fulfilled-tracked"
    const locales: Record<string, string> = {}
    for (const [locale, body] of Object.entries(bodies[id])) locales[locale] = body.replace(/^(【)?B/u, `$1${brand}`)
    return {
      id,
      version: options.version ?? 1,
      status: options.approved === true ? "approved" : "pending",
      variables: tracked
        ? { order: { type: "string", maxLength: 80 }, carrier: { type: "string", maxLength: 80 }, tracking: { type: "string", maxLength: 80 } }
        : { order: { type: "string", maxLength: 80 } },
      locales
    }
  })
}
