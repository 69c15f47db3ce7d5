/* The dialog that transfers a conversation to a team or a colleague. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { S, convs, transferredFrom } from "../state/session.js";
import { announce, attention } from "./attention.js";
import { setBanner } from "./chat.js";
import { $ } from "./dom.js";
import { errorText, label } from "./labels.js";
import { showNotice } from "./notice.js";
import { loadRouting, routing } from "./config.js";
import { removeConversation } from "./takeover.js";

// ---- transfer to a team or a colleague ---------------------------------------------

let transferringId = null;
let colleaguesAsked = 0;

function transferError(text, field) {
  const e = $("transfer-error");
  e.textContent = text || "";
  e.hidden = !text;
  ["transfer-team", "transfer-agent"].forEach(function (id) {
    if (field === id) $(id).setAttribute("aria-invalid", "true"); else $(id).removeAttribute("aria-invalid");
  });
}
function transferTarget() { return $("transfer-form").querySelector("input[name=target]:checked").value; }
function syncTransferTarget() {
  const toAgent = transferTarget() === "agent";
  $("transfer-team-field").hidden = toAgent;
  $("transfer-agent-field").hidden = !toAgent;
  transferError("");
}
$("transfer-form").querySelectorAll("input[name=target]").forEach(function (r) { r.addEventListener("change", syncTransferTarget); });

export function openTransfer(c) {
  if (!routing) loadRouting();
  transferringId = c.id;
  $("transfer-form").reset();
  syncTransferTarget();
  $("transfer-submit").disabled = false;
  $("transfer-dialog").showModal();
  $("transfer-form").querySelector("input[name=target]:checked").focus();
  loadColleagues();
}
$("transfer-cancel").addEventListener("click", function () { $("transfer-dialog").close(); });
["transfer-team", "transfer-agent"].forEach(function (id) {
  $(id).addEventListener("change", function () { if (!$("transfer-error").hidden) transferError(""); });
});
$("transfer-dialog").addEventListener("close", function () {
  const c = convs.get(transferringId);
  transferringId = null;
  if (c && !c.panel.hidden) c.panel.querySelector(".act-transfer").focus();
});

async function loadColleagues() {
  const asked = ++colleaguesAsked;
  const sel = $("transfer-agent"), status = $("transfer-agent-status");
  sel.textContent = "";
  sel.appendChild(new Option(t("chooseColleague"), ""));
  sel.disabled = true;
  status.textContent = t("colleaguesLoading");
  let body = null;
  try {
    const r = await actions.colleagues();
    if (r.status >= 200 && r.status < 300) body = r.body;
  } catch (e) { body = null; }
  if (asked !== colleaguesAsked) return; // the dialog was opened again meanwhile
  if (!body || !Array.isArray(body.agents)) { status.textContent = t("colleaguesFailed"); return; }
  const me = S.agent && S.agent.id;
  const list = body.agents.filter(function (a) { return a && a.id && a.id !== me; });
  list.sort(function (a, b) {
    return (b.online ? 1 : 0) - (a.online ? 1 : 0) || String(a.name).localeCompare(String(b.name), "nl");
  });
  if (!list.length) { status.textContent = t("colleaguesNone"); return; }
  const groups = { true: null, false: null };
  list.forEach(function (a) {
    const on = !!a.online;
    if (!groups[on]) {
      groups[on] = document.createElement("optgroup");
      groups[on].label = on ? t("groupOnline") : t("groupOffline");
      sel.appendChild(groups[on]);
    }
    const teams = (a.teams || []).map(function (x) { return label("team", x); });
    const text = String(a.name) + (teams.length ? " (" + teams.join(", ") + ")" : "") + " — " + (on ? t("online") : t("offline_"));
    const opt = new Option(text, a.id);
    opt.dataset.name = String(a.name);
    groups[on].appendChild(opt);
  });
  sel.disabled = false;
  const online = list.filter(function (a) { return a.online; }).length;
  status.textContent = t("colleaguesCount", { online: online, total: list.length });
}

$("transfer-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const c = convs.get(transferringId);
  if (!c) { $("transfer-dialog").close(); return; }
  let payload = { conversation_id: c.id }, to;
  if (transferTarget() === "agent") {
    const sel = $("transfer-agent");
    if (!sel.value) { transferError(t("transferMissingAgent"), "transfer-agent"); sel.focus(); return; }
    payload.agent_id = sel.value;
    to = sel.selectedOptions[0].dataset.name || sel.selectedOptions[0].textContent;
  } else {
    const team = $("transfer-team");
    if (!team.value) { transferError(t("transferMissingTeam"), "transfer-team"); team.focus(); return; }
    payload.team = team.value;
    to = team.selectedOptions[0].textContent;
  }
  transferError("");
  $("transfer-submit").disabled = true;
  let res;
  try { res = await actions.transfer(payload); } catch (x) {
    $("transfer-submit").disabled = false;
    transferError(t("transferOffline")); return;
  }
  $("transfer-submit").disabled = false;
  const err = actions.errorOf(res);
  if (err) {
    const field = payload.agent_id ? "transfer-agent" : "transfer-team";
    if (err.code === "capacity_reached") transferError(t("transferCapacity", { limit: err.limit ? " (" + err.limit + ")" : "" }), field);
    else if (err.code === "not_found") transferError(t("transferNotFound"), field);
    else if (err.code === "forbidden") transferError(t("transferForbidden"));
    else transferError(errorText(err));
    return;
  }
  transferringId = null;
  $("transfer-dialog").close();
  // It has left our `mine`: it closes here, drafts and all.
  removeConversation(c);
  showNotice(t("transferDone", { to: to }));
});

export function onTransferred(d) {
  if (!d || !d.conversation_id) return;
  const from = d.from || t("byColleague");
  const c = convs.get(d.conversation_id);
  if (c) setBanner(c, t("transferredIn", { from: from })); else transferredFrom.set(d.conversation_id, from);
  announce(t("transferredAnnounce", { from: from }));
  attention(t("transferredAnnounce", { from: from }), d.conversation_id);
}
