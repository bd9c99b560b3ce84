// Piaojia 票夹 — the unit counter console (单位报销柜台), entry module.
// Sign-in, the header, tabs, error/notice toasts and the one-second ticker; the QR
// authorization flow lives in authorize.js, receipts, lock and feedback in receipts.js.

import { ApiError, dropSession, hasSession, onUnauthorized, sessionInfo, signIn, unitApi } from "./api.js";
import * as authorize from "./authorize.js";
import { $, formatCountdown, show, UNIT_KIND_LABELS, UNIT_STATUS_LABELS } from "./dom.js";
import * as receipts from "./receipts.js";

const TABS = ["authorize", "worklist", "history"];
const SESSION_WARN_SECONDS = 300;

let errorTimer = null;
let noticeTimer = null;

// The context shared with the feature modules.
const ctx = {
  unit: null,

  /** Shows a problem's Chinese title (ApiError) or a plain message in the error toast. */
  showError(error) {
    const title = error instanceof ApiError ? error.title : (error && error.message) || String(error || "操作失败");
    const code = error instanceof ApiError ? error.code : "";
    const detailParts = [];
    if (error instanceof ApiError && error.status === 0 && error.code === "network_error") detailParts.push("请求未送达服务器");
    if (code && code !== "network_error") detailParts.push(`错误代码：${code}`);
    if (error instanceof ApiError && error.problem?.request_id) detailParts.push(`请求编号：${error.problem.request_id}`);
    $("#error").textContent = title;
    $("#error-detail").textContent = detailParts.join("　");
    show($("#toast"), true);
    clearTimeout(errorTimer);
    errorTimer = setTimeout(hideError, 15000);
  },

  hideError,

  notify(message) {
    const el = $("#notice");
    el.textContent = message;
    show(el, true);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => show(el, false), 5000);
  },

  switchTab,

  openReceipt(key) {
    receipts.openReceipt(key);
  },

  refreshLists() {
    receipts.refreshLists();
  },

  receiptChanged(receipt) {
    authorize.receiptChanged(receipt);
  },
};

function hideError() {
  clearTimeout(errorTimer);
  show($("#toast"), false);
}

// --- sign in / out ----------------------------------------------------------------------

async function onLoginSubmit(event) {
  event.preventDefault();
  const idInput = $("#login-client-id");
  const secretInput = $("#login-client-secret");
  const clientId = idInput.value.trim();
  const clientSecret = secretInput.value;
  if (!clientId || !clientSecret) {
    ctx.showError("请填写客户端 ID 和密钥");
    (clientId ? secretInput : idInput).focus();
    return;
  }
  const button = $("#login-submit");
  button.disabled = true;
  button.textContent = "正在登录…";
  try {
    await signIn(clientId, clientSecret);
    const unit = await unitApi.me();
    if (ctx.unit && ctx.unit.id !== unit.id) {
      // Another unit at this counter: nothing of the previous one may stay.
      authorize.reset();
      receipts.reset();
    }
    const resumed = ctx.unit && ctx.unit.id === unit.id;
    ctx.unit = unit;
    secretInput.value = "";
    hideError();
    enterConsole(resumed);
  } catch (error) {
    dropSession();
    ctx.showError(error);
    secretInput.select();
  } finally {
    button.disabled = false;
    button.textContent = "登录";
  }
}

function enterConsole(resumed) {
  renderUnit();
  show($("#login-expired"), false);
  show($("#login-view"), false);
  show($("#app-view"), true);
  if (!resumed) {
    authorize.prepare(ctx.unit);
    switchTab("authorize");
  } else {
    receipts.refreshLists();
    receipts.reloadDetail();
  }
  $("#main").focus({ preventScroll: true });
}

function renderUnit() {
  const unit = ctx.unit;
  $("#unit-name").textContent = unit.name || "";
  const kind = UNIT_KIND_LABELS[unit.kind] || unit.kind || "";
  $("#unit-meta").textContent = [kind, unit.credit_code && `统一社会信用代码 ${unit.credit_code}`].filter(Boolean).join(" · ");
  const status = $("#unit-status");
  status.textContent = UNIT_STATUS_LABELS[unit.status] || unit.status || "";
  status.className = `badge badge_${unit.status === "active" ? "done" : "bad"}`;
  const banner = $("#unit-banner");
  if (unit.status === "frozen") {
    banner.textContent = "本单位账户已冻结：不能发起新的授权、锁定或续期；已锁定的票据仍可解除锁定或反馈报销结果。"
      + (unit.status_reason ? `（原因：${unit.status_reason}）` : "");
    show(banner, true);
  } else {
    show(banner, false);
  }
}

/** The token ran out (or the API said 401): back to the sign-in form, keeping the work. */
function sessionExpired(error) {
  if ($("#app-view").hidden) return;
  const info = sessionInfo();
  dropSession();
  const title = error instanceof ApiError && error.title ? error.title : "登录已过期，请重新登录";
  const message = $("#login-expired");
  message.textContent = `${title}。重新登录同一单位后可继续当前工作。`;
  show(message, true);
  show($("#app-view"), false);
  show($("#login-view"), true);
  ctx.showError(error instanceof ApiError ? error : new ApiError({ status: 401, code: "token_expired", title }));
  if (info?.clientId) $("#login-client-id").value = info.clientId;
  $("#login-client-secret").focus();
}

function signOut() {
  dropSession();
  authorize.reset();
  receipts.reset();
  ctx.unit = null;
  hideError();
  show($("#notice"), false);
  $("#login-client-secret").value = "";
  $("#unit-name").textContent = "";
  show($("#login-expired"), false);
  show($("#app-view"), false);
  show($("#login-view"), true);
  $("#login-client-id").focus();
}

// --- tabs ---------------------------------------------------------------------------

function switchTab(name) {
  if (!TABS.includes(name)) return;
  for (const tab of TABS) {
    const button = $(`#tab-${tab}`);
    const selected = tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    show($(`#panel-${tab}`), selected);
  }
  if (name === "worklist") receipts.ensureLoaded("worklist");
  if (name === "history") receipts.ensureLoaded("history");
}

function onTabKeydown(event) {
  const index = TABS.indexOf(event.currentTarget.dataset.tab);
  let next = null;
  if (event.key === "ArrowRight") next = TABS[(index + 1) % TABS.length];
  else if (event.key === "ArrowLeft") next = TABS[(index + TABS.length - 1) % TABS.length];
  else if (event.key === "Home") next = TABS[0];
  else if (event.key === "End") next = TABS[TABS.length - 1];
  if (next) {
    event.preventDefault();
    switchTab(next);
    $(`#tab-${next}`).focus();
  }
}

// --- the ticker -------------------------------------------------------------------------

function tick() {
  const info = sessionInfo();
  const left = $("#session-left");
  if (info && !$("#app-view").hidden) {
    const seconds = (info.expiresAt - Date.now()) / 1000;
    if (seconds <= 0 || !hasSession()) {
      sessionExpired(new ApiError({ status: 401, code: "token_expired", title: "登录已过期，请重新登录" }));
    } else {
      left.textContent = seconds <= SESSION_WARN_SECONDS ? `登录将在 ${formatCountdown(seconds)} 后过期` : "";
      left.classList.toggle("topbar__session_warn", seconds <= SESSION_WARN_SECONDS);
    }
  } else {
    left.textContent = "";
  }
  authorize.tick();
  receipts.tick();
}

// --- start ------------------------------------------------------------------------------

function start() {
  onUnauthorized(sessionExpired);
  $("#login-form").addEventListener("submit", onLoginSubmit);
  $("#error-close").addEventListener("click", hideError);
  $("#sign-out").addEventListener("click", signOut);
  $("#new-request").addEventListener("click", () => {
    switchTab("authorize");
    authorize.startNew();
  });
  for (const tab of TABS) {
    const button = $(`#tab-${tab}`);
    button.addEventListener("click", () => switchTab(tab));
    button.addEventListener("keydown", onTabKeydown);
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#toast").hidden) hideError();
  });
  authorize.init(ctx);
  receipts.init(ctx);
  setInterval(tick, 1000);
  $("#login-client-id").focus();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
