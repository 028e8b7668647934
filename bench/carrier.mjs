// What the benches' no-op carriers declare: an SMS carrier taking every kind
// of sender, so routing never rules one out.
export const capabilities = {
  channel: "sms",
  unicode: true,
  concatenation: true,
  deliveryReceipts: false,
  inbound: false,
  senderTypes: ["alphanumeric", "long-code"]
}
