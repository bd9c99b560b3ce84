// 扫码授权: create an authorization request, show its QR code (fetched with the Bearer
// header and shown through a blob: URL), count down, renew it shortly before it expires,
// poll for the citizen's decision and, once approved, list the authorized receipts.

import { ApiError, hasSession, serverNow, unitApi } from "./api.js";
import { $, fill, formatCountdown, formatDateTime, h, money, normalizeAmount, parseTime, show, statusTone, toFen } from "./dom.js";

const POLL_MS = 1500;
const RENEW_BEFORE_SECONDS = 20;
const RENEW_RETRY_MS = 5000;
// A code nobody scans is renewed for this long at most: a forgotten screen should not
// create requests all day.
const MAX_AUTO_RENEW_MS = 30 * 60 * 1000;

const DEFAULT_PURPOSE = {
  social_insurance: "医保零星报销",
  commercial_insurer: "商业保险理赔",
  employer: "单位报销",
  other: "单位报销",
};

let ctx = null;
let formValues = null; // {purpose, reference?, amount_cap?} of the running flow
let current = null; // the request on screen: {id, qrText, svgUrl, pngUrl, expiresAt: Date, scanned, status}
let older = []; // requests replaced by a renewal, still valid for a few seconds: a citizen may scan them
let pollTimer = null;
let polling = false;
let creating = false;
let renewBlockedUntil = 0;
let finished = false;
let flowStartedAt = 0;
let generation = 0; // bumped by reset(): answers of an abandoned flow are ignored
let blobUrl = null;
let rows = new Map(); // receipt key → row element in the authorized list

export function init(context) {
  ctx = context;
  $("#request-form").addEventListener("submit", onSubmit);
  $("#request-retry").addEventListener("click", () => {
    if (formValues) begin(formValues);
    else startNew();
  });
  $("#request-cancel").addEventListener("click", () => startNew());
  $("#qr-copy").addEventListener("click", copyQrText);
  // On blur only tidy a valid amount ("500" → "500.00"); messages wait for the submit, so
  // the layout does not move under a click on the button.
  $("#request-amount-cap").addEventListener("blur", (event) => {
    const amount = normalizeAmount(event.target.value);
    if (amount !== null && event.target.value.trim()) event.target.value = amount;
  });
  $("#qr-image").addEventListener("error", () => {
    if ($("#qr-image").getAttribute("src")) setOverlay("二维码图片加载失败，请使用下方链接或重新发起");
  });
}

/** Called after sign-in: the purpose the unit's kind usually needs. */
export function prepare(unit) {
  startNew();
  const purpose = DEFAULT_PURPOSE[unit?.kind];
  if (purpose) $("#request-purpose").value = purpose;
}

/** Back to an empty form (the 新建授权 button). */
export function startNew() {
  reset();
  $("#request-reference").value = "";
  $("#request-amount-cap").value = "";
  $("#request-purpose").focus();
}

/** Drops the flow: timers, QR image, state; the form is shown again as it was. */
export function reset() {
  generation += 1;
  clearTimeout(pollTimer);
  pollTimer = null;
  polling = false;
  creating = false;
  finished = false;
  formValues = null;
  current = null;
  older = [];
  renewBlockedUntil = 0;
  rows = new Map();
  setQrImage(null);
  setFieldMsg("");
  fill($("#authorized-list"));
  fill($("#request-summary"));
  $("#request-status").textContent = "";
  $("#qr-countdown").textContent = "—";
  const link = $("#qr-text");
  link.textContent = "";
  link.removeAttribute("href");
  show($("#request-live"), false);
  show($("#request-form"), true);
  $("#request-create").disabled = false;
}

// --- form -------------------------------------------------------------------------------

function setFieldMsg(message) {
  const input = $("#request-amount-cap");
  $("#request-amount-cap-msg").textContent = message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

/** The normalized cap, "" when empty, or null when invalid (and says why). */
function validateCap() {
  const input = $("#request-amount-cap");
  const raw = input.value.trim();
  if (!raw) {
    setFieldMsg("");
    return "";
  }
  const amount = normalizeAmount(raw);
  if (amount === null || toFen(amount) <= 0) {
    const message = "额度应为大于 0 的金额，最多两位小数，如 500.00";
    setFieldMsg(message);
    ctx.showError(message);
    return null;
  }
  input.value = amount;
  setFieldMsg("");
  return amount;
}

function onSubmit(event) {
  event.preventDefault();
  const purpose = $("#request-purpose").value.trim();
  const reference = $("#request-reference").value.trim();
  const cap = validateCap();
  if (cap === null) {
    $("#request-amount-cap").focus();
    return;
  }
  if (!purpose) {
    ctx.showError("请选择报销事项");
    return;
  }
  const values = { purpose };
  if (reference) values.reference = reference;
  if (cap) values.amount_cap = cap;
  begin(values);
}

/** Starts a flow with these form values (also 重新发起 after a decline or an expiry). */
async function begin(values) {
  const button = $("#request-create");
  const retry = $("#request-retry");
  reset();
  formValues = values;
  flowStartedAt = Date.now();
  button.disabled = true;
  retry.disabled = true;
  const gen = generation;
  try {
    const created = await createRequest(values);
    if (gen !== generation) return;
    ctx.hideError();
    showRequest(created);
    schedulePoll(POLL_MS);
  } catch (error) {
    if (gen !== generation) return;
    ctx.showError(error);
    formValues = null;
  } finally {
    button.disabled = false;
    retry.disabled = false;
  }
}

async function createRequest(values) {
  creating = true;
  try {
    const answer = await unitApi.createRequest(values);
    return {
      id: answer.id,
      qrText: answer.qr_text,
      svgUrl: answer.qr_svg_url,
      pngUrl: answer.qr_png_url,
      expiresAt: parseTime(answer.expires_at),
      scanned: false,
      status: "pending",
      purpose: answer.purpose,
      reference: answer.reference,
      amountCap: answer.amount_cap,
    };
  } finally {
    creating = false;
  }
}

// --- the request on screen ------------------------------------------------------------

function showRequest(request) {
  current = request;
  finished = false;
  show($("#request-form"), false);
  show($("#request-live"), true);
  show($("#qr-block"), true);
  show($("#request-end"), false);
  show($("#authorized-block"), false);
  show($("#request-cancel"), true);
  $("#request-cancel").textContent = "结束本次授权";
  renderSummary(request);
  setStatus("等待市民扫码授权…", "pending");
  setOverlay(null);

  const link = $("#qr-text");
  link.textContent = request.qrText || "";
  if (/^https?:\/\//i.test(request.qrText || "")) link.href = request.qrText;
  else link.removeAttribute("href");

  updateCountdown();
  loadQrImage(request);
}

function renderSummary(request) {
  const parts = [request.purpose || formValues?.purpose];
  if (request.reference) parts.push(`受理编号 ${request.reference}`);
  if (request.amountCap) parts.push(`额度上限 ${money(request.amountCap)}`);
  fill($("#request-summary"), parts.filter(Boolean).join(" · "));
}

function setStatus(text, tone) {
  const el = $("#request-status");
  el.textContent = text;
  el.dataset.state = tone;
}

function setOverlay(text) {
  const overlay = $("#qr-overlay");
  overlay.textContent = text || "";
  show(overlay, Boolean(text));
  $("#qr-frame").classList.toggle("qr__frame_dim", Boolean(text));
}

function setQrImage(url) {
  const img = $("#qr-image");
  const previous = blobUrl;
  blobUrl = url;
  if (url) img.src = url;
  else img.removeAttribute("src");
  if (previous) URL.revokeObjectURL(previous);
}

async function loadQrImage(request) {
  const gen = generation;
  let blob = null;
  let failure = null;
  for (const url of [request.svgUrl, request.pngUrl]) {
    if (!url) continue;
    try {
      blob = await unitApi.qrImage(url);
      break;
    } catch (error) {
      failure = error;
      if (error instanceof ApiError && (error.status === 410 || error.status === 401)) break;
    }
  }
  if (gen !== generation || request !== current) return;
  if (blob) {
    setQrImage(URL.createObjectURL(blob));
  } else if (failure && !(failure instanceof ApiError && failure.status === 410)) {
    // 410: the code was scanned meanwhile; the next poll says so.
    ctx.showError(failure);
    setOverlay("二维码图片加载失败，请使用下方链接或重新发起");
  }
}

function copyQrText() {
  const text = current?.qrText;
  if (!text) return;
  const done = () => ctx.notify("已复制授权链接");
  if (navigator.clipboard?.writeText) {
    navigator.clipboard.writeText(text).then(done, () => selectLink());
  } else {
    selectLink();
  }
}

function selectLink() {
  const range = document.createRange();
  range.selectNodeContents($("#qr-text"));
  const selection = getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  ctx.notify("请按 Ctrl+C 复制已选中的链接");
}

// --- countdown and renewal ---------------------------------------------------------------

function secondsLeft(request) {
  return request?.expiresAt ? (request.expiresAt.getTime() - serverNow()) / 1000 : 0;
}

function updateCountdown() {
  const el = $("#qr-countdown");
  if (!current || finished) return;
  if (current.scanned) {
    $("#qr-countdown-label").textContent = "二维码状态";
    el.textContent = "已扫码";
    return;
  }
  $("#qr-countdown-label").textContent = "二维码有效期剩余";
  el.textContent = formatCountdown(secondsLeft(current));
  el.classList.toggle("qr__countdown-value_low", secondsLeft(current) <= 60);
}

export function tick() {
  if (!current || finished) return;
  updateCountdown();
  const left = secondsLeft(current);
  if (current.status === "pending" && !current.scanned && left <= RENEW_BEFORE_SECONDS
      && !creating && Date.now() >= renewBlockedUntil && hasSession()
      && Date.now() - flowStartedAt < MAX_AUTO_RENEW_MS) {
    renew();
  }
  // A replaced code nobody scanned is dead once its time is up.
  older = older.filter((r) => r.scanned || secondsLeft(r) > -5);
}

async function renew() {
  const gen = generation;
  const previous = current;
  try {
    const fresh = await createRequest(formValues);
    if (gen !== generation || finished) return;
    if (current !== previous) {
      older.push(fresh); // the old one got scanned meanwhile: keep the new one in reserve
      return;
    }
    older.push(previous);
    showRequest(fresh);
  } catch (error) {
    if (gen !== generation) return;
    renewBlockedUntil = Date.now() + RENEW_RETRY_MS;
    if (!(error instanceof ApiError && error.status === 401)) ctx.showError(error);
  }
}

// --- polling ------------------------------------------------------------------------------

function schedulePoll(delay) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, delay);
}

async function poll() {
  if (!current || finished || polling) return;
  const gen = generation;
  if (!hasSession()) { // signed out for a moment (token expired): wait for the next sign-in
    schedulePoll(POLL_MS);
    return;
  }
  polling = true;
  try {
    for (const request of [current, ...older]) {
      let answer;
      try {
        answer = await unitApi.getRequest(request.id);
      } catch (error) {
        if (gen !== generation) return;
        if (error instanceof ApiError && error.status === 404) {
          older = older.filter((r) => r !== request);
          continue;
        }
        if (request === current && error instanceof ApiError && error.status === 0) {
          setStatus("网络异常，正在重试…", "error");
        }
        break;
      }
      if (gen !== generation) return;
      handleStatus(request, answer);
      if (finished) break;
    }
  } finally {
    polling = false;
  }
  if (gen === generation && !finished) schedulePoll(POLL_MS);
}

function handleStatus(request, answer) {
  const status = answer.status;
  request.status = status;
  if (answer.expires_at) request.expiresAt = parseTime(answer.expires_at) || request.expiresAt;
  if (status === "approved") {
    approved(request, answer);
    return;
  }
  if (status === "declined") {
    end("declined");
    return;
  }
  if (status === "expired") {
    if (request === current) {
      if (!creating) end("expired");
    } else {
      older = older.filter((r) => r !== request);
    }
    return;
  }
  // pending
  const wasScanned = request.scanned;
  request.scanned = Boolean(answer.scanned);
  if (request.scanned && request !== current) {
    // A citizen scanned the code shown just before the renewal: that one is the live one now.
    older = older.filter((r) => r !== request);
    if (current) older.push(current);
    current = request;
    renderSummary(request);
  }
  if (request === current) {
    if (request.scanned) {
      setStatus("市民已扫码，正在选择要授权的票据…", "scanned");
      setOverlay("已扫码");
      show($("#qr-block"), true);
      if (!wasScanned) ctx.notify("市民已扫码");
    } else if ($("#request-status").dataset.state === "error") {
      setStatus("等待市民扫码授权…", "pending");
    }
    updateCountdown();
  }
}

function stop() {
  finished = true;
  clearTimeout(pollTimer);
  pollTimer = null;
  older = [];
  setQrImage(null);
  show($("#qr-block"), false);
}

function end(kind) {
  stop();
  const messages = {
    declined: "市民已拒绝授权。如需继续办理，请与市民确认后重新发起。",
    expired: Date.now() - flowStartedAt >= MAX_AUTO_RENEW_MS
      ? "二维码已过期：长时间无人扫码，已停止自动更新。"
      : "二维码已过期，市民未完成授权。",
  };
  setStatus(kind === "declined" ? "市民已拒绝授权" : "二维码已过期", kind);
  $("#request-end-msg").textContent = messages[kind] || "";
  show($("#request-end"), true);
  $("#request-cancel").textContent = "新建其他授权";
  if (kind === "declined") ctx.showError("市民已拒绝授权");
  $("#request-retry").focus();
}

function approved(request, answer) {
  stop();
  current = request;
  const keys = Array.isArray(answer.receipt_keys) ? answer.receipt_keys : [];
  setStatus(`市民已授权 ${keys.length} 张票据`, "approved");
  const meta = [];
  if (answer.purpose) meta.push(answer.purpose);
  if (answer.reference) meta.push(`受理编号 ${answer.reference}`);
  if (answer.amount_cap) meta.push(`额度上限 ${money(answer.amount_cap)}`);
  if (answer.authorization_expires_at) meta.push(`授权有效至 ${formatDateTime(answer.authorization_expires_at, { seconds: false })}`);
  $("#authorized-meta").textContent = meta.join(" · ");
  const list = $("#authorized-list");
  rows = new Map();
  fill(list, keys.map((key) => {
    const row = authorizedRow(key);
    rows.set(key, row);
    return h("li", {}, row);
  }));
  show($("#authorized-block"), true);
  show($("#request-end"), false);
  $("#request-cancel").textContent = "新建其他授权";
  ctx.notify(`市民已授权 ${keys.length} 张票据`);
  ctx.refreshLists();
  loadRowDetails(keys);
}

function authorizedRow(key) {
  return h("button", {
    type: "button", class: "row", dataset: { testid: "authorized-receipt", key },
    "aria-label": `票据 ${key}，查看并办理`,
    on: { click: () => ctx.openReceipt(key) },
  },
  h("span", { class: "row__line" }, h("span", { class: "row__key" }, key), h("span", { class: "badge badge_info row__badge" }, "已授权")),
  h("span", { class: "row__line row__sub" }, "正在读取票据信息…"));
}

async function loadRowDetails(keys) {
  const gen = generation;
  for (const key of keys) { // one at a time: a counter PC, and every read is logged for the citizen
    try {
      const receipt = await unitApi.getReceipt(key);
      if (gen !== generation) return;
      receiptChanged(receipt);
    } catch (error) {
      if (gen !== generation) return;
      const row = rows.get(key);
      if (row) fill(row.querySelector(".row__sub"), `无法读取：${error.title || error.message}`);
    }
  }
}

/** Updates the row of an authorized receipt after a read, a lock or a feedback. */
export function receiptChanged(receipt) {
  const row = rows.get(receipt?.key);
  if (!row) return;
  fill(row,
    h("span", { class: "row__line" },
      h("span", { class: "row__key" }, receipt.key),
      h("span", { class: `badge badge_${statusTone(receipt.display_status)} row__badge` }, receipt.display_status || "")),
    h("span", { class: "row__line row__title" }, [receipt.title, receipt.issuer?.name].filter(Boolean).join(" · ")),
    h("span", { class: "row__line row__sub" },
      h("span", {}, `缴款人 ${receipt.payer?.name || "—"}`),
      h("span", {}, `票面 ${money(receipt.total_amount)}`),
      h("span", {}, `剩余可报 ${money(receipt.remaining_amount)}`)));
}
