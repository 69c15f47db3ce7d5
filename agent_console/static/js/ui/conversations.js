/* The conversations this console holds: `mine`, `history`, messages, notes, typing, risk
 * signals and the visitor leaving, merged into state/conversations.js and rendered. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import * as conv from "../state/conversations.js";
import { S, convs, transferredFrom } from "../state/session.js";
import { announce, attention, beep, flashTitle } from "./attention.js";
import { activate, buildConversation, dropPending, renderHeader, renderLog, renderTab, setBanner, updateComposer } from "./chat.js";
import { renderCrisis } from "./crisis.js";
import { buildQueueItem } from "./queue.js";
import { showRisk } from "./risk-feedback.js";
import { removeConversation, updateEmpty } from "./takeover.js";

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
  if (!S.activeId && convs.size) activate(convs.keys().next().value);
}

export function upsertConversation(s) {
  const id = s.id;
  let c = convs.get(id);
  if (!c) {
    c = conv.newConversation(s);
    convs.set(id, c);
    buildConversation(c);
    if (transferredFrom.has(id)) { setBanner(c, t("transferredIn", { from: transferredFrom.get(id) })); transferredFrom.delete(id); }
    S.outbox.forEach(function (o) { if (o.conversation_id === id) c.pending.set(o.client_id, o); });
    renderLog(c);
  } else {
    c.summary = Object.assign({}, c.summary, s);
    if (s.status) c.status = s.status;
  }
  renderHeader(c);
  renderTab(c);
  return c;
}

export function mergeConversation(c, view) {
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

export async function loadHistory(id) {
  const c = convs.get(id);
  if (!c) return;
  if (c.syncing) { c.again = true; return; } // its answer may predate the change: ask again after
  c.syncing = true;
  c.again = false;
  let res;
  try { res = await actions.history({ conversation_id: id }); } catch (e) { c.syncing = false; return; }
  c.syncing = false;
  const err = actions.errorOf(res);
  if (err) { if (err.code === "not_found" || err.code === "forbidden") removeConversation(c); return; }
  if (!convs.has(id)) return; // closed here meanwhile
  mergeConversation(c, res.conversation);
  if (c.again) loadHistory(id);
}

export function addMessage(c, m, live) {
  const unseen = live && (c.id !== S.activeId || document.hidden || !document.hasFocus());
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
export const risks = new Map();

export function riskText(r) {
  return (r.level === "acuut" ? t("riskAcutePrefix") : t("riskSignalPrefix")) + (r.signals || []).join(", ");
}

export function onRisk(r) {
  if (!r || !r.conversation_id) return;
  risks.set(r.conversation_id, r);
  const c = convs.get(r.conversation_id);
  if (c) setBanner(c, riskText(r));
  showRisk(c, r);
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
