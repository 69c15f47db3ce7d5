/* The Medewerkers view's rules (state/accounts.js): who sees it, rows checked and sorted, the
 * new-account form, the changes a row offers (never disabling or demoting yourself), which ask
 * to be confirmed, and the requests sent. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  agentRows, canManageAccounts, changeRequest, changesFor, editRequests, needsConfirm, newAgent, parseTeams, roleEditable,
} from "../state/accounts.js";

const row = (over) => ({ id: "b", username: "bram", name: "Bram", role: "advisor", teams: ["jeugd"], active: true, secondFactor: false, lastLogin: null, ...over });

test("only admins manage accounts", () => {
  assert.ok(canManageAccounts({ role: "admin" }));
  for (const role of ["supervisor", "advisor", "crisis", "privacy_officer"]) assert.ok(!canManageAccounts({ role }), role);
  assert.ok(!canManageAccounts(null));
});

test("rows of the list: checked, junk left out, sorted by name", () => {
  const body = { agents: [
    { id: "2", username: "zoe", name: "Zoë", role: "advisor", teams: ["jeugd", 3], active: true, second_factor: false, last_login: null },
    { id: "1", username: "anna", name: "Anna", role: "admin", teams: [], active: false, second_factor: true, last_login: "2026-12-01T09:00:00+00:00" },
    { id: "3", username: "x", name: "X", role: "king" },
    null, "junk",
  ] };
  const rows = agentRows(body);
  assert.deepEqual(rows.map((r) => r.username), ["anna", "zoe"]);
  assert.deepEqual(rows[1].teams, ["jeugd"]);
  assert.equal(rows[0].active, false);
  assert.equal(rows[0].secondFactor, true);
  assert.equal(rows[0].lastLogin, "2026-12-01T09:00:00+00:00");
  assert.equal(rows[1].lastLogin, null);
  assert.equal(agentRows({}), null);
  assert.equal(agentRows(null), null);
});

test("teams are typed with commas or spaces; a wrong one refuses the lot", () => {
  assert.deepEqual(parseTeams("jeugd, volwassenen"), ["jeugd", "volwassenen"]);
  assert.deepEqual(parseTeams(" jeugd  jeugd,crisis "), ["jeugd", "crisis"]);
  assert.deepEqual(parseTeams(""), []);
  assert.equal(parseTeams("Jeugd"), null);
  assert.equal(parseTeams("jeugd; crisis"), null);
  assert.equal(parseTeams("a"), null);
});

test("the new-account form: a body without a password, or the wrong fields", () => {
  const ok = newAgent({ username: " nina ", name: " Nina  Nieuw ", role: "advisor", teams: "jeugd" });
  assert.deepEqual(ok, { ok: true, body: { username: "nina", name: "Nina Nieuw", role: "advisor", teams: ["jeugd"] } });
  assert.ok(!("password" in ok.body));
  const bad = newAgent({ username: "met spatie", name: "", role: "king", teams: "Jeugd" });
  assert.equal(bad.ok, false);
  assert.deepEqual(Object.keys(bad.errors).sort(), ["name", "role", "teams", "username"]);
  assert.equal(bad.errors.teams, "acBadTeams");
});

test("a row offers no disabling or demoting of yourself; enable only when disabled; 2FA reset only when set", () => {
  const me = { id: "a" };
  assert.deepEqual(changesFor(row(), me), ["edit", "reset-password", "disable"]);
  assert.deepEqual(changesFor(row({ id: "a" }), me), ["edit", "reset-password"]);
  assert.deepEqual(changesFor(row({ active: false, secondFactor: true }), me), ["edit", "reset-password", "reset-2fa", "enable"]);
  assert.ok(!roleEditable(row({ id: "a" }), me) && roleEditable(row(), me));
});

test("changes that lock someone out are confirmed first", () => {
  for (const c of ["disable", "reset-password", "reset-2fa"]) assert.ok(needsConfirm(c), c);
  for (const c of ["enable", "edit", "role", "teams"]) assert.ok(!needsConfirm(c), c);
});

test("the requests: the username encoded in the path, the server makes passwords", () => {
  assert.deepEqual(changeRequest("an/na", "disable"), { path: "/api/admin/agents/an%2Fna/disable", body: {} });
  assert.deepEqual(changeRequest("bram", "reset-password"), { path: "/api/admin/agents/bram/reset-password", body: {} });
  assert.deepEqual(changeRequest("bram", "role", "crisis"), { path: "/api/admin/agents/bram/role", body: { role: "crisis" } });
  assert.equal(changeRequest("bram", "role", "king"), null);
  assert.equal(changeRequest("bram", "delete"), null);
  assert.deepEqual(editRequests(row(), "advisor", "jeugd"), []);
  assert.deepEqual(editRequests(row(), "crisis", "jeugd, crisis").map((r) => r.path), [
    "/api/admin/agents/bram/role", "/api/admin/agents/bram/teams",
  ]);
  assert.equal(editRequests(row(), "advisor", "Jeugd!"), null);
});
