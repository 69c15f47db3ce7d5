/* Reading along and taking over (crisis worker, supervisor), the visitor's presence, and the
 * notices for supervisors and the crisis team (outcome missing, spoedmelding). */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { S, convs, KEY_DRAFTS, store } from "../state/session.js";
import { announce, attention, beep, flashTitle } from "./attention.js";
import { openCaseById } from "./cases.js";
import { activate, dropPending, renderHeader, renderTab, setBanner, updateComposer } from "./chat.js";
import { loadHistory, mergeConversation, upsertConversation } from "./conversations.js";
import { $ } from "./dom.js";
import { errorText } from "./labels.js";
import { showNotice } from "./notice.js";
import { clock } from "./time.js";
import { showView } from "./views.js";

// ---- reading along and taking over (crisis worker, supervisor) --------------------------

// A conversation this console reads along (read-only, live) until it is taken over.
export function openReadAlong(view) {
  const c = upsertConversation(view);
  c.readOnly = true;
  mergeConversation(c, view);
  showView("chats", false);
  activate(c.id);
}

export async function takeOver(c) {
  const btn = c.panel.querySelector(".act-takeover");
  btn.disabled = true;
  let res;
  try { res = await actions.takeOver({ conversation_id: c.id }); } catch (e) { btn.disabled = false; showNotice(t("offline")); return; }
  const err = actions.errorOf(res);
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
  if (c && !c.readOnly) {
    if (!c.readers) c.readers = new Map();
    c.readers.set(d.by, d.by_name || t("byColleague"));
    renderHeader(c);
    setBanner(c, t("readerJoined", { name: d.by_name || t("byColleague") }));
  }
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

export async function answerTakeOver(c, accept) {
  c.panel.querySelector(".conv-takeover").hidden = true;
  let res;
  try { res = await actions.answerTakeOver({ conversation_id: c.id, accept: accept }); } catch (e) { showNotice(t("offline")); return; }
  const err = actions.errorOf(res);
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
  if (c) { delete S.drafts[c.id]; store(KEY_DRAFTS, S.drafts); removeConversation(c); }
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

export function removeConversation(c) {
  convs.delete(c.id);
  c.panel.remove();
  c.tab.remove();
  delete S.drafts[c.id]; store(KEY_DRAFTS, S.drafts);
  dropPending(c);
  if (S.activeId === c.id) {
    S.activeId = null;
    if (convs.size) activate(convs.keys().next().value); else $("no-conversation").hidden = false;
  }
  updateEmpty();
}

export function updateEmpty() {
  $("mine-empty").hidden = convs.size > 0;
  $("no-conversation").hidden = !!S.activeId && convs.has(S.activeId);
}
