// 票夹: every receipt issued to me, newest first, grouped by month; search, filters,
// infinite scroll on next_cursor, pull-to-refresh, live status updates.

import { api } from "../api.js";
import { h, icon, replace, uid } from "../dom.js";
import { date, money, month, PROVINCES, provinceName, RECEIPT_KINDS, STATUS_FILTERS } from "../format.js";
import { receiptKeysOf } from "../stream.js";
import { emptyState, errorState, headerButton, loadingState, openSheet, pageHeader, statusTag, toast } from "../ui.js";

const PAGE_SIZE = 20;
const PULL_THRESHOLD = 64;

// Kept in memory for the life of the page (never in storage, never in the URL).
const state = {
  q: "",
  filters: { province: "", issuer: "", status: "", date_from: "", date_to: "" },
};
const issuersSeen = new Map(); // credit_code → name, from receipts already loaded

function activeFilterCount() {
  return Object.values(state.filters).filter(Boolean).length;
}

export function receiptCard(item) {
  const key = item.key;
  const province = item.province || String(item.code || "").slice(0, 2);
  const partial = item.display_status === "部分报销";
  return h("a", {
    class: "pj-receipt-card", href: `#/receipt/${encodeURIComponent(key)}`, "data-testid": "receipt-card", "data-key": key,
  },
  h("div", { class: "pj-receipt-card__main" },
    h("p", { class: "pj-receipt-card__issuer", "data-testid": "issuer" }, item.issuer ? item.issuer.name : "—"),
    h("p", { class: "pj-receipt-card__meta" },
      h("span", {}, RECEIPT_KINDS[item.kind] || item.title || "票据"),
      h("span", { "aria-hidden": "true" }, " · "),
      h("time", { datetime: item.issue_date }, date(item.issue_date)),
      h("span", { "aria-hidden": "true" }, " · "),
      h("span", {}, provinceName(province))),
    h("p", { class: "pj-receipt-card__number" }, `票据号码 ${item.number || "—"}`)),
  h("div", { class: "pj-receipt-card__side" },
    h("p", { class: "pj-receipt-card__amount", "data-testid": "amount" }, money(item.total_amount)),
    statusTag(item.display_status),
    partial ? h("p", { class: "pj-receipt-card__remaining" }, `剩余可报 ${money(item.remaining_amount)}`) : null));
}

export function render(ctx) {
  let cursor = null;
  let exhausted = false;
  let loading = false;
  let generation = 0;
  let lastMonth = null;
  let currentList = null;
  let total = 0;
  let pageController = null;

  const listBox = h("div", { class: "pj-receipts-box", "data-testid": "receipt-list", "aria-live": "off" });
  const footer = h("div", { class: "pj-list-footer", "data-testid": "list-footer" });
  const sentinel = h("div", { class: "pj-sentinel", "aria-hidden": "true" });
  const newBar = h("button", { type: "button", class: "pj-new-bar", "data-testid": "new-receipts-bar", hidden: true, on: { click: () => reload() } },
    "有新的票据，点击刷新");
  const pullIndicator = h("div", { class: "pj-pull", "aria-hidden": "true" }, h("span", { class: "pj-pull__text" }, "下拉刷新"));
  const filterCount = h("span", { class: "pj-filter-count", "data-testid": "filter-count", hidden: true });
  const chips = h("div", { class: "pj-chips", "data-testid": "filter-chips" });
  const summary = h("p", { class: "pj-wallet__summary", "aria-live": "polite", "data-testid": "wallet-summary" });

  // --- search --------------------------------------------------------------------------
  const searchId = uid("search");
  const searchInput = h("input", {
    id: searchId, type: "search", class: "weui-search-bar__input pj-search__input", maxlength: "50", enterkeyhint: "search",
    placeholder: "搜索医院、项目、票据号码", value: state.q, autocomplete: "off", "data-testid": "search-input",
  });
  let debounce = null;
  searchInput.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => applySearch(), 500);
  });
  ctx.cleanup(() => clearTimeout(debounce));
  function applySearch() {
    clearTimeout(debounce);
    const q = searchInput.value.trim().slice(0, 50);
    if (q === state.q) return;
    state.q = q;
    reload();
  }
  const searchForm = h("form", { class: "pj-search", role: "search", on: { submit: (e) => { e.preventDefault(); searchInput.blur(); applySearch(); } } },
    h("label", { class: "pj-visually-hidden", for: searchId }, "搜索票据"),
    h("i", { class: "weui-icon-search pj-search__icon", "aria-hidden": "true" }),
    searchInput,
    h("button", { type: "submit", class: "pj-search__submit", "data-testid": "search-submit" }, "搜索"),
    h("button", { type: "button", class: "pj-search__filter", "data-testid": "filter-button", "aria-haspopup": "dialog", on: { click: openFilters } },
      icon("filter"), h("span", {}, "筛选"), filterCount));

  const header = pageHeader({
    title: "票夹",
    variant: "brand",
    actions: [headerButton({ label: "刷新", iconName: "refresh", testid: "refresh-button", onClick: () => reload({ announce: true }) })],
  });

  const hero = h("section", { class: "pj-hero", "aria-label": "个人数字账户" },
    h("p", { class: "pj-hero__eyebrow" }, "个人数字账户 · 财政电子票据"),
    summary,
    h("nav", { class: "pj-hero__links", "aria-label": "票据服务" },
      h("a", { class: "pj-hero__link", href: "#/scan", "data-testid": "link-scan" }, icon("scan"), h("span", {}, "扫码授权")),
      h("a", { class: "pj-hero__link", href: "#/authorizations", "data-testid": "link-authorizations" }, icon("shield"), h("span", {}, "我的授权")),
      h("a", { class: "pj-hero__link", href: "#/claims", "data-testid": "link-claims" }, icon("progress"), h("span", {}, "报销进度"))));

  replace(ctx.root, h("div", { class: "pj-page pj-wallet" }, header, hero, h("div", { class: "pj-toolbar" }, searchForm, chips), pullIndicator, newBar, listBox, sentinel, footer));

  // --- chips & filters -------------------------------------------------------------------
  function filterLabel(name, value) {
    if (name === "status") return (STATUS_FILTERS.find(([v]) => v === value) || [, value])[1];
    if (name === "province") return provinceName(value);
    if (name === "issuer") return issuersSeen.get(value) || value;
    if (name === "date_from") return `${date(value)}起`;
    if (name === "date_to") return `至${date(value)}`;
    return value;
  }

  function renderChips() {
    const count = activeFilterCount();
    filterCount.hidden = count === 0;
    filterCount.textContent = String(count);
    const nodes = [];
    for (const [name, value] of Object.entries(state.filters)) {
      if (!value) continue;
      nodes.push(h("button", {
        type: "button", class: "pj-chip", "data-testid": "filter-chip", "data-filter": name,
        "aria-label": `移除筛选：${filterLabel(name, value)}`,
        on: { click: () => { state.filters[name] = ""; reload(); } },
      }, filterLabel(name, value), h("span", { "aria-hidden": "true", class: "pj-chip__x" }, "×")));
    }
    if (state.q) {
      nodes.push(h("button", {
        type: "button", class: "pj-chip", "data-testid": "filter-chip", "data-filter": "q", "aria-label": `清除搜索：${state.q}`,
        on: { click: () => { state.q = ""; searchInput.value = ""; reload(); } },
      }, `“${state.q}”`, h("span", { "aria-hidden": "true", class: "pj-chip__x" }, "×")));
    }
    replace(chips, nodes);
    chips.hidden = nodes.length === 0;
  }

  function selectField(id, label, name, options, value) {
    const select = h("select", { id, name, class: "weui-select pj-select", "data-testid": `filter-${name.replace("_", "-")}` },
      h("option", { value: "" }, "全部"),
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
    return h("div", { class: "pj-field" }, h("label", { class: "pj-field__label", for: id }, label), select);
  }

  function openFilters() {
    const ids = { province: uid("f"), issuer: uid("f"), status: uid("f"), from: uid("f"), to: uid("f") };
    const f = state.filters;
    const issuerOptions = [...issuersSeen.entries()].map(([code, name]) => [code, name]);
    if (f.issuer && !issuersSeen.has(f.issuer)) issuerOptions.push([f.issuer, f.issuer]);
    const error = h("p", { class: "pj-form-error", role: "alert", hidden: true });
    const form = h("form", { class: "pj-filter-form", novalidate: true },
      selectField(ids.status, "票据状态", "status", STATUS_FILTERS, f.status),
      selectField(ids.province, "开票地区", "province", PROVINCES, f.province),
      selectField(ids.issuer, "开票医院", "issuer", issuerOptions, f.issuer),
      h("p", { class: "pj-field__hint" }, "医院列表来自已加载的票据；也可在搜索框中输入医院名称。"),
      h("fieldset", { class: "pj-field pj-field--range" },
        h("legend", { class: "pj-field__label" }, "开票日期"),
        h("label", { class: "pj-visually-hidden", for: ids.from }, "开始日期"),
        h("input", { id: ids.from, type: "date", name: "date_from", class: "weui-input pj-date", value: f.date_from, "data-testid": "filter-date-from" }),
        h("span", { class: "pj-field__sep", "aria-hidden": "true" }, "至"),
        h("label", { class: "pj-visually-hidden", for: ids.to }, "结束日期"),
        h("input", { id: ids.to, type: "date", name: "date_to", class: "weui-input pj-date", value: f.date_to, "data-testid": "filter-date-to" })),
      error);
    const resetButton = h("button", { type: "button", class: "weui-btn weui-btn_default", "data-testid": "filter-reset" }, "重置");
    const applyButton = h("button", { type: "button", class: "weui-btn weui-btn_primary", "data-testid": "filter-apply" }, "确定");
    const sheet = openSheet({
      title: "筛选票据", content: form, testid: "filter-sheet",
      footer: h("div", { class: "weui-btn-area weui-btn-area_inline pj-sheet__buttons" }, resetButton, applyButton),
    });
    ctx.cleanup(sheet.close);
    resetButton.addEventListener("click", () => {
      for (const el of form.querySelectorAll("select, input")) el.value = "";
    });
    const apply = () => {
      const values = Object.fromEntries(new FormData(form).entries());
      if (values.date_from && values.date_to && values.date_from > values.date_to) {
        error.textContent = "开始日期不能晚于结束日期";
        error.hidden = false;
        return;
      }
      state.filters = {
        status: values.status || "", province: values.province || "", issuer: values.issuer || "",
        date_from: values.date_from || "", date_to: values.date_to || "",
      };
      sheet.close();
      reload();
    };
    applyButton.addEventListener("click", apply);
    form.addEventListener("submit", (e) => { e.preventDefault(); apply(); });
  }

  // --- list ------------------------------------------------------------------------------
  function query() {
    return { ...state.filters, q: state.q || undefined, cursor: cursor || undefined, limit: PAGE_SIZE };
  }

  function appendItems(items) {
    for (const item of items) {
      if (item.issuer && item.issuer.credit_code) issuersSeen.set(item.issuer.credit_code, item.issuer.name);
      const m = month(item.issue_date);
      if (m.key !== lastMonth || !currentList) {
        lastMonth = m.key;
        const headingId = uid("month");
        currentList = h("ul", { class: "pj-receipts", "aria-labelledby": headingId });
        listBox.append(h("section", { class: "pj-month", "data-month": m.key },
          h("h2", { class: "pj-month__title", id: headingId, "data-testid": "month-header" }, m.label), currentList));
      }
      currentList.append(h("li", { class: "pj-receipts__item" }, receiptCard(item)));
      total += 1;
    }
  }

  function setFooter(kind, error) {
    if (kind === "loading") replace(footer, h("div", { class: "weui-loadmore", role: "status" }, h("i", { class: "weui-loading", "aria-hidden": "true" }), h("span", { class: "weui-loadmore__tips" }, "正在加载")));
    else if (kind === "end") replace(footer, h("div", { class: "weui-loadmore weui-loadmore_line" }, h("span", { class: "weui-loadmore__tips", "data-testid": "list-end" }, "没有更多了")));
    else if (kind === "error") replace(footer, h("div", { class: "pj-list-footer__error", role: "alert" }, h("span", {}, error.title || "加载失败"), h("button", { type: "button", class: "weui-btn weui-btn_mini weui-btn_default", "data-testid": "load-more-retry", on: { click: loadMore } }, "重试")));
    else replace(footer);
  }

  function updateSummary() {
    const filtered = activeFilterCount() > 0 || state.q;
    if (total === 0) summary.textContent = filtered ? "没有符合条件的票据" : "暂无票据";
    else if (exhausted) summary.textContent = `${filtered ? "找到" : "共"} ${total} 张票据`;
    else summary.textContent = `${filtered ? "找到" : "已加载"} ${total} 张票据，继续下滑加载更多`;
  }

  async function loadMore() {
    if (loading || exhausted || !ctx.active) return;
    loading = true;
    const gen = generation;
    const first = cursor === null;
    if (first) replace(listBox, loadingState("正在加载票据"));
    else setFooter("loading");
    listBox.setAttribute("aria-busy", "true");
    pageController = new AbortController();
    const abort = () => pageController.abort();
    let ok = false;
    ctx.signal.addEventListener("abort", abort, { once: true });
    try {
      const page = await api.receipts(query(), pageController.signal);
      if (gen !== generation || !ctx.active) return;
      if (first) replace(listBox);
      const items = (page && page.items) || [];
      appendItems(items);
      cursor = page.next_cursor || null;
      exhausted = !cursor;
      if (first && items.length === 0) {
        const filtered = activeFilterCount() > 0 || state.q;
        replace(listBox, emptyState(filtered
          ? { title: "没有符合条件的票据", desc: "换个关键词或清除筛选条件试试。", action: h("button", { type: "button", class: "weui-btn weui-btn_mini weui-btn_default", "data-testid": "clear-filters", on: { click: clearFilters } }, "清除筛选") }
          : { title: "票夹里还没有票据", desc: "在医院缴费后，医疗收费电子票据会自动存入这里。" }));
        setFooter(null);
      } else {
        setFooter(exhausted ? "end" : null);
      }
      updateSummary();
      ok = true;
    } catch (error) {
      if (gen !== generation || !ctx.active || (error && error.name === "AbortError")) return;
      if (first) replace(listBox, errorState(error, () => reload()));
      else setFooter("error", error);
    } finally {
      ctx.signal.removeEventListener("abort", abort);
      if (gen === generation) {
        loading = false;
        listBox.removeAttribute("aria-busy");
      }
    }
    // A short first page leaves the sentinel in view, and the observer only reports changes.
    if (ok && gen === generation && !exhausted && sentinelVisible()) loadMore();
  }

  function sentinelVisible() {
    const rect = sentinel.getBoundingClientRect();
    return rect.top < window.innerHeight + 200;
  }

  function clearFilters() {
    state.filters = { province: "", issuer: "", status: "", date_from: "", date_to: "" };
    state.q = "";
    searchInput.value = "";
    reload();
  }

  function reload({ announce = false } = {}) {
    generation += 1;
    if (pageController) pageController.abort();
    loading = false;
    cursor = null;
    exhausted = false;
    lastMonth = null;
    currentList = null;
    total = 0;
    newBar.hidden = true;
    setFooter(null);
    renderChips();
    const done = loadMore();
    if (announce) done.then(() => ctx.active && toast("已刷新"));
    return done;
  }

  // --- infinite scroll -----------------------------------------------------------------
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "0px 0px 300px 0px" });
  observer.observe(sentinel);
  ctx.cleanup(() => observer.disconnect());

  // --- pull to refresh (touch) -------------------------------------------------------------
  let startY = null;
  let pulled = 0;
  const onTouchStart = (e) => {
    startY = window.scrollY <= 0 && e.touches.length === 1 ? e.touches[0].clientY : null;
    pulled = 0;
  };
  const onTouchMove = (e) => {
    if (startY === null) return;
    pulled = Math.max(0, e.touches[0].clientY - startY);
    const height = Math.min(pulled * 0.5, 80);
    pullIndicator.style.height = `${height}px`;
    pullIndicator.firstChild.textContent = height >= PULL_THRESHOLD * 0.5 + 8 ? "释放刷新" : "下拉刷新";
  };
  const onTouchEnd = () => {
    if (startY === null) return;
    const trigger = Math.min(pulled * 0.5, 80) >= PULL_THRESHOLD * 0.5 + 8;
    startY = null;
    pullIndicator.style.height = "";
    if (trigger) reload({ announce: true });
  };
  ctx.root.addEventListener("touchstart", onTouchStart, { passive: true });
  ctx.root.addEventListener("touchmove", onTouchMove, { passive: true });
  ctx.root.addEventListener("touchend", onTouchEnd, { passive: true });
  ctx.cleanup(() => {
    ctx.root.removeEventListener("touchstart", onTouchStart);
    ctx.root.removeEventListener("touchmove", onTouchMove);
    ctx.root.removeEventListener("touchend", onTouchEnd);
  });

  // --- live updates --------------------------------------------------------------------
  const refreshing = new Set();
  async function refreshCard(key) {
    const card = listBox.querySelector(`[data-testid="receipt-card"][data-key="${CSS.escape(key)}"]`);
    if (!card || refreshing.has(key)) return;
    refreshing.add(key);
    try {
      const item = await api.receipt(key, ctx.signal);
      const again = listBox.querySelector(`[data-testid="receipt-card"][data-key="${CSS.escape(key)}"]`);
      if (ctx.active && again) again.replaceWith(receiptCard(item));
    } catch {
      /* the next refresh shows it */
    } finally {
      refreshing.delete(key);
    }
  }

  ctx.on("notification", (n) => {
    if (!n || !n.type) return;
    if (n.type === "receipt.issued") {
      if (window.scrollY < 80 && !loading) reload();
      else newBar.hidden = false;
      return;
    }
    for (const key of receiptKeysOf(n)) refreshCard(key);
  });

  renderChips();
  loadMore();
}
