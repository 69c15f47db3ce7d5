/* Unit tests of net/: acks with a timeout and the offline case (a fake socket.io client), and
 * HTTP answers, errors and a refused token (a fake fetch). No server here: the e2e tests drive
 * the real one. */
import { test } from "node:test";
import assert from "node:assert/strict";

import * as sock from "../net/socket.js";
import { api, apiError, apiFile, configureApi, postLogin } from "../net/api.js";

// A stand-in for the socket.io client: records emits; `answer` decides each ack.
function fakeIo(answer) {
  const emitted = [];
  const handlers = {};
  const socket = {
    connected: false,
    on(name, fn) { handlers[name] = fn; },
    connect() { this.connected = true; },
    disconnect() { this.connected = false; },
    emit(event, data) { emitted.push({ event, data }); },
    timeout(ms) {
      return { emit: (event, data, ack) => { emitted.push({ event, data, ms }); answer(event, data, ack); } };
    }
  };
  const io = (ns, opts) => { socket.ns = ns; socket.opts = opts; return socket; };
  return { io, socket, emitted, handlers };
}

test("the socket: one connection, the table's handlers, acks, timeouts and a refused token", async () => {
  const fake = fakeIo((event, data, ack) => {
    if (event === "slow") ack(new Error("operation has timed out"));
    else if (event === "expired") ack(null, { error: { code: "unauthorized" } });
    else ack(null, { ok: true, echo: data });
  });
  globalThis.io = fake.io;
  let refused = 0;
  let token = "t1";
  await assert.rejects(sock.call("sync", {}), /offline/); // nothing connected yet
  const handlers = { queue: () => {}, offer: () => {} };
  sock.connect(() => token, handlers, { connect: () => {} }, () => { refused += 1; });
  assert.equal(fake.socket.ns, "/agent");
  assert.deepEqual(Object.keys(fake.handlers).sort(), ["connect", "offer", "queue"]);
  let sent = null;
  fake.socket.opts.auth((a) => { sent = a; });
  assert.deepEqual(sent, { token: "t1" });
  token = "t2"; // a new login: the next (re)connect sends the new token
  fake.socket.opts.auth((a) => { sent = a; });
  assert.deepEqual(sent, { token: "t2" });

  assert.equal(sock.connected(), false);
  await assert.rejects(sock.call("sync", {}), /offline/);
  fake.socket.connect();
  assert.deepEqual(await sock.call("accept", { conversation_id: "c" }), { ok: true, echo: { conversation_id: "c" } });
  assert.equal(fake.emitted.at(-1).ms, sock.CALL_TIMEOUT_MS);
  await assert.rejects(sock.call("slow", {}, 50), /timed out/);
  assert.deepEqual(sock.errorOf(await sock.call("expired", {})), { code: "unauthorized" });
  assert.equal(refused, 1);
  sock.send("typing", { conversation_id: "c", typing: true });
  assert.deepEqual(fake.emitted.at(-1), { event: "typing", data: { conversation_id: "c", typing: true } });
  sock.reconnect();
  assert.equal(sock.connected(), true);
  sock.disconnect();
  sock.send("typing", {}); // offline: dropped, not thrown
  assert.equal(fake.emitted.at(-1).event, "typing");
  assert.equal(sock.errorOf({ ok: true }), null);
  assert.equal(sock.errorOf(null), null);
});

function fakeFetch(reply) {
  const asked = [];
  globalThis.fetch = async (path, opts) => { asked.push({ path, opts }); return reply(path, opts); };
  return asked;
}
const answer = (status, body) => ({ status, ok: status >= 200 && status < 300, json: async () => { if (body === undefined) throw new SyntaxError("no json"); return body; } });

test("api: the Bearer token, {status, body}, errors, offline and a refused token", async () => {
  let refused = 0;
  configureApi({ token: () => "tok", onUnauthorized: () => { refused += 1; } });
  const asked = fakeFetch((path) => (path.endsWith("/x") ? answer(200, { a: 1 }) : path.endsWith("/bad") ? answer(422, { error: { code: "invalid_input", message: "Klopt niet." } }) : path.endsWith("/html") ? answer(502) : answer(401, { error: { code: "unauthorized", message: "Log opnieuw in." } })));
  assert.deepEqual(await api("GET", "/api/agent/x"), { status: 200, body: { a: 1 } });
  assert.equal(asked[0].opts.headers.Authorization, "Bearer tok");
  assert.equal(asked[0].opts.credentials, "omit");
  assert.equal(asked[0].opts.body, undefined);
  await api("POST", "/api/agent/x", { b: 2 });
  assert.equal(asked[1].opts.headers["Content-Type"], "application/json");
  assert.equal(asked[1].opts.body, '{"b":2}');
  const bad = await api("POST", "/api/agent/bad", {});
  assert.deepEqual(apiError(bad), { code: "invalid_input", message: "Klopt niet." });
  assert.deepEqual(await api("GET", "/api/agent/html"), { status: 502, body: null }); // no JSON: no crash
  assert.equal(refused, 0);
  await api("GET", "/api/agent/gone");
  assert.equal(refused, 1);
  globalThis.fetch = async () => { throw new TypeError("Failed to fetch"); };
  assert.deepEqual(await api("GET", "/api/agent/x"), { status: 0, body: null });
  assert.equal(apiError({ status: 0, body: null }), null);
});

test("apiFile: a file as a blob, else the error; offline is status 0", async () => {
  let refused = 0;
  configureApi({ token: () => "tok", onUnauthorized: () => { refused += 1; } });
  const file = { status: 200, ok: true, blob: async () => "csv-blob" };
  const asked = fakeFetch((path) => (path.endsWith("csv") ? file : path.endsWith("403") ? answer(403, { error: { code: "forbidden", message: "Nee." } }) : answer(401)));
  assert.deepEqual(await apiFile("/api/x?format=csv"), { status: 200, blob: "csv-blob" });
  assert.equal(asked[0].opts.headers.Authorization, "Bearer tok");
  assert.equal(asked[0].opts.cache, "no-store");
  assert.equal(apiError(await apiFile("/api/403")).code, "forbidden");
  assert.deepEqual(await apiFile("/api/401"), { status: 401, body: null });
  assert.equal(refused, 1);
  globalThis.fetch = async () => { throw new TypeError("Failed to fetch"); };
  assert.deepEqual(await apiFile("/api/x?format=csv"), { status: 0, body: null });
});

test("login: the token, or an error with a message people can read", async () => {
  fakeFetch(() => answer(200, { token: "t", agent: { id: "a" }, expires_in: 60 }));
  assert.equal((await postLogin("u", "p")).token, "t");
  fakeFetch(() => answer(401, { error: { code: "unauthorized", message: "Gebruikersnaam of wachtwoord klopt niet." } }));
  assert.equal((await postLogin("u", "p")).error.code, "unauthorized");
  fakeFetch(() => answer(429));
  assert.equal((await postLogin("u", "p")).error.message, "Te veel pogingen. Wacht even en probeer het dan opnieuw.");
  fakeFetch(() => answer(401));
  assert.equal((await postLogin("u", "p")).error.message, "Gebruikersnaam of wachtwoord klopt niet.");
  fakeFetch(() => answer(500));
  assert.match((await postLogin("u", "p")).error.message, /lukt nu niet/);
  globalThis.fetch = async () => { throw new TypeError("Failed to fetch"); };
  assert.match((await postLogin("u", "p")).error.message, /niet bereikbaar/);
});
