/* The server's configuration (GET /api/agent/config, checked by state/config.js) on screen: the
 * close form's expertise, the transfer dialog's teams, team names everywhere, the emergency number
 * in the escalate dialog; nothing of them is written in the JavaScript. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { convs } from "../state/session.js";
import { renderHeader, renderTab } from "./chat.js";
import { $, el, setText } from "./dom.js";
import { parseConfig, namesById } from "../state/config.js";
import { setTimeZone } from "../state/days.js";
import { LABELS } from "./labels.js";
import { renderQueue } from "./queue.js";

// ---- teams, expertise, phone numbers: one source, the server's configuration ---------

export let routing = null;                         // {teams: [{id, name, crisis}], expertise: [{id, name}], phone, ...}
let routingAsked = 0;

export async function loadRouting() {
  const asked = ++routingAsked;
  let body = null;
  try {
    const r = await actions.loadConfig();
    if (r.status === 200) body = r.body;
  } catch (e) { body = null; }
  if (asked !== routingAsked) return;
  const config = parseConfig(body);
  if (!config) {
    if (!routing) routingStatus(t("routingFailed"));
    return;
  }
  routing = config;
  LABELS.team = namesById(routing.teams);
  LABELS.expertise = namesById(routing.expertise);
  renderRoutingForms();
  relabelTeams();
  if (routing.timezone) setTimeZone(routing.timezone);
  renderPhoneTexts();
}

// Texts that name a phone number show the configured one (the page's HTML holds the default).
function renderPhoneTexts() {
  const desc = $("escalate-desc");
  if (!routing.phone.emergency) return;
  desc.dataset.emergency = routing.phone.emergency;
  setText(desc, t("escalateDesc", desc.dataset));
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
