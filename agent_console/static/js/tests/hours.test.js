/* Unit tests of the opening-hours state (no DOM): the editor's lines checked as the server
 * checks them, the week in short, the state in words, and the request bodies. */
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  minutes, readDay, dayLine, patternBody, weekSummary, stateWords, exceptionBody, closeNowBody
} from "../state/hours.js";

test("times are HH:MM, 24:00 only as an end", () => {
  assert.equal(minutes("09:30", false), 570);
  assert.equal(minutes("24:00", true), 1440);
  assert.equal(minutes("24:00", false), null);
  for (const bad of ["9:00", "09:60", "25:00", "09.00", "", "٠٩:00"]) assert.equal(minutes(bad, true), null, bad);
});

test("a day's line: several intervals, and each problem named", () => {
  assert.deepEqual(readDay("19:00-22:00, 09:00-17:00").intervals, [
    { opens: "09:00", closes: "17:00" }, { opens: "19:00", closes: "22:00" }
  ]);
  assert.deepEqual(readDay("").intervals, []);
  assert.deepEqual(readDay("09:00–13:00; 13:00-24:00").intervals.length, 2); // adjoining is fine
  assert.equal(readDay("09:00-17:00, 16:00-18:00").error.key, "ohErrOverlap");
  assert.deepEqual(readDay("09:00-17:00, 16:00-18:00").error.vars, { a: "09:00-17:00", b: "16:00-18:00" });
  assert.equal(readDay("17:00-09:00").error.key, "ohErrInverted");
  assert.equal(readDay("9-17").error.key, "ohErrTime");
  assert.equal(readDay("00:00-01:00,01:00-02:00,02:00-03:00,03:00-04:00,04:00-05:00,05:00-06:00,06:00-07:00").error.key, "ohErrTooMany");
  assert.equal(dayLine([{ opens: "09:00", closes: "17:00" }, { opens: "19:00", closes: "22:00" }]), "09:00-17:00, 19:00-22:00");
});

test("the pattern body, or the problems per day", () => {
  const ok = patternBody({ mon: "09:00-17:00", tue: "", sat: "10:00-12:00" }, true);
  assert.deepEqual(ok.body, {
    days: { mon: [{ opens: "09:00", closes: "17:00" }], sat: [{ opens: "10:00", closes: "12:00" }] },
    closed_on_holidays: true,
  });
  const bad = patternBody({ mon: "17:00-09:00", funday: "09:00-10:00", wed: "09:00-12:00" }, false);
  assert.deepEqual(bad.problems.map((p) => [p.day, p.key]), [["mon", "ohErrInverted"], ["funday", "ohErrDay"]]);
});

test("the week in short groups days with the same hours", () => {
  const hours = [{ opens: "09:00", closes: "17:00" }];
  const days = { mon: hours, tue: hours, wed: hours, thu: hours, fri: hours, sun: [{ opens: "19:00", closes: "22:00" }] };
  assert.deepEqual(weekSummary({ days }), [
    { from: "mon", to: "fri", hours: "09:00–17:00" },
    { from: "sun", to: "sun", hours: "19:00–22:00" },
  ]);
  assert.deepEqual(weekSummary({ days: { mon: hours, wed: hours } }).map((s) => s.from + "-" + s.to), ["mon-mon", "wed-wed"]);
  assert.deepEqual(weekSummary(null), []);
});

test("the state now in words", () => {
  assert.deepEqual(stateWords({ open: true, closes_at: "2026-11-24T22:00:00+01:00" }, "2026-11-24"),
    { key: "ohOpenUntil", vars: { time: "22:00" } });
  assert.equal(stateWords({ open: true, closes_at: null }, "2026-11-24").key, "ohOpenNoEnd");
  const reason = { code: "incident", nl: "Storing", en: "Problem" };
  const closed = stateWords({ open: false, opens_at: "2026-11-24T20:00:00+01:00", reason }, "2026-11-24");
  assert.equal(closed.key, "ohClosedUntil");
  assert.equal(closed.reason, reason);
  assert.deepEqual(stateWords({ open: false, opens_at: "2026-11-25T09:00:00+01:00" }, "2026-11-24").vars,
    { time: "09:00", date: "2026-11-25" });
  assert.equal(stateWords({ open: false, opens_at: null }, "2026-11-24").key, "ohClosedNoEnd");
});

test("exception and close-now bodies", () => {
  assert.deepEqual(exceptionBody({ fromDate: "2026-12-24", open: false, reason: "holiday" }).body,
    { starts_at: "2026-12-24", ends_at: "2026-12-24", open: false, reason: "holiday" });
  assert.deepEqual(exceptionBody({ fromDate: "2026-12-24", fromTime: "19:00", toTime: "22:00", open: true }).body,
    { starts_at: "2026-12-24T19:00", ends_at: "2026-12-24T22:00", open: true });
  assert.equal(exceptionBody({ fromDate: "2026-12-24", fromTime: "22:00", toTime: "19:00", open: true }).error, "ohErrOrder");
  assert.equal(exceptionBody({ fromDate: "2026-12-25", toDate: "2026-12-24", open: true }).error, "ohErrOrder");
  assert.equal(exceptionBody({ fromDate: "24-12-2026", open: true }).error, "ohErrDate");
  assert.equal(exceptionBody({ fromDate: "2026-12-24", open: false, reason: "other", reasonText: "x".repeat(121) }).error, "ohErrReasonLong");
  assert.deepEqual(closeNowBody({ until: "20:00", reason: "incident" }, "2026-11-24", "18:00").body,
    { until: "2026-11-24T20:00", reason: "incident" });
  assert.deepEqual(closeNowBody({ until: "20:00", reason: "other", reasonText: "  Korte  storing " }, "2026-11-24", "18:00").body,
    { until: "2026-11-24T20:00", reason: "other", reason_text: "Korte storing" });
  assert.equal(closeNowBody({ until: "17:00" }, "2026-11-24", "18:00").error, "ohErrPast");
  assert.equal(closeNowBody({ until: "later" }, "2026-11-24", "18:00").error, "ohErrTimeField");
  assert.equal(closeNowBody({ until: "20:00", reason: "other" }, "2026-11-24", "18:00").error, "ohErrReasonText");
});
