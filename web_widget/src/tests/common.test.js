// The pure shared modules of the widget and the booking pages: Amsterdam time, the picker's
// grouping by day, the texts. Run by `make test` (node --test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { dayKey, fmtDay, fmtTime, fmtSlot, fmtSlotLong, fmtWhen } from "../common/time.js";
import { groupByDay, settle } from "../common/tijdvak-picker.js";
import { PHONE, TEL, WIDGET, BOOKING, fill, lookup } from "../common/texts.js";

const slot = (start, end) => ({ start, end });

test("times are Amsterdam times, winter and summer", () => {
  assert.equal(fmtTime("2026-12-01T09:00:00Z"), "10:00");
  assert.equal(fmtTime("2026-07-01T09:00:00Z"), "11:00");
  assert.equal(fmtTime("2026-12-01T23:30:00Z"), "00:30");
  assert.equal(fmtTime("2026-12-01T23:30:00Z", "en"), "00:30");
});

test("a tijdvak short, long and in English", () => {
  const s = slot("2026-12-01T09:00:00Z", "2026-12-01T09:45:00Z");
  assert.equal(fmtSlot(s), "di 1 dec, 10:00–10:45");
  assert.equal(fmtSlotLong(s), "dinsdag 1 december, 10:00–10:45 uur");
  assert.equal(fmtSlot(s, "en"), "Tue 1 Dec, 10:00–10:45");
  assert.equal(fmtDay(s.start, true, "en"), "Tuesday 1 December");
});

test("fmtWhen says om / at; a bad instant is given back as it came", () => {
  assert.equal(fmtWhen("2026-12-01T07:00:00Z"), "dinsdag 1 december om 08:00");
  assert.equal(fmtWhen("2026-12-01T07:00:00Z", "en"), "Tuesday 1 December at 08:00");
  assert.equal(fmtWhen("not a date"), "not a date");
});

test("the day is the Amsterdam day, also around midnight and the clock change", () => {
  assert.equal(dayKey("2026-12-01T22:59:00Z"), "2026-12-01");
  assert.equal(dayKey("2026-12-01T23:00:00Z"), "2026-12-02");
  assert.equal(dayKey("2026-03-28T23:30:00Z"), "2026-03-29"); // night of the change to summer time
  assert.equal(dayKey("2026-10-25T22:30:00Z"), "2026-10-25"); // after the change back: UTC+1
  assert.equal(dayKey("garbage-in"), "garbage-in");
});

test("tijdvakken are grouped by Amsterdam day, in the order they came", () => {
  const a = slot("2026-12-01T08:00:00Z", "2026-12-01T08:45:00Z");
  const b = slot("2026-12-01T22:30:00Z", "2026-12-01T23:15:00Z"); // 23:30 Amsterdam, still the 1st
  const c = slot("2026-12-01T23:00:00Z", "2026-12-01T23:45:00Z"); // 00:00 on the 2nd
  const { days, byDay } = groupByDay([a, b, c]);
  assert.deepEqual(days, ["2026-12-01", "2026-12-02"]);
  assert.deepEqual(byDay["2026-12-01"], [a, b]);
  assert.deepEqual(byDay["2026-12-02"], [c]);
  assert.deepEqual(groupByDay([]), { days: [], byDay: {} });
  assert.deepEqual(groupByDay(null), { days: [], byDay: {} });
});

test("after a reload the choice and day stay only while still free", () => {
  const a = slot("2026-12-01T08:00:00Z", "2026-12-01T08:45:00Z");
  const c = slot("2026-12-02T08:00:00Z", "2026-12-02T08:45:00Z");
  assert.deepEqual(settle([a, c], c, "2026-12-02"), { chosen: c, day: "2026-12-02" });
  assert.deepEqual(settle([a], c, "2026-12-02"), { chosen: null, day: "2026-12-01" });
  assert.deepEqual(settle([a, c], null, null), { chosen: null, day: "2026-12-01" });
  assert.deepEqual(settle([], a, "2026-12-01"), { chosen: null, day: null });
});

test("the phone numbers are written once and filled into every text", () => {
  assert.equal(PHONE.advice, "0800-2000");
  assert.equal(PHONE.emergency, "112");
  assert.equal(TEL["0800-2000"], "tel:08002000");
  assert.equal(TEL["112"], "tel:112");
  for (const tables of [WIDGET, BOOKING]) {
    for (const lang of Object.keys(tables)) {
      for (const [key, text] of Object.entries(tables[lang])) {
        assert.ok(!/\{(advice|emergency)\}/.test(text), `${lang}.${key} still has a phone placeholder`);
      }
    }
  }
  assert.equal(WIDGET.nl.call112, "Bel 112");
  assert.match(BOOKING.nl.generic, /bel 0800-2000\.$/);
});

test("Dutch and English have the same keys; lookups fall back to Dutch, then the key", () => {
  assert.deepEqual(Object.keys(WIDGET.en).sort(), Object.keys(WIDGET.nl).sort());
  assert.equal(lookup(WIDGET, "en", "yes"), "Yes");
  assert.equal(lookup(WIDGET, "xx", "yes"), "Ja");
  assert.equal(lookup(WIDGET, "en", "no-such-key"), "no-such-key");
  assert.equal(lookup(WIDGET, "nl", "queue", { pos: 3 }), "Je bent nummer 3 in de rij.");
  assert.equal(fill("{a} en {a}, {b}", { a: 1 }), "1 en 1, {b}");
});

test("the pages keep no copies of what is shared", async () => {
  const { readFile } = await import("node:fs/promises");
  const here = new URL("..", import.meta.url);
  for (const entry of ["widget/main.js", "afspraak/main.js", "beheer/main.js"]) {
    const code = (await readFile(new URL(entry, here), "utf8")).replace(/^\s*(\/\/|\*).*$/gm, "");
    assert.ok(!/function el\s*\(/.test(code), `${entry} defines its own el()`);
    assert.ok(!/Intl\.DateTimeFormat|Europe\/Amsterdam/.test(code), `${entry} formats time itself`);
    assert.ok(!/0800-?2000|["']112["']|tel:112/.test(code), `${entry} writes a phone number`);
    assert.ok(!/dayKey\(/.test(code), `${entry} groups tijdvakken itself`);
  }
});
