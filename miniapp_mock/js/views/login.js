// 登录: sign in with a 海易办 identity assertion — through the demo identity provider
// (embedded default only: hidden when it answers 404) or by pasting an assertion.

import { listDemoCitizens, signInAsDemoCitizen, signInWithAssertion } from "../auth.js";
import { h, icon, replace } from "../dom.js";
import { errorState, loadingState } from "../ui.js";

export function render(ctx) {
  const errorBox = h("div", { class: "pj-form-error", role: "alert", "data-testid": "login-error", hidden: true });
  const demoBox = h("div", { class: "pj-login__demo", "aria-busy": "true" }, loadingState("正在加载演示账号"));
  let busy = false;

  function showError(error) {
    errorBox.textContent = (error && (error.title || error.message)) || "登录失败，请重试";
    errorBox.hidden = false;
  }

  async function attempt(button, action) {
    if (busy) return;
    busy = true;
    errorBox.hidden = true;
    const buttons = ctx.root.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    button.classList.add("weui-btn_loading");
    button.setAttribute("aria-busy", "true");
    try {
      await action(); // success: app.js navigates on "auth:signed-in"
    } catch (error) {
      if (!ctx.active) return;
      showError(error);
      buttons.forEach((b) => (b.disabled = false));
      button.classList.remove("weui-btn_loading");
      button.removeAttribute("aria-busy");
    } finally {
      busy = false;
    }
  }

  async function loadDemo() {
    replace(demoBox, loadingState("正在加载演示账号"));
    demoBox.setAttribute("aria-busy", "true");
    try {
      const citizens = await listDemoCitizens();
      if (!ctx.active) return;
      demoBox.removeAttribute("aria-busy");
      if (citizens === null) {
        demoBox.hidden = true; // no demo identity provider on this node
        return;
      }
      const list = h("ul", { class: "pj-login__citizens", "aria-labelledby": "demo-title" });
      for (const citizen of citizens) {
        const button = h("button", {
          type: "button", class: "pj-login__citizen", "data-testid": "login-citizen", "data-handle": citizen.handle,
          on: { click: () => attempt(button, () => signInAsDemoCitizen(citizen.handle)) },
        },
        h("span", { class: "pj-avatar", "aria-hidden": "true" }, (citizen.name || "?").slice(0, 1)),
        h("span", { class: "pj-login__citizen-name" }, citizen.name || citizen.handle),
        h("span", { class: "pj-login__citizen-hint" }, "以此身份登录"));
        list.append(h("li", {}, button));
      }
      replace(demoBox,
        h("h2", { class: "weui-cells__title", id: "demo-title" }, "演示账号（模拟海易办身份认证）"),
        citizens.length ? list : h("p", { class: "pj-muted" }, "暂无演示账号"));
    } catch (error) {
      if (!ctx.active) return;
      demoBox.removeAttribute("aria-busy");
      replace(demoBox, errorState(error, loadDemo));
    }
  }

  const textarea = h("textarea", {
    id: "assertion", class: "weui-textarea pj-login__assertion", rows: "4", maxlength: "8192", autocomplete: "off",
    spellcheck: "false", "data-testid": "assertion-input", placeholder: "粘贴海易办签发的身份断言（JWT）",
  });
  const submit = h("button", { type: "submit", class: "weui-btn weui-btn_primary", "data-testid": "assertion-submit" }, "登录");
  const form = h("form", {
    class: "pj-login__form", novalidate: true,
    on: {
      submit: (event) => {
        event.preventDefault();
        const assertion = textarea.value.trim();
        if (!assertion) {
          showError({ title: "请先粘贴身份断言" });
          textarea.focus();
          return;
        }
        attempt(submit, () => signInWithAssertion(assertion));
      },
    },
  },
  h("div", { class: "weui-cells__title" }, h("label", { for: "assertion" }, "使用身份断言登录")),
  h("div", { class: "weui-cells weui-cells_form" }, h("div", { class: "weui-cell" }, h("div", { class: "weui-cell__bd" }, textarea))),
  h("div", { class: "weui-btn-area" }, submit));

  replace(ctx.root,
    h("div", { class: "pj-login" },
      h("div", { class: "pj-login__hero" },
        h("div", { class: "pj-login__logo", "aria-hidden": "true" }, icon("wallet", "pj-icon pj-login__logo-icon")),
        h("h1", { class: "pj-login__title", tabindex: "-1" }, "票夹"),
        h("p", { class: "pj-login__subtitle" }, "财政电子票据 · 个人数字账户"),
        h("p", { class: "pj-login__note" }, "通过“海易办”实名身份登录，查看、授权和跟踪您的医疗收费电子票据。")),
      errorBox,
      demoBox,
      form,
      h("p", { class: "pj-login__privacy" }, icon("shield", "pj-icon pj-icon--inline"),
        "您的票据仅本人可见；报销单位须经您扫码授权后才能查验和使用。")));
  loadDemo();
}
