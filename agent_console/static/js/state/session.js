/* The session's state (no DOM): who is logged in (token, agent, kept in sessionStorage only,
 * never localStorage), drafts and the outbox of unsent messages, the conversations held, the
 * queue and crisis states, and the values several modules change, on one object `S`. */
import { QueueState } from "./queue.js";
import { CrisesState } from "./crises.js";

/** The session's values that several modules change (see docs/console.md). */
export const S = {};

export const KEY_TOKEN = "vt.console.token";
export const KEY_AGENT = "vt.console.agent";
export const KEY_DRAFTS = "vt.console.drafts";
export const KEY_OUTBOX = "vt.console.outbox";
export const KEY_EXPIRES = "vt.console.expires";
export const KEY_VIEW = "vt.console.view";
export function store(key, value) {
  try {
    if (S.loggingOut && value !== null) return;
    if (value === null || value === undefined) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch (e) { /* storage full or blocked: memory still holds it */ }
}
export function load(key, fallback) {
  try { const v = sessionStorage.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
}
export function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const a = new Uint8Array(16); crypto.getRandomValues(a);
  return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
}

// ---- state ---------------------------------------------------------------------------

S.token = load(KEY_TOKEN, null);
S.agent = load(KEY_AGENT, null);
S.drafts = load(KEY_DRAFTS, {});          // {conversationId: {message, note}}
S.outbox = load(KEY_OUTBOX, []);          // [{conversation_id, client_id, text}]
export const queue = new QueueState();              // the waiting queue, in the server's order
export const convs = new Map();                      // id -> conversation state
S.activeId = null;
S.closingId = null;
S.closingCallback = null;                 // the callback whose outcome form is open, if any
S.reloginOpen = false;
S.loggingOut = false;
export const inFlight = new Map();                   // client_id -> attempt number being sent now
S.attempts = 0;
export const crises = new CrisesState();             // conversation id -> open crisis alert
export const transferredFrom = new Map();            // conversation id -> name of who transferred it to us
S.handlers = {};                          // server event -> handler (dispatch.js)
S.offer = null;
