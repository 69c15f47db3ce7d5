/*
 * Shared by the booking page (/afspraak) and the manage page (/afspraak/beheer): formatting of
 * tijdvakken in Amsterdam time, calls to the callback API, the calendar download, the tijdvak
 * picker and field errors.
 * Vanilla JS, no build step, no third-party request; everything is rendered as text.
 */
(function () {
  "use strict";
  var TZ = "Europe/Amsterdam";
  var GENERIC = "Er ging iets mis. Probeer het zo nog eens, of bel 0800-2000.";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) {
      if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function parts(iso, opts) {
    var found = {};
    new Intl.DateTimeFormat("nl-NL", Object.assign({ timeZone: TZ }, opts)).formatToParts(new Date(iso))
      .forEach(function (p) { found[p.type] = p.value.replace(/\.$/, ""); });
    return found;
  }
  function dayKey(iso) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
  }
  function fmtDay(iso, long) {
    var p = parts(iso, { weekday: long ? "long" : "short", day: "numeric", month: long ? "long" : "short" });
    return p.weekday + " " + p.day + " " + p.month;
  }
  function fmtTime(iso) {
    var p = parts(iso, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return p.hour + ":" + p.minute;
  }
  /** "di 1 dec, 10:00–10:45" */
  function fmtSlot(slot) { return fmtDay(slot.start) + ", " + fmtTime(slot.start) + "–" + fmtTime(slot.end); }
  /** "dinsdag 1 december, 10:00–10:45 uur" */
  function fmtSlotLong(slot) { return fmtDay(slot.start, true) + ", " + fmtTime(slot.start) + "–" + fmtTime(slot.end) + " uur"; }

  /** The answer of the API as {ok, status, body}; a network failure is a generic error. */
  function api(method, path, payload) {
    var init = { method: method, credentials: "omit", cache: "no-store", headers: {} };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    return fetch(path, init).then(function (r) {
      return r.json().then(
        function (b) { return { ok: r.ok, status: r.status, body: b }; },
        function () { return { ok: r.ok, status: r.status, body: null }; }
      );
    }, function () {
      return { ok: false, status: 0, body: null };
    });
  }
  /**
   * The calendar file of a booking as a download from a blob: address. A link to
   * /api/callbacks/<token>/calendar.ics would leave the manage token in the browser history and
   * in the downloads list (both keep the address a file came from); fetched here, they keep
   * only the blob: address, which holds no token and is revoked right after the click.
   * Resolves to {ok, status, body} like api().
   */
  function downloadCalendar(token, filename) {
    var path = "/api/callbacks/" + encodeURIComponent(token) + "/calendar.ics";
    return fetch(path, { credentials: "omit", cache: "no-store" }).then(function (r) {
      if (!r.ok) {
        return r.json().then(
          function (b) { return { ok: false, status: r.status, body: b }; },
          function () { return { ok: false, status: r.status, body: null }; }
        );
      }
      return r.blob().then(function (blob) {
        var url = URL.createObjectURL(new Blob([blob], { type: "text/calendar" }));
        var a = el("a", { href: url, download: filename || "veilig-thuis-afspraak.ics", hidden: true });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
        return { ok: true, status: r.status, body: null };
      });
    }).catch(function () {
      return { ok: false, status: 0, body: null };
    });
  }

  function errorCode(res) { return res.body && res.body.error ? res.body.error.code : null; }
  function errorText(res) { return (res.body && res.body.error && res.body.error.message) || GENERIC; }

  /** Show or clear the error of one field (a wrapper with data-field, holding .field-error). */
  function setFieldError(wrapper, message) {
    var box = wrapper.querySelector(".field-error");
    var controls = wrapper.querySelectorAll("input, select, textarea");
    wrapper.classList.toggle("invalid", !!message);
    box.textContent = message || "";
    box.hidden = !message;
    Array.prototype.forEach.call(controls, function (c) {
      if (c.type === "radio" && wrapper.getAttribute("data-radio-invalid") === "no") return;
      if (message) c.setAttribute("aria-invalid", "true"); else c.removeAttribute("aria-invalid");
    });
  }

  /**
   * A tijdvak picker: a day (select) and the tijdvakken of that day (radios, none preselected).
   * `container` is emptied and filled; `except` is a start to leave out (the current one).
   */
  function SlotPicker(container, kind, opts) {
    this.container = container;
    this.kind = kind;
    this.prefix = opts.prefix;
    this.legend = opts.legend;
    this.except = opts.except || null;
    this.slots = null;
    this.day = null;
    this.chosen = null;
    this.error = null;
  }
  SlotPicker.prototype.load = function () {
    var self = this;
    self.slots = null;
    self.render();
    return api("GET", "/api/callbacks/slots?kind=" + encodeURIComponent(self.kind) + "&days=28").then(function (res) {
      if (!res.ok) { self.loadError = errorText(res); self.slots = []; self.render(); return; }
      self.loadError = null;
      self.slots = (res.body.slots || []).filter(function (s) { return s.start !== self.except; });
      if (self.chosen && !self.slots.some(function (s) { return s.start === self.chosen.start; })) self.chosen = null;
      var days = self.slots.map(function (s) { return dayKey(s.start); });
      if (!self.day || days.indexOf(self.day) < 0) self.day = days.length ? days[0] : null;
      self.render();
    });
  };
  SlotPicker.prototype.setError = function (message) {
    this.error = message || null;
    var fs = this.container.querySelector("[data-field=slot]");
    if (fs) setFieldError(fs, this.error);
  };
  SlotPicker.prototype.focus = function () {
    var first = this.container.querySelector("input[type=radio]:checked") || this.container.querySelector("input[type=radio]") ||
      this.container.querySelector("select");
    if (first) first.focus();
  };
  SlotPicker.prototype.render = function () {
    var self = this, p = self.prefix;
    var c = self.container;
    c.textContent = "";
    var outer = el("fieldset", { className: "group" }, [el("legend", { className: "legend", text: self.legend })]);
    c.appendChild(outer);
    if (self.slots === null) { outer.appendChild(el("p", { className: "hint", role: "status", text: "Tijdvakken laden…" })); return; }
    if (self.loadError) { outer.appendChild(el("p", { className: "alert", role: "alert", text: self.loadError })); return; }
    if (!self.slots.length) {
      outer.appendChild(el("p", { "data-testid": "no-slots", text: "Er is de komende weken geen tijdvak vrij. Bel ons op 0800-2000." }));
      return;
    }
    var days = [], byDay = {};
    self.slots.forEach(function (s) {
      var k = dayKey(s.start);
      if (!byDay[k]) { byDay[k] = []; days.push(k); }
      byDay[k].push(s);
    });
    var select = el("select", { id: p + "-day", className: "control" }, days.map(function (k) {
      return el("option", { value: k, selected: k === self.day }, [fmtDay(byDay[k][0].start, true)]);
    }));
    outer.appendChild(el("div", { className: "field" }, [el("label", { "for": p + "-day", text: "Dag" }), select]));
    var radios = el("div");
    outer.appendChild(radios);
    function fillRadios() {
      radios.textContent = "";
      var errId = p + "-slot-error";
      var fs = el("fieldset", { className: "group field", "data-field": "slot", "aria-describedby": errId }, [
        el("legend", { className: "label", text: "Tijdvak" }),
        el("p", { id: errId, className: "field-error", hidden: true }),
        el("div", { className: "radios" }, (byDay[self.day] || []).map(function (s, i) {
          var id = p + "-slot-" + i;
          return el("div", { className: "radio" }, [
            el("input", {
              type: "radio", id: id, name: p + "-slot", value: s.start,
              checked: !!(self.chosen && self.chosen.start === s.start),
              onchange: function () { self.chosen = s; self.setError(null); }
            }),
            el("label", { "for": id, text: fmtSlot(s) })
          ]);
        }))
      ]);
      radios.appendChild(fs);
      if (self.error) setFieldError(fs, self.error);
    }
    select.addEventListener("change", function () { self.day = select.value; fillRadios(); });
    fillRadios();
  };

  window.VTA = {
    el: el, api: api, downloadCalendar: downloadCalendar, errorCode: errorCode, errorText: errorText, setFieldError: setFieldError,
    fmtSlot: fmtSlot, fmtSlotLong: fmtSlotLong, SlotPicker: SlotPicker, GENERIC: GENERIC
  };
})();
