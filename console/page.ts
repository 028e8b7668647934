/**
 * The console page: one HTML document with its style and a small script,
 * no build step. The script reads the console's JSON endpoints and
 * re-reads the open view when the server-sent events say something changed.
 *
 * @since 0.2.0
 */

/**
 * @category models
 * @since 0.2.0
 */
export interface PageOptions {
  readonly title: string
  /** The path the console is mounted at, ending with `/`. */
  readonly base: string
  /** Whether the send form is shown (and `POST console/send` accepted). */
  readonly writable: boolean
  /** Carriers whose faults can be switched from the page. */
  readonly carriers?: ReadonlyArray<string> | undefined
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

const style = `
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--accent:#0969da;--warn:#9a6700}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--bg:#0d1117;--soft:#161b22;--ok:#3fb950;--bad:#f85149;--accent:#4493f8;--warn:#d29922}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
h1{font-size:1.05rem;margin:0}[role=tablist]{display:flex;gap:.25rem}
button,input,textarea{font:inherit;color:inherit}
[role=tab]{background:none;border:1px solid transparent;border-radius:6px;padding:.3rem .7rem;cursor:pointer}
[role=tab][aria-selected=true]{border-color:var(--line);background:var(--soft);font-weight:600}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
#live{margin-left:auto;color:var(--muted);font-size:.85rem}#live.on::before{content:"● ";color:var(--ok)}
main{padding:1rem}.cols{display:grid;grid-template-columns:16rem 1fr;gap:1rem}
.recipients{list-style:none;margin:0;padding:0;border:1px solid var(--line);border-radius:6px;max-height:75vh;overflow:auto}
.recipients button{width:100%;text-align:left;background:none;border:0;border-bottom:1px solid var(--line);padding:.5rem .7rem;cursor:pointer}
.recipients button[aria-current=true]{background:var(--soft);font-weight:600}
.num{font-family:ui-monospace,monospace}.muted{color:var(--muted)}
article{border:1px solid var(--line);border-radius:6px;padding:.7rem .9rem;margin-bottom:.7rem}
.brand{display:inline-block;background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:0 .35rem;margin-right:.4rem}
mark.code{background:#fff3b0;color:#000;font-weight:700;padding:0 .2rem;border-radius:3px;font-family:ui-monospace,monospace}
.meta{display:flex;flex-wrap:wrap;gap:.3rem 1rem;color:var(--muted);font-size:.85rem;margin:.35rem 0}
.segs{margin:.3rem 0;padding-left:1.4rem;font-family:ui-monospace,monospace;font-size:.85rem}
.timeline{display:flex;flex-wrap:wrap;gap:.3rem;list-style:none;padding:0;margin:.3rem 0}
.timeline li{border:1px solid var(--line);border-radius:99px;padding:0 .5rem;font-size:.8rem}
.s-delivered{color:var(--ok)}.s-failed,.s-undelivered,.s-rejected,.s-expired{color:var(--bad)}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.6rem;margin-bottom:1rem}
.tile{border:1px solid var(--line);border-radius:6px;padding:.5rem .7rem}.tile b{display:block;font-size:1.3rem}
.spend{display:grid;grid-template-columns:repeat(auto-fit,minmax(26rem,1fr));gap:0 1.5rem}.spend td.num{white-space:nowrap}.spend h3{font-size:.95rem;margin:.6rem 0 .3rem}
table{border-collapse:collapse;width:100%;margin-bottom:1rem}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line)}
.bar{height:.7rem;background:var(--accent);border-radius:2px}.bar.bad{background:var(--bad)}
section h2{font-size:1rem;margin:1rem 0 .5rem}svg{max-width:100%}
form.send{display:flex;gap:.5rem;flex-wrap:wrap;align-items:end;margin-bottom:1rem}
form.send label{display:flex;flex-direction:column;font-size:.85rem}
form.send input,form.send textarea{border:1px solid var(--line);border-radius:6px;padding:.3rem .5rem;background:var(--bg)}
form.send button{border:1px solid var(--line);border-radius:6px;padding:.35rem .9rem;background:var(--soft);cursor:pointer}
fieldset.faults{border:1px solid var(--line);border-radius:6px;margin:0 0 1rem;display:flex;flex-wrap:wrap;gap:1rem}
fieldset.faults button{border:1px solid var(--line);border-radius:6px;background:var(--soft);cursor:pointer;padding:.1rem .5rem}
[hidden]{display:none!important}
`

// The script is plain ES2020 for the browser; it never puts data into HTML
// unescaped (every value goes through esc or textContent).
const script = `
const base = document.body.dataset.base;
const $ = (s) => document.querySelector(s);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;","'":"&#39;"})[c]);
const time = (ms) => new Date(ms).toLocaleTimeString();
let view = "inbox", recipient = undefined, pending = undefined;
const get = (path) => fetch(base + path, { headers: { accept: "application/json" } }).then((r) => r.json());

function highlight(entry) {
  let html = esc(entry.text);
  if (entry.brand) html = html.replace(esc(entry.brand), '<span class="brand-in-text">' + esc(entry.brand) + '</span>');
  if (entry.code) html = html.replace(esc(entry.code), '<mark class="code" data-testid="code">' + esc(entry.code) + '</mark>');
  return html;
}
function messageHtml(m) {
  const segs = m.segments.map((s) => '<li>' + esc(s) + '</li>').join("");
  const hist = m.history.map((h) => '<li class="s-' + esc(h.status) + '">' + esc(h.status) + ' ' + esc(time(h.at)) + (h.reason ? ' <span class="muted">(' + esc(h.reason) + ')</span>' : '') + '</li>').join("");
  const dec = m.decisions.map((d) => '<li><b>' + esc(d.route) + '</b>: ' + esc(d.reason) + (d.outcome ? ' → ' + esc(d.outcome) : '') + '</li>').join("");
  return '<article data-testid="message" data-id="' + esc(m.id) + '" tabindex="0" aria-label="Message ' + esc(m.id) + '">' +
    (m.brand ? '<span class="brand" data-testid="brand">' + esc(m.brand) + '</span>' : '') +
    (m.code ? '<span class="muted">code </span><mark class="code">' + esc(m.code) + '</mark>' : '') +
    '<p>' + (m.withheld ? '<i class="muted">' + esc(m.text) + '</i>' : highlight(m)) + '</p>' +
    '<div class="meta"><time datetime="' + new Date(m.createdAt).toISOString() + '">' + esc(new Date(m.createdAt).toLocaleString()) + '</time><span>' + esc(m.encoding) + '</span><span>' + m.segments.length + ' segment(s), ' + esc(m.unitsPerSegment) + ' per segment</span>' +
    (m.nonGsmCharacters.length ? '<span>UCS-2 because of ' + esc(m.nonGsmCharacters.slice(0, 8).join(" ")) + (m.nonGsmCharacters.length > 8 ? ' …' : '') + '</span>' : '') +
    (m.template ? '<span>template ' + esc(m.template) + '</span>' : '') +
    '<span>route ' + esc(m.route ?? "–") + '</span><span class="s-' + esc(m.status) + '" data-testid="status">' + esc(m.status) + '</span></div>' +
    '<ol class="timeline" aria-label="Status timeline">' + hist + '</ol>' +
    (segs ? '<details><summary>Segments</summary><ol class="segs">' + segs + '</ol></details>' : '') +
    (dec ? '<details><summary>Why this route</summary><ul>' + dec + '</ul></details>' : '') + '</article>';
}
async function renderInbox() {
  const data = await get("console/inbox" + (recipient ? "?recipient=" + encodeURIComponent(recipient) : ""));
  if (!recipient && data.recipients[0]) recipient = data.recipients[0].recipient;
  $("#recipients").innerHTML = data.recipients.map((r) =>
    '<li><button type="button" data-r="' + esc(r.recipient) + '" aria-current="' + (r.recipient === recipient) + '"><span class="num">' + esc(r.to) + '</span> <span class="muted">(' + r.count + ')</span></button></li>').join("") ||
    '<li class="muted" style="padding:.6rem">No messages yet.</li>';
  $("#messages").innerHTML = data.messages.map(messageHtml).join("") || '<p class="muted">Messages sent through this instance appear here, newest first.</p>';
}
function bars(rows, label) {
  const max = Math.max(1, ...rows.map((r) => r.sent));
  return '<table><thead><tr><th scope="col">' + esc(label) + '</th><th scope="col">Sent</th><th scope="col">Delivered %</th><th scope="col">Failed</th><th scope="col">Cost</th><th scope="col" style="width:30%">Volume</th></tr></thead><tbody>' +
    rows.map((r) => '<tr><td>' + esc(r.key) + '</td><td>' + r.sent + '</td><td>' + r.deliveredPercent + '</td><td>' + r.failed + '</td><td>' + r.cost + '</td><td><div class="bar" style="width:' + (100 * r.sent / max).toFixed(1) + '%"></div></td></tr>').join("") + '</tbody></table>';
}
function chart(points, bucketMillis) {
  if (points.length === 0) return '<p class="muted">No traffic yet.</p>';
  // A fixed number of slots, newest on the right, so one minute of traffic is one bar, not the whole width.
  const slots = 60, w = 640, h = 140, pad = 28, end = points[points.length - 1].at, byAt = new Map(points.map((p) => [p.at, p]));
  const max = Math.max(1, ...points.map((p) => p.sent)), bw = (w - pad) / slots;
  let rects = "";
  for (let i = 0; i < slots; i++) {
    const p = byAt.get(end - (slots - 1 - i) * bucketMillis);
    if (!p) continue;
    const x = (pad + i * bw).toFixed(1), sh = (h - 16) * p.sent / max, fh = (h - 16) * p.failed / max;
    rects += '<rect x="' + x + '" y="' + (h - 16 - sh).toFixed(1) + '" width="' + Math.max(1, bw - 1).toFixed(1) + '" height="' + sh.toFixed(1) + '" fill="var(--accent)"><title>' + esc(time(p.at)) + ': ' + p.sent + ' sent, ' + p.delivered + ' delivered, ' + p.failed + ' failed</title></rect>' +
      '<rect x="' + x + '" y="' + (h - 16 - fh).toFixed(1) + '" width="' + Math.max(1, bw - 1).toFixed(1) + '" height="' + fh.toFixed(1) + '" fill="var(--bad)"></rect>';
  }
  const axis = '<text x="0" y="10" font-size="10" fill="currentColor">' + max + '</text><text x="0" y="' + (h - 18) + '" font-size="10" fill="currentColor">0</text>' +
    '<text x="' + pad + '" y="' + (h - 2) + '" font-size="10" fill="currentColor">' + esc(time(end - (slots - 1) * bucketMillis)) + '</text>' +
    '<text x="' + w + '" y="' + (h - 2) + '" font-size="10" text-anchor="end" fill="currentColor">' + esc(time(end)) + '</text>' +
    '<line x1="' + pad + '" x2="' + w + '" y1="' + (h - 16) + '" y2="' + (h - 16) + '" stroke="var(--line)"/>';
  return '<svg role="img" aria-label="Messages sent per minute over the last hour, failures in red" viewBox="0 0 ' + w + ' ' + h + '" width="' + w + '" height="' + h + '">' + axis + rects + '</svg>';
}
function spendTable(rows, label) {
  if (rows.length === 0) return '<p class="muted">Nothing priced yet.</p>';
  return '<table><thead><tr><th scope="col">' + esc(label) + '</th><th scope="col">Amount</th><th scope="col">Messages</th><th scope="col">Segments</th></tr></thead><tbody>' +
    rows.map((r) => '<tr><td>' + esc(r.key) + '</td><td class="num">' + esc(r.amount + " " + r.currency) + '</td><td>' + r.messages + '</td><td>' + r.segments + '</td></tr>').join("") + '</tbody></table>';
}
function spendSection(spend) {
  if (spend.total.length === 0) return '<section><h2>Spend</h2><p class="muted">No message has a price yet: give the pipeline a price table (<code>pricing</code>) and the cost of each message sent is summed here, exactly, by tenant, country, route, template and day.</p></section>';
  return '<section><h2>Spend</h2><p><a href="console/reports/spend.csv" download>Download CSV</a> <span class="muted">days end at midnight ' + esc(spend.timeZone) + '</span></p>' +
    '<div class="spend"><div><h3>By day</h3>' + spendTable(spend.byDay.slice(-14).reverse(), "Day") + '</div><div><h3>By tenant</h3>' + spendTable(spend.byTenant, "Tenant") + '</div>' +
    '<div><h3>By country</h3>' + spendTable(spend.byCountry, "Country") + '</div><div><h3>By route</h3>' + spendTable(spend.byRoute, "Route") + '</div>' +
    '<div><h3>By template</h3>' + spendTable(spend.byTemplate, "Template") + '</div></div></section>';
}
async function renderReports() {
  const r = await get("console/reports");
  const tile = (label, value, id) => '<div class="tile"' + (id ? ' data-testid="' + id + '"' : '') + '><span class="muted">' + esc(label) + '</span><b>' + esc(value) + '</b></div>';
  const lat = r.latency;
  $("#reports").innerHTML = '<div class="tiles">' + tile("Messages", r.total, "total") + tile("Delivered", r.deliveredPercent + " %", "delivered") +
    tile("Failed", r.failed) + tile("Pending", r.pending) + tile("Segments", r.segments) + tile("Spend", r.spend.total.map((t) => t.amount + " " + t.currency).join(" + ") || "–", "spend") +
    tile("Latency p50", lat.p50 === undefined ? "–" : lat.p50 + " ms") + tile("p90", lat.p90 === undefined ? "–" : lat.p90 + " ms") + tile("p99", lat.p99 === undefined ? "–" : lat.p99 + " ms") + '</div>' +
    '<section><h2>Over time</h2>' + chart(r.overTime, r.bucketMillis) + '</section>' + spendSection(r.spend) +
    '<section><h2>Failure reasons</h2>' + (r.failureReasons.length ? '<table><tbody>' + r.failureReasons.map((f) => '<tr><td>' + esc(f.reason) + '</td><td>' + f.count + '</td></tr>').join("") + '</tbody></table>' : '<p class="muted">None.</p>') + '</section>' +
    '<section><h2>By country</h2>' + bars(r.byCountry, "Country") + '</section><section><h2>By route</h2>' + bars(r.byRoute, "Route") + '</section><section><h2>By template</h2>' + bars(r.byTemplate, "Template") + '</section>';
}
async function renderVerifications() {
  const v = await get("console/verifications");
  const counts = Object.entries(v.counts).map(([k, n]) => '<div class="tile"><span class="muted">' + esc(k) + '</span><b>' + n + '</b></div>').join("");
  $("#verifications").innerHTML = '<div class="tiles">' + (counts || '<p class="muted">No verifications yet.</p>') + '</div>' +
    '<table><thead><tr><th scope="col">Verification</th><th scope="col">To</th><th scope="col">Country</th><th scope="col">Status</th><th scope="col">Sends</th><th scope="col">Wrong codes</th><th scope="col">Locked</th><th scope="col">At</th></tr></thead><tbody>' +
    v.recent.map((r) => '<tr data-testid="verification"><td class="num">' + esc(r.verificationId) + '</td><td class="num">' + esc(r.to) + '</td><td>' + esc(r.country) + '</td><td>' + esc(r.status) + '</td><td>' + r.sendAttempts + '</td><td>' + r.wrongChecks + '</td><td>' + (r.locked ? "yes" : "no") + '</td><td>' + esc(time(r.at)) + '</td></tr>').join("") + '</tbody></table>' +
    '<section><h2>Fraud guard blocks</h2>' + (v.blocks.length ? '<ul>' + v.blocks.map((b) => '<li>' + esc(b.scope) + ': ' + esc(b.reason) + ' ' + esc(b.subject ?? "") + ' <span class="muted">' + esc(time(b.at)) + '</span></li>').join("") + '</ul>' : '<p class="muted">None.</p>') + '</section>';
}
const renderers = { inbox: renderInbox, reports: renderReports, verifications: renderVerifications };
function refresh() { return renderers[view]().catch(() => {}); }
function show(next, focus) {
  view = next;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const on = tab.dataset.view === next;
    tab.setAttribute("aria-selected", String(on)); tab.tabIndex = on ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
    if (on && focus) tab.focus();
  }
  history.replaceState(null, "", "#" + next);
  refresh();
}
document.querySelector("[role=tablist]").addEventListener("click", (e) => { const t = e.target.closest("[role=tab]"); if (t) show(t.dataset.view); });
document.querySelector("[role=tablist]").addEventListener("keydown", (e) => {
  const tabs = [...document.querySelectorAll("[role=tab]")], i = tabs.findIndex((t) => t.dataset.view === view);
  const j = e.key === "ArrowRight" ? (i + 1) % tabs.length : e.key === "ArrowLeft" ? (i + tabs.length - 1) % tabs.length : e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : -1;
  if (j >= 0) { e.preventDefault(); show(tabs[j].dataset.view, true); }
});
$("#recipients").addEventListener("click", (e) => { const b = e.target.closest("button[data-r]"); if (b) { recipient = b.dataset.r; refresh(); } });
const form = $("form.send");
if (form) form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { to: form.to.value, text: form.text.value };
  const res = await fetch(base + "console/send", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const out = await res.json().catch(() => ({}));
  $("#send-result").textContent = res.ok ? "Sent: " + out.id : "Refused: " + (out._tag ?? res.status) + (out.field ? " (" + out.field + ")" : "");
  if (res.ok) recipient = undefined;
});
const faults = $("fieldset.faults");
if (faults) faults.addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-carrier]");
  if (!b) return;
  const res = await fetch(base + "console/faults/" + encodeURIComponent(b.dataset.carrier) + "/" + b.dataset.action, { method: "POST" });
  document.getElementById("fault-" + b.dataset.carrier).textContent = res.ok ? (b.dataset.action === "recover" ? "healthy" : b.dataset.action === "fail" ? "failing" : "throttled") : "refused";
});
function schedule() { if (pending === undefined) pending = setTimeout(() => { pending = undefined; refresh(); }, 150); }
const source = new EventSource(base + "console/events");
source.addEventListener("open", () => { $("#live").classList.add("on"); $("#live").textContent = "live"; });
source.addEventListener("error", () => { $("#live").classList.remove("on"); $("#live").textContent = "reconnecting…"; });
source.addEventListener("change", schedule);
show(["inbox", "reports", "verifications"].includes(location.hash.slice(1)) ? location.hash.slice(1) : "inbox");
`

const faultControls = (carriers: ReadonlyArray<string>): string =>
  carriers.length === 0 ? "" : `<fieldset class="faults"><legend>Carrier faults (dev)</legend>${
    carriers.map((name) => {
      const n = escapeHtml(name)
      return `<span class="carrier"><b>${n}</b> <button type="button" data-carrier="${n}" data-action="fail">Fail</button> <button type="button" data-carrier="${n}" data-action="throttle">Throttle</button> <button type="button" data-carrier="${n}" data-action="recover">Recover</button> <span role="status" id="fault-${n}"></span></span>`
    }).join("")
  }</fieldset>`

/**
 * The page's HTML.
 *
 * @category rendering
 * @since 0.2.0
 */
export const render = (options: PageOptions): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(options.title)}</title><style>${style}</style></head>
<body data-base="${escapeHtml(options.base)}">
<header><h1>${escapeHtml(options.title)}</h1>
<nav role="tablist" aria-label="Console views">
<button role="tab" id="tab-inbox" data-view="inbox" aria-controls="view-inbox" aria-selected="true">Inbox</button>
<button role="tab" id="tab-reports" data-view="reports" aria-controls="view-reports" aria-selected="false" tabindex="-1">Reports</button>
<button role="tab" id="tab-verifications" data-view="verifications" aria-controls="view-verifications" aria-selected="false" tabindex="-1">Verifications</button>
</nav><span id="live" role="status" aria-live="polite">connecting…</span></header>
<main>
<section id="view-inbox" role="tabpanel" aria-labelledby="tab-inbox">
${
  options.writable
    ? `<form class="send" aria-label="Send a test message"><label>To<input name="to" required autocomplete="off" placeholder="+447700900123"></label>
<label>Text<textarea name="text" rows="1" cols="40" required></textarea></label><button type="submit">Send</button><span id="send-result" role="status"></span></form>`
    : ""
}
${faultControls(options.carriers ?? [])}
<div class="cols"><nav aria-label="Recipients"><ul class="recipients" id="recipients"></ul></nav><div id="messages" aria-live="polite"></div></div>
</section>
<section id="view-reports" role="tabpanel" aria-labelledby="tab-reports" hidden><div id="reports"></div></section>
<section id="view-verifications" role="tabpanel" aria-labelledby="tab-verifications" hidden><div id="verifications"></div></section>
</main>
<script type="module">${script}</script>
</body></html>`
