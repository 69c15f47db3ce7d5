/* Calendar days as "YYYY-MM-DD" strings, in the time zone the server plans in: what day an
 * instant falls on there, the day before or after, how many days apart. No DOM here. */

// The default until the server's configuration says otherwise (VT_TIMEZONE, GET /api/agent/config).
export let TZ = "Europe/Amsterdam";

let dayParts = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });

/** Plans in time zone `tz` from now on; false (and nothing changed) for a zone this browser
 * does not know. */
export function setTimeZone(tz) {
  let parts;
  try { parts = new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }); } catch { return false; }
  TZ = tz;
  dayParts = parts;
  return true;
}

/** The day an instant falls on in the planning time zone ("" for no valid instant). */
export function localDay(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const p = {};
  dayParts.formatToParts(d).forEach((x) => { p[x.type] = x.value; });
  return p.year + "-" + p.month + "-" + p.day;
}

export function validDay(v) {
  return /^\d{4}-\d{2}-\d{2}$/.test(v || "") && !isNaN(new Date(v + "T00:00:00Z"));
}

export function shiftDay(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Whole days from `b` to `a` (positive when `a` is later). */
export function dayDiff(a, b) {
  return Math.round((Date.parse(a + "T00:00:00Z") - Date.parse(b + "T00:00:00Z")) / 86400000);
}

/** "today", "tomorrow", "yesterday" or null (then the date itself is shown), relative to the
 * server's today. */
export function relativeDay(day, today) {
  if (!validDay(day) || !validDay(today)) return null;
  const n = dayDiff(day, today);
  return n === 0 ? "today" : n === 1 ? "tomorrow" : n === -1 ? "yesterday" : null;
}
