// 消息: the notification centre. New notifications arrive live from the stream; opening
// one marks it read; "全部已读" marks them all. The unread badge follows the server's count.

import { api } from "../api.js";
import { emit } from "../bus.js";
import { h, replace } from "../dom.js";
import { relativeTime } from "../format.js";
import { navigate } from "../router.js";
import { emptyState, errorState, loadingState, pageHeader, toast, toastError } from "../ui.js";

const PAGE_SIZE = 20;

function targetOf(n) {
  if (n.receipt_key) return `receipt/${encodeURIComponent(n.receipt_key)}`;
  if (n.type === "authorization.approved" || n.type === "authorization.revoked") return "authorizations";
  if (n.type === "receipt.reimbursed" || n.type === "receipt.reimbursement_rejected") return "claims";
  return null;
}

export function render(ctx) {
  let unreadOnly = false;
  let cursor = null;
  let exhausted = false;
  let loading = false;
  let generation = 0;
  const shown = new Set();

  const list = h("ul", { class: "pj-messages", "data-testid": "message-list", "aria-live": "polite", "aria-relevant": "additions" });
  const body = h("div", { class: "pj-page__body" });
  const footer = h("div", { class: "pj-list-footer" });
  const sentinel = h("div", { class: "pj-sentinel", "aria-hidden": "true" });
  const markAll = h("button", { type: "button", class: "pj-header__action pj-header__action--text", "data-testid": "mark-all-read" }, "全部已读");
  const allButton = h("button", { type: "button", class: "pj-segment__item", "aria-pressed": "true", "data-testid": "filter-all" }, "全部");
  const unreadButton = h("button", { type: "button", class: "pj-segment__item", "aria-pressed": "false", "data-testid": "filter-unread" }, "未读");

  replace(ctx.root, h("div", { class: "pj-page pj-messages-page" },
    pageHeader({ title: "消息", actions: [markAll] }),
    h("div", { class: "pj-segment", role: "group", "aria-label": "显示范围" }, allButton, unreadButton),
    body, sentinel, footer));

  function setFilter(value) {
    unreadOnly = value;
    allButton.setAttribute("aria-pressed", String(!value));
    unreadButton.setAttribute("aria-pressed", String(value));
    reload();
  }
  allButton.addEventListener("click", () => setFilter(false));
  unreadButton.addEventListener("click", () => setFilter(true));

  function setRead(li) {
    li.dataset.read = "true";
    li.classList.remove("pj-message--unread");
    const dot = li.querySelector(".pj-message__dot");
    if (dot) dot.remove();
    const state = li.querySelector(".pj-message__state");
    if (state) state.textContent = "已读";
  }

  async function open(n, li) {
    if (li.dataset.read !== "true") {
      try {
        const result = await api.markRead([n.id]);
        emit("unread", result.unread_count);
        setRead(li);
      } catch (error) {
        toastError(error);
      }
    }
    const target = targetOf(n);
    if (target && ctx.active) navigate(target);
  }

  function item(n, { fresh = false } = {}) {
    const unread = !n.read;
    const target = targetOf(n);
    const li = h("li", {
      class: ["pj-message", unread ? "pj-message--unread" : null, fresh ? "pj-message--fresh" : null],
      "data-testid": "message-item", "data-id": n.id, "data-type": n.type, "data-read": String(!unread),
    });
    const button = h("button", { type: "button", class: "pj-message__button", "data-testid": "message-open" },
      h("span", { class: "pj-message__head" },
        unread ? h("span", { class: "pj-message__dot", "aria-hidden": "true" }) : null,
        h("span", { class: "pj-message__title" }, n.title || "票据状态更新"),
        h("time", { class: "pj-message__time", datetime: n.created_at }, relativeTime(n.created_at))),
      h("span", { class: "pj-message__body" }, n.body || ""),
      h("span", { class: "pj-message__foot" },
        h("span", { class: "pj-message__state" }, unread ? "未读" : "已读"),
        target ? h("span", { class: "pj-message__more" }, "查看详情 ›") : null));
    button.addEventListener("click", () => open(n, li));
    li.append(button);
    return li;
  }

  function setFooter(kind, error) {
    if (kind === "loading") replace(footer, h("div", { class: "weui-loadmore", role: "status" }, h("i", { class: "weui-loading", "aria-hidden": "true" }), h("span", { class: "weui-loadmore__tips" }, "正在加载")));
    else if (kind === "end") replace(footer, h("div", { class: "weui-loadmore weui-loadmore_line" }, h("span", { class: "weui-loadmore__tips" }, "没有更多了")));
    else if (kind === "error") replace(footer, h("div", { class: "pj-list-footer__error", role: "alert" }, h("span", {}, error.title), h("button", { type: "button", class: "weui-btn weui-btn_mini weui-btn_default", on: { click: loadMore } }, "重试")));
    else replace(footer);
  }

  function showEmpty() {
    replace(body, emptyState(unreadOnly ? { title: "没有未读消息" } : { title: "暂无消息", desc: "票据开具、授权和报销的进展会在这里通知您。" }));
  }

  async function loadMore() {
    if (loading || exhausted || !ctx.active) return;
    loading = true;
    const gen = generation;
    const first = cursor === null;
    if (first) replace(body, loadingState("正在加载消息"));
    else setFooter("loading");
    let ok = false;
    try {
      const page = await api.notifications({ limit: PAGE_SIZE, cursor: cursor || undefined, unread: unreadOnly ? "true" : undefined }, ctx.signal);
      if (gen !== generation || !ctx.active) return;
      if (typeof page.unread_count === "number") emit("unread", page.unread_count);
      const items = (page.items || []).filter((n) => !shown.has(n.id));
      for (const n of items) shown.add(n.id);
      if (first) replace(body, list);
      list.append(...items.map((n) => item(n)));
      cursor = page.next_cursor || null;
      exhausted = !cursor;
      if (first && !list.children.length) showEmpty();
      setFooter(exhausted && list.children.length ? "end" : null);
      ok = true;
    } catch (error) {
      if (gen !== generation || !ctx.active || (error && error.name === "AbortError")) return;
      if (first) replace(body, errorState(error, reload));
      else setFooter("error", error);
    } finally {
      if (gen === generation) loading = false;
    }
    if (ok && !exhausted && sentinel.getBoundingClientRect().top < window.innerHeight + 200) loadMore();
  }

  function reload() {
    generation += 1;
    loading = false;
    cursor = null;
    exhausted = false;
    shown.clear();
    replace(list);
    setFooter(null);
    return loadMore();
  }

  markAll.addEventListener("click", async () => {
    markAll.disabled = true;
    try {
      const result = await api.markRead("all");
      emit("unread", result.unread_count);
      if (!ctx.active) return;
      for (const li of list.querySelectorAll('[data-testid="message-item"]')) setRead(li);
      if (unreadOnly) {
        replace(list);
        showEmpty();
      }
      toast(result.marked ? `已将 ${result.marked} 条消息标为已读` : "没有未读消息", { type: "success" });
    } catch (error) {
      toastError(error);
    } finally {
      markAll.disabled = false;
    }
  });

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "0px 0px 300px 0px" });
  observer.observe(sentinel);
  ctx.cleanup(() => observer.disconnect());

  ctx.on("notification", (n) => {
    if (!n || !n.id || shown.has(n.id)) return;
    shown.add(n.id);
    if (!list.isConnected) replace(body, list);
    list.prepend(item(n, { fresh: true }));
  });

  loadMore();
}
