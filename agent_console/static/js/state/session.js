/* The session's state (no DOM): who is logged in (token and agent, in sessionStorage only, never
 * localStorage), drafts and the outbox of unsent messages, the conversations held, the queue and
 * the crisis alerts. Values that several modules change live on the one object `S`; the
 * collections are exported as constants and changed in place. */
import { QueueState } from "./queue.js";
import { CrisesState } from "./crises.js";

export const KEY_TOKEN = "vt.console.token";
export const KEY_AGENT = "vt.console.agent";
export const KEY_DRAFTS = "vt.console.drafts";
export const KEY_OUTBOX = "vt.console.outbox";
export const KEY_EXPIRES = "vt.console.expires";
export const KEY_IDLE = "vt.console.idle";
export const KEY_VIEW = "vt.console.view";

/** Keeps `value` for this tab's session (null removes it). Nothing is kept while logging out. */
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

/** The client_id of a message: the server drops a retry with the same one. */
export function newClientId() {
  const c = globalThis.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  const a = new Uint8Array(16); c.getRandomValues(a);
  return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
}

/** The values several modules change (each module reads them here, never a copy). */
export const S = {
  token: load(KEY_TOKEN, null),
  agent: load(KEY_AGENT, null),     // {id, name, role, username}
  drafts: load(KEY_DRAFTS, {}),     // {conversationId: {message, note}}
  outbox: load(KEY_OUTBOX, []),     // [{conversation_id, client_id, text}]
  activeId: null,                   // the conversation shown in the chat panel
  closingId: null,                  // the conversation whose outcome form is open, if any
  closingCallback: null,            // the callback whose outcome form is open, if any
  reloginOpen: false,
  loggingOut: false,
  idleTimeoutMs: 0,                 // the server's idle timeout (the warning comes before it)
  attempts: 0,                      // sends so far (each has its number in inFlight)
  handlers: {},                     // server event -> handler (dispatch.js)
  offer: null,                      // the open push offer shown to us (state/offers.js), if any
  flashText: ""                     // what the flashing title says
};

export const queue = new QueueState();          // the waiting queue, in the server's order
export const convs = new Map();                 // id -> conversation state (state/conversations.js)
export const inFlight = new Map();              // client_id -> attempt number being sent now
export const crises = new CrisesState();        // conversation id -> open crisis alert
export const transferredFrom = new Map();       // conversation id -> name of who transferred it to us
