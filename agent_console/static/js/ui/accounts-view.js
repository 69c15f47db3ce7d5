/* The Medewerkers view (admins only): every account with role, teams, status, second factor and
 * last login; adding an account (the server makes the first password and it is shown once, in a
 * dialog, never stored or logged here); changing role and teams; disabling and enabling;
 * a new password; resetting the second factor. Changes that lock someone out ask first in a
 * dialog. Every change goes through /api/admin/agents...; the server's Dutch error is shown. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import * as acState from "../state/accounts.js";
import { S } from "../state/session.js";
import { announce } from "./attention.js";
import { $, el, setText } from "./dom.js";
import { errorText } from "./labels.js";
import { dayClock } from "./time.js";

let rows = [];
let asked = 0;
let pending = null; // the confirmed change: {row, change}
let editing = null; // the row in the edit dialog
let returnFocus = null;

/** Whether this agent sees the view (its tab is hidden for everyone else). */
export function canSeeAccounts() { return acState.canManageAccounts(S.agent); }

export function onAccountsShown() { loadAccounts(); }

function showError(text) {
  const box = $("ac-error");
  box.textContent = text || "";
  box.hidden = !text;
}

function failure(res, fallback) {
  return res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), fallback);
}

export async function loadAccounts() {
  const mine = ++asked;
  setText($("ac-status"), t("acLoading"));
  const res = await actions.adminAgents();
  if (mine !== asked) return; // a newer question is under way
  const list = res.status === 200 ? acState.agentRows(res.body) : null;
  if (!list) {
    setText($("ac-status"), "");
    showError(failure(res, t("acLoadFailed")));
    return;
  }
  rows = list;
  render();
  setText($("ac-status"), t("acLoaded", { n: rows.length }));
}

function roleText(role) { return t("acRole_" + role); }

function render() {
  const body = $("ac-rows");
  body.textContent = "";
  rows.forEach(function (r) {
    const tr = el("tr");
    tr.dataset.username = r.username;
    if (!r.active) tr.className = "ac-inactive";
    const th = el("th", null, r.name);
    th.setAttribute("scope", "row");
    tr.appendChild(th);
    tr.appendChild(el("td", "ac-username", r.username));
    tr.appendChild(el("td", null, roleText(r.role)));
    tr.appendChild(el("td", null, r.teams.join(", ") || "—"));
    tr.appendChild(el("td", "ac-active", r.active ? t("acActive") : t("acInactive")));
    tr.appendChild(el("td", null, r.secondFactor ? t("acYes") : t("acNo")));
    tr.appendChild(el("td", null, r.lastLogin ? dayClock(r.lastLogin) : t("acNever")));
    const td = el("td", "ac-actions");
    acState.changesFor(r, S.agent).forEach(function (change) {
      const b = el("button", "btn btn-small " + (change === "disable" ? "btn-danger" : "btn-outline"), t("acDo_" + change));
      b.type = "button";
      b.dataset.change = change;
      // The row's name in the button's accessible name: "Uitzetten: Anna de Vries".
      b.setAttribute("aria-label", t("acDo_" + change) + ": " + r.name);
      b.addEventListener("click", function () { start(r, change, b); });
      td.appendChild(b);
    });
    tr.appendChild(td);
    body.appendChild(tr);
  });
  $("ac-table").hidden = !rows.length;
}

function start(row, change, button) {
  showError("");
  returnFocus = button;
  if (change === "edit") { openEdit(row); return; }
  if (acState.needsConfirm(change)) {
    pending = { row, change };
    $("ac-confirm-title").textContent = t("acConfirmTitle_" + change, { name: row.name });
    $("ac-confirm-text").textContent = t("acConfirmText_" + change, { name: row.name });
    $("ac-confirm-ok").textContent = t("acDo_" + change);
    $("ac-confirm-dialog").showModal();
    $("ac-confirm-cancel").focus();
    return;
  }
  run(row, change);
}

async function run(row, change) {
  const req = acState.changeRequest(row.username, change);
  if (!req) return;
  const res = await actions.changeAgent(req);
  if (res.status !== 200) {
    showError(failure(res, t("acChangeFailed")));
    restoreFocus();
    return;
  }
  if (res.body && typeof res.body.password === "string") showPassword(row.name, res.body.password);
  announce(t("acDone_" + change, { name: row.name }));
  await loadAccounts();
  if (!$("ac-password-dialog").open) restoreFocus();
}

function restoreFocus() {
  // The row was drawn again: focus the same change of the same person, else the table.
  const username = returnFocus && returnFocus.closest("tr") ? returnFocus.closest("tr").dataset.username : null;
  const change = returnFocus ? returnFocus.dataset.change : null;
  const tr = Array.prototype.find.call($("ac-rows").children, function (x) { return x.dataset.username === username; });
  const again = tr && (tr.querySelector('[data-change="' + change + '"]') || tr.querySelector("button"));
  (again || $("ac-title")).focus();
}

function showPassword(name, password) {
  $("ac-password-text").textContent = t("acPasswordFor", { name });
  $("ac-password-value").textContent = password;
  $("ac-password-dialog").showModal();
  $("ac-password-done").focus();
}

function openEdit(row) {
  editing = row;
  $("ac-edit-title").textContent = t("acEditTitle", { name: row.name });
  const role = $("ac-edit-role");
  role.value = row.role;
  role.disabled = !acState.roleEditable(row, S.agent);
  $("ac-edit-self").hidden = !role.disabled;
  $("ac-edit-teams").value = row.teams.join(", ");
  $("ac-edit-teams").removeAttribute("aria-invalid");
  $("ac-edit-error").hidden = true;
  $("ac-edit-dialog").showModal();
  (role.disabled ? $("ac-edit-teams") : role).focus();
}

async function saveEdit(e) {
  e.preventDefault();
  if (!editing) return;
  const row = editing;
  const reqs = acState.editRequests(row, $("ac-edit-role").value, $("ac-edit-teams").value);
  const box = $("ac-edit-error");
  if (reqs === null) {
    box.textContent = t("acBadTeams");
    box.hidden = false;
    $("ac-edit-teams").setAttribute("aria-invalid", "true");
    $("ac-edit-teams").focus();
    return;
  }
  for (const req of reqs) {
    const res = await actions.changeAgent(req);
    if (res.status !== 200) {
      box.textContent = failure(res, t("acChangeFailed"));
      box.hidden = false;
      await loadAccounts();
      return;
    }
  }
  editing = null;
  $("ac-edit-dialog").close();
  if (reqs.length) announce(t("acDone_edit", { name: row.name }));
  await loadAccounts();
  restoreFocus();
}

async function add(e) {
  e.preventDefault();
  const form = $("ac-add-form");
  const fields = { username: $("ac-add-username"), name: $("ac-add-name"), role: $("ac-add-role"), teams: $("ac-add-teams") };
  const checked = acState.newAgent({
    username: fields.username.value, name: fields.name.value, role: fields.role.value, teams: fields.teams.value,
  });
  Object.keys(fields).forEach(function (k) { fields[k].removeAttribute("aria-invalid"); });
  const box = $("ac-add-error");
  if (!checked.ok) {
    const wrong = Object.keys(checked.errors);
    wrong.forEach(function (k) { fields[k].setAttribute("aria-invalid", "true"); });
    box.textContent = wrong.map(function (k) { return t(checked.errors[k]); }).join(" ");
    box.hidden = false;
    fields[wrong[0]].focus();
    return;
  }
  const res = await actions.addAgent(checked.body);
  if (res.status !== 201) {
    box.textContent = failure(res, t("acAddFailed"));
    box.hidden = false;
    return;
  }
  box.hidden = true;
  form.reset();
  returnFocus = fields.username;
  announce(t("acAdded", { name: checked.body.name }));
  await loadAccounts();
  showPassword(checked.body.name, res.body.password);
}

$("ac-add-form").addEventListener("submit", add);
$("ac-edit-form").addEventListener("submit", saveEdit);
$("ac-edit-cancel").addEventListener("click", function () { editing = null; $("ac-edit-dialog").close(); restoreFocus(); });
$("ac-confirm-cancel").addEventListener("click", function () { pending = null; $("ac-confirm-dialog").close(); restoreFocus(); });
$("ac-confirm-form").addEventListener("submit", function (e) {
  e.preventDefault();
  const p = pending;
  pending = null;
  $("ac-confirm-dialog").close();
  if (p) run(p.row, p.change);
});
$("ac-password-done").addEventListener("click", function () {
  // The password leaves the page: only the admin saw it.
  $("ac-password-value").textContent = "";
  $("ac-password-dialog").close();
  if (returnFocus && document.contains(returnFocus)) returnFocus.focus();
  else restoreFocus();
});
$("ac-password-dialog").addEventListener("cancel", function () { $("ac-password-value").textContent = ""; });
$("ac-refresh").addEventListener("click", loadAccounts);
