/* The console's one Socket.IO connection to the `/agent` namespace (see docs/protocol.md).
 * The socket.io client is a classic script (/static/vendor/socket.io.min.js, global `io`),
 * loaded before the modules. Only this module and the actions that call it touch the socket;
 * the UI never emits. */

export const CALL_TIMEOUT_MS = 8000;

let socket = null;
let hooks = { onUnauthorizedAck: () => {} };

export function clientLoaded() {
  return typeof globalThis.io === "function";
}

export function exists() {
  return socket !== null;
}

export function connected() {
  return !!socket && socket.connected;
}

/** Opens the connection once (later calls only reconnect a closed one). `token()` is asked at
 * every (re)connect, so a new login's token is used. `handlers`: server event -> function (the
 * table in dispatch.js); `lifecycle`: {connect, disconnect, connect_error}; `onUnauthorizedAck`:
 * an ack said the token is no longer valid. */
export function connect(token, handlers, lifecycle, onUnauthorizedAck) {
  if (socket) { if (!socket.connected) socket.connect(); return socket; }
  hooks = { onUnauthorizedAck };
  socket = globalThis.io("/agent", {
    auth: (cb) => { cb({ token: token() }); },
    transports: ["websocket", "polling"],
    reconnectionDelay: 500,
    reconnectionDelayMax: 4000,
    timeout: 8000
  });
  Object.keys(lifecycle).forEach((name) => { socket.on(name, lifecycle[name]); });
  Object.keys(handlers).forEach((name) => { socket.on(name, handlers[name]); });
  return socket;
}

/** Connects again, with the token asked anew (after logging in again). */
export function reconnect() {
  if (!socket) return;
  if (socket.connected) socket.disconnect();
  socket.connect();
}

/** Connects again if still closed (the server closed us: connecting again shows why). */
export function retry() {
  if (socket && !socket.connected) socket.connect();
}

export function disconnect() {
  if (socket) socket.disconnect();
}

/** The error of an ack, if it is one: `{code, message, ...}` or null. */
export function errorOf(res) {
  return res && typeof res === "object" && res.error ? res.error : null;
}

/** Emits `event` and resolves with the server's ack; rejects when offline or after the timeout
 * (the caller says "no connection" then). An `unauthorized` ack also asks to log in again. */
export function call(event, data, timeoutMs) {
  return new Promise((resolve, reject) => {
    if (!socket || !socket.connected) { reject(new Error("offline")); return; }
    socket.timeout(timeoutMs || CALL_TIMEOUT_MS).emit(event, data, (err, res) => {
      if (err) { reject(err); return; }
      const e = errorOf(res);
      if (e && e.code === "unauthorized") hooks.onUnauthorizedAck();
      resolve(res);
    });
  });
}

/** Fire and forget (typing): nothing waits for an answer. */
export function send(event, data) {
  if (socket && socket.connected) socket.emit(event, data);
}
