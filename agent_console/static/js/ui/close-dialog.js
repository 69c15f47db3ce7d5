/* The outcome dialog (advies, melding, geen) for a chat and for a callback: the same rules and
 * checks for both; the melding's gemeente is searched in the CBS list from the server. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import * as conv from "../state/conversations.js";
import { S, convs, KEY_DRAFTS, store } from "../state/session.js";
import { announce } from "./attention.js";
import { finishCallback, focusCallback, selectedRefs } from "./callback-card.js";
import { $, setText } from "./dom.js";
import { errorText, label } from "./labels.js";
import { showNotice } from "./notice.js";
import { loadRouting, routing } from "./config.js";
import { removeConversation } from "./takeover.js";

// ---- closing with an outcome -------------------------------------------------------

export function openClose(c) {
  S.closingCallback = null;
  S.closingId = c.id;
  openCloseForm(t("chatCloseTitle"), t("chatCloseSubmit"), "");
}
// The same outcome form, rules and checks as a chat's close, for a callback (console.js below).
export function openCallbackClose(cb) {
  S.closingId = null;
  S.closingCallback = cb;
  const refs = selectedRefs(cb);
  const context = t("cbCloseContext", { phone: cb.phone }) + (refs ? " · " + t("cbCloseFor", { refs: refs.join(", ") }) : "");
  openCloseForm(t("cbCloseTitle"), t("cbCloseSubmit"), context);
}
// The CBS list of gemeenten, for the melding form's search (loaded once, at the first close).
let gemeenten = null;
async function ensureGemeenten() {
  if (gemeenten) return;
  const res = await actions.gemeenten();
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.gemeenten)) return;
  gemeenten = res.body.gemeenten;
  const list = $("gemeente-list");
  list.textContent = "";
  gemeenten.forEach(function (g) { const o = document.createElement("option"); o.value = g; list.appendChild(o); });
}

function openCloseForm(title, submit, context) {
  ensureGemeenten();
  if (!routing) loadRouting();
  setText($("close-title"), title);
  setText($("close-submit"), submit);
  setText($("close-context"), context);
  $("close-context").hidden = !context;
  const f = $("close-form");
  f.reset();
  $("close-error").hidden = true;
  f.querySelectorAll("[aria-invalid]").forEach(function (x) { x.removeAttribute("aria-invalid"); });
  $("close-dialog").showModal();
  f.querySelector("input[name=kind]:checked").focus();
  updateKindHints();
}
function updateKindHints() {
  const melding = $("close-form").querySelector("input[name=kind]:checked").value === "melding";
  $("close-form").classList.toggle("is-melding", melding);
}
$("close-form").querySelectorAll("input[name=kind]").forEach(function (r) { r.addEventListener("change", updateKindHints); });
$("close-cancel").addEventListener("click", function () { $("close-dialog").close(); });
$("close-dialog").addEventListener("close", function () {
  const cb = S.closingCallback;
  S.closingId = null;
  S.closingCallback = null;
  if (cb) focusCallback(cb.id, "finish");
});

export function showCloseError(missing, serverMessage) {
  const f = $("close-form");
  const fields = { summary: $("close-summary"), urgency: $("close-urgency"), gemeente: $("close-gemeente") };
  Object.keys(fields).forEach(function (k) {
    if (missing.indexOf(k) >= 0) fields[k].setAttribute("aria-invalid", "true"); else fields[k].removeAttribute("aria-invalid");
  });
  const names = missing.map(function (k) { return label("missing", k); });
  let text = serverMessage || "";
  if (names.length) text = (text ? text + " " : "") + t("stillMissingPrefix") + names.join(", ") + ".";
  const e = $("close-error");
  e.textContent = text;
  e.hidden = false;
  const first = missing.length && fields[missing[0]];
  if (first) first.focus();
  f.classList.add("was-validated");
}

$("close-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const c = convs.get(S.closingId);
  if (!c && !S.closingCallback) { $("close-dialog").close(); return; }
  const f = $("close-form");
  const outcome = { kind: f.querySelector("input[name=kind]:checked").value };
  const summary = $("close-summary").value.trim(), urgency = $("close-urgency").value, gemeente = $("close-gemeente").value.trim();
  if (summary) outcome.summary = summary;
  if (urgency) outcome.urgency = urgency;
  if (gemeente) outcome.gemeente = gemeente;
  const exp = Array.prototype.map.call(f.querySelectorAll("input[name=expertise]:checked"), function (x) { return x.value; });
  if (exp.length) outcome.expertise = exp;
  if (outcome.kind === "melding") {
    const missing = ["summary", "urgency", "gemeente"].filter(function (k) { return !outcome[k]; });
    if (missing.length) { showCloseError(missing, t("meldingIncomplete")); return; }
  }
  if (S.closingCallback) { finishCallback(S.closingCallback, outcome); return; }
  $("close-submit").disabled = true;
  let res;
  try { res = await actions.closeConversation({ conversation_id: c.id, outcome: outcome }); } catch (x) {
    $("close-submit").disabled = false;
    showCloseError([], t("closeOffline")); return;
  }
  $("close-submit").disabled = false;
  const err = actions.errorOf(res);
  if (err) {
    if (err.code === "outcome_incomplete") { showCloseError(err.missing || [], errorText(err)); return; }
    if (err.field === "outcome.gemeente") { showCloseError(["gemeente"], errorText(err)); return; }
    if (err.code === "closed") {
      // Already over; for a conversation the visitor left, the time to record it ran out.
      if (conv.awaitingOutcome(c)) showNotice(t("outcomeLate"));
    } else { showCloseError([], errorText(err)); return; }
  }
  $("close-dialog").close();
  S.closingId = null;
  // Recorded now: say what (the notice is read out by screen readers). Already over: no claim.
  if (!err) showNotice(closedText("Chat", outcome)); else announce(t("chatClosed"));
  delete S.drafts[c.id]; store(KEY_DRAFTS, S.drafts);
  removeConversation(c);
});

// What a close recorded, in words: "Gesprek afgesloten als melding (urgentie hoog). Het staat in Dossiers."
export function closedText(what, outcome) {
  const kind = outcome.kind === "melding" ? "Melding" : outcome.kind === "advies" ? "Advies" : "Geen";
  const urgency = outcome.urgency ? t("urg_" + outcome.urgency).toLowerCase() : "";
  return t("closed" + what + kind, { urgency: urgency });
}
