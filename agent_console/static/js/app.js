/* Starting the console: the page's language, the login or the work view, the connection. */
import { applyTexts } from "./i18n/index.js";
import { configureApi } from "./net/api.js";
import { S, KEY_DRAFTS, KEY_IDLE, load, store } from "./state/session.js";
import { connect } from "./connection.js";
import { saveOutbox } from "./ui/chat.js";
import { askRelogin, startIdleWatch, watchExpiry } from "./ui/login.js";
import { showLogin, showWork } from "./ui/views.js";

// ---- start -----------------------------------------------------------------------------

window.addEventListener("beforeunload", function () {
  if (S.loggingOut) return;
  store(KEY_DRAFTS, S.drafts); saveOutbox();
});

/** Puts the page in its language and opens the work view, or the login when no one is logged in. */
export function start(eventHandlers) {
  S.handlers = eventHandlers;
  configureApi({ token: function () { return S.token; }, onUnauthorized: askRelogin });
  applyTexts(document);
  if (S.token) { showWork(); connect(); watchExpiry(); startIdleWatch(load(KEY_IDLE, 0) / 1000); } else { showLogin(); }
}
