// DOM building, escaping, money and time helpers for the unit counter console.
// Everything that comes from the API is inserted as text (textContent / attributes),
// never parsed as HTML; escapeHtml is there for the rare string that must be markup-safe.

/** Escapes &, <, >, " and ' so a string is safe inside HTML text or a quoted attribute. */
export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]
  ));
}

/**
 * h("div", {class: "x", dataset: {testid: "y"}}, "text", child, [more]) → Element.
 * Strings become text nodes; null/undefined/false children are skipped.
 * Attributes named on* are refused (CSP forbids inline handlers anyway); use `on: {click: fn}`.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (name === "text") el.textContent = value;
    else if (/^on/i.test(name)) throw new Error(`inline handler attribute ${name} is not allowed`);
    else if (name === "style") throw new Error("style attributes are not allowed (CSP)");
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces every child of `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function byTestId(id, root = document) {
  return root.querySelector(`[data-testid="${id}"]`);
}

export function show(el, visible = true) {
  if (el) el.hidden = !visible;
}

// --- money: decimal strings with exactly two places, handled as integer fen -------------

const AMOUNT_RE = /^[0-9]{1,13}\.[0-9]{2}$/;
const LOOSE_AMOUNT_RE = /^[0-9]{1,13}(\.[0-9]{0,2})?$/;

export function isAmount(value) {
  return AMOUNT_RE.test(value ?? "");
}

/** "356.8" → "356.80", "12" → "12.00"; null when not a non-negative amount with ≤ 2 decimals. */
export function normalizeAmount(value) {
  const text = String(value ?? "").trim().replace(/[,，\s]/g, "").replace(/^[¥￥]/, "");
  if (!LOOSE_AMOUNT_RE.test(text)) return null;
  const [int, frac = ""] = text.split(".");
  return `${String(Number(int))}.${(frac + "00").slice(0, 2)}`;
}

/** "356.80" → 35680 (exact: 13 integer digits stay below 2^53). */
export function toFen(amount) {
  if (!isAmount(amount)) return null;
  const [int, frac] = amount.split(".");
  return Number(int) * 100 + Number(frac);
}

export function fenToAmount(fen) {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** "10790.50" → "¥10,790.50" (grouping done on the string, no floating point). */
export function money(amount) {
  if (amount === null || amount === undefined || amount === "") return "—";
  const text = String(amount);
  const match = /^(-?)([0-9]+)(\.[0-9]+)?$/.exec(text);
  if (!match) return text;
  return `${match[1]}¥${match[2].replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${match[3] || ""}`;
}

// --- time ---------------------------------------------------------------------------

/** Parses an API time. Times without an offset are UTC (the API dumps naive UTC). */
export function parseTime(value) {
  if (!value) return null;
  if (value instanceof Date) return value;
  let text = String(value).trim();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) text += "Z";
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** Local "2026-11-24 15:00:02". */
export function formatDateTime(value, { seconds = true } = {}) {
  const d = parseTime(value);
  if (!d) return "—";
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return seconds ? `${base}:${pad(d.getSeconds())}` : base;
}

/** The value of an <input type="datetime-local" step="1"> for a Date, in local time. */
export function toLocalInputValue(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** ISO 8601 with the local offset: "2026-11-24T15:00:02+08:00". */
export function toIsoWithOffset(d) {
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${toLocalInputValue(d)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Seconds → "4:05" (or "1:02:03"); negative → "0:00". */
export function formatCountdown(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return hours ? `${hours}:${pad(minutes)}:${pad(rest)}` : `${minutes}:${pad(rest)}`;
}

/** A coarse Chinese duration: "6天23小时", "2小时5分钟", "4分钟". */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days) return `${days}天${hours}小时`;
  if (hours) return `${hours}小时${minutes}分钟`;
  if (minutes) return `${minutes}分钟`;
  return `${s}秒`;
}

// --- labels -------------------------------------------------------------------------

export const UNIT_KIND_LABELS = {
  social_insurance: "医保经办机构",
  commercial_insurer: "商业保险公司",
  employer: "用人单位",
  other: "其他报销单位",
};

export const UNIT_STATUS_LABELS = { active: "正常", frozen: "已冻结", cancelled: "已注销" };

export const LIFECYCLE_LABELS = { issued: "正常", red_reversed: "已冲红", paper_exchanged: "已换开", voided: "已作废" };

export const REIMBURSEMENT_LABELS = { none: "未报销", partial: "部分报销", full: "已全额报销" };

export const RECEIPT_KIND_LABELS = { outpatient: "门诊", inpatient: "住院" };

export const VISIT_TYPE_LABELS = {
  outpatient: "门诊", emergency: "急诊", inpatient: "住院", physical_exam: "体检", other: "其他",
};

export const ID_TYPE_LABELS = {
  resident_id: "居民身份证", passport: "护照", hk_macao_permit: "港澳居民来往内地通行证",
  taiwan_permit: "台湾居民来往大陆通行证", foreigner_permanent_residence: "外国人永久居留身份证",
  military_id: "军官证", organization: "单位", other: "其他证件",
};

export const OUTCOME_LABELS = { reimbursed: "已报销", rejected: "拒绝报销" };

export const TIMELINE_LABELS = {
  "receipt.issued": "开具",
  "receipt.authorized": "授权给报销单位",
  "receipt.locked": "报销锁定",
  "receipt.unlocked": "解除锁定",
  "receipt.lock_expired": "锁定到期自动解锁",
  "receipt.reimbursed": "报销",
  "receipt.booked": "入账",
  "receipt.reimbursement_rejected": "报销被拒",
  "receipt.red_reversed": "冲红",
  "receipt.paper_exchanged": "换开纸质票据",
  "receipt.voided": "作废",
};

export const ACTOR_TYPE_LABELS = { issuer: "开票单位", citizen: "缴款人", unit: "报销单位", system: "系统", operator: "财政管理员" };

/** A CSS modifier for a display status badge. */
export function statusTone(displayStatus) {
  switch (displayStatus) {
    case "已授权": return "info";
    case "报销中": return "warn";
    case "部分报销": return "partial";
    case "已报销": return "done";
    case "已冲红": case "已换开": case "已作废": return "bad";
    default: return "plain";
  }
}
