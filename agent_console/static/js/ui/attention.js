/* Getting the advisor's attention: a short beep, a flashing title while the page is not seen,
 * and the screen reader announcer (#announcer, an aria-live region). */
import { t } from "../i18n/index.js";
import { S, convs, crises } from "../state/session.js";
import { anyUnread, renderTab } from "./chat.js";
import { $ } from "./dom.js";

                           // the open push offer shown to us, if any

// ---- attention: beep + title flash ---------------------------------------------------

const baseTitle = document.title;
let flashTimer = null;
let audio = null;

export function unlockAudio() {
  try {
    if (!audio) { const C = window.AudioContext || window.webkitAudioContext; if (C) audio = new C(); }
    if (audio && audio.state === "suspended") audio.resume();
  } catch (e) { audio = null; }
}
export function beep() {
  if (!audio) return;
  try {
    const t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
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
export function flashTitle(text) {
  S.flashText = crises.size ? t("alarmTitle") : text; // a crisis outranks any other news
  if (flashTimer) return;
  let on = false;
  flashTimer = setInterval(function () {
    on = !on;
    document.title = on ? "● " + S.flashText : baseTitle;
  }, 1000);
  document.title = "● " + S.flashText;
}
export function stopFlash() {
  if (flashTimer) { clearInterval(flashTimer); flashTimer = null; }
  document.title = baseTitle;
}
export function attention(text, conversationId) {
  const unseen = document.hidden || !document.hasFocus() || (conversationId && conversationId !== S.activeId);
  if (!unseen) return;
  beep();
  if (document.hidden || !document.hasFocus() || conversationId !== S.activeId) flashTitle(text);
}
function seen() {
  if (document.hidden) return;
  const c = S.activeId && convs.get(S.activeId);
  if (c && c.unread) { c.unread = 0; renderTab(c); }
  if (!anyUnread() && !crises.size) stopFlash();
}
document.addEventListener("visibilitychange", seen);
window.addEventListener("focus", seen);
document.addEventListener("pointerdown", unlockAudio, { passive: true });
document.addEventListener("keydown", unlockAudio);

export function announce(text) {
  const a = $("announcer");
  a.textContent = "";
  setTimeout(function () { a.textContent = text; }, 30);
}
