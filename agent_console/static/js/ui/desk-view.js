/* The Beheer view (supervisors and admins): the ready texts (list, add, change, delete; the
 * default safety texts are marked and may be changed too) and the visitor blocks in force
 * (conversation, reason, by whom, until when; "Opheffen" lifts one). No hash or address is ever
 * shown: the server sends none. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { PLACEHOLDERS, readyTextBody } from "../state/ready-texts.js";
import { canRoster } from "./callbacks.js";
import { announce } from "./attention.js";
import { $, el, setText } from "./dom.js";
import { LABELS, errorText, label } from "./labels.js";
import { dayClock } from "./time.js";

let editingId = null;
// The version of the text being changed: a colleague's change since is refused (409), not overwritten.
let editingVersion = null;
let texts = [];

/** Whether this agent sees the view (its tab is hidden for everyone else). */
export function canSeeDesk() { return canRoster(); }

export function onDeskShown() {
  fillTeams();
  loadTexts();
  loadBlocks();
}

function showError(id, text) {
  $(id).textContent = text || "";
  $(id).hidden = !text;
}

function fillTeams() {
  const select = $("rtf-team");
  const chosen = select.value;
  select.textContent = "";
  const shared = el("option", null, t("rtShared"));
  shared.value = "";
  select.appendChild(shared);
  Object.keys(LABELS.team || {}).forEach(function (id) {
    const o = el("option", null, label("team", id));
    o.value = id;
    select.appendChild(o);
  });
  select.value = chosen;
}

// ---- ready texts -------------------------------------------------------------------------

/** `keepError`: leave a shown error standing (a conflict's message must stay readable). */
async function loadTexts(keepError) {
  setText($("rtm-status"), t("rkLoading"));
  const res = await actions.allReadyTexts();
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.texts)) {
    setText($("rtm-status"), "");
    showError("rtm-error", res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("rtLoadFailed")));
    return;
  }
  if (!keepError) showError("rtm-error", "");
  texts = res.body.texts;
  const body = $("rtm-rows");
  body.textContent = "";
  texts.forEach(function (x) {
    const tr = el("tr");
    const th = el("th", null, x.title);
    th.setAttribute("scope", "row");
    if (x.default) th.appendChild(el("span", "chip rt-default", t("rtDefault")));
    tr.appendChild(th);
    tr.appendChild(el("td", null, "/" + x.shortcut));
    tr.appendChild(el("td", null, x.team ? label("team", x.team) : t("rtShared")));
    tr.appendChild(el("td", null, x.lang.toUpperCase()));
    tr.appendChild(el("td", "rtm-text", x.text));
    const actionsCell = el("td", "rtm-actions");
    const edit = el("button", "btn btn-outline btn-small", t("rtEdit"));
    edit.type = "button";
    edit.setAttribute("aria-label", t("rtEditOne", { title: x.title }));
    edit.addEventListener("click", function () { startEdit(x); });
    const del = el("button", "btn btn-ghost btn-small", t("rtDelete"));
    del.type = "button";
    del.setAttribute("aria-label", t("rtDeleteOne", { title: x.title }));
    del.addEventListener("click", function () { remove(x); });
    actionsCell.appendChild(edit);
    actionsCell.appendChild(del);
    tr.appendChild(actionsCell);
    body.appendChild(tr);
  });
  setText($("rtm-status"), t("rtCount", { n: texts.length }));
}

function startEdit(x) {
  editingId = x.id;
  editingVersion = x.version;
  fillTeams();
  $("rtf-team").value = x.team || "";
  $("rtf-lang").value = x.lang;
  $("rtf-title").value = x.title;
  $("rtf-shortcut").value = x.shortcut;
  $("rtf-text").value = x.text;
  setText($("rtf-heading"), t("rtEditing", { title: x.title }));
  $("rtf-cancel").hidden = false;
  showError("rtf-error", "");
  $("rtf-title").focus();
}

function stopEdit() {
  editingId = null;
  editingVersion = null;
  $("rtf-form").reset();
  setText($("rtf-heading"), t("rtNew"));
  $("rtf-cancel").hidden = true;
  showError("rtf-error", "");
}

async function remove(x) {
  if (!window.confirm(t("rtDeleteConfirm", { title: x.title }))) return;
  const res = await actions.deleteReadyText(x.id, x.version);
  if (res.status !== 200) {
    showError("rtm-error", errorText(actions.apiError(res), t("rtSaveFailed")));
    if (res.status === 409 || res.status === 404) await loadTexts(true); // show it as it is now
    return;
  }
  if (editingId === x.id) stopEdit();
  announce(t("rtDeleted", { title: x.title }));
  await loadTexts();
  $("rtm-title").focus();
}

const FIELD_OF = { title: "rtf-title", shortcut: "rtf-shortcut", text: "rtf-text", placeholder: "rtf-text", lang: "rtf-lang", team: "rtf-team" };

$("rtf-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const checked = readyTextBody({
    team: $("rtf-team").value, lang: $("rtf-lang").value, title: $("rtf-title").value,
    shortcut: $("rtf-shortcut").value, text: $("rtf-text").value,
  });
  Object.values(FIELD_OF).forEach(function (id) { $(id).removeAttribute("aria-invalid"); });
  if (checked.error) {
    const message = checked.error === "placeholder"
      ? t("rtUnknownPlaceholder", { name: checked.placeholder, known: PLACEHOLDERS.map(function (p) { return "{" + p + "}"; }).join(", ") })
      : t("rtBad_" + checked.error);
    showError("rtf-error", message);
    $(FIELD_OF[checked.error]).setAttribute("aria-invalid", "true");
    $(FIELD_OF[checked.error]).focus();
    return;
  }
  $("rtf-save").disabled = true;
  const res = editingId
    ? await actions.updateReadyText(editingId, checked.body, editingVersion)
    : await actions.createReadyText(checked.body);
  $("rtf-save").disabled = false;
  if (res.status !== 200 && res.status !== 201) {
    showError("rtf-error", res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("rtSaveFailed")));
    if (res.status === 409) {
      // A colleague changed it: the list shows their text; the draft stays in the form, and a
      // second save is a choice made on what is there now.
      await loadTexts(true);
      const now = texts.find(function (x) { return x.id === editingId; });
      if (now) editingVersion = now.version;
    }
    return;
  }
  announce(t("rtSaved", { title: checked.body.title }));
  stopEdit();
  await loadTexts();
});
$("rtf-cancel").addEventListener("click", stopEdit);

// ---- blocks ------------------------------------------------------------------------------

export async function loadBlocks() {
  setText($("bl-status"), t("rkLoading"));
  const res = await actions.blocks();
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.blocks)) {
    setText($("bl-status"), "");
    showError("bl-error", res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("blLoadFailed")));
    return;
  }
  showError("bl-error", "");
  const rows = res.body.blocks;
  const body = $("bl-rows");
  body.textContent = "";
  rows.forEach(function (b) {
    const tr = el("tr");
    const th = el("th", null, t("blConversation", { id: String(b.conversation_id).slice(0, 8) }));
    th.setAttribute("scope", "row");
    tr.appendChild(th);
    tr.appendChild(el("td", null, b.reason || "—"));
    tr.appendChild(el("td", null, b.by_name || b.by));
    tr.appendChild(el("td", null, dayClock(b.until) + (b.whole_address ? " · " + t("blWholeAddress") : "")));
    const cell = el("td");
    const lift = el("button", "btn btn-outline btn-small", t("blLift"));
    lift.type = "button";
    lift.setAttribute("aria-label", t("blLiftOne", { id: String(b.conversation_id).slice(0, 8) }));
    lift.addEventListener("click", async function () {
      lift.disabled = true;
      const r = await actions.liftBlock(b.id);
      if (r.status !== 200) { lift.disabled = false; showError("bl-error", errorText(actions.apiError(r), t("blLiftFailed"))); return; }
      announce(t("blLifted"));
      await loadBlocks();
      $("bl-title").focus();
    });
    cell.appendChild(lift);
    tr.appendChild(cell);
    body.appendChild(tr);
  });
  $("bl-table").hidden = !rows.length;
  $("bl-empty").hidden = rows.length > 0;
  setText($("bl-status"), t("blCount", { n: rows.length }));
}
$("bl-refresh").addEventListener("click", loadBlocks);
