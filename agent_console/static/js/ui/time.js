/* Times as people read them, in the server's time zone (Europe/Amsterdam unless configured): 14:05, di 1 dec 14:05, 3:07 waited. */
import { TZ } from "../state/days.js";


export function clock(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return d.toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit", timeZone: TZ });
}
// A moment that may be on another day: "di 1 dec 14:05".
export function dayClock(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return d.toLocaleDateString("nl-NL", { weekday: "short", day: "numeric", month: "short", timeZone: TZ }) + " " + clock(iso);
}
export function waited(iso) {
  const s = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = (h ? String(m).padStart(2, "0") : String(m)), ss = String(sec).padStart(2, "0");
  return (h ? h + ":" : "") + mm + ":" + ss;
}
