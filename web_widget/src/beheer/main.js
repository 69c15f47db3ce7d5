/*
 * The manage page of one booking (/afspraak/beheer#<token>). The token travels in the fragment,
 * which the browser never sends to a server (so it is in no access log), and is removed from the
 * address bar at once (history.replaceState), so this tab's history entry does not keep it.
 * So that a reload still works, it is kept in this tab's sessionStorage (gone when the tab
 * closes) and forgotten there once the booking is cancelled or the server does not know it.
 * The calendar file is fetched and handed over from a blob: address, never linked by its URL.
 * The page shows what the server says about this token and nothing more.
 */
import { el, setFieldError } from "../common/dom.js";
import { api, downloadCalendar, errorCode, errorText } from "../common/api.js";
import { fmtSlot, fmtSlotLong } from "../common/time.js";
import { SlotPicker } from "../common/tijdvak-picker.js";
import { BOOKING, fill } from "../common/texts.js";

const T = BOOKING.nl;
const V = { el, setFieldError, api, downloadCalendar, errorCode, errorText, fmtSlot, fmtSlotLong, SlotPicker };
var $ = function (id) { return document.getElementById(id); };
var token = null;
var booking = null;
var picker = null;
var busy = false;
var STORE_KEY = "ui-view"; // neutral on purpose: it holds the manage token of this tab

var KINDS = { adviesgesprek: T.kind_adviesgesprek, terugbellen: T.kind_terugbellen };
// Said when this booking's own tijdvak is over and nobody reached the caller yet.
var PASSED = T.passed;
var CALLERS = { kind: T.caller_kind, jongere: T.caller_jongere, volwassene: T.caller_volwassene, professional: T.caller_professional };

function remember(tok) {
  try { if (tok) sessionStorage.setItem(STORE_KEY, tok); } catch (e) { /* memory only */ }
}
function recall() {
  try { return sessionStorage.getItem(STORE_KEY); } catch (e) { return null; }
}
function forget() {
  token = null;
  try { sessionStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
}

/** From the link's fragment (then out of the address bar at once), else after a reload from this tab. */
function takeToken() {
  var fragment = location.hash.replace(/^#/, "");
  if (!fragment) return recall();
  history.replaceState(null, "", location.pathname + location.search);
  var tok;
  try { tok = decodeURIComponent(fragment); } catch (e) { tok = fragment; }
  remember(tok);
  return tok;
}

function show(id, on) { $(id).hidden = !on; }
function problem(message) {
  // Only the server's words; everything else about the booking disappears.
  show("loading", false);
  show("details", false);
  show("notice", false);
  $("problem").textContent = message;
  show("problem", true);
  $("problem").focus();
}
function notice(message) {
  $("notice").textContent = message;
  show("notice", !!message);
}

function fact(term, value) {
  var dl = $("facts");
  dl.appendChild(V.el("dt", { text: term }));
  dl.appendChild(V.el("dd", { text: value }));
}

function render() {
  var b = booking;
  $("facts").textContent = "";
  fact(T.factReference, b.reference);
  fact(T.factKind, KINDS[b.kind] || b.kind);
  fact(T.factSlot, V.fmtSlotLong(b.slot));
  if (b.name) fact(T.factName, b.name);
  if (b.organisation) fact(T.factOrganisation, b.organisation);
  if (b.email) fact(T.factEmail, b.email);
  fact(T.factPhone, b.phone);
  fact(T.factVoicemail, b.safe_to_leave_voicemail ? T.yes : T.no);
  if (b.caller_type && b.caller_type !== "professional") fact(T.factWho, CALLERS[b.caller_type] || b.caller_type);
  if (b.topic) fact(T.factTopic, b.topic);
  $("facts").querySelectorAll("dd")[0].className = "reference";
  // Once the tijdvak is over it can no longer be moved or cancelled (the server refuses too).
  var passed = b.status === "passed";
  show("actions", !passed);
  if (passed) notice(PASSED);
  show("details", true);
}

function load() {
  token = takeToken();
  booking = null;
  closeBoxes();
  show("problem", false);
  show("cancelled", false);
  notice(null);
  if (!token) {
    problem(T.noToken);
    return;
  }
  show("loading", true);
  V.api("GET", "/api/callbacks/" + encodeURIComponent(token)).then(function (res) {
    show("loading", false);
    if (!res.ok) { gone(res); return; }
    booking = res.body;
    render();
  });
}

/** A failed request: an unknown (or cancelled, or used) token is forgotten in this tab too. */
function gone(res) {
  if (V.errorCode(res) === "not_found") forget(); else token = null;
  problem(V.errorText(res));
}

$("ics").addEventListener("click", function () {
  if (busy || !token) return;
  busy = true;
  notice(null);
  V.downloadCalendar(token, "veilig-thuis-afspraak.ics").then(function (res) {
    busy = false;
    if (res.ok) return;
    if (V.errorCode(res) === "not_found") { gone(res); return; }
    notice(V.errorText(res));
    $("notice").focus();
  });
});

function closeBoxes() {
  show("move-box", false);
  show("cancel-box", false);
  $("move").setAttribute("aria-expanded", "false");
  $("cancel").setAttribute("aria-expanded", "false");
}

$("move").addEventListener("click", function () {
  var open = $("move-box").hidden;
  closeBoxes();
  if (!open) return;
  notice(null);
  show("move-box", true);
  $("move").setAttribute("aria-expanded", "true");
  picker = new V.SlotPicker($("move-picker"), booking.kind, {
    prefix: "verzet", legend: T.legendNew, except: booking.slot.start
  });
  picker.load();
  $("move-title").focus();
});
$("move-abort").addEventListener("click", function () { closeBoxes(); $("move").focus(); });

$("move-form").addEventListener("submit", function (e) {
  e.preventDefault();
  if (busy || !picker) return;
  picker.setError(null);
  if (!picker.chosen) { picker.setError(T.needSlot); picker.focus(); return; }
  busy = true;
  var old = booking.slot;
  V.api("POST", "/api/callbacks/" + encodeURIComponent(token) + "/reschedule", { slot_start: picker.chosen.start }).then(function (res) {
    busy = false;
    if (res.ok) {
      booking.slot = res.body.slot;
      render();
      closeBoxes();
      notice(fill(T.moved, { when: V.fmtSlotLong(booking.slot) }));
      $("notice").focus();
      return;
    }
    var code = V.errorCode(res);
    if (code === "not_found") { gone(res); return; }
    if (code === "closed") { closeBoxes(); notice(V.errorText(res)); $("notice").focus(); return; }
    var message = V.errorText(res);
    if (code === "slot_full" || code === "invalid_input") {
      // Nothing changed: say so, keep the old tijdvak, show what is free now.
      picker.chosen = null;
      picker.setError(message + " " + fill(T.stays, { when: V.fmtSlotLong(old) }));
      picker.load().then(function () { picker.focus(); });
      return;
    }
    picker.setError(message);
    picker.focus();
  });
});

$("cancel").addEventListener("click", function () {
  var open = $("cancel-box").hidden;
  closeBoxes();
  if (!open) return;
  notice(null);
  show("cancel-box", true);
  $("cancel").setAttribute("aria-expanded", "true");
  $("cancel-title").focus();
});
$("cancel-abort").addEventListener("click", function () { closeBoxes(); $("cancel").focus(); });
$("cancel-confirm").addEventListener("click", function () {
  if (busy) return;
  busy = true;
  V.api("POST", "/api/callbacks/" + encodeURIComponent(token) + "/cancel").then(function (res) {
    busy = false;
    if (V.errorCode(res) === "closed") { closeBoxes(); notice(V.errorText(res)); $("notice").focus(); return; }
    if (!res.ok) { gone(res); return; }
    forget();
    booking = null;
    closeBoxes();
    show("details", false);
    $("facts").textContent = "";
    show("cancelled", true);
    notice(T.cancelled);
    $("notice").focus();
  });
});

// A new link opened in this same tab (only the fragment changes: no new page load).
window.addEventListener("hashchange", function () { if (location.hash.length > 1) load(); });
load();
