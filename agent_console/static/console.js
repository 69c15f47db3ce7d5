/* Veilig Thuis — adviseursconsole. Vanilla JS, no build step.
 * Talks to the `/agent` Socket.IO namespace (see docs/protocol.md). Message text is always
 * rendered with textContent, never as HTML. The token lives in sessionStorage only. */
(function () {
  "use strict";

  var KEY_TOKEN = "vt.console.token";
  var KEY_AGENT = "vt.console.agent";
  var KEY_DRAFTS = "vt.console.drafts";
  var KEY_OUTBOX = "vt.console.outbox";
  var KEY_EXPIRES = "vt.console.expires";
  var CALL_TIMEOUT_MS = 8000;

  var LABELS = {
    caller_type: { kind: "Kind", jongere: "Jongere", volwassene: "Volwassene", professional: "Professional" },
    intent: { advies: "Advies", melding: "Melding", weet_niet: "Weet het nog niet" },
    team: { jeugd: "Team jeugd", volwassenen: "Team volwassenen", professionals: "Team professionals", crisis: "Team crisis" },
    missing: { summary: "samenvatting", urgency: "urgentie", gemeente: "gemeente" }
  };

  // ---- small helpers -------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function label(kind, value) { return (LABELS[kind] && LABELS[kind][value]) || String(value || "—"); }
  function store(key, value) {
    try {
      if (loggingOut && value !== null) return;
      if (value === null || value === undefined) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage full or blocked: memory still holds it */ }
  }
  function load(key, fallback) {
    try { var v = sessionStorage.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
  }
  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Amsterdam" });
  }
  function waited(iso) {
    var s = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)), ss = String(sec).padStart(2, "0");
    return (h ? h + ":" : "") + mm + ":" + ss;
  }
  function errorOf(res) { return res && typeof res === "object" && res.error ? res.error : null; }
  function errorText(err, fallback) { return (err && err.message) || fallback || "Er ging iets mis. Probeer het opnieuw."; }

  // ---- state ---------------------------------------------------------------------------

  var token = load(KEY_TOKEN, null);
  var agent = load(KEY_AGENT, null);
  var drafts = load(KEY_DRAFTS, {});          // {conversationId: {message, note}}
  var outbox = load(KEY_OUTBOX, []);          // [{conversation_id, client_id, text}]
  var socket = null;
  var queueVersion = -1;
  var queueItems = [];
  var convs = new Map();                      // id -> conversation state
  var activeId = null;
  var closingId = null;
  var reloginOpen = false;
  var loggingOut = false;
  var inFlight = new Map();                   // client_id -> attempt number being sent now
  var attempts = 0;

  // ---- attention: beep + title flash ---------------------------------------------------

  var baseTitle = document.title;
  var flashTimer = null;
  var audio = null;

  function unlockAudio() {
    try {
      if (!audio) { var C = window.AudioContext || window.webkitAudioContext; if (C) audio = new C(); }
      if (audio && audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }
  function beep() {
    if (!audio) return;
    try {
      var t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.setValueAtTime(880, t);
      osc.frequency.setValueAtTime(660, t + 0.12);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(t); osc.stop(t + 0.32);
    } catch (e) { /* no sound available */ }
  }
  function flashTitle(text) {
    if (flashTimer) return;
    var on = false;
    flashTimer = setInterval(function () {
      on = !on;
      document.title = on ? "● " + text : baseTitle;
    }, 1000);
    document.title = "● " + text;
  }
  function stopFlash() {
    if (flashTimer) { clearInterval(flashTimer); flashTimer = null; }
    document.title = baseTitle;
  }
  function attention(text, conversationId) {
    var unseen = document.hidden || !document.hasFocus() || (conversationId && conversationId !== activeId);
    if (!unseen) return;
    beep();
    if (document.hidden || !document.hasFocus() || conversationId !== activeId) flashTitle(text);
  }
  function seen() {
    if (document.hidden) return;
    var c = activeId && convs.get(activeId);
    if (c && c.unread) { c.unread = 0; renderTab(c); }
    if (!anyUnread()) stopFlash();
  }
  document.addEventListener("visibilitychange", seen);
  window.addEventListener("focus", seen);
  document.addEventListener("pointerdown", unlockAudio, { passive: true });
  document.addEventListener("keydown", unlockAudio);

  function announce(text) {
    var a = $("announcer");
    a.textContent = "";
    setTimeout(function () { a.textContent = text; }, 30);
  }

  // ---- views ---------------------------------------------------------------------------

  function showLogin() {
    $("login-view").hidden = false;
    $("work-view").hidden = true;
    $("session-bar").hidden = true;
    setTimeout(function () { $("login-username").focus(); }, 0);
  }
  function showWork() {
    $("login-view").hidden = true;
    $("work-view").hidden = false;
    $("session-bar").hidden = false;
    $("agent-name").textContent = agent ? agent.name : "";
  }
  function setConn(state, text) {
    var c = $("conn");
    c.className = "conn conn-" + state;
    c.textContent = text;
  }

  async function postLogin(username, password) {
    var r;
    try {
      r = await fetch("/api/agent/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: username, password: password }),
        credentials: "omit",
        cache: "no-store"
      });
    } catch (e) {
      return { error: { message: "De server is niet bereikbaar. Controleer de verbinding en probeer het opnieuw." } };
    }
    var body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.ok && body && body.token) return body;
    if (body && body.error) return body;
    if (r.status === 429) return { error: { message: "Te veel pogingen. Wacht even en probeer het dan opnieuw." } };
    if (r.status === 401) return { error: { message: "Gebruikersnaam of wachtwoord klopt niet." } };
    return { error: { message: "Inloggen lukt nu niet. Probeer het later opnieuw." } };
  }

  var expiryTimer = null;
  function watchExpiry() {
    clearTimeout(expiryTimer);
    var at = load(KEY_EXPIRES, 0);
    if (!at) return;
    var ms = Math.max(0, at - Date.now());
    if (ms > 2147483000) return;
    expiryTimer = setTimeout(askRelogin, ms);
  }

  function rememberSession(body, username) {
    if (body.expires_in) store(KEY_EXPIRES, Date.now() + body.expires_in * 1000 - 30000);
    watchExpiry();
    token = body.token;
    agent = Object.assign({}, body.agent, { username: username });
    store(KEY_TOKEN, token);
    store(KEY_AGENT, agent);
  }

  $("login-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    unlockAudio();
    var u = $("login-username").value.trim(), p = $("login-password").value, err = $("login-error");
    err.hidden = true;
    if (!u || !p) { err.textContent = "Vul je gebruikersnaam en wachtwoord in."; err.hidden = false; return; }
    $("login-submit").disabled = true;
    var body = await postLogin(u, p);
    $("login-submit").disabled = false;
    if (body.error) {
      err.textContent = errorText(body.error);
      err.hidden = false;
      $("login-password").value = "";
      $("login-password").focus();
      return;
    }
    $("login-password").value = "";
    rememberSession(body, u);
    showWork();
    connect();
  });

  // ---- session expiry: log in again without losing anything ----------------------------

  function askRelogin() {
    if (reloginOpen) return;
    reloginOpen = true;
    setConn("off", "Sessie verlopen");
    var d = $("relogin-dialog");
    $("relogin-username").value = (agent && agent.username) || $("login-username").value || "";
    $("relogin-password").value = "";
    $("relogin-error").hidden = true;
    if (!d.open) d.showModal();
    ($("relogin-username").value ? $("relogin-password") : $("relogin-username")).focus();
  }
  $("relogin-dialog").addEventListener("cancel", function (e) { e.preventDefault(); });
  $("relogin-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var u = $("relogin-username").value.trim(), p = $("relogin-password").value, err = $("relogin-error");
    err.hidden = true;
    if (!u || !p) { err.textContent = "Vul je gebruikersnaam en wachtwoord in."; err.hidden = false; return; }
    $("relogin-submit").disabled = true;
    var body = await postLogin(u, p);
    $("relogin-submit").disabled = false;
    if (body.error) { err.textContent = errorText(body.error); err.hidden = false; $("relogin-password").value = ""; return; }
    if (agent && body.agent && agent.id !== body.agent.id) {
      // Another person: nothing of the previous advisor may stay on screen.
      store(KEY_DRAFTS, null); store(KEY_OUTBOX, null);
      rememberSession(body, u);
      location.reload();
      return;
    }
    rememberSession(body, u);
    reloginOpen = false;
    $("relogin-dialog").close();
    showWork();
    // A connection keeps the token it connected with: connect again with the new one.
    if (socket) { if (socket.connected) socket.disconnect(); socket.connect(); } else { connect(); }
  });

  // ---- logout -------------------------------------------------------------------------

  $("logout").addEventListener("click", function () { $("logout-dialog").showModal(); $("logout-cancel").focus(); });
  $("logout-dialog").addEventListener("close", function () {
    if ($("logout-dialog").returnValue !== "confirm") return;
    if (socket) socket.disconnect();
    loggingOut = true;
    [KEY_TOKEN, KEY_AGENT, KEY_DRAFTS, KEY_OUTBOX, KEY_EXPIRES].forEach(function (k) { store(k, null); });
    token = null; agent = null; drafts = {}; outbox = [];
    location.replace("/console");
  });

  // ---- socket --------------------------------------------------------------------------

  function connect() {
    if (typeof io !== "function") { setConn("off", "Chatclient niet geladen"); return; }
    if (socket) { if (!socket.connected) socket.connect(); return; }
    setConn("wait", "Verbinden…");
    socket = io("/agent", {
      auth: function (cb) { cb({ token: token }); },
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      timeout: 8000
    });
    socket.on("connect", onConnected);
    socket.on("disconnect", function (reason) {
      setConn("off", "Verbinding verbroken — opnieuw verbinden…");
      convs.forEach(function (c) { c.syncing = false; });
      inFlight.clear(); // their acks will not come; everything pending is sent again on reconnect
      if (reason === "io server disconnect") {
        // The server closed us (e.g. an expired token): connecting again shows why.
        setTimeout(function () { if (socket && !socket.connected && !reloginOpen) socket.connect(); }, 500);
      }
    });
    socket.on("connect_error", function (err) {
      var code = err && err.data && err.data.error && err.data.error.code;
      if (code === "unauthorized") { askRelogin(); return; }
      setConn("off", "Geen verbinding — opnieuw proberen…");
    });
    socket.on("queue", applyQueue);
    socket.on("mine", applyMine);
    socket.on("message", onMessage);
    socket.on("note", onNote);
    socket.on("typing", onTyping);
    socket.on("visitor_left", onVisitorLeft);
    socket.on("risk", onRisk);
  }

  function call(event, data) {
    return new Promise(function (resolve, reject) {
      if (!socket || !socket.connected) { reject(new Error("offline")); return; }
      socket.timeout(CALL_TIMEOUT_MS).emit(event, data, function (err, res) {
        if (err) { reject(err); return; }
        var e = errorOf(res);
        if (e && e.code === "unauthorized") askRelogin();
        resolve(res);
      });
    });
  }

  async function onConnected() {
    setConn("on", "Verbonden");
    var res;
    try { res = await call("sync", {}); } catch (e) { return; }
    if (errorOf(res)) return;
    applyQueue(res.queue);
    applyMine(res.mine);
    // Fill every gap of the conversations on screen (also those that ended while we were away).
    convs.forEach(function (c) { loadHistory(c.id); });
    flushOutbox();
  }

  // ---- queue ---------------------------------------------------------------------------

  function applyQueue(q) {
    if (!q || !Array.isArray(q.waiting)) return;
    if (typeof q.version === "number") {
      if (q.version < queueVersion) return; // an older snapshot from another process
      queueVersion = q.version;
    }
    var before = new Set(queueItems.map(function (i) { return i.conversation_id; }));
    queueItems = q.waiting;
    renderQueue();
    var fresh = queueItems.filter(function (i) { return !before.has(i.conversation_id); });
    if (fresh.length && before.size + fresh.length > 0) {
      var danger = fresh.some(function (i) { return i.danger_now; });
      announce(danger ? "Nieuw in de wachtrij: direct gevaar" : "Nieuw gesprek in de wachtrij");
      if (danger || document.hidden || !document.hasFocus()) beep();
      if (document.hidden || !document.hasFocus()) flashTitle(danger ? "Direct gevaar in de wachtrij" : "Nieuw in de wachtrij");
    }
  }

  function renderQueue() {
    // Reorder in place (no rebuild): the list is a live region and must only announce news.
    var list = $("queue");
    var keep = new Map();
    Array.prototype.forEach.call(list.children, function (li) { keep.set(li.dataset.conversationId, li); });
    var wanted = new Set(queueItems.map(function (i) { return i.conversation_id; }));
    keep.forEach(function (li, id) { if (!wanted.has(id)) li.remove(); });
    var prev = null;
    queueItems.forEach(function (item) {
      var li = keep.get(item.conversation_id);
      // Rebuilt when what it shows changed (priority raised, overflow reached).
      if (!li || li.dataset.sig !== itemSig(item)) {
        var fresh = buildQueueItem(item);
        if (li) li.replaceWith(fresh);
        li = fresh;
      }
      var want = prev ? prev.nextSibling : list.firstChild;
      if (want !== li) list.insertBefore(li, want);
      prev = li;
    });
    $("queue-count").textContent = String(queueItems.length);
    $("queue-empty").hidden = queueItems.length > 0;
    tickQueue();
  }

  function itemSig(item) {
    return item.priority + "|" + !!item.overflow;
  }

  function buildQueueItem(item) {
    var li = el("li", "q-item" + (item.danger_now ? " q-danger" : "") + (item.overflow ? " q-overflow" : ""));
    li._item = item;
    li.dataset.sig = itemSig(item);
    li.dataset.conversationId = item.conversation_id;
    li.dataset.since = item.waiting_since;
    var top = el("div", "q-top");
    if (item.danger_now) {
      var d = el("span", "badge badge-danger", "⚠ Direct gevaar");
      top.appendChild(d);
    }
    top.appendChild(el("span", "q-who", label("caller_type", item.caller_type)));
    top.appendChild(el("span", "q-intent", label("intent", item.intent)));
    var wait = el("span", "q-wait");
    wait.setAttribute("aria-label", "Wachttijd");
    top.appendChild(wait);
    li.appendChild(top);
    if (item.topic) li.appendChild(el("p", "q-topic", item.topic));
    var risk = risks.get(item.conversation_id);
    if (risk) li.appendChild(el("p", "q-risk" + (risk.level === "acuut" ? " q-risk-acute" : ""), riskText(risk)));
    if (item.overflow) li.appendChild(el("p", "q-overflow-note", "Wacht langer dan de teamgrens: voor iedereen zichtbaar"));
    var foot = el("div", "q-foot");
    foot.appendChild(el("span", "chip", label("team", item.team)));
    foot.appendChild(el("span", "chip chip-prio prio-" + Math.max(0, Math.min(9, Number(item.priority) || 0)), "Prioriteit " + item.priority));
    var btn = el("button", "btn btn-small " + (item.danger_now ? "btn-danger" : "btn-primary") + " q-accept", "Aannemen");
    btn.type = "button";
    btn.setAttribute("aria-label", "Aannemen: " + label("caller_type", item.caller_type) + ", " + label("intent", item.intent) + (item.danger_now ? ", direct gevaar" : ""));
    btn.addEventListener("click", function () { accept(item.conversation_id, btn); });
    foot.appendChild(btn);
    li.appendChild(foot);
    return li;
  }

  function tickQueue() {
    Array.prototype.forEach.call($("queue").children, function (li) {
      var w = li.querySelector(".q-wait");
      if (w) w.textContent = "wacht " + waited(li.dataset.since);
    });
  }
  setInterval(tickQueue, 1000);

  async function accept(conversationId, btn) {
    var err = $("queue-error");
    err.hidden = true;
    btn.disabled = true;
    var res;
    try { res = await call("accept", { conversation_id: conversationId }); } catch (e) {
      btn.disabled = false;
      err.textContent = "Geen verbinding. Probeer het zo opnieuw."; err.hidden = false; return;
    }
    btn.disabled = false;
    var e2 = errorOf(res);
    if (e2) {
      var msg = e2.code === "capacity_reached"
        ? "Je hebt al het maximum aantal gesprekken" + (e2.limit ? " (" + e2.limit + ")" : "") + ". Sluit eerst een gesprek af."
        : errorText(e2);
      err.textContent = msg; err.hidden = false; return;
    }
    var c = upsertConversation(res.conversation);
    mergeConversation(c, res.conversation);
    activate(c.id);
  }

  // ---- conversations --------------------------------------------------------------------

  function applyMine(m) {
    if (!m || !Array.isArray(m.conversations)) return;
    var ids = new Set();
    m.conversations.forEach(function (s) {
      ids.add(s.id);
      var known = convs.has(s.id);
      var c = upsertConversation(s);
      if (!known || (s.last_seq || 0) > c.maxSeq) loadHistory(c.id);
    });
    convs.forEach(function (c) {
      if (!ids.has(c.id) && c.status === "active" && !c.syncing) {
        // No longer ours: ask the server what happened (ended elsewhere, or by the visitor).
        loadHistory(c.id);
      }
    });
    updateEmpty();
    if (!activeId && convs.size) activate(convs.keys().next().value);
  }

  function upsertConversation(s) {
    var id = s.id;
    var c = convs.get(id);
    if (!c) {
      c = {
        id: id, summary: s, status: s.status || "active", messages: new Map(), notes: new Map(),
        pending: new Map(), unread: 0, maxSeq: 0, nodes: new Map(), typingTimer: null,
        mode: "message", outTyping: false, outTypingTimer: null, lastTypingSent: 0
      };
      convs.set(id, c);
      buildConversation(c);
      outbox.forEach(function (o) { if (o.conversation_id === id) c.pending.set(o.client_id, o); });
      renderLog(c);
    } else {
      c.summary = Object.assign({}, c.summary, s);
      if (s.status) c.status = s.status;
    }
    renderHeader(c);
    renderTab(c);
    return c;
  }

  function mergeConversation(c, view) {
    if (!view) return;
    c.summary = Object.assign({}, c.summary, view, { messages: undefined, notes: undefined });
    if (view.status) c.status = view.status;
    (view.messages || []).forEach(function (m) { addMessage(c, m, false); });
    (view.notes || []).forEach(function (n) { c.notes.set(n.id, n); });
    if (c.status === "closed") {
      dropPending(c);
      setBanner(c, view.close_reason === "visitor_left"
        ? "De bezoeker heeft het gesprek verlaten."
        : view.close_reason === "visitor_gone" ? "De bezoeker is weggegaan." : "Dit gesprek is afgesloten.");
    }
    renderHeader(c); renderLog(c); renderTab(c); updateComposer(c);
  }

  async function loadHistory(id) {
    var c = convs.get(id);
    if (!c || c.syncing) return;
    c.syncing = true;
    var res;
    try { res = await call("history", { conversation_id: id }); } catch (e) { c.syncing = false; return; }
    c.syncing = false;
    var err = errorOf(res);
    if (err) { if (err.code === "not_found" || err.code === "forbidden") removeConversation(c); return; }
    mergeConversation(c, res.conversation);
  }

  function addMessage(c, m, live) {
    if (typeof m.seq !== "number" || c.messages.has(m.seq)) return false;
    c.messages.set(m.seq, m);
    if (m.seq > c.maxSeq) c.maxSeq = m.seq;
    if (live && m.sender === "visitor") {
      if (c.id !== activeId || document.hidden || !document.hasFocus()) {
        c.unread += 1;
      }
      attention("Nieuw bericht", c.id);
      showTyping(c, false);
    }
    return true;
  }

  function onMessage(m) {
    if (!m || !m.conversation_id) return;
    var c = convs.get(m.conversation_id);
    if (!c) { loadHistory(m.conversation_id); return; }
    // A gap (e.g. a missed event): fetch everything.
    if (m.seq > c.maxSeq + 1 && c.maxSeq > 0) loadHistory(c.id);
    if (addMessage(c, m, true)) {
      renderLog(c); renderTab(c);
      if (m.sender === "visitor") announce("Nieuw bericht van de bezoeker");
    }
  }

  function onNote(n) {
    var c = n && convs.get(n.conversation_id);
    if (!c || c.notes.has(n.id)) return;
    c.notes.set(n.id, n);
    renderLog(c);
  }

  function onTyping(t) {
    var c = t && convs.get(t.conversation_id);
    if (c) showTyping(c, !!t.typing);
  }

  function showTyping(c, on) {
    var p = c.panel.querySelector(".typing");
    clearTimeout(c.typingTimer);
    p.textContent = on ? "De bezoeker typt…" : "";
    if (on) c.typingTimer = setTimeout(function () { p.textContent = ""; }, 8000);
  }

  // Risk phrases the server found in a visitor's message, per conversation (shown in the
  // queue card and in the conversation itself).
  var risks = new Map();

  function riskText(r) {
    return (r.level === "acuut" ? "⚠ Acuut risico: " : "Risicosignaal: ") + (r.signals || []).join(", ");
  }

  function onRisk(r) {
    if (!r || !r.conversation_id) return;
    risks.set(r.conversation_id, r);
    var c = convs.get(r.conversation_id);
    if (c) setBanner(c, riskText(r));
    var li = document.querySelector('.q-item[data-conversation-id="' + CSS.escape(r.conversation_id) + '"]');
    if (li) li.replaceWith(buildQueueItem(li._item));
    announce(riskText(r));
    beep();
    if (document.hidden || !document.hasFocus()) flashTitle(r.level === "acuut" ? "Acuut risico" : "Risicosignaal");
  }

  function onVisitorLeft(d) {
    var c = d && convs.get(d.conversation_id);
    if (!c) return;
    c.status = "closed";
    dropPending(c);
    setBanner(c, "De bezoeker heeft het gesprek verlaten.");
    showTyping(c, false);
    renderHeader(c); renderTab(c); updateComposer(c);
    attention("Bezoeker vertrokken", c.id);
    announce("De bezoeker heeft het gesprek verlaten");
  }

  function removeConversation(c) {
    convs.delete(c.id);
    c.panel.remove();
    c.tab.remove();
    delete drafts[c.id]; store(KEY_DRAFTS, drafts);
    dropPending(c);
    if (activeId === c.id) {
      activeId = null;
      if (convs.size) activate(convs.keys().next().value); else $("no-conversation").hidden = false;
    }
    updateEmpty();
  }

  function updateEmpty() {
    $("mine-empty").hidden = convs.size > 0;
    $("no-conversation").hidden = !!activeId && convs.has(activeId);
  }

  // ---- tabs ----------------------------------------------------------------------------

  function renderTab(c) {
    var t = c.tab;
    t.textContent = "";
    var name = el("span", "tab-name", label("caller_type", c.summary.caller_type) + " · " + label("intent", c.summary.intent));
    t.appendChild(name);
    if (c.summary.danger_now) t.appendChild(el("span", "badge badge-danger badge-small", "Gevaar"));
    var sub = el("span", "tab-sub", c.status === "closed" ? "Beëindigd" : (c.summary.topic || label("team", c.summary.team)));
    t.appendChild(sub);
    if (c.unread > 0) {
      var u = el("span", "unread", String(c.unread));
      u.setAttribute("aria-label", c.unread + " ongelezen");
      t.appendChild(u);
    }
    t.classList.toggle("tab-closed", c.status === "closed");
    t.classList.toggle("tab-danger", !!c.summary.danger_now);
    if (!anyUnread() && !document.hidden) stopFlash();
  }

  function anyUnread() {
    var n = 0; convs.forEach(function (c) { n += c.unread; }); return n > 0;
  }

  function activate(id) {
    var c = convs.get(id);
    if (!c) return;
    activeId = id;
    convs.forEach(function (o) {
      var on = o.id === id;
      o.panel.hidden = !on;
      o.tab.setAttribute("aria-selected", on ? "true" : "false");
      o.tab.tabIndex = on ? 0 : -1;
    });
    c.unread = 0;
    renderTab(c);
    updateEmpty();
    scrollDown(c, true);
    c.panel.querySelector(".composer-text").focus({ preventScroll: true });
  }

  $("tabs").addEventListener("keydown", function (e) {
    if (["ArrowDown", "ArrowUp", "Home", "End"].indexOf(e.key) < 0) return;
    var tabs = Array.prototype.slice.call($("tabs").children);
    var i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    var next = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowDown" ? 1 : -1) + tabs.length) % tabs.length;
    tabs[next].focus();
    activate(tabs[next].dataset.conversationId);
    tabs[next].focus();
  });

  // ---- conversation panel -------------------------------------------------------------

  var panelCounter = 0;

  function buildConversation(c) {
    panelCounter += 1;
    var n = panelCounter;
    var frag = $("tpl-conversation").content.cloneNode(true);
    var panel = frag.querySelector(".conv");
    panel.id = "conv-" + n;
    panel.dataset.conversationId = c.id;
    panel.hidden = true;
    var tab = el("button", "tab");
    tab.type = "button";
    tab.id = "tab-" + n;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", panel.id);
    tab.setAttribute("aria-selected", "false");
    tab.tabIndex = -1;
    tab.dataset.conversationId = c.id;
    tab.addEventListener("click", function () { activate(c.id); });
    panel.setAttribute("aria-labelledby", tab.id);

    panel.querySelector(".log").setAttribute("aria-label", "Berichten");
    var radios = panel.querySelectorAll(".modes input");
    radios.forEach(function (r) {
      r.name = "mode-" + n;
      r.addEventListener("change", function () { if (r.checked) setMode(c, r.value); });
    });
    panel.querySelector(".modes").setAttribute("aria-label", "Soort bericht");
    var ta = panel.querySelector(".composer-text");
    ta.id = "composer-" + n;
    panel.querySelector(".composer-label").setAttribute("for", ta.id);
    var d = drafts[c.id] || {};
    ta.value = d.message || "";
    ta.addEventListener("input", function () {
      saveDraft(c, ta.value);
      if (c.mode === "message") sendTyping(c, ta.value.length > 0);
    });
    ta.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(c); }
    });
    ta.addEventListener("blur", function () { if (c.outTyping) sendTyping(c, false); });
    panel.querySelector(".composer").addEventListener("submit", function (e) { e.preventDefault(); submit(c); });
    panel.querySelector(".act-close").addEventListener("click", function () { openClose(c); });
    panel.querySelector(".act-close-tab").addEventListener("click", function () { removeConversation(c); });

    c.panel = panel;
    c.tab = tab;
    $("conversations").appendChild(panel);
    $("tabs").appendChild(tab);
    setMode(c, "message");
  }

  function setMode(c, mode) {
    var ta = c.panel.querySelector(".composer-text");
    var d = drafts[c.id] || {};
    d[c.mode] = ta.value;                              // keep the draft of the mode we leave
    c.mode = mode;
    ta.value = d[mode] || "";
    drafts[c.id] = d; store(KEY_DRAFTS, drafts);
    var form = c.panel.querySelector(".composer");
    form.classList.toggle("composer-note", mode === "note");
    ta.placeholder = mode === "note"
      ? "Interne notitie — niet zichtbaar voor de bezoeker"
      : "Typ je bericht aan de bezoeker…";
    c.panel.querySelector(".composer-label").textContent = mode === "note" ? "Interne notitie" : "Bericht aan de bezoeker";
    c.panel.querySelector(".composer-send").textContent = mode === "note" ? "Notitie opslaan" : "Versturen";
    c.panel.querySelectorAll(".modes input").forEach(function (r) { r.checked = r.value === mode; });
    if (mode === "note" && c.outTyping) sendTyping(c, false);
  }

  function saveDraft(c, text) {
    var d = drafts[c.id] || {};
    d[c.mode] = text;
    drafts[c.id] = d;
    store(KEY_DRAFTS, drafts);
  }

  function sendTyping(c, on) {
    if (c.status !== "active" || !socket || !socket.connected) return;
    clearTimeout(c.outTypingTimer);
    var now = Date.now();
    if (on) {
      if (!c.outTyping || now - c.lastTypingSent > 3000) {
        c.outTyping = true; c.lastTypingSent = now;
        socket.emit("typing", { conversation_id: c.id, typing: true });
      }
      c.outTypingTimer = setTimeout(function () { sendTyping(c, false); }, 4000);
    } else if (c.outTyping) {
      c.outTyping = false;
      socket.emit("typing", { conversation_id: c.id, typing: false });
    }
  }

  function renderHeader(c) {
    var s = c.summary;
    c.panel.querySelector(".conv-name").textContent =
      label("caller_type", s.caller_type) + " — " + label("intent", s.intent);
    var meta = c.panel.querySelector(".conv-meta");
    meta.textContent = "";
    if (s.danger_now) meta.appendChild(el("span", "badge badge-danger", "⚠ Direct gevaar"));
    if (s.topic) meta.appendChild(el("span", "meta-topic", "Onderwerp: " + s.topic));
    if (s.team) meta.appendChild(el("span", "chip", label("team", s.team)));
    if (s.accepted_at) meta.appendChild(el("span", "muted", "aangenomen " + clock(s.accepted_at)));
    var closed = c.status === "closed";
    c.panel.querySelector(".act-close").hidden = closed;
    c.panel.querySelector(".act-close-tab").hidden = !closed;
    c.panel.classList.toggle("conv-danger", !!s.danger_now);
  }

  function setBanner(c, text) {
    var b = c.panel.querySelector(".conv-banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  function updateComposer(c) {
    var closed = c.status === "closed";
    var form = c.panel.querySelector(".composer");
    form.querySelectorAll("textarea, button, input").forEach(function (x) { x.disabled = closed; });
    form.hidden = closed;
  }

  // ---- the log: messages by seq, notes by time, pending at the end ----------------------

  function timeline(c) {
    var msgs = Array.from(c.messages.values()).sort(function (a, b) { return a.seq - b.seq; });
    var notes = Array.from(c.notes.values()).sort(function (a, b) { return String(a.at) < String(b.at) ? -1 : String(a.at) > String(b.at) ? 1 : 0; });
    var out = [], ni = 0;
    msgs.forEach(function (m) {
      var t = new Date(m.at).getTime();
      while (ni < notes.length && new Date(notes[ni].at).getTime() < t) { out.push({ key: "n:" + notes[ni].id, note: notes[ni] }); ni++; }
      out.push({ key: "m:" + m.seq, msg: m });
    });
    for (; ni < notes.length; ni++) out.push({ key: "n:" + notes[ni].id, note: notes[ni] });
    c.pending.forEach(function (p) { out.push({ key: "p:" + p.client_id, pending: p }); });
    return out;
  }

  function renderLog(c) {
    var log = c.panel.querySelector(".log");
    var nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    var items = timeline(c);
    var wanted = new Set(items.map(function (i) { return i.key; }));
    c.nodes.forEach(function (node, key) { if (!wanted.has(key)) { node.remove(); c.nodes.delete(key); } });
    var prev = null;
    items.forEach(function (it) {
      var node = c.nodes.get(it.key);
      if (!node) { node = buildItem(it); c.nodes.set(it.key, node); }
      var want = prev ? prev.nextSibling : log.firstChild;
      if (want !== node) log.insertBefore(node, want);
      prev = node;
    });
    scrollDown(c, nearBottom);
  }

  function scrollDown(c, force) {
    if (!force) return;
    var log = c.panel.querySelector(".log");
    requestAnimationFrame(function () { log.scrollTop = log.scrollHeight; });
  }

  function buildItem(it) {
    if (it.note) {
      var li = el("li", "item note");
      li.dataset.noteId = it.note.id;
      li.appendChild(el("p", "note-label", "Interne notitie — niet zichtbaar voor de bezoeker"));
      li.appendChild(el("p", "text", it.note.text));
      li.appendChild(el("p", "when", clock(it.note.at)));
      return li;
    }
    if (it.pending) {
      var lp = el("li", "item msg msg-agent msg-pending");
      lp.dataset.clientId = it.pending.client_id;
      lp.appendChild(el("p", "who", "Jij"));
      lp.appendChild(el("p", "text", it.pending.text));
      lp.appendChild(el("p", "when", "wordt verzonden…"));
      return lp;
    }
    var m = it.msg;
    if (m.sender === "system") {
      var ls = el("li", "item msg-system");
      ls.dataset.seq = String(m.seq);
      ls.appendChild(el("p", "text", m.text));
      return ls;
    }
    var mine = m.sender === "agent";
    var lm = el("li", "item msg " + (mine ? "msg-agent" : "msg-visitor"));
    lm.dataset.seq = String(m.seq);
    lm.appendChild(el("p", "who", mine ? "Adviseur" : "Bezoeker"));
    lm.appendChild(el("p", "text", m.text));
    lm.appendChild(el("p", "when", clock(m.at)));
    return lm;
  }

  // ---- sending: messages (retried with the same client_id) and notes --------------------

  function saveOutbox() {
    outbox = [];
    convs.forEach(function (c) { c.pending.forEach(function (p) { outbox.push(p); }); });
    store(KEY_OUTBOX, outbox);
  }

  function dropPending(c) {
    if (!c.pending.size) return;
    c.pending.clear();
    saveOutbox();
  }

  function composerError(c, text) {
    var e = c.panel.querySelector(".composer-error");
    e.textContent = text || "";
    e.hidden = !text;
  }

  async function submit(c) {
    var ta = c.panel.querySelector(".composer-text");
    var text = ta.value;
    if (!text.trim()) return;
    composerError(c, "");
    if (c.mode === "note") {
      var res;
      try { res = await call("note", { conversation_id: c.id, text: text }); } catch (e) {
        composerError(c, "Geen verbinding: de notitie is niet opgeslagen. Probeer het zo opnieuw."); return;
      }
      var err = errorOf(res);
      if (err) { composerError(c, errorText(err)); return; }
      c.notes.set(res.id, { id: res.id, text: text, at: new Date().toISOString(), internal: true });
      ta.value = ""; saveDraft(c, "");
      renderLog(c); scrollDown(c, true);
      return;
    }
    var p = { conversation_id: c.id, client_id: newClientId(), text: text };
    c.pending.set(p.client_id, p);
    saveOutbox();
    ta.value = ""; saveDraft(c, "");
    sendTyping(c, false);
    renderLog(c); scrollDown(c, true);
    deliver(p);
  }

  async function deliver(p) {
    if (inFlight.has(p.client_id)) return;
    var c = convs.get(p.conversation_id);
    if (!c || !socket || !socket.connected) return;
    var attempt = ++attempts;
    inFlight.set(p.client_id, attempt);
    var res;
    try { res = await call("message", { conversation_id: p.conversation_id, client_id: p.client_id, text: p.text }); } catch (e) {
      if (inFlight.get(p.client_id) === attempt) {
        inFlight.delete(p.client_id);
        // No answer: the same client_id again (the server stores it once). Also on reconnect.
        setTimeout(function () { if (c.pending.has(p.client_id)) deliver(p); }, 1500);
      }
      return;
    }
    if (inFlight.get(p.client_id) === attempt) inFlight.delete(p.client_id);
    if (!c.pending.has(p.client_id)) return; // answered by an earlier attempt already
    var err = errorOf(res);
    if (err) {
      if (err.code === "unauthorized") return; // kept; sent again after logging in
      if (err.code === "rate_limited" || err.code === "internal") { setTimeout(function () { deliver(p); }, 3000); return; }
      c.pending.delete(p.client_id); saveOutbox(); renderLog(c);
      // Give the text back so nothing typed is lost.
      var ta = c.panel.querySelector(".composer-text");
      if (c.mode === "message" && !ta.value) { ta.value = p.text; saveDraft(c, p.text); }
      composerError(c, "Niet verzonden: " + errorText(err));
      return;
    }
    c.pending.delete(p.client_id);
    saveOutbox();
    addMessage(c, { id: res.id, seq: res.seq, at: res.at, sender: "agent", text: p.text }, false);
    renderLog(c);
  }

  function flushOutbox() {
    convs.forEach(function (c) { c.pending.forEach(function (p) { deliver(p); }); });
  }

  // ---- closing with an outcome -------------------------------------------------------

  function openClose(c) {
    closingId = c.id;
    var f = $("close-form");
    f.reset();
    $("close-error").hidden = true;
    f.querySelectorAll("[aria-invalid]").forEach(function (x) { x.removeAttribute("aria-invalid"); });
    $("close-dialog").showModal();
    f.querySelector("input[name=kind]:checked").focus();
    updateKindHints();
  }
  function updateKindHints() {
    var melding = $("close-form").querySelector("input[name=kind]:checked").value === "melding";
    $("close-form").classList.toggle("is-melding", melding);
  }
  $("close-form").querySelectorAll("input[name=kind]").forEach(function (r) { r.addEventListener("change", updateKindHints); });
  $("close-cancel").addEventListener("click", function () { $("close-dialog").close(); closingId = null; });

  function showCloseError(missing, serverMessage) {
    var f = $("close-form");
    var fields = { summary: $("close-summary"), urgency: $("close-urgency"), gemeente: $("close-gemeente") };
    Object.keys(fields).forEach(function (k) {
      if (missing.indexOf(k) >= 0) fields[k].setAttribute("aria-invalid", "true"); else fields[k].removeAttribute("aria-invalid");
    });
    var names = missing.map(function (k) { return label("missing", k); });
    var text = serverMessage || "";
    if (names.length) text = (text ? text + " " : "") + "Vul nog in: " + names.join(", ") + ".";
    var e = $("close-error");
    e.textContent = text;
    e.hidden = false;
    var first = missing.length && fields[missing[0]];
    if (first) first.focus();
    f.classList.add("was-validated");
  }

  $("close-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var c = convs.get(closingId);
    if (!c) { $("close-dialog").close(); return; }
    var f = $("close-form");
    var outcome = { kind: f.querySelector("input[name=kind]:checked").value };
    var summary = $("close-summary").value.trim(), urgency = $("close-urgency").value, gemeente = $("close-gemeente").value.trim();
    if (summary) outcome.summary = summary;
    if (urgency) outcome.urgency = urgency;
    if (gemeente) outcome.gemeente = gemeente;
    var exp = Array.prototype.map.call(f.querySelectorAll("input[name=expertise]:checked"), function (x) { return x.value; });
    if (exp.length) outcome.expertise = exp;
    if (outcome.kind === "melding") {
      var missing = ["summary", "urgency", "gemeente"].filter(function (k) { return !outcome[k]; });
      if (missing.length) { showCloseError(missing, "Een melding is nog niet compleet."); return; }
    }
    $("close-submit").disabled = true;
    var res;
    try { res = await call("close", { conversation_id: c.id, outcome: outcome }); } catch (x) {
      $("close-submit").disabled = false;
      showCloseError([], "Geen verbinding: het gesprek is nog niet afgesloten. Probeer het zo opnieuw."); return;
    }
    $("close-submit").disabled = false;
    var err = errorOf(res);
    if (err) {
      if (err.code === "outcome_incomplete") { showCloseError(err.missing || [], errorText(err)); return; }
      if (err.code === "closed") { /* already over */ } else { showCloseError([], errorText(err)); return; }
    }
    $("close-dialog").close();
    closingId = null;
    announce("Gesprek afgesloten");
    delete drafts[c.id]; store(KEY_DRAFTS, drafts);
    removeConversation(c);
  });

  // ---- start -----------------------------------------------------------------------------

  window.addEventListener("beforeunload", function () {
    if (loggingOut) return;
    store(KEY_DRAFTS, drafts); saveOutbox();
  });

  if (token) { showWork(); connect(); watchExpiry(); } else { showLogin(); }
})();
