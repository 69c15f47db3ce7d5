/* Feedback on risk signals: which concepts fired on which visitor message (from the `risk`
 * event, which names the message's seq), the payload of `risk_feedback`, and the supervisors'
 * per-concept table (fired, marked wrong, their share) for a period. No DOM, no network. */
import { validDay, shiftDay } from "./days.js";

/** The concepts a `risk` event named, each once, with its level: [{concept, level}]. */
export function firedConcepts(r) {
  const seen = new Map();
  ((r && r.concepts) || []).forEach(function (c) {
    if (c && typeof c.concept === "string" && c.concept && !seen.has(c.concept)) seen.set(c.concept, c.level || null);
  });
  return Array.from(seen, function ([concept, level]) { return { concept, level }; });
}

/** The seq of the message a `risk` event is about, or null (an older server sends none). */
export function riskSeq(r) {
  return r && Number.isInteger(r.seq) && r.seq > 0 ? r.seq : null;
}

/** The `risk_feedback` payload: a concept marked wrong, or a missed risk (concept optional). */
export function feedbackPayload(conversationId, seq, kind, concept) {
  const p = { conversation_id: conversationId, seq: seq, kind: kind };
  if (concept) p.concept = concept;
  return p;
}

/** The key of one mark on screen (so a mark done stays shown as done when the log is redrawn). */
export function markKey(seq, kind, concept) {
  return seq + "|" + kind + "|" + (concept || "");
}

/** The default period: the 30 days up to `today`. */
export function defaultPeriod(today) {
  return { from: shiftDay(today, -29), to: today };
}

/** The query of GET /api/supervisor/risk/concepts, or null when the period is not valid. */
export function periodQuery(from, to) {
  if (!validDay(from) || !validDay(to) || from > to) return null;
  return "?from=" + from + "&to=" + to;
}

/** Share of `part` in `whole` as a whole percentage, or null when nothing fired. */
export function share(part, whole) {
  return whole > 0 ? Math.round((100 * part) / whole) : null;
}

/** The answer of GET /api/supervisor/risk/concepts as table rows, checked; null if not usable. */
export function conceptRows(body) {
  if (!body || !Array.isArray(body.concepts)) return null;
  const n = (v) => (Number.isInteger(v) && v >= 0 ? v : 0);
  return body.concepts
    .filter(function (c) { return c && (typeof c.concept === "string" || c.concept === null); })
    .map(function (c) {
      const fired = n(c.fired), wrong = n(c.marked_wrong);
      return { concept: c.concept, fired: fired, wrong: wrong, missed: n(c.reported_missed), share: share(wrong, fired) };
    });
}
