// Receipts of the unit: the worklist (待办), the history (历史), and the detail pane with
// verification, lock / renew / unlock and the reimbursement feedback (报销反馈) form.
// Lock tokens are kept in memory only, per receipt; the API gives them once, at lock time.

import { ApiError, serverNow, unitApi, uuid } from "./api.js";
import {
  $, ACTOR_TYPE_LABELS, fill, formatDateTime, formatDuration, h, ID_TYPE_LABELS, LIFECYCLE_LABELS, money,
  normalizeAmount, OUTCOME_LABELS, parseTime, RECEIPT_KIND_LABELS, REIMBURSEMENT_LABELS, show, statusTone,
  TIMELINE_LABELS, toFen, toIsoWithOffset, toLocalInputValue, VISIT_TYPE_LABELS, fenToAmount,
} from "./dom.js";

const PAGE_SIZE = 20;

let ctx = null;
const locks = new Map(); // receipt key → {token, expiresAt: Date}
const idempotencyKeys = new Map(); // request signature → Idempotency-Key, kept until an answer arrives
const feedbackResults = new Map(); // receipt key → the last feedback answer, shown in the detail
const bookingResults = new Map(); // receipt key → the booking answer (入账), shown in the detail
let selectedKey = null;
let detail = null; // the receipt shown
let detailSeq = 0;
let busy = false; // a lock/unlock/renew/feedback call is under way

const lists = {
  worklist: newList("worklist", "receipt-row"),
  history: newList("history", "history-row"),
};

function newList(name, testid) {
  return { name, testid, items: [], cursor: null, loaded: false, loading: false, seq: 0 };
}

export function init(context) {
  ctx = context;
  $("#worklist-status").addEventListener("change", () => loadList(lists.worklist, true));
  $("#worklist-refresh").addEventListener("click", () => loadList(lists.worklist, true));
  $("#worklist-more").addEventListener("click", () => loadList(lists.worklist, false));
  $("#history-status").addEventListener("change", () => loadList(lists.history, true));
  $("#history-refresh").addEventListener("click", () => loadList(lists.history, true));
  $("#history-more").addEventListener("click", () => loadList(lists.history, false));
  $("#history-search").addEventListener("input", () => renderList(lists.history));
}

/** Forgets everything of the signed-in unit (sign-out, or another unit signs in). */
export function reset() {
  locks.clear();
  idempotencyKeys.clear();
  feedbackResults.clear();
  selectedKey = null;
  detail = null;
  detailSeq += 1;
  busy = false;
  for (const list of Object.values(lists)) {
    Object.assign(list, { items: [], cursor: null, loaded: false, loading: false, seq: list.seq + 1 });
    renderList(list);
    show($(`#${list.name}-empty`), false);
  }
  $("#history-search").value = "";
  const article = $("#receipt-detail");
  fill(article);
  show(article, false);
  show($("#detail-placeholder"), true);
}

// --- lists ------------------------------------------------------------------------------

export function ensureLoaded(name) {
  const list = lists[name];
  if (list && !list.loaded && !list.loading) loadList(list, true);
}

/** Reloads the lists already shown once (after an approval, a lock, a feedback). */
export function refreshLists() {
  for (const list of Object.values(lists)) {
    if (list.loaded) loadList(list, true);
  }
}

async function loadList(list, fresh) {
  const seq = ++list.seq;
  const status = $(`#${list.name}-status`).value;
  const el = $(`#${list.name}`);
  list.loading = true;
  el.setAttribute("aria-busy", "true");
  $(`#${list.name}-more`).disabled = true;
  try {
    const page = await unitApi.listReceipts({ status, cursor: fresh ? undefined : list.cursor, limit: PAGE_SIZE });
    if (seq !== list.seq) return;
    const items = Array.isArray(page.items) ? page.items : [];
    list.items = fresh ? items : list.items.concat(items);
    list.cursor = page.next_cursor || null;
    list.loaded = true;
    renderList(list);
  } catch (error) {
    if (seq !== list.seq) return;
    ctx.showError(error);
  } finally {
    if (seq === list.seq) {
      list.loading = false;
      el.setAttribute("aria-busy", "false");
      $(`#${list.name}-more`).disabled = false;
    }
  }
}

function matchesSearch(receipt, text) {
  if (!text) return true;
  const hay = [receipt.key, receipt.title, receipt.payer?.name, receipt.issuer?.name, receipt.display_status]
    .filter(Boolean).join(" ").toLowerCase();
  return text.toLowerCase().split(/\s+/).every((word) => hay.includes(word));
}

function renderList(list) {
  const el = $(`#${list.name}`);
  const search = list.name === "history" ? $("#history-search").value.trim() : "";
  const items = list.items.filter((r) => matchesSearch(r, search));
  fill(el, items.map((r) => h("li", {}, listRow(r, list))));
  show($(`#${list.name}-empty`), list.loaded && items.length === 0);
  $(`#${list.name}-empty`).textContent = list.items.length && search ? "没有符合筛选条件的票据（可加载更多后再筛选）" : (list.name === "history" ? "暂无记录" : "暂无票据");
  show($(`#${list.name}-more`), Boolean(list.cursor));
}

function listRow(receipt, list) {
  const selected = receipt.key === selectedKey;
  const amounts = [h("span", {}, `票面 ${money(receipt.total_amount)}`)];
  if (list.name === "history" || receipt.reimbursement !== "none") amounts.push(h("span", {}, `已报销 ${money(receipt.reimbursed_amount)}`));
  amounts.push(h("span", {}, `剩余可报 ${money(receipt.remaining_amount)}`));
  return h("button", {
    type: "button",
    class: ["row", selected && "row_selected"],
    dataset: { testid: list.testid, key: receipt.key },
    "aria-current": selected ? "true" : null,
    on: { click: () => openReceipt(receipt.key) },
  },
  h("span", { class: "row__line" },
    h("span", { class: "row__key" }, receipt.key),
    h("span", { class: `badge badge_${statusTone(receipt.display_status)} row__badge` }, receipt.display_status || "")),
  h("span", { class: "row__line row__title" }, [receipt.title, receipt.issuer?.name].filter(Boolean).join(" · ")),
  h("span", { class: "row__line row__sub" },
    h("span", {}, `缴款人 ${receipt.payer?.name || "—"}`),
    h("span", {}, `开票 ${receipt.issue_date || "—"}`),
    ...amounts,
    lockNote(receipt)));
}

function lockNote(receipt) {
  if (!receipt.lock) return null;
  const mine = receipt.lock.unit?.id === ctx.unit?.id;
  return h("span", { class: mine ? "row__lock row__lock_mine" : "row__lock" },
    mine ? "本单位锁定中" : `已被${receipt.lock.unit?.name || "其他单位"}锁定`);
}

function markSelected() {
  for (const list of Object.values(lists)) {
    for (const row of $(`#${list.name}`).querySelectorAll(".row")) {
      const selected = row.dataset.key === selectedKey;
      row.classList.toggle("row_selected", selected);
      if (selected) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }
}

/** Puts a fresh copy of a receipt into the lists that show it. */
function updateInLists(receipt) {
  for (const list of Object.values(lists)) {
    const index = list.items.findIndex((r) => r.key === receipt.key);
    if (index >= 0) {
      list.items[index] = receipt;
      renderList(list);
    }
  }
}

// --- detail ----------------------------------------------------------------------------------

export async function openReceipt(key) {
  selectedKey = key;
  markSelected();
  const article = $("#receipt-detail");
  show($("#detail-placeholder"), false);
  show(article, true);
  if (!detail || detail.key !== key) {
    fill(article, h("p", { class: "detail__loading" }, `正在读取票据 ${key}…`));
  }
  await loadDetail(key);
  if (window.matchMedia("(max-width: 1023px)").matches) article.scrollIntoView({ behavior: "smooth", block: "start" });
}

export function reloadDetail() {
  if (selectedKey) loadDetail(selectedKey);
}

async function loadDetail(key) {
  const seq = ++detailSeq;
  const article = $("#receipt-detail");
  article.setAttribute("aria-busy", "true");
  try {
    const receipt = await unitApi.getReceipt(key);
    if (seq !== detailSeq) return;
    detail = receipt;
    forgetStaleLock(receipt);
    renderDetail(receipt);
    updateInLists(receipt);
    ctx.receiptChanged(receipt);
  } catch (error) {
    if (seq !== detailSeq) return;
    ctx.showError(error);
    if (!detail || detail.key !== key) {
      detail = null;
      fill(article, h("p", { class: "detail__loading" }, `无法查看票据 ${key}：${error.title || error.message}`));
    }
  } finally {
    if (seq === detailSeq) article.setAttribute("aria-busy", "false");
  }
}

/** A token is useless once the receipt is no longer locked by us. */
function forgetStaleLock(receipt) {
  const held = locks.get(receipt.key);
  if (!held) return;
  if (!receipt.lock || receipt.lock.unit?.id !== ctx.unit?.id) locks.delete(receipt.key);
  else if (receipt.lock.expires_at) held.expiresAt = parseTime(receipt.lock.expires_at) || held.expiresAt;
}

function lockedByMe(receipt) {
  return Boolean(receipt.lock && receipt.lock.unit?.id === ctx.unit?.id);
}

function kv(label, value, extra = {}) {
  return [h("dt", {}, label), h("dd", extra, value === null || value === undefined || value === "" ? "—" : value)];
}

function renderDetail(r) {
  const article = $("#receipt-detail");
  const lifecycleLabel = LIFECYCLE_LABELS[r.lifecycle] || r.lifecycle;
  fill(article,
    h("header", { class: "detail__head" },
      h("div", {},
        h("h2", { class: "detail__title", id: "detail-title" }, r.title || "财政电子票据"),
        h("p", { class: "detail__key" }, `票据代码 ${r.code}　票据号码 ${r.number}`)),
      h("div", { class: "detail__head-side" },
        h("span", { class: `badge badge_${statusTone(r.display_status)} badge_lg`, dataset: { testid: "display-status" } }, r.display_status || ""),
        h("button", {
          type: "button", class: "linkbtn", dataset: { testid: "detail-refresh" },
          on: { click: () => loadDetail(r.key) },
        }, "刷新"))),

    r.lifecycle !== "issued"
      ? h("p", { class: "banner banner_bad", role: "note" },
        `该票据${lifecycleLabel}${r.lifecycle_detail ? `（${describeLifecycleDetail(r.lifecycle_detail)}）` : ""}，不能再报销。`)
      : null,

    h("section", { class: "amounts", "aria-label": "金额" },
      amountBox("票面金额", r.total_amount),
      amountBox("已报销", r.reimbursed_amount),
      h("div", { class: "amounts__box amounts__box_main" },
        h("span", { class: "amounts__label", id: "remaining-label" }, "剩余可报销"),
        h("span", { class: "amounts__value" }, "¥",
          h("span", { dataset: { testid: "remaining-amount" }, "aria-describedby": "remaining-label" }, r.remaining_amount ?? "—")))),

    lockSection(r),
    feedbackResultBox(r),
    lockedByMe(r) && locks.has(r.key) ? feedbackForm(r) : null,

    h("section", { class: "detail__section", "aria-labelledby": "sec-info" },
      h("h3", { class: "section-title", id: "sec-info" }, "票据信息"),
      h("dl", { class: "kv" },
        kv("缴款人", r.payer?.name),
        kv("证件", [ID_TYPE_LABELS[r.payer?.id_type] || r.payer?.id_type, r.payer?.id_number].filter(Boolean).join(" ")),
        kv("开票单位", r.issuer?.name),
        kv("开票单位信用代码", r.issuer?.credit_code),
        kv("开票日期", r.issue_date),
        kv("开票时间", formatDateTime(r.issued_at)),
        kv("票据类型", RECEIPT_KIND_LABELS[r.kind] || r.kind),
        kv("校验码", r.check_code, { class: "mono" }),
        kv("票据状态", lifecycleLabel),
        kv("报销进度", REIMBURSEMENT_LABELS[r.reimbursement] || r.reimbursement),
        kv("收款人", r.clerk),
        kv("复核人", r.checker),
        r.remark ? kv("备注", r.remark) : null)),

    visitSection(r.visit),
    paymentsSection(r.payments),
    itemsSection(r.items),
    verificationSection(r),
    ledgerSection(r.ledger),
    bookingSection(r),
    filesSection(r),
    timelineSection(r.timeline));
}

function describeLifecycleDetail(detailValue) {
  if (typeof detailValue === "string") return detailValue;
  if (detailValue && typeof detailValue === "object") {
    return detailValue.reason || Object.values(detailValue).filter((v) => typeof v === "string").join("，");
  }
  return "";
}

function amountBox(label, amount) {
  return h("div", { class: "amounts__box" }, h("span", { class: "amounts__label" }, label), h("span", { class: "amounts__value" }, `¥${amount ?? "—"}`));
}

function visitSection(visit) {
  if (!visit) return null;
  return h("section", { class: "detail__section", "aria-labelledby": "sec-visit" },
    h("h3", { class: "section-title", id: "sec-visit" }, "就诊信息"),
    h("dl", { class: "kv" },
      kv("就诊类型", VISIT_TYPE_LABELS[visit.visit_type] || visit.visit_type),
      visit.visit_date ? kv("就诊日期", visit.visit_date) : null,
      visit.admission_date ? kv("入院日期", visit.admission_date) : null,
      visit.discharge_date ? kv("出院日期", visit.discharge_date) : null,
      visit.hospitalization_days !== undefined ? kv("住院天数", String(visit.hospitalization_days)) : null,
      kv("科室", visit.department),
      visit.medical_record_no ? kv("病历号", visit.medical_record_no) : null,
      visit.inpatient_no ? kv("住院号", visit.inpatient_no) : null,
      kv("医保类型", visit.insurance_type),
      visit.insurance_no ? kv("医保编号", visit.insurance_no) : null,
      visit.institution_type ? kv("医疗机构类型", visit.institution_type) : null));
}

const PAYMENT_LABELS = [
  ["fund_paid", "医保统筹基金支付"],
  ["account_paid", "个人账户支付"],
  ["cash_paid", "个人现金支付"],
  ["other_paid", "其他支付"],
  ["self_pay", "个人自付"],
  ["self_expense", "个人自费"],
];

function paymentsSection(payments) {
  if (!payments) return null;
  return h("section", { class: "detail__section", "aria-labelledby": "sec-pay" },
    h("h3", { class: "section-title", id: "sec-pay" }, "支付构成"),
    h("dl", { class: "kv kv_amounts", dataset: { testid: "payments" } },
      PAYMENT_LABELS.filter(([k]) => payments[k] !== undefined).map(([k, label]) => kv(label, money(payments[k]), { class: "num" }))));
}

function itemsSection(items) {
  if (!Array.isArray(items) || !items.length) return null;
  return h("section", { class: "detail__section", "aria-labelledby": "sec-items" },
    h("h3", { class: "section-title", id: "sec-items" }, `收费项目（${items.length}）`),
    h("div", { class: "table-wrap" },
      h("table", { class: "table", dataset: { testid: "items" } },
        h("thead", {}, h("tr", {}, ["编码", "项目名称", "数量", "单位", "单价", "金额", "备注"].map((t) =>
          h("th", { scope: "col", class: ["数量", "单价", "金额"].includes(t) ? "num" : null }, t)))),
        h("tbody", {}, items.map((item) => h("tr", {},
          h("td", { class: "mono" }, item.code || ""),
          h("td", {}, item.name || ""),
          h("td", { class: "num" }, item.quantity || ""),
          h("td", {}, item.unit || ""),
          h("td", { class: "num" }, item.rate || ""),
          h("td", { class: "num" }, item.amount || ""),
          h("td", {}, item.remark || "")))))));
}

function verificationSection(r) {
  const result = h("p", { class: "verify__result", dataset: { testid: "verify-result" }, role: "status" });
  const button = h("button", {
    type: "button", class: "weui-btn weui-btn_default weui-btn_mini", dataset: { testid: "verify-button" },
  }, "联网查验");
  button.addEventListener("click", async () => {
    button.disabled = true;
    result.textContent = "正在查验…";
    try {
      const answer = await unitApi.verify([{ code: r.code, number: r.number, check_code: r.check_code, total_amount: r.total_amount }]);
      const item = answer.items?.[0];
      if (item?.authentic) {
        result.textContent = `查验通过：票据真实有效，当前状态“${item.display_status}”，剩余可报销 ${money(item.remaining_amount)}（${formatDateTime(answer.checked_at)}）`;
        result.className = "verify__result verify__result_ok";
      } else {
        result.textContent = "查验未通过：平台未找到与票面要素一致的票据";
        result.className = "verify__result verify__result_bad";
      }
    } catch (error) {
      result.textContent = "";
      ctx.showError(error);
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "detail__section", "aria-labelledby": "sec-verify" },
    h("h3", { class: "section-title", id: "sec-verify" }, "票据验真"),
    h("dl", { class: "kv" },
      kv("开票单位签名", r.signature ? `${r.signature.alg} 已签名` : "无"),
      kv("财政监管签名", r.supervision_signature ? `${r.supervision_signature.alg} · 密钥 ${r.supervision_signature.kid || "—"}` : "无")),
    h("div", { class: "btn-row" }, button),
    result);
}

function ledgerSection(ledger) {
  const entries = Array.isArray(ledger) ? ledger : [];
  return h("section", { class: "detail__section", "aria-labelledby": "sec-ledger" },
    h("h3", { class: "section-title", id: "sec-ledger" }, "报销台账"),
    entries.length
      ? h("div", { class: "table-wrap" },
        h("table", { class: "table", dataset: { testid: "ledger" } },
          h("thead", {}, h("tr", {}, ["报销单位", "结果", "金额", "报销时间", "凭证号", "原因"].map((t) =>
            h("th", { scope: "col", class: t === "金额" ? "num" : null }, t)))),
          h("tbody", {}, entries.map((e) => h("tr", { class: e.unit?.id === ctx.unit?.id ? "table__mine" : null },
            h("td", {}, e.unit?.name || "—"),
            h("td", {}, OUTCOME_LABELS[e.outcome] || e.outcome || ""),
            h("td", { class: "num" }, money(e.amount)),
            h("td", {}, formatDateTime(e.reimbursed_at)),
            h("td", {}, e.reference || ""),
            h("td", {}, e.reason || ""))))))
      : h("p", { class: "muted" }, "尚无报销记录"));
}

function timelineSection(timeline) {
  const entries = Array.isArray(timeline) ? timeline : [];
  if (!entries.length) return null;
  return h("details", { class: "detail__section timeline" },
    h("summary", { class: "section-title" }, `票据时间线（${entries.length}）`),
    h("ol", { class: "timeline__list" }, entries.map((e) => {
      const who = [ACTOR_TYPE_LABELS[e.actor?.type] || e.actor?.type, e.actor?.name].filter(Boolean).join(" ");
      const extra = [];
      if (e.data?.unit?.name && e.actor?.type !== "unit") extra.push(e.data.unit.name);
      if (e.data?.purpose) extra.push(e.data.purpose);
      if (e.data?.amount) extra.push(money(e.data.amount));
      if (e.reason) extra.push(e.reason);
      return h("li", { class: "timeline__item" },
        h("span", { class: "timeline__time" }, formatDateTime(e.at)),
        h("span", { class: "timeline__event" }, TIMELINE_LABELS[e.event] || e.event),
        h("span", { class: "timeline__who" }, who),
        extra.length ? h("span", { class: "timeline__extra" }, extra.join(" · ")) : null);
    })));
}

// --- booking (入账) and the layout file (版式文件) ---------------------------------------------

function myReimbursements(r) {
  return (Array.isArray(r.ledger) ? r.ledger : []).filter((e) => e.outcome === "reimbursed" && e.unit?.id === ctx.unit?.id);
}

function myBookings(r) {
  return (Array.isArray(r.timeline) ? r.timeline : []).filter((e) => e.event === "receipt.booked" && e.data?.unit?.id === ctx.unit?.id);
}

function bookingSection(r) {
  // Each of this unit's reimbursements is booked once (DESIGN §10 revised); other units book their own.
  const paid = myReimbursements(r);
  if (!paid.length) return null;
  const title = h("h3", { class: "section-title", id: "sec-booking" }, "入账");
  const mine = bookingResults.get(r.key);
  if (mine) {
    return h("section", { class: "detail__section", "aria-labelledby": "sec-booking" }, title,
      h("p", { class: "banner banner_ok", role: "status", dataset: { testid: "booking-result" } },
        `已入账：凭证号 ${mine.voucher_no}，入账日期 ${mine.booked_on}，金额 ${money(mine.amount)}`));
  }
  const booked = myBookings(r);
  if (booked.length >= paid.length) {
    const vouchers = booked.map((e) => e.data?.voucher_no).filter(Boolean).join("、");
    return h("section", { class: "detail__section", "aria-labelledby": "sec-booking" }, title,
      h("p", { class: "banner banner_warn", role: "note", dataset: { testid: "booking-result" } },
        `本单位对该票据的报销已入账${vouchers ? `（凭证号 ${vouchers}）` : ""}，每笔报销只能入账一次。`));
  }
  const next = paid[booked.length];
  const voucher = h("input", {
    id: "booking-voucher", class: "input", maxlength: "64", autocomplete: "off", required: true,
    placeholder: "记账凭证号", dataset: { testid: "booking-voucher" },
  });
  const amount = h("input", {
    id: "booking-amount", class: "input num", inputmode: "decimal", autocomplete: "off",
    value: next.amount || "", dataset: { testid: "booking-amount" },
  });
  const when = h("input", {
    id: "booking-time", class: "input", type: "datetime-local", step: "1",
    value: toLocalInputValue(new Date()), max: toLocalInputValue(new Date(Date.now() + 60000)), dataset: { testid: "booking-time" },
  });
  const submit = h("button", { type: "submit", class: "weui-btn weui-btn_primary weui-btn_mini", dataset: { testid: "booking-submit" } }, "登记入账");
  const form = h("form", { class: "detail__section", novalidate: true, dataset: { testid: "booking-form" }, "aria-labelledby": "sec-booking" },
    title,
    h("div", { class: "feedback__grid" },
      h("div", { class: "field" }, h("label", { for: "booking-voucher" }, "凭证号"), voucher),
      h("div", { class: "field" }, h("label", { for: "booking-amount" }, "入账金额（元）"), amount),
      h("div", { class: "field" }, h("label", { for: "booking-time" }, "入账时间"), when)),
    h("div", { class: "btn-row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const voucherNo = voucher.value.trim();
    if (!voucherNo) {
      ctx.showError("请填写记账凭证号");
      voucher.focus();
      return;
    }
    const normalized = normalizeAmount(amount.value);
    if (normalized === null || toFen(normalized) <= 0) {
      ctx.showError("入账金额不正确：须大于 0，最多两位小数");
      amount.focus();
      return;
    }
    const at = when.value ? new Date(when.value) : new Date();
    if (Number.isNaN(at.getTime())) {
      ctx.showError("入账时间格式不正确");
      when.focus();
      return;
    }
    const body = { voucher_no: voucherNo, amount: normalized, booked_at: toIsoWithOffset(at) };
    busy = true;
    submit.disabled = true;
    try {
      const answer = await idempotent(`booking ${r.key} ${JSON.stringify(body)}`, (key) => unitApi.book(r.key, body, key));
      bookingResults.set(r.key, answer);
      ctx.hideError();
      ctx.notify(`已入账：凭证号 ${answer.voucher_no}`);
      await loadDetail(r.key);
    } catch (error) {
      ctx.showError(error instanceof ApiError ? error.title : "入账失败，请稍后重试");
      if (error instanceof ApiError && error.code === "already_booked") await loadDetail(r.key);
    } finally {
      busy = false;
      if (submit.isConnected) submit.disabled = false;
    }
  });
  return form;
}

function filesSection(r) {
  return h("section", { class: "detail__section", "aria-label": "版式文件和数据文件" },
    h("div", { class: "btn-row" },
      downloadButton({ label: "下载版式文件", testid: "layout-download", fetchFile: () => unitApi.layoutFile(r.key), filename: `${r.key}.pdf`, fallback: "版式文件下载失败，请稍后重试" }),
      downloadButton({ label: "下载数据文件", testid: "data-file-download", fetchFile: () => unitApi.dataFile(r.key), filename: `${r.key}.xml`, fallback: "数据文件下载失败，请稍后重试" }),
      h("span", { class: "muted" }, "版式文件（PDF）和数据文件（XML）均由开票地节点签章")));
}

function downloadButton({ label, testid, fetchFile, filename, fallback }) {
  const button = h("button", { type: "button", class: "weui-btn weui-btn_default weui-btn_mini", dataset: { testid } }, label);
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
      ctx.showError(error instanceof ApiError ? error.title : fallback);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// --- lock --------------------------------------------------------------------------------

function lockSection(r) {
  const section = h("section", { class: "detail__section lock", "aria-labelledby": "sec-lock", dataset: { testid: "lock-section" } },
    h("h3", { class: "section-title", id: "sec-lock" }, "报销锁定"));
  const remainingFen = toFen(r.remaining_amount) ?? 0;
  const reimbursable = r.lifecycle === "issued" && remainingFen > 0;

  if (lockedByMe(r)) {
    const held = locks.get(r.key);
    const until = parseTime(r.lock.expires_at);
    section.append(h("p", { class: "lock__state lock__state_mine", dataset: { testid: "lock-state" } },
      `本单位已锁定，锁定至 ${formatDateTime(until)}`,
      h("span", { class: "lock__left", id: "lock-left" }, lockLeftText(until))));
    if (held) {
      const reason = h("input", {
        id: "unlock-reason", class: "input", maxlength: "500", autocomplete: "off",
        placeholder: "如：材料不全，市民改日办理", dataset: { testid: "unlock-reason" },
      });
      section.append(
        h("div", { class: "btn-row" },
          actionButton("续期锁定", "renew-button", "default", () => renewLock(r)),
          h("span", { class: "btn-row__gap" })),
        h("div", { class: "field field_inline" },
          h("label", { for: "unlock-reason" }, "解除锁定原因（选填）"),
          reason,
          actionButton("解除锁定", "unlock-button", "warn", () => unlockReceipt(r, reason.value.trim()))));
    } else {
      section.append(h("p", { class: "banner banner_warn", role: "note" },
        "本单位已锁定该票据，但本页面没有它的锁定凭证（页面刷新过，或在其他终端锁定）。"
        + "请在锁定它的终端完成报销反馈，或等锁定到期后重新锁定。"));
    }
    return section;
  }

  if (r.lock) {
    section.append(h("p", { class: "lock__state lock__state_other", dataset: { testid: "lock-state" } },
      `已被${r.lock.unit?.name || "其他单位"}锁定（至 ${formatDateTime(r.lock.expires_at)}），本单位暂不能办理。`));
  } else if (r.lifecycle !== "issued") {
    section.append(h("p", { class: "lock__state", dataset: { testid: "lock-state" } }, "票据已失效，不能锁定。"));
  } else if (remainingFen <= 0) {
    section.append(h("p", { class: "lock__state", dataset: { testid: "lock-state" } }, "票据已全额报销，无需锁定。"));
  } else {
    section.append(h("p", { class: "lock__state", dataset: { testid: "lock-state" } },
      "锁定后其他单位不能同时报销该票据；报销反馈提交后自动解锁。"));
  }
  if (reimbursable) {
    section.append(h("div", { class: "btn-row" },
      actionButton(r.lock ? "尝试锁定" : "锁定并办理报销", "lock-button", r.lock ? "default" : "primary", () => lockReceipt(r))));
  }
  return section;
}

function lockLeftText(until) {
  if (!until) return "";
  const seconds = (until.getTime() - serverNow()) / 1000;
  return seconds > 0 ? `（剩余 ${formatDuration(seconds)}）` : "（已到期）";
}

function actionButton(label, testid, tone, handler) {
  const button = h("button", {
    type: "button", class: `weui-btn weui-btn_mini weui-btn_${tone}`, dataset: { testid },
  }, label);
  button.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    try {
      await handler();
    } finally {
      busy = false;
      if (button.isConnected) button.disabled = false;
    }
  });
  return button;
}

/** The same Idempotency-Key for a retry of the very same request after a network failure. */
async function idempotent(signature, send) {
  let key = idempotencyKeys.get(signature);
  if (!key) {
    key = uuid();
    idempotencyKeys.set(signature, key);
  }
  try {
    const answer = await send(key);
    idempotencyKeys.delete(signature);
    return answer;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 0)) idempotencyKeys.delete(signature);
    throw error;
  }
}

/** After a refusal about the lock itself, the receipt's state changed: show the new one. */
const STATE_CHANGED_CODES = new Set([
  "receipt_locked", "already_locked", "lock_ended", "lock_token_invalid", "receipt_not_reimbursable",
  "fully_reimbursed", "receipt_not_found", "unit_not_active",
]);

function afterLockError(r, error) {
  ctx.showError(error);
  if (!(error instanceof ApiError)) return;
  if (["lock_ended", "lock_token_invalid"].includes(error.code)) locks.delete(r.key);
  if (STATE_CHANGED_CODES.has(error.code)) loadDetail(r.key);
}

async function lockReceipt(r) {
  try {
    const answer = await idempotent(`lock ${r.key}`, (key) => unitApi.lock(r.key, key));
    locks.set(r.key, { token: answer.lock_token, expiresAt: parseTime(answer.expires_at) });
    ctx.hideError();
    feedbackResults.delete(r.key);
    ctx.notify(`已锁定票据 ${r.key}，锁定至 ${formatDateTime(answer.expires_at)}`);
    await loadDetail(r.key);
    focusTestId("feedback-amount");
    ctx.refreshLists();
  } catch (error) {
    afterLockError(r, error);
  }
}

async function renewLock(r) {
  const held = locks.get(r.key);
  if (!held) return;
  try {
    const answer = await idempotent(`renew ${r.key} ${held.token} ${Date.now()}`, (key) => unitApi.renew(r.key, { lock_token: held.token }, key));
    held.expiresAt = parseTime(answer.expires_at) || held.expiresAt;
    ctx.hideError();
    ctx.notify(`锁定已续期至 ${formatDateTime(answer.expires_at)}`);
    await loadDetail(r.key);
  } catch (error) {
    afterLockError(r, error);
  }
}

async function unlockReceipt(r, reason) {
  const held = locks.get(r.key);
  if (!held) return;
  const body = { lock_token: held.token };
  if (reason) body.reason = reason;
  try {
    await idempotent(`unlock ${r.key} ${JSON.stringify(body)}`, (key) => unitApi.unlock(r.key, body, key));
    ctx.hideError();
    locks.delete(r.key);
    ctx.notify(`已解除票据 ${r.key} 的锁定`);
    await loadDetail(r.key);
    ctx.refreshLists();
  } catch (error) {
    afterLockError(r, error);
  }
}

export function tick() {
  const left = document.getElementById("lock-left");
  if (left && detail?.lock?.expires_at) left.textContent = lockLeftText(parseTime(detail.lock.expires_at));
  if (detail && locks.has(detail.key)) {
    const held = locks.get(detail.key);
    if (held.expiresAt && held.expiresAt.getTime() < serverNow() - 1000) {
      locks.delete(detail.key);
      ctx.showError("锁定已到期，请重新锁定后再反馈");
      loadDetail(detail.key);
    }
  }
}

function focusTestId(testid) {
  const el = document.querySelector(`#receipt-detail [data-testid="${testid}"]`);
  if (el && !el.disabled) el.focus({ preventScroll: false });
}

// --- feedback ---------------------------------------------------------------------------

function feedbackResultBox(r) {
  const result = feedbackResults.get(r.key);
  if (!result) return null;
  const text = result.outcome === "reimbursed"
    ? `已提交报销反馈：本次报销 ${money(result.amount)}，累计已报销 ${money(result.reimbursed_amount)}，剩余可报销 ${money(result.remaining_amount)}。`
    : "已提交拒绝报销反馈，票据已解锁。";
  return h("p", { class: `banner ${result.outcome === "reimbursed" ? "banner_ok" : "banner_warn"}`, role: "status", dataset: { testid: "feedback-result" } },
    text, h("span", { class: "muted" }, `（${formatDateTime(result.reimbursed_at)}${result.ledger_entry_id ? `，台账号 ${result.ledger_entry_id}` : ""}）`));
}

function feedbackForm(r) {
  const remaining = r.remaining_amount;
  const remainingFen = toFen(remaining) ?? 0;
  const outcome = h("select", { id: "feedback-outcome", dataset: { testid: "feedback-outcome" } },
    h("option", { value: "reimbursed" }, "已报销"),
    h("option", { value: "rejected" }, "拒绝报销"));
  const amount = h("input", {
    id: "feedback-amount", class: "input num", inputmode: "decimal", autocomplete: "off", value: remaining,
    "aria-describedby": "feedback-amount-hint feedback-amount-msg", dataset: { testid: "feedback-amount" },
  });
  const amountMsg = h("p", { class: "field__msg", id: "feedback-amount-msg", "aria-live": "polite" });
  const when = h("input", {
    id: "feedback-time", class: "input", type: "datetime-local", step: "1",
    value: toLocalInputValue(new Date()), max: toLocalInputValue(new Date(Date.now() + 60000)), dataset: { testid: "feedback-time" },
  });
  // Untouched, the time is the moment of submission, not of rendering.
  when.addEventListener("input", () => { when.dataset.touched = "true"; });
  const reference = h("input", {
    id: "feedback-reference", class: "input", maxlength: "100", autocomplete: "off",
    placeholder: "报销凭证号 / 理赔案号", dataset: { testid: "feedback-reference" },
  });
  const reason = h("textarea", {
    id: "feedback-reason", class: "input", maxlength: "500", rows: "2",
    placeholder: "拒绝报销时必填", "aria-describedby": "feedback-reason-msg", dataset: { testid: "feedback-reason" },
  });
  const reasonMsg = h("p", { class: "field__msg", id: "feedback-reason-msg", "aria-live": "polite" });
  const reasonLabel = h("label", { for: "feedback-reason" }, "原因", h("span", { class: "field__opt", id: "feedback-reason-opt" }, "（选填）"));
  const submit = h("button", { type: "submit", class: "weui-btn weui-btn_primary weui-btn_mini", dataset: { testid: "feedback-submit" } }, "提交报销反馈");

  const setMsg = (input, msgEl, message) => {
    msgEl.textContent = message || "";
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };

  const syncOutcome = () => {
    const rejected = outcome.value === "rejected";
    amount.disabled = rejected;
    amount.value = rejected ? "" : (amount.value || remaining);
    reason.required = rejected;
    $("#feedback-reason-opt", reasonLabel).textContent = rejected ? "（必填）" : "（选填）";
    setMsg(amount, amountMsg, "");
    setMsg(reason, reasonMsg, "");
    submit.textContent = rejected ? "提交拒绝报销" : "提交报销反馈";
  };
  outcome.addEventListener("change", syncOutcome);

  // Tells at once when the amount is malformed or beyond the remainder.
  amount.addEventListener("input", () => {
    const normalized = normalizeAmount(amount.value);
    if (!amount.value.trim()) setMsg(amount, amountMsg, "");
    else if (normalized === null) setMsg(amount, amountMsg, "金额格式不正确：最多两位小数，如 356.80");
    else if (toFen(normalized) > remainingFen) setMsg(amount, amountMsg, `超过剩余可报销金额 ${money(remaining)}`);
    else setMsg(amount, amountMsg, "");
  });
  amount.addEventListener("blur", () => {
    const normalized = normalizeAmount(amount.value);
    if (normalized !== null && amount.value.trim()) amount.value = normalized;
  });

  const form = h("form", { class: "detail__section feedback", novalidate: true, dataset: { testid: "feedback-form" }, "aria-labelledby": "sec-feedback" },
    h("h3", { class: "section-title", id: "sec-feedback" }, "报销反馈"),
    h("div", { class: "feedback__grid" },
      h("div", { class: "field" }, h("label", { for: "feedback-outcome" }, "报销结果"), outcome),
      h("div", { class: "field" },
        h("label", { for: "feedback-amount" }, "报销金额（元）"),
        amount,
        h("p", { class: "field__hint", id: "feedback-amount-hint" }, `本票剩余可报销 ${money(remaining)}，不可超过`),
        amountMsg),
      h("div", { class: "field" }, h("label", { for: "feedback-time" }, "报销时间"), when),
      h("div", { class: "field" }, h("label", { for: "feedback-reference" }, "凭证号", h("span", { class: "field__opt" }, "（选填）")), reference),
      h("div", { class: "field field_wide" }, reasonLabel, reason, reasonMsg)),
    h("div", { class: "btn-row" }, submit));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const body = validateFeedback({ r, outcome, amount, amountMsg, when, reference, reason, reasonMsg, setMsg, remainingFen, remaining });
    if (!body) return;
    busy = true;
    submit.disabled = true;
    try {
      const answer = await idempotent(`feedback ${r.key} ${JSON.stringify(body)}`, (key) => unitApi.feedback(r.key, body, key));
      locks.delete(r.key);
      feedbackResults.set(r.key, answer);
      ctx.hideError();
      ctx.notify(answer.outcome === "reimbursed"
        ? `报销反馈已提交：${money(answer.amount)}，剩余可报销 ${money(answer.remaining_amount)}`
        : "拒绝报销已提交，票据已解锁");
      await loadDetail(r.key);
      ctx.refreshLists();
    } catch (error) {
      if (error instanceof ApiError && error.code === "amount_exceeds_remaining" && error.problem?.remaining_amount) {
        setMsg(amount, amountMsg, `超过剩余可报销金额 ${money(error.problem.remaining_amount)}`);
      }
      afterLockError(r, error);
    } finally {
      busy = false;
      if (submit.isConnected) submit.disabled = false;
    }
  });

  return form;
}

/** The feedback body, or null after saying what is wrong (inline and in the error toast). */
function validateFeedback({ r, outcome, amount, amountMsg, when, reference, reason, reasonMsg, setMsg, remainingFen, remaining }) {
  const held = locks.get(r.key);
  if (!held) {
    ctx.showError("本页面没有该票据的锁定凭证，请重新锁定");
    return null;
  }
  const fail = (input, msgEl, message, toastTitle) => {
    setMsg(input, msgEl, message);
    ctx.showError(toastTitle || message);
    input.focus();
    return null;
  };
  const body = { lock_token: held.token, outcome: outcome.value };
  const reasonText = reason.value.trim();
  const timeMsg = { textContent: "" };
  if (outcome.value === "reimbursed") {
    const normalized = normalizeAmount(amount.value);
    if (normalized === null) return fail(amount, amountMsg, "金额格式不正确：最多两位小数，如 356.80", "报销金额不正确");
    const fen = toFen(normalized);
    if (fen <= 0) return fail(amount, amountMsg, "报销金额必须大于 0", "报销金额不正确");
    if (fen > remainingFen) {
      return fail(amount, amountMsg, `不能超过剩余可报销金额 ${money(remaining)}`, "报销金额超过票据剩余可报销金额");
    }
    amount.value = normalized;
    body.amount = fenToAmount(fen);
  } else if (!reasonText) {
    return fail(reason, reasonMsg, "拒绝报销时必须填写原因", "拒绝报销时必须填写原因");
  }
  setMsg(amount, amountMsg, "");
  setMsg(reason, reasonMsg, "");
  if (when.value && when.dataset.touched) {
    const at = new Date(when.value);
    if (Number.isNaN(at.getTime())) return fail(when, timeMsg, "报销时间格式不正确");
    if (at.getTime() > Date.now() + 60000) return fail(when, timeMsg, "报销时间不能晚于当前时间");
    body.reimbursed_at = toIsoWithOffset(at);
  } else {
    body.reimbursed_at = toIsoWithOffset(new Date());
  }
  const ref = reference.value.trim();
  if (ref) body.reference = ref;
  if (reasonText) body.reason = reasonText;
  return body;
}
