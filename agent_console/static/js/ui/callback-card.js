/* One callback in the work list: its card, its requests (which ones an attempt applies to), and
 * its actions (claim, attempt results, finish with the outcome form), each answered by reading
 * the list again. */
import { has as hasText, t } from "../i18n/index.js";
import * as cbState from "../state/callbacks.js";
import { isOpen, RESULTS, telHref } from "../state/callbacks.js";
import * as actions from "../actions.js";
import { S } from "../state/session.js";
import { announce } from "./attention.js";
import { known } from "./cases.js";
import { closedText, openCallbackClose, showCloseError } from "./close-dialog.js";
import { $, el } from "./dom.js";
import { errorText, label } from "./labels.js";
import { showNotice } from "./notice.js";
import { clock } from "./time.js";
import { cb, cbErrorText, loadCallbacks, slotText, stamp } from "./callbacks.js";

// ---- one callback: its card, its requests and actions ------------------------------------

export function buildCallback(c) {
  const id = c.id;
  const mine = !!S.agent && c.claimed_by === S.agent.id && c.status === "claimed";
  const late = isOpen(c) && (c.overdue || cb.overdue.has(id));
  const li = el("li", "cb-card cb-" + c.status + (mine ? " cb-mine" : "") + (late ? " cb-late" : "") + (c.voicemail_allowed ? "" : " cb-novm-card"));
  li.dataset.callbackId = id;
  const base = "cb-" + id.replace(/[^\w-]/g, "");
  const art = el("article", "cb-body");
  art.setAttribute("aria-labelledby", base + "-phone");

  const top = el("div", "cb-top");
  const h = el("h3", "cb-phone-h");
  h.id = base + "-phone";
  if (c.phone) {
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
  } else {
    // Ended and handed off: the server no longer sends how to reach the caller (need to know).
    h.appendChild(el("span", "cb-phone cb-phone-hidden muted", t("cbPhoneHidden")));
    top.appendChild(h);
  }
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
function selectedSet(c) { return cbState.selectedSet(cb, c, S.agent && S.agent.id); }
export function selectedRefs(c) { return cbState.selectedRefs(cb, c, S.agent && S.agent.id); }

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
    const noName = isOpen(c) ? t("cbNoName") : t("cbNameHidden");
    li.appendChild(el("p", "cb-req-name" + (q.name ? "" : " muted"), q.name ? String(q.name) : noName));
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
  const who = S.agent && c.claimed_by === S.agent.id ? t("you") : (c.claimed_by_name || t("byColleague"));
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

export async function finishCallback(c, outcome) {
  const refs = selectedRefs(c);
  if (refs && !refs.length) { showCloseError([], t("cbChooseRequest")); return; }
  const body = { outcome: outcome };
  if (refs) body.requests = refs;
  $("close-submit").disabled = true;
  const res = await actions.closeCallback(c.id, body);
  $("close-submit").disabled = false;
  const err = actions.apiError(res);
  if (res.status === 200) {
    S.closingCallback = null;
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
    S.closingCallback = null;
    $("close-dialog").close();
    setNote(c.id, cbErrorText(res), true);
    cb.pendingFocus = { key: c.id + ":card" };
    await loadCallbacks();
    return;
  }
  showCloseError([], cbErrorText(res));
}

export function focusCallback(id, key) {
  const list = $("cb-list");
  const node = list.querySelector('[data-key="' + CSS.escape(id + ":" + key) + '"]') ||
    list.querySelector('[data-key="' + CSS.escape(id + ":card") + '"]');
  if (node) node.focus(); else cb.pendingFocus = { key: id + ":" + key, fallback: id + ":card" };
}
