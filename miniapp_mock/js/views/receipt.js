// 票据详情: every element of the receipt, items, payment split, status, lock, ledger,
// timeline, who read it (access log), the data to verify it and how often it was checked
// (查验次数). Live: fetched again when an event about this receipt arrives.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import {
  ACCESS_ACTIONS, ACTOR_TYPES, date, dateTime, ellipsis, ID_TYPES, LEDGER_OUTCOMES, maskId, money, PAYMENT_LABELS,
  provinceName, RECEIPT_KINDS, TIMELINE_EVENTS, VISIT_FIELDS,
} from "../format.js";
import { receiptKeysOf } from "../stream.js";
import { card, emptyState, errorState, headerButton, kvList, loadingState, pageHeader, sectionTitle, statusTag, tag, toastError } from "../ui.js";

function itemsTable(items, { caption, detail = false }) {
  const head = ["项目名称", "数量", "单价", "金额"];
  if (detail) head.splice(1, 0, "规格");
  return h("div", { class: "pj-table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
    h("table", { class: "pj-table", "data-testid": detail ? "detail-items-table" : "items-table" },
      h("caption", { class: "pj-visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: i === 0 ? null : "pj-num" }, t)))),
      h("tbody", {}, items.map((it) => h("tr", { "data-testid": "item-row" },
        h("th", { scope: "row" },
          h("span", { class: "pj-table__name" }, it.name),
          it.code || it.category ? h("span", { class: "pj-table__sub" }, [it.category, it.code].filter(Boolean).join(" · ")) : null,
          it.remark ? h("span", { class: "pj-table__sub" }, `备注：${it.remark}`) : null),
        detail ? h("td", {}, it.specification || "—") : null,
        h("td", { class: "pj-num" }, `${it.quantity}${it.unit || ""}`),
        h("td", { class: "pj-num" }, money(it.rate)),
        h("td", { class: "pj-num" }, money(it.amount)))))));
}

function paymentsList(payments = {}) {
  return h("dl", { class: "pj-kv pj-kv--money", "data-testid": "payments" },
    PAYMENT_LABELS.filter(([field]) => payments[field] !== undefined && payments[field] !== null).map(([field, label]) =>
      h("div", { class: "pj-kv__row", "data-field": field }, h("dt", {}, label), h("dd", {}, money(payments[field])))));
}

function lifecycleNotice(r) {
  const d = r.lifecycle_detail || {};
  if (r.lifecycle === "red_reversed") {
    const red = d.red_receipt || {};
    return h("div", { class: "pj-notice pj-notice--danger", role: "note", "data-testid": "lifecycle-notice" },
      h("strong", {}, "该票据已冲红，不能再用于报销"),
      d.reason ? h("p", {}, `原因：${d.reason}`) : null,
      red.number ? h("p", {}, `红字票据：${red.code}-${red.number}`) : null);
  }
  if (r.lifecycle === "paper_exchanged") {
    const paper = d.paper_receipt || {};
    return h("div", { class: "pj-notice pj-notice--muted", role: "note", "data-testid": "lifecycle-notice" },
      h("strong", {}, "该票据已换开纸质票据，请使用纸质票据办理报销"),
      paper.number ? h("p", {}, `纸质票据：${paper.code}-${paper.number}`) : null,
      d.reason ? h("p", {}, `原因：${d.reason}`) : null);
  }
  if (r.lifecycle === "voided") {
    return h("div", { class: "pj-notice pj-notice--muted", role: "note", "data-testid": "lifecycle-notice" },
      h("strong", {}, "该票据已作废，不能用于报销"), d.reason ? h("p", {}, `原因：${d.reason}`) : null);
  }
  return null;
}

function lockNotice(lock) {
  if (!lock) return null;
  const unit = (lock.unit && lock.unit.name) || "报销单位";
  return h("div", { class: "pj-notice pj-notice--warn", role: "note", "data-testid": "lock-notice" },
    h("strong", {}, `${unit}正在办理报销`),
    h("p", {}, `锁定于 ${dateTime(lock.locked_at)}，最迟 ${dateTime(lock.expires_at)} 自动解除。办理期间该票据不能用于其他报销。`));
}

function timelineList(entries = []) {
  if (!entries.length) return h("p", { class: "pj-muted pj-pad" }, "暂无记录");
  return h("ol", { class: "pj-timeline", "data-testid": "timeline" }, [...entries].reverse().map((e) => {
    const who = e.actor && (e.actor.name || ACTOR_TYPES[e.actor.type]);
    const data = e.data || {};
    const unit = data.unit && data.unit.name;
    const extra = [];
    if (data.amount) extra.push(`金额 ${money(data.amount)}`);
    if (unit && unit !== who) extra.push(unit);
    return h("li", { class: "pj-timeline__item", "data-event": e.event, "data-testid": "timeline-entry" },
      h("p", { class: "pj-timeline__title" }, TIMELINE_EVENTS[e.event] || e.event),
      h("p", { class: "pj-timeline__meta" }, h("time", { datetime: e.at }, dateTime(e.at)), who ? ` · ${who}` : ""),
      extra.length ? h("p", { class: "pj-timeline__meta" }, extra.join(" · ")) : null,
      e.reason ? h("p", { class: "pj-timeline__reason" }, `原因：${e.reason}`) : null);
  }));
}

function ledgerList(entries = []) {
  if (!entries.length) return h("p", { class: "pj-muted pj-pad", "data-testid": "ledger-empty" }, "暂无报销记录");
  return h("ul", { class: "pj-rows", "data-testid": "ledger" }, entries.map((e) =>
    h("li", { class: "pj-row", "data-testid": "ledger-entry" },
      h("div", { class: "pj-row__main" },
        h("p", { class: "pj-row__title" }, (e.unit && e.unit.name) || "报销单位"),
        h("p", { class: "pj-row__meta" }, dateTime(e.reimbursed_at), e.reference ? ` · 业务号 ${e.reference}` : ""),
        e.reason ? h("p", { class: "pj-row__meta" }, `原因：${e.reason}`) : null),
      h("div", { class: "pj-row__side" },
        e.outcome === "reimbursed" ? h("p", { class: "pj-row__amount" }, money(e.amount)) : null,
        tag(LEDGER_OUTCOMES[e.outcome] || e.outcome, e.outcome === "reimbursed" ? "reimbursed" : "reversed")))));
}

function accessList(state) {
  if (state.error) return h("p", { class: "pj-muted pj-pad", role: "alert" }, state.error.title || "查看记录加载失败");
  const items = state.items || [];
  if (!items.length) return h("p", { class: "pj-muted pj-pad", "data-testid": "access-log-empty" }, "还没有单位查看过这张票据");
  return h("ul", { class: "pj-rows", "data-testid": "access-log" }, items.map((a) =>
    h("li", { class: "pj-row", "data-testid": "access-entry" },
      h("div", { class: "pj-row__main" },
        h("p", { class: "pj-row__title" }, (a.accessor && a.accessor.name) || "—"),
        h("p", { class: "pj-row__meta" }, `${ACTOR_TYPES[a.accessor && a.accessor.type] || ""}${ACCESS_ACTIONS[a.action] || a.action}`)),
      h("div", { class: "pj-row__side" }, h("time", { class: "pj-row__meta", datetime: a.at }, dateTime(a.at))))));
}

/** 查验次数 (every check that identified the receipt) and the units among the checkers. */
function checkRows(checks) {
  if (!checks) return [];
  const count = checks.count
    ? `${checks.count} 次，最近 ${dateTime(checks.last_checked_at)}（北京时间）`
    : "尚未被查验";
  const units = (checks.units || []).map((u) => `${u.name} ${u.count} 次`).join("；");
  return [["查验次数", count, "check-count"], ["报销单位查验", units || null, "check-units"]];
}

function signatureValue(sig) {
  if (!sig || !sig.value) return h("span", { class: "pj-sig pj-sig--missing" }, "✗ 缺失");
  return h("span", { class: "pj-sig pj-sig--present", title: sig.value },
    h("span", { class: "pj-sig__mark" }, "✓ 已附"), ` ${sig.alg || ""}${sig.kid ? ` · ${ellipsis(sig.kid, 6, 4)}` : ""} · ${ellipsis(sig.value)}`);
}

function detailView(r, access) {
  const payer = r.payer || {};
  const visit = r.visit || {};
  const province = r.province || String(r.code || "").slice(0, 2);
  const closed = ["red_reversed", "paper_exchanged", "voided"].includes(r.lifecycle);

  const summary = card([
    h("p", { class: "pj-detail__issuer" }, (r.issuer && r.issuer.name) || "—"),
    h("p", { class: "pj-detail__title" }, r.title || RECEIPT_KINDS[r.kind] || "电子票据"),
    h("p", { class: "pj-detail__amount", "data-testid": "total-amount" }, money(r.total_amount)),
    h("div", { class: "pj-detail__status" }, statusTag(r.display_status)),
    h("dl", { class: "pj-detail__figures" },
      h("div", {}, h("dt", {}, "已报销"), h("dd", { "data-testid": "reimbursed-amount" }, money(r.reimbursed_amount))),
      h("div", {}, h("dt", {}, "剩余可报销金额"), h("dd", { "data-testid": "remaining-amount" }, closed ? "不可报销" : money(r.remaining_amount)))),
  ], { className: "pj-detail__summary", testid: "receipt-summary" });

  const basics = kvList([
    ["票据名称", r.title],
    ["票据代码", r.code],
    ["票据号码", r.number],
    ["校验码", r.check_code],
    ["开票日期", date(r.issue_date)],
    ["开票时间", r.issued_at ? dateTime(r.issued_at) : null],
    ["票据类型", RECEIPT_KINDS[r.kind] || r.kind],
    ["开票地区", provinceName(province)],
    ["开票单位", r.issuer && r.issuer.name],
    ["单位统一社会信用代码", r.issuer && r.issuer.credit_code],
    ["交款人", payer.name],
    ["证件类型", ID_TYPES[payer.id_type] || payer.id_type],
    ["证件号码", payer.id_number ? maskId(payer.id_number) : null, "payer-id"],
    ["收款人", r.clerk],
    ["复核人", r.checker],
    ["备注", r.remark],
  ], { testid: "receipt-basics" });

  const visitList = kvList(VISIT_FIELDS.map(([field, label, fmt]) => [label, visit[field] === undefined || visit[field] === null || visit[field] === "" ? null : (fmt ? fmt(visit[field]) : visit[field])]), { testid: "visit" });

  const items = Array.isArray(r.items) ? r.items : [];
  const detailItems = Array.isArray(r.detail_items) ? r.detail_items : [];

  const verification = kvList([
    ["票据代码", r.code],
    ["票据号码", r.number],
    ["校验码", r.check_code],
    ["开票金额", money(r.total_amount)],
    ["开票日期", date(r.issue_date)],
    ["开票单位签名", signatureValue(r.signature)],
    ["财政监管签名", signatureValue(r.supervision_signature), "supervision-signature"],
    ...checkRows(r.checks),
  ], { testid: "verification" });

  return h("div", { class: "pj-detail" },
    summary,
    lifecycleNotice(r),
    lockNotice(r.lock),
    sectionTitle("基本信息"), card(basics),
    sectionTitle("就诊信息"), card(visitList),
    sectionTitle(`收费项目（${items.length}项）`),
    card(items.length ? itemsTable(items, { caption: "收费项目" }) : h("p", { class: "pj-muted pj-pad" }, "无收费项目"), { testid: "items" }),
    detailItems.length ? h("details", { class: "pj-details" },
      h("summary", {}, `费用明细清单（${detailItems.length}项）`), itemsTable(detailItems, { caption: "费用明细清单", detail: true })) : null,
    sectionTitle("支付信息"), card(paymentsList(r.payments)),
    sectionTitle("报销记录"), card(ledgerList(r.ledger)),
    sectionTitle("状态时间线"), card(timelineList(r.timeline)),
    sectionTitle("谁查看过"), card(accessList(access), { testid: "access-log-card" }),
    sectionTitle("查验信息"), card([verification,
      h("p", { class: "pj-muted pj-pad" }, "报销单位可凭票据代码、号码、校验码和金额在财政电子票据查验平台核验真伪；财政监管签名证明该票据已由本平台登记。查验次数只计核验通过的查验，除报销单位名称外不记录查验人。"),
      downloadButtons(r.key)]));
}

/** 下载版式文件 and 下载数据文件: fetched with the token (a link cannot carry it) and saved. */
function downloadButtons(key) {
  return h("div", { class: "pj-pad" },
    downloadButton({ label: "下载版式文件（PDF）", testid: "layout-download", fetchFile: () => api.layoutFile(key), filename: `${key}.pdf` }),
    downloadButton({ label: "下载数据文件（XML）", testid: "data-file-download", fetchFile: () => api.dataFile(key), filename: `${key}.xml` }));
}

function downloadButton({ label, testid, fetchFile, filename }) {
  const button = h("button", { type: "button", class: "weui-btn weui-btn_default pj-file-download", "data-testid": testid }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const blob = await fetchFile();
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: filename });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      toastError(error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export function render(ctx) {
  const key = ctx.route.segments[1] || "";
  const body = h("div", { class: "pj-page__body" });
  const refreshButton = headerButton({ label: "刷新", iconName: "refresh", testid: "refresh-button", onClick: () => load() });
  replace(ctx.root, h("div", { class: "pj-page pj-receipt", "data-testid": "receipt-detail", "data-key": key },
    pageHeader({ title: "票据详情", back: "wallet", actions: [refreshButton] }), body));

  let generation = 0;
  let shown = false;

  async function load({ quiet = false } = {}) {
    const gen = ++generation;
    if (!shown || !quiet) replace(body, loadingState("正在加载票据"));
    body.setAttribute("aria-busy", "true");
    const [receipt, access] = await Promise.allSettled([api.receipt(key, ctx.signal), api.accessLog(key, ctx.signal)]);
    if (gen !== generation || !ctx.active) return;
    body.removeAttribute("aria-busy");
    if (receipt.status === "rejected") {
      if (receipt.reason && receipt.reason.name === "AbortError") return;
      shown = false;
      replace(body, receipt.reason && receipt.reason.status === 404
        ? emptyState({ title: receipt.reason.title || "未找到该票据", desc: "票据不存在，或不属于当前登录的账户。", action: h("a", { class: "weui-btn weui-btn_mini weui-btn_default", href: "#/wallet" }, "返回票夹") })
        : errorState(receipt.reason, () => load()));
      return;
    }
    const accessState = access.status === "fulfilled" ? { items: (access.value && access.value.items) || [] } : { error: access.reason };
    const scroll = window.scrollY;
    replace(body, detailView(receipt.value, accessState));
    if (quiet) window.scrollTo(0, scroll);
    shown = true;
  }

  ctx.on("notification", (n) => {
    if (receiptKeysOf(n).has(key)) load({ quiet: true });
  });
  load();
}
