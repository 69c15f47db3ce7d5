/* The chat panel: the conversation tabs, one panel per conversation (header, log, composer),
 * the log in timeline order, and sending messages (retried with the same client_id) and notes. */
import { applyTexts, t } from "../i18n/index.js";
import * as actions from "../actions.js";
import * as conv from "../state/conversations.js";
import { S, convs, crises, inFlight, KEY_DRAFTS, KEY_OUTBOX, newClientId, store } from "../state/session.js";
import { stopFlash } from "./attention.js";
import { openClose } from "./close-dialog.js";
import { addMessage } from "./conversations.js";
import { $, el } from "./dom.js";
import { openEscalate } from "./escalate-dialog.js";
import { errorText, label } from "./labels.js";
import { answerTakeOver, removeConversation, takeOver, updateEmpty } from "./takeover.js";
import { clock, dayClock } from "./time.js";
import { openTransfer } from "./transfer-dialog.js";
import { bindFeedback, decorateMessage } from "./risk-feedback.js";
import { bindReadyTexts } from "./ready-texts.js";
import { bindBlock } from "./block-dialog.js";
import { sendWhisper } from "./workplace.js";
import { currentView, updateViewBadges } from "./views.js";

// ---- tabs ----------------------------------------------------------------------------

export function renderTab(c) {
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

export function anyUnread() { return conv.unreadTotal(convs) > 0; }

export function activate(id) {
  const c = convs.get(id);
  if (!c) return;
  S.activeId = id;
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

export function buildConversation(c) {
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
  const d = S.drafts[c.id] || {};
  ta.value = d.message || "";
  ta.addEventListener("input", function () {
    saveDraft(c, ta.value);
    if (c.mode === "message") sendTyping(c, ta.value.length > 0);
  });
  ta.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(c); }
  });
  ta.addEventListener("blur", function () { if (c.outTyping) sendTyping(c, false); });
  bindFeedback(c, panel.querySelector(".log"));
  panel.querySelector(".composer").addEventListener("submit", function (e) { e.preventDefault(); submit(c); });
  panel.querySelector(".act-close").addEventListener("click", function () { openClose(c); });
  panel.querySelector(".act-takeover").addEventListener("click", function () { takeOver(c); });
  panel.querySelector(".act-handover").addEventListener("click", function () { answerTakeOver(c, true); });
  panel.querySelector(".act-keep").addEventListener("click", function () { answerTakeOver(c, false); });
  panel.querySelector(".act-escalate").addEventListener("click", function () { openEscalate(c); });
  panel.querySelector(".act-transfer").addEventListener("click", function () { openTransfer(c); });
  bindReadyTexts(c, ta, panel.querySelector(".act-ready-texts"));
  bindBlock(c, panel.querySelector(".act-block"));
  const crisisBox = panel.querySelector(".conv-crisis");
  crisisBox.querySelector(".conv-crisis-title").id = "conv-crisis-title-" + n;
  crisisBox.setAttribute("aria-labelledby", "conv-crisis-title-" + n);
  crisisBox.querySelector(".conv-crisis-timeline").setAttribute("aria-label", t("crisisTimeline"));
  applyTexts(panel);
  panel.querySelector(".act-close-tab").addEventListener("click", function () {
    // Closing a conversation read along stops reading it along (the holder is told).
    if (c.readOnly && c.status !== "closed") actions.readAlongStop({ conversation_id: c.id }).catch(function () {});
    removeConversation(c);
  });
  const whisperBox = panel.querySelector(".whisper-box");
  whisperBox.querySelector(".whisper-text").id = "whisper-" + n;
  whisperBox.querySelector(".whisper-label").setAttribute("for", "whisper-" + n);
  whisperBox.addEventListener("submit", function (e) { e.preventDefault(); sendWhisper(c); });

  c.panel = panel;
  c.tab = tab;
  $("conversations").appendChild(panel);
  $("tabs").appendChild(tab);
  setMode(c, "message");
}

function setMode(c, mode) {
  const ta = c.panel.querySelector(".composer-text");
  const d = S.drafts[c.id] || {};
  d[c.mode] = ta.value;                              // keep the draft of the mode we leave
  c.mode = mode;
  ta.value = d[mode] || "";
  S.drafts[c.id] = d; store(KEY_DRAFTS, S.drafts);
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
  const d = S.drafts[c.id] || {};
  d[c.mode] = text;
  S.drafts[c.id] = d;
  store(KEY_DRAFTS, S.drafts);
}

function sendTyping(c, on) {
  if (c.status !== "active" || !actions.online()) return;
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

export function renderHeader(c) {
  const s = c.summary;
  c.panel.querySelector(".conv-name").textContent =
    label("caller_type", s.caller_type) + " — " + label("intent", s.intent);
  const meta = c.panel.querySelector(".conv-meta");
  meta.textContent = "";
  if (s.in_crisis) meta.appendChild(el("span", "badge badge-crisis", t("crisisBadge")));
  if (s.danger_now) meta.appendChild(el("span", "badge badge-danger", t("dangerNowBadge")));
  if (s.topic) meta.appendChild(el("span", "meta-topic", t("topicPrefix") + s.topic));
  if (s.team) meta.appendChild(el("span", "chip", label("team", s.team)));
  if (s.accepted_at) meta.appendChild(el("span", "muted", t("acceptedAt", { time: clock(s.accepted_at) })));
  if (s.quick_exit) meta.appendChild(el("span", "badge badge-danger", t("quickExitBadge")));
  if (s.visitor_left) meta.appendChild(el("span", "badge badge-gone", s.left_at ? t("visitorGoneSince", { time: clock(s.left_at) }) : t("visitorGoneBadge")));
  else if (c.status !== "closed" && s.visitor_present === false) meta.appendChild(el("span", "badge badge-gone", s.visitor_away_since ? t("visitorGoneSince", { time: clock(s.visitor_away_since) }) : t("visitorGoneBadge")));
  if (conv.awaitingOutcome(c) && s.outcome_due_at) meta.appendChild(el("span", "muted", t("outcomeDue", { time: dayClock(s.outcome_due_at) })));
  const closed = c.status === "closed";
  const reading = !!c.readOnly && !closed;
  if (reading) meta.appendChild(el("span", "badge badge-gone", t("readingBadge")));
  if (!c.readOnly && c.readers && c.readers.size) {
    meta.appendChild(el("span", "badge badge-gone", t("readerBadge", { names: Array.from(c.readers.values()).join(", ") })));
  }
  c.panel.querySelector(".whisper-box").hidden = !reading;
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

export function setBanner(c, text) {
  const b = c.panel.querySelector(".conv-banner");
  b.textContent = text || "";
  b.hidden = !text;
}

export function updateComposer(c) {
  const closed = c.status === "closed" || !!c.readOnly;
  const form = c.panel.querySelector(".composer");
  form.querySelectorAll("textarea, button, input").forEach(function (x) { x.disabled = closed; });
  form.hidden = closed;
}

// ---- the log: messages by seq, notes by time, pending at the end ----------------------

export function renderLog(c) {
  const log = c.panel.querySelector(".log");
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const items = conv.timeline(c);
  const wanted = new Set(items.map(function (i) { return i.key; }));
  c.nodes.forEach(function (node, key) { if (!wanted.has(key)) { node.remove(); c.nodes.delete(key); } });
  let prev = null;
  items.forEach(function (it) {
    let node = c.nodes.get(it.key);
    if (!node) { node = buildItem(it, c); c.nodes.set(it.key, node); }
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

function buildItem(it, c) {
  if (it.note) {
    const li = el("li", it.note.whisper ? "item note whisper" : "item note");
    li.dataset.noteId = it.note.id;
    li.appendChild(el("p", "note-label", it.note.whisper ? t("whisperFrom", { name: it.note.from }) : t("notePlaceholder")));
    li.appendChild(el("p", "text", it.note.text));
    li.appendChild(el("p", "when", clock(it.note.at)));
    return li;
  }
  if (it.pending) {
    const lp = el("li", "item msg msg-agent msg-pending");
    lp.dataset.clientId = it.pending.client_id;
    lp.appendChild(el("p", "who", t("whoMe")));
    lp.appendChild(el("p", "text", it.pending.text));
    lp.appendChild(el("p", "when", t("sending")));
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
  if (!mine) decorateMessage(c, lm, m);
  return lm;
}

// ---- sending: messages (retried with the same client_id) and notes --------------------

export function saveOutbox() {
  S.outbox = [];
  convs.forEach(function (c) { c.pending.forEach(function (p) { S.outbox.push(p); }); });
  store(KEY_OUTBOX, S.outbox);
}

export function dropPending(c) {
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
    const err = actions.errorOf(res);
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
  if (!c || !actions.online()) return;
  const attempt = ++S.attempts;
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
  const err = actions.errorOf(res);
  if (err) {
    if (err.code === "unauthorized") return; // kept; sent again after logging in
    if (err.code === "rate_limited" || err.code === "internal" || err.code === "unavailable") { setTimeout(function () { deliver(p); }, 3000); return; }
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

export function flushOutbox() {
  convs.forEach(function (c) { c.pending.forEach(function (p) { deliver(p); }); });
}
