/* A push offer: a waiting chat offered to this advisor for a short time. No DOM, no timers:
 * the time is passed in (`now`, ms since the epoch), so the countdown is testable. */

export const OFFER_FALLBACK_MS = 120000; // with a wrong local clock: until the server withdraws it
export const OFFER_WARN_S = 10;

/** The offer state for an `offer` event, or null when it is not a valid offer. The server makes
 * an offer with time left on it: if our clock says none is left, our clock is off, so the
 * server's withdrawal decides and no countdown is trusted. */
export function makeOffer(o, now, inQueue) {
  if (!o || typeof o.conversation_id !== "string" || !o.conversation_id) return null;
  const deadline = Date.parse(o.expires_at);
  const trusted = !isNaN(deadline) && deadline > now + 1000;
  return {
    id: o.conversation_id, data: o, busy: false, voided: null, warned: false, trusted,
    deadline: trusted ? deadline : now + OFFER_FALLBACK_MS,
    // A queue snapshot may be older than the offer: only one that had it and then lacks it voids it.
    seenInQueue: !!inQueue
  };
}

/** Whole seconds left (never below 0). */
export function secondsLeft(offer, now) {
  return Math.max(0, Math.ceil((offer.deadline - now) / 1000));
}

/** One tick of the countdown: `{left, warn, expired}`; `warn` is true once, in the last seconds. */
export function tick(offer, now) {
  const left = secondsLeft(offer, now);
  let warn = false;
  if (offer.trusted && left <= OFFER_WARN_S && left > 0 && !offer.warned) { offer.warned = true; warn = true; }
  return { left, warn, expired: left <= 0 };
}

/** A queue snapshot came: true when it shows the offered chat was taken away (it was in the
 * queue before and is not now). */
export function goneFromQueue(offer, inQueue) {
  if (inQueue) { offer.seenInQueue = true; return false; }
  return offer.seenInQueue;
}

/** "m:ss" of a number of seconds. */
export function mmss(s) {
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}
