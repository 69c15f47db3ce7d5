/* The Openingstijden view (supervisors and admins): per team the state now and today's hours,
 * the week pattern (one field per weekday, editable), the exceptions (add, delete) and "Nu
 * sluiten tot…" for an incident (GET/PUT/POST/DELETE /api/supervisor/hours/...). Every change
 * is checked here first (state/hours.js) and again by the server, whose Dutch message is shown. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { localDay } from "../state/days.js";
import {
  DAYS, REASONS, REASON_TEXT_MAX, clock, closeNowBody, dayLine, exceptionBody, patternBody, stateWords, weekSummary
} from "../state/hours.js";
import { canRoster } from "./callbacks.js";
import { announce } from "./attention.js";
import { $, el, setText } from "./dom.js";
import { errorText } from "./labels.js";

let asked = 0;

export function canSeeHours() { return canRoster(); }

export function onHoursShown() { loadHours(); }

function showError(box, text) {
  box.textContent = text || "";
  box.hidden = !text;
}

function field(id, label, input) {
  const wrap = el("div", "oh-field");
  const l = el("label", null, label);
  l.htmlFor = id;
  input.id = id;
  wrap.appendChild(l);
  wrap.appendChild(input);
  return wrap;
}

function input(type, value) {
  const i = el("input");
  i.type = type;
  if (value !== undefined) i.value = value;
  return i;
}

function reasonSelect(withNone) {
  const s = el("select");
  if (withNone) s.appendChild(new Option(t("ohReasonNone"), ""));
  REASONS.forEach((r) => s.appendChild(new Option(t("ohReason_" + r), r)));
  return s;
}

function button(text, cls, type) {
  const b = el("button", "btn " + (cls || "btn-outline") + " btn-small", text);
  b.type = type || "submit";
  return b;
}

function dayRange(s) {
  return s.from === s.to ? t("ohDay_" + s.from) : t("ohDay_" + s.from) + "–" + t("ohDay_" + s.to);
}

function describe(e) {
  const from = e.starts_at.slice(0, 10) + " " + clock(e.starts_at);
  const to = e.ends_at.slice(0, 10) + " " + clock(e.ends_at);
  const kind = e.open ? t("ohExtraOpen") : t("ohClosed");
  const why = e.reason ? " — " + (e.reason === "other" ? e.reason_text : t("ohReason_" + e.reason)) : "";
  return t("ohExceptionLine", { kind, from, to }) + why;
}

async function change(section, res, done) {
  const box = section.querySelector(".oh-error");
  if (res.status >= 200 && res.status < 300) {
    showError(box, "");
    announce(done);
    await loadHours(section.dataset.team);
    return true;
  }
  showError(box, res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("ohSaveFailed")));
  const err = actions.apiError(res);
  if (err && err.code === "conflict") {
    // A colleague changed this team's week meanwhile: saving would have undone their change
    // unseen. Show the hours as they are now, with the server's message above them; this
    // supervisor decides again on what is really there.
    await loadHours(section.dataset.team);
    const fresh = document.querySelector('.oh-team[data-team="' + CSS.escape(section.dataset.team) + '"] .oh-error');
    if (fresh) showError(fresh, errorText(err, t("ohSaveFailed")));
  }
  return false;
}

function renderTeam(team, today) {
  const code = team.team;
  const id = (s) => "oh-" + code + "-" + s;
  const section = el("section", "oh-team");
  section.dataset.team = code;
  section.setAttribute("aria-labelledby", id("title"));
  const h = el("h2", "oh-team-title", team.name);
  h.id = id("title");
  section.appendChild(h);

  const words = stateWords(team.now, today);
  const state = el("p", "oh-state " + (team.now && team.now.open ? "oh-open" : "oh-closed"), t(words.key, words.vars));
  if (words.reason) state.appendChild(el("span", "oh-reason", " — " + (document.documentElement.lang === "en" ? words.reason.en : words.reason.nl)));
  section.appendChild(state);
  const todayText = team.today.length
    ? team.today.map((r) => clock(r.opens) + "–" + (clock(r.closes) === "00:00" ? "24:00" : clock(r.closes))).join(", ")
    : t("ohTodayClosed");
  section.appendChild(el("p", "muted small", t("ohToday", { hours: todayText })));
  const summary = weekSummary(team.pattern).map((s) => dayRange(s) + " " + s.hours).join("; ") || t("ohNeverOpen");
  section.appendChild(el("p", "muted small", (team.own_pattern ? t("ohOwnPattern") : t("ohDefaultPattern")) + " " + summary));

  const error = el("p", "form-error oh-error");
  error.setAttribute("role", "alert");
  error.hidden = true;

  // Week pattern.
  const pattern = el("form", "oh-pattern");
  pattern.noValidate = true;
  const fs = el("fieldset");
  fs.appendChild(el("legend", null, t("ohPatternLegend")));
  fs.appendChild(el("p", "muted small", t("ohPatternHelp")));
  const inputs = {};
  DAYS.forEach((d) => {
    inputs[d] = input("text", dayLine(team.pattern.days[d]));
    inputs[d].autocomplete = "off";
    inputs[d].setAttribute("aria-describedby", id("error"));
    fs.appendChild(field(id("day-" + d), t("ohDay_" + d), inputs[d]));
  });
  const holidays = input("checkbox");
  holidays.checked = team.pattern.closed_on_holidays !== false;
  const hw = el("div", "oh-check");
  hw.appendChild(holidays);
  const hl = el("label", null, t("ohHolidaysClosed"));
  holidays.id = id("holidays");
  hl.htmlFor = holidays.id;
  hw.appendChild(hl);
  fs.appendChild(hw);
  const actionsRow = el("div", "oh-actions");
  actionsRow.appendChild(button(t("ohSavePattern"), "btn-primary"));
  if (team.own_pattern) {
    const reset = button(t("ohResetPattern"), "btn-ghost", "button");
    reset.addEventListener("click", async () => {
      await change(section, await actions.resetHoursPattern(code, team.pattern_version), t("ohResetDone", { team: team.name }));
    });
    actionsRow.appendChild(reset);
  }
  fs.appendChild(actionsRow);
  pattern.appendChild(fs);
  pattern.addEventListener("submit", async (e) => {
    e.preventDefault();
    const lines = {};
    DAYS.forEach((d) => { lines[d] = inputs[d].value; });
    const made = patternBody(lines, holidays.checked);
    DAYS.forEach((d) => inputs[d].removeAttribute("aria-invalid"));
    if (made.problems) {
      const p = made.problems[0];
      if (inputs[p.day]) { inputs[p.day].setAttribute("aria-invalid", "true"); inputs[p.day].focus(); }
      showError(error, t("ohDay_" + p.day) + ": " + t(p.key, p.vars));
      return;
    }
    await change(section, await actions.saveHoursPattern(code, made.body, team.pattern_version), t("ohSaved", { team: team.name }));
  });
  section.appendChild(pattern);

  // "Nu sluiten tot…"
  const close = el("form", "oh-close");
  close.noValidate = true;
  const cfs = el("fieldset");
  cfs.appendChild(el("legend", null, t("ohCloseLegend")));
  const until = input("time");
  const closeReason = reasonSelect(true);
  const closeText = input("text");
  closeText.maxLength = REASON_TEXT_MAX;
  cfs.appendChild(field(id("until"), t("ohUntil"), until));
  cfs.appendChild(field(id("close-reason"), t("ohReasonLabel"), closeReason));
  cfs.appendChild(field(id("close-text"), t("ohReasonText"), closeText));
  cfs.appendChild(button(t("ohCloseNow"), "btn-danger"));
  close.appendChild(cfs);
  close.addEventListener("submit", async (e) => {
    e.preventDefault();
    const now = new Date();
    const nowClock = new Intl.DateTimeFormat("nl-NL", { timeZone: "Europe/Amsterdam", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(now);
    const made = closeNowBody({ until: until.value, reason: closeReason.value, reasonText: closeText.value }, today, nowClock);
    if (made.error) { showError(error, t(made.error)); until.focus(); return; }
    await change(section, await actions.closeHoursNow(code, made.body), t("ohClosedDone", { team: team.name, time: until.value }));
  });
  section.appendChild(close);

  // Exceptions.
  section.appendChild(el("h3", "oh-sub", t("ohExceptions")));
  const list = el("ul", "oh-exceptions");
  team.exceptions.forEach((x) => {
    const li = el("li", null, describe(x) + " ");
    const del = button(t("ohDelete"), "btn-ghost", "button");
    del.setAttribute("aria-label", t("ohDeleteLabel", { what: describe(x) }));
    del.addEventListener("click", async () => {
      await change(section, await actions.deleteHoursException(code, x.id), t("ohDeleted"));
    });
    li.appendChild(del);
    list.appendChild(li);
  });
  if (!team.exceptions.length) list.appendChild(el("li", "muted", t("ohNoExceptions")));
  section.appendChild(list);

  const add = el("form", "oh-add");
  add.noValidate = true;
  const afs = el("fieldset");
  afs.appendChild(el("legend", null, t("ohAddLegend")));
  const kind = el("select");
  kind.appendChild(new Option(t("ohClosed"), "closed"));
  kind.appendChild(new Option(t("ohExtraOpen"), "open"));
  const fromDate = input("date", today), fromTime = input("time"), toDate = input("date"), toTime = input("time");
  const reason = reasonSelect(true), reasonText = input("text");
  reasonText.maxLength = REASON_TEXT_MAX;
  afs.appendChild(field(id("kind"), t("ohKind"), kind));
  afs.appendChild(field(id("from-date"), t("ohFromDate"), fromDate));
  afs.appendChild(field(id("from-time"), t("ohFromTime"), fromTime));
  afs.appendChild(field(id("to-date"), t("ohToDate"), toDate));
  afs.appendChild(field(id("to-time"), t("ohToTime"), toTime));
  afs.appendChild(field(id("reason"), t("ohReasonLabel"), reason));
  afs.appendChild(field(id("reason-text"), t("ohReasonText"), reasonText));
  afs.appendChild(button(t("ohAdd")));
  add.appendChild(afs);
  add.addEventListener("submit", async (e) => {
    e.preventDefault();
    const made = exceptionBody({
      fromDate: fromDate.value, toDate: toDate.value, fromTime: fromTime.value, toTime: toTime.value,
      open: kind.value === "open", reason: reason.value, reasonText: reasonText.value,
    });
    if (made.error) { showError(error, t(made.error)); fromDate.focus(); return; }
    await change(section, await actions.addHoursException(code, made.body), t("ohAdded"));
  });
  section.appendChild(add);
  error.id = id("error");
  section.appendChild(error);
  return section;
}

export async function loadHours(focusTeam) {
  const mine = ++asked;
  const status = $("oh-status");
  setText(status, t("rkLoading"));
  const res = await actions.hoursOverview();
  if (mine !== asked) return;
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.teams)) {
    setText(status, "");
    showError($("oh-load-error"), res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("ohLoadFailed")));
    return;
  }
  showError($("oh-load-error"), "");
  const today = localDay(new Date().toISOString());
  const box = $("oh-teams");
  box.textContent = "";
  res.body.teams.forEach((team) => box.appendChild(renderTeam(team, today)));
  setText(status, t("ohLoaded", { time: new Date().toTimeString().slice(0, 5) }));
  if (focusTeam) {
    const h = $("oh-" + focusTeam + "-title");
    if (h) { h.tabIndex = -1; h.focus(); }
  }
}
