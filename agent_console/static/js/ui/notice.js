/* The notice line: visible, read out by screen readers, with at most one action button. */
import { $ } from "./dom.js";

// ---- notices (visible, and read out by screen readers) ---------------------------------

let noticeTimer = null;
// `action`: an optional {label, run} for one button beside the text (e.g. open the case).
export function showNotice(text, ms, action) {
  const box = $("notice"), p = $("notice-text"), act = $("notice-action");
  clearTimeout(noticeTimer);
  box.hidden = false;
  act.hidden = !action;
  act.textContent = action ? action.label : "";
  act.onclick = action ? function () { hideNotice(); action.run(); } : null;
  p.textContent = "";
  setTimeout(function () { p.textContent = text; }, 30); // a fresh change, so it is read out
  // A passing remark goes by itself, unless the keyboard is on its button.
  if (ms) noticeTimer = setTimeout(function () { if (!box.contains(document.activeElement)) hideNotice(); }, ms);
}
function hideNotice() { clearTimeout(noticeTimer); $("notice").hidden = true; $("notice-text").textContent = ""; }
$("notice-dismiss").addEventListener("click", hideNotice);
