/* Veilig Thuis — adviseursconsole: the chat workspace, callbacks and cases (the part not yet
 * split into modules). Talks to the `/agent` Socket.IO namespace (see docs/protocol.md). Message
 * text is always rendered with textContent, never as HTML. The token lives in sessionStorage only. */
import { LANG, t, applyTexts, has as hasText } from "./i18n/index.js";
import * as sock from "./net/socket.js";
import { errorOf } from "./net/socket.js";
import { configureApi, postLogin, apiError } from "./net/api.js";
import * as actions from "./actions.js";
import { QueueState, itemSig } from "./state/queue.js";
import { CrisesState } from "./state/crises.js";
import * as offers from "./state/offers.js";
import * as conv from "./state/conversations.js";

const KEY_TOKEN = "vt.console.token";
const KEY_AGENT = "vt.console.agent";
const KEY_DRAFTS = "vt.console.drafts";
const KEY_OUTBOX = "vt.console.outbox";
const KEY_EXPIRES = "vt.console.expires";
const KEY_VIEW = "vt.console.view";

const LABELS = {
  // Teams and expertise come from the routing file on the server (GET /api/agent/config,
  // loadRouting below): nothing of them is written here.
  team: {},
  expertise: {}
};


// ---- small helpers -------------------------------------------------------------------

function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
// Codes in words: teams and expertise from the server's configuration, the rest from the texts.
const LABEL_KEYS = { caller_type: "caller_", intent: "intent_", missing: "missing_" };
function label(kind, value) {
  if (LABELS[kind]) return LABELS[kind][value] || String(value || "—");
  const key = LABEL_KEYS[kind] + value;
  return LABEL_KEYS[kind] && value && hasText(key) ? t(key) : String(value || "—");
}
function store(key, value) {
  try {
    if (loggingOut && value !== null) return;
    if (value === null || value === undefined) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch (e) { /* storage full or blocked: memory still holds it */ }
}
function load(key, fallback) {
  try { const v = sessionStorage.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
}
function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const a = new Uint8Array(16); crypto.getRandomValues(a);
  return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
}
function clock(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return d.toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Amsterdam" });
}
// A moment that may be on another day: "di 1 dec 14:05".
function dayClock(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return d.toLocaleDateString("nl-NL", { weekday: "short", day: "numeric", month: "short", timeZone: "Europe/Amsterdam" }) + " " + clock(iso);
}
function waited(iso) {
  const s = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = (h ? String(m).padStart(2, "0") : String(m)), ss = String(sec).padStart(2, "0");
  return (h ? h + ":" : "") + mm + ":" + ss;
}
function errorText(err, fallback) {
  const m = err && (LANG === "en" && err.message_en ? err.message_en : err.message);
  return m || fallback || t("errorGeneric");
}

// ---- state ---------------------------------------------------------------------------

let token = load(KEY_TOKEN, null);
let agent = load(KEY_AGENT, null);
let drafts = load(KEY_DRAFTS, {});          // {conversationId: {message, note}}
let outbox = load(KEY_OUTBOX, []);          // [{conversation_id, client_id, text}]
const queue = new QueueState();              // the waiting queue, in the server's order
const convs = new Map();                      // id -> conversation state
let activeId = null;
let closingId = null;
let closingCallback = null;                 // the callback whose outcome form is open, if any
let reloginOpen = false;
let loggingOut = false;
const inFlight = new Map();                   // client_id -> attempt number being sent now
let attempts = 0;
const crises = new CrisesState();             // conversation id -> open crisis alert
const transferredFrom = new Map();            // conversation id -> name of who transferred it to us
let handlers = {};                          // server event -> handler (dispatch.js)
let offer = null;                           // the open push offer shown to us, if any

// ---- attention: beep + title flash ---------------------------------------------------

const baseTitle = document.title;
let flashTimer = null;
let flashText = "";
let audio = null;

function unlockAudio() {
  try {
    if (!audio) { const C = window.AudioContext || window.webkitAudioContext; if (C) audio = new C(); }
    if (audio && audio.state === "suspended") audio.resume();
  } catch (e) { audio = null; }
}
function beep() {
  if (!audio) return;
  try {
    const t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(660, t + 0.12);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    osc.connect(gain); gain.connect(audio.destination);
    osc.start(t); osc.stop(t + 0.32);
  } catch (e) { /* no sound available */ }
}
function flashTitle(text) {
  flashText = crises.size ? t("alarmTitle") : text; // a crisis outranks any other news
  if (flashTimer) return;
  let on = false;
  flashTimer = setInterval(function () {
    on = !on;
    document.title = on ? "● " + flashText : baseTitle;
  }, 1000);
  document.title = "● " + flashText;
}
function stopFlash() {
  if (flashTimer) { clearInterval(flashTimer); flashTimer = null; }
  document.title = baseTitle;
}
function attention(text, conversationId) {
  const unseen = document.hidden || !document.hasFocus() || (conversationId && conversationId !== activeId);
  if (!unseen) return;
  beep();
  if (document.hidden || !document.hasFocus() || conversationId !== activeId) flashTitle(text);
}
function seen() {
  if (document.hidden) return;
  const c = activeId && convs.get(activeId);
  if (c && c.unread) { c.unread = 0; renderTab(c); }
  if (!anyUnread() && !crises.size) stopFlash();
}
document.addEventListener("visibilitychange", seen);
window.addEventListener("focus", seen);
document.addEventListener("pointerdown", unlockAudio, { passive: true });
document.addEventListener("keydown", unlockAudio);

function announce(text) {
  const a = $("announcer");
  a.textContent = "";
  setTimeout(function () { a.textContent = text; }, 30);
}

// ---- views ---------------------------------------------------------------------------

function showLogin() {
  $("login-view").hidden = false;
  $("work-view").hidden = true;
  $("callbacks-view").hidden = true;
  $("cases-view").hidden = true;
  $("view-tabs").hidden = true;
  $("session-bar").hidden = true;
  setTimeout(function () { $("login-username").focus(); }, 0);
}
function showWork() {
  $("login-view").hidden = true;
  $("session-bar").hidden = false;
  $("view-tabs").hidden = false;
  $("agent-name").textContent = agent ? agent.name : "";
  showView(currentView, false);
}

// The chat workspace, the callbacks view and the case register are tab panels of one page:
// switching never touches the socket, and the crisis alarm, offers and notices stay above all.
const VIEWS = { chats: "work-view", callbacks: "callbacks-view", cases: "cases-view" };
let currentView = Object.prototype.hasOwnProperty.call(VIEWS, load(KEY_VIEW, "chats")) ? load(KEY_VIEW, "chats") : "chats";
function showView(name, focusTab) {
  currentView = Object.prototype.hasOwnProperty.call(VIEWS, name) ? name : "chats";
  store(KEY_VIEW, currentView);
  Object.keys(VIEWS).forEach(function (v) { $(VIEWS[v]).hidden = v !== currentView; });
  Array.prototype.forEach.call($("view-tabs").querySelectorAll("[role=tab]"), function (tab) {
    const on = tab.dataset.view === currentView;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    if (on && focusTab) tab.focus();
  });
  if (currentView === "callbacks") onCallbacksShown();
  if (currentView === "cases") onCasesShown();
}
$("view-tabs").addEventListener("click", function (e) {
  const tab = e.target.closest("[role=tab]");
  if (tab) showView(tab.dataset.view, true);
});
$("view-tabs").addEventListener("keydown", function (e) {
  if (["ArrowLeft", "ArrowRight", "Home", "End"].indexOf(e.key) < 0) return;
  const tabs = Array.prototype.slice.call($("view-tabs").querySelectorAll("[role=tab]"));
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  const next = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowRight" ? 1 : -1) + tabs.length) % tabs.length;
  showView(tabs[next].dataset.view, true);
});
function updateViewBadges() {
  setBadge($("view-chats-badge"), conv.unreadTotal(convs), " " + t("unreadCount", { n: "" }).trim());
}
function setBadge(b, n, hiddenText) {
  b.hidden = !n;
  if (b.dataset.n === String(n)) return;
  b.dataset.n = String(n);
  b.textContent = "";
  if (!n) return;
  b.appendChild(document.createTextNode(String(n)));
  b.appendChild(el("span", "visually-hidden", hiddenText)); // read as "3 ongelezen", "1 te bellen"
}
function setConn(state, text) {
  const c = $("conn");
  c.className = "conn conn-" + state;
  c.textContent = text;
}

let expiryTimer = null;
function watchExpiry() {
  clearTimeout(expiryTimer);
  const at = load(KEY_EXPIRES, 0);
  if (!at) return;
  const ms = Math.max(0, at - Date.now());
  if (ms > 2147483000) return;
  expiryTimer = setTimeout(askRelogin, ms);
}

function rememberSession(body, username) {
  if (body.expires_in) store(KEY_EXPIRES, Date.now() + body.expires_in * 1000 - 30000);
  watchExpiry();
  token = body.token;
  agent = Object.assign({}, body.agent, { username: username });
  store(KEY_TOKEN, token);
  store(KEY_AGENT, agent);
}

$("login-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  unlockAudio();
  const u = $("login-username").value.trim(), p = $("login-password").value, err = $("login-error");
  err.hidden = true;
  if (!u || !p) { err.textContent = t("loginMissing"); err.hidden = false; return; }
  $("login-submit").disabled = true;
  const body = await postLogin(u, p);
  $("login-submit").disabled = false;
  if (body.error) {
    err.textContent = errorText(body.error);
    err.hidden = false;
    $("login-password").value = "";
    $("login-password").focus();
    return;
  }
  $("login-password").value = "";
  rememberSession(body, u);
  showWork();
  connect();
});

// ---- session expiry: log in again without losing anything ----------------------------

function askRelogin() {
  if (reloginOpen) return;
  reloginOpen = true;
  setConn("off", t("sessionExpired"));
  const d = $("relogin-dialog");
  $("relogin-username").value = (agent && agent.username) || $("login-username").value || "";
  $("relogin-password").value = "";
  $("relogin-error").hidden = true;
  if (!d.open) d.showModal();
  ($("relogin-username").value ? $("relogin-password") : $("relogin-username")).focus();
}
$("relogin-dialog").addEventListener("cancel", function (e) { e.preventDefault(); });
$("relogin-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const u = $("relogin-username").value.trim(), p = $("relogin-password").value, err = $("relogin-error");
  err.hidden = true;
  if (!u || !p) { err.textContent = t("loginMissing"); err.hidden = false; return; }
  $("relogin-submit").disabled = true;
  const body = await postLogin(u, p);
  $("relogin-submit").disabled = false;
  if (body.error) { err.textContent = errorText(body.error); err.hidden = false; $("relogin-password").value = ""; return; }
  if (agent && body.agent && agent.id !== body.agent.id) {
    // Another person: nothing of the previous advisor may stay on screen.
    store(KEY_DRAFTS, null); store(KEY_OUTBOX, null);
    rememberSession(body, u);
    location.reload();
    return;
  }
  rememberSession(body, u);
  reloginOpen = false;
  $("relogin-dialog").close();
  showWork();
  // A connection keeps the token it connected with: connect again with the new one.
  if (sock.exists()) sock.reconnect(); else connect();
});

// ---- logout -------------------------------------------------------------------------

$("logout").addEventListener("click", function () { $("logout-dialog").showModal(); $("logout-cancel").focus(); });
$("logout-dialog").addEventListener("close", function () {
  if ($("logout-dialog").returnValue !== "confirm") return;
  sock.disconnect();
  loggingOut = true;
  [KEY_TOKEN, KEY_AGENT, KEY_DRAFTS, KEY_OUTBOX, KEY_EXPIRES, KEY_VIEW].forEach(function (k) { store(k, null); });
  token = null; agent = null; drafts = {}; outbox = [];
  location.replace("/console");
});

// ---- socket --------------------------------------------------------------------------

function connect() {
  if (!sock.clientLoaded()) { setConn("off", t("connNoClient")); return; }
  if (sock.exists()) { sock.retry(); return; }
  setConn("wait", t("connConnecting"));
  sock.connect(function () { return token; }, handlers, { connect: onConnected, disconnect: onDisconnected, connect_error: onConnectError }, askRelogin);
}

function onDisconnected(reason) {
  setConn("off", t("connLost"));
  convs.forEach(function (c) { c.syncing = false; });
  inFlight.clear(); // their acks will not come; everything pending is sent again on reconnect
  if (reason === "io server disconnect") {
    // The server closed us (e.g. an expired token): connecting again shows why.
    setTimeout(function () { if (!reloginOpen) sock.retry(); }, 500);
  }
}

function onConnectError(err) {
  const code = err && err.data && err.data.error && err.data.error.code;
  if (code === "unauthorized") { askRelogin(); return; }
  setConn("off", t("connRetrying"));
}

async function onConnected() {
  setConn("on", t("connConnected"));
  loadRouting();
  let res;
  try { res = await actions.sync({}); } catch (e) { return; }
  if (errorOf(res)) return;
  applyQueue(res.queue);
  applyMine(res.mine);
  applyCrises(res.crises);
  // An offer made while this console was away is still ours until it runs out.
  if (res.offer && (!offer || offer.id !== res.offer.conversation_id)) onOffer(res.offer);
  // Fill every gap of the conversations on screen (also those that ended while we were away).
  convs.forEach(function (c) { loadHistory(c.id); });
  flushOutbox();
}

// ---- queue ---------------------------------------------------------------------------

export function applyQueue(q) {
  const before = queue.items.length;
  const news = queue.apply(q);
  if (!news) return;
  renderQueue();
  checkOfferInQueue();
  if (news.fresh.length && before + news.fresh.length > 0) {
    announce(news.danger ? t("queueNewDanger") : t("queueNewChat"));
    if (news.danger || document.hidden || !document.hasFocus()) beep();
    if (document.hidden || !document.hasFocus()) flashTitle(news.danger ? t("queueFlashDanger") : t("queueFlashNew"));
  }
}

function renderQueue() {
  // Reorder in place (no rebuild): the list is a live region and must only announce news.
  const list = $("queue");
  const keep = new Map();
  Array.prototype.forEach.call(list.children, function (li) { keep.set(li.dataset.conversationId, li); });
  const wanted = new Set(queue.items.map(function (i) { return i.conversation_id; }));
  keep.forEach(function (li, id) { if (!wanted.has(id)) li.remove(); });
  let prev = null;
  queue.items.forEach(function (item) {
    let li = keep.get(item.conversation_id);
    // Rebuilt when what it shows changed (priority raised, overflow reached).
    if (!li || li.dataset.sig !== itemSig(item)) {
      const fresh = buildQueueItem(item);
      if (li) li.replaceWith(fresh);
      li = fresh;
    }
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  });
  $("queue-count").textContent = String(queue.items.length);
  $("queue-empty").hidden = queue.items.length > 0;
  tickQueue();
}

function buildQueueItem(item) {
  const away = item.visitor_present === false;
  const li = el("li", "q-item" + (item.danger_now || item.in_crisis ? " q-danger" : "") + (item.in_crisis ? " q-crisis" : "") + (item.overflow ? " q-overflow" : "") + (away ? " q-away" : ""));
  li._item = item;
  li.dataset.sig = itemSig(item);
  li.dataset.conversationId = item.conversation_id;
  li.dataset.since = item.waiting_since;
  const top = el("div", "q-top");
  if (item.danger_now) {
    const d = el("span", "badge badge-danger", t("dangerNowBadge"));
    top.appendChild(d);
  }
  if (item.in_crisis) top.appendChild(el("span", "badge badge-crisis", t("crisisBadge")));
  top.appendChild(el("span", "q-who", label("caller_type", item.caller_type)));
  top.appendChild(el("span", "q-intent", label("intent", item.intent)));
  const wait = el("span", "q-wait");
  wait.setAttribute("aria-label", t("waitLabel"));
  top.appendChild(wait);
  li.appendChild(top);
  if (item.topic) li.appendChild(el("p", "q-topic", item.topic));
  const risk = risks.get(item.conversation_id);
  if (risk) li.appendChild(el("p", "q-risk" + (risk.level === "acuut" ? " q-risk-acute" : ""), riskText(risk)));
  if (item.overflow) li.appendChild(el("p", "q-overflow-note", t("overflowNote")));
  if (away) li.appendChild(el("p", "q-away-note", item.visitor_away_since ? t("visitorGoneSince", { time: clock(item.visitor_away_since) }) : t("visitorGoneBadge")));
  const foot = el("div", "q-foot");
  foot.appendChild(el("span", "chip", label("team", item.team)));
  foot.appendChild(el("span", "chip chip-prio prio-" + Math.max(0, Math.min(9, Number(item.priority) || 0)), t("priorityPrefix") + item.priority));
  if (crises.has(item.conversation_id)) {
    // One conversation, one control: the alarm above takes it on.
    foot.appendChild(el("span", "q-in-alarm", t("inAlarm")));
    li.appendChild(foot);
    return li;
  }
  const btn = el("button", "btn btn-small " + (item.danger_now || item.in_crisis ? "btn-danger" : "btn-primary") + " q-accept", t("acceptButton"));
  btn.type = "button";
  btn.setAttribute("aria-label", t("acceptLabelPrefix") + label("caller_type", item.caller_type) + ", " + label("intent", item.intent) + (item.danger_now ? t("acceptLabelDanger") : "") + (item.in_crisis ? t("acceptLabelCrisis") : "") + (away ? ", " + t("visitorGoneBadge").toLowerCase() : ""));
  btn.addEventListener("click", function () { accept(item.conversation_id, btn); });
  foot.appendChild(btn);
  li.appendChild(foot);
  return li;
}

function tickQueue() {
  Array.prototype.forEach.call($("queue").children, function (li) {
    const w = li.querySelector(".q-wait");
    if (w) w.textContent = t("waitPrefix") + waited(li.dataset.since);
  });
}
setInterval(tickQueue, 1000);

async function accept(conversationId, btn, confirmAway) {
  const err = $("queue-error");
  err.hidden = true;
  btn.disabled = true;
  let res;
  const ask = { conversation_id: conversationId };
  if (confirmAway) ask.confirm_visitor_away = true;
  try { res = await actions.accept(ask); } catch (e) {
    btn.disabled = false;
    err.textContent = t("offline"); err.hidden = false; return;
  }
  btn.disabled = false;
  const e2 = errorOf(res);
  // A visitor whose connection is gone is never taken by accident: ask first.
  if (e2 && e2.state === "visitor_away" && !confirmAway) {
    if (window.confirm(t("acceptAwayConfirm", { time: e2.since ? clock(e2.since) : "?" }))) accept(conversationId, btn, true);
    return;
  }
  if (e2) { err.textContent = acceptErrorText(e2); err.hidden = false; return; }
  openAccepted(res.conversation);
}

function acceptErrorText(e) {
  return e.code === "capacity_reached" ? t("capacity", { limit: e.limit ? " (" + e.limit + ")" : "" }) : errorText(e);
}

function openAccepted(view) {
  const c = upsertConversation(view);
  mergeConversation(c, view);
  showView("chats", false);
  activate(c.id);
}

// ---- conversations --------------------------------------------------------------------

export function applyMine(m) {
  if (!m || !Array.isArray(m.conversations)) return;
  const ids = new Set();
  m.conversations.forEach(function (s) {
    ids.add(s.id);
    const known = convs.has(s.id);
    const c = upsertConversation(s);
    if (c.readOnly) { c.readOnly = false; c.takeoverUntil = null; updateComposer(c); renderHeader(c); } // taken over: ours now
    if (!known || (s.last_seq || 0) > c.maxSeq) loadHistory(c.id);
  });
  convs.forEach(function (c) {
    if (!ids.has(c.id) && !c.readOnly && (c.status === "active" || conv.awaitingOutcome(c)) && !c.syncing) {
      // No longer ours: ask the server what happened (ended elsewhere, or by the visitor).
      loadHistory(c.id);
    }
  });
  updateEmpty();
  if (!activeId && convs.size) activate(convs.keys().next().value);
}

function upsertConversation(s) {
  const id = s.id;
  let c = convs.get(id);
  if (!c) {
    c = conv.newConversation(s);
    convs.set(id, c);
    buildConversation(c);
    if (transferredFrom.has(id)) { setBanner(c, t("transferredIn", { from: transferredFrom.get(id) })); transferredFrom.delete(id); }
    outbox.forEach(function (o) { if (o.conversation_id === id) c.pending.set(o.client_id, o); });
    renderLog(c);
  } else {
    c.summary = Object.assign({}, c.summary, s);
    if (s.status) c.status = s.status;
  }
  renderHeader(c);
  renderTab(c);
  return c;
}

function mergeConversation(c, view) {
  if (!view) return;
  conv.mergeView(c, view);
  if (c.status === "closed") {
    dropPending(c);
    setBanner(c, conv.awaitingOutcome(c) ? (c.summary.quick_exit ? t("visitorFled") : t("visitorLeft"))
      : view.close_reason === "visitor_left" ? t("closedVisitorLeft")
      : view.close_reason === "visitor_gone" ? t("closedVisitorGone") : t("closedDone"));
  }
  renderHeader(c); renderLog(c); renderTab(c); updateComposer(c); renderCrisis(c);
}

async function loadHistory(id) {
  const c = convs.get(id);
  if (!c) return;
  if (c.syncing) { c.again = true; return; } // its answer may predate the change: ask again after
  c.syncing = true;
  c.again = false;
  let res;
  try { res = await actions.history({ conversation_id: id }); } catch (e) { c.syncing = false; return; }
  c.syncing = false;
  const err = errorOf(res);
  if (err) { if (err.code === "not_found" || err.code === "forbidden") removeConversation(c); return; }
  if (!convs.has(id)) return; // closed here meanwhile
  mergeConversation(c, res.conversation);
  if (c.again) loadHistory(id);
}

function addMessage(c, m, live) {
  const unseen = live && (c.id !== activeId || document.hidden || !document.hasFocus());
  if (!conv.addMessage(c, m, unseen)) return false;
  if (live && m.sender === "visitor") {
    attention(t("newMessage"), c.id);
    showTyping(c, false);
  }
  return true;
}

export function onMessage(m) {
  if (!m || !m.conversation_id) return;
  const c = convs.get(m.conversation_id);
  if (!c) { loadHistory(m.conversation_id); return; }
  // A gap (a missed event, also before the first message we have, e.g. the first one after
  // a reconnect): fetch everything at once.
  if (conv.leavesGap(c, m)) loadHistory(c.id);
  if (addMessage(c, m, true)) {
    renderLog(c); renderTab(c);
    if (m.sender === "visitor") announce(t("newVisitorMessage"));
  }
}

export function onNote(n) {
  const c = n && convs.get(n.conversation_id);
  if (!c || !conv.addNote(c, n)) return;
  renderLog(c);
}

export function onTyping(t) {
  const c = t && convs.get(t.conversation_id);
  if (c) showTyping(c, !!t.typing);
}

function showTyping(c, on) {
  const p = c.panel.querySelector(".typing");
  clearTimeout(c.typingTimer);
  p.textContent = on ? t("visitorTyping") : "";
  if (on) c.typingTimer = setTimeout(function () { p.textContent = ""; }, 8000);
}

// Risk phrases the server found in a visitor's message, per conversation (shown in the
// queue card and in the conversation itself).
const risks = new Map();

function riskText(r) {
  return (r.level === "acuut" ? t("riskAcutePrefix") : t("riskSignalPrefix")) + (r.signals || []).join(", ");
}

export function onRisk(r) {
  if (!r || !r.conversation_id) return;
  risks.set(r.conversation_id, r);
  const c = convs.get(r.conversation_id);
  if (c) setBanner(c, riskText(r));
  // An acute signal starts the crisis procedure on the server: read the crisis and its timeline.
  if (c && r.level === "acuut") loadHistory(c.id);
  const li = document.querySelector('.q-item[data-conversation-id="' + CSS.escape(r.conversation_id) + '"]');
  if (li) li.replaceWith(buildQueueItem(li._item));
  announce(riskText(r));
  beep();
  if (document.hidden || !document.hasFocus()) flashTitle(r.level === "acuut" ? t("riskAcuteFlash") : t("riskSignalFlash"));
}

export function onVisitorLeft(d) {
  const c = d && convs.get(d.conversation_id);
  if (!c) return;
  const fled = conv.markVisitorLeft(c, d);
  dropPending(c);
  setBanner(c, fled ? t("visitorFled") : t("visitorLeft"));
  showTyping(c, false);
  renderHeader(c); renderTab(c); updateComposer(c);
  attention(fled ? t("quickExitBadge") : t("visitorLeftFlash"), c.id);
  announce(fled ? t("visitorFled") : t("visitorLeft"));
  if (fled) beep();
}

// ---- reading along and taking over (crisis worker, supervisor) --------------------------

// A conversation this console reads along (read-only, live) until it is taken over.
function openReadAlong(view) {
  const c = upsertConversation(view);
  c.readOnly = true;
  mergeConversation(c, view);
  showView("chats", false);
  activate(c.id);
}

async function takeOver(c) {
  const btn = c.panel.querySelector(".act-takeover");
  btn.disabled = true;
  let res;
  try { res = await actions.takeOver({ conversation_id: c.id }); } catch (e) { btn.disabled = false; showNotice(t("offline")); return; }
  const err = errorOf(res);
  if (err) { btn.disabled = false; showNotice(errorText(err)); return; }
  if (res.state === "taken") {
    c.readOnly = false; c.takeoverUntil = null;
    mergeConversation(c, res.conversation);
    showNotice(t("takeOverDone"), 6000);
    return;
  }
  c.takeoverUntil = res.expires_at;
  setBanner(c, t("takeOverAskedNote", { time: clock(res.expires_at) }));
  renderHeader(c);
  const wait = Math.max(0, new Date(res.expires_at).getTime() - Date.now());
  setTimeout(function () { if (convs.get(c.id) === c) renderHeader(c); }, wait + 200);
}

export function onReader(d) {
  const c = d && convs.get(d.conversation_id);
  if (c && !c.readOnly) setBanner(c, t("readerJoined", { name: d.by_name || t("byColleague") }));
}

export function onTakeOverRequest(d) {
  const c = d && convs.get(d.conversation_id);
  if (!c || c.readOnly) return;
  const box = c.panel.querySelector(".conv-takeover");
  c.panel.querySelector(".conv-takeover-text").textContent = t("takeOverRequest", { name: d.by_name || t("byColleague") });
  box.hidden = false;
  attention(t("takeOver"), c.id);
  beep();
}

async function answerTakeOver(c, accept) {
  c.panel.querySelector(".conv-takeover").hidden = true;
  let res;
  try { res = await actions.answerTakeOver({ conversation_id: c.id, accept: accept }); } catch (e) { showNotice(t("offline")); return; }
  const err = errorOf(res);
  if (err) showNotice(errorText(err));
}

export function onTakeOverDeclined(d) {
  const c = d && convs.get(d.conversation_id);
  if (c) { c.takeoverUntil = null; renderHeader(c); setBanner(c, t("takeOverDeclined", { name: d.by_name || "" })); }
}

export function onTakenOver(d) {
  const c = d && convs.get(d.conversation_id);
  if (c) { c.readOnly = false; c.takeoverUntil = null; renderHeader(c); updateComposer(c); setBanner(c, t("takeOverDone")); }
}

export function onTakenFromYou(d) {
  if (!d) return;
  showNotice(t("takenFromYou", { name: d.by_name || t("byColleague") }));
  const c = convs.get(d.conversation_id);
  if (c) { delete drafts[c.id]; store(KEY_DRAFTS, drafts); removeConversation(c); }
}

// The visitor's connection of an active chat went, or came back.
export function onVisitorPresence(d) {
  const c = d && convs.get(d.conversation_id);
  if (!c || c.status === "closed") return;
  c.summary = Object.assign({}, c.summary, { visitor_present: !!d.present, visitor_away_since: d.present ? null : d.since });
  setBanner(c, d.present ? t("visitorBack") : t("visitorAway", { time: clock(d.since) }));
  renderHeader(c); renderTab(c);
  announce(d.present ? t("visitorBack") : t("visitorGoneBadge"));
}

// Supervisors: a conversation the visitor left got no outcome in time (closed as "geen").
export function onOutcomeMissing(d) {
  if (!d || !d.conversation_id) return;
  showNotice(t("outcomeMissing", { name: d.agent_name || "", fled: d.quick_exit ? t("outcomeMissingFled") : "" }));
  const c = convs.get(d.conversation_id);
  if (c) loadHistory(c.id);
}

// The crisis team: a melding with urgency spoed from a conversation the visitor already left.
export function onSpoedMelding(d) {
  if (!d || !d.handoff_id) return;
  showNotice(t("spoedMelding", {
    by: d.by_name || "", gemeente: d.gemeente ? " (" + d.gemeente + ")" : "", summary: d.summary || ""
  }), 0, { label: t("openCase"), run: function () { openCaseById(d.handoff_id); } });
  beep();
  if (document.hidden || !document.hasFocus()) flashTitle(t("spoedFlash"));
}

function removeConversation(c) {
  convs.delete(c.id);
  c.panel.remove();
  c.tab.remove();
  delete drafts[c.id]; store(KEY_DRAFTS, drafts);
  dropPending(c);
  if (activeId === c.id) {
    activeId = null;
    if (convs.size) activate(convs.keys().next().value); else $("no-conversation").hidden = false;
  }
  updateEmpty();
}

function updateEmpty() {
  $("mine-empty").hidden = convs.size > 0;
  $("no-conversation").hidden = !!activeId && convs.has(activeId);
}

// ---- tabs ----------------------------------------------------------------------------

function renderTab(c) {
  const tab = c.tab;
  tab.textContent = "";
  const name = el("span", "tab-name", label("caller_type", c.summary.caller_type) + " · " + label("intent", c.summary.intent));
  tab.appendChild(name);
  if (c.summary.danger_now || c.summary.in_crisis || c.summary.quick_exit) {
    const badges = el("span", "tab-badges");
    if (c.summary.in_crisis) badges.appendChild(el("span", "badge badge-crisis badge-small", t("crisisBadge")));
    if (c.summary.danger_now) badges.appendChild(el("span", "badge badge-danger badge-small", t("dangerBadgeSmall")));
    if (c.summary.quick_exit) badges.appendChild(el("span", "badge badge-danger badge-small", t("quickExitBadge")));
    tab.appendChild(badges);
  }
  const sub = el("span", "tab-sub", conv.awaitingOutcome(c) ? t("visitorGoneBadge") + " · " + t("outcomeTabSub")
    : c.status === "closed" ? t("tabEnded")
    : c.summary.visitor_present === false ? t("visitorGoneBadge")
    : (c.summary.topic || label("team", c.summary.team)));
  tab.appendChild(sub);
  if (c.unread > 0) {
    const u = el("span", "unread", String(c.unread));
    u.setAttribute("aria-label", t("unreadLabel", { n: c.unread }));
    tab.appendChild(u);
  }
  tab.classList.toggle("tab-closed", c.status === "closed");
  tab.classList.toggle("tab-danger", !!(c.summary.danger_now || c.summary.in_crisis));
  updateViewBadges();
  if (!anyUnread() && !crises.size && !document.hidden) stopFlash();
}

function anyUnread() { return conv.unreadTotal(convs) > 0; }

function activate(id) {
  const c = convs.get(id);
  if (!c) return;
  activeId = id;
  convs.forEach(function (o) {
    const on = o.id === id;
    o.panel.hidden = !on;
    o.tab.setAttribute("aria-selected", on ? "true" : "false");
    o.tab.tabIndex = on ? 0 : -1;
  });
  c.unread = 0;
  renderTab(c);
  updateEmpty();
  scrollDown(c, true);
  if (currentView === "chats") c.panel.querySelector(".composer-text").focus({ preventScroll: true });
}

$("tabs").addEventListener("keydown", function (e) {
  if (["ArrowDown", "ArrowUp", "Home", "End"].indexOf(e.key) < 0) return;
  const tabs = Array.prototype.slice.call($("tabs").children);
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  const next = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowDown" ? 1 : -1) + tabs.length) % tabs.length;
  tabs[next].focus();
  activate(tabs[next].dataset.conversationId);
  tabs[next].focus();
});

// ---- conversation panel -------------------------------------------------------------

let panelCounter = 0;

function buildConversation(c) {
  panelCounter += 1;
  const n = panelCounter;
  const frag = $("tpl-conversation").content.cloneNode(true);
  const panel = frag.querySelector(".conv");
  panel.id = "conv-" + n;
  panel.dataset.conversationId = c.id;
  panel.hidden = true;
  const tab = el("button", "tab");
  tab.type = "button";
  tab.id = "tab-" + n;
  tab.setAttribute("role", "tab");
  tab.setAttribute("aria-controls", panel.id);
  tab.setAttribute("aria-selected", "false");
  tab.tabIndex = -1;
  tab.dataset.conversationId = c.id;
  tab.addEventListener("click", function () { activate(c.id); });
  panel.setAttribute("aria-labelledby", tab.id);

  panel.querySelector(".log").setAttribute("aria-label", t("logLabel"));
  const radios = panel.querySelectorAll(".modes input");
  radios.forEach(function (r) {
    r.name = "mode-" + n;
    r.addEventListener("change", function () { if (r.checked) setMode(c, r.value); });
  });
  panel.querySelector(".modes").setAttribute("aria-label", t("modesLabel"));
  const ta = panel.querySelector(".composer-text");
  ta.id = "composer-" + n;
  panel.querySelector(".composer-label").setAttribute("for", ta.id);
  const d = drafts[c.id] || {};
  ta.value = d.message || "";
  ta.addEventListener("input", function () {
    saveDraft(c, ta.value);
    if (c.mode === "message") sendTyping(c, ta.value.length > 0);
  });
  ta.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(c); }
  });
  ta.addEventListener("blur", function () { if (c.outTyping) sendTyping(c, false); });
  panel.querySelector(".composer").addEventListener("submit", function (e) { e.preventDefault(); submit(c); });
  panel.querySelector(".act-close").addEventListener("click", function () { openClose(c); });
  panel.querySelector(".act-takeover").addEventListener("click", function () { takeOver(c); });
  panel.querySelector(".act-handover").addEventListener("click", function () { answerTakeOver(c, true); });
  panel.querySelector(".act-keep").addEventListener("click", function () { answerTakeOver(c, false); });
  panel.querySelector(".act-escalate").addEventListener("click", function () { openEscalate(c); });
  panel.querySelector(".act-transfer").addEventListener("click", function () { openTransfer(c); });
  const crisisBox = panel.querySelector(".conv-crisis");
  crisisBox.querySelector(".conv-crisis-title").id = "conv-crisis-title-" + n;
  crisisBox.setAttribute("aria-labelledby", "conv-crisis-title-" + n);
  crisisBox.querySelector(".conv-crisis-timeline").setAttribute("aria-label", t("crisisTimeline"));
  applyTexts(panel);
  panel.querySelector(".act-close-tab").addEventListener("click", function () { removeConversation(c); });

  c.panel = panel;
  c.tab = tab;
  $("conversations").appendChild(panel);
  $("tabs").appendChild(tab);
  setMode(c, "message");
}

function setMode(c, mode) {
  const ta = c.panel.querySelector(".composer-text");
  const d = drafts[c.id] || {};
  d[c.mode] = ta.value;                              // keep the draft of the mode we leave
  c.mode = mode;
  ta.value = d[mode] || "";
  drafts[c.id] = d; store(KEY_DRAFTS, drafts);
  const form = c.panel.querySelector(".composer");
  form.classList.toggle("composer-note", mode === "note");
  ta.placeholder = mode === "note"
    ? t("notePlaceholder")
    : t("messagePlaceholder");
  c.panel.querySelector(".composer-label").textContent = mode === "note" ? t("noteLabel") : t("messageLabel");
  c.panel.querySelector(".composer-send").textContent = mode === "note" ? t("saveNote") : t("sendMessage");
  c.panel.querySelectorAll(".modes input").forEach(function (r) { r.checked = r.value === mode; });
  if (mode === "note" && c.outTyping) sendTyping(c, false);
}

function saveDraft(c, text) {
  const d = drafts[c.id] || {};
  d[c.mode] = text;
  drafts[c.id] = d;
  store(KEY_DRAFTS, drafts);
}

function sendTyping(c, on) {
  if (c.status !== "active" || !sock.connected()) return;
  clearTimeout(c.outTypingTimer);
  const now = Date.now();
  if (on) {
    if (!c.outTyping || now - c.lastTypingSent > 3000) {
      c.outTyping = true; c.lastTypingSent = now;
      actions.typing(c.id, true);
    }
    c.outTypingTimer = setTimeout(function () { sendTyping(c, false); }, 4000);
  } else if (c.outTyping) {
    c.outTyping = false;
    actions.typing(c.id, false);
  }
}

function renderHeader(c) {
  const s = c.summary;
  c.panel.querySelector(".conv-name").textContent =
    label("caller_type", s.caller_type) + " — " + label("intent", s.intent);
  const meta = c.panel.querySelector(".conv-meta");
  meta.textContent = "";
  if (s.in_crisis) meta.appendChild(el("span", "badge badge-crisis", t("crisisBadge")));
  if (s.danger_now) meta.appendChild(el("span", "badge badge-danger", t("dangerNowBadge")));
  if (s.topic) meta.appendChild(el("span", "meta-topic", t("topicPrefix") + s.topic));
  if (s.team) meta.appendChild(el("span", "chip", label("team", s.team)));
  if (s.accepted_at) meta.appendChild(el("span", "muted", "aangenomen " + clock(s.accepted_at)));
  if (s.quick_exit) meta.appendChild(el("span", "badge badge-danger", t("quickExitBadge")));
  if (s.visitor_left) meta.appendChild(el("span", "badge badge-gone", s.left_at ? t("visitorGoneSince", { time: clock(s.left_at) }) : t("visitorGoneBadge")));
  else if (c.status !== "closed" && s.visitor_present === false) meta.appendChild(el("span", "badge badge-gone", s.visitor_away_since ? t("visitorGoneSince", { time: clock(s.visitor_away_since) }) : t("visitorGoneBadge")));
  if (conv.awaitingOutcome(c) && s.outcome_due_at) meta.appendChild(el("span", "muted", t("outcomeDue", { time: dayClock(s.outcome_due_at) })));
  const closed = c.status === "closed";
  const reading = !!c.readOnly && !closed;
  if (reading) meta.appendChild(el("span", "badge badge-gone", t("readingBadge")));
  c.panel.querySelector(".act-close").hidden = reading || (closed && !conv.awaitingOutcome(c));
  c.panel.querySelector(".act-escalate").hidden = closed || reading;
  c.panel.querySelector(".act-transfer").hidden = closed || reading;
  c.panel.querySelector(".act-close-tab").hidden = !(closed || c.readOnly) || conv.awaitingOutcome(c);
  const take = c.panel.querySelector(".act-takeover");
  take.hidden = !reading;
  const asked = !!c.takeoverUntil && new Date(c.takeoverUntil).getTime() > Date.now();
  take.disabled = asked;
  take.textContent = asked ? t("takeOverAsked") : c.takeoverUntil ? t("takeOverNow") : t("takeOver");
  c.panel.classList.toggle("conv-danger", !!(s.danger_now || s.in_crisis));
}

function setBanner(c, text) {
  const b = c.panel.querySelector(".conv-banner");
  b.textContent = text || "";
  b.hidden = !text;
}

function updateComposer(c) {
  const closed = c.status === "closed" || !!c.readOnly;
  const form = c.panel.querySelector(".composer");
  form.querySelectorAll("textarea, button, input").forEach(function (x) { x.disabled = closed; });
  form.hidden = closed;
}

// ---- the log: messages by seq, notes by time, pending at the end ----------------------

function renderLog(c) {
  const log = c.panel.querySelector(".log");
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const items = conv.timeline(c);
  const wanted = new Set(items.map(function (i) { return i.key; }));
  c.nodes.forEach(function (node, key) { if (!wanted.has(key)) { node.remove(); c.nodes.delete(key); } });
  let prev = null;
  items.forEach(function (it) {
    let node = c.nodes.get(it.key);
    if (!node) { node = buildItem(it); c.nodes.set(it.key, node); }
    const want = prev ? prev.nextSibling : log.firstChild;
    if (want !== node) log.insertBefore(node, want);
    prev = node;
  });
  scrollDown(c, nearBottom);
}

function scrollDown(c, force) {
  if (!force) return;
  const log = c.panel.querySelector(".log");
  requestAnimationFrame(function () { log.scrollTop = log.scrollHeight; });
}

function buildItem(it) {
  if (it.note) {
    const li = el("li", "item note");
    li.dataset.noteId = it.note.id;
    li.appendChild(el("p", "note-label", t("notePlaceholder")));
    li.appendChild(el("p", "text", it.note.text));
    li.appendChild(el("p", "when", clock(it.note.at)));
    return li;
  }
  if (it.pending) {
    const lp = el("li", "item msg msg-agent msg-pending");
    lp.dataset.clientId = it.pending.client_id;
    lp.appendChild(el("p", "who", t("whoMe")));
    lp.appendChild(el("p", "text", it.pending.text));
    lp.appendChild(el("p", "when", "wordt verzonden…"));
    return lp;
  }
  const m = it.msg;
  if (m.sender === "system") {
    const ls = el("li", "item msg-system");
    ls.dataset.seq = String(m.seq);
    ls.appendChild(el("p", "text", m.text));
    return ls;
  }
  const mine = m.sender === "agent";
  const lm = el("li", "item msg " + (mine ? "msg-agent" : "msg-visitor"));
  lm.dataset.seq = String(m.seq);
  lm.appendChild(el("p", "who", mine ? t("whoAdvisor") : t("whoVisitor")));
  lm.appendChild(el("p", "text", m.text));
  lm.appendChild(el("p", "when", clock(m.at)));
  return lm;
}

// ---- sending: messages (retried with the same client_id) and notes --------------------

function saveOutbox() {
  outbox = [];
  convs.forEach(function (c) { c.pending.forEach(function (p) { outbox.push(p); }); });
  store(KEY_OUTBOX, outbox);
}

function dropPending(c) {
  if (!c.pending.size) return;
  c.pending.clear();
  saveOutbox();
}

function composerError(c, text) {
  const e = c.panel.querySelector(".composer-error");
  e.textContent = text || "";
  e.hidden = !text;
}

async function submit(c) {
  const ta = c.panel.querySelector(".composer-text");
  const text = ta.value;
  if (!text.trim()) return;
  composerError(c, "");
  if (c.mode === "note") {
    let res;
    try { res = await actions.addNote({ conversation_id: c.id, text: text }); } catch (e) {
      composerError(c, t("noteOffline")); return;
    }
    const err = errorOf(res);
    if (err) { composerError(c, errorText(err)); return; }
    c.notes.set(res.id, { id: res.id, text: text, at: new Date().toISOString(), internal: true });
    ta.value = ""; saveDraft(c, "");
    renderLog(c); scrollDown(c, true);
    return;
  }
  const p = { conversation_id: c.id, client_id: newClientId(), text: text };
  c.pending.set(p.client_id, p);
  saveOutbox();
  ta.value = ""; saveDraft(c, "");
  sendTyping(c, false);
  renderLog(c); scrollDown(c, true);
  deliver(p);
}

async function deliver(p) {
  if (inFlight.has(p.client_id)) return;
  const c = convs.get(p.conversation_id);
  if (!c || !sock.connected()) return;
  const attempt = ++attempts;
  inFlight.set(p.client_id, attempt);
  let res;
  try { res = await actions.sendMessage({ conversation_id: p.conversation_id, client_id: p.client_id, text: p.text }); } catch (e) {
    if (inFlight.get(p.client_id) === attempt) {
      inFlight.delete(p.client_id);
      // No answer: the same client_id again (the server stores it once). Also on reconnect.
      setTimeout(function () { if (c.pending.has(p.client_id)) deliver(p); }, 1500);
    }
    return;
  }
  if (inFlight.get(p.client_id) === attempt) inFlight.delete(p.client_id);
  if (!c.pending.has(p.client_id)) return; // answered by an earlier attempt already
  const err = errorOf(res);
  if (err) {
    if (err.code === "unauthorized") return; // kept; sent again after logging in
    if (err.code === "rate_limited" || err.code === "internal") { setTimeout(function () { deliver(p); }, 3000); return; }
    c.pending.delete(p.client_id); saveOutbox(); renderLog(c);
    // Give the text back so nothing typed is lost.
    const ta = c.panel.querySelector(".composer-text");
    if (c.mode === "message" && !ta.value) { ta.value = p.text; saveDraft(c, p.text); }
    composerError(c, t("notSentPrefix") + errorText(err));
    return;
  }
  c.pending.delete(p.client_id);
  saveOutbox();
  addMessage(c, { id: res.id, seq: res.seq, at: res.at, sender: "agent", text: p.text }, false);
  renderLog(c);
}

function flushOutbox() {
  convs.forEach(function (c) { c.pending.forEach(function (p) { deliver(p); }); });
}

// ---- teams and expertise: one source, the routing file on the server -----------------

let routing = null;                         // {teams: [{id, name, crisis}], expertise: [{id, name}]}
let routingAsked = 0;

async function loadRouting() {
  const asked = ++routingAsked;
  let body = null;
  try {
    const r = await actions.loadConfig();
    if (r.status === 200) body = r.body;
  } catch (e) { body = null; }
  if (asked !== routingAsked) return;
  const named = function (x) { return x && typeof x.id === "string" && x.id && typeof x.name === "string"; };
  if (!body || !Array.isArray(body.teams) || !Array.isArray(body.expertise)) {
    if (!routing) routingStatus(t("routingFailed"));
    return;
  }
  routing = { teams: body.teams.filter(named), expertise: body.expertise.filter(named) };
  LABELS.team = {};
  routing.teams.forEach(function (x) { LABELS.team[x.id] = x.name; });
  LABELS.expertise = {};
  routing.expertise.forEach(function (x) { LABELS.expertise[x.id] = x.name; });
  renderRoutingForms();
  relabelTeams();
}
function routingStatus(text) {
  ["close-expertise-status", "transfer-team-status"].forEach(function (id) {
    $(id).textContent = text || "";
    $(id).hidden = !text;
  });
}
// The close form's expertise and the transfer dialog's teams, keeping what is ticked or chosen.
function renderRoutingForms() {
  const box = $("close-expertise");
  const ticked = new Set(Array.prototype.map.call(box.querySelectorAll("input:checked"), function (x) { return x.value; }));
  box.querySelectorAll("label.check").forEach(function (x) { x.remove(); });
  routing.expertise.forEach(function (x) {
    const lab = el("label", "check");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "expertise";
    input.value = x.id;
    input.checked = ticked.has(x.id);
    lab.appendChild(input);
    lab.appendChild(document.createTextNode(" " + x.name));
    box.appendChild(lab);
  });
  const sel = $("transfer-team"), chosen = sel.value;
  Array.prototype.slice.call(sel.options, 1).forEach(function (o) { o.remove(); });
  routing.teams.forEach(function (x) { sel.appendChild(new Option(x.name, x.id)); });
  sel.value = chosen && LABELS.team[chosen] ? chosen : "";
  routingStatus("");
}
// Team names shown before the list came: shown again with their names.
function relabelTeams() {
  Array.prototype.forEach.call($("queue").children, function (li) { li.dataset.sig = ""; });
  renderQueue();
  convs.forEach(function (c) { renderTab(c); renderHeader(c); });
}

// ---- closing with an outcome -------------------------------------------------------

function openClose(c) {
  closingCallback = null;
  closingId = c.id;
  openCloseForm(t("chatCloseTitle"), t("chatCloseSubmit"), "");
}
// The same outcome form, rules and checks as a chat's close, for a callback (console.js below).
function openCallbackClose(cb) {
  closingId = null;
  closingCallback = cb;
  const refs = selectedRefs(cb);
  const context = t("cbCloseContext", { phone: cb.phone }) + (refs ? " · " + t("cbCloseFor", { refs: refs.join(", ") }) : "");
  openCloseForm(t("cbCloseTitle"), t("cbCloseSubmit"), context);
}
// The CBS list of gemeenten, for the melding form's search (loaded once, at the first close).
let gemeenten = null;
async function ensureGemeenten() {
  if (gemeenten) return;
  const res = await actions.gemeenten();
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.gemeenten)) return;
  gemeenten = res.body.gemeenten;
  const list = $("gemeente-list");
  list.textContent = "";
  gemeenten.forEach(function (g) { const o = document.createElement("option"); o.value = g; list.appendChild(o); });
}

function openCloseForm(title, submit, context) {
  ensureGemeenten();
  if (!routing) loadRouting();
  setText($("close-title"), title);
  setText($("close-submit"), submit);
  setText($("close-context"), context);
  $("close-context").hidden = !context;
  const f = $("close-form");
  f.reset();
  $("close-error").hidden = true;
  f.querySelectorAll("[aria-invalid]").forEach(function (x) { x.removeAttribute("aria-invalid"); });
  $("close-dialog").showModal();
  f.querySelector("input[name=kind]:checked").focus();
  updateKindHints();
}
function updateKindHints() {
  const melding = $("close-form").querySelector("input[name=kind]:checked").value === "melding";
  $("close-form").classList.toggle("is-melding", melding);
}
$("close-form").querySelectorAll("input[name=kind]").forEach(function (r) { r.addEventListener("change", updateKindHints); });
$("close-cancel").addEventListener("click", function () { $("close-dialog").close(); });
$("close-dialog").addEventListener("close", function () {
  const cb = closingCallback;
  closingId = null;
  closingCallback = null;
  if (cb) focusCallback(cb.id, "finish");
});

function showCloseError(missing, serverMessage) {
  const f = $("close-form");
  const fields = { summary: $("close-summary"), urgency: $("close-urgency"), gemeente: $("close-gemeente") };
  Object.keys(fields).forEach(function (k) {
    if (missing.indexOf(k) >= 0) fields[k].setAttribute("aria-invalid", "true"); else fields[k].removeAttribute("aria-invalid");
  });
  const names = missing.map(function (k) { return label("missing", k); });
  let text = serverMessage || "";
  if (names.length) text = (text ? text + " " : "") + t("stillMissingPrefix") + names.join(", ") + ".";
  const e = $("close-error");
  e.textContent = text;
  e.hidden = false;
  const first = missing.length && fields[missing[0]];
  if (first) first.focus();
  f.classList.add("was-validated");
}

$("close-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const c = convs.get(closingId);
  if (!c && !closingCallback) { $("close-dialog").close(); return; }
  const f = $("close-form");
  const outcome = { kind: f.querySelector("input[name=kind]:checked").value };
  const summary = $("close-summary").value.trim(), urgency = $("close-urgency").value, gemeente = $("close-gemeente").value.trim();
  if (summary) outcome.summary = summary;
  if (urgency) outcome.urgency = urgency;
  if (gemeente) outcome.gemeente = gemeente;
  const exp = Array.prototype.map.call(f.querySelectorAll("input[name=expertise]:checked"), function (x) { return x.value; });
  if (exp.length) outcome.expertise = exp;
  if (outcome.kind === "melding") {
    const missing = ["summary", "urgency", "gemeente"].filter(function (k) { return !outcome[k]; });
    if (missing.length) { showCloseError(missing, t("meldingIncomplete")); return; }
  }
  if (closingCallback) { finishCallback(closingCallback, outcome); return; }
  $("close-submit").disabled = true;
  let res;
  try { res = await actions.closeConversation({ conversation_id: c.id, outcome: outcome }); } catch (x) {
    $("close-submit").disabled = false;
    showCloseError([], t("closeOffline")); return;
  }
  $("close-submit").disabled = false;
  const err = errorOf(res);
  if (err) {
    if (err.code === "outcome_incomplete") { showCloseError(err.missing || [], errorText(err)); return; }
    if (err.field === "outcome.gemeente") { showCloseError(["gemeente"], errorText(err)); return; }
    if (err.code === "closed") {
      // Already over; for a conversation the visitor left, the time to record it ran out.
      if (conv.awaitingOutcome(c)) showNotice(t("outcomeLate"));
    } else { showCloseError([], errorText(err)); return; }
  }
  $("close-dialog").close();
  closingId = null;
  // Recorded now: say what (the notice is read out by screen readers). Already over: no claim.
  if (!err) showNotice(closedText("Chat", outcome)); else announce(t("chatClosed"));
  delete drafts[c.id]; store(KEY_DRAFTS, drafts);
  removeConversation(c);
});

// What a close recorded, in words: "Gesprek afgesloten als melding (urgentie hoog). Het staat in Dossiers."
function closedText(what, outcome) {
  const kind = outcome.kind === "melding" ? "Melding" : outcome.kind === "advies" ? "Advies" : "Geen";
  const urgency = outcome.urgency ? t("urg_" + outcome.urgency).toLowerCase() : "";
  return t("closed" + what + kind, { urgency: urgency });
}

// ---- notices (visible, and read out by screen readers) ---------------------------------

let noticeTimer = null;
// `action`: an optional {label, run} for one button beside the text (e.g. open the case).
function showNotice(text, ms, action) {
  const box = $("notice"), p = $("notice-text"), act = $("notice-action");
  clearTimeout(noticeTimer);
  box.hidden = false;
  act.hidden = !action;
  act.textContent = action ? action.label : "";
  act.onclick = action ? function () { hideNotice(); action.run(); } : null;
  p.textContent = "";
  setTimeout(function () { p.textContent = text; }, 30); // a fresh change, so it is read out
  // A passing remark goes by itself, unless the keyboard is on its button.
  if (ms) noticeTimer = setTimeout(function () { if (!box.contains(document.activeElement)) hideNotice(); }, ms);
}
function hideNotice() { clearTimeout(noticeTimer); $("notice").hidden = true; $("notice-text").textContent = ""; }
$("notice-dismiss").addEventListener("click", hideNotice);

// ---- crisis: the alarm stays until someone takes it on --------------------------------

let crisisBeep = null;
let crisisCounter = 0;

function crisisWho(by, byName) {
  if (by === "visitor") return t("byVisitor");
  if (by === "system") return t("bySystem");
  return byName || t("byColleague");
}

export function applyCrises(data) {
  const r = crises.replace(data);
  if (!r) return;
  renderCrises();
  r.changed.forEach(refreshQueueCard);
  if (r.fresh.length) alarm(); else quietCrisis();
}

export function onCrisisAlert(a) {
  const r = crises.alert(a);
  if (!r) return;
  renderCrises();
  if (!r.known) refreshQueueCard(a.conversation_id);
  if (r.newer) alarm();
}

export function onCrisisAcked(d) {
  if (!d || !d.conversation_id) return;
  const mine = agent && d.by === agent.id;
  const who = d.by_name || t("byColleague");
  if (crises.close(d.conversation_id)) {
    renderCrises();
    quietCrisis();
    refreshQueueCard(d.conversation_id);
    if (!mine) announce(t("announceAcked", { who: who }));
  }
  const c = convs.get(d.conversation_id);
  if (c && !mine) {
    // Ours: the holder hears who took the crisis on, and the timeline is read again.
    c.crisisAck = { who: who, at: d.at };
    c.crisisNote = null;
    renderCrisis(c);
    if (c.panel.hidden) announce(t("announceAcked", { who: who })); // a visible panel says it itself
    loadHistory(c.id);
  }
}

// The conversation ended while its crisis still alerted: every console drops the alarm.
export function onCrisisEnded(d) {
  if (!d || !d.conversation_id) return;
  if (crises.close(d.conversation_id)) {
    renderCrises();
    quietCrisis();
    refreshQueueCard(d.conversation_id);
    showNotice(d.held ? t("crisisEndedHeld") : t("crisisEndedGone"));
  }
  const c = convs.get(d.conversation_id);
  if (c) loadHistory(c.id);
}

// A queue card whose conversation is (or no longer is) in the crisis alarm.
function refreshQueueCard(id) {
  const li = document.querySelector('.q-item[data-conversation-id="' + CSS.escape(id) + '"]');
  if (li && li._item) li.replaceWith(buildQueueItem(li._item));
}

function alarm() {
  beep();
  flashTitle(t("alarmTitle"));
  if (!crisisBeep) crisisBeep = setInterval(function () { if (crises.size) beep(); else quietCrisis(); }, 10000);
}

function quietCrisis() {
  if (crises.size) return;
  if (crisisBeep) { clearInterval(crisisBeep); crisisBeep = null; }
  if (anyUnread()) flashText = t("newMessage"); else stopFlash();
}

let crisisCollapsed = false;
$("crisis-toggle").addEventListener("click", function () {
  crisisCollapsed = !crisisCollapsed;
  renderCrises();
});

function renderCrises() {
  const list = $("crisis-list");
  list.hidden = crisisCollapsed;
  $("crisis-alerts").classList.toggle("is-collapsed", crisisCollapsed);
  const toggle = $("crisis-toggle");
  toggle.setAttribute("aria-expanded", String(!crisisCollapsed));
  setText(toggle, crisisCollapsed ? t("crisisExpand") : t("crisisCollapse"));
  setText($("crisis-count"), crisisCollapsed ? t("crisisCollapsed", { n: crises.size }) : "");
  const keep = new Map();
  const focused = list.contains(document.activeElement);
  Array.prototype.forEach.call(list.children, function (li) { keep.set(li.dataset.conversationId, li); });
  keep.forEach(function (li, id) { if (!crises.has(id)) li.remove(); });
  let prev = null;
  crises.open.forEach(function (a, id) {
    const li = keep.get(id) || buildCrisisItem(id);
    fillCrisisItem(li, a);
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  });
  $("crisis-alerts").hidden = crises.size === 0;
  // The button in focus went away with its alert: keep the keyboard in the alarm.
  if (focused && !list.contains(document.activeElement)) {
    const next = list.querySelector(".crisis-ack:not(:disabled)");
    if (next) next.focus();
  }
}

function buildCrisisItem(id) {
  crisisCounter += 1;
  const li = el("li", "crisis-item");
  li.dataset.conversationId = id;
  const reason = el("p", "crisis-reason");
  reason.id = "crisis-reason-" + crisisCounter;
  li.appendChild(reason);
  li.appendChild(el("p", "crisis-meta"));
  const round = el("p", "crisis-round");
  round.hidden = true;
  li.appendChild(round);
  const btn = el("button", "btn btn-danger crisis-ack", t("ack"));
  btn.type = "button";
  btn.setAttribute("aria-describedby", reason.id);
  btn.addEventListener("click", function () { ackCrisis(id); });
  li.appendChild(btn);
  const err = el("p", "form-error small crisis-error");
  err.hidden = true;
  li.appendChild(err);
  return li;
}

function setText(node, text) { if (node.textContent !== text) node.textContent = text; } // no needless re-reading

function fillCrisisItem(li, a) {
  setText(li.querySelector(".crisis-reason"), a.reason || t("noReason"));
  const status = a.status === "waiting" ? t("statusWaiting")
    : a.status === "closed" ? t("statusClosed")
    : agent && a.holder_id === agent.id ? t("statusMine") : t("statusActive");
  const parts = [t("escalatedBy", { who: crisisWho(a.by, a.by_name) }), t("since", { time: clock(a.escalated_at) })];
  if (a.caller_type) parts.push(label("caller_type", a.caller_type));
  parts.push(status);
  setText(li.querySelector(".crisis-meta"), parts.join(" · "));
  const round = li.querySelector(".crisis-round");
  const n = Number(a.round) || 1;
  round.hidden = n < 2;
  setText(round, n < 2 ? "" : t(a.audience === "everyone" ? "roundEveryone" : "round", { n: n }));
  const btn = li.querySelector(".crisis-ack");
  btn.disabled = !!a.busy;
  setText(btn, a.busy ? t("acking") : t("ack"));
  const err = li.querySelector(".crisis-error");
  setText(err, a.error || "");
  err.hidden = !a.error;
}

async function ackCrisis(id) {
  const a = crises.get(id);
  if (!a || a.busy) return;
  a.busy = true; a.error = null;
  renderCrises();
  let res;
  try { res = await actions.ackCrisis({ conversation_id: id }); } catch (e) {
    a.busy = false; a.error = t("offline"); renderCrises(); return;
  }
  a.busy = false;
  const err = errorOf(res);
  if (err) {
    const text = err.code === "already_taken" ? t("ackAlreadyTaken")
      : err.code === "forbidden" ? t("ackForbidden")
      : err.code === "conflict" ? t("ackConflict")
      : err.code === "not_found" ? t("ackNotFound") : errorText(err);
    if (["already_taken", "conflict", "not_found", "closed"].indexOf(err.code) >= 0) {
      // Nothing left to take on here: the alarm goes, the reason why stays on screen.
      crises.close(id); renderCrises(); quietCrisis(); showNotice(text);
    } else if (crises.has(id)) {
      a.error = text; renderCrises();
    }
    return;
  }
  crises.close(id);
  renderCrises();
  quietCrisis();
  if (res.taken && res.conversation) {
    const c = upsertConversation(res.conversation);
    mergeConversation(c, res.conversation);
    showView("chats", false);
    activate(c.id);
    showNotice(t("ackedTaken"));
  } else if (res.read_along && res.conversation) {
    // Held by a colleague: read it along at once, with "Neem over" at hand.
    openReadAlong(res.conversation);
    showNotice(t("ackedHeld"));
  } else {
    showNotice(t("ackedHeld"));
  }
}

// The crisis box in a conversation: where it stands, and the timeline from the history.

// One line of a crisis timeline, in words (the conversation's crisis box and the case register).
const TAKEOVER_HOW = { consent: "takeOverHowConsent", no_answer: "takeOverHowNoAnswer", holder_offline: "takeOverHowOffline" };
function crisisEventText(ev) {
  const who = crisisWho(ev.by, ev.by_name);
  switch (ev.kind) {
    case "escalated": return t("kind_escalated", { who: who }) + (ev.reason ? ": " + ev.reason : "");
    case "alerted": return t("kind_alerted", { n: ev.round || 1, audience: t("audience_" + (ev.audience === "everyone" ? "everyone" : "crisis")) });
    case "acknowledged": return t("kind_acknowledged", { who: who });
    case "ended": return t("kind_ended") + (ev.reason ? " " + ev.reason : "");
    case "take_over_asked": return t("kind_take_over_asked", { who: who });
    case "take_over_no": return t("kind_take_over_no", { who: who });
    case "taken_over": return t("kind_taken_over", { who: who }) + (TAKEOVER_HOW[ev.reason] ? " (" + t(TAKEOVER_HOW[ev.reason]) + ")" : "");
    default: return String(ev.kind || "");
  }
}

function renderCrisis(c) {
  const box = c.panel.querySelector(".conv-crisis");
  const cr = c.summary.crisis;
  if (!cr && !c.crisisNote && !c.crisisAck) { box.hidden = true; return; }
  box.hidden = false;
  const events = (cr && Array.isArray(cr.timeline)) ? cr.timeline : [];
  let status = "";
  if (cr && cr.acknowledged_at) {
    let ack = c.crisisAck || { who: t("byColleague") };
    events.forEach(function (ev) { if (ev.kind === "acknowledged") ack = { who: ev.by_name || t("byColleague") }; });
    status = t("crisisAcked", { who: ack.who, time: clock(cr.acknowledged_at) });
  } else if (c.crisisAck) {
    status = t("crisisAcked", { who: c.crisisAck.who, time: clock(c.crisisAck.at) }); // the history follows
  } else if (c.crisisNote) {
    status = c.crisisNote;
  } else if (cr && cr.ended_at) {
    status = t("crisisEndedAt", { time: clock(cr.ended_at) });
  } else if (cr) {
    let lastAlert = null;
    events.forEach(function (ev) { if (ev.kind === "alerted") lastAlert = ev; });
    status = t("crisisWaiting", { time: clock((lastAlert && lastAlert.at) || cr.at) });
  }
  setText(box.querySelector(".conv-crisis-status"), status);
  const list = box.querySelector(".conv-crisis-timeline");
  list.textContent = "";
  events.forEach(function (ev) {
    const li = el("li", "crisis-event crisis-" + ev.kind);
    const when = el("time", null, clock(ev.at));
    when.setAttribute("datetime", ev.at || "");
    li.appendChild(when);
    let text;
    li.appendChild(document.createTextNode(crisisEventText(ev)));
    list.appendChild(li);
  });
  list.hidden = events.length === 0;
}

// ---- escalating to the crisis team -------------------------------------------------

let escalatingId = null;

function escalateError(text) {
  const e = $("escalate-error");
  e.textContent = text || "";
  e.hidden = !text;
  if (text) $("escalate-reason").setAttribute("aria-invalid", "true"); else $("escalate-reason").removeAttribute("aria-invalid");
}

function openEscalate(c) {
  escalatingId = c.id;
  $("escalate-form").reset();
  escalateError("");
  $("escalate-submit").disabled = false;
  $("escalate-dialog").showModal();
  $("escalate-reason").focus();
}
$("escalate-cancel").addEventListener("click", function () { $("escalate-dialog").close(); });
$("escalate-reason").addEventListener("input", function () { if (!$("escalate-error").hidden) escalateError(""); });
$("escalate-dialog").addEventListener("close", function () {
  const c = convs.get(escalatingId);
  escalatingId = null;
  if (c && !c.panel.hidden) c.panel.querySelector(".act-escalate").focus();
});

$("escalate-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const c = convs.get(escalatingId);
  if (!c) { $("escalate-dialog").close(); return; }
  const reason = $("escalate-reason").value.trim();
  if (!reason) { escalateError(t("escalateMissing")); $("escalate-reason").focus(); return; }
  if (Array.from(reason).length > 500) { escalateError(t("escalateTooLong")); $("escalate-reason").focus(); return; }
  escalateError("");
  $("escalate-submit").disabled = true;
  let res;
  try { res = await actions.escalate({ conversation_id: c.id, reason: reason }); } catch (x) {
    $("escalate-submit").disabled = false;
    escalateError(t("escalateOffline")); return;
  }
  $("escalate-submit").disabled = false;
  const err = errorOf(res);
  if (err) { escalateError(errorText(err)); return; }
  $("escalate-dialog").close();
  c.crisisAck = null;
  c.crisisNote = res.already_running ? t("escalateRunning") : t("escalateSent");
  c.summary = Object.assign({}, c.summary, { in_crisis: true });
  renderHeader(c); renderTab(c); renderCrisis(c);
  loadHistory(c.id);
});

// ---- transfer to a team or a colleague ---------------------------------------------

let transferringId = null;
let colleaguesAsked = 0;

function transferError(text, field) {
  const e = $("transfer-error");
  e.textContent = text || "";
  e.hidden = !text;
  ["transfer-team", "transfer-agent"].forEach(function (id) {
    if (field === id) $(id).setAttribute("aria-invalid", "true"); else $(id).removeAttribute("aria-invalid");
  });
}
function transferTarget() { return $("transfer-form").querySelector("input[name=target]:checked").value; }
function syncTransferTarget() {
  const toAgent = transferTarget() === "agent";
  $("transfer-team-field").hidden = toAgent;
  $("transfer-agent-field").hidden = !toAgent;
  transferError("");
}
$("transfer-form").querySelectorAll("input[name=target]").forEach(function (r) { r.addEventListener("change", syncTransferTarget); });

function openTransfer(c) {
  if (!routing) loadRouting();
  transferringId = c.id;
  $("transfer-form").reset();
  syncTransferTarget();
  $("transfer-submit").disabled = false;
  $("transfer-dialog").showModal();
  $("transfer-form").querySelector("input[name=target]:checked").focus();
  loadColleagues();
}
$("transfer-cancel").addEventListener("click", function () { $("transfer-dialog").close(); });
["transfer-team", "transfer-agent"].forEach(function (id) {
  $(id).addEventListener("change", function () { if (!$("transfer-error").hidden) transferError(""); });
});
$("transfer-dialog").addEventListener("close", function () {
  const c = convs.get(transferringId);
  transferringId = null;
  if (c && !c.panel.hidden) c.panel.querySelector(".act-transfer").focus();
});

async function loadColleagues() {
  const asked = ++colleaguesAsked;
  const sel = $("transfer-agent"), status = $("transfer-agent-status");
  sel.textContent = "";
  sel.appendChild(new Option(t("chooseColleague"), ""));
  sel.disabled = true;
  status.textContent = t("colleaguesLoading");
  let body = null;
  try {
    const r = await actions.colleagues();
    if (r.status >= 200 && r.status < 300) body = r.body;
  } catch (e) { body = null; }
  if (asked !== colleaguesAsked) return; // the dialog was opened again meanwhile
  if (!body || !Array.isArray(body.agents)) { status.textContent = t("colleaguesFailed"); return; }
  const me = agent && agent.id;
  const list = body.agents.filter(function (a) { return a && a.id && a.id !== me; });
  list.sort(function (a, b) {
    return (b.online ? 1 : 0) - (a.online ? 1 : 0) || String(a.name).localeCompare(String(b.name), "nl");
  });
  if (!list.length) { status.textContent = t("colleaguesNone"); return; }
  const groups = { true: null, false: null };
  list.forEach(function (a) {
    const on = !!a.online;
    if (!groups[on]) {
      groups[on] = document.createElement("optgroup");
      groups[on].label = on ? t("groupOnline") : t("groupOffline");
      sel.appendChild(groups[on]);
    }
    const teams = (a.teams || []).map(function (x) { return label("team", x); });
    const text = String(a.name) + (teams.length ? " (" + teams.join(", ") + ")" : "") + " — " + (on ? t("online") : t("offline_"));
    const opt = new Option(text, a.id);
    opt.dataset.name = String(a.name);
    groups[on].appendChild(opt);
  });
  sel.disabled = false;
  const online = list.filter(function (a) { return a.online; }).length;
  status.textContent = t("colleaguesCount", { online: online, total: list.length });
}

$("transfer-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const c = convs.get(transferringId);
  if (!c) { $("transfer-dialog").close(); return; }
  let payload = { conversation_id: c.id }, to;
  if (transferTarget() === "agent") {
    const sel = $("transfer-agent");
    if (!sel.value) { transferError(t("transferMissingAgent"), "transfer-agent"); sel.focus(); return; }
    payload.agent_id = sel.value;
    to = sel.selectedOptions[0].dataset.name || sel.selectedOptions[0].textContent;
  } else {
    const team = $("transfer-team");
    if (!team.value) { transferError(t("transferMissingTeam"), "transfer-team"); team.focus(); return; }
    payload.team = team.value;
    to = team.selectedOptions[0].textContent;
  }
  transferError("");
  $("transfer-submit").disabled = true;
  let res;
  try { res = await actions.transfer(payload); } catch (x) {
    $("transfer-submit").disabled = false;
    transferError(t("transferOffline")); return;
  }
  $("transfer-submit").disabled = false;
  const err = errorOf(res);
  if (err) {
    const field = payload.agent_id ? "transfer-agent" : "transfer-team";
    if (err.code === "capacity_reached") transferError(t("transferCapacity", { limit: err.limit ? " (" + err.limit + ")" : "" }), field);
    else if (err.code === "not_found") transferError(t("transferNotFound"), field);
    else if (err.code === "forbidden") transferError(t("transferForbidden"));
    else transferError(errorText(err));
    return;
  }
  transferringId = null;
  $("transfer-dialog").close();
  // It has left our `mine`: it closes here, drafts and all.
  removeConversation(c);
  showNotice(t("transferDone", { to: to }));
});

export function onTransferred(d) {
  if (!d || !d.conversation_id) return;
  const from = d.from || t("byColleague");
  const c = convs.get(d.conversation_id);
  if (c) setBanner(c, t("transferredIn", { from: from })); else transferredFrom.set(d.conversation_id, from);
  announce(t("transferredAnnounce", { from: from }));
  attention(t("transferredAnnounce", { from: from }), d.conversation_id);
}

// ---- push offers: a waiting chat offered to this advisor, to accept or let pass -------

const OFFER_NOTICE_MS = 8000;

function expertiseLabel(code) {
  return (LABELS.expertise && LABELS.expertise[code]) || String(code).replace(/_/g, " ");
}
function offerWhat(o) {
  const parts = [label("caller_type", o.caller_type), label("intent", o.intent)];
  if (o.danger_now) parts.push(t("offerDanger"));
  if (o.topic) parts.push(String(o.topic));
  return parts.join(", ");
}

export function onOffer(o) {
  if (!o || typeof o.conversation_id !== "string" || !o.conversation_id) return;
  const known = convs.get(o.conversation_id);
  if (known && known.status === "active") return; // ours already
  if (offer && offer.id === o.conversation_id && offer.busy) return;
  offer = offers.makeOffer(o, Date.now(), queue.has(o.conversation_id));
  renderOffer();
  announce(t("offerAnnounce", { what: offerWhat(o) }));
  beep();
  if (document.hidden || !document.hasFocus()) flashTitle(t("offerFlash"));
}

export function onOfferWithdrawn(d) {
  if (!d || !offer || d.conversation_id !== offer.id) return;
  const texts = { taken: "offerTaken", ended: "offerGone" };
  voidOffer(t(texts[d.reason] || "offerExpired"));
}

function checkOfferInQueue() {
  if (!offer || !offers.goneFromQueue(offer, queue.has(offer.id))) return;
  const c = convs.get(offer.id);
  voidOffer(c && c.status === "active" ? "" : t("offerGone")); // taken from the queue by us: nothing to say
}

// The offer is over. While an answer of ours is on its way, that answer decides what to say.
function voidOffer(text) {
  if (!offer) return;
  if (offer.busy) { offer.voided = text; return; }
  dropOffer();
  if (text) showNotice(text, OFFER_NOTICE_MS);
}

function dropOffer() {
  offer = null;
  renderOffer();
}

function renderOffer() {
  const box = $("offer");
  if (!offer) {
    const focused = box.contains(document.activeElement);
    box.hidden = true;
    delete box.dataset.conversationId;
    if (focused) focusAfterOffer();
    return;
  }
  const o = offer.data;
  box.dataset.conversationId = offer.id;
  box.classList.toggle("offer-danger", !!o.danger_now);
  const sum = $("offer-summary");
  sum.textContent = "";
  if (o.danger_now) { sum.appendChild(el("span", "badge badge-danger", t("offerDanger"))); sum.appendChild(document.createTextNode(" ")); }
  sum.appendChild(el("span", "offer-who", label("caller_type", o.caller_type)));
  sum.appendChild(document.createTextNode(" · "));
  sum.appendChild(el("span", "offer-intent", label("intent", o.intent)));
  const topic = $("offer-topic");
  setText(topic, o.topic ? String(o.topic) : "");
  topic.hidden = !o.topic;
  setText($("offer-team"), label("team", o.team));
  const exp = Array.isArray(o.expertise) ? o.expertise : [];
  setText($("offer-expertise"), exp.length ? exp.map(expertiseLabel).join(", ") : t("offerNone"));
  box.querySelector(".offer-countdown").hidden = !offer.trusted;
  // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
  ["offer-accept", "offer-pass"].forEach(function (id) {
    if (offer.busy) $(id).setAttribute("aria-disabled", "true"); else $(id).removeAttribute("aria-disabled");
  });
  box.hidden = false;
  tickOffer();
}

function focusAfterOffer() {
  if (currentView === "callbacks") { $("cb-title").focus(); return; }
  const c = activeId && convs.get(activeId);
  if (c && c.status === "active") c.panel.querySelector(".composer-text").focus({ preventScroll: true });
  else $("queue-title").focus();
}

function tickOffer() {
  if (!offer) return;
  setText($("offer-waited"), waited(offer.data.waiting_since));
  const now = offers.tick(offer, Date.now());
  const cd = $("offer-countdown");
  setText(cd, offers.mmss(now.left));
  cd.setAttribute("datetime", "PT" + now.left + "S");
  if (now.warn) announce(t("offerSoon"));
  if (now.expired) voidOffer(offer.trusted ? t("offerExpired") : "");
}
setInterval(tickOffer, 1000);

async function answerOffer(event) {
  if (!offer || offer.busy) return;
  const mine = offer;
  mine.busy = true;
  renderOffer();
  let res;
  try { res = await actions.answerOffer(event, { conversation_id: mine.id }); } catch (e) {
    mine.busy = false;
    if (offer !== mine) return;
    // Not sent: the offer stands (the server lets it run out), so it may be tried again.
    if (mine.voided !== null) { voidOffer(mine.voided); return; }
    renderOffer();
    showNotice(t("offline"), OFFER_NOTICE_MS);
    return;
  }
  mine.busy = false;
  if (offer === mine) dropOffer();
  const err = errorOf(res);
  if (err) {
    const text = event === "accept" ? acceptErrorText(err)
      : err.code === "conflict" ? t("offerNotOffered") : errorText(err);
    showNotice(text, OFFER_NOTICE_MS);
    return;
  }
  if (event === "accept" && res.conversation) openAccepted(res.conversation);
  else if (event === "pass") announce(t("offerPassed"));
}
$("offer-accept").addEventListener("click", function () { answerOffer("accept"); });
$("offer-pass").addEventListener("click", function () { answerOffer("pass"); });

// ---- callbacks: the work list of one day, per tijdvak ----------------------------------
// Over HTTP with the console's token (GET /api/agent/callbacks and friends). Everything the
// server sends is put on screen as text only. The list is rebuilt from the server after each
// action, so what it shows is what the database holds; the keyboard focus is carried over.

const TZ = "Europe/Amsterdam";
const CB_REFRESH_MS = 60000;
const CB_ALERTS_MAX = 6;
const RESULTS = ["bereikt", "geen_gehoor", "voicemail", "onjuist_nummer"];
const cb = {
  date: null,            // the day shown, "YYYY-MM-DD"; null: the server's today
  data: null,            // the last work list from the server
  asked: 0,
  busy: new Set(),       // callback ids with a request of ours under way
  notes: new Map(),      // callback id -> {text, error}: the outcome of our last action on it
  roster: new Map(),     // "kind|start" -> {text, error}
  overdue: new Set(),    // callback ids the server flagged overdue (callback_overdue)
  selected: new Map(),   // callback id -> Set of request references an attempt or finish applies to
  pendingFocus: null,    // {key, fallback}: where the keyboard goes after the next rebuild
  alerts: []             // [{text, day}]
};

const dayParts = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });
function localDay(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const p = {};
  dayParts.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
  return p.year + "-" + p.month + "-" + p.day;
}
function validDay(v) { return /^\d{4}-\d{2}-\d{2}$/.test(v || "") && !isNaN(new Date(v + "T00:00:00Z")); }
function shiftDay(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function longDay(day) {
  const d = new Date(day + "T12:00:00Z");
  if (isNaN(d)) return "";
  return d.toLocaleDateString(LANG === "en" ? "en-GB" : "nl-NL", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
}
function slotText(start, end) { return clock(start) + "–" + clock(end); }
function stamp(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return d.toLocaleString(LANG === "en" ? "en-GB" : "nl-NL", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: TZ });
}
function telHref(phone) { return "tel:" + String(phone || "").replace(/[^\d+]/g, ""); }
function canRoster() { return !!agent && (agent.role === "supervisor" || agent.role === "admin"); }
function isOpen(c) { return c.status === "open" || c.status === "claimed"; }

function cbErrorText(res) {
  if (!res || res.status === 0) return t("cbOffline");
  const err = apiError(res);
  const code = err && err.code;
  if (code === "already_taken") return t("cbAlreadyTaken");
  if (code === "closed") return t("cbClosedAlready");
  if (code === "not_found") return t("cbNotFound");
  // "forbidden" with the general text means: not the one who claimed it. A specific text (no
  // voicemail allowed here) says more, so that one is shown as it is.
  if (code === "forbidden" && (!err.message || err.message === "Dat mag je hier niet doen.")) return t("cbForbidden");
  return errorText(err, t("cbLoadFailed"));
}

function onCallbacksShown() { loadCallbacks(); }

async function loadCallbacks(day) {
  if (!token) return;
  if (day !== undefined && day !== cb.date) { cb.date = day; cb.notes.clear(); cb.roster.clear(); }
  const asked = ++cb.asked;
  setText($("cb-status"), t("cbLoading"));
  const res = await actions.callbacks(cb.date);
  if (asked !== cb.asked) return; // a newer question is under way
  const box = $("cb-error");
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.tijdvakken)) {
    setText($("cb-status"), "");
    box.textContent = res.status === 0 ? t("cbOffline") : errorText(apiError(res), t("cbLoadFailed"));
    box.hidden = false;
    return;
  }
  box.hidden = true;
  cb.data = res.body;
  cb.date = String(res.body.date || cb.date || "");
  $("cb-date").value = cb.date;
  $("cb-date").removeAttribute("aria-invalid");
  renderCallbacks();
  setText($("cb-status"), t("cbLoaded", { time: clock(new Date().toISOString()) }));
}

function renderCallbacks() {
  const list = $("cb-list"), data = cb.data;
  if (!data) return;
  const active = document.activeElement;
  const had = active && list.contains(active) && active.dataset.key
    ? { key: active.dataset.key, value: active.tagName === "INPUT" ? active.value : null } : null;
  list.textContent = "";
  setText($("cb-day"), longDay(data.date));
  const tvs = data.tijdvakken;
  if (!tvs.length) list.appendChild(el("p", "muted cb-none", t("cbNoTijdvakken")));
  // Requests whose own tijdvak is this one, but whose callback (same number) sits in another.
  const elsewhere = new Map();
  let open = 0;
  tvs.forEach(function (tv) {
    (tv.callbacks || []).forEach(function (c) {
      if (isOpen(c)) open += 1;
      (c.requests || []).forEach(function (q) {
        if (!q.slot || q.slot.start === c.slot.start || q.status !== "open") return;
        const k = c.kind + "|" + q.slot.start;
        elsewhere.set(k, (elsewhere.get(k) || 0) + 1);
      });
    });
  });
  let onlyBooked = $("cb-only-booked").checked, hidden = 0;
  tvs.forEach(function (tv, i) {
    const more = elsewhere.get(tv.kind + "|" + tv.start) || 0;
    if (onlyBooked && !(tv.callbacks || []).length) { hidden += 1; return; }
    list.appendChild(buildTijdvak(tv, i, more));
  });
  if (hidden) list.appendChild(el("p", "muted small cb-hidden", t("cbHiddenEmpty", { n: hidden })));
  updateCallbackBadge(open);
  // Give the keyboard back: where an action sent it, else where it was.
  const want = cb.pendingFocus || had;
  cb.pendingFocus = null;
  const now = document.activeElement;
  if (want && currentView === "callbacks" && (!now || now === document.body || list.contains(now))) {
    const node = list.querySelector('[data-key="' + CSS.escape(want.key) + '"]') ||
      (want.fallback && list.querySelector('[data-key="' + CSS.escape(want.fallback) + '"]'));
    if (node) {
      if (had && want === had && had.value !== null && node.tagName === "INPUT") node.value = had.value;
      node.focus({ preventScroll: false });
    }
  }
}

function updateCallbackBadge(open) {
  setBadge($("view-callbacks-badge"), open, t("cbOpenCount"));
}

function buildTijdvak(tv, n, elsewhereCount) {
  const calls = tv.callbacks || [];
  const late = calls.some(function (c) { return isOpen(c) && (c.overdue || cb.overdue.has(c.id)); });
  const sec = el("section", "tv" + (calls.length ? "" : " tv-empty") + (late ? " tv-overdue" : ""));
  sec.dataset.kind = tv.kind;
  sec.dataset.start = tv.start;
  const hid = "tv-h-" + n;
  sec.setAttribute("aria-labelledby", hid);
  const head = el("header", "tv-head");
  const h = el("h2", "tv-title");
  h.id = hid;
  h.appendChild(el("span", "tv-time", slotText(tv.start, tv.end)));
  h.appendChild(document.createTextNode(" "));
  h.appendChild(el("span", "tv-kind chip chip-" + tv.kind, t("kind_" + tv.kind) === "kind_" + tv.kind ? String(tv.kind) : t("kind_" + tv.kind)));
  head.appendChild(h);
  const places = tv.capacity === null || tv.capacity === undefined
    ? t("cbBookedUnknown") : t("cbBooked", { booked: tv.booked, capacity: tv.capacity });
  const p = el("p", "tv-places" + (tv.capacity !== null && tv.booked >= tv.capacity ? " tv-full" : ""), places);
  head.appendChild(p);
  if (canRoster() && tv.capacity !== null && tv.capacity !== undefined) head.appendChild(buildRoster(tv, n));
  sec.appendChild(head);
  if (elsewhereCount) sec.appendChild(el("p", "muted small tv-elsewhere", t("cbMergedElsewhere", { n: elsewhereCount })));
  if (!calls.length) {
    sec.appendChild(el("p", "muted small tv-none", t("cbEmptyTijdvak")));
  } else {
    const ol = el("ol", "cb-cards");
    calls.forEach(function (c) { ol.appendChild(buildCallback(c)); });
    sec.appendChild(ol);
  }
  return sec;
}

function buildRoster(tv, n) {
  const key = tv.kind + "|" + tv.start;
  const form = el("form", "tv-roster");
  form.noValidate = true;
  const id = "tv-roster-" + n, msgId = "tv-roster-msg-" + n;
  const lab = el("label", "tv-roster-label", t("cbRoster"));
  lab.htmlFor = id;
  lab.appendChild(el("span", "visually-hidden", " — " + slotText(tv.start, tv.end) + ", " + t("kind_" + tv.kind)));
  const input = el("input", "tv-roster-input");
  input.type = "number"; input.min = "0"; input.max = "1000"; input.step = "1"; input.inputMode = "numeric";
  input.id = id;
  input.value = String(tv.capacity);
  input.dataset.key = "roster:" + key;
  input.setAttribute("aria-describedby", msgId);
  const btn = el("button", "btn btn-small btn-outline tv-roster-save", t("cbRosterSave"));
  btn.type = "submit";
  btn.dataset.key = "roster-save:" + key;
  const msg = el("p", "tv-roster-msg small");
  msg.id = msgId;
  msg.setAttribute("role", "status");
  const said = cb.roster.get(key);
  if (said) { msg.textContent = said.text; msg.classList.toggle("is-error", !!said.error); if (said.error) input.setAttribute("aria-invalid", "true"); }
  form.appendChild(lab); form.appendChild(input); form.appendChild(btn); form.appendChild(msg);
  form.addEventListener("submit", function (e) { e.preventDefault(); saveRoster(tv, input, btn, msg); });
  return form;
}

async function saveRoster(tv, input, btn, msg) {
  const key = tv.kind + "|" + tv.start;
  const v = input.value.trim();
  if (!/^\d{1,4}$/.test(v) || Number(v) > 1000) {
    cb.roster.set(key, { text: t("cbRosterInvalid"), error: true });
    setText(msg, t("cbRosterInvalid")); msg.classList.add("is-error");
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  if (btn.getAttribute("aria-disabled") === "true") return;
  btn.setAttribute("aria-disabled", "true");
  const res = await actions.saveRoster({ date: cb.data.date, slot_start: clock(tv.start), kind: tv.kind, capacity: Number(v) });
  btn.removeAttribute("aria-disabled");
  let said;
  if (res.status === 200 && res.body) {
    const b = res.body;
    let text = t("cbRosterSaved", { capacity: b.capacity, booked: b.booked, remaining: b.remaining });
    if (b.capacity < b.booked) text += " " + t("cbRosterBelow");
    said = { text: text, error: false };
  } else {
    said = { text: res.status === 403 ? t("cbRosterForbidden") : cbErrorText(res), error: true };
  }
  cb.roster.set(key, said);
  announce(said.text);
  cb.pendingFocus = { key: said.error ? "roster:" + key : "roster-save:" + key };
  await loadCallbacks();
}

function buildCallback(c) {
  const id = c.id;
  const mine = !!agent && c.claimed_by === agent.id && c.status === "claimed";
  const late = isOpen(c) && (c.overdue || cb.overdue.has(id));
  const li = el("li", "cb-card cb-" + c.status + (mine ? " cb-mine" : "") + (late ? " cb-late" : "") + (c.voicemail_allowed ? "" : " cb-novm-card"));
  li.dataset.callbackId = id;
  const base = "cb-" + id.replace(/[^\w-]/g, "");
  const art = el("article", "cb-body");
  art.setAttribute("aria-labelledby", base + "-phone");

  const top = el("div", "cb-top");
  const h = el("h3", "cb-phone-h");
  h.id = base + "-phone";
  const a = el("a", "cb-phone", c.phone);
  a.href = telHref(c.phone);
  a.dataset.key = id + ":phone";
  h.appendChild(a);
  top.appendChild(h);
  const copy = el("button", "btn btn-ghost btn-small cb-copy", t("cbCopy"));
  copy.type = "button";
  copy.dataset.key = id + ":copy";
  copy.addEventListener("click", function () { copyPhone(c, a); });
  top.appendChild(copy);
  const tags = el("div", "cb-tags");
  tags.appendChild(el("span", "chip", label("caller_type", c.caller_type)));
  if (c.merged) tags.appendChild(el("span", "badge badge-merged", t("cbRequests", { n: (c.requests || []).length })));
  if (late) {
    const ov = el("span", "badge badge-overdue", t("cbOverdue"));
    ov.title = t("cbOverdueWhy");
    tags.appendChild(ov);
  }
  top.appendChild(tags);
  art.appendChild(top);

  const st = el("p", "cb-state");
  st.tabIndex = -1;
  st.dataset.key = id + ":card";
  st.appendChild(el("span", "cb-state-label", t("cbStatus") + ": "));
  st.appendChild(el("strong", "cb-status-text", statusText(c)));
  if (c.attempts) st.appendChild(el("span", "cb-attempts", " · " + t("cbAttempts") + ": " + c.attempts));
  if (late) st.appendChild(el("span", "cb-late-why", " · " + t("cbOverdueWhy")));
  art.appendChild(st);

  const vmId = base + "-vm";
  if (!c.voicemail_allowed) {
    const warn = el("div", "cb-novm");
    warn.id = vmId;
    warn.setAttribute("role", "note");
    warn.appendChild(el("p", "cb-novm-title", "⚠ " + t("cbNoVoicemail")));
    warn.appendChild(el("p", "cb-novm-why", t("cbNoVoicemailWhy")));
    art.appendChild(warn);
  } else {
    const okp = el("p", "cb-vm-ok small", t("cbVoicemailOk"));
    okp.id = vmId;
    art.appendChild(okp);
  }

  art.appendChild(buildRequests(c));

  const actions = buildActions(c, mine, vmId);
  if (actions) art.appendChild(actions);
  const note = cb.notes.get(id);
  const msg = el("p", "cb-msg small" + (note && note.error ? " is-error" : ""), note ? note.text : "");
  msg.setAttribute("role", "status");
  art.appendChild(msg);
  li.appendChild(art);
  return li;
}

// The requests an attempt or finish applies to: null when the card offers no choice (one open
// request, or not ours), so the server takes the request being called.
function selectable(c) {
  const mine = !!agent && c.claimed_by === agent.id && c.status === "claimed";
  const open = (c.requests || []).filter(function (q) { return q.status === "open"; });
  return mine && open.length > 1 ? open : null;
}
function selectedSet(c) {
  const open = selectable(c);
  if (!open) return null;
  const refs = open.map(function (q) { return q.reference; });
  let set = cb.selected.get(c.id);
  if (set) set.forEach(function (r) { if (refs.indexOf(r) < 0) set.delete(r); });
  if (!set) {
    set = new Set(open.filter(function (q) { return q.being_called; }).map(function (q) { return q.reference; }));
    cb.selected.set(c.id, set);
  }
  return set;
}
function selectedRefs(c) {
  const set = selectedSet(c);
  if (!set) return null;
  return (c.requests || []).map(function (q) { return q.reference; }).filter(function (r) { return set.has(r); });
}

function buildRequests(c) {
  const wrap = el("div", "cb-requests");
  const reqs = c.requests || [];
  if (c.merged) wrap.appendChild(el("p", "cb-merged-note small", t("cbMergedNote")));
  const chosen = selectedSet(c);
  const base = "cb-" + c.id.replace(/[^\w-]/g, "");
  if (chosen) {
    const hint = el("p", "cb-applies-hint small", t("cbAppliesHint"));
    hint.id = base + "-applies";
    wrap.appendChild(hint);
  }
  const ol = el("ol", "cb-req-list");
  reqs.forEach(function (q, i) {
    const li = el("li", "cb-req" + (q.being_called ? " cb-req-calling" : "") + (q.status !== "open" ? " cb-req-ended" : ""));
    if (q.being_called && c.merged) li.appendChild(el("p", "cb-req-calling-label small", t("cbBeingCalled")));
    if (chosen && q.status === "open") {
      const pick = el("label", "cb-req-pick small");
      const box = el("input");
      box.type = "checkbox";
      box.checked = chosen.has(q.reference);
      box.dataset.key = c.id + ":pick:" + q.reference;
      box.setAttribute("aria-describedby", base + "-applies");
      box.addEventListener("change", function () {
        if (box.checked) chosen.add(q.reference); else chosen.delete(q.reference);
      });
      pick.appendChild(box);
      pick.appendChild(document.createTextNode(" " + t("cbAppliesTo") + " (" + q.reference + ")"));
      li.appendChild(pick);
    }
    li.appendChild(el("p", "cb-req-name" + (q.name ? "" : " muted"), q.name ? String(q.name) : t("cbNoName")));
    li.appendChild(el("p", "cb-req-topic" + (q.topic ? "" : " muted"), q.topic ? String(q.topic) : t("cbNoTopic")));
    const dl = el("dl", "cb-req-facts");
    function fact(name, value) {
      if (value === null || value === undefined || value === "") return;
      const d = el("div");
      d.appendChild(el("dt", null, name));
      d.appendChild(el("dd", null, value));
      dl.appendChild(d);
    }
    fact(t("cbReference"), q.reference);
    fact(reqs.length > 1 ? t("cbCreatedApart") : t("cbCreated"), stamp(q.created_at));
    if (q.slot) fact(t("cbOwnSlot"), slotText(q.slot.start, q.slot.end) + (q.rescheduled ? " (" + t("cbRescheduled") + ")" : ""));
    if (q.status && q.status !== "open") fact(t("cbReqStatus"), known("rq_", q.status));
    if (q.caller_type && q.caller_type !== c.caller_type) fact(t("cbCallerType"), label("caller_type", q.caller_type));
    if (reqs.length > 1) fact(t("cbVoicemailChoice"), t(q.voicemail_ok ? "cbVmYes" : "cbVmNo"));
    fact(t("cbEmail"), q.email);
    fact(t("cbOrganisation"), q.organisation);
    li.appendChild(dl);
    ol.appendChild(li);
  });
  wrap.appendChild(ol);
  const related = Array.isArray(c.related) ? c.related : [];
  if (related.length) {
    wrap.appendChild(el("p", "cb-related-title small", t("cbRelated") + ":"));
    const rl = el("ul", "cb-related small");
    related.forEach(function (r) {
      const refs = (r.requests || []).map(function (q) { return q.reference; }).join(", ") || "—";
      const how = statusText({ status: r.status, outcome: r.outcome ? { kind: r.outcome } : null });
      rl.appendChild(el("li", null, t("cbRelatedItem", { refs: refs, status: how, when: stamp(r.closed_at || r.created_at) })));
    });
    wrap.appendChild(rl);
  }
  return wrap;
}

function actionButton(c, key, text, cls, handler) {
  const b = el("button", "btn btn-small " + cls, text);
  b.type = "button";
  b.dataset.key = c.id + ":" + key;
  if (cb.busy.has(c.id)) b.setAttribute("aria-disabled", "true");
  b.addEventListener("click", function () {
    if (b.getAttribute("aria-disabled") === "true" && !b.dataset.why) return;
    handler(b);
  });
  return b;
}

function buildActions(c, mine, vmId) {
  if (c.status === "open") {
    const bar = el("div", "cb-actions");
    const claim = actionButton(c, "claim", t("cbClaim"), "btn-primary", function () { claimCallback(c); });
    claim.setAttribute("aria-label", t("cbClaimLabel", { phone: c.phone }));
    bar.appendChild(claim);
    return bar;
  }
  if (!mine) return null;
  const box = el("div", "cb-actions");
  if (c.last_result !== "bereikt") {
    const group = el("div", "cb-results");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", t("cbRecord"));
    group.appendChild(el("span", "cb-results-label small", t("cbRecord") + ":"));
    RESULTS.forEach(function (r) {
      const cls = r === "bereikt" ? "btn-outline cb-res-ok" : r === "onjuist_nummer" ? "btn-ghost" : "btn-outline";
      const b = actionButton(c, "res:" + r, t("res_" + r), cls, function (btn) {
        if (btn.dataset.why) { setNote(c.id, t("cbVoicemailDisabled") + " " + t("cbNoVoicemailWhy"), true); return; }
        recordAttempt(c, r);
      });
      if (r === "voicemail" && !c.voicemail_allowed) {
        // aria-disabled keeps it in the tab order, so its reason can still be heard.
        b.setAttribute("aria-disabled", "true");
        b.setAttribute("aria-describedby", vmId);
        b.dataset.why = "novm";
        b.classList.add("cb-res-blocked");
        b.title = t("cbVoicemailDisabled");
      }
      group.appendChild(b);
    });
    box.appendChild(group);
  }
  box.appendChild(actionButton(c, "finish", t("cbFinish"), "btn-primary cb-finish", function () { openCallbackClose(c); }));
  return box;
}

function statusText(c) {
  const who = agent && c.claimed_by === agent.id ? t("you") : (c.claimed_by_name || t("byColleague"));
  switch (c.status) {
    case "open": return t("st_open");
    case "claimed":
      if (c.last_result === "bereikt") return t("st_reached", { who: who });
      if (c.next_attempt_at) return t("st_retry", { who: who, time: clock(c.next_attempt_at) });
      return t("st_claimed", { who: who });
    case "not_reached": return t("st_not_reached");
    case "wrong_number": return t("st_wrong_number");
    case "closed":
      const k = c.outcome && c.outcome.kind;
      return k && hasText("outcome_" + k) ? t("st_closedAs", { kind: t("outcome_" + k) }) : t("st_closed");
    case "cancelled": return t("st_cancelled");
    default: return String(c.status || "—");
  }
}

function setNote(id, text, error) {
  cb.notes.set(id, { text: text, error: !!error });
  const card = document.querySelector('.cb-card[data-callback-id="' + CSS.escape(id) + '"] .cb-msg');
  if (card) { card.textContent = text; card.classList.toggle("is-error", !!error); }
  announce(text);
}

async function copyPhone(c, link) {
  let ok = false;
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(c.phone); ok = true; }
  } catch (e) { ok = false; }
  if (!ok) {
    const range = document.createRange();
    range.selectNodeContents(link);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  setNote(c.id, ok ? t("cbCopied") : t("cbCopySelect"));
}

async function withBusy(c, work) {
  if (cb.busy.has(c.id)) return;
  cb.busy.add(c.id);
  const card = document.querySelector('.cb-card[data-callback-id="' + CSS.escape(c.id) + '"]');
  if (card) card.querySelectorAll(".cb-actions .btn").forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
  try { await work(); } finally { cb.busy.delete(c.id); }
  await loadCallbacks();
}

function claimCallback(c) {
  return withBusy(c, async function () {
    const res = await actions.claimCallback(c.id);
    if (res.status === 200) {
      setNote(c.id, t("cbClaimed", { phone: c.phone }));
      cb.pendingFocus = { key: c.id + ":res:bereikt", fallback: c.id + ":card" };
    } else {
      setNote(c.id, cbErrorText(res), true);
      cb.pendingFocus = { key: c.id + ":card" };
    }
  });
}

function recordAttempt(c, result) {
  const refs = selectedRefs(c);
  if (refs && !refs.length) { setNote(c.id, t("cbChooseRequest"), true); return; }
  if (refs && result === "voicemail" && (c.requests || []).some(function (q) { return refs.indexOf(q.reference) >= 0 && !q.voicemail_ok; })) {
    setNote(c.id, t("cbNoVoicemailSelected") + " " + t("cbNoVoicemailWhy"), true);
    return;
  }
  const body = { result: result };
  if (refs) body.requests = refs;
  return withBusy(c, async function () {
    const res = await actions.recordAttempt(c.id, body);
    const b = res.body;
    if (res.status !== 200 || !b) {
      setNote(c.id, cbErrorText(res), true);
      cb.pendingFocus = { key: c.id + ":res:" + result, fallback: c.id + ":card" };
      return;
    }
    const text = b.state === "reached" ? t("cbStateReached")
      : b.state === "retry" ? t("cbStateRetry", { n: b.attempts, time: clock(b.next_attempt_at) })
      : b.state === "not_reached" ? t("cbStateNotReached", { n: b.attempts })
      : b.state === "wrong_number" ? t("cbStateWrongNumber") : String(b.state || "");
    setNote(c.id, text);
    cb.pendingFocus = b.state === "reached" ? { key: c.id + ":finish", fallback: c.id + ":card" }
      : b.state === "retry" ? { key: c.id + ":res:" + result, fallback: c.id + ":card" } : { key: c.id + ":card" };
  });
}

async function finishCallback(c, outcome) {
  const refs = selectedRefs(c);
  if (refs && !refs.length) { showCloseError([], t("cbChooseRequest")); return; }
  const body = { outcome: outcome };
  if (refs) body.requests = refs;
  $("close-submit").disabled = true;
  const res = await actions.closeCallback(c.id, body);
  $("close-submit").disabled = false;
  const err = apiError(res);
  if (res.status === 200) {
    closingCallback = null;
    $("close-dialog").close();
    setNote(c.id, t("cbFinished"));
    showNotice(closedText("Cb", outcome));
    cb.pendingFocus = { key: c.id + ":card" };
    await loadCallbacks();
    return;
  }
  if (res.status === 0) { showCloseError([], t("cbOffline")); return; }
  if (err && err.code === "outcome_incomplete") { showCloseError(err.missing || [], errorText(err)); return; }
  if (err && err.field === "outcome.gemeente") { showCloseError(["gemeente"], errorText(err)); return; }
  if (err && ["closed", "not_found", "forbidden"].indexOf(err.code) >= 0) {
    closingCallback = null;
    $("close-dialog").close();
    setNote(c.id, cbErrorText(res), true);
    cb.pendingFocus = { key: c.id + ":card" };
    await loadCallbacks();
    return;
  }
  showCloseError([], cbErrorText(res));
}

function focusCallback(id, key) {
  const list = $("cb-list");
  const node = list.querySelector('[data-key="' + CSS.escape(id + ":" + key) + '"]') ||
    list.querySelector('[data-key="' + CSS.escape(id + ":card") + '"]');
  if (node) node.focus(); else cb.pendingFocus = { key: id + ":" + key, fallback: id + ":card" };
}

// ---- the date: a picker, the day before and after, today --------------------------------

$("cb-dates").setAttribute("aria-label", t("cbChooseDay"));
$("cb-prev").addEventListener("click", function () { if (cb.date) loadCallbacks(shiftDay(cb.date, -1)); });
$("cb-next").addEventListener("click", function () { if (cb.date) loadCallbacks(shiftDay(cb.date, 1)); });
$("cb-today").addEventListener("click", function () { loadCallbacks(null); });
$("cb-refresh").addEventListener("click", function () { loadCallbacks(); });
$("cb-only-booked").addEventListener("change", renderCallbacks);
$("cb-date").addEventListener("change", function () {
  const v = $("cb-date").value;
  if (!validDay(v)) {
    $("cb-date").setAttribute("aria-invalid", "true");
    const box = $("cb-error");
    box.textContent = t("cbBadDate"); box.hidden = false;
    return;
  }
  loadCallbacks(v);
});

// Other advisors claim and finish too, and nothing pushes that: read the list again now and then.
setInterval(function () {
  if (currentView !== "callbacks" || !token || !cb.data || document.hidden || cb.busy.size) return;
  if ($("close-dialog").open || (document.activeElement && document.activeElement.classList.contains("tv-roster-input"))) return;
  loadCallbacks();
}, CB_REFRESH_MS);

// ---- live hints: a tijdvak starts; a callback is overdue (supervisors) ------------------

function addCallbackAlert(text, day) {
  cb.alerts.push({ text: text, day: day });
  if (cb.alerts.length > CB_ALERTS_MAX) cb.alerts.shift();
  const list = $("cb-alerts-list");
  list.textContent = "";
  cb.alerts.forEach(function (a) { list.appendChild(el("li", null, a.text)); });
  $("cb-alerts").hidden = false;
  announce(text);
  if (document.hidden || !document.hasFocus()) { beep(); flashTitle(text); }
}
$("cb-alerts-open").addEventListener("click", function () {
  const last = cb.alerts[cb.alerts.length - 1];
  const day = last && last.day;
  if (day && day !== cb.date) cb.date = day;
  showView("callbacks", false);
  $("cb-title").focus();
});
$("cb-alerts-dismiss").addEventListener("click", function () {
  const focused = $("cb-alerts").contains(document.activeElement);
  cb.alerts = [];
  $("cb-alerts-list").textContent = "";
  $("cb-alerts").hidden = true;
  if (focused) (currentView === "callbacks" ? $("cb-title") : currentView === "cases" ? $("cs-title") : $("queue-title")).focus();
});

function refreshIfShown(iso) {
  if (currentView === "callbacks" && cb.data && localDay(iso) === cb.data.date) loadCallbacks();
}

export function onTijdvakStarted(d) {
  if (!d || typeof d.start !== "string" || typeof d.end !== "string") return;
  refreshIfShown(d.start);
  const n = Math.max(0, Math.floor(Number(d.callbacks) || 0));
  if (!n) return; // nothing to call in it: no need to interrupt anyone
  const advies = d.kind === "adviesgesprek";
  const what = advies ? (n === 1 ? t("tvAdvies1") : t("tvAdviesN", { n: n }))
    : (n === 1 ? t("tvCallbacks1") : t("tvCallbacksN", { n: n }));
  addCallbackAlert(t(advies ? "tvStartedAdvies" : "tvStarted", { slot: slotText(d.start, d.end), what: what }), localDay(d.start));
}

export function onCallbackOverdue(d) {
  if (!d || typeof d.callback_id !== "string" || !d.slot) return;
  cb.overdue.add(d.callback_id);
  const status = d.status === "claimed"
    ? t("st_claimed", { who: agent && d.claimed_by === agent.id ? t("you") : t("byColleague") }) : t("st_open");
  addCallbackAlert(t("cbOverdueAlert", { slot: slotText(d.slot.start, d.slot.end), status: status.toLowerCase() }), localDay(d.slot.start));
  if (currentView === "callbacks" && cb.data) renderCallbacks();
  refreshIfShown(d.slot.start);
}

// ---- cases: the built-in case register, by deadline ------------------------------------
// Over HTTP with the console's token (GET /api/agent/cases and /api/agent/cases/{id}). The
// list is read again whenever the view is opened and on Vernieuwen; what the server sends is
// put on screen as text only. "Today" is the server's, so the words vandaag/morgen follow the
// clock the deadlines were computed with, not this computer's.

const cs = {
  data: null,            // the last list from the server
  asked: 0,
  selected: null,        // id of the case shown in the detail
  detail: null,          // the last case read whole
  detailAsked: 0
};

function dayDiff(a, b) { return Math.round((Date.parse(a + "T00:00:00Z") - Date.parse(b + "T00:00:00Z")) / 86400000); }
function shortDay(day) {
  const d = new Date(day + "T12:00:00Z");
  if (isNaN(d)) return String(day || "");
  return d.toLocaleDateString(LANG === "en" ? "en-GB" : "nl-NL", { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
}
// "vandaag", "morgen", "gisteren", else the date itself.
function relDay(day, today) {
  if (!validDay(day)) return "";
  const n = validDay(today) ? dayDiff(day, today) : NaN;
  if (n === 0) return t("csToday");
  if (n === 1) return t("csTomorrow");
  if (n === -1) return t("csYesterday");
  return shortDay(day);
}
function known(prefix, value) {
  const k = prefix + value;
  return hasText(k) ? t(k) : String(value === null || value === undefined || value === "" ? "—" : value);
}
function csFilter() {
  const r = $("cs-filter").querySelector("input[name=cs-filter]:checked");
  return r ? r.value : "all";
}
function csQuery() {
  const f = csFilter();
  if (f === "due") return "?due_within_days=" + encodeURIComponent($("cs-days").value || "0");
  if (f === "overdue") return "?overdue=true";
  if (f === "dead") return "?status=dead";
  return "";
}
function deadlineTime(day, today, cls) {
  const tm = el("time", cls || null, relDay(day, today));
  tm.setAttribute("datetime", day);
  tm.title = longDay(day);
  return tm;
}
function caseTitle(c) {
  return known("case_", c.kind) + (c.gemeente ? " — " + c.gemeente : "");
}

function onCasesShown() {
  $("cs-filter-dead").hidden = !canRoster();
  if (!canRoster() && csFilter() === "dead") $("cs-filter").querySelector("input[value=all]").checked = true;
  loadCases();
}

async function loadCases() {
  if (!token) return;
  const asked = ++cs.asked;
  setText($("cs-status"), t("csLoading"));
  const res = await actions.cases(csQuery());
  if (asked !== cs.asked) return; // a newer question is under way
  const box = $("cs-error");
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.cases)) {
    setText($("cs-status"), "");
    const err = apiError(res);
    box.textContent = res.status === 0 ? t("cbOffline")
      : err && err.code === "forbidden" ? t("csDeadForbidden") : errorText(err, t("csLoadFailed"));
    box.hidden = false;
    return;
  }
  box.hidden = true;
  cs.data = res.body;
  renderCases();
  const n = res.body.cases.length, now = clock(new Date().toISOString());
  setText($("cs-status"), n === 1 ? t("csLoaded1", { time: now }) : t("csLoaded", { n: n, time: now }));
  if (cs.selected) loadCase(cs.selected, false);
}

function renderCases() {
  const list = $("cs-list"), data = cs.data;
  if (!data) return;
  const active = document.activeElement;
  const hadKey = active && list.contains(active) && active.dataset.key ? active.dataset.key : null;
  list.textContent = "";
  setText($("cs-today"), validDay(data.today) ? t("csTodayIs", { day: longDay(data.today) }) : "");
  let late = 0;
  data.cases.forEach(function (c) {
    if (c && c.overdue) late += 1;
    if (c && c.id) list.appendChild(buildCaseItem(c, data.today));
  });
  // The badge counts overdue meldingen only when the list holds all of them.
  const f = csFilter();
  if (f === "all" || f === "overdue") setBadge($("view-cases-badge"), late, t("csOverdueCount"));
  const empty = $("cs-empty");
  empty.hidden = data.cases.length > 0;
  if (!data.cases.length) {
    const days = $("cs-days").value;
    empty.textContent = f === "due" ? (days === "0" ? t("csEmptyDue0") : t("csEmptyDue", { n: days }))
      : f === "overdue" ? t("csEmptyOverdue") : f === "dead" ? t("csEmptyDead") : t("csEmptyAll");
  }
  if (hadKey) {
    const node = list.querySelector('[data-key="' + CSS.escape(hadKey) + '"]');
    if (node) node.focus(); else $("cs-title").focus();
  }
}

function fact(dl, name, value, cls) {
  if (value === null || value === undefined || value === "") return null;
  const d = el("div", cls || null);
  d.appendChild(el("dt", null, name));
  const dd = el("dd");
  if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
  d.appendChild(dd);
  dl.appendChild(d);
  return dd;
}

function lateBadge() {
  const b = el("span", "badge badge-late");
  b.appendChild(el("span", null, "⚠ ")).setAttribute("aria-hidden", "true");
  b.appendChild(document.createTextNode(t("csLate")));
  return b;
}

function buildCaseItem(c, today) {
  const li = el("li", "cs-item" + (c.overdue ? " cs-overdue" : "") + (c.id === cs.selected ? " is-selected" : ""));
  li.dataset.caseId = c.id;
  const top = el("div", "cs-top");
  const dl = el("p", "cs-deadline" + (c.deadline ? "" : " cs-nodeadline"));
  dl.appendChild(el("span", "cs-deadline-label", t("csDeadline") + ": "));
  if (c.deadline) dl.appendChild(deadlineTime(c.deadline, today, "cs-deadline-day"));
  else dl.appendChild(el("span", "cs-deadline-day", t("csNoDeadline")));
  top.appendChild(dl);
  if (c.overdue) top.appendChild(lateBadge());
  if (c.hermelding) top.appendChild(el("span", "badge badge-herm", t("csHermelding")));
  li.appendChild(top);

  const h = el("h2", "cs-item-title");
  const open = el("button", "cs-open", caseTitle(c));
  open.type = "button";
  open.dataset.key = c.id + ":open";
  if (c.id === cs.selected) open.setAttribute("aria-current", "true");
  open.addEventListener("click", function () { openCase(c.id); });
  h.appendChild(open);
  li.appendChild(h);

  const tags = el("p", "cs-tags");
  tags.appendChild(el("span", "chip chip-kind chip-" + (c.kind === "melding" ? "melding" : "advies"), known("case_", c.kind)));
  if (c.urgency) tags.appendChild(el("span", "chip chip-urg chip-urg-" + String(c.urgency).replace(/\W/g, ""), t("csUrgency") + ": " + known("urg_", c.urgency)));
  li.appendChild(tags);

  const facts = el("dl", "cs-facts");
  fact(facts, t("csGemeente"), c.gemeente || "—");
  fact(facts, t("csCallerType"), known("caller_", c.caller_type));
  fact(facts, t("csSource"), known("src_", c.source));
  fact(facts, t("csReceived"), stamp(c.received_at));
  fact(facts, t("csAdvisor"), c.advisor_name || "—");
  const d = c.delivery || {};
  fact(facts, t("csDelivery"), known("del_", d.status), "cs-delivery cs-del-" + String(d.status || "").replace(/\W/g, ""));
  if (canRoster() && (d.status === "dead" || d.last_error)) {
    fact(facts, t("csTries"), String(d.tries === undefined || d.tries === null ? "—" : d.tries), "cs-tries");
    fact(facts, t("csLastError"), d.last_error || "—", "cs-last-error");
  }
  li.appendChild(facts);

  if (c.hermelding && c.repeat_of) li.appendChild(earlierLink(c.repeat_of, c.id + ":earlier"));
  return li;
}

function earlierLink(id, key) {
  const p = el("p", "cs-earlier");
  const b = el("button", "linkish", t("csEarlierOpen"));
  b.type = "button";
  if (key) b.dataset.key = key;
  b.dataset.caseId = id;
  const known_ = cs.data && cs.data.cases.filter(function (x) { return x.id === id; })[0];
  if (known_) b.setAttribute("aria-label", t("csEarlierLabel", { day: stamp(known_.received_at) }));
  b.addEventListener("click", function () { openCase(id); });
  p.appendChild(b);
  return p;
}

// From elsewhere (a spoedmelding notice): the case register with this case open.
function openCaseById(id) {
  showView("cases", false);
  openCase(id);
}

function openCase(id) {
  cs.selected = id;
  Array.prototype.forEach.call($("cs-list").querySelectorAll(".cs-item"), function (li) {
    const on = li.dataset.caseId === id;
    li.classList.toggle("is-selected", on);
    const b = li.querySelector(".cs-open");
    if (on) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
  });
  loadCase(id, true);
}

async function loadCase(id, focus) {
  const asked = ++cs.detailAsked;
  const box = $("cs-detail");
  if (focus || !cs.detail || cs.detail.id !== id) {
    box.textContent = "";
    box.appendChild(el("p", "muted cs-detail-msg", t("csDetailLoading")));
  }
  const res = await actions.caseDetail(id);
  if (asked !== cs.detailAsked) return;
  if (res.status !== 200 || !res.body || typeof res.body !== "object") {
    const err = apiError(res);
    box.textContent = "";
    const msg = el("p", "form-error cs-detail-msg", res.status === 0 ? t("cbOffline")
      : err && err.code === "not_found" ? t("csNotFound") : errorText(err, t("csDetailFailed")));
    msg.setAttribute("role", "alert");
    box.appendChild(msg);
    return;
  }
  cs.detail = res.body;
  const scroll = box.scrollTop;
  renderCase(res.body);
  if (focus) {
    const h = $("cs-detail-title");
    if (h) h.focus();
    box.scrollTop = 0;
  } else {
    box.scrollTop = scroll;
  }
}

function section(parent, title, cls) {
  const s = el("section", "cs-sec" + (cls ? " " + cls : ""));
  const h = el("h3", "cs-sec-title", title);
  s.appendChild(h);
  parent.appendChild(s);
  return s;
}

function renderCase(c) {
  const box = $("cs-detail");
  const ho = (c.handoff && typeof c.handoff === "object") ? c.handoff : {};
  const today = cs.data && cs.data.today;
  box.textContent = "";
  const art = el("article", "cs-case" + (c.overdue ? " cs-overdue" : ""));
  art.dataset.caseId = c.id;

  const head = el("header", "cs-case-head");
  const h = el("h2", "cs-case-title", caseTitle(c));
  h.id = "cs-detail-title";
  h.tabIndex = -1;
  head.appendChild(h);
  const meta = el("p", "cs-tags");
  meta.appendChild(el("span", "chip chip-kind chip-" + (c.kind === "melding" ? "melding" : "advies"), known("case_", c.kind)));
  if (c.urgency) meta.appendChild(el("span", "chip chip-urg chip-urg-" + String(c.urgency).replace(/\W/g, ""), t("csUrgency") + ": " + known("urg_", c.urgency)));
  if (c.hermelding) meta.appendChild(el("span", "badge badge-herm", t("csHermelding")));
  if (c.overdue) meta.appendChild(lateBadge());
  head.appendChild(meta);
  art.appendChild(head);
  box.setAttribute("aria-labelledby", "cs-detail-title");

  // The deadline: what it means, and whether it passed.
  const dbox = el("div", "cs-deadline-box" + (c.overdue ? " is-late" : "") + (c.deadline ? "" : " is-none"));
  const dp = el("p", "cs-deadline-main");
  dp.appendChild(el("span", "cs-deadline-label", t("csDeadline") + ": "));
  if (c.deadline) {
    const tm = el("time", "cs-deadline-day", longDay(c.deadline));
    tm.setAttribute("datetime", c.deadline);
    dp.appendChild(tm);
    const rel = relDay(c.deadline, today);
    if (rel && rel !== shortDay(c.deadline)) dp.appendChild(document.createTextNode(" (" + rel + ")"));
  } else {
    dp.appendChild(el("span", "cs-deadline-day", t("csNoDeadline")));
  }
  dbox.appendChild(dp);
  if (c.deadline) {
    dbox.appendChild(el("p", "cs-deadline-why small", c.overdue
      ? "⚠ " + t("csLate") + ". " + t("csLateWhy", { day: longDay(c.deadline) })
      : t("csDueWhy", { day: longDay(c.deadline) })));
    dbox.appendChild(el("p", "muted small", t("csDeadlineRule")));
  }
  art.appendChild(dbox);

  if (c.purged) {
    const pb = el("p", "cs-purged cs-purged-top");
    pb.appendChild(el("strong", null, t("csPurged")));
    pb.appendChild(document.createTextNode(". " + t("csPurgedWhy")));
    art.appendChild(pb);
  }
  if (c.hermelding) {
    const hb = el("div", "cs-herm-box");
    hb.appendChild(el("p", "small", t("csHermeldingWhy")));
    if (c.repeat_of) hb.appendChild(earlierLink(c.repeat_of, null));
    art.appendChild(hb);
  }

  // The outcome as the advisor closed it.
  const oc = (ho.outcome && typeof ho.outcome === "object") ? ho.outcome : {};
  const so = section(art, t("csOutcome"), "cs-outcome");
  const odl = el("dl", "cs-dl");
  fact(odl, t("csKind"), known("case_", oc.kind || c.kind));
  fact(odl, t("csUrgency"), oc.urgency || c.urgency ? known("urg_", oc.urgency || c.urgency) : null);
  fact(odl, t("csGemeente"), oc.gemeente || c.gemeente);
  const exp = Array.isArray(oc.expertise) ? oc.expertise : Array.isArray(ho.expertise) ? ho.expertise : [];
  if (exp.length) fact(odl, t("csExpertise"), exp.map(expertiseLabel).join(", "));
  if (!c.purged) {
    fact(odl, t("csReporterPhone"), oc.phone);
    fact(odl, t("csReporterEmail"), oc.email);
  }
  so.appendChild(odl);
  if (oc.summary) {
    so.appendChild(el("h4", "cs-sub", t("csSummary")));
    so.appendChild(el("p", "cs-summary", oc.summary));
  }

  // Who, when, how.
  const sc = section(art, t("csContact"), "cs-contact");
  const cdl = el("dl", "cs-dl");
  fact(cdl, t("csReceived"), stamp(c.received_at || ho.received_at));
  fact(cdl, t("csSource"), ho.callback && ho.callback.kind ? known("kind_", ho.callback.kind) : known("src_", c.source));
  fact(cdl, t("csCallerType"), known("caller_", c.caller_type || ho.caller_type));
  if (ho.intent) fact(cdl, t("csIntent"), known("intent_", ho.intent));
  if (ho.team) fact(cdl, t("csTeam"), label("team", ho.team));
  if (ho.topic) fact(cdl, t("csTopic"), ho.topic, "cs-topic");
  fact(cdl, t("csAdvisor"), (ho.advisor && ho.advisor.name) || c.advisor_name || "—");
  const d = c.delivery || {};
  fact(cdl, t("csDelivery"), known("del_", d.status), "cs-delivery cs-del-" + String(d.status || "").replace(/\W/g, ""));
  if (canRoster() && (d.status === "dead" || d.last_error)) {
    fact(cdl, t("csTries"), String(d.tries === undefined || d.tries === null ? "—" : d.tries), "cs-tries");
    fact(cdl, t("csLastError"), d.last_error || "—", "cs-last-error");
  }
  sc.appendChild(cdl);

  if (ho.crisis && typeof ho.crisis === "object") art.appendChild(buildCaseCrisis(ho.crisis));
  if (ho.callback && typeof ho.callback === "object") art.appendChild(buildCaseCallback(c, ho));
  // A callback has no chat: its transcript section only if something was written in it.
  const written = (Array.isArray(ho.transcript) && ho.transcript.length) || (Array.isArray(ho.notes) && ho.notes.length);
  if (c.source !== "callback" || written) art.appendChild(buildTranscript(c, ho));
  box.appendChild(art);
}

function buildCaseCrisis(cr) {
  const s = el("section", "cs-sec cs-crisis");
  s.appendChild(el("h3", "cs-sec-title", t("csCrisis")));
  const p = el("p", "cs-crisis-status");
  p.appendChild(document.createTextNode(t("csCrisisStarted", { time: stamp(cr.at) }) + (cr.reason ? ": " + cr.reason : "") + ". "));
  p.appendChild(el("strong", null, cr.acknowledged_at ? t("csCrisisAcked", { time: stamp(cr.acknowledged_at) }) : t("csCrisisOpen")));
  s.appendChild(p);
  const events = Array.isArray(cr.timeline) ? cr.timeline : [];
  if (events.length) {
    const ol = el("ol", "conv-crisis-timeline cs-crisis-timeline");
    ol.setAttribute("aria-label", t("crisisTimeline"));
    events.forEach(function (ev) {
      if (!ev || typeof ev !== "object") return;
      const li = el("li", "crisis-event crisis-" + String(ev.kind || "").replace(/\W/g, ""));
      const when = el("time", null, clock(ev.at));
      when.setAttribute("datetime", ev.at || "");
      li.appendChild(when);
      li.appendChild(document.createTextNode(crisisEventText(ev)));
      ol.appendChild(li);
    });
    s.appendChild(ol);
  }
  return s;
}

function buildCaseCallback(c, ho) {
  const cbk = ho.callback;
  const s = el("section", "cs-sec cs-callback");
  s.appendChild(el("h3", "cs-sec-title", t("csCallback")));
  const dl = el("dl", "cs-dl");
  fact(dl, t("csKind"), known("kind_", cbk.kind));
  if (!c.purged && cbk.phone) fact(dl, t("csPhone"), cbk.phone, "cs-phone");
  if (cbk.slot) fact(dl, t("csSlot"), (cbk.slot.start ? shortDay(localDay(cbk.slot.start)) + " " : "") + slotText(cbk.slot.start, cbk.slot.end));
  if (cbk.voicemail_allowed !== undefined && cbk.voicemail_allowed !== null) fact(dl, t("csVoicemail"), cbk.voicemail_allowed ? t("csVoicemailYes") : t("csVoicemailNo"));
  s.appendChild(dl);

  s.appendChild(el("h4", "cs-sub", t("csAttempts")));
  const tries = Array.isArray(cbk.attempts) ? cbk.attempts : [];
  if (!tries.length) s.appendChild(el("p", "muted small", t("csNoAttempts")));
  else {
    const ol = el("ol", "cs-attempts");
    tries.forEach(function (a) {
      if (!a || typeof a !== "object") return;
      const li = el("li");
      const tm = el("time", null, stamp(a.at));
      tm.setAttribute("datetime", a.at || "");
      li.appendChild(tm);
      li.appendChild(document.createTextNode(" — " + known("res_", a.result)));
      ol.appendChild(li);
    });
    s.appendChild(ol);
  }

  s.appendChild(el("h4", "cs-sub", t("csRequests")));
  if (c.purged || !Array.isArray(ho.requests)) {
    s.appendChild(el("p", "cs-purged", t("csPurged")));
    return s;
  }
  const rl = el("ol", "cb-req-list cs-requests");
  ho.requests.forEach(function (q) {
    if (!q || typeof q !== "object") return;
    const li = el("li", "cb-req");
    li.appendChild(el("p", "cb-req-name" + (q.name ? "" : " muted"), q.name ? String(q.name) : t("cbNoName")));
    li.appendChild(el("p", "cb-req-topic" + (q.topic ? "" : " muted"), q.topic ? String(q.topic) : t("cbNoTopic")));
    const qd = el("dl", "cb-req-facts");
    fact(qd, t("cbReference"), q.reference);
    fact(qd, t("cbCreated"), stamp(q.created_at));
    if (q.slot) fact(qd, t("cbOwnSlot"), slotText(q.slot.start, q.slot.end));
    fact(qd, t("cbCallerType"), q.caller_type ? known("caller_", q.caller_type) : null);
    fact(qd, t("cbEmail"), q.email);
    fact(qd, t("cbOrganisation"), q.organisation);
    fact(qd, t("csRequestStatus"), q.status ? known("rq_", q.status) : null);
    li.appendChild(qd);
    rl.appendChild(li);
  });
  s.appendChild(rl);
  return s;
}

// Messages by seq, each internal note before the first message written after it.
function caseTimeline(ho) {
  const msgs = (Array.isArray(ho.transcript) ? ho.transcript : []).filter(function (m) { return m && typeof m === "object"; })
    .slice().sort(function (a, b) { return (Number(a.seq) || 0) - (Number(b.seq) || 0); });
  const notes = (Array.isArray(ho.notes) ? ho.notes : []).filter(function (n) { return n && typeof n === "object"; })
    .slice().sort(function (a, b) { return Date.parse(a.at) - Date.parse(b.at); });
  let out = [], ni = 0;
  msgs.forEach(function (m) {
    const at = Date.parse(m.at);
    while (ni < notes.length && Date.parse(notes[ni].at) < at) out.push({ note: notes[ni++] });
    out.push({ msg: m });
  });
  for (; ni < notes.length; ni++) out.push({ note: notes[ni] });
  return out;
}

function buildTranscript(c, ho) {
  const s = el("section", "cs-sec cs-transcript");
  s.appendChild(el("h3", "cs-sec-title", t("csTranscript")));
  if (c.purged || (!Array.isArray(ho.transcript) && !Array.isArray(ho.notes))) {
    const p = el("p", "cs-purged", t("csPurged"));
    s.appendChild(p);
    s.appendChild(el("p", "muted small", t("csPurgedWhy")));
    return s;
  }
  const items = caseTimeline(ho);
  if (!items.length) { s.appendChild(el("p", "muted small", t("csNoMessages"))); return s; }
  const advisorId = ho.advisor && ho.advisor.id, advisorName = ho.advisor && ho.advisor.name;
  const ol = el("ol", "cs-log");
  items.forEach(function (it) {
    let li, tm;
    if (it.note) {
      li = el("li", "cs-msg cs-note");
      const lab = el("p", "cs-who");
      lab.appendChild(el("span", "badge badge-intern", t("csInternal")));
      lab.appendChild(document.createTextNode(" " + t("csNoteWhy") + " · " +
        (it.note.agent_id && it.note.agent_id === advisorId && advisorName ? advisorName : t("csColleague"))));
      li.appendChild(lab);
      li.appendChild(el("p", "text", it.note.text));
      tm = el("time", "when", clock(it.note.at));
      tm.setAttribute("datetime", it.note.at || "");
      li.appendChild(tm);
      ol.appendChild(li);
      return;
    }
    const m = it.msg;
    const who = m.sender === "visitor" ? "visitor" : m.sender === "agent" ? "agent" : "system";
    li = el("li", "cs-msg cs-msg-" + who);
    li.appendChild(el("p", "cs-who", who === "visitor" ? t("csVisitor") : who === "agent" ? t("csAgent") : t("csSystem")));
    li.appendChild(el("p", "text", m.text));
    tm = el("time", "when", clock(m.at));
    tm.setAttribute("datetime", m.at || "");
    li.appendChild(tm);
    ol.appendChild(li);
  });
  s.appendChild(ol);
  return s;
}

$("cs-refresh").addEventListener("click", function () { loadCases(); });
$("cs-filter").addEventListener("change", function (e) {
  if (e.target && e.target.id === "cs-days") $("cs-filter-due").checked = true;
  loadCases();
});

// ---- start -----------------------------------------------------------------------------

window.addEventListener("beforeunload", function () {
  if (loggingOut) return;
  store(KEY_DRAFTS, drafts); saveOutbox();
});

/** Puts the page in its language and opens the work view, or the login when no one is logged in. */
export function start(eventHandlers) {
  handlers = eventHandlers;
  configureApi({ token: function () { return token; }, onUnauthorized: askRelogin });
  applyTexts(document);
  if (token) { showWork(); connect(); watchExpiry(); } else { showLogin(); }
}
