// 助手: placeholder until the chat assistant arrives.

import { h, icon, replace } from "../dom.js";
import { pageHeader } from "../ui.js";

export function render(ctx) {
  replace(ctx.root, h("div", { class: "pj-page pj-assistant", "data-testid": "assistant" },
    pageHeader({ title: "智能助手" }),
    h("div", { class: "weui-msg pj-msg" },
      h("div", { class: "weui-msg__icon-area pj-assistant__art", "aria-hidden": "true" }, icon("assistant", "pj-icon pj-assistant__icon")),
      h("div", { class: "weui-msg__text-area" },
        h("h2", { class: "weui-msg__title" }, "智能助手即将上线"),
        h("p", { class: "weui-msg__desc" }, "届时可以用对话的方式查询票据、了解报销进度和办理指引。")),
      h("div", { class: "weui-msg__opr-area" },
        h("div", { class: "weui-btn-area" }, h("a", { class: "weui-btn weui-btn_default", href: "#/wallet" }, "返回票夹"))))));
}
