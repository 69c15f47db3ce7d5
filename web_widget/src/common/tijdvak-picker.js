/**
 * The tijdvak picker of the widget's callback form and of the booking pages: a day (select) and
 * the tijdvakken of that day (radios, none preselected), in Amsterdam time.
 * groupByDay and settle are pure (node-tested); dayAndSlots builds the two parts in the DOM
 * with the caller's own classes and radios; SlotPicker is the booking pages' whole picker.
 */
import { el, setFieldError } from "./dom.js";
import { dayKey, fmtDay, fmtSlot } from "./time.js";
import { api, errorText, slotsPath } from "./api.js";
import { BOOKING } from "./texts.js";

/** Tijdvakken grouped by their Amsterdam day, in the order they came: {days, byDay}. */
export function groupByDay(slots) {
  const days = [];
  const byDay = {};
  (slots || []).forEach((s) => {
    const k = dayKey(s.start);
    if (!byDay[k]) { byDay[k] = []; days.push(k); }
    byDay[k].push(s);
  });
  return { days, byDay };
}

/**
 * After (re)loading: the choice is kept only if its tijdvak is still free, the day only if it
 * still has one (else the first day that has one, or null).
 */
export function settle(slots, chosen, day) {
  const keep = chosen && slots.some((s) => s.start === chosen.start) ? chosen : null;
  const days = groupByDay(slots).days;
  return { chosen: keep, day: day && days.indexOf(day) >= 0 ? day : (days.length ? days[0] : null) };
}

/**
 * The day select and a box for that day's radios, filled by radiosFor(daySlots) now and again
 * when another day is picked (onDay(key) first). Returns the nodes to append.
 */
export function dayAndSlots(opts) {
  const { days, byDay } = groupByDay(opts.slots);
  const select = el("select", { id: opts.selectId, className: opts.selectClass }, days.map((k) =>
    el("option", { value: k, selected: k === opts.day }, [fmtDay(byDay[k][0].start, true, opts.lang)])));
  const radios = el("div");
  function fill(key) {
    radios.textContent = "";
    radios.appendChild(opts.radiosFor(byDay[key] || []));
  }
  select.addEventListener("change", () => { opts.onDay(select.value); fill(select.value); });
  const field = el("div", { className: opts.fieldClass }, [
    el("label", { "for": opts.selectId, className: opts.labelClass, text: opts.dayLabel }), select
  ]);
  fill(opts.day);
  return [field, radios];
}

/**
 * The booking pages' picker: `container` is emptied and filled; `except` is a start to leave
 * out (the current one).
 */
export class SlotPicker {
  constructor(container, kind, opts) {
    this.container = container;
    this.kind = kind;
    this.prefix = opts.prefix;
    this.legend = opts.legend;
    this.except = opts.except || null;
    this.slots = null;
    this.day = null;
    this.chosen = null;
    this.error = null;
    this.loadError = null;
  }

  load() {
    this.slots = null;
    this.render();
    return api("GET", slotsPath(this.kind, 28)).then((res) => {
      if (!res.ok) { this.loadError = errorText(res); this.slots = []; this.render(); return; }
      this.loadError = null;
      this.slots = (res.body.slots || []).filter((s) => s.start !== this.except);
      Object.assign(this, settle(this.slots, this.chosen, this.day));
      this.render();
    });
  }

  setError(message) {
    this.error = message || null;
    const fs = this.container.querySelector("[data-field=slot]");
    if (fs) setFieldError(fs, this.error);
  }

  focus() {
    const first = this.container.querySelector("input[type=radio]:checked") || this.container.querySelector("input[type=radio]") ||
      this.container.querySelector("select");
    if (first) first.focus();
  }

  render() {
    const p = this.prefix;
    const T = BOOKING.nl;
    const c = this.container;
    c.textContent = "";
    const outer = el("fieldset", { className: "group" }, [el("legend", { className: "legend", text: this.legend })]);
    c.appendChild(outer);
    if (this.slots === null) { outer.appendChild(el("p", { className: "hint", role: "status", text: T.loadingSlots })); return; }
    if (this.loadError) { outer.appendChild(el("p", { className: "alert", role: "alert", text: this.loadError })); return; }
    if (!this.slots.length) {
      outer.appendChild(el("p", { "data-testid": "no-slots", text: T.noSlots }));
      return;
    }
    const radiosFor = (daySlots) => {
      const errId = p + "-slot-error";
      const fs = el("fieldset", { className: "group field", "data-field": "slot", "aria-describedby": errId }, [
        el("legend", { className: "label", text: T.slot }),
        el("p", { id: errId, className: "field-error", hidden: true }),
        el("div", { className: "radios" }, daySlots.map((s, i) => {
          const id = p + "-slot-" + i;
          return el("div", { className: "radio" }, [
            el("input", {
              type: "radio", id, name: p + "-slot", value: s.start,
              checked: !!(this.chosen && this.chosen.start === s.start),
              onchange: () => { this.chosen = s; this.setError(null); }
            }),
            el("label", { "for": id, text: fmtSlot(s) })
          ]);
        }))
      ]);
      if (this.error) setFieldError(fs, this.error);
      return fs;
    };
    dayAndSlots({
      slots: this.slots, day: this.day, selectId: p + "-day", selectClass: "control", fieldClass: "field",
      labelClass: null, dayLabel: T.day, radiosFor, onDay: (k) => { this.day = k; }
    }).forEach((n) => outer.appendChild(n));
  }
}
