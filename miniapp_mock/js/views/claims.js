// 报销进度: per unit and receipt, 已授权 → 报销中 → 已报销 (amount) / 被拒 (reason).
// Live: fetched again when an event about a receipt or an authorization arrives.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { CLAIM_STATUS_CLASSES, dateTime, money } from "../format.js";
import { emptyState, errorState, headerButton, loadingState, pageHeader, tag } from "../ui.js";

function step(label, at, state) {
  return h("li", { class: `pj-steps__item pj-steps__item--${state}` },
    h("span", { class: "pj-steps__label" }, label),
    at ? h("time", { class: "pj-steps__time", datetime: at }, dateTime(at)) : null);
}

function steps(item) {
  const code = item.status_code;
  const finalLabel = code === "rejected" ? "未通过" : code === "reimbursed" ? "已报销" : "报销结果";
  const finalState = code === "rejected" ? "failed" : code === "reimbursed" ? "done" : "todo";
  const lockState = item.locked_at ? "done" : code === "authorized" ? "todo" : "skipped";
  return h("ol", { class: "pj-steps", "aria-label": "办理进度" },
    step("已授权", item.authorized_at, item.authorized_at ? "done" : "skipped"),
    step("报销中", item.locked_at, code === "in_progress" ? "current" : lockState),
    step(finalLabel, item.decided_at, finalState));
}

function claimRow(item) {
  return h("li", { class: "pj-claim", "data-testid": "claim-row", "data-key": item.receipt_key, "data-status": item.status_code },
    h("div", { class: "pj-claim__head" },
      h("a", { class: "pj-claim__receipt", href: `#/receipt/${encodeURIComponent(item.receipt_key)}` },
        h("span", { class: "pj-claim__title" }, item.receipt_title || "电子票据"),
        h("span", { class: "pj-claim__key" }, `票据 ${item.receipt_key}`)),
      tag(item.status, CLAIM_STATUS_CLASSES[item.status_code] || "normal", "claim-status")),
    steps(item),
    item.amount ? h("p", { class: "pj-claim__amount", "data-testid": "claim-amount" }, `报销金额 ${money(item.amount)}`) : null,
    item.reason ? h("p", { class: "pj-claim__reason", "data-testid": "claim-reason" }, `未通过原因：${item.reason}`) : null,
    item.reference ? h("p", { class: "pj-claim__meta" }, `单位业务号 ${item.reference}`) : null,
    item.status_code === "rejected" ? h("p", { class: "pj-claim__meta" }, "补充材料后，可请单位重新生成二维码再次申请。") : null);
}

export function render(ctx) {
  const body = h("div", { class: "pj-page__body" });
  replace(ctx.root, h("div", { class: "pj-page pj-claims" },
    pageHeader({ title: "报销进度", back: "me", actions: [headerButton({ label: "刷新", iconName: "refresh", testid: "refresh-button", onClick: () => load() })] }),
    body));

  let generation = 0;
  async function load({ quiet = false } = {}) {
    const gen = ++generation;
    if (!quiet) replace(body, loadingState("正在加载报销进度"));
    body.setAttribute("aria-busy", "true");
    try {
      const data = await api.claims(ctx.signal);
      if (gen !== generation || !ctx.active) return;
      const items = (data && data.items) || [];
      if (!items.length) {
        replace(body, emptyState({ title: "暂无报销记录", desc: "扫码授权报销单位后，可以在这里跟踪每张票据的报销进度。", action: h("a", { class: "weui-btn weui-btn_mini weui-btn_primary", href: "#/scan" }, "去扫码授权") }));
        return;
      }
      const groups = new Map();
      for (const item of items) {
        const unit = item.unit || {};
        const id = unit.id || unit.name || "unknown";
        if (!groups.has(id)) groups.set(id, { unit, items: [] });
        groups.get(id).items.push(item);
      }
      replace(body, h("div", { class: "pj-list", "data-testid": "claim-list" }, [...groups.values()].map((g) =>
        h("section", { class: "pj-card pj-claims__unit", "aria-label": g.unit.name || "报销单位", "data-testid": "claim-unit" },
          h("div", { class: "pj-card__head" },
            h("div", {},
              h("h2", { class: "pj-card__title" }, g.unit.name || "报销单位"),
              h("p", { class: "pj-card__sub" }, [g.unit.kind_label, g.unit.credit_code].filter(Boolean).join(" · ")))),
          h("ul", { class: "pj-claims__rows" }, g.items.map(claimRow))))));
    } catch (error) {
      if (gen !== generation || !ctx.active || (error && error.name === "AbortError")) return;
      replace(body, errorState(error, () => load()));
    } finally {
      if (gen === generation) body.removeAttribute("aria-busy");
    }
  }

  ctx.on("notification", (n) => {
    if (n && n.type && (n.type.startsWith("receipt.") || n.type.startsWith("authorization."))) load({ quiet: true });
  });
  load();
}
