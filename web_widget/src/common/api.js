/**
 * Calls to our own API from the widget and the booking pages: never a cookie (credentials
 * "omit"), never a cached answer. Answers come as {ok, status, body}; a network failure is
 * {ok: false, status: 0, body: null}, so a caller has one shape to look at.
 */
import { BOOKING } from "./texts.js";
import { el } from "./dom.js";

/** The API answer as {ok, status, body}; `base` is the server's origin (the widget's). */
export function api(method, path, payload, base) {
  const init = { method, credentials: "omit", cache: "no-store", headers: {} };
  if (payload !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(payload);
  }
  return fetch((base || "") + path, init).then((r) => r.json().then(
    (b) => ({ ok: r.ok, status: r.status, body: b }),
    () => ({ ok: r.ok, status: r.status, body: null })
  ), () => ({ ok: false, status: 0, body: null }));
}

/** The GET address of the free tijdvakken of a kind for the coming days. */
export function slotsPath(kind, days) {
  return "/api/callbacks/slots?kind=" + encodeURIComponent(kind) + "&days=" + encodeURIComponent(days);
}

export function errorCode(res) { return res.body && res.body.error ? res.body.error.code : null; }

/** The server's (Dutch) message of a failed answer, or our generic one. */
export function errorText(res) { return (res.body && res.body.error && res.body.error.message) || BOOKING.nl.generic; }

/**
 * The calendar file of a booking as a download from a blob: address. A link to
 * /api/callbacks/<token>/calendar.ics would leave the manage token in the browser history and
 * in the downloads list (both keep the address a file came from); fetched here, they keep
 * only the blob: address, which holds no token and is revoked right after the click.
 * Resolves to {ok, status, body} like api().
 */
export function downloadCalendar(token, filename) {
  const path = "/api/callbacks/" + encodeURIComponent(token) + "/calendar.ics";
  return fetch(path, { credentials: "omit", cache: "no-store" }).then((r) => {
    if (!r.ok) {
      return r.json().then(
        (b) => ({ ok: false, status: r.status, body: b }),
        () => ({ ok: false, status: r.status, body: null })
      );
    }
    return r.blob().then((blob) => {
      const url = URL.createObjectURL(new Blob([blob], { type: "text/calendar" }));
      const a = el("a", { href: url, download: filename || "veilig-thuis-afspraak.ics", hidden: true });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => { URL.revokeObjectURL(url); }, 1000);
      return { ok: true, status: r.status, body: null };
    });
  }).catch(() => ({ ok: false, status: 0, body: null }));
}
