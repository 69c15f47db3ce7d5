/* Blocking the visitor of a conversation (supervisors and admins): how many hours, why, and,
 * only as an explicit extra with a warning, the whole address. The visitor is never shown: the
 * server keeps keyed hashes only, and their next start gets the ordinary "chat closed". */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { convs } from "../state/session.js";
import { canRoster } from "./callbacks.js";
import { announce } from "./attention.js";
import { $ } from "./dom.js";
import { errorText } from "./labels.js";
import { dayClock } from "./time.js";

let blockingId = null;

/** Whether this agent may block (the button is hidden for everyone else). */
export function canBlock() { return canRoster(); }

/** Shows the conversation's "Blokkeren" button to supervisors and admins. */
export function bindBlock(c, button) {
  button.hidden = !canBlock();
  button.addEventListener("click", function () { openBlock(c); });
}

function blockError(text, field) {
  const e = $("block-error");
  e.textContent = text || "";
  e.hidden = !text;
  ["block-hours", "block-reason"].forEach(function (id) {
    if (text && id === field) $(id).setAttribute("aria-invalid", "true"); else $(id).removeAttribute("aria-invalid");
  });
}

export function openBlock(c) {
  blockingId = c.id;
  $("block-form").reset();
  blockError("");
  $("block-address-warning").hidden = true;
  $("block-submit").disabled = false;
  $("block-dialog").showModal();
  $("block-hours").focus();
}

$("block-address").addEventListener("change", function () {
  $("block-address-warning").hidden = !$("block-address").checked;
});
$("block-cancel").addEventListener("click", function () { $("block-dialog").close(); });
$("block-dialog").addEventListener("close", function () {
  const c = convs.get(blockingId);
  blockingId = null;
  if (c && c.panel && !c.panel.hidden) c.panel.querySelector(".act-block").focus();
});

$("block-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const c = convs.get(blockingId);
  if (!c) { $("block-dialog").close(); return; }
  const whole = $("block-address").checked;
  const hours = Number($("block-hours").value);
  const max = whole ? 24 : 720;
  if (!Number.isInteger(hours) || hours < 1 || hours > max) {
    blockError(t(whole ? "blockHoursAddress" : "blockHoursRange"), "block-hours"); $("block-hours").focus(); return;
  }
  const reason = $("block-reason").value.trim();
  if (!reason || Array.from(reason).length > 500) { blockError(t("blockReasonMissing"), "block-reason"); $("block-reason").focus(); return; }
  blockError("");
  $("block-submit").disabled = true;
  let res;
  try {
    res = await actions.blockVisitor({ conversation_id: c.id, hours, reason, whole_address: whole });
  } catch (x) {
    $("block-submit").disabled = false; blockError(t("blockOffline")); return;
  }
  $("block-submit").disabled = false;
  const err = actions.errorOf(res);
  if (err) { blockError(errorText(err)); return; }
  $("block-dialog").close();
  const text = t("blockDone", { until: dayClock(res.until) });
  const note = c.panel.querySelector(".conv-banner");
  note.textContent = text; note.hidden = false;
  announce(text);
});
