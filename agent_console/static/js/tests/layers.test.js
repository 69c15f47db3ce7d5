/* The layering of the console's modules, checked on their source: state/ has no DOM and no
 * network, ui/ never reaches the server except through actions.js, and only net/ and actions.js
 * touch the socket or fetch. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = (dir) => readdirSync(join(root, dir)).filter((f) => f.endsWith(".js")).map((f) => [dir + "/" + f, readFileSync(join(root, dir, f), "utf8")]);
const code = (src) => src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");

test("state/ modules touch no DOM and no network", () => {
  for (const [name, src] of files("state")) {
    assert.doesNotMatch(code(src), /\bdocument\b|\bwindow\b|querySelector|\bfetch\(|\bio\(|from "\.\.\/(ui|net)\//, name);
  }
});

test("ui/ modules reach the server only through actions.js", () => {
  for (const [name, src] of files("ui")) {
    assert.doesNotMatch(code(src), /from "\.\.\/net\/|\bfetch\(|\.emit\(|\bio\(/, name);
  }
});

test("every server event has its one handler in dispatch.js", () => {
  const src = readFileSync(join(root, "dispatch.js"), "utf8");
  const events = [...src.matchAll(/^ {2}(\w+): \w+,?$/gm)].map((m) => m[1]);
  assert.ok(events.length >= 20);
  assert.equal(new Set(events).size, events.length);
  for (const [name, s] of [...files("ui"), ["connection.js", readFileSync(join(root, "connection.js"), "utf8")]]) {
    assert.doesNotMatch(code(s), /\.on\("(?!connect|disconnect|connect_error)/, name);
  }
});
