/* Unit tests of the console's state modules (no DOM): `node --test agent_console/static/js/tests`. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { QueueState, itemSig } from "../state/queue.js";
import {
  newConversation, addMessage, contiguousSeq, leavesGap, mergeView, addNote, timeline, unreadTotal,
  markVisitorLeft, awaitingOutcome
} from "../state/conversations.js";
import { makeOffer, tick, goneFromQueue, mmss, secondsLeft, OFFER_FALLBACK_MS } from "../state/offers.js";
import { CrisesState } from "../state/crises.js";
import * as risk from "../state/risk.js";

const item = (id, extra) => Object.assign({ conversation_id: id, priority: 1, waiting_since: "2026-12-01T08:00:00Z" }, extra);

test("queue keeps the server's order and reports what is new", () => {
  const q = new QueueState();
  const first = q.apply({ version: 1, waiting: [item("b"), item("a")] });
  assert.deepEqual(q.ids(), ["b", "a"]);
  assert.deepEqual(first.fresh.map((i) => i.conversation_id), ["b", "a"]);
  const second = q.apply({ version: 2, waiting: [item("c", { danger_now: true }), item("a"), item("b")] });
  assert.deepEqual(q.ids(), ["c", "a", "b"]);
  assert.deepEqual(second.fresh.map((i) => i.conversation_id), ["c"]);
  assert.equal(second.danger, true);
  assert.ok(q.has("a") && !q.has("x"));
});

test("queue refuses an older snapshot and a bad one", () => {
  const q = new QueueState();
  q.apply({ version: 5, waiting: [item("a")] });
  assert.equal(q.apply({ version: 4, waiting: [] }), null);
  assert.deepEqual(q.ids(), ["a"]);
  assert.equal(q.apply(null), null);
  assert.equal(q.apply({ version: 6, waiting: "x" }), null);
  // Without a version (an old server) a snapshot is taken as it is.
  assert.deepEqual(q.apply({ waiting: [] }).fresh, []);
  assert.deepEqual(q.ids(), []);
  assert.equal(q.version, 5);
});

test("a queue card's signature changes with what it shows", () => {
  const a = item("a");
  assert.equal(itemSig(a), itemSig(item("a")));
  assert.notEqual(itemSig(a), itemSig(item("a", { priority: 2 })));
  assert.notEqual(itemSig(a), itemSig(item("a", { in_crisis: true })));
  assert.notEqual(itemSig(a), itemSig(item("a", { visitor_present: false })));
});

const msg = (seq, sender, at) => ({ seq, sender: sender || "visitor", text: "x" + seq, at: at || "2026-12-01T08:00:0" + seq + "Z" });

test("messages merge by seq: duplicates are dropped, gaps are seen", () => {
  const c = newConversation({ id: "c1" });
  assert.equal(addMessage(c, msg(1), true), true);
  assert.equal(addMessage(c, msg(1), true), false); // the same seq again (replay, history)
  assert.equal(addMessage(c, { text: "no seq" }, true), false);
  assert.equal(c.unread, 1);
  assert.equal(contiguousSeq(c), 1);
  assert.equal(leavesGap(c, msg(2)), false);
  assert.equal(leavesGap(c, msg(4)), true);
  addMessage(c, msg(4), false);
  assert.equal(contiguousSeq(c), 1);
  assert.equal(c.maxSeq, 4);
  // The history fills the gap: 1..4 all here now, nothing counted twice.
  mergeView(c, { id: "c1", status: "active", messages: [msg(1), msg(2), msg(3), msg(4)], notes: [] });
  assert.equal(contiguousSeq(c), 4);
  assert.equal(c.messages.size, 4);
  assert.equal(c.unread, 1);
  assert.equal(c.summary.messages, undefined);
});

test("unread counts only live visitor messages not seen", () => {
  const a = newConversation({ id: "a" }), b = newConversation({ id: "b" });
  addMessage(a, msg(1), true);
  addMessage(a, msg(2, "agent"), true);
  addMessage(b, msg(1), false);
  addMessage(b, msg(2), true);
  const convs = new Map([["a", a], ["b", b]]);
  assert.equal(unreadTotal(convs), 2);
  a.unread = 0;
  assert.equal(unreadTotal(convs), 1);
});

test("the timeline puts notes before the first message after them, pending at the end", () => {
  const c = newConversation({ id: "c" });
  addMessage(c, msg(2, "visitor", "2026-12-01T08:00:02Z"));
  addMessage(c, msg(1, "visitor", "2026-12-01T08:00:01Z"));
  assert.equal(addNote(c, { id: "n1", at: "2026-12-01T08:00:01.500Z" }), true);
  assert.equal(addNote(c, { id: "n1", at: "2026-12-01T08:00:01.500Z" }), false);
  addNote(c, { id: "n2", at: "2026-12-01T09:00:00Z" });
  c.pending.set("p1", { client_id: "p1", text: "hoi" });
  assert.deepEqual(timeline(c).map((x) => x.key), ["m:1", "n:n1", "m:2", "n:n2", "p:p1"]);
});

test("the visitor leaving closes the conversation, awaiting the outcome", () => {
  const c = newConversation({ id: "c", status: "active" });
  assert.equal(markVisitorLeft(c, { quick_exit: true, at: "2026-12-01T08:00:00Z" }), true);
  assert.equal(c.status, "closed");
  assert.ok(awaitingOutcome(c));
  assert.equal(c.summary.left_at, "2026-12-01T08:00:00Z");
  const d = newConversation({ id: "d", awaiting_outcome: false });
  markVisitorLeft(d, {});
  assert.ok(!awaitingOutcome(d));
});

test("an offer counts down with the injected clock and warns once", () => {
  const now = Date.parse("2026-12-01T08:00:00Z");
  const o = makeOffer({ conversation_id: "c", expires_at: "2026-12-01T08:00:30Z" }, now, false);
  assert.equal(o.trusted, true);
  assert.deepEqual(tick(o, now), { left: 30, warn: false, expired: false });
  assert.deepEqual(tick(o, now + 20500), { left: 10, warn: true, expired: false });
  assert.deepEqual(tick(o, now + 21000), { left: 9, warn: false, expired: false });
  assert.deepEqual(tick(o, now + 30000), { left: 0, warn: false, expired: true });
  assert.equal(mmss(75), "1:15");
  assert.equal(mmss(0), "0:00");
});

test("an offer that our clock says is over already waits for the server", () => {
  const now = Date.parse("2026-12-01T08:00:00Z");
  const o = makeOffer({ conversation_id: "c", expires_at: "2026-12-01T07:59:00Z" }, now, true);
  assert.equal(o.trusted, false);
  assert.equal(secondsLeft(o, now), OFFER_FALLBACK_MS / 1000);
  assert.equal(tick(o, now + OFFER_FALLBACK_MS - 5000).warn, false); // no countdown warning
  assert.equal(makeOffer({ conversation_id: "" }, now, false), null);
  assert.equal(makeOffer(null, now, false), null);
  assert.equal(makeOffer({ conversation_id: "c", expires_at: "nonsense" }, now, false).trusted, false);
});

test("an offer is gone only when the queue had it and then lacks it", () => {
  const o = makeOffer({ conversation_id: "c", expires_at: "2026-12-01T08:00:30Z" }, 0, false);
  assert.equal(goneFromQueue(o, false), false); // an older snapshot
  assert.equal(goneFromQueue(o, true), false);
  assert.equal(goneFromQueue(o, false), true);
});

test("crisis lifecycle: alert, rounds, full list, taken on", () => {
  const s = new CrisesState();
  assert.deepEqual(s.alert({ conversation_id: "c", round: 1 }), { known: false, newer: true });
  assert.deepEqual(s.alert({ conversation_id: "c", round: 1 }), { known: true, newer: false });
  assert.deepEqual(s.alert({ conversation_id: "c", round: 2 }), { known: true, newer: true });
  assert.equal(s.alert({}), null);
  s.get("c").busy = true;
  const r = s.replace({ open: [{ conversation_id: "c", round: 2 }, { conversation_id: "d" }, null] });
  assert.deepEqual(r.fresh.map((a) => a.conversation_id), ["d"]);
  assert.deepEqual([...r.changed].sort(), ["c", "d"]);
  assert.equal(s.get("c").busy, true); // this console's mark survives a full list
  assert.equal(s.size, 2);
  assert.equal(s.close("c"), true);
  assert.equal(s.close("c"), false);
  const gone = s.replace({ open: [] });
  assert.deepEqual([...gone.changed], ["d"]);
  assert.equal(s.size, 0);
  assert.equal(s.replace({}), null);
});

// ---- risk-signal feedback ------------------------------------------------------------------

test("risk feedback: concepts once each, the seq, the payload", () => {
  const r = { seq: 4, concepts: [{ concept: "a", level: "hoog", words: [] }, { concept: "a", level: "hoog" }, { concept: "b" }, null, { concept: 3 }] };
  assert.deepEqual(risk.firedConcepts(r), [{ concept: "a", level: "hoog" }, { concept: "b", level: null }]);
  assert.deepEqual(risk.firedConcepts({}), []);
  assert.equal(risk.riskSeq(r), 4);
  assert.equal(risk.riskSeq({ seq: "4" }), null);
  assert.equal(risk.riskSeq({}), null);
  assert.deepEqual(risk.feedbackPayload("c1", 4, "wrong", "a"), { conversation_id: "c1", seq: 4, kind: "wrong", concept: "a" });
  assert.deepEqual(risk.feedbackPayload("c1", 4, "missed"), { conversation_id: "c1", seq: 4, kind: "missed" });
  assert.notEqual(risk.markKey(4, "missed"), risk.markKey(4, "wrong", "a"));
});

test("risk feedback: the period and the per-concept table", () => {
  assert.deepEqual(risk.defaultPeriod("2026-03-30"), { from: "2026-03-01", to: "2026-03-30" });
  assert.equal(risk.periodQuery("2026-11-01", "2026-11-30"), "?from=2026-11-01&to=2026-11-30");
  assert.equal(risk.periodQuery("2026-12-01", "2026-11-30"), null);
  assert.equal(risk.periodQuery("2026-13-01", "2026-11-30"), null);
  assert.equal(risk.share(1, 3), 33);
  assert.equal(risk.share(1, 0), null);
  assert.deepEqual(risk.conceptRows({ concepts: [{ concept: "a", fired: 4, marked_wrong: 1, reported_missed: 0 }, { concept: null, fired: 0, marked_wrong: 0, reported_missed: 2 }, { concept: 5 }] }), [
    { concept: "a", fired: 4, wrong: 1, missed: 0, share: 25 },
    { concept: null, fired: 0, wrong: 0, missed: 2, share: null }
  ]);
  assert.equal(risk.conceptRows({}), null);
});
