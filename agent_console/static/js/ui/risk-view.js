/* The Risicosignalen view (supervisors and admins): per concept how often its signal fired in a
 * period, how many messages advisors marked "klopt niet" (and the share), how many missed risks
 * named it; and the download of the marked examples as CSV (GET /api/supervisor/risk/...). The
 * download is handed over from a blob: address that is revoked right after the click. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { localDay } from "../state/days.js";
import { conceptRows, defaultPeriod, periodQuery } from "../state/risk.js";
import { canRoster } from "./callbacks.js";
import { announce } from "./attention.js";
import { $, el, saveFile, setText } from "./dom.js";
import { errorText } from "./labels.js";

let asked = 0;

/** Whether this agent sees the view (its tab is hidden for everyone else). */
export function canSeeRisk() { return canRoster(); }

export function onRiskShown() {
  if (!$("rk-from").value || !$("rk-to").value) {
    const p = defaultPeriod(localDay(new Date().toISOString()));
    $("rk-from").value = p.from;
    $("rk-to").value = p.to;
  }
  loadRisk();
}

function showError(text) {
  const box = $("rk-error");
  box.textContent = text || "";
  box.hidden = !text;
}

export async function loadRisk() {
  const query = periodQuery($("rk-from").value, $("rk-to").value);
  if (!query) { showError(t("rkBadPeriod")); return; }
  const mine = ++asked;
  setText($("rk-status"), t("rkLoading"));
  const res = await actions.riskConcepts(query);
  if (mine !== asked) return; // a newer question is under way
  const rows = res.status === 200 ? conceptRows(res.body) : null;
  if (!rows) {
    setText($("rk-status"), "");
    showError(res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("rkLoadFailed")));
    return;
  }
  showError("");
  const body = $("rk-rows");
  body.textContent = "";
  rows.forEach(function (r) {
    const tr = el("tr");
    tr.appendChild(el("th", null, r.concept === null ? t("rkNoConcept") : r.concept)).setAttribute("scope", "row");
    tr.appendChild(el("td", "num", r.fired));
    tr.appendChild(el("td", "num", r.wrong));
    tr.appendChild(el("td", "num", r.share === null ? "—" : r.share + "%"));
    tr.appendChild(el("td", "num", r.missed));
    body.appendChild(tr);
  });
  $("rk-table").hidden = !rows.length;
  $("rk-empty").hidden = rows.length > 0;
  setText($("rk-status"), t("rkLoaded", { n: rows.length }));
}

async function download() {
  const b = $("rk-export");
  if (b.getAttribute("aria-disabled") === "true") return;
  b.setAttribute("aria-disabled", "true");
  try {
    const res = await actions.riskExport();
    if (!res.blob) {
      showError(res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("rkExportFailed")));
      return;
    }
    showError("");
    saveFile(res.blob, "risicosignalen-feedback.csv");
    announce(t("rkExported"));
  } finally {
    b.removeAttribute("aria-disabled");
  }
}

$("rk-period").addEventListener("submit", function (e) { e.preventDefault(); loadRisk(); });
$("rk-export").addEventListener("click", download);
