/**
 * Times and tijdvakken in Europe/Amsterdam, whatever the visitor's own time zone: the service
 * and its advisors work on Dutch time. Pure (only Intl), tested with node --test.
 */
export const TZ = "Europe/Amsterdam";

function locale(lang) { return lang === "en" ? "en-GB" : "nl-NL"; }

function parts(iso, lang, opts) {
  const found = {};
  new Intl.DateTimeFormat(locale(lang), Object.assign({ timeZone: TZ }, opts)).formatToParts(new Date(iso))
    .forEach((p) => { found[p.type] = p.value.replace(/\.$/, ""); });
  return found;
}

/** The Amsterdam calendar day of an instant, "2026-12-01". */
export function dayKey(iso) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
  } catch (e) { return String(iso).slice(0, 10); }
}

/** "di 1 dec" or, long, "dinsdag 1 december" ("Tue 1 Dec" / "Tuesday 1 December" in English). */
export function fmtDay(iso, long, lang) {
  try {
    const p = parts(iso, lang, { weekday: long ? "long" : "short", day: "numeric", month: long ? "long" : "short" });
    return p.weekday + " " + p.day + " " + p.month;
  } catch (e) { return String(iso).slice(0, 10); }
}

/** "09:05" (24 hours); the current time without an instant. */
export function fmtTime(iso, lang) {
  try {
    const p = parts(iso ? iso : Date.now(), lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return p.hour + ":" + p.minute;
  } catch (e) { return ""; }
}

/** "di 1 dec, 10:00–10:45" */
export function fmtSlot(slot, lang) {
  return fmtDay(slot.start, false, lang) + ", " + fmtTime(slot.start, lang) + "–" + fmtTime(slot.end, lang);
}

/** "dinsdag 1 december, 10:00–10:45 uur" */
export function fmtSlotLong(slot) {
  return fmtDay(slot.start, true) + ", " + fmtTime(slot.start) + "–" + fmtTime(slot.end) + " uur";
}

/** "dinsdag 1 december om 08:00" / "Tuesday 1 December at 08:00" */
export function fmtWhen(iso, lang) {
  try {
    const d = new Date(iso);
    const day = new Intl.DateTimeFormat(locale(lang), { timeZone: TZ, weekday: "long", day: "numeric", month: "long" }).format(d);
    return day + (lang === "en" ? " at " : " om ") + fmtTime(iso, lang);
  } catch (e) { return iso; }
}
