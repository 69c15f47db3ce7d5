/* Teams and expertise from the server's configuration (GET /api/agent/config): the close form's
 * expertise and the transfer dialog's teams; nothing of them is written in the JavaScript. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { convs } from "../state/session.js";
import { renderHeader, renderTab } from "./chat.js";
import { $, el } from "./dom.js";
import { LABELS } from "./labels.js";
import { renderQueue } from "./queue.js";

// ---- teams and expertise: one source, the routing file on the server -----------------

export let routing = null;                         // {teams: [{id, name, crisis}], expertise: [{id, name}]}
let routingAsked = 0;

export async function loadRouting() {
  const asked = ++routingAsked;
  let body = null;
  try {
    const r = await actions.loadConfig();
    if (r.status === 200) body = r.body;
  } catch (e) { body = null; }
  if (asked !== routingAsked) return;
  const named = function (x) { return x && typeof x.id === "string" && x.id && typeof x.name === "string"; };
  if (!body || !Array.isArray(body.teams) || !Array.isArray(body.expertise)) {
    if (!routing) routingStatus(t("routingFailed"));
    return;
  }
  routing = { teams: body.teams.filter(named), expertise: body.expertise.filter(named) };
  LABELS.team = {};
  routing.teams.forEach(function (x) { LABELS.team[x.id] = x.name; });
  LABELS.expertise = {};
  routing.expertise.forEach(function (x) { LABELS.expertise[x.id] = x.name; });
  renderRoutingForms();
  relabelTeams();
}
function routingStatus(text) {
  ["close-expertise-status", "transfer-team-status"].forEach(function (id) {
    $(id).textContent = text || "";
    $(id).hidden = !text;
  });
}
// The close form's expertise and the transfer dialog's teams, keeping what is ticked or chosen.
function renderRoutingForms() {
  const box = $("close-expertise");
  const ticked = new Set(Array.prototype.map.call(box.querySelectorAll("input:checked"), function (x) { return x.value; }));
  box.querySelectorAll("label.check").forEach(function (x) { x.remove(); });
  routing.expertise.forEach(function (x) {
    const lab = el("label", "check");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "expertise";
    input.value = x.id;
    input.checked = ticked.has(x.id);
    lab.appendChild(input);
    lab.appendChild(document.createTextNode(" " + x.name));
    box.appendChild(lab);
  });
  const sel = $("transfer-team"), chosen = sel.value;
  Array.prototype.slice.call(sel.options, 1).forEach(function (o) { o.remove(); });
  routing.teams.forEach(function (x) { sel.appendChild(new Option(x.name, x.id)); });
  sel.value = chosen && LABELS.team[chosen] ? chosen : "";
  routingStatus("");
}
// Team names shown before the list came: shown again with their names.
function relabelTeams() {
  Array.prototype.forEach.call($("queue").children, function (li) { li.dataset.sig = ""; });
  renderQueue();
  convs.forEach(function (c) { renderTab(c); renderHeader(c); });
}
