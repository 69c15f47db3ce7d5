/* The callbacks work list of one day, as GET /api/agent/callbacks answers it, and what this
 * console keeps beside it (the day shown, our requests under way, the requests ticked for an
 * attempt). No DOM here: ui/callbacks.js renders from it. */

export const RESULTS = ["bereikt", "geen_gehoor", "voicemail", "onjuist_nummer"];

export function newCallbacksState() {
  return {
    date: null,            // the day shown, "YYYY-MM-DD"; null: the server's today
    data: null,            // the last work list from the server
    asked: 0,
    busy: new Set(),       // callback ids with a request of ours under way
    notes: new Map(),      // callback id -> {text, error}: the outcome of our last action on it
    roster: new Map(),     // "kind|start" -> {text, error}
    overdue: new Set(),    // callback ids the server flagged overdue (callback_overdue)
    selected: new Map(),   // callback id -> Set of request references an attempt or finish applies to
    pendingFocus: null,    // {key, fallback}: where the keyboard goes after the next rebuild
    alerts: []             // [{text, day}]
  };
}

/** Still to do: open or claimed. */
export function isOpen(c) {
  return c.status === "open" || c.status === "claimed";
}

/** A tel: link of a phone number as people typed it. */
export function telHref(phone) {
  return "tel:" + String(phone || "").replace(/[^\d+]/g, "");
}

/** Supervisors and admins see overdue callbacks (and the other monitors' views). */
export function canRoster(agent) {
  return !!agent && (agent.role === "supervisor" || agent.role === "admin");
}

/** Only admins set the places of a tijdvak (PUT /api/admin/roster; issue 16). */
export function canEditRoster(agent) {
  return !!agent && agent.role === "admin";
}

/** The open requests an attempt or finish may apply to: null when the card offers no choice
 * (one open request, or not claimed by `agentId`), so the server takes the request being called. */
export function selectable(c, agentId) {
  const mine = !!agentId && c.claimed_by === agentId && c.status === "claimed";
  const open = (c.requests || []).filter((q) => q.status === "open");
  return mine && open.length > 1 ? open : null;
}

/** The set of ticked request references of callback `c` (kept in `state.selected`): references
 * no longer open are dropped; at first the requests being called are ticked. */
export function selectedSet(state, c, agentId) {
  const open = selectable(c, agentId);
  if (!open) return null;
  const refs = open.map((q) => q.reference);
  let set = state.selected.get(c.id);
  if (set) set.forEach((r) => { if (refs.indexOf(r) < 0) set.delete(r); });
  if (!set) {
    set = new Set(open.filter((q) => q.being_called).map((q) => q.reference));
    state.selected.set(c.id, set);
  }
  return set;
}

/** The ticked references in the card's order, or null when the card offers no choice. */
export function selectedRefs(state, c, agentId) {
  const set = selectedSet(state, c, agentId);
  if (!set) return null;
  return (c.requests || []).map((q) => q.reference).filter((r) => set.has(r));
}

/** Open callbacks over all tijdvakken of a work list (the view's badge). */
export function openCount(data) {
  let n = 0;
  ((data && data.tijdvakken) || []).forEach((tv) => { (tv.callbacks || []).forEach((c) => { if (isOpen(c)) n += 1; }); });
  return n;
}
