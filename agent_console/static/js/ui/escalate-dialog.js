/* The dialog that escalates a conversation to the crisis team. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { convs } from "../state/session.js";
import { renderHeader, renderTab } from "./chat.js";
import { loadHistory } from "./conversations.js";
import { renderCrisis } from "./crisis.js";
import { $ } from "./dom.js";
import { errorText } from "./labels.js";

// ---- escalating to the crisis team -------------------------------------------------

let escalatingId = null;

function escalateError(text) {
  const e = $("escalate-error");
  e.textContent = text || "";
  e.hidden = !text;
  if (text) $("escalate-reason").setAttribute("aria-invalid", "true"); else $("escalate-reason").removeAttribute("aria-invalid");
}

export function openEscalate(c) {
  escalatingId = c.id;
  $("escalate-form").reset();
  escalateError("");
  $("escalate-submit").disabled = false;
  $("escalate-dialog").showModal();
  $("escalate-reason").focus();
}
$("escalate-cancel").addEventListener("click", function () { $("escalate-dialog").close(); });
$("escalate-reason").addEventListener("input", function () { if (!$("escalate-error").hidden) escalateError(""); });
$("escalate-dialog").addEventListener("close", function () {
  const c = convs.get(escalatingId);
  escalatingId = null;
  if (c && !c.panel.hidden) c.panel.querySelector(".act-escalate").focus();
});

$("escalate-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const c = convs.get(escalatingId);
  if (!c) { $("escalate-dialog").close(); return; }
  const reason = $("escalate-reason").value.trim();
  if (!reason) { escalateError(t("escalateMissing")); $("escalate-reason").focus(); return; }
  if (Array.from(reason).length > 500) { escalateError(t("escalateTooLong")); $("escalate-reason").focus(); return; }
  escalateError("");
  $("escalate-submit").disabled = true;
  let res;
  try { res = await actions.escalate({ conversation_id: c.id, reason: reason }); } catch (x) {
    $("escalate-submit").disabled = false;
    escalateError(t("escalateOffline")); return;
  }
  $("escalate-submit").disabled = false;
  const err = actions.errorOf(res);
  if (err) { escalateError(errorText(err)); return; }
  $("escalate-dialog").close();
  c.crisisAck = null;
  c.crisisNote = res.already_running ? t("escalateRunning") : t("escalateSent");
  c.summary = Object.assign({}, c.summary, { in_crisis: true });
  renderHeader(c); renderTab(c); renderCrisis(c);
  loadHistory(c.id);
});
