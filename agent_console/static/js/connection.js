/* The connection's life: connect with the token, what a lost connection or a refused token
 * means on screen, and the `sync` after every (re)connect that fills every gap. */
import { t } from "./i18n/index.js";
import * as sock from "./net/socket.js";
import { errorOf } from "./net/socket.js";
import * as actions from "./actions.js";
import { S, convs, inFlight } from "./state/session.js";
import { flushOutbox } from "./ui/chat.js";
import { applyMine, loadHistory } from "./ui/conversations.js";
import { applyCrises } from "./ui/crisis.js";
import { askRelogin } from "./ui/login.js";
import { onOffer } from "./ui/offer.js";
import { applyStatus } from "./ui/workplace.js";
import { applyQueue } from "./ui/queue.js";
import { loadRouting } from "./ui/config.js";
import { setConn } from "./ui/views.js";

// ---- socket --------------------------------------------------------------------------

export function connect() {
  if (!sock.clientLoaded()) { setConn("off", t("connNoClient")); return; }
  if (sock.exists()) { sock.retry(); return; }
  setConn("wait", t("connConnecting"));
  sock.connect(function () { return S.token; }, S.handlers, { connect: onConnected, disconnect: onDisconnected, connect_error: onConnectError }, askRelogin);
}

function onDisconnected(reason) {
  setConn("off", t("connLost"));
  convs.forEach(function (c) { c.syncing = false; });
  inFlight.clear(); // their acks will not come; everything pending is sent again on reconnect
  if (reason === "io server disconnect") {
    // The server closed us (e.g. an expired token): connecting again shows why.
    setTimeout(function () { if (!S.reloginOpen) sock.retry(); }, 500);
  }
}

function onConnectError(err) {
  const code = err && err.data && err.data.error && err.data.error.code;
  if (code === "unauthorized") { askRelogin(); return; }
  setConn("off", t("connRetrying"));
}

async function onConnected() {
  setConn("on", t("connConnected"));
  loadRouting();
  let res;
  try { res = await actions.sync({}); } catch (e) { return; }
  if (errorOf(res)) return;
  applyQueue(res.queue);
  applyMine(res.mine);
  applyCrises(res.crises);
  applyStatus(res.status);
  // An offer made while this console was away is still ours until it runs out.
  if (res.offer && (!S.offer || S.offer.id !== res.offer.conversation_id)) onOffer(res.offer);
  // Fill every gap of the conversations on screen (also those that ended while we were away).
  convs.forEach(function (c) { loadHistory(c.id); });
  flushOutbox();
}
