/*
 * Veilig Thuis chat widget: the entry esbuild bundles into the one classic script
 * web_widget/static/widget.js (`make widget`). It shares its DOM helper, Amsterdam time, tijdvak
 * picker, texts and phone numbers with the booking pages (docs/front-end.md).
 *
 * Embed with one tag, the address being this server's:  <script src="/widget.js" defer></script>
 *
 * Threat model (docs/privacy.md): the visitor may be watched by the person hurting them.
 * So: no cookies, nothing persistent (the resume token lives in memory and in this tab's
 * sessionStorage only, under a neutral key, and only while the chat is open: it is forgotten
 * on stop, on quick exit and once the conversation is closed; a random per-browser value sent
 * with `start` lives there too, until the tab closes or the quick exit), no history entries, no
 * third-party request, and a quick exit (button, Shift three times, Esc twice) that replaces
 * the page at once, after asking our server to have the browser clear what our origin stored.
 * Message text is always rendered as text, never as HTML.
 */
import { el } from "../common/dom.js";
import * as time from "../common/time.js";
import { settle, dayAndSlots } from "../common/tijdvak-picker.js";
import { PHONE, TEL, WIDGET, lookup } from "../common/texts.js";

// Loaded twice on one page (two tags), it starts once.
if (!window.__vtWidgetLoaded) {
  window.__vtWidgetLoaded = true;
  start();
}

function start() {
  var script = document.currentScript;
  var ORIGIN = new URL(script && script.src ? script.src : "/widget.js", location.href).origin;
  var STORE_KEY = "ui-pref"; // neutral on purpose: it holds the resume token of this tab
  var SEED_KEY = "ui-seed"; // neutral too: this tab's random per-browser value (see browserValue)
  var FALLBACK_EXIT = "https://www.buienradar.nl/";
  var LONG_WAIT_S = 600; // from this expected wait on, a waiting visitor is offered a callback

  // ---- texts (common/texts.js: Dutch and English, the phone numbers written once) ----
  var TEXT = WIDGET;

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
    transferring: false, // told `transfer`: until `assigned` (a colleague) or `queue` (a team)
    requeued: false,     // back in the queue after a transfer to a team
    strayQueue: null,    // a `queue` that came while active: {q, at} (it may overtake `transfer`)
    confirmStop: false,  // "Stop gesprek" asked "Wil je echt stoppen?"
    endInfo: null,       // how the chat ended: {reason, outcome}
    shown: {},        // seq -> element
    contiguous: 0,    // highest seq n with 1..n all shown
    highest: 0,       // highest seq shown: above `contiguous` means a hole to fetch
    gapFetching: false,
    gapTimer: null,
    gapTries: 0,
    pending: [],      // own messages without seq yet: {client_id, text, el, sending}
    socket: null,
    bound: false,
    everConnected: false,
    typingSent: false,
    typingStopTimer: null,
    typingLastSent: 0,
    incomingTypingTimer: null,
    retryTimer: null,
    exiting: false,
    leavers: [],      // sockets that end a stopped chat once the connection is back (leaveLater)
    cb: null,         // the callback form while it is open (memory only; never the manage token)
    draft: ""         // the chat draft while the callback form is open
  };

  function t(key, params) { return lookup(TEXT, S.lang, key, params); }

  function readToken() {
    try { return window.sessionStorage.getItem(STORE_KEY); } catch (e) { return null; }
  }
  function writeToken(tok) {
    try { window.sessionStorage.setItem(STORE_KEY, tok); } catch (e) { /* private mode: memory only */ }
  }
  function clearStorage() {
    try { window.sessionStorage.removeItem(STORE_KEY); window.sessionStorage.clear(); } catch (e) { /* ignore */ }
  }
  // The chat ended (stop, the advisor closed it, an old or unknown token): nothing left to pick
  // up, so the token goes from memory and from this tab. Only our own key: the embedding
  // site's own sessionStorage is theirs (the quick exit alone clears all of it).
  function forgetToken() {
    S.token = null;
    try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
  }

  // A random value for this tab, sent with `start`: the server keeps only a keyed hash of it, so
  // a supervisor can block an abusive visitor without blocking everyone behind the same address
  // (a school, a shelter). In this tab's sessionStorage only (gone when the tab closes, and with
  // the quick exit); never a cookie, never storage that outlives the tab. Memory only where storage is refused.
  function browserValue() {
    var value = null;
    try { value = window.sessionStorage.getItem(SEED_KEY); } catch (e) { value = null; }
    if (value && /^[A-Za-z0-9_-]{16,64}$/.test(value)) return value;
    if (S.browser) return S.browser;
    var bytes = new Uint8Array(24);
    crypto.getRandomValues(bytes);
    value = "";
    for (var i = 0; i < bytes.length; i++) value += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charAt(bytes[i] & 63);
    S.browser = value;
    try { window.sessionStorage.setItem(SEED_KEY, value); } catch (e) { /* private mode: memory only */ }
    return value;
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ---- tiny DOM helper ----------------------------------------------------------------

  // 112 and 0800-2000 in a text become tap-to-call links: built as nodes, never HTML, so a text
  // (ours, or an error message from the server) can never inject markup.
  var PHONE_RE = new RegExp("(" + PHONE.advice + "|\\b" + PHONE.emergency + "\\b)");
  function withPhones(text) {
    return String(text).split(PHONE_RE).filter(function (part) { return part !== ""; }).map(function (part) {
      return TEL[part] ? el("a", { className: "vtw-tel", href: TEL[part] }, [part]) : part;
    });
  }
  function rich(tag, attrs, text) { return el(tag, attrs, withPhones(text)); }

  // Times in Amsterdam, in the visitor's language (common/time.js).
  function fmtWhen(iso) { return time.fmtWhen(iso, S.lang); }
  function fmtTime(iso) { return time.fmtTime(iso, S.lang); }
  function fmtSlot(slot) { return time.fmtSlot(slot, S.lang); }

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
  // Nothing here may wait for the network or throw: offline, the page still goes at once.
  function quickExit() {
    if (S.exiting) return;
    S.exiting = true;
    var token = S.token;
    try {
      var overlay = el("div", { className: "vtw-exit-overlay", role: "presentation" }, [el("p", { text: t("exitOverlay") })]);
      document.documentElement.appendChild(overlay);
      document.title = "…";
    } catch (e) { /* leaving matters more */ }
    try {
      if (S.socket) {
        if (S.bound) S.socket.emit("leave", { quick_exit: true });
        S.socket.disconnect();
      }
      S.leavers.forEach(function (s) { s.disconnect(); });
    } catch (e) { /* leaving matters more */ }
    exitBeacon(token);
    clearTimeout(S.retryTimer); clearTimeout(S.typingStopTimer); clearTimeout(S.incomingTypingTimer);
    clearStorage();
    S.token = null; S.conversationId = null; S.pending = []; S.shown = {}; S.socket = null; S.bound = false;
    S.cb = null; S.draft = "";
    if (root && root.parentNode) root.parentNode.removeChild(root);
    location.replace(S.exitUrl);
  }

  // Our server answers this with Clear-Site-Data ("cache", "storage"): the browser drops what
  // our origin stored. A beacon outlives the page; text/plain needs no CORS preflight.
  function exitBeacon(token) {
    var url = ORIGIN + "/api/visitor/exit";
    var body;
    try {
      body = new Blob([JSON.stringify({ resume_token: token || null })], { type: "text/plain" });
      if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
    } catch (e) { /* try fetch */ }
    try {
      fetch(url, { method: "POST", body: body, keepalive: true, mode: "no-cors", credentials: "omit", cache: "no-store" })
        .catch(function () { /* offline: gone anyway */ });
    } catch (e) { /* leaving matters more */ }
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

  var body, statusLine, cbLinkBox, noneBox, stopBar, logList, typingLine, composer, input, liveNote;

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
      el("p", null, [rich("strong", null, t("always112")), " "].concat(withPhones(t("phoneLine"))))
    ]);
  }

  function renderAll(keepFocus) {
    renderLauncher();
    var focusKey = keepFocus && document.activeElement && document.activeElement.className;
    var focusVtw = document.activeElement && panel.contains(document.activeElement) && document.activeElement.getAttribute("data-vtw");
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
    else if (S.view === "callback") renderCallback();
    else renderChat();
    if (S.view !== "chat" && S.view !== "closed") panel.appendChild(footer());
    if (!draft && S.view === "chat" && S.draft) { draft = S.draft; S.draft = ""; }
    if (draft && input && input.isConnected) input.value = draft;
    if (focusKey && focusKey.indexOf("vtw-lang") >= 0) {
      var b = panel.querySelector(".vtw-lang"); if (b) b.focus();
    } else if (focusVtw === "stop-no" || focusVtw === "stop-yes") {
      var c = panel.querySelector("[data-vtw=" + focusVtw + "]"); if (c) c.focus(); // the question stays open
    }
  }

  // ---- closed hours -------------------------------------------------------------------
  function renderClosed() {
    var opens = S.closedOpensAt || (S.status && S.status.chat && S.status.chat.opens_at);
    var phone = (S.status && S.status.phone) || PHONE;
    body.appendChild(el("div", { className: "vtw-closed", "data-vtw": "closed" }, [
      el("h3", { className: "vtw-h", text: t("closedTitle") }),
      el("p", { "data-vtw": "opens-at", text: opens ? t("closedOpens", { when: fmtWhen(opens) }) : t("closedUnknown") }),
      S.closedReason && (S.closedReason[S.lang] || S.closedReason.nl)
        ? el("p", { "data-vtw": "closed-reason", text: S.closedReason[S.lang] || S.closedReason.nl }) : null,
      el("p", { text: t("closedPhone") }),
      el("p", null, [el("a", { className: "vtw-phone", href: "tel:" + phone.advice.replace(/\D/g, ""), text: phone.advice })]),
      el("div", { className: "vtw-danger", role: "note" }, [
        rich("p", { className: "vtw-danger-title" }, t("closedDanger")),
        el("a", { className: "vtw-call112", href: "tel:" + phone.emergency, text: t("call112") })
      ]),
      callbackOffer(),
      S.closedForTeam ? el("button", { type: "button", className: "vtw-back", "data-vtw": "closed-back", onclick: function () {
        S.closedForTeam = false; S.view = "intake"; S.step = 1; renderAll(); focusStep();
      } }, [t("back")]) : null
    ]));
  }

  // ---- callback request (terugbellen in een tijdvak) ----------------------------------
  // The answer to a booking carries a manage token; the widget drops it at once. It is never
  // written to storage, the URL or the page, so nobody who uses this device later can find or
  // change the request. The caller keeps only the reference, if they want to.

  var CB_FIELDS = { slot_start: "slot", phone: "phone", safe_to_leave_voicemail: "voicemail", caller_type: "who", name: "name", topic: "topic" };
  var CB_ORDER = ["slot", "phone", "voicemail", "who", "name", "topic"];
  var cbWhenBox = null, cbChatNote = null;

  function callbackOffer() {
    return el("div", { className: "vtw-cb-offer", "data-vtw": "callback-offer" }, [
      el("h4", { className: "vtw-h vtw-h-sub", text: t("cbOfferTitle") }),
      el("p", { text: t("cbOfferText") }),
      el("button", { type: "button", className: "vtw-primary vtw-wrap", "data-vtw": "callback-open", onclick: function () { openCallback("closed"); } }, [t("cbOffer")])
    ]);
  }

  // The chat is open but no advisor has a console open (a count from /api/status).
  function noAdvisorNow() {
    var chat = S.status && S.status.chat;
    return !!chat && chat.open !== false && chat.advisors_online === 0;
  }

  function callbackLink() {
    return el("p", { className: "vtw-cb-link" }, [
      el("button", { type: "button", className: "vtw-linkbtn", "data-vtw": "callback-open", onclick: function () { openCallback("chat"); } }, [t("cbWaitLink")])
    ]);
  }

  function errorText(body) {
    var e = body && body.error;
    if (!e) return t("error");
    return (S.lang === "en" ? e.message_en || e.message : e.message || e.message_en) || t("error");
  }

  function openCallback(from) {
    S.draft = input && input.isConnected ? input.value : "";
    S.cb = {
      from: from, slots: null, loadError: null, day: null, slot: null, phone: "", voicemail: null,
      callerType: S.answers.caller_type || null, name: "", topic: S.answers.topic || "",
      errors: {}, formError: null, sending: false, done: null, leftQueue: false
    };
    S.view = "callback";
    renderAll();
    focusCallbackTitle();
    loadSlots();
  }

  function closeCallback() {
    var from = S.cb ? S.cb.from : "closed";
    S.cb = null;
    S.view = from === "chat" || from === "intake" ? from : "closed";
    renderAll();
    var back = S.view !== "chat" ? panel.querySelector("[data-vtw=callback-open]") : null;
    if (back) back.focus(); else focusTitle();
  }

  function focusCallbackTitle() { var h = panel.querySelector("#vtw-cb-title"); if (h) h.focus(); }

  function loadSlots() {
    var cb = S.cb;
    cb.loadError = null;
    fetch(ORIGIN + "/api/callbacks/slots?kind=terugbellen&days=14", { credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.json().then(function (b) { if (!r.ok) throw b; return b; }); })
      .then(function (body) {
        if (S.cb !== cb) return;
        cb.slots = (body && body.slots) || [];
        var kept = settle(cb.slots, cb.slot, cb.day);
        cb.slot = kept.chosen;
        cb.day = kept.day;
        fillWhen();
      })
      .catch(function (body) {
        if (S.cb !== cb) return;
        cb.loadError = errorText(body);
        fillWhen();
      });
  }

  function described(node, ids) {
    var list = ids.filter(Boolean).join(" ");
    if (list) node.setAttribute("aria-describedby", list);
    return node;
  }

  function cbField(key, label, hint, control) {
    var id = "vtw-cb-" + key, err = S.cb.errors[key];
    control.setAttribute("id", id);
    described(control, [hint ? id + "-hint" : null, err ? id + "-error" : null]);
    if (err) control.setAttribute("aria-invalid", "true");
    return el("div", { className: "vtw-field" + (err ? " vtw-invalid" : ""), "data-vtw": "field-" + key }, [
      el("label", { "for": id, className: "vtw-cb-label", text: label }),
      hint ? el("p", { id: id + "-hint", className: "vtw-cb-hint", text: hint }) : null,
      err ? rich("p", { id: id + "-error", className: "vtw-field-error", "data-vtw": "error-" + key }, err) : null,
      control
    ]);
  }

  function cbRadios(key, legend, hint, options, value, onPick) {
    var id = "vtw-cb-" + key, err = S.cb.errors[key];
    var fs = el("fieldset", { className: "vtw-fieldset" + (err ? " vtw-invalid" : ""), "data-vtw": "field-" + key }, [
      el("legend", { className: "vtw-cb-label", text: legend }),
      hint ? el("p", { id: id + "-hint", className: "vtw-cb-hint", text: hint }) : null,
      err ? rich("p", { id: id + "-error", className: "vtw-field-error", "data-vtw": "error-" + key }, err) : null,
      el("div", { className: "vtw-radios" }, options.map(function (o, i) {
        var rid = id + "-" + i;
        var radio = el("input", {
          type: "radio", id: rid, name: id, value: o.value, checked: value === o.value,
          "aria-invalid": err ? "true" : null,
          onchange: function () { onPick(o.value); }
        });
        return el("div", { className: "vtw-radio" }, [radio, el("label", { "for": rid, text: o.label })]);
      }))
    ]);
    return described(fs, [hint ? id + "-hint" : null, err ? id + "-error" : null]);
  }

  function fillWhen() {
    var cb = S.cb, box = cbWhenBox;
    if (!cb || !box || !box.isConnected) return;
    box.textContent = "";
    if (cb.loadError) {
      box.appendChild(rich("p", { className: "vtw-error", role: "alert" }, cb.loadError));
      box.appendChild(el("button", { type: "button", className: "vtw-stop", onclick: function () { cb.slots = null; fillWhen(); loadSlots(); } }, [t("cbRetry")]));
      return;
    }
    if (!cb.slots) { box.appendChild(el("p", { className: "vtw-muted", role: "status", text: t("cbLoadingSlots") })); return; }
    if (!cb.slots.length) { box.appendChild(rich("p", { "data-vtw": "no-slots" }, t("cbNoSlots"))); return; }
    dayAndSlots({
      slots: cb.slots, day: cb.day, lang: S.lang, selectId: "vtw-cb-day", selectClass: "vtw-select",
      fieldClass: "vtw-field", labelClass: "vtw-cb-label", dayLabel: t("cbDay"),
      onDay: function (k) { cb.day = k; },
      radiosFor: function (daySlots) {
        return cbRadios("slot", t("cbSlot"), null, daySlots.map(function (x) {
          return { value: x.start, label: fmtSlot(x) };
        }), cb.slot && cb.slot.start, function (v) {
          cb.slot = cb.slots.filter(function (x) { return x.start === v; })[0] || null;
        });
      }
    }).forEach(function (n) { box.appendChild(n); });
  }

  function updateCallbackChatNote() {
    if (!cbChatNote || !cbChatNote.isConnected || !S.cb || S.cb.from !== "chat") return;
    cbChatNote.textContent = "";
    if (S.cb.done) return;
    if (S.chatStatus === "waiting") cbChatNote.appendChild(el("p", { className: "vtw-muted", text: t("cbLeavesQueue") }));
    if (S.chatStatus === "active") {
      cbChatNote.appendChild(el("div", { className: "vtw-status", role: "status" }, [
        el("p", { className: "vtw-h", text: t("cbAgentReady") }),
        el("button", { type: "button", className: "vtw-primary", onclick: closeCallback }, [t("cbToChat")])
      ]));
    }
  }

  function renderCallback() {
    var cb = S.cb;
    if (cb.done) { renderCallbackDone(); return; }
    var form = el("form", { className: "vtw-cb", "data-vtw": "callback", novalidate: true, onsubmit: submitCallback });
    form.appendChild(el("h3", { id: "vtw-cb-title", className: "vtw-h", tabindex: "-1", text: t("cbTitle") }));
    form.appendChild(el("p", { text: t("cbIntro") }));
    cbChatNote = el("div", { className: "vtw-cb-chat" });
    form.appendChild(cbChatNote);
    if (cb.formError) form.appendChild(rich("p", { className: "vtw-error", role: "alert", "data-vtw": "callback-error" }, cb.formError));

    cbWhenBox = el("div", { className: "vtw-cb-when", "data-vtw": "callback-when" });
    form.appendChild(el("fieldset", { className: "vtw-fieldset vtw-fieldset-outer" }, [
      el("legend", { className: "vtw-h vtw-h-sub", text: t("cbWhen") }), cbWhenBox
    ]));

    var phone = el("input", {
      type: "tel", inputmode: "tel", className: "vtw-text-input", maxlength: "32", value: cb.phone,
      // Not remembered by the browser: someone else may use its suggestions later.
      autocomplete: "off", "data-vtw": "phone"
    });
    phone.addEventListener("input", function () { cb.phone = phone.value; });
    form.appendChild(cbField("phone", t("cbPhone"), t("cbPhoneHint"), phone));

    form.appendChild(cbRadios("voicemail", t("cbVoicemail"), t("cbVoicemailHint"),
      [{ value: "yes", label: t("yes") }, { value: "no", label: t("no") }], cb.voicemail,
      function (v) { cb.voicemail = v; }));

    form.appendChild(cbRadios("who", t("cbWho"), null,
      ["kind", "jongere", "volwassene", "professional"].map(function (v) { return { value: v, label: t("who_" + v) }; }),
      cb.callerType, function (v) { cb.callerType = v; }));

    var name = el("input", { type: "text", className: "vtw-text-input", maxlength: "100", value: cb.name, autocomplete: "off" });
    name.addEventListener("input", function () { cb.name = name.value; });
    form.appendChild(cbField("name", t("cbName"), t("cbNameHint"), name));

    var topic = el("textarea", { className: "vtw-input vtw-textarea", rows: "3", maxlength: "500", autocomplete: "off" });
    topic.value = cb.topic;
    topic.addEventListener("input", function () { cb.topic = topic.value; });
    form.appendChild(cbField("topic", t("cbTopic"), t("cbTopicHint"), topic));

    form.appendChild(el("div", { className: "vtw-cb-actions" }, [
      el("button", { type: "submit", className: "vtw-primary vtw-wrap", "data-vtw": "callback-submit", disabled: cb.sending }, [cb.sending ? t("cbSending") : t("cbSubmit")]),
      el("button", { type: "button", className: "vtw-back", onclick: closeCallback }, [cb.from === "chat" ? t("cbToChat") : t("cbBack")])
    ]));
    body.appendChild(form);
    fillWhen();
    updateCallbackChatNote();
  }

  function renderCallbackDone() {
    var cb = S.cb, d = cb.done;
    body.appendChild(el("div", { className: "vtw-cb-done", "data-vtw": "callback-done" }, [
      el("h3", { id: "vtw-cb-title", className: "vtw-h", tabindex: "-1", text: t("cbDoneTitle") }),
      el("p", { "data-vtw": "callback-when", text: t("cbDoneWhen", { when: fmtSlot(d.slot) }) }),
      el("p", null, [t("cbDoneRef") + " ", el("strong", { className: "vtw-ref", "data-vtw": "callback-reference", text: d.reference })]),
      el("p", { text: t("cbDoneRefHint") }),
      rich("p", { className: "vtw-muted" }, t("cbDoneNoLink")),
      cb.leftQueue ? el("p", { text: t("cbDoneLeftQueue") }) : null,
      el("button", { type: "button", className: "vtw-primary", onclick: closeCallback }, [t("cbDone")])
    ]));
  }

  function focusFirstCallbackError() {
    var cb = S.cb;
    if (cb.formError) { var f = panel.querySelector("[data-vtw=callback-error]"); if (f) { f.setAttribute("tabindex", "-1"); f.focus(); } return; }
    for (var i = 0; i < CB_ORDER.length; i++) {
      if (!cb.errors[CB_ORDER[i]]) continue;
      var target = panel.querySelector("#vtw-cb-" + CB_ORDER[i]) || panel.querySelector("[name=vtw-cb-" + CB_ORDER[i] + "]");
      if (target) { target.focus(); return; }
    }
  }

  function submitCallback(e) {
    e.preventDefault();
    var cb = S.cb;
    if (!cb || cb.sending) return;
    cb.errors = {};
    cb.formError = null;
    if (!cb.slot) cb.errors.slot = t("cbNeedSlot");
    if (!cb.phone.trim()) cb.errors.phone = t("cbNeedPhone");
    if (!cb.voicemail) cb.errors.voicemail = t("cbNeedVoicemail");
    if (!cb.callerType) cb.errors.who = t("cbNeedWho");
    if (Object.keys(cb.errors).length) { renderAll(); focusFirstCallbackError(); return; }

    var payload = {
      kind: "terugbellen", slot_start: cb.slot.start, phone: cb.phone.trim(), caller_type: cb.callerType,
      safe_to_leave_voicemail: cb.voicemail === "yes"
    };
    if (cb.name.trim()) payload.name = cb.name.trim().slice(0, 100);
    if (cb.topic.trim()) payload.topic = cb.topic.trim().slice(0, 500);
    cb.sending = true;
    var submit = panel.querySelector("[data-vtw=callback-submit]");
    if (submit) { submit.disabled = true; submit.textContent = t("cbSending"); }
    fetch(ORIGIN + "/api/callbacks", {
      method: "POST", credentials: "omit", cache: "no-store",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().then(function (b) { return { ok: r.ok, body: b }; }, function () { return { ok: false, body: null }; });
    }).then(function (res) {
      if (S.cb !== cb) return;
      cb.sending = false;
      if (res.ok) {
        cb.done = { reference: res.body.reference, slot: res.body.slot }; // not the manage token
        cb.phone = ""; cb.name = ""; cb.topic = "";
        if (cb.from === "chat" && S.chatStatus !== "closed" && S.chatStatus !== "active") leaveQueueForCallback();
        renderAll();
        focusCallbackTitle();
        return;
      }
      var err = (res.body && res.body.error) || {};
      var msg = errorText(res.body);
      if (err.code === "invalid_phone") {
        cb.errors.phone = msg;
      } else if (err.code === "slot_full") {
        cb.errors.slot = msg; cb.slot = null; cb.slots = null; loadSlots();
      } else if (err.code === "invalid_input") {
        var fields = err.fields || (err.field ? [err.field] : []), placed = false;
        fields.forEach(function (f) { if (CB_FIELDS[f]) { cb.errors[CB_FIELDS[f]] = msg; placed = true; } });
        if (cb.errors.slot) { cb.slot = null; cb.slots = null; loadSlots(); }
        if (!placed) cb.formError = msg;
      } else {
        cb.formError = msg;
      }
      renderAll();
      focusFirstCallbackError();
    }).catch(function () {
      if (S.cb !== cb) return;
      cb.sending = false;
      cb.formError = t("error");
      renderAll();
      focusFirstCallbackError();
    });
  }

  // Booked while waiting for the chat: an advisor will call, so the place in line is given up.
  function leaveQueueForCallback() {
    if (S.socket && S.bound) S.socket.timeout(5000).emit("leave", {}, function () { /* ended either way */ });
    forgetToken();
    S.chatStatus = "closed";
    S.endInfo = { reason: "visitor_left" };
    S.bound = false;
    S.cb.leftQueue = true;
    stopTyping();
  }

  // ---- intake -------------------------------------------------------------------------
  function choice(label, onPick, extra) {
    return el("button", { type: "button", className: "vtw-choice " + (extra || ""), onclick: onPick }, [label]);
  }
  function goStep(n) { S.step = n; renderAll(); focusStep(); }
  // Each team has its own opening hours: the one for this caller may be closed while the chat as
  // a whole is open. Unknown (offline, an older server): go on; `start` answers `closed` then.
  function checkTeamOpen(callerType) {
    fetch(ORIGIN + "/api/status?caller_type=" + encodeURIComponent(callerType), { credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (st) {
        if (S.view !== "intake" || S.step !== 1) return;
        if (st && st.chat && st.chat.open === false) { showClosed(st.chat.opens_at, st.chat.reason); return; }
        goStep(2);
      })
      .catch(function () { if (S.view === "intake" && S.step === 1) goStep(2); });
  }
  // Closed for this caller's team only: "Terug" leads back to the first question (a wrong
  // choice, or another kind of caller, may find an open team).
  function showClosed(opensAt, reason) {
    S.closedOpensAt = opensAt || null; S.closedReason = reason || null; S.closedForTeam = true;
    S.view = "closed"; renderAll(); focusTitle();
  }
  function focusStep() { var h = panel.querySelector(".vtw-q"); if (h) h.focus(); }

  function renderIntake() {
    var wrap = el("div", { className: "vtw-intake" });
    if (S.step === 1) wrap.appendChild(el("p", { className: "vtw-intro", text: t("intro") }));
    if (S.step === 1 && noAdvisorNow()) {
      // Before they start: nobody would answer now. They may still start and wait.
      wrap.appendChild(el("div", { className: "vtw-none", "data-vtw": "no-advisor" }, [
        el("p", { className: "vtw-h vtw-h-sub", text: t("noAdvisor") }),
        rich("p", null, t("noAdvisorIntake")),
        el("p", { "data-vtw": "callback-offer" }, [
          el("button", { type: "button", className: "vtw-primary vtw-wrap", "data-vtw": "callback-open", onclick: function () { openCallback("intake"); } }, [t("cbOffer")])
        ]),
        el("p", { text: t("noAdvisorMayStart") })
      ]));
    }
    wrap.appendChild(el("p", { className: "vtw-step", text: t("step", { n: S.step }) }));
    var q, opts = [];
    if (S.step === 1) {
      q = t("qWho");
      ["kind", "jongere", "volwassene", "professional"].forEach(function (v) {
        opts.push(choice(t("who_" + v), function () { S.answers.caller_type = v; checkTeamOpen(v); }));
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
    if (S.error) wrap.appendChild(rich("p", { className: "vtw-error", role: "alert" }, S.error));
    body.appendChild(wrap);
  }

  // ---- chat view ----------------------------------------------------------------------
  function renderChat() {
    var wrap = el("div", { className: "vtw-chat" });
    if (S.danger) {
      wrap.appendChild(el("div", { className: "vtw-danger", role: "alert", "data-vtw": "danger" }, [
        el("div", null, [
          rich("p", { className: "vtw-danger-title" }, t("dangerTitle")),
          el("p", { className: "vtw-danger-text", text: t("dangerText") })
        ]),
        el("a", { className: "vtw-call112", href: TEL[PHONE.emergency], text: t("call112") })
      ]));
    }
    // Stop sits at the top, away from the send button, and asks first.
    stopBar = el("div", { className: "vtw-chat-bar", "data-vtw": "stop-bar" });
    if (S.chatStatus !== "closed") wrap.appendChild(stopBar);
    statusLine = el("div", { className: "vtw-status", role: "status", "data-vtw": "status" });
    wrap.appendChild(statusLine);
    // Nobody online while waiting: said once (a live region of its own, not read out again on
    // every queue change), with the callback offer and the phone numbers.
    noneBox = el("div", { className: "vtw-none-box", role: "status" });
    wrap.appendChild(noneBox);
    // Outside the live status (not read out on every queue change) and kept while it applies,
    // so a keyboard user who is on the link does not lose the focus when the queue moves.
    cbLinkBox = el("div", { className: "vtw-cb-linkbox" });
    wrap.appendChild(cbLinkBox);
    liveNote = el("p", { className: "vtw-note", role: "status", "aria-live": "polite" });
    wrap.appendChild(liveNote);
    var oldLog = logList;
    // A div, not a list: role=log takes the list's place, and a log's items are not list items.
    logList = el("div", { className: "vtw-log", role: "log", "aria-live": "polite", "aria-label": t("logLabel"), "data-vtw": "log" });
    if (oldLog) { while (oldLog.firstChild) logList.appendChild(oldLog.firstChild); }
    wrap.appendChild(logList);
    typingLine = el("p", { className: "vtw-typing", "aria-hidden": "true", hidden: true });
    wrap.appendChild(typingLine);
    if (S.chatStatus === "closed") {
      wrap.appendChild(endedBlock());
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
      if (!S.danger) {
        wrap.appendChild(el("p", { className: "vtw-muted vtw-small vtw-chat-phones" },
          [rich("strong", null, t("always112")), " "].concat(withPhones(PHONE.advice))));
      }
    }
    body.appendChild(wrap);
    renderStopBar();
    updateStatusLine();
    relabelMessages();
    scrollLog();
  }

  // ---- stop, after a question ----------------------------------------------------------
  function renderStopBar() {
    if (!stopBar || !stopBar.isConnected) return;
    stopBar.textContent = "";
    if (!S.confirmStop) {
      stopBar.appendChild(el("button", { type: "button", className: "vtw-stop", "data-vtw": "stop", onclick: askStop }, [t("stop")]));
      return;
    }
    // Inline, not window.confirm: it stays in the widget's language and look, and a quick
    // exit (Esc twice) still works while it is open: the first Esc answers "no".
    stopBar.appendChild(el("div", {
      className: "vtw-confirm", role: "group", "aria-labelledby": "vtw-stop-ask", "data-vtw": "stop-confirm",
      onkeydown: function (e) { if (e.key === "Escape" || e.key === "Esc") keepTalking(); }
    }, [
      el("p", { id: "vtw-stop-ask", className: "vtw-confirm-q", text: t("stopAsk") }),
      el("div", { className: "vtw-confirm-actions" }, [
        el("button", { type: "button", className: "vtw-primary", "data-vtw": "stop-no", "aria-describedby": "vtw-stop-ask", onclick: keepTalking }, [t("stopNo")]),
        el("button", { type: "button", className: "vtw-stop vtw-stop-yes", "data-vtw": "stop-yes", onclick: function () { S.confirmStop = false; stopChat(); } }, [t("stopYes")])
      ])
    ]));
  }
  function askStop() {
    S.confirmStop = true;
    renderStopBar();
    var no = panel.querySelector("[data-vtw=stop-no]");
    if (no) no.focus();
  }
  function keepTalking() {
    S.confirmStop = false;
    renderStopBar();
    var stop = panel.querySelector("[data-vtw=stop]");
    if (stop) stop.focus();
  }

  // ---- the end: what happens next ----------------------------------------------------
  function endedBlock() {
    var info = S.endInfo || {};
    var ct = S.answers.caller_type;
    var child = ct !== "volwassene" && ct !== "professional"; // a child, or not known (after a reload)
    var kids = [el("h3", { id: "vtw-ended-title", className: "vtw-h", tabindex: "-1", text: t("ended") })];
    var next = [];
    if (info.outcome === "melding") {
      next.push(el("h4", { className: "vtw-h vtw-h-sub", text: t("endNext") }));
      if (child) next.push(el("p", { text: t("endMeldingKid") }));
      next.push(el("p", { text: t("endMeldingLook") }));
      next.push(el("p", { text: t("endMeldingContact") }));
      next.push(rich("p", null, t("endComeBack")));
    } else if (info.outcome === "advies") {
      next.push(el("p", { text: t("endAdvies") }));
      next.push(rich("p", null, t("phoneLine")));
    } else {
      next.push(rich("p", null, t("endComeBack")));
    }
    next.push(el("p", null, [rich("strong", null, t("always112"))]));
    kids.push(el("div", { "data-vtw": "ended-next", "data-outcome": info.outcome || info.reason || "" }, next));
    kids.push(el("button", { type: "button", className: "vtw-primary", onclick: newChat }, [t("newChat")]));
    return el("div", { className: "vtw-ended", "data-vtw": "ended" }, kids);
  }
  function focusEnded() { var h = panel.querySelector("#vtw-ended-title"); if (h) h.focus(); else focusTitle(); }

  function updateStatusLine() {
    if (!statusLine || !statusLine.isConnected) return;
    var waiting = S.chatStatus === "waiting" && !S.transferring;
    // With nobody online a wait estimate only grows: say that nobody is there instead.
    var none = waiting && S.queue && S.queue.advisors_online === 0;
    var longWait = waiting && S.queue && !none && S.queue.estimated_wait_s >= LONG_WAIT_S;
    if (none && !noneBox.firstChild) {
      noneBox.appendChild(el("div", { className: "vtw-none", "data-vtw": "no-advisor" }, [
        el("p", { className: "vtw-h vtw-h-sub", text: t("noAdvisor") }),
        el("p", { text: t("noAdvisorWaiting") }),
        callbackLink(),
        rich("p", null, t("noAdvisorWaitingCall"))
      ]));
    }
    if (!none) noneBox.textContent = "";
    if (longWait && !cbLinkBox.firstChild) cbLinkBox.appendChild(callbackLink());
    if (!longWait) cbLinkBox.textContent = "";
    statusLine.textContent = "";
    if (S.transferring && S.chatStatus !== "closed") {
      statusLine.appendChild(el("p", { className: "vtw-h", "data-vtw": "transferring", text: t("transferring") }));
    } else if (S.chatStatus === "active") {
      statusLine.appendChild(el("p", { className: "vtw-h", text: t("assigned", { name: S.agentName || t("agentFallback") }) }));
    } else if (S.chatStatus === "waiting") {
      if (S.queue) {
        var pos = { pos: S.queue.position };
        statusLine.appendChild(el("p", { className: "vtw-h", "data-vtw": "queue", text: S.requeued ? t("requeued", pos) : t("queue", pos) }));
        if (!none) statusLine.appendChild(el("p", { text: S.queue.estimated_wait_s > 60 ? t("wait", { min: fmtWait(S.queue.estimated_wait_s) }) : t("waitShort") }));
      }
      if (!none) statusLine.appendChild(el("p", { className: "vtw-muted", text: t("waitingHelp") }));
    } else if (S.chatStatus !== "closed") {
      statusLine.appendChild(el("p", { className: "vtw-muted", text: t("connecting") }));
    }
  }

  function note(text) { if (liveNote && liveNote.isConnected) liveNote.textContent = text || ""; }

  function scrollLog() { if (logList) logList.scrollTop = logList.scrollHeight; }

  // Each advisor message carries the first name of whoever wrote it (so after a transfer the
  // first advisor's messages keep their name); the current advisor's name is only a fallback
  // for a message without one, and only until it is shown (then it stays with the message).
  function senderLabel(sender, name) {
    if (sender === "visitor") return t("you");
    if (sender === "agent") return name || S.agentName || t("agentFallback");
    return t("system");
  }
  function relabelMessages() {
    if (!logList) return;
    Array.prototype.forEach.call(logList.querySelectorAll(".vtw-msg"), function (li) {
      var who = li.querySelector(".vtw-who");
      if (who) who.textContent = senderLabel(li.getAttribute("data-sender"), li.getAttribute("data-name"));
    });
    Array.prototype.forEach.call(logList.querySelectorAll(".vtw-sysline"), function (li) {
      var p = li.querySelector(".vtw-sys-text");
      if (p && li.vtwTexts) p.textContent = li.vtwTexts[S.lang] || li.vtwTexts.nl;
    });
  }

  // A line from Veilig Thuis itself in the log (a transfer): not a message, no seq.
  function systemLine(texts) {
    ensureLog();
    var li = el("div", { className: "vtw-sysline", "data-vtw": "sysline" }, [
      el("p", { className: "vtw-sys-text", text: texts[S.lang] || texts.nl })
    ]);
    li.vtwTexts = texts;
    var pending = logList.querySelector(".vtw-msg:not([data-seq])");
    if (pending) logList.insertBefore(li, pending); else logList.appendChild(li);
    scrollLog();
  }
  function bothLangs(key, params) {
    var out = {};
    ["nl", "en"].forEach(function (lang) {
      var s = TEXT[lang][key];
      Object.keys(params || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
      out[lang] = s;
    });
    return out;
  }
  function firstName(name) { return name ? String(name).trim().split(/\s+/)[0] || null : null; }

  function messageEl(sender, text, at, name) {
    var li = el("div", { className: "vtw-msg vtw-from-" + sender, "data-sender": sender, "data-name": name || null });
    var meta = el("p", { className: "vtw-meta" }, [
      el("span", { className: "vtw-who", text: senderLabel(sender, name) }),
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
    if (seq > S.highest) S.highest = seq;
    while (S.shown[S.contiguous + 1]) S.contiguous += 1;
    if (S.contiguous >= S.highest) S.gapTries = 0;
  }

  // A live message beyond the next seq means one or more went missing on the way (one sent
  // while this socket was not yet in the conversation's room, say). They are fetched at once
  // with `resume` from the last contiguous seq, not only after a reconnect. An own message
  // still waiting for its ack fills its seq itself: then look again a moment later.
  function checkGap() {
    clearTimeout(S.gapTimer);
    if (S.contiguous >= S.highest || S.gapFetching || !S.bound || !S.token || !S.socket || S.exiting) return;
    if (S.pending.some(function (p) { return p.sending; })) { S.gapTimer = setTimeout(checkGap, 500); return; }
    if (S.gapTries >= 5) return; // the next reconnect catches up anyway
    S.gapTries += 1;
    var sock = S.socket;
    S.gapFetching = true;
    sock.timeout(10000).emit("resume", { resume_token: S.token, after_seq: S.contiguous }, function (err, ack) {
      S.gapFetching = false;
      if (sock !== S.socket || S.exiting) return;
      if (!err && ack && !ack.error && ack.status !== "closed") (ack.messages || []).forEach(showMessage);
      if (S.contiguous < S.highest) S.gapTimer = setTimeout(checkGap, 1000);
    });
  }

  function showMessage(m) {
    if (!m || typeof m.seq !== "number" || S.shown[m.seq]) return;
    ensureLog();
    var li = messageEl(m.sender, m.text, m.at, m.sender === "agent" ? firstName(m.name) || S.agentName : null);
    placeBySeq(li, m.seq);
    markShown(m.seq, li);
    if (m.sender === "agent") hideTyping();
    scrollLog();
  }

  function ensureLog() {
    if (!logList) logList = el("div", { className: "vtw-log", role: "log", "aria-live": "polite" });
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
        // A fault of ours (the database did not answer in time): the same client_id again
        // later is stored once, so the message stays pending and is sent again.
        if (ack.error.code === "internal" || ack.error.code === "unavailable") { scheduleRetry(3000); return; }
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
      sock.on("queue", function (q) {
        if (!q || S.chatStatus === "closed") return;
        if (S.chatStatus === "active" && !S.transferring) { S.strayQueue = { q: q, at: Date.now() }; return; }
        if (S.transferring) backInQueue(q);
        else if (S.chatStatus === "waiting") { S.queue = q; updateStatusLine(); }
      });
      sock.on("assigned", function (a) {
        var name = firstName(a && a.agent && a.agent.name);
        var handedOn = S.transferring || S.requeued;
        S.agentName = name;
        S.chatStatus = "active";
        S.transferring = false; S.requeued = false; S.strayQueue = null;
        if (handedOn) systemLine(bothLangs("transferredTo", { name: name || t("agentFallback") }));
        updateStatusLine(); relabelMessages(); updateCallbackChatNote();
      });
      // An advisor hands the chat on: to a colleague (`assigned` follows) or back to a team's
      // queue (`queue` follows). Until then the visitor reads that, not the old name.
      sock.on("transfer", function (d) {
        if (S.chatStatus === "closed") return;
        S.transferring = true;
        hideTyping();
        systemLine({
          nl: (d && typeof d.text === "string" && d.text) || TEXT.nl.transferring,
          en: (d && typeof d.text_en === "string" && d.text_en) || TEXT.en.transferring
        });
        var stray = S.strayQueue;
        S.strayQueue = null;
        if (stray && Date.now() - stray.at < 3000) { backInQueue(stray.q); return; } // it overtook `transfer`
        updateStatusLine(); updateCallbackChatNote();
      });
      sock.on("message", function (m) { showMessage(m); checkGap(); });
      // The server saw acute danger in what the visitor wrote: show 112 at once, keep the draft.
      sock.on("crisis", function () {
        if (S.danger) return;
        S.danger = true;
        if (S.view === "callback" && S.cb && !S.cb.done) { S.cb = null; S.view = "chat"; } // 112 comes first
        renderAll(true);
      });
      sock.on("typing", function (d) { if (d && d.typing) showTyping(); else hideTyping(); });
      sock.on("closed", function (d) {
        if (S.exiting) return;
        endedHere({ reason: d && d.reason, outcome: d && d.outcome });
      });
      return sock;
    });
  }

  function backInQueue(q) {
    S.transferring = false; S.requeued = true;
    S.chatStatus = "waiting"; S.agentName = null; S.queue = q;
    hideTyping();
    updateStatusLine(); updateCallbackChatNote();
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
      if (!ack || S.exiting) return;
      // A closed conversation, and (from the server's uniform answer, or the older not_found)
      // an expired or unknown token: the token is forgotten and nothing of an old chat shown.
      if (ack.error || ack.status === "closed") {
        if (!ack.error || ack.error.code === "not_found" || ack.error.code === "invalid_input") resumeEnded();
        return;
      }
      S.conversationId = ack.conversation_id;
      var wasStatus = S.chatStatus;
      S.chatStatus = ack.status;
      // The server's answer is the truth now: a transfer that happened meanwhile is over.
      if (wasStatus === "active" && ack.status === "waiting") S.requeued = true;
      if (ack.status === "active") S.requeued = false;
      S.transferring = false; S.strayQueue = null;
      if (ack.queue) S.queue = ack.queue;
      S.agentName = ack.agent && ack.agent.name ? firstName(ack.agent.name) : null;
      S.bound = true;
      if (S.view === "callback") {
        updateCallbackChatNote(); // a reconnect while the callback form is open: stay there
      } else {
        S.view = "chat";
        if (!S.open) { S.open = true; }
        if (wasStatus !== ack.status || !statusLine || !statusLine.isConnected) renderAll(); else { updateStatusLine(); relabelMessages(); }
      }
      (ack.messages || []).forEach(showMessage);
      if (again) note(t("online"));
      flushPending();
    });
  }

  function resumeEnded() {
    forgetToken();
    S.bound = false;
    if (S.chatStatus === null) {
      // Picked up after a reload: an ended chat is not shown again; the visitor starts fresh.
      S.conversationId = null;
      if (S.view === "chat") { S.view = "intake"; S.step = 1; renderAll(); }
      return;
    }
    // The chat on this screen ended while the connection was away: as the `closed` event.
    endedHere({});
  }

  function endedHere(info) {
    forgetToken();
    S.bound = false; hideTyping();
    // The `closed` of a stop we sent ourselves: the screen says so already (and keeps the focus).
    if (S.chatStatus === "closed" && !(info && info.outcome)) return;
    S.endInfo = info || {};
    S.chatStatus = "closed"; S.confirmStop = false; S.transferring = false;
    if (S.view === "callback") { updateCallbackChatNote(); return; }
    var active = document.activeElement;
    var focusHere = !active || active === document.body || panel.contains(active);
    renderAll();
    // The message box is gone: the focus goes to what the visitor now needs to read.
    if (S.view === "chat" && S.open && focusHere) focusEnded();
  }

  function startChat(danger) {
    S.danger = !!danger;
    S.error = null;
    S.view = "chat";
    S.chatStatus = null;
    S.queue = null;
    S.agentName = null;
    S.transferring = false; S.requeued = false; S.strayQueue = null; S.confirmStop = false; S.endInfo = null;
    S.shown = {}; S.contiguous = 0; S.highest = 0; S.gapTries = 0; S.pending = []; logList = null;
    renderAll();
    // In danger the call button gets the focus first; otherwise the message box.
    var first = danger ? panel.querySelector(".vtw-call112") : input;
    if (first) first.focus();
    connect().then(whenConnected).then(function () {
      var payload = { caller_type: S.answers.caller_type, intent: S.answers.intent, danger_now: S.danger };
      if (S.answers.topic) payload.topic = S.answers.topic;
      payload.browser = browserValue();
      S.socket.timeout(10000).emit("start", payload, function (err, ack) {
        if (S.exiting) return;
        if (err || !ack) { failStart(); return; }
        if (ack.error) {
          if (ack.error.code === "closed") {
            showClosed(ack.error.opens_at, ack.error.reason); return;
          }
          failStart(); return;
        }
        if (S.chatStatus === "closed") {
          // Stopped (or quick exit) before the start was answered: end it, keep no token.
          S.socket.timeout(5000).emit("leave", {}, function () { /* ended either way */ });
          return;
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
    } else if (S.token) {
      leaveLater(S.token);
    }
    forgetToken(); // the leave went out (or will, from leaveLater): nothing to pick up again
    S.chatStatus = "closed";
    S.endInfo = { reason: "visitor_left" };
    S.bound = false; S.confirmStop = false; S.transferring = false;
    stopTyping();
    renderAll();
    focusEnded();
  }

  // Stopped while the connection was away: a socket of its own ends that conversation as soon
  // as it can (the token stays in its closure only), so the advisor is not left waiting and
  // the page's own socket is free to start a new chat meanwhile.
  function leaveLater(token) {
    loadIo().then(function (io) {
      var s = io(ORIGIN + "/visitor", {
        forceNew: true, transports: ["websocket", "polling"], withCredentials: false,
        reconnectionDelay: 1000, reconnectionDelayMax: 5000
      });
      S.leavers.push(s);
      s.once("connect", function () {
        s.timeout(10000).emit("resume", { resume_token: token, after_seq: 1e9 }, function (err, ack) {
          if (err || !ack || ack.error || ack.status === "closed") { s.disconnect(); return; }
          s.timeout(5000).emit("leave", {}, function () { s.disconnect(); });
        });
      });
    }).catch(function () { /* the server's own clean-up remains */ });
  }

  function newChat() {
    S.view = "intake"; S.step = 1; S.answers = {}; S.danger = false; S.chatStatus = null;
    S.shown = {}; S.contiguous = 0; S.pending = []; logList = null; S.conversationId = null;
    S.endInfo = null; S.requeued = false; S.transferring = false; S.agentName = null;
    renderAll(); focusStep();
    // Whether anyone is online may have changed since the widget was opened.
    var before = noAdvisorNow();
    fetchStatus().then(function () {
      if (S.view === "intake" && S.step === 1 && noAdvisorNow() !== before) { renderAll(); focusStep(); }
    }).catch(function () { /* keep what we had */ });
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
        S.closedOpensAt = null; S.closedReason = null; S.closedForTeam = false;
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
}
