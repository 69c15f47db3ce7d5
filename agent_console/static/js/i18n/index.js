/* Texts people read: Dutch first, English too, chosen by <html lang> (as the widget does).
 * Elements with data-t in console.html carry the Dutch text already and are switched by
 * applyTexts(). t() fills {name} placeholders; a key missing in English falls back to Dutch. */
import nl from "./nl.js";
import en from "./en.js";

const TEXT = { nl, en };

function pageLang() {
  const lang = typeof document !== "undefined" ? document.documentElement.lang || "nl" : "nl";
  return lang.slice(0, 2) === "en" ? "en" : "nl";
}

export const LANG = pageLang();

export function t(key, vars) {
  const s = (TEXT[LANG] && TEXT[LANG][key]) || TEXT.nl[key] || key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined || vars[k] === null ? "" : String(vars[k])));
}

export function applyTexts(root) {
  if (LANG === "nl") return; // the HTML is written in Dutch
  // Placeholders are filled from the element's data-* attributes (data-emergency="112").
  root.querySelectorAll("[data-t]").forEach((x) => { x.textContent = t(x.dataset.t, x.dataset); });
}

/** Whether `key` is a text of the table (so a code from the server can be shown in words). */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(nl, key);
}
