// 助手: the web chat with the chat bot (POST /bot/chat with the citizen's own token), in
// WeChat's style: the citizen's bubbles on the right in green, the assistant's on the left
// in white, quick-reply chips above the input.
//
// The conversation lives in this module's memory only (never in storage): it survives
// switching tabs, and is forgotten on sign-out and on a page reload.

import { api } from "../api.js";
import { on } from "../bus.js";
import { h, icon, replace, uid } from "../dom.js";
import { navigate } from "../router.js";
import { headerButton, pageHeader } from "../ui.js";

const MAX_CHARS = 500; // what the bot accepts
const MAX_ENTRIES = 200; // older bubbles are dropped
const CHIPS = ["我的票据", "报销进度", "我的授权", "未读消息", "验真", "帮助"];
const WELCOME = "您好，我是票夹智能助手。\n可以问我：我的票据、报销进度、我的授权、未读消息，或发送「验真」了解如何查验票据。\n点下方的快捷问题试试吧。";
const FALLBACK_ERROR = "助手暂时无法回答，请稍后再试";

const conversation = []; // {role: "user" | "assistant", text, links?, muted?}
let generation = 0; // bumped on sign-out / clearing: late answers of an earlier conversation are dropped
let pending = false;
let screen = null; // the open 助手 screen: {add(entry), busy(flag), reset()}

on("auth:signed-out", () => {
  conversation.length = 0;
  generation += 1;
  pending = false;
});

function record(entry) {
  conversation.push(entry);
  if (conversation.length > MAX_ENTRIES) conversation.splice(0, conversation.length - MAX_ENTRIES);
  if (screen) screen.add(entry);
}

function setPending(flag) {
  pending = flag;
  if (screen) screen.busy(flag);
}

function clearConversation() {
  conversation.length = 0;
  generation += 1;
  setPending(false);
  if (screen) screen.reset();
}

/** Sends one question; the answer (or the problem's Chinese title) comes back as a bubble. */
async function send(text) {
  const message = String(text ?? "").trim().slice(0, MAX_CHARS);
  if (!message || pending) return false;
  const asked = generation;
  record({ role: "user", text: message });
  setPending(true);
  let entry;
  try {
    const data = (await api.chat(message)) || {};
    const reply = typeof data.reply === "string" && data.reply.trim() ? data.reply : typeof data.text === "string" ? data.text : "";
    entry = {
      role: "assistant",
      text: reply.trim() || "暂时没有可以回答的内容，发送「帮助」看看我能做什么。",
      links: Array.isArray(data.links) ? data.links.filter((link) => link && typeof link === "object") : [],
    };
  } catch (error) {
    entry = { role: "assistant", text: (error && (error.title || error.message)) || FALLBACK_ERROR, muted: true };
  }
  if (asked !== generation) return true; // signed out or cleared meanwhile
  setPending(false);
  record(entry);
  return true;
}

// --- links -------------------------------------------------------------------------------

/**
 * Where a link of the bot leads: {hash} for a screen of this app (a link to the mini-app,
 * e.g. "/app/#/receipt/<key>", whatever host the bot was configured with, or any URL ending
 * in "#/receipt/<key>"), {url} for another http(s) page, null for anything else.
 */
export function resolveLink(url) {
  let parsed;
  try {
    parsed = new URL(String(url ?? ""), location.href);
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null; // no javascript:, data: …
  const hash = parsed.hash;
  const toApp = /\/app\/(index\.html)?$/.test(parsed.pathname) || /\/app$/.test(parsed.pathname);
  if (hash.startsWith("#/") && (toApp || /^#\/receipt\/[^/?#]+$/.test(hash))) return { hash };
  return { url: parsed.href };
}

function linkButton(link) {
  const label = String(link.label || "查看");
  const target = resolveLink(link.url);
  if (target && target.hash) {
    return h("button", { type: "button", class: "pj-chat__link", "data-testid": "chat-link", "data-href": target.hash, on: { click: () => navigate(target.hash) } },
      icon("link", "pj-icon pj-chat__link-icon"), label);
  }
  if (target && target.url) {
    return h("a", { class: "pj-chat__link", href: target.url, target: "_blank", rel: "noopener noreferrer", "data-testid": "chat-link" },
      icon("link", "pj-icon pj-chat__link-icon"), label);
  }
  return h("span", { class: "pj-chat__link pj-chat__link--inert" }, label);
}

// --- bubbles -----------------------------------------------------------------------------

function bubble(entry, { kind } = {}) {
  const mine = entry.role === "user";
  const links = !mine && entry.links && entry.links.length ? h("div", { class: "pj-chat__links" }, entry.links.map(linkButton)) : null;
  return h("div", { class: ["pj-chat__row", mine ? "pj-chat__row--user" : "pj-chat__row--assistant"] },
    h("span", { class: ["pj-chat__avatar", mine ? "pj-chat__avatar--user" : "pj-chat__avatar--assistant"], "aria-hidden": "true" },
      icon(mine ? "me" : "assistant", "pj-icon pj-chat__avatar-icon")),
    h("div", {
      class: ["pj-chat__bubble", mine ? "pj-chat__bubble--user" : "pj-chat__bubble--assistant", entry.muted ? "pj-chat__bubble--muted" : null],
      "data-testid": "chat-message", "data-role": mine ? "user" : "assistant", "data-kind": kind || (entry.muted ? "error" : null),
    },
    h("span", { class: "pj-visually-hidden" }, mine ? "我：" : "助手："),
    h("p", { class: "pj-chat__text" }, entry.text),
    links));
}

function typingBubble() {
  return h("div", { class: "pj-chat__row pj-chat__row--assistant", "data-testid": "chat-typing" },
    h("span", { class: "pj-chat__avatar pj-chat__avatar--assistant", "aria-hidden": "true" }, icon("assistant", "pj-icon pj-chat__avatar-icon")),
    h("div", { class: "pj-chat__bubble pj-chat__bubble--assistant pj-chat__bubble--typing" },
      h("span", { class: "pj-visually-hidden" }, "助手正在输入"),
      h("span", { class: "pj-chat__dots", "aria-hidden": "true" }, h("span", {}), h("span", {}), h("span", {}))));
}

// --- the screen ----------------------------------------------------------------------------

export function render(ctx) {
  const inputId = uid("chat-input");
  const log = h("div", { class: "pj-chat__log", role: "log", "aria-live": "polite", "aria-label": "对话记录", tabindex: "0" });
  const input = h("input", {
    type: "text", id: inputId, class: "pj-chat__input", "data-testid": "chat-input", placeholder: "输入问题，如：报销进度",
    maxlength: String(MAX_CHARS), enterkeyhint: "send", autocomplete: "off",
  });
  const sendButton = h("button", { type: "submit", class: "pj-chat__send", "data-testid": "chat-send", disabled: true }, "发送");
  const chips = CHIPS.map((text) => h("button", { type: "button", class: "pj-chat__chip", "data-testid": "chat-chip", on: { click: () => send(text) } }, text));
  const form = h("form", { class: "pj-chat__composer", novalidate: true },
    h("div", { class: "pj-chat__chips", role: "group", "aria-label": "快捷问题" }, chips),
    h("div", { class: "pj-chat__bar" },
      h("label", { class: "pj-visually-hidden", for: inputId }, "输入问题"),
      input,
      sendButton));
  let typing = null;

  const clearButton = headerButton({ label: "清空", testid: "chat-clear", onClick: clearConversation });
  clearButton.classList.add("pj-header__action--text");

  replace(ctx.root, h("div", { class: "pj-page pj-chat", "data-testid": "assistant" },
    pageHeader({ title: "智能助手", actions: [clearButton] }),
    log,
    form));

  const stickToBottom = () => {
    log.scrollTop = log.scrollHeight;
  };
  const updateSend = () => {
    sendButton.disabled = pending || !input.value.trim();
  };

  function reset() {
    if (typing) typing = null;
    replace(log, bubble({ role: "assistant", text: WELCOME }, { kind: "welcome" }), conversation.map((entry) => bubble(entry)));
    if (pending) {
      typing = typingBubble();
      log.append(typing);
    }
    stickToBottom();
  }

  const mine = {
    add(entry) {
      const node = bubble(entry);
      if (typing && typing.isConnected) log.insertBefore(node, typing);
      else log.append(node);
      stickToBottom();
    },
    busy(flag) {
      for (const chip of chips) chip.disabled = flag;
      updateSend();
      form.setAttribute("aria-busy", String(flag));
      if (flag && !typing) {
        typing = typingBubble();
        log.append(typing);
        stickToBottom();
      } else if (!flag && typing) {
        typing.remove();
        typing = null;
      }
    },
    reset,
  };
  screen = mine;
  ctx.cleanup(() => {
    if (screen === mine) screen = null;
  });

  reset();
  mine.busy(pending);

  input.addEventListener("input", updateSend);
  input.addEventListener("keydown", (event) => {
    // Enter that confirms a pinyin candidate is not a "send".
    if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || pending) return;
    input.value = "";
    updateSend();
    send(text);
    input.focus({ preventScroll: true });
  });
}
