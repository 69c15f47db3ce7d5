/* The Cijfers view (supervisors and admins): management figures of a period per day, week or
 * month, for every team or one, as charts drawn by uPlot (served by us from npm) with a table
 * beside each chart that holds the same numbers (the charts' text alternative), and the CSV
 * download (GET /api/supervisor/figures). */
import uPlot from "/console/vendor/uplot.esm.js";
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { localDay } from "../state/days.js";
import { CHARTS, chartData, csvName, defaultPeriod, figuresQuery, hasFigures, periodRows, tableRows } from "../state/figures.js";
import { canRoster } from "./callbacks.js";
import { routing } from "./config.js";
import { announce } from "./attention.js";
import { $, el, saveFile, setText } from "./dom.js";
import { errorText } from "./labels.js";

const COLOURS = ["#1f5fa8", "#2e7d32", "#b3261e", "#8a5a00", "#6a3d9a"];
const DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3], [1, 1]];
let asked = 0;
let plots = [];

/** Whether this agent sees the view (supervisors and admins; the tab is hidden for others). */
export function canSeeFigures() { return canRoster(); }

function fillTeams() {
  const select = $("fg-team");
  if (select.options.length > 1) return;
  ((routing && routing.teams) || []).forEach(function (team) {
    const o = el("option", null, team.name || team.id);
    o.value = team.id;
    select.appendChild(o);
  });
}

export function onFiguresShown() {
  if (!$("fg-from").value || !$("fg-to").value) {
    const p = defaultPeriod(localDay(new Date().toISOString()));
    $("fg-from").value = p.from;
    $("fg-to").value = p.to;
  }
  fillTeams();
  loadFigures();
}

function showError(text) {
  const box = $("fg-error");
  box.textContent = text || "";
  box.hidden = !text;
}

function choice(format) {
  return figuresQuery($("fg-from").value, $("fg-to").value, $("fg-group").value, $("fg-team").value, format);
}

function buildTable(chart, rows) {
  const table = el("table", "rk-table fg-table");
  const caption = el("caption", null, t(chart.title));
  table.appendChild(caption);
  const head = el("tr");
  head.appendChild(el("th", null, t("fgPeriod"))).setAttribute("scope", "col");
  chart.figures.forEach(function (f) { head.appendChild(el("th", "num", t("fg_" + f))).setAttribute("scope", "col"); });
  table.appendChild(el("thead")).appendChild(head);
  const body = table.appendChild(el("tbody"));
  tableRows(rows, chart.figures).forEach(function (r) {
    const tr = el("tr");
    tr.appendChild(el("th", null, r.period)).setAttribute("scope", "row");
    r.cells.forEach(function (c) { tr.appendChild(el("td", "num", c)); });
    body.appendChild(tr);
  });
  return table;
}

function buildChart(chart, rows, box) {
  const shaped = chartData(rows, chart.figures);
  const opts = {
    width: Math.max(320, Math.min(640, box.clientWidth || 640)),
    height: 220,
    scales: { x: { time: false } },
    axes: [
      { values: function (_, ticks) { return ticks.map(function (i) { return shaped.labels[i] || ""; }); } },
      {},
    ],
    series: [{ label: t("fgPeriod"), value: function (_, i) { return i === null ? "" : shaped.labels[i] || ""; } }].concat(
      chart.figures.map(function (f, i) {
        return { label: t("fg_" + f), stroke: COLOURS[i % COLOURS.length], dash: DASHES[i % DASHES.length], width: 2, spanGaps: false };
      })
    ),
  };
  return new uPlot(opts, shaped.data, box);
}

function render(rows) {
  plots.forEach(function (p) { p.destroy(); });
  plots = [];
  const area = $("fg-charts");
  area.textContent = "";
  CHARTS.forEach(function (chart) {
    const section = el("section", "fg-chart");
    const heading = el("h2", null, t(chart.title));
    heading.id = "fg-h-" + chart.id;
    section.setAttribute("aria-labelledby", heading.id);
    section.appendChild(heading);
    const box = el("div", "fg-plot");
    // The chart is a picture of the table beside it; screen readers read the table.
    box.setAttribute("aria-hidden", "true");
    section.appendChild(box);
    section.appendChild(buildTable(chart, rows));
    area.appendChild(section);
    plots.push(buildChart(chart, rows, box));
  });
}

export async function loadFigures() {
  const query = choice(null);
  if (!query) { showError(t("rkBadPeriod")); return; }
  const mine = ++asked;
  setText($("fg-status"), t("rkLoading"));
  const res = await actions.figures(query);
  if (mine !== asked) return; // a newer question is under way
  if (res.status !== 200 || !res.body) {
    setText($("fg-status"), "");
    showError(res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("rkLoadFailed")));
    return;
  }
  showError("");
  const rows = periodRows(res.body);
  render(rows);
  $("fg-empty").hidden = hasFigures(rows);
  setText($("fg-status"), t("fgLoaded", { n: rows.length }));
}

async function download() {
  const b = $("fg-export");
  if (b.getAttribute("aria-disabled") === "true") return;
  const query = choice("csv");
  if (!query) { showError(t("rkBadPeriod")); return; }
  b.setAttribute("aria-disabled", "true");
  try {
    const res = await actions.figuresFile(query);
    if (!res.blob) {
      showError(res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("rkExportFailed")));
      return;
    }
    showError("");
    saveFile(res.blob, csvName($("fg-from").value, $("fg-to").value));
    announce(t("fgExported"));
  } finally {
    b.removeAttribute("aria-disabled");
  }
}

$("fg-period").addEventListener("submit", function (e) { e.preventDefault(); loadFigures(); });
$("fg-export").addEventListener("click", download);
