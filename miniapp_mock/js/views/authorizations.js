// 我的授权: my consent records — which unit, which receipts, what for, until when — and
// revocation, after a dialog that says what revoking does and does not do.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { AUTH_STATUS, dateTime, money } from "../format.js";
import { card, confirmDialog, emptyState, errorState, headerButton, kvList, loadingState, pageHeader, tag, toast, toastError } from "../ui.js";

function receiptRows(receipts) {
  return h("ul", { class: "pj-auth__receipts" }, receipts.map((r) =>
    h("li", { class: "pj-auth__receipt", "data-key": r.key, "data-testid": "authorization-receipt" },
      h("a", { href: `#/receipt/${encodeURIComponent(r.key)}` }, `票据 ${r.key}`),
      r.revoked_at ? tag("已撤销", "voided") : r.locked ? tag("报销中（已锁定）", "locked") : tag("已授权", "authorized"))));
}

export function render(ctx) {
  const body = h("div", { class: "pj-page__body" });
  replace(ctx.root, h("div", { class: "pj-page pj-authorizations" },
    pageHeader({ title: "我的授权", back: "me", actions: [headerButton({ label: "刷新", iconName: "refresh", testid: "refresh-button", onClick: () => load() })] }),
    body));

  async function revoke(auth, button) {
    const unitName = (auth.unit && auth.unit.name) || "该单位";
    const live = (auth.receipts || []).filter((r) => !r.revoked_at);
    const locked = live.filter((r) => r.locked);
    const explanation = [
      h("p", {}, `撤销后，${unitName}将不能再查验、锁定或报销您授权给它的票据。`),
      locked.length
        ? h("p", { class: "pj-dialog__warn" }, `其中 ${locked.length} 张票据已被该单位锁定、正在办理报销，撤销对它们不生效：这些票据仍由该单位继续办理，锁定结束后您可以再次撤销。`)
        : h("p", {}, "已被单位锁定（报销中）的票据不能撤销，会继续由该单位办理；目前没有这样的票据。"),
      h("p", {}, "撤销不影响已经到账的报销款。"),
    ];
    const ok = await confirmDialog({ title: `撤销对“${unitName}”的授权？`, body: explanation, confirmText: "撤销授权", danger: true, testid: "revoke-dialog" });
    if (!ok || !ctx.active) return;
    button.disabled = true;
    button.classList.add("weui-btn_loading");
    try {
      const result = await api.revoke(auth.id);
      if (!ctx.active) return;
      const kept = result.kept || [];
      const revoked = result.revoked || [];
      if (kept.length) toast(`已撤销 ${revoked.length} 张；${kept.length} 张正在报销中，锁定结束后方可撤销`, { type: "info", duration: 5000 });
      else toast("授权已撤销", { type: "success" });
      load({ quiet: true });
    } catch (error) {
      if (!ctx.active) return;
      toastError(error);
      button.disabled = false;
      button.classList.remove("weui-btn_loading");
    }
  }

  function authorizationCard(auth) {
    const status = AUTH_STATUS[auth.status] || { label: auth.status, cls: "normal" };
    const unit = auth.unit || {};
    const receipts = auth.receipts || [];
    // Locked receipts cannot be revoked until their lock ends: no button while only those remain.
    const revokable = auth.status === "active" && receipts.some((r) => !r.revoked_at && !r.locked);
    const revokeButton = revokable
      ? h("button", { type: "button", class: "weui-btn weui-btn_mini weui-btn_warn", "data-testid": "revoke-button", "data-id": auth.id }, "撤销授权")
      : null;
    if (revokeButton) revokeButton.addEventListener("click", () => revoke(auth, revokeButton));
    const element = card([
      h("div", { class: "pj-card__head" },
        h("div", {},
          h("h2", { class: "pj-card__title" }, unit.name || "报销单位"),
          h("p", { class: "pj-card__sub" }, [unit.kind_label || unit.kind, unit.credit_code].filter(Boolean).join(" · "))),
        tag(status.label, status.cls, "authorization-status")),
      kvList([
        ["用途", auth.purpose],
        ["单位业务号", auth.reference],
        ["金额上限", auth.amount_cap ? money(auth.amount_cap) : null],
        ["授权时间", dateTime(auth.created_at)],
        ["有效期至", dateTime(auth.expires_at)],
        ["撤销时间", auth.revoked_at ? dateTime(auth.revoked_at) : null],
      ]),
      h("p", { class: "pj-card__label" }, `授权的票据（${receipts.length}张）`),
      receiptRows(receipts),
      revokeButton ? h("div", { class: "pj-card__actions" }, revokeButton) : null,
    ], { className: "pj-auth", testid: "authorization-item", label: unit.name });
    element.dataset.id = auth.id;
    element.dataset.status = auth.status;
    return element;
  }

  async function load({ quiet = false } = {}) {
    if (!quiet) replace(body, loadingState("正在加载授权记录"));
    body.setAttribute("aria-busy", "true");
    try {
      const data = await api.authorizations(ctx.signal);
      if (!ctx.active) return;
      const items = (data && data.items) || [];
      if (!items.length) {
        replace(body, emptyState({ title: "还没有授权记录", desc: "在报销单位扫码授权后，授权记录会显示在这里。", action: h("a", { class: "weui-btn weui-btn_mini weui-btn_primary", href: "#/scan" }, "去扫码授权") }));
        return;
      }
      replace(body,
        h("p", { class: "pj-page__intro" }, "授权只对您勾选的票据有效。您可以随时撤销尚未被锁定的票据授权。"),
        h("div", { class: "pj-list", "data-testid": "authorization-list" }, items.map(authorizationCard)));
    } catch (error) {
      if (!ctx.active || (error && error.name === "AbortError")) return;
      replace(body, errorState(error, () => load()));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  ctx.on("notification", (n) => {
    if (n && n.type && (n.type.startsWith("authorization.") || ["receipt.locked", "receipt.unlocked", "receipt.lock_expired", "receipt.reimbursed", "receipt.reimbursement_rejected"].includes(n.type))) {
      load({ quiet: true });
    }
  });
  load();
}
