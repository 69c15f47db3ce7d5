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
    expertise: {
      huiselijk_geweld: "Huiselijk geweld en kindermishandeling", stalking: "Stalking",
      schadelijke_praktijken: "Schadelijke traditionele praktijken", ouderenmishandeling: "Ouderenmishandeling",
      complexe_scheiding: "Complexe scheiding", intieme_terreur: "Intieme terreur",
      kindermishandeling: "Kindermishandeling", seksueel_geweld: "Seksueel geweld",
      eergerelateerd_geweld: "Eergerelateerd geweld", mensenhandel: "Mensenhandel"
    },
    missing: { summary: "samenvatting", urgency: "urgentie", gemeente: "gemeente" }
  };

  // Texts of the crisis procedure and transfer: Dutch first, English too (chosen by <html lang>,
  // as the widget does). Elements with data-t in console.html carry the Dutch text already and
  // are switched by applyTexts().
  var LANG = (document.documentElement.lang || "nl").slice(0, 2) === "en" ? "en" : "nl";
  var TEXT = {
    nl: {
      crisisTitle: "Crisis — direct oppakken",
      dismiss: "Melding sluiten",
      ack: "Ik pak dit op",
      acking: "Bezig…",
      byVisitor: "bezoeker",
      bySystem: "risicosignaal",
      byColleague: "een collega",
      escalatedBy: "Geëscaleerd door {who}",
      since: "sinds {time}",
      round: "Herhaald alarm (ronde {n})",
      roundEveryone: "Herhaald alarm (ronde {n}) — naar alle adviseurs",
      statusWaiting: "wacht nog in de wachtrij: wie oppakt, neemt het gesprek aan",
      statusActive: "in gesprek bij een collega",
      statusMine: "in gesprek bij jou",
      statusClosed: "gesprek is al afgesloten",
      noReason: "(geen reden opgegeven)",
      alarmTitle: "CRISIS",
      announceAlert: "Crisisalarm: {reason}",
      announceAcked: "Crisis opgepakt door {who}",
      ackedTaken: "Je hebt de crisis opgepakt en het gesprek aangenomen.",
      ackedHeld: "Je hebt de crisis opgepakt. Het gesprek blijft bij de collega die het voert; die kan het naar jou doorverbinden.",
      ackAlreadyTaken: "Een collega heeft deze crisis al opgepakt.",
      ackForbidden: "Je mag deze crisis (nog) niet oppakken.",
      ackConflict: "Voor dit gesprek loopt geen crisis meer.",
      ackNotFound: "Dit gesprek bestaat niet meer.",
      offline: "Geen verbinding. Probeer het zo opnieuw.",
      crisisProcedure: "Crisisprocedure",
      crisisTimeline: "Verloop van de crisis",
      crisisWaiting: "Crisisdienst gealarmeerd om {time} — wacht tot iemand het oppakt.",
      crisisAcked: "Opgepakt door {who} om {time}.",
      escalateSent: "Crisisdienst gealarmeerd. Je ziet hier wanneer iemand het oppakt.",
      escalateRunning: "Er loopt al een crisisalarm voor dit gesprek.",
      kind_escalated: "Geëscaleerd door {who}",
      kind_alerted: "Alarm ronde {n} naar {audience}",
      kind_acknowledged: "Opgepakt door {who}",
      audience_crisis: "de crisisdienst",
      audience_everyone: "alle adviseurs",
      crisisBadge: "Crisis",
      escalateButton: "Escaleer naar crisisdienst",
      escalateTitle: "Escaleren naar de crisisdienst",
      escalateDesc: "De crisisdienst wordt meteen gealarmeerd, en opnieuw tot iemand het oppakt. De bezoeker krijgt direct te zien: bel 112 bij acuut gevaar. Het gesprek blijft bij jou.",
      escalateReason: "Reden",
      escalateHint: "Wat is er aan de hand? Maximaal 500 tekens; de crisisdienst leest dit in het alarm.",
      escalateSubmit: "Crisisdienst alarmeren",
      escalateMissing: "Vul de reden in.",
      escalateTooLong: "De reden is te lang (maximaal 500 tekens).",
      escalateOffline: "Geen verbinding: de crisisdienst is nog niet gealarmeerd. Probeer het meteen opnieuw of bel de crisisdienst.",
      required: "(verplicht)",
      cancel: "Annuleren",
      transferButton: "Doorverbinden",
      transferTitle: "Doorverbinden",
      transferDesc: "Het gesprek gaat met alle berichten en notities naar een team of een collega. De bezoeker hoort dat je doorverbindt.",
      transferTo: "Doorverbinden naar",
      transferToTeam: "Een team",
      transferToAgent: "Een collega",
      transferSubmit: "Doorverbinden",
      team: "Team",
      colleague: "Collega",
      chooseTeam: "— kies een team —",
      chooseColleague: "— kies een collega —",
      team_jeugd: "Team jeugd",
      team_volwassenen: "Team volwassenen",
      team_professionals: "Team professionals",
      team_crisis: "Team crisis",
      online: "online",
      offline_: "offline",
      groupOnline: "Online",
      groupOffline: "Offline",
      colleaguesLoading: "Collega's worden geladen…",
      colleaguesNone: "Er zijn geen collega's om naar door te verbinden.",
      colleaguesFailed: "De lijst met collega's is niet te laden. Kies een team of probeer het opnieuw.",
      colleaguesCount: "{online} van {total} collega's online.",
      transferMissingTeam: "Kies een team.",
      transferMissingAgent: "Kies een collega.",
      transferCapacity: "Deze collega heeft al het maximum aantal gesprekken{limit}. Kies een ander of een team.",
      transferNotFound: "Dit team of deze collega bestaat niet (meer).",
      transferForbidden: "Dit gesprek is niet (meer) van jou.",
      transferOffline: "Geen verbinding: het gesprek is nog niet doorverbonden. Probeer het zo opnieuw.",
      transferDone: "Gesprek doorverbonden naar {to}.",
      transferredIn: "Doorverbonden door {from}.",
      transferredAnnounce: "Gesprek doorverbonden door {from}",
      offerTitle: "Gesprek aangeboden",
      offerExpiresIn: "Vervalt over",
      offerExpertise: "Expertise",
      offerWaited: "Wacht al",
      offerAccept: "Aannemen",
      offerPass: "Laten passeren",
      offerDanger: "⚠ Direct gevaar",
      offerNone: "geen",
      offerFlash: "Gesprek aangeboden",
      offerAnnounce: "Gesprek aangeboden: {what}. Aannemen of laten passeren.",
      offerSoon: "Het aanbod vervalt over 10 seconden.",
      offerPassed: "Aanbod doorgegeven aan een collega.",
      offerExpired: "Het aangeboden gesprek is vervallen: je hebt niet op tijd gereageerd.",
      offerTaken: "Het aangeboden gesprek is al door een collega aangenomen.",
      offerGone: "Het aangeboden gesprek wacht niet meer in de wachtrij.",
      offerNotOffered: "Dit gesprek wordt je niet meer aangeboden.",
      capacity: "Je hebt al het maximum aantal gesprekken{limit}. Sluit eerst een gesprek af."
    },
    en: {
      crisisTitle: "Crisis — take it on now",
      dismiss: "Dismiss notice",
      ack: "I'll take this",
      acking: "Working…",
      byVisitor: "visitor",
      bySystem: "risk signal",
      byColleague: "a colleague",
      escalatedBy: "Escalated by {who}",
      since: "since {time}",
      round: "Repeated alarm (round {n})",
      roundEveryone: "Repeated alarm (round {n}) — to all advisors",
      statusWaiting: "still waiting in the queue: whoever takes it on accepts the chat",
      statusActive: "in a chat with a colleague",
      statusMine: "in a chat with you",
      statusClosed: "chat already closed",
      noReason: "(no reason given)",
      alarmTitle: "CRISIS",
      announceAlert: "Crisis alarm: {reason}",
      announceAcked: "Crisis taken on by {who}",
      ackedTaken: "You took on the crisis and accepted the chat.",
      ackedHeld: "You took on the crisis. The chat stays with the colleague holding it; they can transfer it to you.",
      ackAlreadyTaken: "A colleague has already taken on this crisis.",
      ackForbidden: "You may not take on this crisis (yet).",
      ackConflict: "This chat is no longer in crisis.",
      ackNotFound: "This chat no longer exists.",
      offline: "No connection. Please try again in a moment.",
      crisisProcedure: "Crisis procedure",
      crisisTimeline: "Course of the crisis",
      crisisWaiting: "Crisis team alerted at {time} — waiting for someone to take it on.",
      crisisAcked: "Taken on by {who} at {time}.",
      escalateSent: "Crisis team alerted. You will see here when someone takes it on.",
      escalateRunning: "A crisis alarm for this chat is already running.",
      kind_escalated: "Escalated by {who}",
      kind_alerted: "Alarm round {n} to {audience}",
      kind_acknowledged: "Taken on by {who}",
      audience_crisis: "the crisis team",
      audience_everyone: "all advisors",
      crisisBadge: "Crisis",
      escalateButton: "Escalate to crisis team",
      escalateTitle: "Escalate to the crisis team",
      escalateDesc: "The crisis team is alerted at once, and again until someone takes it on. The visitor is shown at once: call 112 in acute danger. The chat stays with you.",
      escalateReason: "Reason",
      escalateHint: "What is going on? At most 500 characters; the crisis team reads this in the alarm.",
      escalateSubmit: "Alert the crisis team",
      escalateMissing: "Please give the reason.",
      escalateTooLong: "The reason is too long (at most 500 characters).",
      escalateOffline: "No connection: the crisis team has not been alerted yet. Try again at once or call the crisis team.",
      required: "(required)",
      cancel: "Cancel",
      transferButton: "Transfer",
      transferTitle: "Transfer",
      transferDesc: "The chat goes to a team or a colleague with all messages and notes. The visitor is told you are transferring.",
      transferTo: "Transfer to",
      transferToTeam: "A team",
      transferToAgent: "A colleague",
      transferSubmit: "Transfer",
      team: "Team",
      colleague: "Colleague",
      chooseTeam: "— choose a team —",
      chooseColleague: "— choose a colleague —",
      team_jeugd: "Youth team",
      team_volwassenen: "Adults team",
      team_professionals: "Professionals team",
      team_crisis: "Crisis team",
      online: "online",
      offline_: "offline",
      groupOnline: "Online",
      groupOffline: "Offline",
      colleaguesLoading: "Loading colleagues…",
      colleaguesNone: "There are no colleagues to transfer to.",
      colleaguesFailed: "The list of colleagues cannot be loaded. Choose a team or try again.",
      colleaguesCount: "{online} of {total} colleagues online.",
      transferMissingTeam: "Choose a team.",
      transferMissingAgent: "Choose a colleague.",
      transferCapacity: "This colleague already has the maximum number of chats{limit}. Choose another or a team.",
      transferNotFound: "This team or colleague does not exist (any more).",
      transferForbidden: "This chat is not (or no longer) yours.",
      transferOffline: "No connection: the chat has not been transferred yet. Please try again in a moment.",
      transferDone: "Chat transferred to {to}.",
      transferredIn: "Transferred by {from}.",
      transferredAnnounce: "Chat transferred by {from}",
      offerTitle: "Chat offered to you",
      offerExpiresIn: "Expires in",
      offerExpertise: "Expertise",
      offerWaited: "Waiting for",
      offerAccept: "Accept",
      offerPass: "Let it pass",
      offerDanger: "⚠ In danger now",
      offerNone: "none",
      offerFlash: "Chat offered",
      offerAnnounce: "Chat offered to you: {what}. Accept or let it pass.",
      offerSoon: "The offer expires in 10 seconds.",
      offerPassed: "Offer passed on to a colleague.",
      offerExpired: "The offered chat has expired: you did not answer in time.",
      offerTaken: "A colleague has already accepted the offered chat.",
      offerGone: "The offered chat is no longer waiting in the queue.",
      offerNotOffered: "This chat is no longer offered to you.",
      capacity: "You already have the maximum number of chats{limit}. Close a chat first."
    }
  };
  function t(key, vars) {
    var s = (TEXT[LANG] && TEXT[LANG][key]) || TEXT.nl[key] || key;
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] === undefined || vars[k] === null ? "" : String(vars[k]); });
  }
  function applyTexts(root) {
    if (LANG === "nl") return; // the HTML is written in Dutch
    root.querySelectorAll("[data-t]").forEach(function (x) { x.textContent = t(x.dataset.t); });
  }

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
  function errorText(err, fallback) {
    var m = err && (LANG === "en" && err.message_en ? err.message_en : err.message);
    return m || fallback || "Er ging iets mis. Probeer het opnieuw.";
  }

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
  var crises = new Map();                     // conversation id -> open crisis alert
  var transferredFrom = new Map();            // conversation id -> name of who transferred it to us
  var offer = null;                           // the open push offer shown to us, if any

  // ---- attention: beep + title flash ---------------------------------------------------

  var baseTitle = document.title;
  var flashTimer = null;
  var flashText = "";
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
    flashText = crises.size ? t("alarmTitle") : text; // a crisis outranks any other news
    if (flashTimer) return;
    var on = false;
    flashTimer = setInterval(function () {
      on = !on;
      document.title = on ? "● " + flashText : baseTitle;
    }, 1000);
    document.title = "● " + flashText;
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
    if (!anyUnread() && !crises.size) stopFlash();
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
    socket.on("crises", applyCrises);
    socket.on("crisis_alert", onCrisisAlert);
    socket.on("crisis_acked", onCrisisAcked);
    socket.on("transferred", onTransferred);
    socket.on("offer", onOffer);
    socket.on("offer_withdrawn", onOfferWithdrawn);
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
    applyCrises(res.crises);
    // An offer made while this console was away is still ours until it runs out.
    if (res.offer && (!offer || offer.id !== res.offer.conversation_id)) onOffer(res.offer);
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
    checkOfferInQueue();
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
    return item.priority + "|" + !!item.overflow + "|" + !!item.in_crisis;
  }

  function buildQueueItem(item) {
    var li = el("li", "q-item" + (item.danger_now || item.in_crisis ? " q-danger" : "") + (item.in_crisis ? " q-crisis" : "") + (item.overflow ? " q-overflow" : ""));
    li._item = item;
    li.dataset.sig = itemSig(item);
    li.dataset.conversationId = item.conversation_id;
    li.dataset.since = item.waiting_since;
    var top = el("div", "q-top");
    if (item.danger_now) {
      var d = el("span", "badge badge-danger", "⚠ Direct gevaar");
      top.appendChild(d);
    }
    if (item.in_crisis) top.appendChild(el("span", "badge badge-crisis", t("crisisBadge")));
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
    var btn = el("button", "btn btn-small " + (item.danger_now || item.in_crisis ? "btn-danger" : "btn-primary") + " q-accept", "Aannemen");
    btn.type = "button";
    btn.setAttribute("aria-label", "Aannemen: " + label("caller_type", item.caller_type) + ", " + label("intent", item.intent) + (item.danger_now ? ", direct gevaar" : "") + (item.in_crisis ? ", crisis" : ""));
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
    if (e2) { err.textContent = acceptErrorText(e2); err.hidden = false; return; }
    openAccepted(res.conversation);
  }

  function acceptErrorText(e) {
    return e.code === "capacity_reached" ? t("capacity", { limit: e.limit ? " (" + e.limit + ")" : "" }) : errorText(e);
  }

  function openAccepted(view) {
    var c = upsertConversation(view);
    mergeConversation(c, view);
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
      if (transferredFrom.has(id)) { setBanner(c, t("transferredIn", { from: transferredFrom.get(id) })); transferredFrom.delete(id); }
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
    renderHeader(c); renderLog(c); renderTab(c); updateComposer(c); renderCrisis(c);
  }

  async function loadHistory(id) {
    var c = convs.get(id);
    if (!c) return;
    if (c.syncing) { c.again = true; return; } // its answer may predate the change: ask again after
    c.syncing = true;
    c.again = false;
    var res;
    try { res = await call("history", { conversation_id: id }); } catch (e) { c.syncing = false; return; }
    c.syncing = false;
    var err = errorOf(res);
    if (err) { if (err.code === "not_found" || err.code === "forbidden") removeConversation(c); return; }
    if (!convs.has(id)) return; // closed here meanwhile
    mergeConversation(c, res.conversation);
    if (c.again) loadHistory(id);
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
    // An acute signal starts the crisis procedure on the server: read the crisis and its timeline.
    if (c && r.level === "acuut") loadHistory(c.id);
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
    var tab = c.tab;
    tab.textContent = "";
    var name = el("span", "tab-name", label("caller_type", c.summary.caller_type) + " · " + label("intent", c.summary.intent));
    tab.appendChild(name);
    if (c.summary.danger_now || c.summary.in_crisis) {
      var badges = el("span", "tab-badges");
      if (c.summary.in_crisis) badges.appendChild(el("span", "badge badge-crisis badge-small", t("crisisBadge")));
      if (c.summary.danger_now) badges.appendChild(el("span", "badge badge-danger badge-small", "Gevaar"));
      tab.appendChild(badges);
    }
    var sub = el("span", "tab-sub", c.status === "closed" ? "Beëindigd" : (c.summary.topic || label("team", c.summary.team)));
    tab.appendChild(sub);
    if (c.unread > 0) {
      var u = el("span", "unread", String(c.unread));
      u.setAttribute("aria-label", c.unread + " ongelezen");
      tab.appendChild(u);
    }
    tab.classList.toggle("tab-closed", c.status === "closed");
    tab.classList.toggle("tab-danger", !!(c.summary.danger_now || c.summary.in_crisis));
    if (!anyUnread() && !crises.size && !document.hidden) stopFlash();
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
    panel.querySelector(".act-escalate").addEventListener("click", function () { openEscalate(c); });
    panel.querySelector(".act-transfer").addEventListener("click", function () { openTransfer(c); });
    var crisisBox = panel.querySelector(".conv-crisis");
    crisisBox.querySelector(".conv-crisis-title").id = "conv-crisis-title-" + n;
    crisisBox.setAttribute("aria-labelledby", "conv-crisis-title-" + n);
    crisisBox.querySelector(".conv-crisis-timeline").setAttribute("aria-label", t("crisisTimeline"));
    applyTexts(panel);
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
    if (s.in_crisis) meta.appendChild(el("span", "badge badge-crisis", t("crisisBadge")));
    if (s.danger_now) meta.appendChild(el("span", "badge badge-danger", "⚠ Direct gevaar"));
    if (s.topic) meta.appendChild(el("span", "meta-topic", "Onderwerp: " + s.topic));
    if (s.team) meta.appendChild(el("span", "chip", label("team", s.team)));
    if (s.accepted_at) meta.appendChild(el("span", "muted", "aangenomen " + clock(s.accepted_at)));
    var closed = c.status === "closed";
    c.panel.querySelector(".act-close").hidden = closed;
    c.panel.querySelector(".act-escalate").hidden = closed;
    c.panel.querySelector(".act-transfer").hidden = closed;
    c.panel.querySelector(".act-close-tab").hidden = !closed;
    c.panel.classList.toggle("conv-danger", !!(s.danger_now || s.in_crisis));
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

  // ---- notices (visible, and read out by screen readers) ---------------------------------

  var noticeTimer = null;
  function showNotice(text, ms) {
    var box = $("notice"), p = $("notice-text");
    clearTimeout(noticeTimer);
    box.hidden = false;
    p.textContent = "";
    setTimeout(function () { p.textContent = text; }, 30); // a fresh change, so it is read out
    // A passing remark goes by itself, unless the keyboard is on its button.
    if (ms) noticeTimer = setTimeout(function () { if (!box.contains(document.activeElement)) hideNotice(); }, ms);
  }
  function hideNotice() { clearTimeout(noticeTimer); $("notice").hidden = true; $("notice-text").textContent = ""; }
  $("notice-dismiss").addEventListener("click", hideNotice);

  // ---- crisis: the alarm stays until someone takes it on --------------------------------

  var crisisBeep = null;
  var crisisCounter = 0;

  function crisisWho(by, byName) {
    if (by === "visitor") return t("byVisitor");
    if (by === "system") return t("bySystem");
    return byName || t("byColleague");
  }

  function applyCrises(data) {
    if (!data || !Array.isArray(data.open)) return;
    var fresh = [];
    var next = new Map();
    data.open.forEach(function (a) {
      if (!a || !a.conversation_id) return;
      var known = crises.get(a.conversation_id);
      if (!known || (a.round || 1) > (known.round || 1)) fresh.push(a);
      next.set(a.conversation_id, Object.assign({}, a, known ? { busy: known.busy, error: known.error } : {}));
    });
    crises = next;
    renderCrises();
    if (fresh.length) alarm(); else quietCrisis();
  }

  function onCrisisAlert(a) {
    if (!a || !a.conversation_id) return;
    var known = crises.get(a.conversation_id);
    var newer = !known || (a.round || 1) > (known.round || 1);
    crises.set(a.conversation_id, Object.assign({}, known || {}, a));
    renderCrises();
    if (newer) alarm();
  }

  function onCrisisAcked(d) {
    if (!d || !d.conversation_id) return;
    var mine = agent && d.by === agent.id;
    var who = d.by_name || t("byColleague");
    if (crises.delete(d.conversation_id)) {
      renderCrises();
      quietCrisis();
      if (!mine) announce(t("announceAcked", { who: who }));
    }
    var c = convs.get(d.conversation_id);
    if (c && !mine) {
      // Ours: the holder hears who took the crisis on, and the timeline is read again.
      c.crisisAck = { who: who, at: d.at };
      c.crisisNote = null;
      renderCrisis(c);
      if (c.panel.hidden) announce(t("announceAcked", { who: who })); // a visible panel says it itself
      loadHistory(c.id);
    }
  }

  function alarm() {
    beep();
    flashTitle(t("alarmTitle"));
    if (!crisisBeep) crisisBeep = setInterval(function () { if (crises.size) beep(); else quietCrisis(); }, 10000);
  }

  function quietCrisis() {
    if (crises.size) return;
    if (crisisBeep) { clearInterval(crisisBeep); crisisBeep = null; }
    if (anyUnread()) flashText = "Nieuw bericht"; else stopFlash();
  }

  function renderCrises() {
    var list = $("crisis-list");
    var keep = new Map();
    var focused = list.contains(document.activeElement);
    Array.prototype.forEach.call(list.children, function (li) { keep.set(li.dataset.conversationId, li); });
    keep.forEach(function (li, id) { if (!crises.has(id)) li.remove(); });
    var prev = null;
    crises.forEach(function (a, id) {
      var li = keep.get(id) || buildCrisisItem(id);
      fillCrisisItem(li, a);
      var want = prev ? prev.nextSibling : list.firstChild;
      if (want !== li) list.insertBefore(li, want);
      prev = li;
    });
    $("crisis-alerts").hidden = crises.size === 0;
    // The button in focus went away with its alert: keep the keyboard in the alarm.
    if (focused && !list.contains(document.activeElement)) {
      var next = list.querySelector(".crisis-ack:not(:disabled)");
      if (next) next.focus();
    }
  }

  function buildCrisisItem(id) {
    crisisCounter += 1;
    var li = el("li", "crisis-item");
    li.dataset.conversationId = id;
    var reason = el("p", "crisis-reason");
    reason.id = "crisis-reason-" + crisisCounter;
    li.appendChild(reason);
    li.appendChild(el("p", "crisis-meta"));
    var round = el("p", "crisis-round");
    round.hidden = true;
    li.appendChild(round);
    var btn = el("button", "btn btn-danger crisis-ack", t("ack"));
    btn.type = "button";
    btn.setAttribute("aria-describedby", reason.id);
    btn.addEventListener("click", function () { ackCrisis(id); });
    li.appendChild(btn);
    var err = el("p", "form-error small crisis-error");
    err.hidden = true;
    li.appendChild(err);
    return li;
  }

  function setText(node, text) { if (node.textContent !== text) node.textContent = text; } // no needless re-reading

  function fillCrisisItem(li, a) {
    setText(li.querySelector(".crisis-reason"), a.reason || t("noReason"));
    var status = a.status === "waiting" ? t("statusWaiting")
      : a.status === "closed" ? t("statusClosed")
      : agent && a.holder_id === agent.id ? t("statusMine") : t("statusActive");
    var parts = [t("escalatedBy", { who: crisisWho(a.by, a.by_name) }), t("since", { time: clock(a.escalated_at) })];
    if (a.caller_type) parts.push(label("caller_type", a.caller_type));
    parts.push(status);
    setText(li.querySelector(".crisis-meta"), parts.join(" · "));
    var round = li.querySelector(".crisis-round");
    var n = Number(a.round) || 1;
    round.hidden = n < 2;
    setText(round, n < 2 ? "" : t(a.audience === "everyone" ? "roundEveryone" : "round", { n: n }));
    var btn = li.querySelector(".crisis-ack");
    btn.disabled = !!a.busy;
    setText(btn, a.busy ? t("acking") : t("ack"));
    var err = li.querySelector(".crisis-error");
    setText(err, a.error || "");
    err.hidden = !a.error;
  }

  async function ackCrisis(id) {
    var a = crises.get(id);
    if (!a || a.busy) return;
    a.busy = true; a.error = null;
    renderCrises();
    var res;
    try { res = await call("ack_crisis", { conversation_id: id }); } catch (e) {
      a.busy = false; a.error = t("offline"); renderCrises(); return;
    }
    a.busy = false;
    var err = errorOf(res);
    if (err) {
      var text = err.code === "already_taken" ? t("ackAlreadyTaken")
        : err.code === "forbidden" ? t("ackForbidden")
        : err.code === "conflict" ? t("ackConflict")
        : err.code === "not_found" ? t("ackNotFound") : errorText(err);
      if (["already_taken", "conflict", "not_found"].indexOf(err.code) >= 0) {
        // Nothing left to take on here: the alarm goes, the reason why stays on screen.
        crises.delete(id); renderCrises(); quietCrisis(); showNotice(text);
      } else if (crises.has(id)) {
        a.error = text; renderCrises();
      }
      return;
    }
    crises.delete(id);
    renderCrises();
    quietCrisis();
    if (res.taken && res.conversation) {
      var c = upsertConversation(res.conversation);
      mergeConversation(c, res.conversation);
      activate(c.id);
      showNotice(t("ackedTaken"));
    } else {
      showNotice(t("ackedHeld"));
    }
  }

  // The crisis box in a conversation: where it stands, and the timeline from the history.

  function renderCrisis(c) {
    var box = c.panel.querySelector(".conv-crisis");
    var cr = c.summary.crisis;
    if (!cr && !c.crisisNote && !c.crisisAck) { box.hidden = true; return; }
    box.hidden = false;
    var events = (cr && Array.isArray(cr.timeline)) ? cr.timeline : [];
    var status = "";
    if (cr && cr.acknowledged_at) {
      var ack = c.crisisAck || { who: t("byColleague") };
      events.forEach(function (ev) { if (ev.kind === "acknowledged") ack = { who: ev.by_name || t("byColleague") }; });
      status = t("crisisAcked", { who: ack.who, time: clock(cr.acknowledged_at) });
    } else if (c.crisisAck) {
      status = t("crisisAcked", { who: c.crisisAck.who, time: clock(c.crisisAck.at) }); // the history follows
    } else if (c.crisisNote) {
      status = c.crisisNote;
    } else if (cr) {
      var lastAlert = null;
      events.forEach(function (ev) { if (ev.kind === "alerted") lastAlert = ev; });
      status = t("crisisWaiting", { time: clock((lastAlert && lastAlert.at) || cr.at) });
    }
    setText(box.querySelector(".conv-crisis-status"), status);
    var list = box.querySelector(".conv-crisis-timeline");
    list.textContent = "";
    events.forEach(function (ev) {
      var li = el("li", "crisis-event crisis-" + ev.kind);
      var when = el("time", null, clock(ev.at));
      when.setAttribute("datetime", ev.at || "");
      li.appendChild(when);
      var text;
      if (ev.kind === "escalated") {
        text = t("kind_escalated", { who: crisisWho(ev.by, ev.by_name) }) + (ev.reason ? ": " + ev.reason : "");
      } else if (ev.kind === "alerted") {
        text = t("kind_alerted", { n: ev.round || 1, audience: t("audience_" + (ev.audience === "everyone" ? "everyone" : "crisis")) });
      } else if (ev.kind === "acknowledged") {
        text = t("kind_acknowledged", { who: crisisWho(ev.by, ev.by_name) });
      } else {
        text = String(ev.kind || "");
      }
      li.appendChild(document.createTextNode(text));
      list.appendChild(li);
    });
    list.hidden = events.length === 0;
  }

  // ---- escalating to the crisis team -------------------------------------------------

  var escalatingId = null;

  function escalateError(text) {
    var e = $("escalate-error");
    e.textContent = text || "";
    e.hidden = !text;
    if (text) $("escalate-reason").setAttribute("aria-invalid", "true"); else $("escalate-reason").removeAttribute("aria-invalid");
  }

  function openEscalate(c) {
    escalatingId = c.id;
    $("escalate-form").reset();
    escalateError("");
    $("escalate-submit").disabled = false;
    $("escalate-dialog").showModal();
    $("escalate-reason").focus();
  }
  $("escalate-cancel").addEventListener("click", function () { $("escalate-dialog").close(); });
  $("escalate-reason").addEventListener("input", function () { if (!$("escalate-error").hidden) escalateError(""); });
  $("escalate-dialog").addEventListener("close", function () {
    var c = convs.get(escalatingId);
    escalatingId = null;
    if (c && !c.panel.hidden) c.panel.querySelector(".act-escalate").focus();
  });

  $("escalate-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var c = convs.get(escalatingId);
    if (!c) { $("escalate-dialog").close(); return; }
    var reason = $("escalate-reason").value.trim();
    if (!reason) { escalateError(t("escalateMissing")); $("escalate-reason").focus(); return; }
    if (Array.from(reason).length > 500) { escalateError(t("escalateTooLong")); $("escalate-reason").focus(); return; }
    escalateError("");
    $("escalate-submit").disabled = true;
    var res;
    try { res = await call("escalate", { conversation_id: c.id, reason: reason }); } catch (x) {
      $("escalate-submit").disabled = false;
      escalateError(t("escalateOffline")); return;
    }
    $("escalate-submit").disabled = false;
    var err = errorOf(res);
    if (err) { escalateError(errorText(err)); return; }
    $("escalate-dialog").close();
    c.crisisAck = null;
    c.crisisNote = res.already_running ? t("escalateRunning") : t("escalateSent");
    c.summary = Object.assign({}, c.summary, { in_crisis: true });
    renderHeader(c); renderTab(c); renderCrisis(c);
    loadHistory(c.id);
  });

  // ---- transfer to a team or a colleague ---------------------------------------------

  var transferringId = null;
  var colleaguesAsked = 0;

  function transferError(text, field) {
    var e = $("transfer-error");
    e.textContent = text || "";
    e.hidden = !text;
    ["transfer-team", "transfer-agent"].forEach(function (id) {
      if (field === id) $(id).setAttribute("aria-invalid", "true"); else $(id).removeAttribute("aria-invalid");
    });
  }
  function transferTarget() { return $("transfer-form").querySelector("input[name=target]:checked").value; }
  function syncTransferTarget() {
    var toAgent = transferTarget() === "agent";
    $("transfer-team-field").hidden = toAgent;
    $("transfer-agent-field").hidden = !toAgent;
    transferError("");
  }
  $("transfer-form").querySelectorAll("input[name=target]").forEach(function (r) { r.addEventListener("change", syncTransferTarget); });

  function openTransfer(c) {
    transferringId = c.id;
    $("transfer-form").reset();
    syncTransferTarget();
    $("transfer-submit").disabled = false;
    $("transfer-dialog").showModal();
    $("transfer-form").querySelector("input[name=target]:checked").focus();
    loadColleagues();
  }
  $("transfer-cancel").addEventListener("click", function () { $("transfer-dialog").close(); });
  ["transfer-team", "transfer-agent"].forEach(function (id) {
    $(id).addEventListener("change", function () { if (!$("transfer-error").hidden) transferError(""); });
  });
  $("transfer-dialog").addEventListener("close", function () {
    var c = convs.get(transferringId);
    transferringId = null;
    if (c && !c.panel.hidden) c.panel.querySelector(".act-transfer").focus();
  });

  async function loadColleagues() {
    var asked = ++colleaguesAsked;
    var sel = $("transfer-agent"), status = $("transfer-agent-status");
    sel.textContent = "";
    sel.appendChild(new Option(t("chooseColleague"), ""));
    sel.disabled = true;
    status.textContent = t("colleaguesLoading");
    var body = null;
    try {
      var r = await fetch("/api/agent/colleagues", {
        headers: { Authorization: "Bearer " + token },
        credentials: "omit",
        cache: "no-store"
      });
      if (r.status === 401) askRelogin();
      if (r.ok) body = await r.json();
    } catch (e) { body = null; }
    if (asked !== colleaguesAsked) return; // the dialog was opened again meanwhile
    if (!body || !Array.isArray(body.agents)) { status.textContent = t("colleaguesFailed"); return; }
    var me = agent && agent.id;
    var list = body.agents.filter(function (a) { return a && a.id && a.id !== me; });
    list.sort(function (a, b) {
      return (b.online ? 1 : 0) - (a.online ? 1 : 0) || String(a.name).localeCompare(String(b.name), "nl");
    });
    if (!list.length) { status.textContent = t("colleaguesNone"); return; }
    var groups = { true: null, false: null };
    list.forEach(function (a) {
      var on = !!a.online;
      if (!groups[on]) {
        groups[on] = document.createElement("optgroup");
        groups[on].label = on ? t("groupOnline") : t("groupOffline");
        sel.appendChild(groups[on]);
      }
      var teams = (a.teams || []).map(function (x) { return t("team_" + x) === "team_" + x ? String(x) : t("team_" + x); });
      var text = String(a.name) + (teams.length ? " (" + teams.join(", ") + ")" : "") + " — " + (on ? t("online") : t("offline_"));
      var opt = new Option(text, a.id);
      opt.dataset.name = String(a.name);
      groups[on].appendChild(opt);
    });
    sel.disabled = false;
    var online = list.filter(function (a) { return a.online; }).length;
    status.textContent = t("colleaguesCount", { online: online, total: list.length });
  }

  $("transfer-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var c = convs.get(transferringId);
    if (!c) { $("transfer-dialog").close(); return; }
    var payload = { conversation_id: c.id }, to;
    if (transferTarget() === "agent") {
      var sel = $("transfer-agent");
      if (!sel.value) { transferError(t("transferMissingAgent"), "transfer-agent"); sel.focus(); return; }
      payload.agent_id = sel.value;
      to = sel.selectedOptions[0].dataset.name || sel.selectedOptions[0].textContent;
    } else {
      var team = $("transfer-team");
      if (!team.value) { transferError(t("transferMissingTeam"), "transfer-team"); team.focus(); return; }
      payload.team = team.value;
      to = team.selectedOptions[0].textContent;
    }
    transferError("");
    $("transfer-submit").disabled = true;
    var res;
    try { res = await call("transfer", payload); } catch (x) {
      $("transfer-submit").disabled = false;
      transferError(t("transferOffline")); return;
    }
    $("transfer-submit").disabled = false;
    var err = errorOf(res);
    if (err) {
      var field = payload.agent_id ? "transfer-agent" : "transfer-team";
      if (err.code === "capacity_reached") transferError(t("transferCapacity", { limit: err.limit ? " (" + err.limit + ")" : "" }), field);
      else if (err.code === "not_found") transferError(t("transferNotFound"), field);
      else if (err.code === "forbidden") transferError(t("transferForbidden"));
      else transferError(errorText(err));
      return;
    }
    transferringId = null;
    $("transfer-dialog").close();
    // It has left our `mine`: it closes here, drafts and all.
    removeConversation(c);
    showNotice(t("transferDone", { to: to }));
  });

  function onTransferred(d) {
    if (!d || !d.conversation_id) return;
    var from = d.from || t("byColleague");
    var c = convs.get(d.conversation_id);
    if (c) setBanner(c, t("transferredIn", { from: from })); else transferredFrom.set(d.conversation_id, from);
    announce(t("transferredAnnounce", { from: from }));
    attention(t("transferredAnnounce", { from: from }), d.conversation_id);
  }

  // ---- push offers: a waiting chat offered to this advisor, to accept or let pass -------

  var OFFER_NOTICE_MS = 8000;
  var OFFER_FALLBACK_MS = 120000;             // with a wrong local clock: until the server withdraws it

  function expertiseLabel(code) {
    return (LABELS.expertise && LABELS.expertise[code]) || String(code).replace(/_/g, " ");
  }
  function mmss(s) { return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }
  function queueHas(id) { return queueItems.some(function (i) { return i.conversation_id === id; }); }
  function offerWhat(o) {
    var parts = [label("caller_type", o.caller_type), label("intent", o.intent)];
    if (o.danger_now) parts.push(t("offerDanger"));
    if (o.topic) parts.push(String(o.topic));
    return parts.join(", ");
  }

  function onOffer(o) {
    if (!o || typeof o.conversation_id !== "string" || !o.conversation_id) return;
    var known = convs.get(o.conversation_id);
    if (known && known.status === "active") return; // ours already
    if (offer && offer.id === o.conversation_id && offer.busy) return;
    var now = Date.now(), deadline = Date.parse(o.expires_at);
    // The server makes an offer with time left on it. If our clock says none is left, our clock
    // is off: the server's withdrawal decides then, and no countdown is shown.
    var trusted = !isNaN(deadline) && deadline > now + 1000;
    offer = {
      id: o.conversation_id, data: o, busy: false, voided: null, warned: false, trusted: trusted,
      deadline: trusted ? deadline : now + OFFER_FALLBACK_MS,
      // A queue snapshot may be older than the offer: only one that had it and then lacks it voids it.
      seenInQueue: queueHas(o.conversation_id)
    };
    renderOffer();
    announce(t("offerAnnounce", { what: offerWhat(o) }));
    beep();
    if (document.hidden || !document.hasFocus()) flashTitle(t("offerFlash"));
  }

  function onOfferWithdrawn(d) {
    if (!d || !offer || d.conversation_id !== offer.id) return;
    var texts = { taken: "offerTaken", ended: "offerGone" };
    voidOffer(t(texts[d.reason] || "offerExpired"));
  }

  function checkOfferInQueue() {
    if (!offer) return;
    if (queueHas(offer.id)) { offer.seenInQueue = true; return; }
    if (!offer.seenInQueue) return;
    var c = convs.get(offer.id);
    voidOffer(c && c.status === "active" ? "" : t("offerGone")); // taken from the queue by us: nothing to say
  }

  // The offer is over. While an answer of ours is on its way, that answer decides what to say.
  function voidOffer(text) {
    if (!offer) return;
    if (offer.busy) { offer.voided = text; return; }
    dropOffer();
    if (text) showNotice(text, OFFER_NOTICE_MS);
  }

  function dropOffer() {
    offer = null;
    renderOffer();
  }

  function renderOffer() {
    var box = $("offer");
    if (!offer) {
      var focused = box.contains(document.activeElement);
      box.hidden = true;
      delete box.dataset.conversationId;
      if (focused) focusAfterOffer();
      return;
    }
    var o = offer.data;
    box.dataset.conversationId = offer.id;
    box.classList.toggle("offer-danger", !!o.danger_now);
    var sum = $("offer-summary");
    sum.textContent = "";
    if (o.danger_now) { sum.appendChild(el("span", "badge badge-danger", t("offerDanger"))); sum.appendChild(document.createTextNode(" ")); }
    sum.appendChild(el("span", "offer-who", label("caller_type", o.caller_type)));
    sum.appendChild(document.createTextNode(" · "));
    sum.appendChild(el("span", "offer-intent", label("intent", o.intent)));
    var topic = $("offer-topic");
    setText(topic, o.topic ? String(o.topic) : "");
    topic.hidden = !o.topic;
    setText($("offer-team"), label("team", o.team));
    var exp = Array.isArray(o.expertise) ? o.expertise : [];
    setText($("offer-expertise"), exp.length ? exp.map(expertiseLabel).join(", ") : t("offerNone"));
    box.querySelector(".offer-countdown").hidden = !offer.trusted;
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
    ["offer-accept", "offer-pass"].forEach(function (id) {
      if (offer.busy) $(id).setAttribute("aria-disabled", "true"); else $(id).removeAttribute("aria-disabled");
    });
    box.hidden = false;
    tickOffer();
  }

  function focusAfterOffer() {
    var c = activeId && convs.get(activeId);
    if (c && c.status === "active") c.panel.querySelector(".composer-text").focus({ preventScroll: true });
    else $("queue-title").focus();
  }

  function tickOffer() {
    if (!offer) return;
    setText($("offer-waited"), waited(offer.data.waiting_since));
    var left = Math.max(0, Math.ceil((offer.deadline - Date.now()) / 1000));
    var cd = $("offer-countdown");
    setText(cd, mmss(left));
    cd.setAttribute("datetime", "PT" + left + "S");
    if (offer.trusted && left <= 10 && left > 0 && !offer.warned) { offer.warned = true; announce(t("offerSoon")); }
    if (left <= 0) voidOffer(offer.trusted ? t("offerExpired") : "");
  }
  setInterval(tickOffer, 1000);

  async function answerOffer(event) {
    if (!offer || offer.busy) return;
    var mine = offer;
    mine.busy = true;
    renderOffer();
    var res;
    try { res = await call(event, { conversation_id: mine.id }); } catch (e) {
      mine.busy = false;
      if (offer !== mine) return;
      // Not sent: the offer stands (the server lets it run out), so it may be tried again.
      if (mine.voided !== null) { voidOffer(mine.voided); return; }
      renderOffer();
      showNotice(t("offline"), OFFER_NOTICE_MS);
      return;
    }
    mine.busy = false;
    if (offer === mine) dropOffer();
    var err = errorOf(res);
    if (err) {
      var text = event === "accept" ? acceptErrorText(err)
        : err.code === "conflict" ? t("offerNotOffered") : errorText(err);
      showNotice(text, OFFER_NOTICE_MS);
      return;
    }
    if (event === "accept" && res.conversation) openAccepted(res.conversation);
    else if (event === "pass") announce(t("offerPassed"));
  }
  $("offer-accept").addEventListener("click", function () { answerOffer("accept"); });
  $("offer-pass").addEventListener("click", function () { answerOffer("pass"); });

  // ---- start -----------------------------------------------------------------------------

  window.addEventListener("beforeunload", function () {
    if (loggingOut) return;
    store(KEY_DRAFTS, drafts); saveOutbox();
  });

  applyTexts(document);
  if (token) { showWork(); connect(); watchExpiry(); } else { showLogin(); }
})();
