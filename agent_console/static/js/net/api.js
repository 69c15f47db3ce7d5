/* HTTP calls of the console (/api/agent/...), with the Bearer token. Every answer is
 * `{status, body}`; status 0 means the server was not reached. A 401 asks to log in again.
 * Errors are in the shape `{"error": {"code", "message", "message_en"?}}` (docs/protocol.md). */
import { t } from "../i18n/index.js";

let config = { token: () => null, onUnauthorized: () => {} };

export function configureApi(c) {
  config = Object.assign({}, config, c);
}

/** When the server last heard from this console (a request or an event): the idle timer. */
export const activity = { at: Date.now() };

/** `headers`: more request headers, e.g. `If-Match` with the ETag a change was made on. */
export async function api(method, path, body, headers) {
  activity.at = Date.now();
  const opts = {
    method,
    headers: Object.assign({}, headers, { Authorization: "Bearer " + config.token() }),
    credentials: "omit",
    cache: "no-store"
  };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  let r;
  try { r = await fetch(path, opts); } catch { return { status: 0, body: null }; }
  if (r.status === 401) config.onUnauthorized();
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  return { status: r.status, body: data };
}

/** GET a file (an export): `{status, blob}` when it came, else `{status, body}` with the error. */
export async function apiFile(path) {
  const opts = { method: "GET", headers: { Authorization: "Bearer " + config.token() }, credentials: "omit", cache: "no-store" };
  let r;
  try { r = await fetch(path, opts); } catch { return { status: 0, body: null }; }
  if (r.status === 401) config.onUnauthorized();
  if (r.ok) {
    try { return { status: r.status, blob: await r.blob() }; } catch { return { status: 0, body: null }; }
  }
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  return { status: r.status, body: data };
}

/** The error of an answer, if it is one. */
export function apiError(res) {
  return res && res.body && res.body.error ? res.body.error : null;
}

/** POST /api/agent/login: the body (token, agent, expires_in) or `{error: {message}}`. A
 * `second_factor_required` error is passed on whole (with `enroll` and `enrollment_token`).
 * `code`: six digits are a TOTP code, anything else a recovery code. */
export async function postLogin(username, password, code) {
  const payload = { username, password };
  if (code) {
    if (/^\d{6}$/.test(code)) payload.totp = code; else payload.recovery_code = code;
  }
  return postAuth("/api/agent/login", payload);
}

/** POST /api/agent/2fa/enroll and /confirm (docs/protocol.md). */
export const postEnrol = (enrollmentToken) => postAuth("/api/agent/2fa/enroll", { enrollment_token: enrollmentToken });
export const postConfirm = (enrollmentToken, totp) =>
  postAuth("/api/agent/2fa/confirm", { enrollment_token: enrollmentToken, totp });

async function postAuth(path, payload) {
  activity.at = Date.now();
  let r;
  try {
    r = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      credentials: "omit",
      cache: "no-store"
    });
  } catch {
    return { error: { message: t("loginUnreachable") } };
  }
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (r.ok && body && (body.token || body.secret)) return body;
  if (body && body.error) return body;
  if (r.status === 429) return { error: { message: t("loginTooMany") } };
  if (r.status === 401) return { error: { message: t("loginWrong") } };
  return { error: { message: t("loginFailed") } };
}
