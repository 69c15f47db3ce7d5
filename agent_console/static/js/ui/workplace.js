/* The workplace (issue 17): the advisor's status in the top bar (beschikbaar, pauze, nawerk with
 * its countdown and "Nawerk beëindigen", offline); for supervisors the Overzicht tab (the live
 * board: conversations, agents, teams, open crises, overdue callbacks; filtered by team), from
 * which "Meelezen" opens a conversation read-only; whispers in the log of the holder. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import * as wp from "../state/workplace.js";
import { addNote, asNote } from "../state/conversations.js";
import { S, convs } from "../state/session.js";
import { announce, attention } from "./attention.js";
import { canRoster } from "./callbacks.js";
import { renderHeader, renderLog, setBanner } from "./chat.js";
import { $, el, setText } from "./dom.js";
import { errorText, label } from "./labels.js";
import { showNotice } from "./notice.js";
import { clock } from "./time.js";
import { openReadAlong } from "./takeover.js";
import { currentView } from "./views.js";

// ---- my status -------------------------------------------------------------------------

let myStatus = null;
let statusTimer = null;

function statusName(s) { return t("status_" + s); }

export function onAgentStatus(d) {
  if (!d || !S.agent || (d.agent_id && d.agent_id !== S.agent.id)) return;
  const before = myStatus && wp.effectiveStatus(myStatus, Date.now()).status;
  myStatus = { status: d.status, since: d.since, until: d.until };
  renderStatus();
  const now = wp.effectiveStatus(myStatus, Date.now()).status;
  if (before && before !== now) {
    const said = d.by && d.by.name ? t("statusSetBy", { status: statusName(now), name: d.by.name }) : t("statusNow", { status: statusName(now) });
    announce(said);
    if (d.by && d.by.name) showNotice(said, 8000);
  }
}

/** The `status` of the `sync` answer (after a reconnect). */
export function applyStatus(s) { if (s && S.agent) onAgentStatus(Object.assign({ agent_id: S.agent.id }, s)); }

function renderStatus() {
  clearInterval(statusTimer);
  statusTimer = null;
  const s = wp.effectiveStatus(myStatus, Date.now());
  $("status-select").value = s.status;
  const left = wp.nawerkLeft(myStatus, Date.now());
  $("nawerk-left").hidden = !left;
  $("nawerk-end").hidden = !left;
  if (left) {
    $("nawerk-left").textContent = t("nawerkLeft", { time: wp.duration(left) });
    statusTimer = setInterval(function () {
      const rest = wp.nawerkLeft(myStatus, Date.now());
      if (!rest) { renderStatus(); announce(t("statusNow", { status: statusName("beschikbaar") })); return; }
      $("nawerk-left").textContent = t("nawerkLeft", { time: wp.duration(rest) });
    }, 1000);
  }
}

async function chooseStatus(status, agentId) {
  let res;
  const data = agentId ? { status: status, agent_id: agentId } : { status: status };
  try { res = await actions.setStatus(data); } catch (e) { showNotice(t("offline")); if (!agentId) renderStatus(); return null; }
  const err = actions.errorOf(res);
  if (err) { showNotice(errorText(err)); if (!agentId) renderStatus(); return null; }
  if (!agentId) onAgentStatus(Object.assign({ agent_id: S.agent.id }, res));
  return res;
}

$("status-select").addEventListener("change", function (e) { chooseStatus(e.target.value); });
$("nawerk-end").addEventListener("click", function () {
  chooseStatus("beschikbaar").then(function (res) { if (res) $("status-select").focus(); });
});

// ---- the board (supervisors and admins) ------------------------------------------------------

let board = null;
let boardTimer = null;

/** Whether this agent sees the Overzicht tab. */
export function canSeeBoard() { return canRoster(); }

export function onBoard(d) {
  if (!wp.newerBoard(board, d)) return;
  board = d;
  if (currentView === "board") renderBoard();
}

export async function onBoardShown() {
  if (!boardTimer) boardTimer = setInterval(tickTimes, 1000);
  if (board) renderBoard();
  setText($("bd-status"), t("rkLoading"));
  let res;
  try { res = await actions.board(); } catch (e) { showBoardError(t("offline")); return; }
  const err = actions.errorOf(res);
  if (err) { showBoardError(errorText(err)); return; }
  showBoardError("");
  board = null;
  onBoard(res);
}

export function onBoardHidden() { clearInterval(boardTimer); boardTimer = null; }

function showBoardError(text) {
  const box = $("bd-error");
  box.textContent = text || "";
  box.hidden = !text;
  if (text) setText($("bd-status"), "");
}

function since(iso) {
  const span = el("span", "bd-time", wp.duration(wp.secondsSince(iso, Date.now())));
  if (iso) span.dataset.since = iso;
  return span;
}

function tickTimes() {
  if (currentView !== "board") return;
  $("board-view").querySelectorAll(".bd-time[data-since]").forEach(function (x) {
    x.textContent = wp.duration(wp.secondsSince(x.dataset.since, Date.now()));
  });
}

function cell(tr, content, cls) {
  const td = el("td", cls);
  if (content instanceof Node) td.appendChild(content); else td.textContent = content === null || content === undefined ? "—" : String(content);
  tr.appendChild(td);
  return td;
}

function fillTeams(select) {
  const chosen = select.value;
  const names = wp.boardTeamNames(board);
  const have = Array.prototype.slice.call(select.options, 1).map(function (o) { return o.value; });
  if (have.join() === names.join()) return;
  while (select.options.length > 1) select.remove(1);
  names.forEach(function (n) { const o = el("option", null, label("team", n)); o.value = n; select.appendChild(o); });
  select.value = names.indexOf(chosen) >= 0 ? chosen : "";
}

function renderBoard() {
  if (!board) return;
  // Re-rendering must not take the keyboard focus away: the focused control is found again by its key.
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : null;
  fillTeams($("bd-team"));
  const team = $("bd-team").value;
  const now = Date.now();

  const crisesBody = $("bd-crises");
  crisesBody.textContent = "";
  const open = wp.boardCrises(board, team);
  open.forEach(function (c) {
    const tr = el("tr");
    cell(tr, label("team", c.team));
    cell(tr, c.holder ? c.holder.name : t("bdNobody"));
    cell(tr, since(c.crisis.escalated_at));
    cell(tr, c.crisis.round);
    crisesBody.appendChild(tr);
  });
  if (!open.length) { const tr = el("tr"); const td = cell(tr, t("bdNoCrises")); td.colSpan = 4; crisesBody.appendChild(tr); }

  const convBody = $("bd-conversations");
  convBody.textContent = "";
  const rows = wp.boardConversations(board, team);
  rows.forEach(function (c) {
    const tr = el("tr");
    cell(tr, label("team", c.team));
    cell(tr, c.status === "waiting" ? t("bdWaitingState") : t("bdTalking"));
    cell(tr, c.holder ? c.holder.name : "—");
    cell(tr, since(c.status === "waiting" ? c.waiting_since : c.accepted_at));
    cell(tr, c.risk ? t("bdRisk_" + c.risk) : "—");
    let crisis = "—";
    if (c.crisis && c.crisis.ended_at) crisis = t("bdCrisisEnded");
    else if (c.crisis && c.crisis.acknowledged_at) crisis = t("bdCrisisAcked", { name: c.crisis.acknowledged_by || "", time: clock(c.crisis.acknowledged_at) });
    else if (c.crisis) crisis = t("bdCrisisOpen", { time: clock(c.crisis.escalated_at) });
    cell(tr, crisis);
    cell(tr, c.visitor_present ? t("bdPresent") : t("bdGone"));
    const actionsCell = cell(tr, "");
    if (c.status === "active" && (!convs.has(c.id) || !convs.get(c.id).readOnly)) {
      const b = el("button", "btn btn-outline btn-small", t("bdReadAlong"));
      b.type = "button";
      b.dataset.focusKey = "read:" + c.id;
      b.setAttribute("aria-label", t("bdReadAlongLabel", { team: label("team", c.team), name: c.holder ? c.holder.name : "" }));
      b.addEventListener("click", function () { readAlong(c.id, b); });
      actionsCell.appendChild(b);
    }
    convBody.appendChild(tr);
  });
  if (!rows.length) { const tr = el("tr"); const td = cell(tr, t("bdNoConversations")); td.colSpan = 8; convBody.appendChild(tr); }

  const agentBody = $("bd-agents");
  agentBody.textContent = "";
  wp.boardAgents(board, team, now).forEach(function (a) {
    const tr = el("tr");
    const th = el("th", null, a.name);
    th.setAttribute("scope", "row");
    tr.appendChild(th);
    cell(tr, (a.teams || []).map(function (x) { return label("team", x); }).join(", ") || "—");
    cell(tr, statusName(a.status) + (a.status === "nawerk" && a.until ? " (" + t("nawerkUntil", { time: clock(a.until) }) + ")" : ""));
    cell(tr, a.since ? since(a.since) : "—");
    cell(tr, a.load + " / " + a.limit, "num");
    const actionsCell = cell(tr, "");
    if (a.online && a.id !== (S.agent && S.agent.id)) {
      const sel = el("select", "status-select");
      sel.dataset.focusKey = "status:" + a.id;
      sel.setAttribute("aria-label", t("bdSetStatusOf", { name: a.name }));
      wp.STATUSES.forEach(function (s) { const o = el("option", null, statusName(s)); o.value = s; sel.appendChild(o); });
      sel.value = a.status;
      sel.addEventListener("change", function () {
        chooseStatus(sel.value, a.id).then(function (res) { if (res) announce(t("statusSetFor", { name: a.name, status: statusName(res.status) })); });
      });
      actionsCell.appendChild(sel);
    }
    agentBody.appendChild(tr);
  });

  const teamBody = $("bd-teams");
  teamBody.textContent = "";
  wp.boardTeams(board, team).forEach(function (x) {
    const tr = el("tr");
    const th = el("th", null, label("team", x.team));
    th.setAttribute("scope", "row");
    tr.appendChild(th);
    cell(tr, x.waiting, "num");
    cell(tr, x.oldest_waiting_since ? since(x.oldest_waiting_since) : "—");
    cell(tr, x.available, "num");
    teamBody.appendChild(tr);
  });

  const cb = board.callbacks || { overdue: 0 };
  $("bd-callbacks").textContent = cb.overdue
    ? t("bdCallbacksOverdue", { n: cb.overdue, time: clock(cb.oldest_due) })
    : t("bdCallbacksNone");
  setText($("bd-status"), t("bdUpdated", { time: clock(board.at) }));
  if (focused) {
    const again = $("board-view").querySelector('[data-focus-key="' + focused.replace(/"/g, "") + '"]');
    if (again) again.focus();
  }
}

$("bd-team").addEventListener("change", renderBoard);

async function readAlong(conversationId, button) {
  button.disabled = true;
  let res;
  try { res = await actions.readAlong({ conversation_id: conversationId, reason: "supervisie" }); } catch (e) { button.disabled = false; showNotice(t("offline")); return; }
  const err = actions.errorOf(res);
  if (err) { button.disabled = false; showNotice(errorText(err)); return; }
  openReadAlong(res.conversation);
}

// ---- whispers and readers ----------------------------------------------------------------

/** A supervisor's whisper to this holder: in the log among the notes, and announced. */
export function onWhisper(d) {
  const c = d && convs.get(d.conversation_id);
  if (!c) return;
  if (addNote(c, asNote(d))) {
    renderLog(c);
    attention(t("whisperFrom", { name: (d.from && d.from.name) || "" }), c.id);
    announce(t("whisperFrom", { name: (d.from && d.from.name) || "" }) + ": " + d.text);
  }
}

export function onReadAlongStopped(d) {
  const c = d && convs.get(d.conversation_id);
  if (!c || c.readOnly) return;
  if (c.readers) c.readers.delete(d.by);
  renderHeader(c);
  setBanner(c, t("readerLeft", { name: d.by_name || t("byColleague") }));
}

/** Sends the whisper typed in a read-only pane. */
export async function sendWhisper(c) {
  const box = c.panel.querySelector(".whisper-box");
  const ta = box.querySelector(".whisper-text");
  const error = box.querySelector(".whisper-error");
  const text = ta.value;
  if (!text.trim()) return;
  error.hidden = true;
  let res;
  try { res = await actions.whisper({ conversation_id: c.id, text: text }); } catch (e) { error.textContent = t("offline"); error.hidden = false; return; }
  const err = actions.errorOf(res);
  if (err) { error.textContent = errorText(err); error.hidden = false; return; }
  ta.value = "";
  addNote(c, asNote({ id: res.id, text: text, at: res.at, from: { name: S.agent ? S.agent.name : "" } }));
  renderLog(c);
  announce(t("whisperSent"));
}
