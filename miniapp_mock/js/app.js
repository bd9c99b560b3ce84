// The mini-app shell: tab bar, routing with a sign-in guard, the live stream and the
// unread badge. Each screen lives in js/views/ and exports render(ctx).

import { api } from "./api.js";
import { isSignedIn } from "./auth.js";
import { emit, on } from "./bus.js";
import { h, icon } from "./dom.js";
import { navigate, startRouter } from "./router.js";
import { startStream, stopStream } from "./stream.js";
import { closeAllModals, noteNavigation, toast } from "./ui.js";
import * as assistantView from "./views/assistant.js";
import * as authorizationsView from "./views/authorizations.js";
import * as claimsView from "./views/claims.js";
import * as loginView from "./views/login.js";
import * as messagesView from "./views/messages.js";
import * as profileView from "./views/profile.js";
import * as receiptView from "./views/receipt.js";
import * as scanView from "./views/scan.js";
import * as walletView from "./views/wallet.js";

const ROUTES = {
  login: { view: loginView, public: true },
  wallet: { view: walletView, tab: "wallet" },
  receipt: { view: receiptView, tab: "wallet" },
  scan: { view: scanView, tab: "scan" },
  messages: { view: messagesView, tab: "messages" },
  assistant: { view: assistantView, tab: "assistant" },
  me: { view: profileView, tab: "me" },
  profile: { view: profileView, tab: "me" }, // the chat bot's links to 「我的」 say #/profile
  authorizations: { view: authorizationsView, tab: "me" },
  claims: { view: claimsView, tab: "me" },
};

const TABS = [
  { id: "wallet", label: "票夹", icon: "wallet", route: "wallet" },
  { id: "scan", label: "扫码", icon: "scan", route: "scan" },
  { id: "messages", label: "消息", icon: "message", route: "messages" },
  { id: "assistant", label: "助手", icon: "assistant", route: "assistant" },
  { id: "me", label: "我的", icon: "me", route: "me" },
];

const viewRoot = document.getElementById("view");
const tabbar = document.getElementById("tabbar");
const tabbarNav = document.getElementById("tabbar-nav");
const tabButtons = new Map();
let badge = null;
let unread = 0;
let current = null; // {controller, cleanups}
let pendingHash = null; // where to go after signing in (kept in memory only)

// --- tab bar -------------------------------------------------------------------------

function buildTabbar() {
  for (const tab of TABS) {
    const label = h("span", { class: "weui-tabbar__label" }, tab.label);
    const iconBox = h("span", { class: "weui-tabbar__icon pj-tabbar__icon" }, icon(tab.icon, "pj-icon pj-tabbar__svg"));
    if (tab.id === "messages") {
      badge = h("span", { class: "weui-badge pj-tabbar__badge", "data-testid": "unread-badge", "aria-hidden": "true", hidden: true }, "0");
      iconBox.append(badge);
    }
    const button = h("button", {
      type: "button", role: "tab", id: `tab-${tab.id}`, class: "weui-tabbar__item pj-tabbar__item",
      "aria-selected": "false", "aria-controls": "view", "data-testid": `tab-${tab.id}`, tabindex: "-1",
      on: { click: () => navigate(tab.route) },
    }, iconBox, label);
    tabButtons.set(tab.id, button);
    tabbar.append(button);
  }
  tabbar.addEventListener("keydown", (event) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const buttons = [...tabButtons.values()];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    event.preventDefault();
    let next = index;
    if (event.key === "ArrowLeft") next = (index - 1 + buttons.length) % buttons.length;
    if (event.key === "ArrowRight") next = (index + 1) % buttons.length;
    if (event.key === "Home") next = 0;
    if (event.key === "End") next = buttons.length - 1;
    buttons[next].focus();
  });
}

function selectTab(tabId) {
  tabbarNav.hidden = !tabId;
  document.body.classList.toggle("pj-has-tabbar", Boolean(tabId));
  for (const [id, button] of tabButtons) {
    const selected = id === tabId;
    button.classList.toggle("weui-bar__item_on", selected);
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
  }
  if (tabId) viewRoot.setAttribute("aria-labelledby", `tab-${tabId}`);
  else viewRoot.removeAttribute("aria-labelledby");
}

function setUnread(count) {
  unread = Math.max(0, Number(count) || 0);
  if (!badge) return;
  badge.textContent = unread > 99 ? "99+" : String(unread);
  badge.hidden = unread === 0;
  const button = tabButtons.get("messages");
  button.setAttribute("aria-label", unread ? `消息，${unread}条未读` : "消息");
}

on("unread", setUnread);
on("notification", (n) => {
  if (n && n.read === false) setUnread(unread + 1);
});

// --- session -------------------------------------------------------------------------

async function startLive() {
  let since;
  let sinceNotificationId;
  try {
    const page = await api.notifications({ limit: 1 });
    setUnread(page.unread_count);
    const newest = page.items && page.items[0];
    if (newest) {
      since = newest.id;
      sinceNotificationId = newest.notification_id;
    }
  } catch {
    /* the badge stays at 0 until the first event */
  }
  if (isSignedIn()) startStream({ since, sinceNotificationId });
}

on("auth:signed-in", () => {
  startLive();
  const target = pendingHash && !pendingHash.startsWith("#/login") ? pendingHash : "#/wallet";
  pendingHash = null;
  navigate(target, { replace: true });
});

on("auth:signed-out", (detail) => {
  stopStream();
  setUnread(0);
  closeAllModals();
  if (detail && detail.reason) toast(detail.reason, { type: "error" });
  navigate("login", { replace: true });
});

// --- routing -------------------------------------------------------------------------

function leaveCurrent() {
  if (!current) return;
  current.controller.abort();
  for (const fn of current.cleanups.splice(0)) {
    try {
      fn();
    } catch {
      /* a failing cleanup must not block the next screen */
    }
  }
  current = null;
}

function render(route) {
  noteNavigation();
  const name = route.name || "wallet";
  const entry = ROUTES[name];
  if (!entry) {
    navigate("wallet", { replace: true });
    return;
  }
  if (!entry.public && !isSignedIn()) {
    pendingHash = route.hash;
    navigate("login", { replace: true });
    return;
  }
  if (name === "login" && isSignedIn()) {
    navigate("wallet", { replace: true });
    return;
  }
  leaveCurrent();
  closeAllModals();
  selectTab(entry.tab || null);
  viewRoot.dataset.route = name;
  viewRoot.replaceChildren();
  window.scrollTo(0, 0);
  const controller = new AbortController();
  const cleanups = [];
  current = { controller, cleanups };
  const ctx = {
    root: viewRoot,
    route,
    signal: controller.signal,
    cleanup: (fn) => cleanups.push(fn),
    on: (type, handler) => cleanups.push(on(type, handler)),
    get active() {
      return !controller.signal.aborted;
    },
    unread: () => unread,
  };
  try {
    entry.view.render(ctx);
  } catch (error) {
    console.error(error);
    toast("页面出错了，请返回重试", { type: "error" });
  }
  const heading = viewRoot.querySelector("h1");
  document.title = heading && heading.textContent && heading.textContent !== "票夹" ? `${heading.textContent} · 票夹` : "票夹 · 个人数字账户";
  if (heading && document.activeElement !== document.body && !viewRoot.contains(document.activeElement)) {
    heading.focus({ preventScroll: true });
  }
  emit("route", name);
}

buildTabbar();
if (isSignedIn()) startLive();
startRouter(render);
