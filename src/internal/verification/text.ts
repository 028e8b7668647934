/**
 * Built-in verification message texts, one per language, with fallback from
 * a regional tag (`pt-BR`) to its language (`pt`) and then to English.
 *
 * @internal
 */

/** @internal */
export interface TextContext {
  /** The code as it should appear: digits for SMS and email, spaced digits for voice. */
  readonly code: string
  readonly minutes: number
  readonly brand?: string | undefined
}

type Template = (context: TextContext) => string

const plural = (n: number, one: string, many: string): string => (n === 1 ? one : many)

const templates: Readonly<Record<string, Template>> = {
  en: ({ code, minutes }) =>
    `Your verification code is ${code}. It expires in ${minutes} ${plural(minutes, "minute", "minutes")}.`,
  es: ({ code, minutes }) =>
    `Tu código de verificación es ${code}. Caduca en ${minutes} ${plural(minutes, "minuto", "minutos")}.`,
  fr: ({ code, minutes }) =>
    `Votre code de vérification est ${code}. Il expire dans ${minutes} ${plural(minutes, "minute", "minutes")}.`,
  de: ({ code, minutes }) =>
    `Ihr Bestätigungscode lautet ${code}. Er läuft in ${minutes} ${plural(minutes, "Minute", "Minuten")} ab.`,
  pt: ({ code, minutes }) =>
    `Seu código de verificação é ${code}. Ele expira em ${minutes} ${plural(minutes, "minuto", "minutos")}.`,
  it: ({ code, minutes }) =>
    `Il tuo codice di verifica è ${code}. Scade tra ${minutes} ${plural(minutes, "minuto", "minuti")}.`,
  nl: ({ code, minutes }) =>
    `Je verificatiecode is ${code}. Deze verloopt over ${minutes} ${plural(minutes, "minuut", "minuten")}.`,
  pl: ({ code, minutes }) => `Twój kod weryfikacyjny to ${code}. Wygasa za ${minutes} min.`,
  tr: ({ code, minutes }) => `Doğrulama kodunuz ${code}. ${minutes} dakika içinde geçerliliğini yitirir.`,
  ru: ({ code, minutes }) => `Ваш код подтверждения: ${code}. Он действует ${minutes} мин.`,
  zh: ({ code, minutes }) => `您的验证码是${code}，${minutes}分钟内有效。`,
  ja: ({ code, minutes }) => `認証コードは${code}です。有効期限は${minutes}分です。`,
  ko: ({ code, minutes }) => `인증 코드는 ${code}입니다. ${minutes}분 후에 만료됩니다.`,
  id: ({ code, minutes }) => `Kode verifikasi Anda adalah ${code}. Berlaku selama ${minutes} menit.`,
  hi: ({ code, minutes }) => `आपका सत्यापन कोड ${code} है। यह ${minutes} मिनट में समाप्त हो जाएगा।`,
  ar: ({ code, minutes }) => `رمز التحقق الخاص بك هو ${code}. تنتهي صلاحيته خلال ${minutes} دقائق.`
}

/**
 * The languages with a built-in text.
 *
 * @internal
 */
export const builtInLocales: ReadonlyArray<string> = Object.keys(templates)

/**
 * Picks the built-in language for a locale tag: exact language, else English.
 *
 * @internal
 */
export const resolveLocale = (locale: string | undefined): string => {
  if (locale === undefined) return "en"
  // Most records carry a built-in language as it is ("en"): no string work then.
  if (Object.hasOwn(templates, locale)) return locale
  const language = locale.toLowerCase().split(/[-_]/)[0] ?? "en"
  return Object.hasOwn(templates, language) ? language : "en"
}

/**
 * Renders the built-in text for a resolved locale.
 *
 * @internal
 */
export const render = (locale: string, context: TextContext): string => {
  const template = templates[locale] ?? templates["en"]!
  const body = template(context)
  return context.brand === undefined || context.brand === "" ? body : `${context.brand}: ${body}`
}

/**
 * Digits read out one at a time by a text-to-speech voice.
 *
 * @internal
 */
export const spellOut = (code: string): string => code.split("").join(", ")
