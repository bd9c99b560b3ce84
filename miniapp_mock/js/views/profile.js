// 我的: the profile (identity number masked), links to 我的授权 and 报销进度, binding the
// 「票夹」 WeChat official account (a one-time code, the bound accounts, unbinding),
// sign-out here or everywhere.

import { api } from "../api.js";
import { signOut, signOutEverywhere } from "../auth.js";
import { h, icon, replace } from "../dom.js";
import { CHAT_CHANNELS, CHAT_PUSH_STATUS, countdown, dateTime, ID_TYPES, maskId, maskPhone, maskTail, relativeTime, secondsUntil } from "../format.js";
import { card, confirmDialog, errorState, kvList, loadingState, pageHeader, sectionTitle, tag, toast, toastError } from "../ui.js";

const POLL_EVERY_S = 4; // while a code is live: has the account been bound yet?

function linkCell(hrefValue, iconName, label, testid, extra) {
  return h("a", { class: "weui-cell weui-cell_access pj-link-cell", href: hrefValue, "data-testid": testid },
    h("div", { class: "weui-cell__hd pj-link-cell__icon", "aria-hidden": "true" }, icon(iconName)),
    h("div", { class: "weui-cell__bd" }, h("span", {}, label)),
    h("div", { class: "weui-cell__ft" }, extra || ""));
}

function setBusy(button, busy) {
  button.disabled = busy;
  button.classList.toggle("weui-btn_loading", busy);
}

// --- 绑定微信公众号 ----------------------------------------------------------------------

function bindingItem(binding, onUnbind) {
  const account = maskTail(binding.external_id);
  const channel = CHAT_CHANNELS[binding.channel] || binding.channel || "聊天账号";
  const lastPush = Array.isArray(binding.recent_pushes) ? binding.recent_pushes[0] : null;
  const quota = Number(binding.quota_remaining) || 0;
  const unbindButton = h("button", { type: "button", class: "weui-btn weui-btn_mini weui-btn_default pj-binding__unbind", "data-testid": "unbind-button" }, "解绑");
  unbindButton.addEventListener("click", () => onUnbind(binding, account, channel, unbindButton));
  return h("li", { class: "pj-binding", "data-testid": "binding-item", "data-id": binding.id, "data-channel": binding.channel },
    h("div", { class: "pj-binding__main" },
      h("p", { class: "pj-binding__title" },
        tag(channel, "authorized", "binding-channel"),
        h("span", { class: "pj-binding__account", "data-testid": "binding-account" }, account)),
      h("p", { class: "pj-binding__meta", "data-testid": "binding-quota" }, `订阅消息剩余 ${quota} 条`),
      binding.created_at ? h("p", { class: "pj-binding__meta" }, `绑定于 ${dateTime(binding.created_at)}`) : null,
      lastPush ? h("p", { class: "pj-binding__meta" },
        `最近推送：${relativeTime(lastPush.at)} ${CHAT_PUSH_STATUS[lastPush.status] || lastPush.status || ""}`) : null),
    unbindButton);
}

const SESSION_KINDS = { app: "小程序登录", chat: "微信公众号绑定" };

/** Where I am signed in; each session but this one can be signed out here. */
function sessionsSection(ctx) {
  const box = h("div", { class: "pj-sessions", "data-testid": "sessions" }, loadingState("正在加载登录设备"));

  function item(session) {
    const end = session.current ? null
      : h("button", { type: "button", class: "weui-btn weui-btn_mini weui-btn_default", "data-testid": "session-end" }, "退出");
    end?.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: "退出该登录？", body: "该设备上的登录将立即失效。", confirmText: "退出", testid: "session-end-dialog" });
      if (!ok) return;
      setBusy(end, true);
      try {
        await api.endSession(session.id);
        toast("已退出该登录", { type: "success" });
        load();
      } catch (error) {
        toastError(error);
        setBusy(end, false);
      }
    });
    return h("li", { class: "pj-binding", "data-testid": "session-item", "data-kind": session.kind, "data-current": String(session.current) },
      h("div", { class: "pj-binding__main" },
        h("p", { class: "pj-binding__title" }, tag(SESSION_KINDS[session.kind] || session.kind, session.current ? "normal" : "authorized"),
          session.current ? h("span", { class: "pj-binding__account" }, "本设备") : null),
        h("p", { class: "pj-binding__meta" }, `登录于 ${dateTime(session.started_at)} · 最近活动 ${relativeTime(session.last_active_at)}`)),
      end);
  }

  async function load() {
    try {
      const { items } = await api.sessions(ctx.signal);
      if (!ctx.active) return;
      replace(box, h("ul", { class: "pj-bindings" }, ...items.map(item)));
    } catch (error) {
      if (ctx.active) replace(box, errorState(error, load));
    }
  }
  load();
  return box;
}

function bindingSection(ctx) {
  const codeButton = h("button", { type: "button", class: "weui-btn weui-btn_primary weui-btn_mini pj-bind__button", "data-testid": "binding-code-button" }, "获取绑定码");
  const codeBox = h("div", { class: "pj-bind__code-box", hidden: true, "aria-live": "polite" });
  const list = h("div", { class: "pj-bind__list" }, loadingState("正在加载绑定的账号"));
  let timer = null;
  let known = null; // ids of the active bindings when the code was given
  let loading = null;

  const stopTimer = () => {
    clearInterval(timer);
    timer = null;
  };
  ctx.cleanup(stopTimer);

  async function loadBindings({ quiet = false } = {}) {
    if (loading) return loading;
    if (!quiet) replace(list, loadingState("正在加载绑定的账号"));
    loading = (async () => {
      try {
        const data = await api.chatBindings(ctx.signal);
        const active = (data && Array.isArray(data.items) ? data.items : []).filter((b) => b && b.active);
        if (ctx.active) showBindings(active);
        return active;
      } catch (error) {
        if (!ctx.active || (error && error.name === "AbortError")) return null;
        if (!quiet) {
          replace(list, h("div", { class: "pj-bind__error", role: "alert", "data-testid": "bindings-error" },
            h("span", {}, (error && error.title) || "加载失败"),
            h("button", { type: "button", class: "weui-btn weui-btn_mini weui-btn_default", "data-testid": "retry", on: { click: () => loadBindings() } }, "重试")));
        }
        return null;
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  function showBindings(active) {
    if (!active.length) {
      replace(list, h("p", { class: "pj-bind__empty", "data-testid": "bindings-empty" }, "尚未绑定微信公众号"));
      return;
    }
    replace(list,
      h("p", { class: "pj-bind__list-title" }, "已绑定的账号"),
      h("ul", { class: "pj-bindings", "data-testid": "binding-list" }, active.map((b) => bindingItem(b, unbind))));
  }

  async function unbind(binding, account, channel, button) {
    const ok = await confirmDialog({
      title: "解除绑定？",
      body: `解绑后，${channel}账号 ${account} 将不能再查询您的票据，也不再收到票据动态提醒。`,
      confirmText: "解绑", danger: true, testid: "unbind-dialog",
    });
    if (!ok || !ctx.active) return;
    setBusy(button, true);
    try {
      await api.unbindChat(binding.id);
      toast("已解除绑定", { type: "success" });
    } catch (error) {
      if (!(error && error.status === 404)) { // 404: already gone (unbound from the chat side)
        toastError(error);
        setBusy(button, false);
        return;
      }
    }
    await loadBindings({ quiet: true });
  }

  function endCode(message, { bound = false } = {}) {
    stopTimer();
    known = null;
    codeBox.classList.add("pj-bind__code-box--over");
    replace(codeBox, h("p", { class: "pj-bind__over", "data-testid": "binding-code-status" }, message));
    codeButton.textContent = bound ? "获取绑定码" : "重新获取绑定码";
  }

  function showCode(code, expiresAt) {
    const total = secondsUntil(expiresAt);
    const minutes = total > 0 ? Math.max(1, Math.round(total / 60)) : 5;
    const left = h("span", { "data-testid": "binding-code-countdown" }, countdown(secondsUntil(expiresAt)));
    codeBox.classList.remove("pj-bind__code-box--over");
    replace(codeBox,
      h("p", { class: "pj-bind__label" }, "您的绑定码"),
      h("p", { class: "pj-bind__code", "data-testid": "binding-code", "aria-label": `绑定码 ${code.split("").join(" ")}` }, code),
      h("p", { class: "pj-bind__countdown" }, left, " 后失效"),
      h("p", { class: "pj-bind__instruction", "data-testid": "binding-instruction" },
        `在「票夹」公众号发送：绑定 ${code}（${minutes}分钟内有效）`));
    codeBox.hidden = false;
    codeButton.textContent = "重新获取绑定码";
    let ticks = 0;
    stopTimer();
    timer = setInterval(async () => {
      if (!ctx.active) return stopTimer();
      const seconds = secondsUntil(expiresAt);
      if (seconds <= 0) {
        endCode("绑定码已过期，请重新获取");
        return;
      }
      left.textContent = countdown(seconds);
      ticks += 1;
      if (ticks % POLL_EVERY_S !== 0) return;
      const active = await loadBindings({ quiet: true });
      if (!active || !timer) return;
      if (!known) {
        known = new Set(active.map((b) => b.id)); // the list could not be read when the code was given
        return;
      }
      if (active.some((b) => !known.has(b.id))) {
        endCode("绑定成功，现在可以在「票夹」公众号查询票据了", { bound: true });
        toast("微信公众号绑定成功", { type: "success" });
      }
    }, 1000);
  }

  codeButton.addEventListener("click", async () => {
    setBusy(codeButton, true);
    try {
      const data = await api.chatBindingCode();
      if (!ctx.active) return;
      const current = await loadBindings({ quiet: true });
      known = current ? new Set(current.map((b) => b.id)) : null;
      showCode(String(data.code || ""), data.expires_at);
    } catch (error) {
      if (ctx.active) toastError(error);
    } finally {
      setBusy(codeButton, false);
    }
  });

  loadBindings();
  return card([
    h("div", { class: "pj-bind__intro" },
      h("span", { class: "pj-bind__icon", "aria-hidden": "true" }, icon("message")),
      h("p", {}, "绑定后，可以在「票夹」微信公众号查询票据和报销进度，并接收票据动态提醒。")),
    codeBox,
    h("div", { class: "pj-bind__actions" }, codeButton),
    list,
  ], { className: "pj-bind", testid: "binding-section", label: "绑定微信公众号" });
}

// --- the screen ------------------------------------------------------------------------

export function render(ctx) {
  const profileBox = h("div", { class: "pj-profile__card", "data-testid": "profile" }, loadingState("正在加载个人信息"));
  const unreadText = ctx.unread() ? `${ctx.unread()}条未读` : "";
  const logoutButton = h("button", { type: "button", class: "weui-btn weui-btn_warn", "data-testid": "logout-button" }, "退出登录");
  const everywhereButton = h("button", { type: "button", class: "weui-btn weui-btn_default", "data-testid": "logout-everywhere-button" }, "退出所有设备");

  replace(ctx.root, h("div", { class: "pj-page pj-profile" },
    pageHeader({ title: "我的", variant: "brand" }),
    profileBox,
    h("div", { class: "weui-cells pj-links" },
      linkCell("#/authorizations", "shield", "我的授权", "link-authorizations"),
      linkCell("#/claims", "progress", "报销进度", "link-claims"),
      linkCell("#/messages", "message", "消息通知", "link-messages", unreadText),
      linkCell("#/wallet", "wallet", "我的票夹", "link-wallet")),
    sectionTitle("绑定微信公众号"),
    bindingSection(ctx),
    sectionTitle("登录设备"),
    sessionsSection(ctx),
    h("p", { class: "pj-profile__privacy" }, icon("shield", "pj-icon pj-icon--inline"),
      "您的身份信息由“海易办”实名认证提供，仅用于归集您本人的票据。"),
    h("div", { class: "weui-btn-area" }, logoutButton, everywhereButton)));

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

  everywhereButton.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: "退出所有设备？",
      body: "将退出您在所有手机和电脑上的登录，并解除所有已绑定的微信公众号。之后需要重新通过海易办身份认证登录。",
      confirmText: "全部退出", danger: true, testid: "logout-everywhere-dialog",
    });
    if (!ok) return;
    setBusy(everywhereButton, true);
    logoutButton.disabled = true;
    try {
      await signOutEverywhere(); // app.js returns to the sign-in screen on "auth:signed-out"
      toast("已退出所有设备", { type: "success" });
    } catch (error) {
      // Not signed out anywhere: say so and stay (signing out only here would hide that).
      toastError(error);
      if (ctx.active) {
        setBusy(everywhereButton, false);
        logoutButton.disabled = false;
      }
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
