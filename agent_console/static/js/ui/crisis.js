/* The crisis bar: the alarm stays until someone takes it on, above everything; the crisis box
 * and timeline in a conversation. Rendered from state/crises.js. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { S, convs, crises } from "../state/session.js";
import { announce, beep, flashTitle, stopFlash } from "./attention.js";
import { activate, anyUnread } from "./chat.js";
import { loadHistory, mergeConversation, upsertConversation } from "./conversations.js";
import { $, el, setText } from "./dom.js";
import { errorText, label } from "./labels.js";
import { showNotice } from "./notice.js";
import { buildQueueItem } from "./queue.js";
import { openReadAlong } from "./takeover.js";
import { clock } from "./time.js";
import { showView } from "./views.js";

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
  const mine = S.agent && d.by === S.agent.id;
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
  if (anyUnread()) S.flashText = t("newMessage"); else stopFlash();
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
} // no needless re-reading

function fillCrisisItem(li, a) {
  setText(li.querySelector(".crisis-reason"), a.reason || t("noReason"));
  const status = a.status === "waiting" ? t("statusWaiting")
    : a.status === "closed" ? t("statusClosed")
    : S.agent && a.holder_id === S.agent.id ? t("statusMine") : t("statusActive");
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
  const err = actions.errorOf(res);
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
export function crisisEventText(ev) {
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

export function renderCrisis(c) {
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
    li.appendChild(document.createTextNode(crisisEventText(ev)));
    list.appendChild(li);
  });
  list.hidden = events.length === 0;
}
