/* The advisor's status and the supervisors' board, without DOM or timers: the time is passed in
 * (`now`, ms since the epoch), so countdowns and durations are testable. The board holds no
 * message text (the server sends none); this module only sorts, filters and counts. */

export const STATUSES = Object.freeze(["beschikbaar", "pauze", "nawerk", "offline"]);

/** The status as it is at `now`: a nawerk whose end passed is `beschikbaar` (the server counts it
 * so too, on every process, before any event says so). */
export function effectiveStatus(s, now) {
  if (!s || STATUSES.indexOf(s.status) < 0) return { status: "beschikbaar", since: null, until: null };
  if (s.status === "nawerk" && s.until) {
    const end = Date.parse(s.until);
    if (!isNaN(end) && end <= now) return { status: "beschikbaar", since: s.until, until: null };
  }
  return { status: s.status, since: s.since || null, until: s.status === "nawerk" ? s.until || null : null };
}

/** Whole seconds of nawerk left (0 when none). */
export function nawerkLeft(s, now) {
  const e = effectiveStatus(s, now);
  if (e.status !== "nawerk" || !e.until) return 0;
  return Math.max(0, Math.ceil((Date.parse(e.until) - now) / 1000));
}

/** Seconds since an ISO time (never below 0; null without a time). */
export function secondsSince(iso, now) {
  const at = Date.parse(iso);
  return isNaN(at) ? null : Math.max(0, Math.floor((now - at) / 1000));
}

/** "m:ss", or "u:mm:ss" from an hour on. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const ss = (s < 10 ? "0" : "") + s;
  return h ? h + ":" + (m < 10 ? "0" : "") + m + ":" + ss : m + ":" + ss;
}

const RISK_ORDER = { acuut: 3, hoog: 2, zorg: 1 };

function crisisOpen(c) { return !!(c.crisis && !c.crisis.acknowledged_at && !c.crisis.ended_at); }

/** The board's conversations for one team (or all: `team` empty), most urgent first: an open
 * crisis, then danger, then the higher risk, then waiting before talking, then the longest. */
export function boardConversations(board, team) {
  const rows = ((board && board.conversations) || []).filter((c) => !team || c.team === team);
  return rows.slice().sort((a, b) => {
    const keys = [
      Number(crisisOpen(b)) - Number(crisisOpen(a)),
      Number(!!b.danger_now) - Number(!!a.danger_now),
      (RISK_ORDER[b.risk] || 0) - (RISK_ORDER[a.risk] || 0),
      Number(b.status === "waiting") - Number(a.status === "waiting")
    ];
    for (const k of keys) if (k) return k;
    const at = (c) => Date.parse(c.status === "waiting" ? c.waiting_since : c.accepted_at || c.waiting_since) || 0;
    return at(a) - at(b);
  });
}

const STATUS_ORDER = { beschikbaar: 0, nawerk: 1, pauze: 2, offline: 3 };

/** The board's agents for one team (supervisors and admins always), online first, then by
 * status (available first) and name; each with its status as it is at `now`. */
export function boardAgents(board, team, now) {
  const rows = ((board && board.agents) || [])
    .filter((a) => !team || (a.teams || []).indexOf(team) >= 0 || a.role === "supervisor" || a.role === "admin")
    .map((a) => Object.assign({}, a, a.online ? effectiveStatus(a, now) : { status: "offline", since: null, until: null }));
  return rows.sort((a, b) =>
    Number(b.online) - Number(a.online) ||
    STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
    String(a.name).localeCompare(String(b.name)));
}

/** The teams' queues (one team, or all), the longest oldest wait first. */
export function boardTeams(board, team) {
  const rows = ((board && board.teams) || []).filter((x) => !team || x.team === team);
  return rows.slice().sort((a, b) => {
    const wa = a.oldest_waiting_since ? Date.parse(a.oldest_waiting_since) : Infinity;
    const wb = b.oldest_waiting_since ? Date.parse(b.oldest_waiting_since) : Infinity;
    return wa - wb || String(a.team).localeCompare(String(b.team));
  });
}

/** The open crises (nobody acknowledged them yet) as conversation rows, oldest alarm first. */
export function boardCrises(board, team) {
  const open = new Set((board && board.crises) || []);
  return ((board && board.conversations) || [])
    .filter((c) => open.has(c.id) && (!team || c.team === team))
    .sort((a, b) => Date.parse(a.crisis.escalated_at) - Date.parse(b.crisis.escalated_at));
}

/** The team slugs on the board, for the filter. */
export function boardTeamNames(board) {
  return ((board && board.teams) || []).map((x) => x.team).sort();
}

/** Whether a board is newer than the one shown (boards come from several processes). */
export function newerBoard(current, next) {
  if (!next || !Array.isArray(next.conversations)) return false;
  if (!current) return true;
  return Date.parse(next.at) >= Date.parse(current.at);
}
