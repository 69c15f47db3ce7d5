/* The Cijfers view (supervisors and admins), the pure part: the query of
 * GET /api/supervisor/figures, and the shaping of its answer into chart series and table rows
 * (one chart per group of figures, its table the text alternative). No DOM, no network. */
import { validDay, shiftDay } from "./days.js";

export const GROUPS = ["day", "week", "month"];

/** The charts of the view: a title key and the figures it draws (each a label key). */
export const CHARTS = [
  { id: "chats", title: "fgChats", figures: ["chats_offered", "chats_answered", "chats_abandoned"] },
  { id: "wait", title: "fgWait", figures: ["wait_p50_s", "wait_p90_s"] },
  { id: "time", title: "fgTime", figures: ["talk_mean_s", "talk_p50_s", "nawerk_mean_s", "nawerk_p50_s"] },
  { id: "outcomes", title: "fgOutcomes", figures: ["outcome_advies", "outcome_melding", "outcome_geen"] },
  { id: "crisis", title: "fgCrisis", figures: ["crisis_alarms", "crisis_ack_p50_s", "crisis_ack_max_s"] },
  { id: "callbacks", title: "fgCallbacks", figures: ["callbacks_requested", "callbacks_reached", "callbacks_not_reached", "tijdvak_capacity", "tijdvak_booked"] },
  { id: "meldingen", title: "fgMeldingen", figures: ["meldingen", "meldingen_deadline_met", "meldingen_deadline_missed", "hermeldingen"] },
];

/** The default period: the 30 days up to `today`. */
export function defaultPeriod(today) {
  return { from: shiftDay(today, -29), to: today };
}

/** The query of GET /api/supervisor/figures, or null when the choice is not valid (the server
 * checks again: at most 400 days). `team` "" is every team. */
export function figuresQuery(from, to, group, team, format) {
  if (!validDay(from) || !validDay(to) || from > to) return null;
  if (GROUPS.indexOf(group) < 0) return null;
  let q = "?from=" + from + "&to=" + to + "&group=" + group;
  if (team) q += "&team=" + encodeURIComponent(team);
  if (format) q += "&format=" + format;
  return q;
}

/** The rows the view draws: the totals per period (of one team when one was asked for). */
export function periodRows(body) {
  return body && Array.isArray(body.totals) ? body.totals : [];
}

/** uPlot's data for one chart: [x (0..n-1), one array per figure (null where unknown)], and the
 * period labels the x axis shows. */
export function chartData(rows, figures) {
  const x = rows.map(function (_, i) { return i; });
  const series = figures.map(function (f) {
    return rows.map(function (r) { return typeof r[f] === "number" ? r[f] : null; });
  });
  return { labels: rows.map(function (r) { return r.period; }), data: [x].concat(series) };
}

/** The table of one chart: a row per period, a cell per figure ("—" where unknown). */
export function tableRows(rows, figures) {
  return rows.map(function (r) {
    return { period: r.period, cells: figures.map(function (f) { return r[f] === null || r[f] === undefined ? "—" : String(r[f]); }) };
  });
}

/** Whether the period holds any figure at all (else the view says so instead of empty charts). */
export function hasFigures(rows) {
  return rows.some(function (r) {
    return CHARTS.some(function (c) { return c.figures.some(function (f) { return typeof r[f] === "number" && r[f] > 0; }); });
  });
}

/** The file name of the CSV download. */
export function csvName(from, to) {
  return "cijfers-" + from + "-" + to + ".csv";
}
