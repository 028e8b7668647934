// Segmenting a message: smsforge's Encoding.analyze against the peers a user
// would otherwise pick (sms-segments-calculator, split-sms, sms-length) and a
// bare lookup-table loop, all in one run, on one realistic corpus.
//
//   npx tsup && node --expose-gc bench/encoding.bench.mjs
//
// Prints µs of CPU time per message (process.cpuUsage, so that other load on
// the machine inflates the figures less than wall time would; each figure is
// the median of round-robin slices), the ratio to smsforge, and how many corpus cases each
// implementation segments differently from smsforge (whose answers on the
// boundary cases are the 3GPP TS 23.038/23.040 vectors in test/Encoding.test.ts).
import { createRequire } from "node:module"
import { Encoding } from "../dist/index.js"

const require = createRequire(import.meta.url)
const { SegmentedMessage } = require("sms-segments-calculator")
const splitSms = require("split-sms")
const smsLength = require("sms-length")

// ---------------------------------------------------------------------------
// corpus

const a = (n) => "a".repeat(n)
const x = (n) => "x".repeat(n)

const corpus = [
  // OTP
  ["otp", "Your verification code is 483920. It expires in 10 minutes. Do not share it with anyone."],
  ["otp", "483920 is your Acme code. Don't share it. @acme.example #483920"],
  ["otp", "G-582014 is your Google verification code."],
  ["otp", "Ihr Bestätigungscode lautet 558201. Gültig für 5 Minuten."],
  ["otp", "Votre code de vérification est 771203. Ne le partagez avec personne."],
  ["otp", "Tu código de verificación es 449120"],
  ["otp", "您的验证码是662910，5分钟内有效，请勿泄露给他人。"],
  ["otp", "Ваш код подтверждения: 381204. Никому его не сообщайте."],
  ["otp", "Kodunuz: 120934. Bu kodu kimseyle paylaşmayın."],
  // logistics
  ["logistics", "Your parcel 1Z999AA10123456784 is out for delivery today between 10:00-14:00. Track it: https://trk.example.com/p/1Z999AA10123456784 Reply STOP to opt out."],
  ["logistics", "DHL: Ihre Sendung 00340434161094042557 wird heute zugestellt. Zeitfenster 12:30–14:30. Ändern: https://dhl.example/s/9f2k"],
  ["logistics", "Order #88231 shipped! Total €42.50 [paid]. Questions? Reply HELP {ref: A7-22} ~ see https://shop.example/o/88231"],
  ["logistics", "【顺丰速运】您的快件SF1234567890已由快递员张三派送，预计今天18:00前送达，请保持电话畅通。如有疑问请致电95338。"],
  ["logistics", "Ваш заказ №45821 передан в доставку. Курьер свяжется с вами за час до прибытия. Трек-номер: RU123456789CN. Спасибо, что выбрали нас!"],
  ["logistics", "Olá! Seu pedido 3321 foi enviado e chega amanhã. Acompanhe em https://ex.pt/t/3321"],
  ["logistics", "Your driver Ahmed is 5 min away 🚚 Plate: AB12 CDE. Leave at door? Reply YES/NO."],
  // accents, extension characters
  ["accents", "Crème brûlée à la carte — ça coûte 5 € ce soir."],
  ["accents", "Å, Ä, Ö, Ñ, Ü, ß, é, è, ù, ì, ò, Ç, Ø, æ: all GSM-7. ¿Sí? ¡Claro! §12 £5 ¥300 ¤"],
  ["accents", "Zażółć gęślą jaźń — polski tekst wymaga UCS-2."],
  ["extension", "Use code {SAVE20} at checkout [web|app] ~ €20 off ^ limited \\ today"],
  // long multipart
  ["long", "Dear customer, thank you for your order with Example Store. We are pleased to confirm that your order #A-4471-2291 has been received and is now being prepared for shipment. You will receive another message with tracking details as soon as your parcel leaves our warehouse. If you have any questions about your order, please contact our support team at support@example.com or call us on 0800 123 4567, Monday to Friday, 9am to 5pm. Thank you for shopping with us!"],
  ["long", ("Balance: €1,250.00 [EUR] | Pending: {3} transfers ~ review at https://bank.example/a ^ ").repeat(4)],
  ["long", "Уважаемый клиент! Сообщаем, что с 1 декабря изменяются условия обслуживания по вашему тарифу. Подробности вы можете узнать в личном кабинете или по телефону горячей линии 8-800-555-35-35. Благодарим вас за то, что остаётесь с нами!"],
  ["long", "亲爱的会员：您好！感谢您一直以来对我们的支持。本周末全场商品八折优惠，会员额外享受九五折。活动时间：12月1日至12月3日。详情请访问我们的官方网站或下载手机应用查看。回复TD退订。"],
  ["emoji", "🎉 Big winter sale! 🎉 Up to 50% off everything ❄️ Shop now at https://shop.example/sale 🛍️ Offer ends Sunday. Reply STOP to unsubscribe 👋 See you soon! 😀😀"],
  ["emoji", "Happy birthday! 🎂🥳 Love from all of us 👨‍👩‍👧‍👦 ❤️ See you at 7pm 🇫🇷🇬🇧"],
  // boundary cases (see test/Encoding.test.ts)
  ["boundary", a(160)],
  ["boundary", a(161)],
  ["boundary", a(152) + "€" + a(152)],
  ["boundary", a(159) + "\f"],
  ["boundary", "П".repeat(70)],
  ["boundary", "П".repeat(71)],
  ["boundary", x(66) + "😀" + x(66)],
  ["boundary", x(60) + "👨‍👩‍👧‍👦" + x(63)],
  ["boundary", x(65) + "🇫🇷" + x(65)],
  ["boundary", x(66) + "e\u0301" + x(66)],
  ["boundary", x(64) + "❤️‍🔥" + x(65)],
  ["boundary", x(65) + "👍🏽" + x(65)],
  ["boundary", "a" + "\u0301".repeat(100)],
  ["boundary", ""]
]

// ---------------------------------------------------------------------------
// bare lookup-table loops: a Uint8Array keyed by char code, one pass, segment
// count only (no segments, no result object, no list of non-GSM characters).
// - "same rules": escape pairs and surrogate pairs never split, grapheme
//   clusters kept whole (Intl.Segmenter, the obvious way, when a UCS-2 text
//   is multipart);
// - "no clusters": the same without the grapheme rule: a lower bound, and
//   wrong where a cluster straddles a boundary.

const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
const EXTENSION = "\f^{}\\[~]|€"
const TABLE = new Uint8Array(65536)
for (const c of EXTENSION) TABLE[c.charCodeAt(0)] = 2
for (const c of BASIC) TABLE[c.charCodeAt(0)] = 1
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })

const bareGsm = (text) => {
  const n = text.length
  let units = 0
  let i = 0
  for (; i < n; i++) {
    const cost = TABLE[text.charCodeAt(i)]
    if (cost === 0) return -1
    units += cost
  }
  if (units <= 160) return 1
  let count = 1
  let used = 0
  for (let j = 0; j < n; j++) {
    const cost = TABLE[text.charCodeAt(j)]
    if (used + cost > 153) {
      count++
      used = 0
    }
    used += cost
  }
  return count
}

const bareNoClusters = (text) => {
  const gsm = bareGsm(text)
  if (gsm > 0) return gsm
  const n = text.length
  if (n <= 70) return 1
  let count = 1
  let start = 0
  while (n - start > 67) {
    let end = start + 67
    const c = text.charCodeAt(end - 1)
    if (c >= 0xd800 && c <= 0xdbff) end--
    start = end
    count++
  }
  return count
}

const bareSameRules = (text) => {
  const gsm = bareGsm(text)
  if (gsm > 0) return gsm
  if (text.length <= 70) return 1
  let count = 1
  let used = 0
  for (const { segment } of segmenter.segment(text)) {
    const size = segment.length
    if (used + size <= 67) {
      used += size
    } else if (size <= 67) {
      count++
      used = size
    } else {
      // a cluster longer than a segment: fill code point by code point
      for (const cp of segment) {
        if (used + cp.length > 67) {
          count++
          used = 0
        }
        used += cp.length
      }
    }
  }
  return count
}

// ---------------------------------------------------------------------------
// contenders: each returns a segment count

const contenders = [
  ["smsforge Encoding.analyze", (t) => Encoding.analyze(t).segments.length],
  ["bare loop, same rules", bareSameRules],
  ["bare loop, no clusters", bareNoClusters],
  ["sms-length 0.2.2", (t) => smsLength.count(t).messages],
  ["split-sms 0.1.7", (t) => splitSms.split(t).parts.length],
  ["sms-segments-calculator 1.3.0", (t) => new SegmentedMessage(t).segmentsCount]
]

const texts = corpus.map(([, text]) => text)
const reference = texts.map((t) => Encoding.analyze(t).segments.length)

let sink = 0
const gc = globalThis.gc ?? (() => {})

/** This process's CPU time in µs: unlike wall time, it does not count while other processes hold the cores. */
const cpu = () => {
  const { system, user } = process.cpuUsage()
  return user + system
}

/** µs (CPU) per message over `list`, one timed slice of about budgetMs. */
const slice = (fn, list, budgetMs) => {
  let messages = 0
  const start = cpu()
  let elapsed = 0
  const budget = budgetMs * 1000
  // at least 400 messages between two readings of the clock (a system call)
  const reps = Math.ceil(400 / Math.max(1, list.length))
  while (elapsed < budget) {
    for (let r = 0; r < reps; r++) for (const t of list) sink += fn(t)
    messages += reps * list.length
    elapsed = cpu() - start
  }
  return elapsed / messages
}

/**
 * Median µs per message of each function, measured round-robin (one slice of
 * each per round) so that load on the machine colours them all alike.
 */
const measureAll = (fns, list, budgetMs = 150, rounds = 7) => {
  // No forced collection between slices: a forced (memory-reducing) full GC
  // shrinks the young generation, so the next slice of any allocating
  // contender (smsforge builds a result and its segments) pays for many small
  // scavenges — three to five times its steady-state cost — while the bare
  // loops, which allocate nothing, do not. Steady state is what production sees.
  for (const fn of fns) for (let i = 0; i < 3; i++) for (const t of list) sink += fn(t) // warm up
  const samples = fns.map(() => [])
  for (let r = 0; r < rounds; r++) fns.forEach((fn, i) => samples[i].push(slice(fn, list, budgetMs)))
  return samples.map((xs) => xs.sort((p, q) => p - q)[Math.floor(xs.length / 2)])
}

const fmt = (us) => (us < 10 ? us.toFixed(3) : us < 100 ? us.toFixed(2) : us.toFixed(1))

console.log(`encoding: ${corpus.length} messages (${new Set(corpus.map(([k]) => k)).size} kinds), node ${process.version}`)
const wrongs = contenders.map(([, fn]) => {
  const wrong = []
  texts.forEach((t, i) => {
    let got
    try {
      got = fn(t)
    } catch {
      got = "threw"
    }
    if (got !== reference[i]) wrong.push(`${corpus[i][0]}#${i}: ${got} vs ${reference[i]}`)
  })
  return wrong
})
// sms-segments-calculator is three orders of magnitude slower: give it the same rounds, shorter slices
const fast = measureAll(contenders.slice(0, 4).map(([, fn]) => fn), texts)
const slow = measureAll(contenders.slice(4).map(([, fn]) => fn), texts, 300, 3)
const rows = contenders.map(([name], i) => ({ name, us: [...fast, ...slow][i], wrong: wrongs[i] }))
const ours = rows[0].us
console.log()
console.log("implementation".padEnd(32), "µs/message".padStart(11), "vs smsforge".padStart(12), "  wrong segment counts")
for (const { name, us, wrong } of rows) {
  console.log(
    name.padEnd(32),
    fmt(us).padStart(11),
    `${(us / ours).toFixed(2)}x`.padStart(12),
    `  ${wrong.length}/${texts.length}`
  )
}
console.log()
for (const { name, wrong } of rows) {
  if (wrong.length > 0) console.log(`${name} differs on: ${wrong.join("; ")}`)
}

// per kind: smsforge against the bare loops
console.log()
console.log("kind".padEnd(12), "smsforge µs".padStart(12), "same rules".padStart(11), "ratio".padStart(7), "no clusters".padStart(12), "ratio".padStart(7))
for (const kind of [...new Set(corpus.map(([k]) => k))]) {
  const list = corpus.filter(([k]) => k === kind).map(([, t]) => t)
  const [o, b, c] = measureAll([contenders[0][1], bareSameRules, bareNoClusters], list, 60, 5)
  console.log(
    kind.padEnd(12),
    fmt(o).padStart(12),
    fmt(b).padStart(11),
    `${(o / b).toFixed(2)}x`.padStart(7),
    fmt(c).padStart(12),
    `${(o / c).toFixed(2)}x`.padStart(7)
  )
}
const full = (t) => {
  const r = Encoding.analyze(t)
  return r.segments.length + r.nonGsmCharacters.length + r.units
}
const smart = (t) => Encoding.analyze(t, { smartEncoding: true }).segments.length
const [f, sm] = measureAll([full, smart], texts)
console.log()
console.log(`smsforge analyze, reading every field: ${fmt(f)} µs/message`)
console.log(`smsforge analyze with smartEncoding: ${fmt(sm)} µs/message`)
if (sink === -1) console.log(sink)

// ENCODING_BENCH_DETAIL=1: per message, smsforge against sms-length and the bare loop
if (process.env.ENCODING_BENCH_DETAIL) {
  console.log()
  corpus.forEach(([kind, t], i) => {
    const [o, l, b] = measureAll([contenders[0][1], contenders[3][1], bareNoClusters], [t], 20, 3)
    console.log(`${kind}#${i}`.padEnd(14), `len ${t.length}`.padEnd(8), fmt(o).padStart(8), fmt(l).padStart(8), fmt(b).padStart(8))
  })
}
