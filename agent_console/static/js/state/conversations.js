/* The conversations this console holds (ours, or read along): messages by seq, notes by id,
 * pending sends by client_id, and unread counts. No DOM here; the UI keeps its nodes on the
 * same object (panel, tab, nodes) and renders from these fields. */

/** A new conversation state from a summary (from `mine`, `accept` or `history`). */
export function newConversation(summary) {
  return {
    id: summary.id, summary, status: summary.status || "active", messages: new Map(), notes: new Map(),
    pending: new Map(), unread: 0, maxSeq: 0, contiguous: 0, nodes: new Map(), typingTimer: null,
    mode: "message", outTyping: false, outTypingTimer: null, lastTypingSent: 0
  };
}

/** Adds a message unless its seq is missing or already here (a duplicate). True when added.
 * `unseen`: a live visitor message the advisor does not see now counts as unread. */
export function addMessage(c, m, unseen) {
  if (!m || typeof m.seq !== "number" || c.messages.has(m.seq)) return false;
  c.messages.set(m.seq, m);
  if (m.seq > c.maxSeq) c.maxSeq = m.seq;
  if (unseen && m.sender === "visitor") c.unread += 1;
  return true;
}

/** The highest seq n with 1..n all here (seqs have no gaps on the server). */
export function contiguousSeq(c) {
  let n = c.contiguous || 0;
  while (c.messages.has(n + 1)) n += 1;
  c.contiguous = n;
  return n;
}

/** Whether message `m` leaves a gap before it (a missed event): then the history is read again. */
export function leavesGap(c, m) {
  return typeof m.seq === "number" && m.seq > contiguousSeq(c) + 1;
}

/** Merges a full view (the `history` answer) into the state: summary fields, and every message
 * and note it holds (known ones are kept as they are). */
export function mergeView(c, view) {
  if (!view) return;
  c.summary = Object.assign({}, c.summary, view, { messages: undefined, notes: undefined, whispers: undefined });
  if (view.status) c.status = view.status;
  (view.messages || []).forEach((m) => { addMessage(c, m, false); });
  (view.notes || []).forEach((n) => { c.notes.set(n.id, n); });
  (view.whispers || []).forEach((w) => { c.notes.set(w.id, asNote(w)); });
}

/** A supervisor's whisper in the log: among the notes (never the visitor's), marked as a whisper. */
export function asNote(w) {
  return { id: w.id, text: w.text, at: w.at, internal: true, whisper: true, from: (w.from && w.from.name) || "" };
}

/** Adds a note unless known. True when added. */
export function addNote(c, n) {
  if (!n || c.notes.has(n.id)) return false;
  c.notes.set(n.id, n);
  return true;
}

/** The visitor left (stop, quick exit): closed, and the advisor may still record the outcome. */
export function markVisitorLeft(c, d) {
  const fled = !!d.quick_exit || !!c.summary.quick_exit;
  c.status = "closed";
  c.summary = Object.assign({}, c.summary, { visitor_left: true, quick_exit: fled, left_at: c.summary.left_at || d.at });
  if (c.summary.awaiting_outcome !== false) c.summary.awaiting_outcome = true;
  return fled;
}

/** Closed by the visitor, with the outcome still to record by the advisor. */
export function awaitingOutcome(c) {
  return c.status === "closed" && !!c.summary.awaiting_outcome;
}

/** The log in order: messages by seq, each note before the first message written after it,
 * pending sends at the end. */
export function timeline(c) {
  const msgs = Array.from(c.messages.values()).sort((a, b) => a.seq - b.seq);
  const notes = Array.from(c.notes.values()).sort((a, b) => (String(a.at) < String(b.at) ? -1 : String(a.at) > String(b.at) ? 1 : 0));
  const out = [];
  let ni = 0;
  msgs.forEach((m) => {
    const at = new Date(m.at).getTime();
    while (ni < notes.length && new Date(notes[ni].at).getTime() < at) { out.push({ key: "n:" + notes[ni].id, note: notes[ni] }); ni++; }
    out.push({ key: "m:" + m.seq, msg: m });
  });
  for (; ni < notes.length; ni++) out.push({ key: "n:" + notes[ni].id, note: notes[ni] });
  c.pending.forEach((p) => { out.push({ key: "p:" + p.client_id, pending: p }); });
  return out;
}

/** Unread visitor messages over all conversations (the Chats tab's badge). */
export function unreadTotal(convs) {
  let n = 0;
  convs.forEach((c) => { n += c.unread; });
  return n;
}
