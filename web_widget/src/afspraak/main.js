/*
 * The booking page for professionals (/afspraak): an adviesgesprek in a 45-minute tijdvak.
 * Professionals get the manage link by e-mail as well, so it may be shown here.
 */
import { el, setFieldError } from "../common/dom.js";
import { api, downloadCalendar, errorCode, errorText } from "../common/api.js";
import { fmtSlot, fmtSlotLong } from "../common/time.js";
import { SlotPicker } from "../common/tijdvak-picker.js";
import { BOOKING } from "../common/texts.js";

const T = BOOKING.nl;
const V = { el, setFieldError, api, downloadCalendar, errorCode, errorText, fmtSlot, fmtSlotLong, SlotPicker };
var form = document.getElementById("booking");
var formError = document.getElementById("form-error");
var submit = document.getElementById("submit");
var picker = new V.SlotPicker(document.getElementById("slot-picker"), "adviesgesprek", {
  prefix: "afspraak", legend: T.legendWhen
});
var FIELDS = ["name", "email", "organisation", "phone", "voicemail", "topic"];
// Where the server's complaint about a field is shown.
var SERVER_FIELDS = {
  slot_start: "slot", name: "name", email: "email", organisation: "organisation", phone: "phone",
  safe_to_leave_voicemail: "voicemail", topic: "topic"
};
var sending = false;
var calendarToken = null;

document.getElementById("done-ics").addEventListener("click", function () {
  var problem = document.getElementById("done-error");
  if (!calendarToken) return;
  problem.hidden = true;
  V.downloadCalendar(calendarToken, "veilig-thuis-afspraak.ics").then(function (res) {
    if (res.ok) return;
    problem.textContent = V.errorText(res);
    problem.hidden = false;
    problem.focus();
  });
});

function wrapper(name) { return form.querySelector("[data-field=" + name + "]"); }
function value(name) { return document.getElementById(name).value.trim(); }
function voicemail() {
  var picked = form.querySelector("input[name=voicemail]:checked");
  return picked ? picked.value : null;
}
function setError(name, message) {
  if (name === "slot") picker.setError(message); else V.setFieldError(wrapper(name), message);
}
function showFormError(message) {
  formError.textContent = message || "";
  formError.hidden = !message;
}
function clearErrors() {
  showFormError(null);
  picker.setError(null);
  FIELDS.forEach(function (f) { setError(f, null); });
}
function focusFirst(errors) {
  if (errors.indexOf("slot") >= 0) { picker.focus(); return; }
  for (var i = 0; i < FIELDS.length; i++) {
    if (errors.indexOf(FIELDS[i]) < 0) continue;
    var target = FIELDS[i] === "voicemail" ? document.getElementById("voicemail-yes") : document.getElementById(FIELDS[i]);
    target.focus();
    return;
  }
}

function check() {
  var errors = {};
  if (!picker.chosen) errors.slot = T.needSlot;
  if (!value("name")) errors.name = T.needName;
  var email = value("email");
  if (!email) errors.email = T.needEmail;
  else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.email = T.badEmail;
  if (!value("organisation")) errors.organisation = T.needOrganisation;
  if (!value("phone")) errors.phone = T.needPhone;
  if (!voicemail()) errors.voicemail = T.needVoicemail;
  return errors;
}

function showDone(answer) {
  var token = answer.manage_token;
  document.getElementById("done-reference").textContent = answer.reference;
  document.getElementById("done-when").textContent = V.fmtSlotLong(answer.slot);
  calendarToken = token; // for the calendar button: fetched, never linked (no token in history or downloads)
  document.getElementById("done-manage").setAttribute("href", "/afspraak/beheer#" + token);
  form.hidden = true;
  var done = document.getElementById("done");
  done.hidden = false;
  document.getElementById("done-title").focus();
}

form.addEventListener("submit", function (e) {
  e.preventDefault();
  if (sending) return;
  clearErrors();
  var errors = check();
  var names = Object.keys(errors);
  if (names.length) {
    names.forEach(function (n) { setError(n, errors[n]); });
    focusFirst(names);
    return;
  }
  var payload = {
    kind: "adviesgesprek",
    slot_start: picker.chosen.start,
    caller_type: "professional",
    name: value("name"),
    email: value("email"),
    organisation: value("organisation"),
    phone: value("phone"),
    safe_to_leave_voicemail: voicemail() === "yes"
  };
  if (value("topic")) payload.topic = value("topic");
  sending = true;
  submit.disabled = true;
  submit.textContent = T.sending;
  V.api("POST", "/api/callbacks", payload).then(function (res) {
    sending = false;
    submit.disabled = false;
    submit.textContent = T.submit;
    if (res.ok) { showDone(res.body); return; }
    var code = V.errorCode(res), message = V.errorText(res), placed = [];
    var err = (res.body && res.body.error) || {};
    if (code === "invalid_phone") placed.push("phone");
    else if (code === "slot_full") placed.push("slot");
    else if (code === "invalid_input") {
      (err.fields || (err.field ? [err.field] : [])).forEach(function (f) {
        if (SERVER_FIELDS[f] && placed.indexOf(SERVER_FIELDS[f]) < 0) placed.push(SERVER_FIELDS[f]);
      });
    }
    placed.forEach(function (f) { setError(f, message); });
    if (placed.indexOf("slot") >= 0) {
      // Full or no longer bookable: show what is free now, with the reason at the picker.
      picker.chosen = null;
      picker.load().then(function () { focusFirst(placed); });
    } else if (!placed.length) {
      showFormError(message);
      formError.focus();
    } else {
      focusFirst(placed);
    }
  });
});

form.querySelectorAll("input[name=voicemail]").forEach(function (r) {
  r.addEventListener("change", function () { setError("voicemail", null); });
});
picker.load();
