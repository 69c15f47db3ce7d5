/**
 * The one DOM helper of the widget and the booking pages: el(tag, attrs, children) builds an
 * element; text always goes in as text (textContent or text nodes), never as HTML.
 */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.keys(attrs || {}).forEach((k) => {
    const v = attrs[k];
    if (v === null || v === undefined || v === false) return;
    if (k === "text") node.textContent = v;
    else if (k === "className") node.className = v;
    else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  });
  (children || []).forEach((c) => {
    if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  });
  return node;
}

/** Show or clear the error of one field (a wrapper with data-field, holding .field-error). */
export function setFieldError(wrapper, message) {
  const box = wrapper.querySelector(".field-error");
  const controls = wrapper.querySelectorAll("input, select, textarea");
  wrapper.classList.toggle("invalid", !!message);
  box.textContent = message || "";
  box.hidden = !message;
  Array.prototype.forEach.call(controls, (c) => {
    if (c.type === "radio" && wrapper.getAttribute("data-radio-invalid") === "no") return;
    if (message) c.setAttribute("aria-invalid", "true"); else c.removeAttribute("aria-invalid");
  });
}
