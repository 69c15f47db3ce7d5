/* Unit tests of state/config.js: what GET /api/agent/config answers, checked before use. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { parseConfig, namesById } from "../state/config.js";

test("a full answer is taken as it is", () => {
  const c = parseConfig({
    teams: [{ id: "kind", name: "Kind", crisis: false }, { id: "crisis", name: "Crisisdienst", crisis: true }],
    expertise: [{ id: "eer", name: "Eergerelateerd geweld" }],
    phone: { advice: "0800-2000", emergency: "112" },
    chat_hours: "mon-fri 09:00-17:00", callback_hours: "mon-fri 09:00-17:00", timezone: "Europe/Amsterdam"
  });
  assert.deepEqual(c.teams.map((x) => x.id), ["kind", "crisis"]);
  assert.equal(c.teams[1].crisis, true);
  assert.deepEqual(c.phone, { advice: "0800-2000", emergency: "112" });
  assert.equal(c.chatHours, "mon-fri 09:00-17:00");
  assert.deepEqual(namesById(c.expertise), { eer: "Eergerelateerd geweld" });
});

test("malformed entries are left out; without the lists there is no config", () => {
  const c = parseConfig({ teams: [null, { id: "", name: "x" }, { id: "a", name: 3 }, { id: "b", name: "B", crisis: "yes" }], expertise: [] });
  assert.deepEqual(c.teams, [{ id: "b", name: "B", crisis: false }]);
  assert.deepEqual(c.phone, { advice: null, emergency: null });
  assert.equal(c.chatHours, null);
  assert.equal(parseConfig(null), null);
  assert.equal(parseConfig({ teams: [] }), null);
  assert.equal(parseConfig({ error: { code: "unauthorized" } }), null);
});
