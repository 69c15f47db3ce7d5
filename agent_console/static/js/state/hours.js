/* Opening hours per team (supervisors and admins): the week pattern as the editor shows it (one
 * line per weekday, "09:00-17:00, 19:00-22:00"), checked the way the server checks it, a short
 * summary of a week ("ma–vr 09:00–17:00"), the state now in words, and the bodies of the
 * exception and "Nu sluiten tot…" requests. No DOM, no network. */

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
export const MAX_INTERVALS = 6;
export const REASON_TEXT_MAX = 120;
export const REASONS = ["incident", "training", "holiday", "busy", "other"];

/** Minutes since midnight of "HH:MM" (24:00 only as an end), or null. */
export function minutes(text, end) {
  const m = /^([0-9]{2}):([0-9]{2})$/.exec(text);
  if (!m) return null;
  const h = Number(m[1]), min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && (min || !end))) return null;
  return h * 60 + min;
}

const hhmm = (n) => String(Math.floor(n / 60)).padStart(2, "0") + ":" + String(n % 60).padStart(2, "0");

/** One day's line of the editor from the server's intervals. */
export function dayLine(intervals) {
  return (intervals || []).map((i) => i.opens + "-" + i.closes).join(", ");
}

/** A day's line read: `{intervals}` or `{error: {key, vars}}` (texts in i18n: ohErr*). */
export function readDay(line) {
  const parts = String(line || "").split(/[,;]/).map((p) => p.trim()).filter(Boolean);
  if (parts.length > MAX_INTERVALS) return { error: { key: "ohErrTooMany", vars: { n: parts.length, max: MAX_INTERVALS } } };
  const found = [];
  for (const part of parts) {
    const m = /^(\S+)\s*[-–]\s*(\S+)$/.exec(part);
    const start = m ? minutes(m[1], false) : null;
    const end = m ? minutes(m[2], true) : null;
    if (start === null || end === null) return { error: { key: "ohErrTime", vars: { part } } };
    if (end <= start) return { error: { key: "ohErrInverted", vars: { part } } };
    found.push([start, end]);
  }
  found.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < found.length; i++) {
    if (found[i][0] < found[i - 1][1]) {
      const a = hhmm(found[i - 1][0]) + "-" + hhmm(found[i - 1][1]);
      const b = hhmm(found[i][0]) + "-" + hhmm(found[i][1]);
      return { error: { key: "ohErrOverlap", vars: { a, b } } };
    }
  }
  return { intervals: found.map(([s, e]) => ({ opens: hhmm(s), closes: hhmm(e) })) };
}

/** The PUT body from the editor's lines ({mon: "09:00-17:00", ...}), or the problems per day
 * ([{day, key, vars}]); an unknown day is a problem too. */
export function patternBody(lines, closedOnHolidays) {
  const days = {};
  const problems = [];
  Object.keys(lines || {}).forEach((day) => {
    if (DAYS.indexOf(day) < 0) { problems.push({ day, key: "ohErrDay", vars: { day } }); return; }
    const read = readDay(lines[day]);
    if (read.error) problems.push(Object.assign({ day }, read.error));
    else if (read.intervals.length) days[day] = read.intervals;
  });
  return problems.length ? { problems } : { body: { days, closed_on_holidays: closedOnHolidays !== false } };
}

/** The week in short: consecutive days with the same hours together, e.g.
 * [{from: "mon", to: "fri", hours: "09:00–17:00, 19:00–22:00"}]; closed days are left out. */
export function weekSummary(pattern) {
  const days = (pattern && pattern.days) || {};
  const out = [];
  DAYS.forEach((day) => {
    const hours = (days[day] || []).map((i) => i.opens + "–" + i.closes).join(", ");
    const last = out[out.length - 1];
    if (hours && last && last.hours === hours && DAYS.indexOf(last.to) === DAYS.indexOf(day) - 1) last.to = day;
    else if (hours) out.push({ from: day, to: day, hours });
  });
  return out;
}

/** Local "HH:MM" of an ISO time with offset (as the server sends it: local already). */
export const clock = (iso) => (typeof iso === "string" && iso.length >= 16 ? iso.slice(11, 16) : "");
const day = (iso) => (typeof iso === "string" ? iso.slice(0, 10) : "");

/** The state now in words: {key, vars} (ohOpenUntil, ohOpenNoEnd, ohClosedUntil,
 * ohClosedUntilDay, ohClosedNoEnd), with the public reason when there is one. */
export function stateWords(now, today) {
  if (!now) return { key: "ohUnknown", vars: {} };
  if (now.open) return now.closes_at ? { key: "ohOpenUntil", vars: { time: clock(now.closes_at) } } : { key: "ohOpenNoEnd", vars: {} };
  if (!now.opens_at) return { key: "ohClosedNoEnd", vars: {}, reason: now.reason || null };
  const sameDay = day(now.opens_at) === today;
  return {
    key: sameDay ? "ohClosedUntil" : "ohClosedUntilDay",
    vars: { time: clock(now.opens_at), date: day(now.opens_at) },
    reason: now.reason || null,
  };
}

function reasonPart(reason, text) {
  if (!reason) return {};
  if (REASONS.indexOf(reason) < 0) return { error: "ohErrReason" };
  if (reason !== "other") return { reason };
  const clean = String(text || "").split(/\s+/).filter(Boolean).join(" ");
  if (!clean) return { error: "ohErrReasonText" };
  if (clean.length > REASON_TEXT_MAX) return { error: "ohErrReasonLong" };
  return { reason, reason_text: clean };
}

/** The POST body of an exception from the form: a date (whole day) or date and times;
 * `{body}` or `{error}` (an i18n key). */
export function exceptionBody(form) {
  const from = form.fromDate, to = form.toDate || form.fromDate;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(from || "") || !/^\d{4}-\d{2}-\d{2}$/.test(to || "")) return { error: "ohErrDate" };
  const startTime = form.fromTime || "", endTime = form.toTime || "";
  if ((startTime && minutes(startTime, false) === null) || (endTime && minutes(endTime, true) === null)) return { error: "ohErrTimeField" };
  const starts = startTime ? from + "T" + startTime : from;
  const ends = endTime ? to + "T" + endTime : to;
  if ((startTime ? from + "T" + startTime : from + "T00:00") >= (endTime ? to + "T" + endTime : to + "T24:00")) return { error: "ohErrOrder" };
  const body = { starts_at: starts, ends_at: ends, open: form.open === true };
  if (!body.open) {
    const r = reasonPart(form.reason, form.reasonText);
    if (r.error) return { error: r.error };
    Object.assign(body, r);
  }
  return { body };
}

/** The POST body of "Nu sluiten tot…": until a time today (or a date-time), with a reason. */
export function closeNowBody(form, today, nowClock) {
  let until = form.until || "";
  if (/^\d{2}:\d{2}$/.test(until)) {
    if (minutes(until, false) === null) return { error: "ohErrTimeField" };
    if (nowClock && until <= nowClock) return { error: "ohErrPast" };
    until = today + "T" + until;
  } else if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(until)) {
    return { error: "ohErrTimeField" };
  }
  const r = reasonPart(form.reason, form.reasonText);
  if (r.error) return { error: r.error };
  return { body: Object.assign({ until }, r) };
}
