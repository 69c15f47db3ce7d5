/* Unit tests of the callbacks and cases state (no DOM): days in the Netherlands' time zone, the
 * requests an attempt applies to, the case list's query, a case's transcript order. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { localDay, validDay, shiftDay, dayDiff, relativeDay } from "../state/days.js";
import {
  newCallbacksState, isOpen, telHref, canRoster, canEditRoster, selectable, selectedSet, selectedRefs, openCount
} from "../state/callbacks.js";
import { casesQuery, caseTimeline } from "../state/cases.js";

test("days are the Netherlands' days, also around midnight and the clock change", () => {
  assert.equal(localDay("2026-11-30T23:30:00Z"), "2026-12-01"); // 00:30 in Amsterdam (winter)
  assert.equal(localDay("2026-06-30T22:30:00Z"), "2026-07-01"); // 00:30 in Amsterdam (summer)
  assert.equal(localDay("2026-06-30T21:30:00Z"), "2026-06-30");
  assert.equal(localDay("nonsense"), "");
  assert.ok(validDay("2026-12-01"));
  assert.ok(!validDay("2026-13-01") && !validDay("1-12-2026") && !validDay(null));
  assert.equal(shiftDay("2026-12-31", 1), "2027-01-01");
  assert.equal(shiftDay("2026-03-01", -1), "2026-02-28");
  assert.equal(dayDiff("2026-03-30", "2026-03-28"), 2); // across the clock change
  assert.equal(relativeDay("2026-12-01", "2026-12-01"), "today");
  assert.equal(relativeDay("2026-12-02", "2026-12-01"), "tomorrow");
  assert.equal(relativeDay("2026-11-30", "2026-12-01"), "yesterday");
  assert.equal(relativeDay("2026-12-05", "2026-12-01"), null);
  assert.equal(relativeDay("2026-12-05", "bad"), null);
});

const req = (reference, status, beingCalled) => ({ reference, status, being_called: !!beingCalled });

test("an attempt applies to the ticked open requests of a callback we claimed", () => {
  const state = newCallbacksState();
  const c = { id: "cb1", status: "claimed", claimed_by: "me", requests: [req("A", "open", true), req("B", "open"), req("C", "done")] };
  assert.deepEqual(selectable(c, "me").map((q) => q.reference), ["A", "B"]);
  assert.equal(selectable(c, "other"), null); // not ours: the server decides
  assert.equal(selectable({ ...c, requests: [req("A", "open")] }, "me"), null); // one open request: no choice
  assert.deepEqual(selectedRefs(state, c, "me"), ["A"]); // at first: the one being called
  selectedSet(state, c, "me").add("B");
  assert.deepEqual(selectedRefs(state, c, "me"), ["A", "B"]);
  // B was handled elsewhere meanwhile: it is no longer ticked.
  const later = { ...c, requests: [req("A", "open"), req("B", "done"), req("D", "open")] };
  assert.deepEqual(selectedRefs(state, later, "me"), ["A"]);
  assert.equal(selectedRefs(state, c, "other"), null);
});

test("callback helpers: open, tel: links, roster rights, the open count", () => {
  assert.ok(isOpen({ status: "open" }) && isOpen({ status: "claimed" }) && !isOpen({ status: "done" }));
  assert.equal(telHref("06 123 45 678"), "tel:0612345678");
  assert.equal(telHref("+31 (6) 12"), "tel:+31612");
  assert.equal(telHref(null), "tel:");
  assert.ok(canRoster({ role: "supervisor" }) && canRoster({ role: "admin" }));
  assert.ok(!canRoster({ role: "advisor" }) && !canRoster(null));
  // The places of a tijdvak are the admin's: a supervisor sees no roster field.
  assert.ok(canEditRoster({ role: "admin" }));
  assert.ok(!canEditRoster({ role: "supervisor" }) && !canEditRoster({ role: "advisor" }) && !canEditRoster(null));
  const data = { tijdvakken: [{ callbacks: [{ status: "open" }, { status: "done" }] }, { callbacks: [{ status: "claimed" }] }, {}] };
  assert.equal(openCount(data), 2);
  assert.equal(openCount(null), 0);
});

test("the case list's query follows the filter", () => {
  assert.equal(casesQuery("all", "3"), "");
  assert.equal(casesQuery("due", "3"), "?due_within_days=3");
  assert.equal(casesQuery("due", ""), "?due_within_days=0");
  assert.equal(casesQuery("due", "3&x=1"), "?due_within_days=3%26x%3D1");
  assert.equal(casesQuery("overdue"), "?overdue=true");
  assert.equal(casesQuery("dead"), "?status=dead");
});

test("a case's transcript: messages by seq, notes before the first later message, junk left out", () => {
  const ho = {
    transcript: [{ seq: 2, at: "2026-12-01T08:02:00Z" }, null, { seq: 1, at: "2026-12-01T08:01:00Z" }],
    notes: [{ id: "late", at: "2026-12-01T09:00:00Z" }, { id: "mid", at: "2026-12-01T08:01:30Z" }, "x"]
  };
  const order = caseTimeline(ho).map((x) => (x.msg ? "m" + x.msg.seq : "n:" + x.note.id));
  assert.deepEqual(order, ["m1", "n:mid", "m2", "n:late"]);
  assert.deepEqual(caseTimeline({}), []);
});

test("the time zone follows the configuration; an unknown one changes nothing", async () => {
  const days = await import("../state/days.js");
  assert.equal(days.setTimeZone("Not/AZone"), false);
  assert.equal(days.TZ, "Europe/Amsterdam");
  assert.equal(days.setTimeZone("America/New_York"), true);
  assert.equal(days.localDay("2026-12-01T03:00:00Z"), "2026-11-30");
  assert.equal(days.setTimeZone("Europe/Amsterdam"), true);
  assert.equal(days.localDay("2026-12-01T03:00:00Z"), "2026-12-01");
});
