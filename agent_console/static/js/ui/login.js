/* Logging in, logging in again when the session expired (nothing on screen is lost), and
 * logging out (everything of the session is wiped from sessionStorage). */
import * as actions from "../actions.js";
import { t } from "../i18n/index.js";
import { S, KEY_AGENT, KEY_DRAFTS, KEY_EXPIRES, KEY_OUTBOX, KEY_TOKEN, KEY_VIEW, load, store } from "../state/session.js";
import { connect } from "../connection.js";
import { unlockAudio } from "./attention.js";
import { $ } from "./dom.js";
import { errorText } from "./labels.js";
import { setConn, showWork } from "./views.js";

// ---- login ---------------------------------------------------------------------------

let expiryTimer = null;
export function watchExpiry() {
  clearTimeout(expiryTimer);
  const at = load(KEY_EXPIRES, 0);
  if (!at) return;
  const ms = Math.max(0, at - Date.now());
  if (ms > 2147483000) return;
  expiryTimer = setTimeout(askRelogin, ms);
}

function rememberSession(body, username) {
  if (body.expires_in) store(KEY_EXPIRES, Date.now() + body.expires_in * 1000 - 30000);
  watchExpiry();
  S.token = body.token;
  S.agent = Object.assign({}, body.agent, { username: username });
  store(KEY_TOKEN, S.token);
  store(KEY_AGENT, S.agent);
}

$("login-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  unlockAudio();
  const u = $("login-username").value.trim(), p = $("login-password").value, err = $("login-error");
  err.hidden = true;
  if (!u || !p) { err.textContent = t("loginMissing"); err.hidden = false; return; }
  $("login-submit").disabled = true;
  const body = await actions.login(u, p);
  $("login-submit").disabled = false;
  if (body.error) {
    err.textContent = errorText(body.error);
    err.hidden = false;
    $("login-password").value = "";
    $("login-password").focus();
    return;
  }
  $("login-password").value = "";
  rememberSession(body, u);
  showWork();
  connect();
});

// ---- session expiry: log in again without losing anything ----------------------------

export function askRelogin() {
  if (S.reloginOpen) return;
  S.reloginOpen = true;
  setConn("off", t("sessionExpired"));
  const d = $("relogin-dialog");
  $("relogin-username").value = (S.agent && S.agent.username) || $("login-username").value || "";
  $("relogin-password").value = "";
  $("relogin-error").hidden = true;
  if (!d.open) d.showModal();
  ($("relogin-username").value ? $("relogin-password") : $("relogin-username")).focus();
}
$("relogin-dialog").addEventListener("cancel", function (e) { e.preventDefault(); });
$("relogin-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  const u = $("relogin-username").value.trim(), p = $("relogin-password").value, err = $("relogin-error");
  err.hidden = true;
  if (!u || !p) { err.textContent = t("loginMissing"); err.hidden = false; return; }
  $("relogin-submit").disabled = true;
  const body = await actions.login(u, p);
  $("relogin-submit").disabled = false;
  if (body.error) { err.textContent = errorText(body.error); err.hidden = false; $("relogin-password").value = ""; return; }
  if (S.agent && body.agent && S.agent.id !== body.agent.id) {
    // Another person: nothing of the previous advisor may stay on screen.
    store(KEY_DRAFTS, null); store(KEY_OUTBOX, null);
    rememberSession(body, u);
    location.reload();
    return;
  }
  rememberSession(body, u);
  S.reloginOpen = false;
  $("relogin-dialog").close();
  showWork();
  // A connection keeps the token it connected with: connect again with the new one.
  if (!actions.reconnect()) connect();
});

// ---- logout -------------------------------------------------------------------------

$("logout").addEventListener("click", function () { $("logout-dialog").showModal(); $("logout-cancel").focus(); });
$("logout-dialog").addEventListener("close", function () {
  if ($("logout-dialog").returnValue !== "confirm") return;
  actions.disconnect();
  S.loggingOut = true;
  [KEY_TOKEN, KEY_AGENT, KEY_DRAFTS, KEY_OUTBOX, KEY_EXPIRES, KEY_VIEW].forEach(function (k) { store(k, null); });
  S.token = null; S.agent = null; S.drafts = {}; S.outbox = [];
  location.replace("/console");
});
