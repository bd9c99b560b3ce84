// 我的: the profile (identity number masked), links to 我的授权 and 报销进度, sign-out.

import { api } from "../api.js";
import { signOut } from "../auth.js";
import { h, icon, replace } from "../dom.js";
import { dateTime, ID_TYPES, maskId, maskPhone } from "../format.js";
import { confirmDialog, errorState, kvList, loadingState, pageHeader, toastError } from "../ui.js";

function linkCell(hrefValue, iconName, label, testid, extra) {
  return h("a", { class: "weui-cell weui-cell_access pj-link-cell", href: hrefValue, "data-testid": testid },
    h("div", { class: "weui-cell__hd pj-link-cell__icon", "aria-hidden": "true" }, icon(iconName)),
    h("div", { class: "weui-cell__bd" }, h("span", {}, label)),
    h("div", { class: "weui-cell__ft" }, extra || ""));
}

export function render(ctx) {
  const profileBox = h("div", { class: "pj-profile__card", "data-testid": "profile" }, loadingState("正在加载个人信息"));
  const unreadText = ctx.unread() ? `${ctx.unread()}条未读` : "";
  const logoutButton = h("button", { type: "button", class: "weui-btn weui-btn_warn", "data-testid": "logout-button" }, "退出登录");

  replace(ctx.root, h("div", { class: "pj-page pj-profile" },
    pageHeader({ title: "我的", variant: "brand" }),
    profileBox,
    h("div", { class: "weui-cells pj-links" },
      linkCell("#/authorizations", "shield", "我的授权", "link-authorizations"),
      linkCell("#/claims", "progress", "报销进度", "link-claims"),
      linkCell("#/messages", "message", "消息通知", "link-messages", unreadText),
      linkCell("#/wallet", "wallet", "我的票夹", "link-wallet")),
    h("p", { class: "pj-profile__privacy" }, icon("shield", "pj-icon pj-icon--inline"),
      "您的身份信息由“海易办”实名认证提供，仅用于归集您本人的票据。"),
    h("div", { class: "weui-btn-area" }, logoutButton)));

  logoutButton.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: "退出登录？", body: "退出后需要重新通过海易办身份认证登录。", confirmText: "退出登录", testid: "logout-dialog" });
    if (!ok) return;
    logoutButton.disabled = true;
    logoutButton.classList.add("weui-btn_loading");
    try {
      await signOut(); // app.js returns to the sign-in screen on "auth:signed-out"
    } catch (error) {
      toastError(error); // signed out here anyway; the server may keep the session until it expires
    }
  });

  async function load() {
    replace(profileBox, loadingState("正在加载个人信息"));
    try {
      const me = await api.me(ctx.signal);
      if (!ctx.active) return;
      replace(profileBox,
        h("div", { class: "pj-profile__head" },
          h("span", { class: "pj-avatar pj-avatar--large", "aria-hidden": "true" }, (me.name || "?").slice(0, 1)),
          h("div", {},
            h("p", { class: "pj-profile__name", "data-testid": "profile-name" }, me.name || "—"),
            h("p", { class: "pj-profile__verified" }, "已实名认证"))),
        kvList([
          ["证件类型", ID_TYPES[me.id_type] || me.id_type],
          ["证件号码", h("span", { "data-testid": "profile-id-number" }, maskId(me.id_number || me.id_number_masked))],
          ["手机号码", maskPhone(me.phone)],
          ["账户开通时间", dateTime(me.created_at)],
          ["最近登录", dateTime(me.last_login_at)],
        ]));
    } catch (error) {
      if (!ctx.active || (error && error.name === "AbortError")) return;
      replace(profileBox, errorState(error, load));
    }
  }
  load();
}
