/*
 * Veilig Thuis chat widget. Vanilla JS, no build step.
 *
 * Embed with one tag, the address being this server's:  <script src="/widget.js" defer></script>
 *
 * Threat model (shared/DESIGN.md): the visitor may be watched by the person hurting them.
 * So: no cookies, nothing persistent (the resume token lives in memory and in this tab's
 * sessionStorage only, under a neutral key), no history entries, no third-party request,
 * and a quick exit (button, Shift three times, Esc twice) that replaces the page at once.
 * Message text is always rendered as text, never as HTML.
 */
(function () {
  "use strict";
  if (window.__vtWidgetLoaded) return;
  window.__vtWidgetLoaded = true;

  var script = document.currentScript;
  var ORIGIN = new URL(script && script.src ? script.src : "/widget.js", location.href).origin;
  var STORE_KEY = "ui-pref"; // neutral on purpose: it holds the resume token of this tab
  var FALLBACK_EXIT = "https://www.buienradar.nl/";
  var TZ = "Europe/Amsterdam";

  // ---- texts -------------------------------------------------------------------------
  var TEXT = {
    nl: {
      launcher: "Chat met Veilig Thuis",
      exit: "Snel weg",
      exitHint: "Verlaat deze website meteen. Of druk 3 keer op Shift.",
      title: "Chat met Veilig Thuis",
      minimize: "Chat verbergen",
      langSwitch: "English",
      langSwitchLabel: "Switch to English",
      loading: "Even laden…",
      intro: "Je kunt hier gratis en anoniem chatten. Je hoeft je naam niet te zeggen.",
      qWho: "Wie ben jij?",
      who_kind: "Ik ben een kind (tot 12 jaar)",
      who_jongere: "Ik ben een jongere (12 tot 18 jaar)",
      who_volwassene: "Ik ben een volwassene",
      who_professional: "Ik vraag het voor mijn werk",
      qWhat: "Wat wil je doen?",
      what_advies: "Ik wil advies of iets vragen",
      what_melding: "Ik wil iets melden",
      what_weet_niet: "Dat weet ik nog niet",
      qTopic: "Waar gaat het over?",
      topicOptional: "Dit mag je overslaan.",
      topic_thuis: "Ruzie of geweld thuis",
      topic_kind: "Zorgen over een kind",
      topic_volwassene: "Zorgen over een volwassene",
      topic_anders: "Iets anders",
      topic_skip: "Overslaan",
      qDanger: "Ben je nu in gevaar?",
      yes: "Ja",
      no: "Nee",
      back: "Terug",
      step: "Vraag {n} van 4",
      dangerTitle: "In gevaar? Bel nu 112.",
      dangerText: "Bellen is het snelst. Kun je niet bellen? Blijf dan hier. Je bent als eerste aan de beurt.",
      call112: "Bel 112",
      always112: "In gevaar? Bel 112.",
      phoneLine: "Liever bellen? 0800-2000 is gratis, dag en nacht.",
      closedTitle: "De chat is nu dicht",
      closedOpens: "De chat is weer open op {when}.",
      closedUnknown: "De chat is nu niet open.",
      closedPhone: "Je kunt ons wel altijd bellen. Dat is gratis, dag en nacht:",
      closedDanger: "Ben je in gevaar? Bel dan meteen 112.",
      connecting: "We maken verbinding…",
      queue: "Je bent nummer {pos} in de rij.",
      wait: "Je wacht ongeveer {min}.",
      waitShort: "Je bent bijna aan de beurt.",
      minute: "1 minuut",
      minutes: "{n} minuten",
      waitingHelp: "Een hulpverlener komt zo bij je. Laat dit venster open.",
      assigned: "Je praat nu met {name}.",
      agentFallback: "Hulpverlener",
      you: "Jij",
      system: "Veilig Thuis",
      typing: "{name} is aan het typen…",
      messageLabel: "Je bericht",
      messagePlaceholder: "Typ hier je bericht",
      send: "Verstuur",
      sendHint: "Druk op Enter om te versturen.",
      sending: "wordt verstuurd…",
      failed: "niet verstuurd",
      stop: "Stop gesprek",
      ended: "Het gesprek is afgelopen.",
      endedThanks: "Bedankt voor je bericht. Wil je nog iets vragen? Dat kan altijd.",
      newChat: "Nieuw gesprek",
      offline: "De verbinding is weg. We proberen het opnieuw…",
      online: "Je bent weer verbonden.",
      error: "Er ging iets mis. Probeer het nog eens, of bel 0800-2000.",
      busy: "Je stuurt veel berichten snel achter elkaar. Wacht even.",
      logLabel: "Berichten",
      exitOverlay: "Even geduld…"
    },
    en: {
      launcher: "Chat with Veilig Thuis",
      exit: "Exit now",
      exitHint: "Leave this website at once. Or press Shift 3 times.",
      title: "Chat with Veilig Thuis",
      minimize: "Hide chat",
      langSwitch: "Nederlands",
      langSwitchLabel: "Verander naar Nederlands",
      loading: "Loading…",
      intro: "You can chat here for free and without giving your name.",
      qWho: "Who are you?",
      who_kind: "I am a child (up to 12)",
      who_jongere: "I am a young person (12 to 18)",
      who_volwassene: "I am an adult",
      who_professional: "I am asking for my work",
      qWhat: "What do you want to do?",
      what_advies: "I want advice or to ask something",
      what_melding: "I want to report something",
      what_weet_niet: "I don't know yet",
      qTopic: "What is it about?",
      topicOptional: "You can skip this.",
      topic_thuis: "Fights or violence at home",
      topic_kind: "Worried about a child",
      topic_volwassene: "Worried about an adult",
      topic_anders: "Something else",
      topic_skip: "Skip",
      qDanger: "Are you in danger right now?",
      yes: "Yes",
      no: "No",
      back: "Back",
      step: "Question {n} of 4",
      dangerTitle: "In danger? Call 112 now.",
      dangerText: "Calling is fastest. Can't call? Stay here. You are first in line.",
      call112: "Call 112",
      always112: "In danger? Call 112.",
      phoneLine: "Rather call? 0800-2000 is free, day and night.",
      closedTitle: "The chat is closed now",
      closedOpens: "The chat opens again on {when}.",
      closedUnknown: "The chat is not open now.",
      closedPhone: "You can always call us. It is free, day and night:",
      closedDanger: "In danger? Call 112 right away.",
      connecting: "Connecting…",
      queue: "You are number {pos} in line.",
      wait: "You will wait about {min}.",
      waitShort: "It is almost your turn.",
      minute: "1 minute",
      minutes: "{n} minutes",
      waitingHelp: "Someone will be with you soon. Keep this window open.",
      assigned: "You are talking to {name}.",
      agentFallback: "Advisor",
      you: "You",
      system: "Veilig Thuis",
      typing: "{name} is typing…",
      messageLabel: "Your message",
      messagePlaceholder: "Type your message here",
      send: "Send",
      sendHint: "Press Enter to send.",
      sending: "sending…",
      failed: "not sent",
      stop: "End chat",
      ended: "The chat has ended.",
      endedThanks: "Thank you for your message. Want to ask something else? You always can.",
      newChat: "New chat",
      offline: "The connection is lost. We are trying again…",
      online: "You are connected again.",
      error: "Something went wrong. Please try again, or call 0800-2000.",
      busy: "You are sending many messages quickly. Please wait a moment.",
      logLabel: "Messages",
      exitOverlay: "Please wait…"
    }
  };

  // ---- state (memory; only the token is mirrored to sessionStorage) -------------------
  var S = {
    lang: (document.documentElement.lang || navigator.language || "nl").slice(0, 2) === "en" ? "en" : "nl",
    status: null,
    exitUrl: FALLBACK_EXIT,
    open: false,
    view: "loading",
    step: 1,
    answers: {},
    token: null,
    conversationId: null,
    chatStatus: null,
    danger: false,
    queue: null,
    agentName: null,
    shown: {},        // seq -> element
    contiguous: 0,    // highest seq n with 1..n all shown
    pending: [],      // own messages without seq yet: {client_id, text, el, sending}
    socket: null,
    bound: false,
    everConnected: false,
    typingSent: false,
    typingStopTimer: null,
    typingLastSent: 0,
    incomingTypingTimer: null,
    retryTimer: null,
    exiting: false
  };

  function t(key, params) {
    var s = (TEXT[S.lang] && TEXT[S.lang][key]) || TEXT.nl[key] || key;
    if (params) {
      Object.keys(params).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    }
    return s;
  }

  function readToken() {
    try { return window.sessionStorage.getItem(STORE_KEY); } catch (e) { return null; }
  }
  function writeToken(tok) {
    try { window.sessionStorage.setItem(STORE_KEY, tok); } catch (e) { /* private mode: memory only */ }
  }
  function clearStorage() {
    try { window.sessionStorage.removeItem(STORE_KEY); window.sessionStorage.clear(); } catch (e) { /* ignore */ }
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ---- tiny DOM helper ----------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") node.textContent = v;
        else if (k === "className") node.className = v;
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : v);
      });
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function fmtWhen(iso) {
    try {
      var d = new Date(iso);
      var loc = S.lang === "en" ? "en-GB" : "nl-NL";
      var day = new Intl.DateTimeFormat(loc, { timeZone: TZ, weekday: "long", day: "numeric", month: "long" }).format(d);
      var time = new Intl.DateTimeFormat(loc, { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false }).format(d);
      return day + (S.lang === "en" ? " at " : " om ") + time;
    } catch (e) { return iso; }
  }
  function fmtTime(iso) {
    try {
      return new Intl.DateTimeFormat(S.lang === "en" ? "en-GB" : "nl-NL", { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false }).format(iso ? new Date(iso) : new Date());
    } catch (e) { return ""; }
  }
  function fmtWait(seconds) {
    var m = Math.max(1, Math.round((seconds || 0) / 60));
    return m === 1 ? t("minute") : t("minutes", { n: m });
  }

  // ---- assets -------------------------------------------------------------------------
  // The widget stays invisible until its stylesheet is there: no flash of unstyled buttons.
  var cssReady = false;
  var css = el("link", { rel: "stylesheet", href: ORIGIN + "/widget/widget.css" });
  function showRoot() { cssReady = true; if (root) root.style.display = ""; }
  css.addEventListener("load", showRoot);
  css.addEventListener("error", showRoot);
  document.head.appendChild(css);

  var ioPromise = null;
  function loadIo() {
    if (ioPromise) return ioPromise;
    ioPromise = new Promise(function (resolve, reject) {
      if (window.io) { resolve(window.io); return; }
      var s = el("script", { src: ORIGIN + "/static/vendor/socket.io.min.js" });
      s.addEventListener("load", function () { resolve(window.io); });
      s.addEventListener("error", function () { ioPromise = null; reject(new Error("io")); });
      document.head.appendChild(s);
    });
    return ioPromise;
  }

  function fetchStatus() {
    return fetch(ORIGIN + "/api/status", { credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        S.status = body;
        if (body && body.widget && body.widget.quick_exit_url) S.exitUrl = body.widget.quick_exit_url;
        return body;
      });
  }

  // ---- quick exit ---------------------------------------------------------------------
  function quickExit() {
    if (S.exiting) return;
    S.exiting = true;
    var overlay = el("div", { className: "vtw-exit-overlay", role: "presentation" }, [el("p", { text: t("exitOverlay") })]);
    document.documentElement.appendChild(overlay);
    document.title = "…";
    try {
      if (S.socket) {
        if (S.bound) S.socket.emit("leave", {});
        S.socket.disconnect();
      }
    } catch (e) { /* leaving matters more */ }
    clearStorage();
    S.token = null; S.conversationId = null; S.pending = []; S.shown = {}; S.socket = null; S.bound = false;
    if (root && root.parentNode) root.parentNode.removeChild(root);
    location.replace(S.exitUrl);
  }

  // GOV.UK "Exit this page": Shift pressed on its own three times within 5 seconds.
  var shiftCount = 0, shiftTimer = null, shiftClean = false, escAt = 0;
  document.addEventListener("keydown", function (e) {
    if (e.key === "Shift") { shiftClean = !e.repeat; return; }
    shiftClean = false;
    shiftCount = 0;
    if (e.key === "Escape" || e.key === "Esc") {
      var now = Date.now();
      if (now - escAt < 1000) { e.preventDefault(); quickExit(); return; }
      escAt = now;
    } else {
      escAt = 0;
    }
  }, true);
  document.addEventListener("keyup", function (e) {
    if (e.key !== "Shift" || !shiftClean) return;
    shiftClean = false;
    shiftCount += 1;
    if (shiftCount === 1) {
      clearTimeout(shiftTimer);
      shiftTimer = setTimeout(function () { shiftCount = 0; }, 5000);
    }
    if (shiftCount >= 3) { shiftCount = 0; clearTimeout(shiftTimer); quickExit(); }
  }, true);

  function exitButton(extraClass) {
    return el("button", {
      type: "button", className: "vtw-exit " + (extraClass || ""), "data-vtw": "exit",
      "aria-describedby": "vtw-exit-hint", onclick: function (e) { e.preventDefault(); quickExit(); }
    }, [t("exit")]);
  }

  // ---- skeleton -----------------------------------------------------------------------
  var root = el("div", { className: "vtw-root", id: "vtw-root", lang: S.lang });
  if (!cssReady) root.style.display = "none";
  var launcherBar = el("div", { className: "vtw-launcher-bar" });
  var launcher = el("button", { type: "button", className: "vtw-launcher", "aria-expanded": "false", "aria-controls": "vtw-panel" });
  var exitHint = el("span", { id: "vtw-exit-hint", className: "vtw-sr" });
  var panel = el("section", { id: "vtw-panel", className: "vtw-panel", role: "dialog", "aria-labelledby": "vtw-title", hidden: true });
  root.appendChild(exitHint);
  root.appendChild(launcherBar);
  root.appendChild(panel);

  function renderLauncher() {
    launcherBar.textContent = "";
    launcher.textContent = "";
    launcher.appendChild(el("span", { className: "vtw-launcher-icon", "aria-hidden": "true" }));
    launcher.appendChild(el("span", { text: t("launcher") }));
    launcher.setAttribute("aria-expanded", S.open ? "true" : "false");
    launcherBar.appendChild(exitButton("vtw-exit-launcher"));
    if (!S.open) launcherBar.appendChild(launcher);
    exitHint.textContent = t("exitHint");
  }
  launcher.addEventListener("click", function () { openPanel(); });

  var body, statusLine, logList, typingLine, composer, input, liveNote;

  function header() {
    return el("div", { className: "vtw-header" }, [
      el("h2", { id: "vtw-title", className: "vtw-title", tabindex: "-1", text: t("title") }),
      el("div", { className: "vtw-header-actions" }, [
        el("button", {
          type: "button", className: "vtw-lang", lang: S.lang === "nl" ? "en" : "nl", "aria-label": t("langSwitchLabel"),
          onclick: function () { S.lang = S.lang === "nl" ? "en" : "nl"; root.setAttribute("lang", S.lang); renderAll(true); }
        }, [t("langSwitch")]),
        exitButton("vtw-exit-header"),
        el("button", { type: "button", className: "vtw-min", "aria-label": t("minimize"), onclick: closePanel }, [el("span", { "aria-hidden": "true", text: "×" })])
      ])
    ]);
  }

  function footer() {
    return el("div", { className: "vtw-footer" }, [
      el("p", null, [el("strong", { text: t("always112") }), " ", t("phoneLine")])
    ]);
  }

  function renderAll(keepFocus) {
    renderLauncher();
    var focusKey = keepFocus && document.activeElement && document.activeElement.className;
    var draft = input && input.isConnected ? input.value : "";
    panel.hidden = !S.open;
    panel.textContent = "";
    if (!S.open) return;
    panel.appendChild(header());
    body = el("div", { className: "vtw-body" });
    panel.appendChild(body);
    panel.appendChild(el("div", { className: "vtw-exit-bar" }, []));
    if (S.view === "loading") body.appendChild(el("p", { className: "vtw-muted", text: t("loading") }));
    else if (S.view === "closed") renderClosed();
    else if (S.view === "intake") renderIntake();
    else renderChat();
    if (S.view !== "chat" && S.view !== "closed") panel.appendChild(footer());
    if (draft && input && input.isConnected) input.value = draft;
    if (focusKey && focusKey.indexOf("vtw-lang") >= 0) {
      var b = panel.querySelector(".vtw-lang"); if (b) b.focus();
    }
  }

  // ---- closed hours -------------------------------------------------------------------
  function renderClosed() {
    var opens = S.closedOpensAt || (S.status && S.status.chat && S.status.chat.opens_at);
    var phone = (S.status && S.status.phone) || { advice: "0800-2000", emergency: "112" };
    body.appendChild(el("div", { className: "vtw-closed", "data-vtw": "closed" }, [
      el("h3", { className: "vtw-h", text: t("closedTitle") }),
      el("p", { "data-vtw": "opens-at", text: opens ? t("closedOpens", { when: fmtWhen(opens) }) : t("closedUnknown") }),
      el("p", { text: t("closedPhone") }),
      el("p", null, [el("a", { className: "vtw-phone", href: "tel:" + phone.advice.replace(/\D/g, ""), text: phone.advice })]),
      el("div", { className: "vtw-danger", role: "note" }, [
        el("p", { className: "vtw-danger-title", text: t("closedDanger") }),
        el("a", { className: "vtw-call112", href: "tel:" + phone.emergency, text: t("call112") })
      ]),
      callbackSlot()
    ]));
  }

  /* Place reserved for the callback request (terugbellen in een tijdvak), a later issue.
     Deliberately empty and hidden: no form that goes nowhere. */
  function callbackSlot() {
    return el("div", { className: "vtw-callback-slot", "data-vtw": "callback-slot", hidden: true });
  }

  // ---- intake -------------------------------------------------------------------------
  function choice(label, onPick, extra) {
    return el("button", { type: "button", className: "vtw-choice " + (extra || ""), onclick: onPick }, [label]);
  }
  function goStep(n) { S.step = n; renderAll(); focusStep(); }
  function focusStep() { var h = panel.querySelector(".vtw-q"); if (h) h.focus(); }

  function renderIntake() {
    var wrap = el("div", { className: "vtw-intake" });
    if (S.step === 1) wrap.appendChild(el("p", { className: "vtw-intro", text: t("intro") }));
    wrap.appendChild(el("p", { className: "vtw-step", text: t("step", { n: S.step }) }));
    var q, opts = [];
    if (S.step === 1) {
      q = t("qWho");
      ["kind", "jongere", "volwassene", "professional"].forEach(function (v) {
        opts.push(choice(t("who_" + v), function () { S.answers.caller_type = v; goStep(2); }));
      });
    } else if (S.step === 2) {
      q = t("qWhat");
      ["advies", "melding", "weet_niet"].forEach(function (v) {
        opts.push(choice(t("what_" + v), function () { S.answers.intent = v; goStep(3); }));
      });
    } else if (S.step === 3) {
      q = t("qTopic");
      ["thuis", "kind", "volwassene", "anders"].forEach(function (v) {
        opts.push(choice(t("topic_" + v), function () { S.answers.topic = TEXT.nl["topic_" + v]; goStep(4); }));
      });
      opts.push(choice(t("topic_skip"), function () { delete S.answers.topic; goStep(4); }, "vtw-choice-quiet"));
    } else {
      q = t("qDanger");
      opts.push(choice(t("yes"), function () { startChat(true); }, "vtw-choice-yes"));
      opts.push(choice(t("no"), function () { startChat(false); }));
    }
    var qid = "vtw-q" + S.step;
    wrap.appendChild(el("h3", { id: qid, className: "vtw-q vtw-h", tabindex: "-1", text: q }));
    if (S.step === 3) wrap.appendChild(el("p", { className: "vtw-muted", text: t("topicOptional") }));
    wrap.appendChild(el("div", { className: "vtw-choices" + (S.step === 4 ? " vtw-choices-row" : ""), role: "group", "aria-labelledby": qid }, opts));
    if (S.step > 1) wrap.appendChild(el("button", { type: "button", className: "vtw-back", onclick: function () { goStep(S.step - 1); } }, [t("back")]));
    if (S.error) wrap.appendChild(el("p", { className: "vtw-error", role: "alert", text: S.error }));
    body.appendChild(wrap);
  }

  // ---- chat view ----------------------------------------------------------------------
  function renderChat() {
    var wrap = el("div", { className: "vtw-chat" });
    if (S.danger) {
      wrap.appendChild(el("div", { className: "vtw-danger", role: "alert", "data-vtw": "danger" }, [
        el("div", null, [
          el("p", { className: "vtw-danger-title", text: t("dangerTitle") }),
          el("p", { className: "vtw-danger-text", text: t("dangerText") })
        ]),
        el("a", { className: "vtw-call112", href: "tel:112", text: t("call112") })
      ]));
    }
    statusLine = el("div", { className: "vtw-status", role: "status", "data-vtw": "status" });
    wrap.appendChild(statusLine);
    liveNote = el("p", { className: "vtw-note", role: "status", "aria-live": "polite" });
    wrap.appendChild(liveNote);
    var oldLog = logList;
    logList = el("ol", { className: "vtw-log", role: "log", "aria-live": "polite", "aria-label": t("logLabel"), "data-vtw": "log" });
    if (oldLog) { while (oldLog.firstChild) logList.appendChild(oldLog.firstChild); }
    wrap.appendChild(logList);
    typingLine = el("p", { className: "vtw-typing", "aria-hidden": "true", hidden: true });
    wrap.appendChild(typingLine);
    if (S.chatStatus === "closed") {
      wrap.appendChild(el("div", { className: "vtw-ended", "data-vtw": "ended" }, [
        el("p", { className: "vtw-h", text: t("ended") }),
        el("p", { text: t("endedThanks") }),
        el("p", { text: t("phoneLine") }),
        callbackSlot(),
        el("button", { type: "button", className: "vtw-primary", onclick: newChat }, [t("newChat")])
      ]));
    } else {
      input = el("textarea", { id: "vtw-input", className: "vtw-input", rows: "2", maxlength: "4000", placeholder: t("messagePlaceholder"), "aria-describedby": "vtw-send-hint" });
      input.addEventListener("keydown", onInputKey);
      input.addEventListener("input", onInputTyping);
      composer = el("form", { className: "vtw-composer", onsubmit: function (e) { e.preventDefault(); sendFromInput(); } }, [
        el("label", { "for": "vtw-input", className: "vtw-label", text: t("messageLabel") }),
        el("div", { className: "vtw-compose-row" }, [input, el("button", { type: "submit", className: "vtw-primary vtw-send" }, [t("send")])]),
        el("p", { id: "vtw-send-hint", className: "vtw-hint", text: t("sendHint") })
      ]);
      wrap.appendChild(composer);
      wrap.appendChild(el("div", { className: "vtw-chat-actions" }, [
        el("button", { type: "button", className: "vtw-stop", "data-vtw": "stop", onclick: stopChat }, [t("stop")]),
        S.danger ? null : el("span", { className: "vtw-muted vtw-small" }, [el("strong", { text: t("always112") }), " 0800-2000"])
      ]));
    }
    body.appendChild(wrap);
    updateStatusLine();
    relabelMessages();
    scrollLog();
  }

  function updateStatusLine() {
    if (!statusLine || !statusLine.isConnected) return;
    statusLine.textContent = "";
    if (S.chatStatus === "active") {
      statusLine.appendChild(el("p", { className: "vtw-h", text: t("assigned", { name: S.agentName || t("agentFallback") }) }));
    } else if (S.chatStatus === "waiting") {
      if (S.queue) {
        statusLine.appendChild(el("p", { className: "vtw-h", "data-vtw": "queue", text: t("queue", { pos: S.queue.position }) }));
        statusLine.appendChild(el("p", { text: S.queue.estimated_wait_s > 60 ? t("wait", { min: fmtWait(S.queue.estimated_wait_s) }) : t("waitShort") }));
      }
      statusLine.appendChild(el("p", { className: "vtw-muted", text: t("waitingHelp") }));
      if (S.queue && S.queue.estimated_wait_s > 900) statusLine.appendChild(callbackSlot());
    } else if (S.chatStatus !== "closed") {
      statusLine.appendChild(el("p", { className: "vtw-muted", text: t("connecting") }));
    }
  }

  function note(text) { if (liveNote && liveNote.isConnected) liveNote.textContent = text || ""; }

  function scrollLog() { if (logList) logList.scrollTop = logList.scrollHeight; }

  function senderLabel(sender) {
    if (sender === "visitor") return t("you");
    if (sender === "agent") return S.agentName || t("agentFallback");
    return t("system");
  }
  function relabelMessages() {
    if (!logList) return;
    Array.prototype.forEach.call(logList.querySelectorAll(".vtw-msg"), function (li) {
      var who = li.querySelector(".vtw-who");
      if (who) who.textContent = senderLabel(li.getAttribute("data-sender"));
    });
  }

  function messageEl(sender, text, at) {
    var li = el("li", { className: "vtw-msg vtw-from-" + sender, "data-sender": sender });
    var meta = el("p", { className: "vtw-meta" }, [
      el("span", { className: "vtw-who", text: senderLabel(sender) }),
      el("span", { className: "vtw-sep", "aria-hidden": "true", text: " · " }),
      el("time", { className: "vtw-time", datetime: at || "", text: fmtTime(at) })
    ]);
    var bubble = el("p", { className: "vtw-text", "data-vtw": "text" });
    bubble.textContent = text; // text, never HTML
    li.appendChild(meta);
    li.appendChild(bubble);
    return li;
  }

  function placeBySeq(li, seq) {
    li.setAttribute("data-seq", String(seq));
    var items = logList.querySelectorAll(".vtw-msg[data-seq]");
    var before = null;
    for (var i = 0; i < items.length; i++) {
      if (items[i] !== li && Number(items[i].getAttribute("data-seq")) > seq) { before = items[i]; break; }
    }
    if (!before) before = logList.querySelector(".vtw-msg:not([data-seq])"); // pending ones stay last
    if (before) logList.insertBefore(li, before); else logList.appendChild(li);
  }

  function markShown(seq, li) {
    S.shown[seq] = li;
    while (S.shown[S.contiguous + 1]) S.contiguous += 1;
  }

  function showMessage(m) {
    if (!m || typeof m.seq !== "number" || S.shown[m.seq]) return;
    ensureLog();
    var li = messageEl(m.sender, m.text, m.at);
    placeBySeq(li, m.seq);
    markShown(m.seq, li);
    if (m.sender === "agent") hideTyping();
    scrollLog();
  }

  function ensureLog() {
    if (!logList) logList = el("ol", { className: "vtw-log", role: "log", "aria-live": "polite" });
  }

  // ---- typing -------------------------------------------------------------------------
  function onInputKey(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendFromInput(); }
  }
  function onInputTyping() {
    if (!S.bound) return;
    var now = Date.now();
    if (!S.typingSent || now - S.typingLastSent > 3000) {
      S.socket.emit("typing", { typing: true });
      S.typingSent = true; S.typingLastSent = now;
    }
    clearTimeout(S.typingStopTimer);
    S.typingStopTimer = setTimeout(stopTyping, 4000);
  }
  function stopTyping() {
    clearTimeout(S.typingStopTimer);
    if (S.typingSent && S.bound) S.socket.emit("typing", { typing: false });
    S.typingSent = false;
  }
  function showTyping() {
    if (!typingLine || !typingLine.isConnected) return;
    typingLine.textContent = t("typing", { name: S.agentName || t("agentFallback") });
    typingLine.hidden = false;
    clearTimeout(S.incomingTypingTimer);
    S.incomingTypingTimer = setTimeout(hideTyping, 8000);
  }
  function hideTyping() { if (typingLine) typingLine.hidden = true; clearTimeout(S.incomingTypingTimer); }

  // ---- sending ------------------------------------------------------------------------
  function sendFromInput() {
    var text = (input.value || "").trim();
    if (!text) return;
    input.value = "";
    stopTyping();
    ensureLog();
    var p = { client_id: newId(), text: text.slice(0, 4000), el: null, sending: false };
    p.el = messageEl("visitor", p.text, null);
    p.el.classList.add("vtw-pending");
    p.el.querySelector(".vtw-time").textContent = t("sending");
    logList.appendChild(p.el);
    scrollLog();
    S.pending.push(p);
    flushPending();
    input.focus();
  }

  function flushPending() {
    if (!S.bound || !S.socket) return;
    S.pending.forEach(sendOne);
  }

  function sendOne(p) {
    if (p.sending || !S.bound) return;
    p.sending = true;
    var sock = S.socket;
    sock.timeout(10000).emit("message", { client_id: p.client_id, text: p.text }, function (err, ack) {
      p.sending = false;
      if (err || !ack) { scheduleRetry(); return; } // no answer: retry later with the same client_id
      if (ack.error) {
        if (ack.error.code === "rate_limited") { note(t("busy")); scheduleRetry(5000); return; }
        if (ack.error.code === "not_found") { scheduleRetry(); return; }
        dropPending(p);
        p.el.classList.remove("vtw-pending");
        p.el.classList.add("vtw-failed");
        p.el.querySelector(".vtw-time").textContent = t("failed");
        return;
      }
      dropPending(p);
      p.el.classList.remove("vtw-pending");
      if (S.shown[ack.seq]) { p.el.remove(); return; } // already shown by a resume
      p.el.querySelector(".vtw-time").textContent = fmtTime(ack.at);
      p.el.querySelector(".vtw-time").setAttribute("datetime", ack.at);
      placeBySeq(p.el, ack.seq);
      markShown(ack.seq, p.el);
      scrollLog();
    });
  }
  function dropPending(p) { S.pending = S.pending.filter(function (x) { return x !== p; }); }
  function scheduleRetry(ms) {
    clearTimeout(S.retryTimer);
    S.retryTimer = setTimeout(flushPending, ms || 2000);
  }

  // ---- connection ---------------------------------------------------------------------
  function connect() {
    return loadIo().then(function (io) {
      if (S.socket) return S.socket;
      var sock = io(ORIGIN + "/visitor", {
        transports: ["websocket", "polling"],
        withCredentials: false,
        reconnectionDelay: 500,
        reconnectionDelayMax: 3000
      });
      S.socket = sock;
      sock.on("connect", function () {
        var again = S.everConnected;
        S.everConnected = true;
        if (S.token && S.conversationId !== null) resume(again);
      });
      sock.on("disconnect", function (reason) {
        S.bound = false;
        if (S.exiting) return;
        if (S.chatStatus && S.chatStatus !== "closed") note(t("offline"));
        if (reason === "io server disconnect") sock.connect();
      });
      sock.on("queue", function (q) { if (q && S.chatStatus === "waiting") { S.queue = q; updateStatusLine(); } });
      sock.on("assigned", function (a) {
        S.agentName = a && a.agent && a.agent.name ? String(a.agent.name).split(" ")[0] : null;
        S.chatStatus = "active";
        updateStatusLine(); relabelMessages();
      });
      sock.on("message", function (m) { showMessage(m); });
      // The server saw acute danger in what the visitor wrote: show 112 at once, keep the draft.
      sock.on("crisis", function () { if (!S.danger) { S.danger = true; renderAll(true); } });
      sock.on("typing", function (d) { if (d && d.typing) showTyping(); else hideTyping(); });
      sock.on("closed", function () { S.chatStatus = "closed"; S.bound = false; hideTyping(); renderAll(); });
      return sock;
    });
  }

  function whenConnected(sock) {
    return new Promise(function (resolve) {
      if (sock.connected) resolve(); else sock.once("connect", resolve);
    });
  }

  function resume(again) {
    var sock = S.socket;
    sock.timeout(10000).emit("resume", { resume_token: S.token, after_seq: S.contiguous }, function (err, ack) {
      if (err) { if (sock.connected) resume(again); return; }
      if (ack.error) {
        if (ack.error.code === "not_found") { clearStorage(); S.token = null; S.conversationId = null; S.chatStatus = null; if (S.open) { S.view = "intake"; S.step = 1; renderAll(); } }
        return;
      }
      S.conversationId = ack.conversation_id;
      var wasStatus = S.chatStatus;
      S.chatStatus = ack.status;
      if (ack.queue) S.queue = ack.queue;
      if (ack.agent && ack.agent.name) S.agentName = String(ack.agent.name).split(" ")[0];
      if (ack.status === "closed") {
        S.bound = false;
        if (wasStatus === null && !S.open) { S.chatStatus = null; S.conversationId = null; return; } // an old, ended chat: start fresh
      } else {
        S.bound = true;
      }
      if (S.view !== "chat") { S.view = "chat"; }
      if (!S.open && ack.status !== "closed") { S.open = true; }
      if (wasStatus !== ack.status || !statusLine || !statusLine.isConnected) renderAll(); else { updateStatusLine(); relabelMessages(); }
      (ack.messages || []).forEach(showMessage);
      if (again) note(t("online"));
      flushPending();
    });
  }

  function startChat(danger) {
    S.danger = !!danger;
    S.error = null;
    S.view = "chat";
    S.chatStatus = null;
    S.queue = null;
    S.agentName = null;
    S.shown = {}; S.contiguous = 0; S.pending = []; logList = null;
    renderAll();
    // In danger the call button gets the focus first; otherwise the message box.
    var first = danger ? panel.querySelector(".vtw-call112") : input;
    if (first) first.focus();
    connect().then(whenConnected).then(function () {
      var payload = { caller_type: S.answers.caller_type, intent: S.answers.intent, danger_now: S.danger };
      if (S.answers.topic) payload.topic = S.answers.topic;
      if (S.token) payload.resume_token = S.token;
      S.socket.timeout(10000).emit("start", payload, function (err, ack) {
        if (err || !ack) { failStart(); return; }
        if (ack.error) {
          if (ack.error.code === "closed") {
            S.closedOpensAt = ack.error.opens_at; S.view = "closed"; renderAll(); focusTitle(); return;
          }
          if (ack.error.code === "conflict" && S.token) { S.conversationId = ""; resume(false); return; }
          failStart(); return;
        }
        S.token = ack.resume_token;
        writeToken(S.token);
        S.conversationId = ack.conversation_id;
        S.chatStatus = ack.status;
        S.queue = ack.queue;
        S.bound = true;
        updateStatusLine();
        flushPending();
      });
    }).catch(failStart);
  }

  function failStart() {
    S.view = "intake"; S.step = 4; S.error = t("error"); renderAll(); focusStep();
  }

  function stopChat() {
    if (S.socket && S.bound) {
      S.socket.timeout(5000).emit("leave", {}, function () { /* shown as ended either way */ });
    }
    S.chatStatus = "closed";
    S.bound = false;
    stopTyping();
    renderAll();
    focusTitle();
  }

  function newChat() {
    S.view = "intake"; S.step = 1; S.answers = {}; S.danger = false; S.chatStatus = null;
    S.shown = {}; S.contiguous = 0; S.pending = []; logList = null; S.conversationId = null;
    renderAll(); focusStep();
  }

  // ---- open / close -------------------------------------------------------------------
  function focusTitle() { var h = panel.querySelector("#vtw-title"); if (h) h.focus(); }

  function openPanel() {
    S.open = true;
    if (S.view === "loading" || S.view === "closed" || S.view === "intake") {
      S.view = "loading";
      renderAll();
      fetchStatus().then(function (st) {
        if (S.view !== "loading") return;
        S.closedOpensAt = null;
        if (st && st.chat && st.chat.open === false) S.view = "closed";
        else { S.view = "intake"; S.step = 1; }
        renderAll();
        if (S.view === "intake") focusStep(); else focusTitle();
      }).catch(function () { S.view = "intake"; S.step = 1; renderAll(); focusStep(); });
    } else {
      renderAll();
    }
    focusTitle();
  }

  function closePanel() {
    S.open = false;
    renderAll();
    launcher.focus();
  }

  // ---- boot ---------------------------------------------------------------------------
  function boot() {
    document.body.appendChild(root);
    renderLauncher();
    fetchStatus().catch(function () { /* fall back to the built-in exit page */ });
    var tok = readToken();
    if (tok) {
      // Same tab, e.g. after a reload: pick the conversation up again.
      S.token = tok;
      S.conversationId = "";
      connect().catch(function () {});
    }
  }
  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
})();
