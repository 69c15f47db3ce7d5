/* Everything the console asks of the server, in one place: Socket.IO calls (resolving with the
 * ack, rejecting when offline or after the timeout) and HTTP calls (`{status, body}`). The UI
 * modules call these and never touch the socket or fetch themselves. Event and endpoint names:
 * docs/protocol.md. */
import { call as socketCall, send as socketSend, connected, exists, reconnect as reconnectSocket, disconnect as disconnectSocket, errorOf } from "./net/socket.js";
import { activity, api, apiError, apiFile, postConfirm, postEnrol, postLogin } from "./net/api.js";

// Every call and send counts as activity (the server's idle timer counts them too).
function call(event, data, timeoutMs) { activity.at = Date.now(); return socketCall(event, data, timeoutMs); }
function send(event, data) { activity.at = Date.now(); socketSend(event, data); }

// What an answer says: the error of an ack or of an HTTP answer, if it is one.
export { errorOf, apiError };

// ---- the connection ------------------------------------------------------------------------

/** Whether the socket is connected now (sending waits for the reconnect otherwise). */
export const online = () => connected();
/** Connects again with the token asked anew (after logging in again); false when never connected. */
export function reconnect() {
  if (!exists()) return false;
  reconnectSocket();
  return true;
}
export const disconnect = () => disconnectSocket();
export const login = (username, password, code) => postLogin(username, password, code);
export const enrol = (enrollmentToken) => postEnrol(enrollmentToken);
export const confirmEnrolment = (enrollmentToken, code) => postConfirm(enrollmentToken, code);
/** Ends the session on the server (its token and sockets stop working). */
export const logout = () => api("POST", "/api/agent/logout", {});
/** Keeps the session from going idle (the "Blijf ingelogd" button). */
export const stayLoggedIn = () => api("GET", "/api/agent/session");
/** When the server last heard from this console. */
export const lastActivity = () => activity.at;
export { activity };

// ---- Socket.IO (the `/agent` namespace) ----------------------------------------------------

export const sync = (data) => call("sync", data);
export const accept = (data) => call("accept", data);
export const history = (data) => call("history", data);
export const takeOver = (data) => call("take_over", data);
export const answerTakeOver = (data) => call("take_over_answer", data);
export const addNote = (data) => call("note", data);
export const sendMessage = (data) => call("message", data);
export const closeConversation = (data) => call("close", data);
export const ackCrisis = (data) => call("ack_crisis", data);
export const escalate = (data) => call("escalate", data);
export const transfer = (data) => call("transfer", data);
/** A risk signal's concept marked wrong, or a missed risk, on a visitor message. */
export const riskFeedback = (data) => call("risk_feedback", data);
/** An offer is answered with `accept` or `pass`. */
export const answerOffer = (event, data) => call(event === "accept" ? "accept" : "pass", data);
/** A supervisor blocks the visitor of a conversation (hours, reason, whole_address). */
export const blockVisitor = (data) => call("block_visitor", data);
/** The workplace: one's status (or, supervisors, a colleague's), the board, reading along, whispers. */
export const setStatus = (data) => call("set_status", data);
export const board = () => call("board", {});
export const readAlong = (data) => call("read_along", data);
export const readAlongStop = (data) => call("read_along_stop", data);
export const whisper = (data) => call("whisper", data);
/** Typing on or off: fire and forget. */
export const typing = (conversationId, on) => send("typing", { conversation_id: conversationId, typing: on });

// ---- HTTP (/api/agent/..., Bearer token) -------------------------------------------------

const enc = encodeURIComponent;

export const loadConfig = () => api("GET", "/api/agent/config");
export const colleagues = () => api("GET", "/api/agent/colleagues");
export const gemeenten = () => api("GET", "/api/agent/gemeenten");
export const callbacks = (date) => api("GET", "/api/agent/callbacks" + (date ? "?date=" + enc(date) : ""));
export const claimCallback = (id) => api("POST", "/api/agent/callbacks/" + enc(id) + "/claim");
export const recordAttempt = (id, body) => api("POST", "/api/agent/callbacks/" + enc(id) + "/attempts", body);
export const closeCallback = (id, body) => api("POST", "/api/agent/callbacks/" + enc(id) + "/close", body);
export const saveRoster = (body) => api("PUT", "/api/admin/roster", body);
export const cases = (query) => api("GET", "/api/agent/cases" + query);
export const caseDetail = (id) => api("GET", "/api/agent/cases/" + enc(id));
export const riskConcepts = (query) => api("GET", "/api/supervisor/risk/concepts" + query);
/** The marked examples as a CSV file (supervisors and admins; the export is audited). */
export const riskExport = () => apiFile("/api/supervisor/risk/feedback?format=csv");
// `version`: the version of a ready text or opening hours that a change was made on; a colleague's
// change since then is answered 409 `conflict` instead of being overwritten.
const basedOn = (version) => (version ? { "If-Match": '"' + version + '"' } : undefined);
/** Ready texts: the ones this agent may use with the placeholder values; all of them, and
 * adding, changing and deleting (supervisors and admins). */
export const readyTexts = () => api("GET", "/api/agent/ready-texts");
export const allReadyTexts = () => api("GET", "/api/supervisor/ready-texts");
export const createReadyText = (body) => api("POST", "/api/supervisor/ready-texts", body);
export const updateReadyText = (id, body, version) =>
  api("PUT", "/api/supervisor/ready-texts/" + enc(id), body, basedOn(version));
export const deleteReadyText = (id, version) =>
  api("DELETE", "/api/supervisor/ready-texts/" + enc(id), undefined, basedOn(version));
/** The visitor blocks in force, and lifting one (supervisors and admins). */
export const blocks = () => api("GET", "/api/supervisor/blocks");
export const liftBlock = (id) => api("POST", "/api/supervisor/blocks/" + enc(id) + "/lift", {});
// Opening hours per team (supervisors and admins).
const hoursPath = (team) => "/api/supervisor/hours/" + enc(team);
export const hoursOverview = () => api("GET", "/api/supervisor/hours");
// `version`: the team's `pattern_version` the change was made on (see basedOn).
export const saveHoursPattern = (team, body, version) =>
  api("PUT", hoursPath(team) + "/pattern", body, basedOn(version));
export const resetHoursPattern = (team, version) =>
  api("DELETE", hoursPath(team) + "/pattern", undefined, basedOn(version));
export const addHoursException = (team, body) => api("POST", hoursPath(team) + "/exceptions", body);
export const deleteHoursException = (team, id) => api("DELETE", hoursPath(team) + "/exceptions/" + enc(id));
export const closeHoursNow = (team, body) => api("POST", hoursPath(team) + "/close", body);
/** The management figures of a period (supervisors and admins), as JSON or as a CSV file. */
export const figures = (query) => api("GET", "/api/supervisor/figures" + query);
export const figuresFile = (query) => apiFile("/api/supervisor/figures" + query);
// The admins' Medewerkers view (GET/POST /api/admin/agents...).
export const adminAgents = () => api("GET", "/api/admin/agents");
export const addAgent = (body) => api("POST", "/api/admin/agents", body);
/** One account change: `req` from state/accounts.js changeRequest(). */
export const changeAgent = (req) => api("POST", req.path, req.body);
