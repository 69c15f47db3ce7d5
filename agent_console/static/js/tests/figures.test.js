/* Unit tests of the Cijfers view's state (no DOM): the query, and the figures shaped into chart
 * series and table rows. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { CHARTS, chartData, csvName, defaultPeriod, figuresQuery, hasFigures, periodRows, tableRows } from "../state/figures.js";

const body = {
  from: "2026-11-30", to: "2026-12-01", group: "day", team: null,
  rows: [],
  totals: [
    { period: "2026-11-30", team: "all", chats_offered: 4, chats_answered: 3, chats_abandoned: 1, wait_p50_s: 30, wait_p90_s: 90 },
    { period: "2026-12-01", team: "all", chats_offered: 1, chats_answered: 0, chats_abandoned: 1, wait_p50_s: null, wait_p90_s: null },
  ],
};

test("the query checks the period and group and encodes the team", () => {
  assert.equal(figuresQuery("2026-11-30", "2026-12-01", "week", "", null), "?from=2026-11-30&to=2026-12-01&group=week");
  assert.equal(figuresQuery("2026-11-30", "2026-12-01", "day", "jeugd", "csv"), "?from=2026-11-30&to=2026-12-01&group=day&team=jeugd&format=csv");
  assert.equal(figuresQuery("2026-12-01", "2026-11-30", "day", "", null), null);
  assert.equal(figuresQuery("2026-11-30", "2026-12-01", "year", "", null), null);
  assert.equal(figuresQuery("", "2026-12-01", "day", "", null), null);
  assert.equal(figuresQuery("2026-11-30", "2026-12-01", "day", "a&b=c", null), "?from=2026-11-30&to=2026-12-01&group=day&team=a%26b%3Dc");
  assert.deepEqual(defaultPeriod("2026-12-01"), { from: "2026-11-02", to: "2026-12-01" });
  assert.equal(csvName("2026-11-30", "2026-12-01"), "cijfers-2026-11-30-2026-12-01.csv");
});

test("figures become uPlot series (null where unknown) and table rows ('—')", () => {
  const rows = periodRows(body);
  const wait = chartData(rows, ["wait_p50_s", "wait_p90_s"]);
  assert.deepEqual(wait.labels, ["2026-11-30", "2026-12-01"]);
  assert.deepEqual(wait.data, [[0, 1], [30, null], [90, null]]);
  assert.deepEqual(tableRows(rows, ["chats_offered", "wait_p50_s"]), [
    { period: "2026-11-30", cells: ["4", "30"] },
    { period: "2026-12-01", cells: ["1", "—"] },
  ]);
  assert.ok(hasFigures(rows));
  assert.ok(!hasFigures([{ period: "2026-11-30", chats_offered: 0 }]));
  assert.deepEqual(periodRows({}), []);
  assert.ok(CHARTS.every((c) => c.figures.length > 0 && c.title.startsWith("fg")));
});

test("talk time and nawerk have a chart (nawerk is recorded now)", () => {
  const time = CHARTS.find((c) => c.id === "time");
  assert.deepEqual(time.figures, ["talk_mean_s", "talk_p50_s", "nawerk_mean_s", "nawerk_p50_s"]);
  const rows = [{ period: "2026-11-30", talk_mean_s: 335.0, talk_p50_s: 345, nawerk_mean_s: 125.0, nawerk_p50_s: 60 }];
  assert.deepEqual(chartData(rows, time.figures).data, [[0], [335], [345], [125], [60]]);
  assert.ok(hasFigures([{ period: "2026-11-30", nawerk_mean_s: 15 }]));
});
