/* The ready-text picker (snelteksten) of the chat composer: Ctrl+/ (or / in an empty draft)
 * opens a searchable list (the combobox pattern: focus stays in the search box, the arrows move
 * the active option, aria-activedescendant names it); Enter puts the text, with its placeholders
 * filled in, into the draft at the cursor. Nothing is sent: the advisor reads it and sends. */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { insertAt, opensPicker, render, search } from "../state/ready-texts.js";
import { $, el, setText } from "./dom.js";
import { errorText, label } from "./labels.js";

let loaded = null;        // the last answer: {texts, values}
let target = null;        // {c, ta, start, end}: where the chosen text goes
let shown = [];           // the texts in the list now
let active = 0;

/** Gives a conversation's composer its shortcut. */
export function bindReadyTexts(c, ta, button) {
  ta.addEventListener("keydown", function (e) {
    if (e.isComposing || !opensPicker(e.key, e.ctrlKey || e.metaKey, ta.value)) return;
    e.preventDefault();
    openPicker(c, ta, e.key === "/" && !(e.ctrlKey || e.metaKey));
  });
  if (button) button.addEventListener("click", function () { openPicker(c, ta); });
}

/** `bySlash`: opened by typing / in an empty draft; a second / then types the slash itself. */
export async function openPicker(c, ta, bySlash) {
  target = { c, ta, start: ta.selectionStart, end: ta.selectionEnd, bySlash: !!bySlash };
  $("rt-search").value = "";
  $("rt-error").hidden = true;
  $("rt-dialog").showModal();
  $("rt-search").focus();
  fill();
  const res = await actions.readyTexts();
  if (res.status === 200 && res.body && Array.isArray(res.body.texts)) {
    loaded = res.body;
  } else if (!loaded) {
    showError(res.status === 0 ? t("cbOffline") : errorText(actions.apiError(res), t("rtLoadFailed")));
  }
  if ($("rt-dialog").open) fill();
}

function showError(text) {
  $("rt-error").textContent = text;
  $("rt-error").hidden = !text;
}

function fill() {
  const list = $("rt-list");
  list.textContent = "";
  if (!loaded) { setText($("rt-status"), t("rtLoading")); return; }
  const c = target && target.c;
  shown = search(loaded.texts, $("rt-search").value, { team: c && c.summary ? c.summary.team : null, lang: "nl" });
  active = 0;
  shown.forEach(function (x, i) {
    const li = el("li", "rt-option");
    li.id = "rt-opt-" + i;
    li.setAttribute("role", "option");
    const head = el("span", "rt-option-head");
    head.appendChild(el("span", "rt-option-title", x.title));
    head.appendChild(el("span", "chip", "/" + x.shortcut));
    head.appendChild(el("span", "muted small", (x.team ? label("team", x.team) : t("rtShared")) + " · " + x.lang.toUpperCase()));
    li.appendChild(head);
    li.appendChild(el("span", "rt-option-text small", render(x.text, loaded.values)));
    li.addEventListener("mousedown", function (e) { e.preventDefault(); });
    li.addEventListener("click", function () { choose(i); });
    list.appendChild(li);
  });
  markActive();
  setText($("rt-status"), shown.length ? t("rtCount", { n: shown.length }) : t("rtNone"));
}

function markActive() {
  const input = $("rt-search");
  Array.prototype.forEach.call($("rt-list").children, function (li, i) {
    li.setAttribute("aria-selected", i === active ? "true" : "false");
    li.classList.toggle("rt-active", i === active);
    if (i === active && li.scrollIntoView) li.scrollIntoView({ block: "nearest" });
  });
  if (shown.length) input.setAttribute("aria-activedescendant", "rt-opt-" + active);
  else input.removeAttribute("aria-activedescendant");
}

function choose(i) {
  const x = shown[i];
  if (!x || !target || !loaded) return;
  put(render(x.text, loaded.values));
}

function put(text) {
  const { ta, start, end } = target;
  const next = insertAt(ta.value, start, end, text);
  $("rt-dialog").close();
  ta.value = next.draft;
  // The composer saves the draft and sends typing on its own input event.
  ta.dispatchEvent(new Event("input", { bubbles: true }));
  ta.focus();
  ta.setSelectionRange(next.cursor, next.cursor);
}

$("rt-search").addEventListener("input", fill);
$("rt-search").addEventListener("keydown", function (e) {
  if (e.key === "/" && !$("rt-search").value && target && target.bySlash) {
    e.preventDefault();
    put("/");
  } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    if (!shown.length) return;
    active = (active + (e.key === "ArrowDown" ? 1 : -1) + shown.length) % shown.length;
    markActive();
  } else if (e.key === "Home" && e.ctrlKey) {
    e.preventDefault(); active = 0; markActive();
  } else if (e.key === "End" && e.ctrlKey) {
    e.preventDefault(); active = Math.max(0, shown.length - 1); markActive();
  } else if (e.key === "Enter") {
    e.preventDefault();
    choose(active);
  }
});
$("rt-form").addEventListener("submit", function (e) { e.preventDefault(); choose(active); });
$("rt-cancel").addEventListener("click", function () { $("rt-dialog").close(); });
$("rt-dialog").addEventListener("close", function () {
  const ta = target && target.ta;
  target = null;
  if (ta && document.activeElement !== ta && ta.isConnected) ta.focus();
});
