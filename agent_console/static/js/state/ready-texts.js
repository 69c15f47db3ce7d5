/* Ready texts (snelteksten), pure: filling in the placeholders and the picker's search. No DOM,
 * no network (Node-tested in js/tests/ready-texts.test.js). The server hands out the texts and
 * the values of the placeholders (GET /api/agent/ready-texts) and refuses an unknown one. */

export const PLACEHOLDERS = ["voornaam", "telefoon", "noodnummer", "sluitingstijd"];
const PLACEHOLDER = /\{([^{}\s]*)\}/g;

/** The first `{name}` in `text` that is not a placeholder, or null (the server refuses it too). */
export function unknownPlaceholder(text) {
  for (const m of String(text || "").matchAll(PLACEHOLDER)) {
    if (PLACEHOLDERS.indexOf(m[1]) < 0) return m[1];
  }
  return null;
}

/** `text` with every placeholder that has a value filled in; one without a value (a closing time
 * while the chat is closed) stays as written, so the advisor sees what to fill in before sending. */
export function render(text, values) {
  const v = values || {};
  return String(text || "").replace(PLACEHOLDER, function (whole, name) {
    const value = Object.prototype.hasOwnProperty.call(v, name) ? v[name] : null;
    return value === null || value === undefined || value === "" ? whole : String(value);
  });
}

/** Lower case without accents, so "veilig" finds "Véilig" and "een" finds "één". */
export function fold(s) {
  return String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

/** The texts that match `query` (every word must be in the shortcut, title or text), best first:
 * an exact shortcut, then a shortcut that starts with the query, then a title, then the rest.
 * Among equals: the conversation's team, then shared, then the language of `lang`, then title.
 * An empty query lists every text in that order. `opts`: {team, lang}. */
export function search(texts, query, opts) {
  const o = opts || {};
  const q = fold(query).trim().replace(/^\//, "");
  const words = q ? q.split(/\s+/) : [];
  const scored = [];
  (texts || []).forEach(function (x) {
    const shortcut = fold(x.shortcut);
    const title = fold(x.title);
    const hay = shortcut + " " + title + " " + fold(x.text);
    if (!words.every(function (w) { return hay.indexOf(w) >= 0; })) return;
    let rank = 4;
    if (q && shortcut === q) rank = 0;
    else if (q && shortcut.indexOf(q) === 0) rank = 1;
    else if (q && title.indexOf(q) >= 0) rank = 2;
    else if (!q) rank = 3;
    const teamRank = o.team && x.team === o.team ? 0 : x.team === null || x.team === undefined ? 1 : 2;
    const langRank = o.lang && x.lang !== o.lang ? 1 : 0;
    scored.push({ x, key: [rank, teamRank, langRank, title, String(x.id)] });
  });
  scored.sort(function (a, b) {
    for (let i = 0; i < a.key.length; i++) {
      if (a.key[i] < b.key[i]) return -1;
      if (a.key[i] > b.key[i]) return 1;
    }
    return 0;
  });
  return scored.map(function (s) { return s.x; });
}

/** Whether a key press in the composer opens the picker: Ctrl+/ (or Cmd+/) anywhere, or `/` as
 * the first character of an empty draft. */
export function opensPicker(key, ctrl, draft) {
  if (key !== "/") return false;
  return !!ctrl || String(draft || "") === "";
}

/** `text` inserted into `draft` at the cursor (`start`..`end` replaced): the new draft and the
 * cursor after the inserted text. */
export function insertAt(draft, start, end, text) {
  const d = String(draft || "");
  const s = Math.max(0, Math.min(start === undefined ? d.length : start, d.length));
  const e = Math.max(s, Math.min(end === undefined ? s : end, d.length));
  const next = d.slice(0, s) + text + d.slice(e);
  return { draft: next, cursor: s + text.length };
}

/** What the management form sends, checked as the server does; `{error: field}` when wrong. */
export function readyTextBody(form) {
  const title = String(form.title || "").trim();
  const shortcut = String(form.shortcut || "").trim();
  const text = String(form.text || "").trim();
  const lang = form.lang === "en" ? "en" : form.lang === "nl" ? "nl" : null;
  if (!title || Array.from(title).length > 80) return { error: "title" };
  if (!/^[a-z0-9][a-z0-9_-]{0,29}$/.test(shortcut)) return { error: "shortcut" };
  if (!text || Array.from(text).length > 2000) return { error: "text" };
  if (unknownPlaceholder(text) !== null) return { error: "placeholder", placeholder: unknownPlaceholder(text) };
  if (!lang) return { error: "lang" };
  return { body: { team: form.team ? String(form.team) : null, lang, title, shortcut, text } };
}
