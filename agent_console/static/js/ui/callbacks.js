/* The callbacks view (Terugbellen): the work list of one day per tijdvak, over HTTP with the
 * console's token; the supervisors' roster; the day picker; live hints (a tijdvak starts, a
 * callback is overdue). The list is rebuilt from the server after each action, so it shows what
 * the database holds; the keyboard focus is carried over. */
import { LANG, t } from "../i18n/index.js";
import * as cbState from "../state/callbacks.js";
import { isOpen, newCallbacksState } from "../state/callbacks.js";
import { localDay, shiftDay, TZ, validDay } from "../state/days.js";
import * as actions from "../actions.js";
import { S } from "../state/session.js";
import { announce, beep, flashTitle } from "./attention.js";
import { $, el, setBadge, setText } from "./dom.js";
import { errorText } from "./labels.js";
import { clock } from "./time.js";
import { currentView, showView } from "./views.js";
import { buildCallback } from "./callback-card.js";

// ---- callbacks: the work list of one day, per tijdvak ----------------------------------
// Over HTTP with the console's token (GET /api/agent/callbacks and friends). Everything the
// server sends is put on screen as text only. The list is rebuilt from the server after each
// action, so what it shows is what the database holds; the keyboard focus is carried over.

const CB_REFRESH_MS = 60000;
const CB_ALERTS_MAX = 6;
export const cb = newCallbacksState();

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

export function cbErrorText(res) {
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

export async function loadCallbacks(day) {
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
  if (cbState.canEditRoster(S.agent) && tv.capacity !== null && tv.capacity !== undefined) head.appendChild(buildRoster(tv, n));
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
