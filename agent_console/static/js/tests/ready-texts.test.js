/* Unit tests of the ready texts' state (no DOM): filling in placeholders, the picker's search
 * and order, the key that opens it, inserting at the cursor, and the management form's checks. */
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  render, search, unknownPlaceholder, opensPicker, insertAt, readyTextBody, fold
} from "../state/ready-texts.js";

const VALUES = { voornaam: "Fatima", telefoon: "0800-2000", noodnummer: "112", sluitingstijd: "17:00" };
const TEXTS = [
  { id: "1", team: null, lang: "nl", shortcut: "112", title: "Gevaar: bel 112", text: "Ben je nu in gevaar? Bel {noodnummer}." },
  { id: "2", team: null, lang: "en", shortcut: "112", title: "Danger: call 112", text: "Are you in danger right now? Call {noodnummer}." },
  { id: "3", team: null, lang: "nl", shortcut: "veilig", title: "Ben je veilig?", text: "Ben je nu veilig?" },
  { id: "4", team: "jeugd", lang: "nl", shortcut: "hoi", title: "Groet", text: "Hoi, ik ben {voornaam}." },
  { id: "5", team: "volwassenen", lang: "nl", shortcut: "hallo", title: "Groet volwassenen", text: "Goedemiddag, u spreekt met {voornaam}." },
  { id: "6", team: null, lang: "nl", shortcut: "sluiting", title: "De chat sluit", text: "De chat sluit vandaag om {sluitingstijd}. Bel daarna {telefoon}." },
  { id: "7", team: null, lang: "nl", shortcut: "wissen", title: "Wis je geschiedenis", text: "Wis je geschiedenis: Ctrl+Shift+Delete." },
];

test("placeholders are filled; one without a value stays for the advisor to fill in", () => {
  assert.equal(render(TEXTS[0].text, VALUES), "Ben je nu in gevaar? Bel 112.");
  assert.equal(render(TEXTS[5].text, VALUES), "De chat sluit vandaag om 17:00. Bel daarna 0800-2000.");
  assert.equal(render(TEXTS[5].text, { ...VALUES, sluitingstijd: null }), "De chat sluit vandaag om {sluitingstijd}. Bel daarna 0800-2000.");
  assert.equal(render("Hoi {voornaam}, {onbekend} en {}", VALUES), "Hoi Fatima, {onbekend} en {}");
  assert.equal(render("{voornaam}{voornaam}", VALUES), "FatimaFatima");
  // A value is text, never a pattern: "$&" stays "$&".
  assert.equal(render("Hoi {voornaam}", { voornaam: "$&$1" }), "Hoi $&$1");
  assert.equal(render(null, VALUES), "");
});

test("an unknown placeholder is named", () => {
  assert.equal(unknownPlaceholder("Bel {telefoon} of {noodnummer}"), null);
  assert.equal(unknownPlaceholder("Hoi {naam}"), "naam");
  assert.equal(unknownPlaceholder("{VOORNAAM}"), "VOORNAAM");
  assert.equal(unknownPlaceholder("{ voornaam }"), null); // spaces: not a placeholder at all
  assert.equal(unknownPlaceholder(""), null);
});

test("search finds by shortcut, title and text, best match first", () => {
  const ids = (q, o) => search(TEXTS, q, o).map((x) => x.id);
  assert.deepEqual(ids("112", { lang: "nl" }), ["1", "2"]);
  assert.deepEqual(ids("112", { lang: "en" }), ["2", "1"]);
  assert.deepEqual(ids("/veilig"), ["3"]);
  assert.deepEqual(ids("vei"), ["3"]);
  assert.deepEqual(ids("geschiedenis"), ["7"]);
  assert.deepEqual(ids("ctrl delete"), ["7"]); // every word, anywhere
  assert.deepEqual(ids("groet"), ["4", "5"]);
  assert.deepEqual(ids("groet", { team: "volwassenen" }), ["5", "4"]);
  assert.deepEqual(ids("VÉILIG"), ["3"]);
  assert.deepEqual(ids("niets hiervan"), []);
  // Empty: everything, the conversation's team first, then shared, then other teams.
  assert.deepEqual(ids("", { team: "jeugd", lang: "nl" })[0], "4");
  assert.equal(ids("", { team: "jeugd", lang: "nl" }).at(-1), "5");
  assert.equal(search(TEXTS, "").length, TEXTS.length);
  assert.equal(fold("Één"), "een");
});

test("Ctrl+/ opens the picker anywhere, / only in an empty draft", () => {
  assert.ok(opensPicker("/", true, "al iets getypt"));
  assert.ok(opensPicker("/", false, ""));
  assert.ok(!opensPicker("/", false, "en/of"));
  assert.ok(!opensPicker("a", true, ""));
});

test("a text goes in at the cursor, replacing a selection", () => {
  assert.deepEqual(insertAt("", 0, 0, "Ben je nu veilig?"), { draft: "Ben je nu veilig?", cursor: 17 });
  assert.deepEqual(insertAt("Hoi. ", 5, 5, "Ben je veilig?"), { draft: "Hoi. Ben je veilig?", cursor: 19 });
  assert.deepEqual(insertAt("Hoi XXX!", 4, 7, "Sam"), { draft: "Hoi Sam!", cursor: 7 });
  assert.deepEqual(insertAt("abc", 99, 99, "d"), { draft: "abcd", cursor: 4 });
  assert.deepEqual(insertAt("abc", undefined, undefined, "d"), { draft: "abcd", cursor: 4 });
});

test("the management form is checked as the server checks it", () => {
  const good = { team: "", lang: "nl", title: " Groet ", shortcut: "hoi", text: "Hoi, ik ben {voornaam}." };
  assert.deepEqual(readyTextBody(good), { body: { team: null, lang: "nl", title: "Groet", shortcut: "hoi", text: "Hoi, ik ben {voornaam}." } });
  assert.equal(readyTextBody({ ...good, team: "jeugd" }).body.team, "jeugd");
  assert.equal(readyTextBody({ ...good, title: "" }).error, "title");
  assert.equal(readyTextBody({ ...good, title: "x".repeat(81) }).error, "title");
  assert.equal(readyTextBody({ ...good, shortcut: "Met spatie" }).error, "shortcut");
  assert.equal(readyTextBody({ ...good, text: "  " }).error, "text");
  assert.deepEqual(readyTextBody({ ...good, text: "Hoi {naam}" }), { error: "placeholder", placeholder: "naam" });
  assert.equal(readyTextBody({ ...good, lang: "de" }).error, "lang");
});
