/* The case register (GET /api/agent/cases and /api/agent/cases/{id}): the view's state and the
 * pure parts of showing a case. No DOM here: ui/cases.js renders from it. */

export function newCasesState() {
  return {
    data: null,            // the last list from the server
    asked: 0,
    selected: null,        // id of the case shown in the detail
    detail: null,          // the last case read whole
    detailAsked: 0
  };
}

/** The query string of the list for a filter ("all", "due", "overdue", "dead"). */
export function casesQuery(filter, days) {
  if (filter === "due") return "?due_within_days=" + encodeURIComponent(days || "0");
  if (filter === "overdue") return "?overdue=true";
  if (filter === "dead") return "?status=dead";
  return "";
}

/** A case's transcript in order (`ho` is the handoff): messages by seq, each internal note before
 * the first message written after it; entries that are not objects are left out. */
export function caseTimeline(ho) {
  const msgs = (Array.isArray(ho.transcript) ? ho.transcript : []).filter((m) => m && typeof m === "object")
    .slice().sort((a, b) => (Number(a.seq) || 0) - (Number(b.seq) || 0));
  const notes = (Array.isArray(ho.notes) ? ho.notes : []).filter((n) => n && typeof n === "object")
    .slice().sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const out = [];
  let ni = 0;
  msgs.forEach((m) => {
    const at = Date.parse(m.at);
    while (ni < notes.length && Date.parse(notes[ni].at) < at) out.push({ note: notes[ni++] });
    out.push({ msg: m });
  });
  for (; ni < notes.length; ni++) out.push({ note: notes[ni] });
  return out;
}
