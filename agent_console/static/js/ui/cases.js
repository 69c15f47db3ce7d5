/* The cases view (Dossiers): the built-in case register by deadline, filtered, read again when
 * the view opens and on Vernieuwen. "Today" is the server's. Text only, never HTML. */
import { has as hasText, LANG, t } from "../i18n/index.js";
import { casesQuery, newCasesState } from "../state/cases.js";
import { relativeDay, validDay } from "../state/days.js";
import * as actions from "../actions.js";
import { S } from "../state/session.js";
import { canRoster, longDay, stamp } from "./callbacks.js";
import { $, el, setBadge, setText } from "./dom.js";
import { errorText } from "./labels.js";
import { clock } from "./time.js";
import { showView } from "./views.js";
import { renderCase } from "./case-detail.js";

// ---- cases: the built-in case register, by deadline ------------------------------------
// Over HTTP with the console's token (GET /api/agent/cases and /api/agent/cases/{id}). The
// list is read again whenever the view is opened and on Vernieuwen; what the server sends is
// put on screen as text only. "Today" is the server's, so the words vandaag/morgen follow the
// clock the deadlines were computed with, not this computer's.

export const cs = newCasesState();

export function shortDay(day) {
  const d = new Date(day + "T12:00:00Z");
  if (isNaN(d)) return String(day || "");
  return d.toLocaleDateString(LANG === "en" ? "en-GB" : "nl-NL", { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
}
// "vandaag", "morgen", "gisteren", else the date itself.
export function relDay(day, today) {
  if (!validDay(day)) return "";
  const rel = relativeDay(day, today);
  return rel === "today" ? t("csToday") : rel === "tomorrow" ? t("csTomorrow") : rel === "yesterday" ? t("csYesterday") : shortDay(day);
}
export function known(prefix, value) {
  const k = prefix + value;
  return hasText(k) ? t(k) : String(value === null || value === undefined || value === "" ? "—" : value);
}
function csFilter() {
  const r = $("cs-filter").querySelector("input[name=cs-filter]:checked");
  return r ? r.value : "all";
}
function csQuery() {
  return casesQuery(csFilter(), $("cs-days").value);
}
function deadlineTime(day, today, cls) {
  const tm = el("time", cls || null, relDay(day, today));
  tm.setAttribute("datetime", day);
  tm.title = longDay(day);
  return tm;
}
export function caseTitle(c) {
  return known("case_", c.kind) + (c.gemeente ? " — " + c.gemeente : "");
}

export function onCasesShown() {
  $("cs-filter-dead").hidden = !canRoster();
  if (!canRoster() && csFilter() === "dead") $("cs-filter").querySelector("input[value=all]").checked = true;
  loadCases();
}

export async function loadCases() {
  if (!S.token) return;
  const asked = ++cs.asked;
  setText($("cs-status"), t("csLoading"));
  const res = await actions.cases(csQuery());
  if (asked !== cs.asked) return; // a newer question is under way
  const box = $("cs-error");
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.cases)) {
    setText($("cs-status"), "");
    const err = actions.apiError(res);
    box.textContent = res.status === 0 ? t("cbOffline")
      : err && err.code === "forbidden" ? t("csDeadForbidden") : errorText(err, t("csLoadFailed"));
    box.hidden = false;
    return;
  }
  box.hidden = true;
  cs.data = res.body;
  renderCases();
  const n = res.body.cases.length, now = clock(new Date().toISOString());
  setText($("cs-status"), n === 1 ? t("csLoaded1", { time: now }) : t("csLoaded", { n: n, time: now }));
  if (cs.selected) loadCase(cs.selected, false);
}

function renderCases() {
  const list = $("cs-list"), data = cs.data;
  if (!data) return;
  const active = document.activeElement;
  const hadKey = active && list.contains(active) && active.dataset.key ? active.dataset.key : null;
  list.textContent = "";
  setText($("cs-today"), validDay(data.today) ? t("csTodayIs", { day: longDay(data.today) }) : "");
  let late = 0;
  data.cases.forEach(function (c) {
    if (c && c.overdue) late += 1;
    if (c && c.id) list.appendChild(buildCaseItem(c, data.today));
  });
  // The badge counts overdue meldingen only when the list holds all of them.
  const f = csFilter();
  if (f === "all" || f === "overdue") setBadge($("view-cases-badge"), late, t("csOverdueCount"));
  const empty = $("cs-empty");
  empty.hidden = data.cases.length > 0;
  if (!data.cases.length) {
    const days = $("cs-days").value;
    empty.textContent = f === "due" ? (days === "0" ? t("csEmptyDue0") : t("csEmptyDue", { n: days }))
      : f === "overdue" ? t("csEmptyOverdue") : f === "dead" ? t("csEmptyDead") : t("csEmptyAll");
  }
  if (hadKey) {
    const node = list.querySelector('[data-key="' + CSS.escape(hadKey) + '"]');
    if (node) node.focus(); else $("cs-title").focus();
  }
}

export function fact(dl, name, value, cls) {
  if (value === null || value === undefined || value === "") return null;
  const d = el("div", cls || null);
  d.appendChild(el("dt", null, name));
  const dd = el("dd");
  if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
  d.appendChild(dd);
  dl.appendChild(d);
  return dd;
}

export function lateBadge() {
  const b = el("span", "badge badge-late");
  b.appendChild(el("span", null, "⚠ ")).setAttribute("aria-hidden", "true");
  b.appendChild(document.createTextNode(t("csLate")));
  return b;
}

function buildCaseItem(c, today) {
  const li = el("li", "cs-item" + (c.overdue ? " cs-overdue" : "") + (c.id === cs.selected ? " is-selected" : ""));
  li.dataset.caseId = c.id;
  const top = el("div", "cs-top");
  const dl = el("p", "cs-deadline" + (c.deadline ? "" : " cs-nodeadline"));
  dl.appendChild(el("span", "cs-deadline-label", t("csDeadline") + ": "));
  if (c.deadline) dl.appendChild(deadlineTime(c.deadline, today, "cs-deadline-day"));
  else dl.appendChild(el("span", "cs-deadline-day", t("csNoDeadline")));
  top.appendChild(dl);
  if (c.overdue) top.appendChild(lateBadge());
  if (c.hermelding) top.appendChild(el("span", "badge badge-herm", t("csHermelding")));
  li.appendChild(top);

  const h = el("h2", "cs-item-title");
  const open = el("button", "cs-open", caseTitle(c));
  open.type = "button";
  open.dataset.key = c.id + ":open";
  if (c.id === cs.selected) open.setAttribute("aria-current", "true");
  open.addEventListener("click", function () { openCase(c.id); });
  h.appendChild(open);
  li.appendChild(h);

  const tags = el("p", "cs-tags");
  tags.appendChild(el("span", "chip chip-kind chip-" + (c.kind === "melding" ? "melding" : "advies"), known("case_", c.kind)));
  if (c.urgency) tags.appendChild(el("span", "chip chip-urg chip-urg-" + String(c.urgency).replace(/\W/g, ""), t("csUrgency") + ": " + known("urg_", c.urgency)));
  li.appendChild(tags);

  const facts = el("dl", "cs-facts");
  fact(facts, t("csGemeente"), c.gemeente || "—");
  fact(facts, t("csCallerType"), known("caller_", c.caller_type));
  fact(facts, t("csSource"), known("src_", c.source));
  fact(facts, t("csReceived"), stamp(c.received_at));
  fact(facts, t("csAdvisor"), c.advisor_name || "—");
  const d = c.delivery || {};
  fact(facts, t("csDelivery"), known("del_", d.status), "cs-delivery cs-del-" + String(d.status || "").replace(/\W/g, ""));
  if (canRoster() && (d.status === "dead" || d.last_error)) {
    fact(facts, t("csTries"), String(d.tries === undefined || d.tries === null ? "—" : d.tries), "cs-tries");
    fact(facts, t("csLastError"), d.last_error || "—", "cs-last-error");
  }
  li.appendChild(facts);

  if (c.hermelding && c.repeat_of) li.appendChild(earlierLink(c.repeat_of, c.id + ":earlier"));
  return li;
}

export function earlierLink(id, key) {
  const p = el("p", "cs-earlier");
  const b = el("button", "linkish", t("csEarlierOpen"));
  b.type = "button";
  if (key) b.dataset.key = key;
  b.dataset.caseId = id;
  const known_ = cs.data && cs.data.cases.filter(function (x) { return x.id === id; })[0];
  if (known_) b.setAttribute("aria-label", t("csEarlierLabel", { day: stamp(known_.received_at) }));
  b.addEventListener("click", function () { openCase(id); });
  p.appendChild(b);
  return p;
}

// From elsewhere (a spoedmelding notice): the case register with this case open.
export function openCaseById(id) {
  showView("cases", false);
  openCase(id);
}

function openCase(id) {
  cs.selected = id;
  Array.prototype.forEach.call($("cs-list").querySelectorAll(".cs-item"), function (li) {
    const on = li.dataset.caseId === id;
    li.classList.toggle("is-selected", on);
    const b = li.querySelector(".cs-open");
    if (on) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
  });
  loadCase(id, true);
}

async function loadCase(id, focus) {
  const asked = ++cs.detailAsked;
  const box = $("cs-detail");
  if (focus || !cs.detail || cs.detail.id !== id) {
    box.textContent = "";
    box.appendChild(el("p", "muted cs-detail-msg", t("csDetailLoading")));
  }
  const res = await actions.caseDetail(id);
  if (asked !== cs.detailAsked) return;
  if (res.status !== 200 || !res.body || typeof res.body !== "object") {
    const err = actions.apiError(res);
    box.textContent = "";
    const msg = el("p", "form-error cs-detail-msg", res.status === 0 ? t("cbOffline")
      : err && err.code === "not_found" ? t("csNotFound") : errorText(err, t("csDetailFailed")));
    msg.setAttribute("role", "alert");
    box.appendChild(msg);
    return;
  }
  cs.detail = res.body;
  const scroll = box.scrollTop;
  renderCase(res.body);
  if (focus) {
    const h = $("cs-detail-title");
    if (h) h.focus();
    box.scrollTop = 0;
  } else {
    box.scrollTop = scroll;
  }
}
