// Tiny DOM helpers. Every piece of data goes in as a text node or an attribute value,
// never through innerHTML, so server data cannot inject markup (and the CSP forbids
// inline styles and handlers anyway).

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * h("div", {class: "a", dataset: {key: "x"}, on: {click: fn}}, "text", childNode, [more])
 * Attributes: class, dataset, on, text, hidden/disabled/checked (booleans), any other
 * attribute set with setAttribute. null/undefined/false children are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

function applyAttrs(el, attrs) {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "on") for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (name === "text") el.textContent = value;
    else if (name === "value" && "value" in el) el.value = value;
    else if (name === "checked" || name === "disabled" || name === "hidden" || name === "selected") el[name] = Boolean(value);
    else if (name === "style") throw new Error("inline style attributes are forbidden by the CSP; use a class");
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

/** For the rare place a string of HTML is built: escape everything that came from outside. */
export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Icons: static path data of our own, built with the DOM API.
const ICONS = {
  wallet: "M3 6.5A2.5 2.5 0 0 1 5.5 4h12A1.5 1.5 0 0 1 19 5.5V7h.5A1.5 1.5 0 0 1 21 8.5v10a1.5 1.5 0 0 1-1.5 1.5h-14A2.5 2.5 0 0 1 3 17.5v-11Zm2.5-1a1 1 0 0 0 0 2H17.5v-2h-12ZM4.5 8.8v8.7a1 1 0 0 0 1 1h14v-3h-3.5a2.5 2.5 0 0 1 0-5h3.5V9h-14a2.5 2.5 0 0 1-1-.2ZM16 12a1 1 0 0 0 0 2h3.5v-2H16Z",
  scan: "M4 4h5v1.5H5.5V9H4V4Zm11 0h5v5h-1.5V5.5H15V4ZM4 15h1.5v3.5H9V20H4v-5Zm14.5 0H20v5h-5v-1.5h3.5V15ZM4 11.25h16v1.5H4v-1.5Z",
  message: "M4 5.5A1.5 1.5 0 0 1 5.5 4h13A1.5 1.5 0 0 1 20 5.5v10a1.5 1.5 0 0 1-1.5 1.5H9.6l-3.9 3.2A1 1 0 0 1 4 19.4V5.5Zm1.5 0v12.8l3.6-2.8h9.4v-10h-13ZM8 9h8v1.5H8V9Zm0 3h5v1.5H8V12Z",
  assistant: "M12 3a1 1 0 0 1 1 1v1.05A7 7 0 0 1 19 12v4a3 3 0 0 1-3 3H8a3 3 0 0 1-3-3v-4a7 7 0 0 1 6-6.95V4a1 1 0 0 1 1-1Zm0 3.5A5.5 5.5 0 0 0 6.5 12v4A1.5 1.5 0 0 0 8 17.5h8a1.5 1.5 0 0 0 1.5-1.5v-4A5.5 5.5 0 0 0 12 6.5ZM9.5 11a1.25 1.25 0 1 1 0 2.5 1.25 1.25 0 0 1 0-2.5Zm5 0a1.25 1.25 0 1 1 0 2.5 1.25 1.25 0 0 1 0-2.5Z",
  me: "M12 3.5a4.5 4.5 0 1 1 0 9 4.5 4.5 0 0 1 0-9Zm0 1.5a3 3 0 1 0 0 6 3 3 0 0 0 0-6Zm0 9c4.1 0 7.5 2.2 7.5 5.25V20H4.5v-.75C4.5 16.2 7.9 14 12 14Zm0 1.5c-3 0-5.5 1.4-5.9 3h11.8c-.4-1.6-2.9-3-5.9-3Z",
  back: "M15.7 4.3a1 1 0 0 1 0 1.4L9.4 12l6.3 6.3a1 1 0 1 1-1.4 1.4l-7-7a1 1 0 0 1 0-1.4l7-7a1 1 0 0 1 1.4 0Z",
  refresh: "M12 4a8 8 0 0 1 7.4 5H17v1.5h5v-5h-1.5v2.3A9.5 9.5 0 1 0 21.5 12H20a8 8 0 1 1-8-8Z",
  filter: "M3 5h18v1.5l-7 7.2V20l-4-2v-4.3L3 6.5V5Zm2.2 1.5 6.3 6.5v4l1 .5V13l6.3-6.5H5.2Z",
  shield: "M12 2.5 20 5.5v6c0 5-3.4 8.9-8 10.4-4.6-1.5-8-5.4-8-10.4v-6l8-3Zm0 1.6L5.5 6.5v5c0 4.1 2.7 7.4 6.5 8.8 3.8-1.4 6.5-4.7 6.5-8.8v-5L12 4.1Zm3.3 4.8 1.1 1-5.2 5.6-3.3-3.2 1-1.1 2.2 2.1 4.2-4.4Z",
  progress: "M4 19.5h16V21H4v-1.5ZM5 11h3v7H5v-7Zm5.5-4h3v11h-3V7ZM16 3h3v15h-3V3Z",
  image: "M4.5 4h15A1.5 1.5 0 0 1 21 5.5v13a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 18.5v-13A1.5 1.5 0 0 1 4.5 4Zm0 1.5v10.4l4.2-4.2a1 1 0 0 1 1.4 0l2.4 2.4 3.4-3.4a1 1 0 0 1 1.4 0l2.2 2.2V5.5h-15ZM8.5 7a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3Z",
  link: "M10.6 13.4a1 1 0 0 1 0-1.4l3.5-3.5a1 1 0 1 1 1.4 1.4L12 13.4a1 1 0 0 1-1.4 0ZM7.4 12.5l-1.8 1.8a3 3 0 0 0 4.2 4.2l1.8-1.8 1.4 1.4-1.8 1.8a5 5 0 0 1-7-7l1.8-1.8 1.4 1.4Zm9.2-1 1.8-1.8a3 3 0 0 0-4.2-4.2l-1.8 1.8-1.4-1.4 1.8-1.8a5 5 0 0 1 7 7l-1.8 1.8-1.4-1.4Z",
};

export function icon(name, className = "pj-icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name] || "");
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

let idCounter = 0;
export function uid(prefix = "pj") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
