/* The waiting queue panel: cards rendered from state/queue.js in the server's order, reordered in
 * place (the list is a live region and must only announce news), and accepting a chat. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { itemSig } from "../state/queue.js";
import { crises, queue } from "../state/session.js";
import { announce, beep, flashTitle } from "./attention.js";
import { activate } from "./chat.js";
import { mergeConversation, risks, riskText, upsertConversation } from "./conversations.js";
import { $, el } from "./dom.js";
import { errorText, label } from "./labels.js";
import { checkOfferInQueue } from "./offer.js";
import { clock, waited } from "./time.js";
import { showView } from "./views.js";

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

export function renderQueue() {
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

export function buildQueueItem(item) {
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
  const e2 = actions.errorOf(res);
  // A visitor whose connection is gone is never taken by accident: ask first.
  if (e2 && e2.state === "visitor_away" && !confirmAway) {
    if (window.confirm(t("acceptAwayConfirm", { time: e2.since ? clock(e2.since) : "?" }))) accept(conversationId, btn, true);
    return;
  }
  if (e2) { err.textContent = acceptErrorText(e2); err.hidden = false; return; }
  openAccepted(res.conversation);
}

export function acceptErrorText(e) {
  return e.code === "capacity_reached" ? t("capacity", { limit: e.limit ? " (" + e.limit + ")" : "" }) : errorText(e);
}

export function openAccepted(view) {
  const c = upsertConversation(view);
  mergeConversation(c, view);
  showView("chats", false);
  activate(c.id);
}
