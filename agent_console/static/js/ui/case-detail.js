/* One case read whole: its facts, crisis timeline, callback history and transcript (messages by
 * seq, notes in between). What the server sends is put on screen as text only. */
import { t } from "../i18n/index.js";
import { caseTimeline } from "../state/cases.js";
import { localDay } from "../state/days.js";
import { canRoster, longDay, slotText, stamp } from "./callbacks.js";
import { crisisEventText } from "./crisis.js";
import { $, el } from "./dom.js";
import { label } from "./labels.js";
import { expertiseLabel } from "./offer.js";
import { clock } from "./time.js";
import { caseTitle, cs, earlierLink, fact, known, lateBadge, loadCases, relDay, shortDay } from "./cases.js";

// ---- one case: the detail, with its crisis, callback and transcript -----------------------

function section(parent, title, cls) {
  const s = el("section", "cs-sec" + (cls ? " " + cls : ""));
  const h = el("h3", "cs-sec-title", title);
  s.appendChild(h);
  parent.appendChild(s);
  return s;
}

export function renderCase(c) {
  const box = $("cs-detail");
  const ho = (c.handoff && typeof c.handoff === "object") ? c.handoff : {};
  const today = cs.data && cs.data.today;
  box.textContent = "";
  const art = el("article", "cs-case" + (c.overdue ? " cs-overdue" : ""));
  art.dataset.caseId = c.id;

  const head = el("header", "cs-case-head");
  const h = el("h2", "cs-case-title", caseTitle(c));
  h.id = "cs-detail-title";
  h.tabIndex = -1;
  head.appendChild(h);
  const meta = el("p", "cs-tags");
  meta.appendChild(el("span", "chip chip-kind chip-" + (c.kind === "melding" ? "melding" : "advies"), known("case_", c.kind)));
  if (c.urgency) meta.appendChild(el("span", "chip chip-urg chip-urg-" + String(c.urgency).replace(/\W/g, ""), t("csUrgency") + ": " + known("urg_", c.urgency)));
  if (c.hermelding) meta.appendChild(el("span", "badge badge-herm", t("csHermelding")));
  if (c.overdue) meta.appendChild(lateBadge());
  head.appendChild(meta);
  art.appendChild(head);
  box.setAttribute("aria-labelledby", "cs-detail-title");

  // The deadline: what it means, and whether it passed.
  const dbox = el("div", "cs-deadline-box" + (c.overdue ? " is-late" : "") + (c.deadline ? "" : " is-none"));
  const dp = el("p", "cs-deadline-main");
  dp.appendChild(el("span", "cs-deadline-label", t("csDeadline") + ": "));
  if (c.deadline) {
    const tm = el("time", "cs-deadline-day", longDay(c.deadline));
    tm.setAttribute("datetime", c.deadline);
    dp.appendChild(tm);
    const rel = relDay(c.deadline, today);
    if (rel && rel !== shortDay(c.deadline)) dp.appendChild(document.createTextNode(" (" + rel + ")"));
  } else {
    dp.appendChild(el("span", "cs-deadline-day", t("csNoDeadline")));
  }
  dbox.appendChild(dp);
  if (c.deadline) {
    dbox.appendChild(el("p", "cs-deadline-why small", c.overdue
      ? "⚠ " + t("csLate") + ". " + t("csLateWhy", { day: longDay(c.deadline) })
      : t("csDueWhy", { day: longDay(c.deadline) })));
    dbox.appendChild(el("p", "muted small", t("csDeadlineRule")));
  }
  art.appendChild(dbox);

  if (c.purged) {
    const pb = el("p", "cs-purged cs-purged-top");
    pb.appendChild(el("strong", null, t("csPurged")));
    pb.appendChild(document.createTextNode(". " + t("csPurgedWhy")));
    art.appendChild(pb);
  }
  if (c.hermelding) {
    const hb = el("div", "cs-herm-box");
    hb.appendChild(el("p", "small", t("csHermeldingWhy")));
    if (c.repeat_of) hb.appendChild(earlierLink(c.repeat_of, null));
    art.appendChild(hb);
  }

  // The outcome as the advisor closed it.
  const oc = (ho.outcome && typeof ho.outcome === "object") ? ho.outcome : {};
  const so = section(art, t("csOutcome"), "cs-outcome");
  const odl = el("dl", "cs-dl");
  fact(odl, t("csKind"), known("case_", oc.kind || c.kind));
  fact(odl, t("csUrgency"), oc.urgency || c.urgency ? known("urg_", oc.urgency || c.urgency) : null);
  fact(odl, t("csGemeente"), oc.gemeente || c.gemeente);
  const exp = Array.isArray(oc.expertise) ? oc.expertise : Array.isArray(ho.expertise) ? ho.expertise : [];
  if (exp.length) fact(odl, t("csExpertise"), exp.map(expertiseLabel).join(", "));
  if (!c.purged) {
    fact(odl, t("csReporterPhone"), oc.phone);
    fact(odl, t("csReporterEmail"), oc.email);
  }
  so.appendChild(odl);
  if (oc.summary) {
    so.appendChild(el("h4", "cs-sub", t("csSummary")));
    so.appendChild(el("p", "cs-summary", oc.summary));
  }

  // Who, when, how.
  const sc = section(art, t("csContact"), "cs-contact");
  const cdl = el("dl", "cs-dl");
  fact(cdl, t("csReceived"), stamp(c.received_at || ho.received_at));
  fact(cdl, t("csSource"), ho.callback && ho.callback.kind ? known("kind_", ho.callback.kind) : known("src_", c.source));
  fact(cdl, t("csCallerType"), known("caller_", c.caller_type || ho.caller_type));
  if (ho.intent) fact(cdl, t("csIntent"), known("intent_", ho.intent));
  if (ho.team) fact(cdl, t("csTeam"), label("team", ho.team));
  if (ho.topic) fact(cdl, t("csTopic"), ho.topic, "cs-topic");
  fact(cdl, t("csAdvisor"), (ho.advisor && ho.advisor.name) || c.advisor_name || "—");
  const d = c.delivery || {};
  fact(cdl, t("csDelivery"), known("del_", d.status), "cs-delivery cs-del-" + String(d.status || "").replace(/\W/g, ""));
  if (canRoster() && (d.status === "dead" || d.last_error)) {
    fact(cdl, t("csTries"), String(d.tries === undefined || d.tries === null ? "—" : d.tries), "cs-tries");
    fact(cdl, t("csLastError"), d.last_error || "—", "cs-last-error");
  }
  sc.appendChild(cdl);

  if (ho.crisis && typeof ho.crisis === "object") art.appendChild(buildCaseCrisis(ho.crisis));
  if (ho.callback && typeof ho.callback === "object") art.appendChild(buildCaseCallback(c, ho));
  // A callback has no chat: its transcript section only if something was written in it.
  const written = (Array.isArray(ho.transcript) && ho.transcript.length) || (Array.isArray(ho.notes) && ho.notes.length);
  if (c.source !== "callback" || written) art.appendChild(buildTranscript(c, ho));
  box.appendChild(art);
}

function buildCaseCrisis(cr) {
  const s = el("section", "cs-sec cs-crisis");
  s.appendChild(el("h3", "cs-sec-title", t("csCrisis")));
  const p = el("p", "cs-crisis-status");
  p.appendChild(document.createTextNode(t("csCrisisStarted", { time: stamp(cr.at) }) + (cr.reason ? ": " + cr.reason : "") + ". "));
  p.appendChild(el("strong", null, cr.acknowledged_at ? t("csCrisisAcked", { time: stamp(cr.acknowledged_at) }) : t("csCrisisOpen")));
  s.appendChild(p);
  const events = Array.isArray(cr.timeline) ? cr.timeline : [];
  if (events.length) {
    const ol = el("ol", "conv-crisis-timeline cs-crisis-timeline");
    ol.setAttribute("aria-label", t("crisisTimeline"));
    events.forEach(function (ev) {
      if (!ev || typeof ev !== "object") return;
      const li = el("li", "crisis-event crisis-" + String(ev.kind || "").replace(/\W/g, ""));
      const when = el("time", null, clock(ev.at));
      when.setAttribute("datetime", ev.at || "");
      li.appendChild(when);
      li.appendChild(document.createTextNode(crisisEventText(ev)));
      ol.appendChild(li);
    });
    s.appendChild(ol);
  }
  return s;
}

function buildCaseCallback(c, ho) {
  const cbk = ho.callback;
  const s = el("section", "cs-sec cs-callback");
  s.appendChild(el("h3", "cs-sec-title", t("csCallback")));
  const dl = el("dl", "cs-dl");
  fact(dl, t("csKind"), known("kind_", cbk.kind));
  if (!c.purged && cbk.phone) fact(dl, t("csPhone"), cbk.phone, "cs-phone");
  if (cbk.slot) fact(dl, t("csSlot"), (cbk.slot.start ? shortDay(localDay(cbk.slot.start)) + " " : "") + slotText(cbk.slot.start, cbk.slot.end));
  if (cbk.voicemail_allowed !== undefined && cbk.voicemail_allowed !== null) fact(dl, t("csVoicemail"), cbk.voicemail_allowed ? t("csVoicemailYes") : t("csVoicemailNo"));
  s.appendChild(dl);

  s.appendChild(el("h4", "cs-sub", t("csAttempts")));
  const tries = Array.isArray(cbk.attempts) ? cbk.attempts : [];
  if (!tries.length) s.appendChild(el("p", "muted small", t("csNoAttempts")));
  else {
    const ol = el("ol", "cs-attempts");
    tries.forEach(function (a) {
      if (!a || typeof a !== "object") return;
      const li = el("li");
      const tm = el("time", null, stamp(a.at));
      tm.setAttribute("datetime", a.at || "");
      li.appendChild(tm);
      li.appendChild(document.createTextNode(" — " + known("res_", a.result)));
      ol.appendChild(li);
    });
    s.appendChild(ol);
  }

  s.appendChild(el("h4", "cs-sub", t("csRequests")));
  if (c.purged || !Array.isArray(ho.requests)) {
    s.appendChild(el("p", "cs-purged", t("csPurged")));
    return s;
  }
  const rl = el("ol", "cb-req-list cs-requests");
  ho.requests.forEach(function (q) {
    if (!q || typeof q !== "object") return;
    const li = el("li", "cb-req");
    li.appendChild(el("p", "cb-req-name" + (q.name ? "" : " muted"), q.name ? String(q.name) : t("cbNoName")));
    li.appendChild(el("p", "cb-req-topic" + (q.topic ? "" : " muted"), q.topic ? String(q.topic) : t("cbNoTopic")));
    const qd = el("dl", "cb-req-facts");
    fact(qd, t("cbReference"), q.reference);
    fact(qd, t("cbCreated"), stamp(q.created_at));
    if (q.slot) fact(qd, t("cbOwnSlot"), slotText(q.slot.start, q.slot.end));
    fact(qd, t("cbCallerType"), q.caller_type ? known("caller_", q.caller_type) : null);
    fact(qd, t("cbEmail"), q.email);
    fact(qd, t("cbOrganisation"), q.organisation);
    fact(qd, t("csRequestStatus"), q.status ? known("rq_", q.status) : null);
    li.appendChild(qd);
    rl.appendChild(li);
  });
  s.appendChild(rl);
  return s;
}

// Messages by seq, each internal note before the first message written after it.
function buildTranscript(c, ho) {
  const s = el("section", "cs-sec cs-transcript");
  s.appendChild(el("h3", "cs-sec-title", t("csTranscript")));
  if (c.purged || (!Array.isArray(ho.transcript) && !Array.isArray(ho.notes))) {
    const p = el("p", "cs-purged", t("csPurged"));
    s.appendChild(p);
    s.appendChild(el("p", "muted small", t("csPurgedWhy")));
    return s;
  }
  const items = caseTimeline(ho);
  if (!items.length) { s.appendChild(el("p", "muted small", t("csNoMessages"))); return s; }
  const advisorId = ho.advisor && ho.advisor.id, advisorName = ho.advisor && ho.advisor.name;
  const ol = el("ol", "cs-log");
  items.forEach(function (it) {
    let li, tm;
    if (it.note) {
      li = el("li", "cs-msg cs-note");
      const lab = el("p", "cs-who");
      lab.appendChild(el("span", "badge badge-intern", t("csInternal")));
      lab.appendChild(document.createTextNode(" " + t("csNoteWhy") + " · " +
        (it.note.agent_id && it.note.agent_id === advisorId && advisorName ? advisorName : t("csColleague"))));
      li.appendChild(lab);
      li.appendChild(el("p", "text", it.note.text));
      tm = el("time", "when", clock(it.note.at));
      tm.setAttribute("datetime", it.note.at || "");
      li.appendChild(tm);
      ol.appendChild(li);
      return;
    }
    const m = it.msg;
    const who = m.sender === "visitor" ? "visitor" : m.sender === "agent" ? "agent" : "system";
    li = el("li", "cs-msg cs-msg-" + who);
    li.appendChild(el("p", "cs-who", who === "visitor" ? t("csVisitor") : who === "agent" ? t("csAgent") : t("csSystem")));
    li.appendChild(el("p", "text", m.text));
    tm = el("time", "when", clock(m.at));
    tm.setAttribute("datetime", m.at || "");
    li.appendChild(tm);
    ol.appendChild(li);
  });
  s.appendChild(ol);
  return s;
}

$("cs-refresh").addEventListener("click", function () { loadCases(); });
$("cs-filter").addEventListener("change", function (e) {
  if (e.target && e.target.id === "cs-days") $("cs-filter-due").checked = true;
  loadCases();
});
