/* The advisor's status and the supervisors' board (state/workplace.js): no DOM, time passed in. */
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  boardAgents, boardConversations, boardCrises, boardTeamNames, boardTeams, duration, effectiveStatus,
  nawerkLeft, newerBoard, secondsSince
} from "../state/workplace.js";

const T = Date.parse("2026-12-01T09:00:00Z");

test("nawerk counts down and is beschikbaar once its end passed", () => {
  const s = { status: "nawerk", since: "2026-12-01T08:59:30Z", until: "2026-12-01T09:00:30Z" };
  assert.equal(effectiveStatus(s, T).status, "nawerk");
  assert.equal(nawerkLeft(s, T), 30);
  assert.deepEqual(effectiveStatus(s, T + 30000), { status: "beschikbaar", since: s.until, until: null });
  assert.equal(nawerkLeft(s, T + 31000), 0);
  assert.equal(effectiveStatus({ status: "pauze", since: "x", until: "y" }, T).until, null);
  assert.equal(effectiveStatus(null, T).status, "beschikbaar");
  assert.equal(effectiveStatus({ status: "weg" }, T).status, "beschikbaar");
});

test("durations and times since", () => {
  assert.equal(duration(0), "0:00");
  assert.equal(duration(75), "1:15");
  assert.equal(duration(3725), "1:02:05");
  assert.equal(duration(null), "—");
  assert.equal(secondsSince("2026-12-01T08:58:00Z", T), 120);
  assert.equal(secondsSince("2026-12-01T09:01:00Z", T), 0);
  assert.equal(secondsSince("nonsense", T), null);
});

const board = {
  at: "2026-12-01T09:00:00Z",
  conversations: [
    { id: "talk", status: "active", team: "jeugd", waiting_since: "2026-12-01T08:40:00Z", accepted_at: "2026-12-01T08:41:00Z", risk: null, crisis: null, danger_now: false },
    { id: "wait-old", status: "waiting", team: "jeugd", waiting_since: "2026-12-01T08:50:00Z", risk: null, crisis: null, danger_now: false },
    { id: "wait-new", status: "waiting", team: "volwassenen", waiting_since: "2026-12-01T08:55:00Z", risk: "hoog", crisis: null, danger_now: false },
    { id: "crisis", status: "active", team: "crisis", waiting_since: "2026-12-01T08:58:00Z", accepted_at: "2026-12-01T08:58:30Z", risk: "acuut", danger_now: false,
      crisis: { escalated_at: "2026-12-01T08:59:00Z", acknowledged_at: null, acknowledged_by: null, ended_at: null, round: 1 } }
  ],
  agents: [
    { id: "b", name: "Bram", role: "advisor", teams: ["jeugd"], status: "pauze", since: "2026-12-01T08:30:00Z", until: null, online: true, load: 0, limit: 3 },
    { id: "a", name: "Anouk", role: "advisor", teams: ["jeugd"], status: "nawerk", since: "2026-12-01T08:59:00Z", until: "2026-12-01T08:59:30Z", online: true, load: 1, limit: 3 },
    { id: "c", name: "Cor", role: "advisor", teams: ["volwassenen"], status: "beschikbaar", since: null, until: null, online: false, load: 0, limit: 3 },
    { id: "s", name: "Sanne", role: "supervisor", teams: [], status: "beschikbaar", since: "2026-12-01T08:00:00Z", until: null, online: true, load: 0, limit: 3 }
  ],
  teams: [
    { team: "volwassenen", waiting: 1, oldest_waiting_since: "2026-12-01T08:55:00Z", available: 0 },
    { team: "jeugd", waiting: 1, oldest_waiting_since: "2026-12-01T08:50:00Z", available: 1 },
    { team: "crisis", waiting: 0, oldest_waiting_since: null, available: 0 }
  ],
  crises: ["crisis"],
  callbacks: { overdue: 0, oldest_due: null }
};

test("board conversations: open crisis first, then risk, waiting before talking, longest first; filtered by team", () => {
  assert.deepEqual(boardConversations(board, "").map((c) => c.id), ["crisis", "wait-new", "wait-old", "talk"]);
  assert.deepEqual(boardConversations(board, "jeugd").map((c) => c.id), ["wait-old", "talk"]);
  assert.deepEqual(boardCrises(board, "").map((c) => c.id), ["crisis"]);
  assert.deepEqual(boardCrises(board, "jeugd"), []);
});

test("board agents: online first, available first, nawerk that ran out is available; supervisors in every team", () => {
  const rows = boardAgents(board, "", T);
  assert.deepEqual(rows.map((a) => [a.id, a.status]), [["a", "beschikbaar"], ["s", "beschikbaar"], ["b", "pauze"], ["c", "offline"]]);
  assert.deepEqual(boardAgents(board, "volwassenen", T).map((a) => a.id), ["s", "c"]);
});

test("board teams by the oldest wait, the team names, and newer boards only", () => {
  assert.deepEqual(boardTeams(board, "").map((x) => x.team), ["jeugd", "volwassenen", "crisis"]);
  assert.deepEqual(boardTeamNames(board), ["crisis", "jeugd", "volwassenen"]);
  assert.equal(newerBoard(null, board), true);
  assert.equal(newerBoard(board, Object.assign({}, board, { at: "2026-12-01T08:59:59Z" })), false);
  assert.equal(newerBoard(board, { at: "x" }), false);
});
