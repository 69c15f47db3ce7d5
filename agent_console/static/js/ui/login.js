/* Logging in (with the second factor, and its enrolment the first time), logging in again when
 * the session expired (nothing on screen is lost), the warning before the idle timeout, and
 * logging out (the session ends on the server; everything of it is wiped from sessionStorage). */
import * as actions from "../actions.js";
import { t } from "../i18n/index.js";
import { S, KEY_AGENT, KEY_DRAFTS, KEY_EXPIRES, KEY_IDLE, KEY_OUTBOX, KEY_TOKEN, KEY_VIEW, load, store } from "../state/session.js";
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

// ---- the idle timeout: a warning two minutes before, "Blijf ingelogd" keeps the session ----

let idleTimer = null;
// Two minutes before, or a quarter of a short timeout.
const warnBefore = () => Math.min(120000, S.idleTimeoutMs / 4);
function watchIdle() {
  clearTimeout(idleTimer);
  if (!S.idleTimeoutMs || !S.token) return;
  const due = actions.lastActivity() + S.idleTimeoutMs - warnBefore();
  idleTimer = setTimeout(function () {
    if (actions.lastActivity() + S.idleTimeoutMs - warnBefore() > Date.now() + 1000) { watchIdle(); return; }
    if (S.reloginOpen) return;
    const d = $("idle-dialog");
    if (!d.open) d.showModal();
    $("idle-stay").focus();
    // Too late to stay: the server has ended the session; logging in again keeps the drafts.
    idleTimer = setTimeout(function () { if (d.open) d.close(); askRelogin(); }, warnBefore());
  }, Math.max(1000, due - Date.now()));
}
$("idle-dialog").addEventListener("close", async function () {
  clearTimeout(idleTimer);
  if (S.reloginOpen) return;
  await actions.stayLoggedIn();
  watchIdle();
});
export function startIdleWatch(timeoutS) {
  if (timeoutS) { S.idleTimeoutMs = timeoutS * 1000; store(KEY_IDLE, S.idleTimeoutMs); }
  watchIdle();
}

function rememberSession(body, username) {
  if (body.expires_in) store(KEY_EXPIRES, Date.now() + body.expires_in * 1000 - 30000);
  watchExpiry();
  S.token = body.token;
  S.agent = Object.assign({}, body.agent, { username: username });
  store(KEY_TOKEN, S.token);
  store(KEY_AGENT, S.agent);
  startIdleWatch(body.idle_timeout_s);
}

// The enrolment under way (its token), between "second_factor_required" with `enroll` and confirm.
let enrolment = null;

function showFactor(on) {
  $("login-factor").hidden = !on;
  if (on) $("login-code").focus();
}

async function startEnrolment(token) {
  const answer = await actions.enrol(token);
  if (answer.error) return answer;
  enrolment = token;
  $("enrol-qr").src = answer.qr_svg;
  $("enrol-secret").textContent = answer.secret;
  $("login-enrol").hidden = false;
  $("login-submit").textContent = t("enrolConfirm");
  $("enrol-code").focus();
  return null;
}

function showRecoveryCodes(codes, done) {
  const list = $("recovery-codes");
  list.replaceChildren();
  codes.forEach(function (c) { const li = document.createElement("li"); const code = document.createElement("code"); code.textContent = c; li.append(code); list.append(li); });
  $("login-form").hidden = true;
  $("recovery-view").hidden = false;
  $("recovery-done").focus();
  $("recovery-done").onclick = function () { list.replaceChildren(); $("recovery-view").hidden = true; $("login-form").hidden = false; done(); };
}

$("login-form").addEventListener("submit", async function (e) {
  e.preventDefault();
  unlockAudio();
  const u = $("login-username").value.trim(), p = $("login-password").value, err = $("login-error");
  err.hidden = true;
  let body;
  $("login-submit").disabled = true;
  if (enrolment) {
    body = await actions.confirmEnrolment(enrolment, $("enrol-code").value.trim());
  } else {
    if (!u || !p) { $("login-submit").disabled = false; err.textContent = t("loginMissing"); err.hidden = false; return; }
    body = await actions.login(u, p, $("login-factor").hidden ? "" : $("login-code").value.trim());
  }
  $("login-submit").disabled = false;
  if (body.error && body.error.code === "second_factor_required") {
    if (body.error.enroll && body.error.enrollment_token) {
      const failed = await startEnrolment(body.error.enrollment_token);
      if (failed) { err.textContent = errorText(failed.error); err.hidden = false; }
      return;
    }
    if (enrolment || !$("login-factor").hidden) { err.textContent = t(enrolment ? "enrolWrong" : "factorWrong"); err.hidden = false; }
    $("enrol-code").value = ""; $("login-code").value = "";
    if (!enrolment) showFactor(true); else $("enrol-code").focus();
    return;
  }
  if (body.error) {
    err.textContent = errorText(body.error);
    err.hidden = false;
    $("login-password").value = "";
    $("login-password").focus();
    return;
  }
  $("login-password").value = ""; $("login-code").value = ""; $("enrol-code").value = "";
  const enter = function () { rememberSession(body, u); showWork(); connect(); };
  if (body.recovery_codes) {
    enrolment = null;
    $("login-enrol").hidden = true;
    showRecoveryCodes(body.recovery_codes, enter);
    return;
  }
  enter();
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
  const factorShown = !$("relogin-factor").hidden;
  const body = await actions.login(u, p, factorShown ? $("relogin-code").value.trim() : "");
  $("relogin-submit").disabled = false;
  if (body.error && body.error.code === "second_factor_required" && !body.error.enroll) {
    if (factorShown) { err.textContent = t("factorWrong"); err.hidden = false; }
    $("relogin-code").value = "";
    $("relogin-factor").hidden = false;
    $("relogin-code").focus();
    return;
  }
  $("relogin-code").value = "";
  $("relogin-factor").hidden = true;
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
$("logout-dialog").addEventListener("close", async function () {
  if ($("logout-dialog").returnValue !== "confirm") return;
  // The session ends on the server too (best effort: the token is wiped here either way).
  S.loggingOut = true;
  await actions.logout();
  actions.disconnect();
  S.loggingOut = true;
  [KEY_TOKEN, KEY_AGENT, KEY_DRAFTS, KEY_OUTBOX, KEY_EXPIRES, KEY_IDLE, KEY_VIEW].forEach(function (k) { store(k, null); });
  S.token = null; S.agent = null; S.drafts = {}; S.outbox = [];
  location.replace("/console");
});
