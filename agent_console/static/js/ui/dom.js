/* Small DOM helpers: find by id, make an element with text (never HTML), set text only when it
 * changed (a live region reads each change out), a count badge with words for screen readers,
 * a downloaded file handed to the browser. */


// ---- small helpers -------------------------------------------------------------------

export function $(id) { return document.getElementById(id); }
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
export function setBadge(b, n, hiddenText) {
  b.hidden = !n;
  if (b.dataset.n === String(n)) return;
  b.dataset.n = String(n);
  b.textContent = "";
  if (!n) return;
  b.appendChild(document.createTextNode(String(n)));
  b.appendChild(el("span", "visually-hidden", hiddenText)); // read as "3 ongelezen", "1 te bellen"
}

export function setText(node, text) { if (node.textContent !== text) node.textContent = text; }

/** Hand a downloaded file to the browser under `name`: from a blob: address that is revoked right
 * after the click, so the file is not kept reachable afterwards. */
export function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(function () { URL.revokeObjectURL(url); }, 0);
}
