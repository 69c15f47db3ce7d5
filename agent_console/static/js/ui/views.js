/* The tab panels (chats, callbacks, cases; Risicosignalen for supervisors) and the login view;
 * the connection status in the top bar. Switching never touches the socket. */
import { t } from "../i18n/index.js";
import * as conv from "../state/conversations.js";
import { S, convs, KEY_VIEW, load, store } from "../state/session.js";
import { onCallbacksShown } from "./callbacks.js";
import { onCasesShown } from "./cases.js";
import { canSeeRisk, onRiskShown } from "./risk-view.js";
import { canSeeDesk, onDeskShown } from "./desk-view.js";
import { canSeeHours, onHoursShown } from "./hours-view.js";
import { canSeeBoard, onBoardHidden, onBoardShown } from "./workplace.js";
import { canSeeFigures, onFiguresShown } from "./figures-view.js";
import { canSeeAccounts, onAccountsShown } from "./accounts-view.js";
import { $, setBadge } from "./dom.js";

// ---- views ---------------------------------------------------------------------------

export function showLogin() {
  $("login-view").hidden = false;
  $("work-view").hidden = true;
  $("callbacks-view").hidden = true;
  $("cases-view").hidden = true;
  $("risk-view").hidden = true;
  $("desk-view").hidden = true;
  $("hours-view").hidden = true;
  $("board-view").hidden = true;
  $("figures-view").hidden = true;
  $("accounts-view").hidden = true;
  $("view-tabs").hidden = true;
  $("session-bar").hidden = true;
  setTimeout(function () { $("login-username").focus(); }, 0);
}
export function showWork() {
  $("login-view").hidden = true;
  $("session-bar").hidden = false;
  $("view-tabs").hidden = false;
  $("agent-name").textContent = S.agent ? S.agent.name : "";
  $("view-tab-risk").hidden = !canSeeRisk();
  $("view-tab-desk").hidden = !canSeeDesk();
  $("view-tab-hours").hidden = !canSeeHours();
  $("view-tab-board").hidden = !canSeeBoard();
  $("view-tab-figures").hidden = !canSeeFigures();
  $("view-tab-accounts").hidden = !canSeeAccounts();
  showView(currentView, false);
}

// The chat workspace, the callbacks view and the case register are tab panels of one page:
// switching never touches the socket, and the crisis alarm, offers and notices stay above all.
const VIEWS = { chats: "work-view", callbacks: "callbacks-view", cases: "cases-view", risk: "risk-view", desk: "desk-view", hours: "hours-view", board: "board-view", figures: "figures-view", accounts: "accounts-view" };
// Views only supervisors and admins see (their tabs are hidden for everyone else).
const MAY_SEE = { risk: canSeeRisk, desk: canSeeDesk, hours: canSeeHours, board: canSeeBoard, figures: canSeeFigures, accounts: canSeeAccounts };
export let currentView = Object.prototype.hasOwnProperty.call(VIEWS, load(KEY_VIEW, "chats")) ? load(KEY_VIEW, "chats") : "chats";
export function showView(name, focusTab) {
  currentView = Object.prototype.hasOwnProperty.call(VIEWS, name) && (!MAY_SEE[name] || MAY_SEE[name]()) ? name : "chats";
  store(KEY_VIEW, currentView);
  Object.keys(VIEWS).forEach(function (v) { $(VIEWS[v]).hidden = v !== currentView; });
  Array.prototype.forEach.call($("view-tabs").querySelectorAll("[role=tab]"), function (tab) {
    const on = tab.dataset.view === currentView;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    if (on && focusTab) tab.focus();
  });
  if (currentView === "callbacks") onCallbacksShown();
  if (currentView === "cases") onCasesShown();
  if (currentView === "risk") onRiskShown();
  if (currentView === "desk") onDeskShown();
  if (currentView === "hours") onHoursShown();
  if (currentView === "board") onBoardShown(); else onBoardHidden();
  if (currentView === "figures") onFiguresShown();
  if (currentView === "accounts") onAccountsShown();
}
$("view-tabs").addEventListener("click", function (e) {
  const tab = e.target.closest("[role=tab]");
  if (tab) showView(tab.dataset.view, true);
});
$("view-tabs").addEventListener("keydown", function (e) {
  if (["ArrowLeft", "ArrowRight", "Home", "End"].indexOf(e.key) < 0) return;
  const tabs = Array.prototype.slice.call($("view-tabs").querySelectorAll("[role=tab]:not([hidden])"));
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  const next = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowRight" ? 1 : -1) + tabs.length) % tabs.length;
  showView(tabs[next].dataset.view, true);
});
export function updateViewBadges() {
  setBadge($("view-chats-badge"), conv.unreadTotal(convs), " " + t("unreadCount", { n: "" }).trim());
}
export function setConn(state, text) {
  const c = $("conn");
  c.className = "conn conn-" + state;
  c.textContent = text;
}
