/* The callbacks view: the work list of one day per tijdvak, over HTTP with the console's token.
 * The list is rebuilt from the server after each action, so it shows what the database holds;
 * the keyboard focus is carried over. */
import { has as hasText, LANG, t } from "../i18n/index.js";
import * as cbState from "../state/callbacks.js";
import { isOpen, newCallbacksState, RESULTS, telHref } from "../state/callbacks.js";
import { localDay, shiftDay, TZ, validDay } from "../state/days.js";
import * as actions from "../actions.js";
import { S } from "../state/session.js";
import { announce, beep, flashTitle } from "./attention.js";
import { known } from "./cases.js";
import { closedText, openCallbackClose, showCloseError } from "./close-dialog.js";
import { $, el, setBadge, setText } from "./dom.js";
import { errorText, label } from "./labels.js";
import { showNotice } from "./notice.js";
import { clock } from "./time.js";
import { currentView, showView } from "./views.js";

// ---- callbacks: the work list of one day, per tijdvak ----------------------------------
// Over HTTP with the console's token (GET /api/agent/callbacks and friends). Everything the
// server sends is put on screen as text only. The list is rebuilt from the server after each
// action, so what it shows is what the database holds; the keyboard focus is carried over.

const CB_REFRESH_MS = 60000;
const CB_ALERTS_MAX = 6;
const cb = newCallbacksState();

export function longDay(day) {
  const d = new Date(day + "T12:00:00Z");
  if (isNaN(d)) return "";
  return d.toLocaleDateString(LANG === "en" ? "en-GB" : "nl-NL", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
}
export function slotText(start, end) { return clock(start) + "–" + clock(end); }
export function stamp(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return d.toLocaleString(LANG === "en" ? "en-GB" : "nl-NL", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: TZ });
}
export function canRoster() { return cbState.canRoster(S.agent); }

function cbErrorText(res) {
  if (!res || res.status === 0) return t("cbOffline");
  const err = actions.apiError(res);
  const code = err && err.code;
  if (code === "already_taken") return t("cbAlreadyTaken");
  if (code === "closed") return t("cbClosedAlready");
  if (code === "not_found") return t("cbNotFound");
  // "forbidden" with the general text means: not the one who claimed it. A specific text (no
  // voicemail allowed here) says more, so that one is shown as it is.
  if (code === "forbidden" && (!err.message || err.message === "Dat mag je hier niet doen.")) return t("cbForbidden");
  return errorText(err, t("cbLoadFailed"));
}

export function onCallbacksShown() { loadCallbacks(); }

async function loadCallbacks(day) {
  if (!S.token) return;
  if (day !== undefined && day !== cb.date) { cb.date = day; cb.notes.clear(); cb.roster.clear(); }
  const asked = ++cb.asked;
  setText($("cb-status"), t("cbLoading"));
  const res = await actions.callbacks(cb.date);
  if (asked !== cb.asked) return; // a newer question is under way
  const box = $("cb-error");
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.tijdvakken)) {
    setText($("cb-status"), "");
    box.textContent = res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("cbLoadFailed"));
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
  if (currentView !== "callbacks" || !S.token || !cb.data || document.hidden || cb.busy.size) return;
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
    ? t("st_claimed", { who: S.agent && d.claimed_by === S.agent.id ? t("you") : t("byColleague") }) : t("st_open");
  addCallbackAlert(t("cbOverdueAlert", { slot: slotText(d.slot.start, d.slot.end), status: status.toLowerCase() }), localDay(d.slot.start));
  if (currentView === "callbacks" && cb.data) renderCallbacks();
  refreshIfShown(d.slot.start);
}
