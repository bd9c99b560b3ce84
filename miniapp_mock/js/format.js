// Display formatting: money from decimal strings (no float arithmetic), dates and times in
// Chinese, masked identity numbers, and the Chinese labels of the API's codes.

const TIME_ZONE = "Asia/Shanghai"; // 北京时间: receipts, locks and claims are all on it

/** "1234.5" | "1234.50" | "-3.00" → "¥1,234.50"; anything else → "—". */
export function money(value, { sign = false } = {}) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value).trim();
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return "—";
  const [, minus, intPart, frac = ""] = m;
  const cents = (frac + "00").slice(0, 2);
  const grouped = intPart.replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const prefix = minus ? "-" : sign ? "+" : "";
  return `${prefix}¥${grouped}.${cents}`;
}

/** Decimal string → integer fen as BigInt (for comparisons only, never displayed). */
export function fen(value) {
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(String(value ?? "").trim());
  if (!m) return 0n;
  const n = BigInt(m[2]) * 100n + BigInt(((m[3] || "") + "00").slice(0, 2));
  return m[1] ? -n : n;
}

/** "2025-11-05" → "2025年11月5日" (a calendar date: no time zone involved). */
export function date(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(iso ?? ""));
  if (!m) return iso ? String(iso) : "—";
  return `${m[1]}年${Number(m[2])}月${Number(m[3])}日`;
}

/** "2025-11-05" → {key: "2025-11", label: "2025年11月"} */
export function month(iso) {
  const m = /^(\d{4})-(\d{2})/.exec(String(iso ?? ""));
  if (!m) return { key: "unknown", label: "日期未知" };
  return { key: `${m[1]}-${m[2]}`, label: `${m[1]}年${Number(m[2])}月` };
}

/** Parses an ISO 8601 date-time; one without an offset is taken as UTC (the server stores UTC). */
export function parseDateTime(iso) {
  if (!iso) return null;
  let text = String(iso).trim();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) text += "Z";
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? null : d;
}

let partsFormatter = null;
function formatter() {
  if (partsFormatter) return partsFormatter;
  const options = { year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  try {
    partsFormatter = new Intl.DateTimeFormat("zh-CN", { ...options, timeZone: TIME_ZONE });
  } catch {
    partsFormatter = new Intl.DateTimeFormat("zh-CN", options);
  }
  return partsFormatter;
}

function parts(d) {
  const out = {};
  for (const p of formatter().formatToParts(d)) out[p.type] = p.value;
  return out;
}

/** ISO date-time → "2025年11月5日 10:06" (北京时间). */
export function dateTime(iso) {
  const d = parseDateTime(iso);
  if (!d) return iso ? String(iso) : "—";
  const p = parts(d);
  return `${p.year}年${Number(p.month)}月${Number(p.day)}日 ${p.hour}:${p.minute}`;
}

/** Short form for lists: today → "10:06", this year → "11月5日 10:06", else full. */
export function relativeTime(iso, now = new Date()) {
  const d = parseDateTime(iso);
  if (!d) return "—";
  const p = parts(d);
  const n = parts(now);
  if (p.year === n.year && p.month === n.month && p.day === n.day) return `今天 ${p.hour}:${p.minute}`;
  if (p.year === n.year) return `${Number(p.month)}月${Number(p.day)}日 ${p.hour}:${p.minute}`;
  return `${p.year}年${Number(p.month)}月${Number(p.day)}日`;
}

/** Seconds left until an ISO date-time (negative when past). */
export function secondsUntil(iso, now = Date.now()) {
  const d = parseDateTime(iso);
  return d ? Math.floor((d.getTime() - now) / 1000) : 0;
}

export function countdown(seconds) {
  const s = Math.max(0, seconds);
  const mm = String(Math.floor(s / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return `${mm}:${ss}`;
}

/** "460200199001011234" → "460***********1234", whatever the server sent. */
export function maskId(value) {
  const text = String(value ?? "");
  if (!text) return "—";
  if (text.length >= 8) return text.slice(0, 3) + "*".repeat(text.length - 7) + text.slice(-4);
  if (text.length > 2) return "*".repeat(text.length - 2) + text.slice(-2);
  return "*".repeat(text.length);
}

export function maskPhone(value) {
  const text = String(value ?? "");
  if (!text) return "未绑定";
  if (text.length >= 7) return text.slice(0, 3) + "*".repeat(text.length - 7) + text.slice(-4);
  return maskId(text);
}

/** A chat account id: only the last 4 characters shown ("****a1b2"), at most 8 stars so the length stays hidden. */
export function maskTail(value, keep = 4) {
  const text = String(value ?? "");
  if (!text) return "—";
  if (text.length <= keep) return "*".repeat(keep);
  return "*".repeat(Math.min(text.length - keep, 8)) + text.slice(-keep);
}

/** Shortens a long opaque value (signature) for display. */
export function ellipsis(value, head = 10, tail = 6) {
  const text = String(value ?? "");
  return text.length > head + tail + 1 ? `${text.slice(0, head)}…${text.slice(-tail)}` : text;
}

export const ID_TYPES = {
  resident_id: "居民身份证", passport: "护照", hk_macao_permit: "港澳居民来往内地通行证", taiwan_permit: "台湾居民来往大陆通行证",
  foreigner_permanent_residence: "外国人永久居留身份证", military_id: "军官证", organization: "统一社会信用代码", other: "其他证件",
};

export const RECEIPT_KINDS = { outpatient: "门诊", inpatient: "住院" };

export const VISIT_TYPES = { outpatient: "门诊", emergency: "急诊", inpatient: "住院", physical_exam: "体检", other: "其他" };

export const PAYMENT_LABELS = [
  ["fund_paid", "医保统筹基金支付"],
  ["account_paid", "个人账户支付"],
  ["cash_paid", "个人现金支付"],
  ["other_paid", "其他支付"],
  ["self_pay", "个人自付"],
  ["self_expense", "个人自费"],
];

export const VISIT_FIELDS = [
  ["visit_type", "就诊类型", (v) => VISIT_TYPES[v] || v],
  ["visit_date", "就诊日期", date],
  ["admission_date", "入院日期", date],
  ["discharge_date", "出院日期", date],
  ["hospitalization_days", "住院天数", (v) => `${v}天`],
  ["department", "科室"],
  ["medical_record_no", "门诊号/病历号"],
  ["inpatient_no", "住院号"],
  ["insurance_type", "医保类型"],
  ["insurance_no", "医保编号"],
  ["institution_type", "医疗机构类型"],
  ["gender", "性别"],
  ["age", "年龄", (v) => `${v}岁`],
];

/** The wallet's `status` filter values (WalletArgsSchema) and their display statuses. */
export const STATUS_FILTERS = [
  ["issued", "正常"], ["authorized", "已授权"], ["locked", "报销中"], ["partial", "部分报销"],
  ["reimbursed", "已报销"], ["red_reversed", "已冲红"], ["paper_exchanged", "已换开"], ["voided", "已作废"],
];

/** display_status → tag class and what the colour means. */
export const DISPLAY_STATUS = {
  正常: { cls: "normal", hint: "可用于报销" },
  已授权: { cls: "authorized", hint: "已授权给报销单位，尚未开始办理" },
  报销中: { cls: "locked", hint: "报销单位已锁定并正在办理，期间不能用于其他报销" },
  部分报销: { cls: "partial", hint: "已报销一部分，剩余金额仍可报销" },
  已报销: { cls: "reimbursed", hint: "已全额报销" },
  已冲红: { cls: "reversed", hint: "开票单位已冲红，不能再用于报销" },
  已作废: { cls: "voided", hint: "已作废，不能用于报销" },
  已换开: { cls: "exchanged", hint: "已换开纸质票据，请使用纸质票据办理" },
};

export const CLAIM_STATUS_CLASSES = {
  authorized: "authorized", in_progress: "locked", reimbursed: "reimbursed", rejected: "reversed",
  revoked: "voided", expired: "voided", unlocked: "exchanged",
};

export const AUTH_STATUS = {
  active: { label: "生效中", cls: "authorized" },
  revoked: { label: "已撤销", cls: "voided" },
  expired: { label: "已过期", cls: "exchanged" },
};

export const TIMELINE_EVENTS = {
  "receipt.issued": "开具票据", "receipt.red_reversed": "冲红", "receipt.paper_exchanged": "换开纸质票据",
  "receipt.voided": "作废", "receipt.authorized": "授权报销单位", "receipt.locked": "报销单位锁定",
  "receipt.unlocked": "解除锁定", "receipt.lock_expired": "锁定到期", "receipt.reimbursed": "报销到账",
  "receipt.reimbursement_rejected": "报销未通过",
};

export const ACCESS_ACTIONS = {
  list: "查询票据列表", view: "查看票据", verify: "查验票据", lock: "锁定票据", renew: "续期锁定", feedback: "反馈报销结果",
};

export const CHAT_CHANNELS = { wechat: "微信", haiyiban: "海易办", web: "网页", console: "控制台" };

export const CHAT_PUSH_STATUS = { sent: "已推送", no_quota: "未推送（订阅消息次数已用完）", failed: "推送失败" };

export const ACTOR_TYPES = { issuer: "开票单位", unit: "报销单位", citizen: "本人", operator: "财政部门", system: "系统" };

export const LEDGER_OUTCOMES = { reimbursed: "已报销", rejected: "未通过" };

export const PROVINCES = [
  ["11", "北京"], ["12", "天津"], ["13", "河北"], ["14", "山西"], ["15", "内蒙古"], ["21", "辽宁"], ["22", "吉林"],
  ["23", "黑龙江"], ["31", "上海"], ["32", "江苏"], ["33", "浙江"], ["34", "安徽"], ["35", "福建"], ["36", "江西"],
  ["37", "山东"], ["41", "河南"], ["42", "湖北"], ["43", "湖南"], ["44", "广东"], ["45", "广西"], ["46", "海南"],
  ["50", "重庆"], ["51", "四川"], ["52", "贵州"], ["53", "云南"], ["54", "西藏"], ["61", "陕西"], ["62", "甘肃"],
  ["63", "青海"], ["64", "宁夏"], ["65", "新疆"],
];

export function provinceName(code) {
  const found = PROVINCES.find(([c]) => c === code);
  return found ? found[1] : code || "—";
}

/** Integer fen (BigInt) → decimal string "1234.50", for sums shown with money(). */
export function fenToDecimal(value) {
  const n = BigInt(value);
  const negative = n < 0n;
  const abs = negative ? -n : n;
  const cents = String(abs % 100n).padStart(2, "0");
  return `${negative ? "-" : ""}${abs / 100n}.${cents}`;
}
