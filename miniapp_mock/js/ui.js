// Shared UI pieces in WeUI's design language: toast, confirm dialog, half-screen sheet,
// loading / empty / error states, page header, status tag, key-value lists.

import { clear, h, icon, uid } from "./dom.js";
import { DISPLAY_STATUS } from "./format.js";
import { navigate } from "./router.js";

// --- toast ---------------------------------------------------------------------------

let toastTimer = null;

/** Shows a short message in the live region (#toast); errors are announced assertively. */
export function toast(message, { type = "info", duration } = {}) {
  const region = document.getElementById("toast");
  if (!region) return;
  clearTimeout(toastTimer);
  region.setAttribute("aria-live", type === "error" ? "assertive" : "polite");
  region.className = `pj-toast pj-toast--${type} pj-toast--shown`;
  region.dataset.type = type;
  region.textContent = message;
  toastTimer = setTimeout(() => {
    region.classList.remove("pj-toast--shown");
    toastTimer = setTimeout(() => {
      region.textContent = "";
    }, 300);
  }, duration || (type === "error" ? 4000 : 2500));
}

export function toastError(error) {
  toast((error && (error.title || error.message)) || "操作失败，请稍后重试", { type: "error" });
}

// --- modal plumbing ------------------------------------------------------------------

function trapFocus(container, onEscape) {
  const previous = document.activeElement;
  const handler = (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      onEscape();
      return;
    }
    if (event.key !== "Tab") return;
    const focusable = [...container.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])")]
      .filter((el) => !el.disabled && el.offsetParent !== null);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };
  container.addEventListener("keydown", handler);
  return () => {
    container.removeEventListener("keydown", handler);
    if (previous && typeof previous.focus === "function" && document.contains(previous)) previous.focus();
  };
}

function modalRoot() {
  return document.getElementById("modal-root") || document.body;
}

/**
 * A WeUI dialog asking to confirm. Resolves true (confirmed) or false.
 * `body`: a string or nodes explaining the consequences.
 */
export function confirmDialog({ title, body, confirmText = "确定", cancelText = "取消", danger = false, testid = "dialog" }) {
  return new Promise((resolve) => {
    const titleId = uid("dlg-title");
    const bodyId = uid("dlg-body");
    let release = () => {};
    const close = (result) => {
      release();
      wrapper.remove();
      resolve(result);
    };
    const cancelButton = h("button", { type: "button", class: "weui-dialog__btn weui-dialog__btn_default", "data-testid": `${testid}-cancel`, on: { click: () => close(false) } }, cancelText);
    const confirmButton = h("button", {
      type: "button", class: ["weui-dialog__btn", danger ? "weui-dialog__btn_warn" : "weui-dialog__btn_primary"],
      "data-testid": `${testid}-confirm`, on: { click: () => close(true) },
    }, confirmText);
    const dialog = h("div", { class: "weui-dialog pj-dialog", role: "alertdialog", "aria-modal": "true", "aria-labelledby": titleId, "aria-describedby": bodyId, "data-testid": testid },
      h("div", { class: "weui-dialog__hd" }, h("strong", { class: "weui-dialog__title", id: titleId }, title)),
      h("div", { class: "weui-dialog__bd pj-dialog__bd", id: bodyId }, body),
      h("div", { class: "weui-dialog__ft" }, cancelButton, confirmButton));
    const wrapper = h("div", { class: "pj-modal" }, h("div", { class: "weui-mask", on: { click: () => close(false) } }), dialog);
    modalRoot().append(wrapper);
    release = trapFocus(wrapper, () => close(false));
    cancelButton.focus();
  });
}

/** A WeUI half-screen dialog (bottom sheet). Returns {element, close}. */
export function openSheet({ title, content, footer, testid = "sheet", onClose }) {
  const titleId = uid("sheet-title");
  let release = () => {};
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    release();
    wrapper.remove();
    if (onClose) onClose();
  };
  const closeButton = h("button", { type: "button", class: "pj-sheet__close", "aria-label": "关闭", on: { click: close } }, "×");
  const sheet = h("div", { class: "weui-half-screen-dialog pj-sheet", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId, "data-testid": testid },
    h("div", { class: "weui-half-screen-dialog__hd" },
      h("div", { class: "weui-half-screen-dialog__hd__side" }, closeButton),
      h("div", { class: "weui-half-screen-dialog__hd__main" }, h("strong", { class: "weui-half-screen-dialog__title", id: titleId }, title))),
    h("div", { class: "weui-half-screen-dialog__bd pj-sheet__bd" }, content),
    footer ? h("div", { class: "weui-half-screen-dialog__ft" }, footer) : null);
  const wrapper = h("div", { class: "pj-modal" }, h("div", { class: "weui-mask", on: { click: close } }), sheet);
  modalRoot().append(wrapper);
  release = trapFocus(wrapper, close);
  const first = sheet.querySelector("input, select, textarea, button:not(.pj-sheet__close)");
  (first || closeButton).focus();
  return { element: sheet, close };
}

export function closeAllModals() {
  const root = document.getElementById("modal-root");
  if (root) clear(root);
}

// --- states ----------------------------------------------------------------------------

export function loadingState(text = "加载中") {
  return h("div", { class: "pj-state pj-state--loading", role: "status", "aria-live": "polite", "data-testid": "loading" },
    h("span", { class: "weui-primary-loading", "aria-hidden": "true" }, h("span", { class: "weui-primary-loading__dot" })),
    h("span", { class: "pj-state__text" }, text));
}

export function emptyState({ title, desc, action } = {}) {
  return h("div", { class: "pj-state pj-state--empty", "data-testid": "empty" },
    h("div", { class: "pj-state__art", "aria-hidden": "true" }),
    h("p", { class: "pj-state__title" }, title || "暂无内容"),
    desc ? h("p", { class: "pj-state__desc" }, desc) : null,
    action || null);
}

/** A WeUI msg page for an error: the problem's Chinese title, and a retry button. */
export function errorState(error, retry) {
  const title = (error && (error.title || error.message)) || "加载失败";
  return h("div", { class: "weui-msg pj-msg", role: "alert", "data-testid": "error" },
    h("div", { class: "weui-msg__icon-area" }, h("i", { class: "weui-icon-warn weui-icon_msg", "aria-hidden": "true" })),
    h("div", { class: "weui-msg__text-area" },
      h("h2", { class: "weui-msg__title", "data-testid": "error-title" }, title),
      error && error.status === 0 ? h("p", { class: "weui-msg__desc" }, "请检查网络连接后重试。") : null),
    retry ? h("div", { class: "weui-msg__opr-area" },
      h("button", { type: "button", class: "weui-btn weui-btn_default", "data-testid": "retry", on: { click: retry } }, "重试")) : null);
}

export function msgPage({ type = "success", title, desc, children, actions = [], testid = "result" }) {
  const iconClass = { success: "weui-icon-success", info: "weui-icon-info", warn: "weui-icon-warn", waiting: "weui-icon-waiting" }[type] || "weui-icon-info";
  return h("div", { class: "weui-msg pj-msg", "data-testid": testid, role: "status" },
    h("div", { class: "weui-msg__icon-area" }, h("i", { class: `${iconClass} weui-icon_msg`, "aria-hidden": "true" })),
    h("div", { class: "weui-msg__text-area" },
      h("h2", { class: "weui-msg__title" }, title),
      desc ? h("p", { class: "weui-msg__desc" }, desc) : null,
      children || null),
    actions.length ? h("div", { class: "weui-msg__opr-area" }, h("div", { class: "weui-btn-area" }, actions)) : null);
}

// --- page chrome ---------------------------------------------------------------------

// How many entries of this app lie behind the current one, kept in history.state (a hash
// change pushes an entry with a null state; a replaced entry keeps its state).
let depth = -1;
export function noteNavigation() {
  const state = history.state;
  if (state && typeof state.pjDepth === "number") {
    depth = state.pjDepth;
  } else {
    depth += 1;
    history.replaceState({ ...(state || {}), pjDepth: depth }, "");
  }
}

/** Back: to the previous screen of this app when there is one, else to `fallback`. */
export function goBack(fallback = "wallet") {
  if (depth > 0) history.back();
  else navigate(fallback, { replace: true });
}

export function pageHeader({ title, back, actions = [], variant } = {}) {
  const backButton = back
    ? h("button", { type: "button", class: "pj-header__back", "aria-label": "返回", "data-testid": "back", on: { click: () => goBack(typeof back === "string" ? back : "wallet") } }, icon("back"))
    : null;
  return h("header", { class: ["pj-header", variant ? `pj-header--${variant}` : null] },
    h("div", { class: "pj-header__side" }, backButton),
    h("h1", { class: "pj-header__title", tabindex: "-1" }, title),
    h("div", { class: "pj-header__side pj-header__side--end" }, actions));
}

export function headerButton({ label, iconName, onClick, testid, href }) {
  const content = [iconName ? icon(iconName) : null, h("span", { class: iconName ? "pj-visually-hidden" : null }, label)];
  if (href) return h("a", { class: "pj-header__action", href, "data-testid": testid, title: label }, content);
  return h("button", { type: "button", class: "pj-header__action", "data-testid": testid, title: label, on: { click: onClick } }, content);
}

/** The display status as a coloured tag: the colour says what the citizen can do with it. */
export function statusTag(displayStatus, { testid = "status" } = {}) {
  const meta = DISPLAY_STATUS[displayStatus] || { cls: "normal", hint: "" };
  return h("span", { class: `pj-tag pj-tag--${meta.cls}`, "data-testid": testid, title: meta.hint || null }, displayStatus || "—");
}

export function tag(text, cls, testid) {
  return h("span", { class: `pj-tag pj-tag--${cls}`, "data-testid": testid || null }, text);
}

export function sectionTitle(text, id) {
  return h("h2", { class: "weui-cells__title pj-section-title", id: id || null }, text);
}

/** A definition list of [label, value] rows; rows with an empty value are left out. */
export function kvList(rows, { testid } = {}) {
  const list = h("dl", { class: "pj-kv", "data-testid": testid || null });
  for (const [label, value, extra] of rows) {
    if (value === undefined || value === null || value === "") continue;
    list.append(h("div", { class: "pj-kv__row", "data-field": extra || null }, h("dt", {}, label), h("dd", {}, value)));
  }
  return list;
}

export function card(children, { className, testid, label } = {}) {
  return h("section", { class: ["pj-card", className], "data-testid": testid || null, "aria-label": label || null }, children);
}
