// 扫码授权: the camera starts as soon as the screen opens; a decoded QR (or a chosen
// image, or a pasted link) leads to the confirmation "#/scan?qr=…", which shows what the
// SERVER verified about the requesting unit — never what the QR says — and lets the
// citizen tick eligible receipts and approve, or decline.

import { api } from "../api.js";
import { h, icon, replace, uid } from "../dom.js";
import { countdown, date, dateTime, fen, fenToDecimal, money, secondsUntil } from "../format.js";
import { navigate, rewrite } from "../router.js";
import { CameraScanner, decodeImageFile, normalizeQrText } from "../scan.js";
import { emptyState, errorState, loadingState, msgPage, pageHeader, statusTag, toast, toastError } from "../ui.js";

let lastResult = null; // the outcome of the last decision, for "#/scan/result" (memory only)

export function render(ctx) {
  if (ctx.route.segments[1] === "result") return renderResult(ctx);
  const qr = ctx.route.query.get("qr");
  if (qr) return renderConfirm(ctx, qr);
  return renderCamera(ctx);
}

// --- camera ------------------------------------------------------------------------------

function renderCamera(ctx) {
  const video = h("video", { class: "pj-scanner__video", "data-testid": "scan-video", muted: true, playsinline: true, autoplay: true, "aria-label": "相机取景画面" });
  const status = h("p", { class: "pj-scanner__status", role: "status", "aria-live": "polite", "data-testid": "scan-status" }, "正在启动相机…");
  const viewfinder = h("div", { class: "pj-scanner", "data-state": "starting" },
    video,
    h("div", { class: "pj-scanner__frame", "aria-hidden": "true" }, h("span", { class: "pj-scanner__line" })),
    status);
  const retryButton = h("button", { type: "button", class: "weui-btn weui-btn_mini weui-btn_default pj-scanner__retry", "data-testid": "scan-retry", hidden: true, on: { click: () => startCamera() } }, "重新启动相机");

  const fileId = uid("scan-file");
  const fileInput = h("input", { id: fileId, type: "file", accept: "image/*", class: "pj-visually-hidden", "data-testid": "scan-file" });
  const pasteId = uid("scan-paste");
  const pasteInput = h("input", { id: pasteId, type: "url", class: "weui-input", placeholder: "https://…/q/…", autocomplete: "off", inputmode: "url", "data-testid": "scan-paste-input" });
  const pasteForm = h("form", { class: "pj-paste", novalidate: true },
    h("label", { class: "pj-field__label", for: pasteId }, "粘贴授权链接"),
    h("div", { class: "pj-paste__row" }, pasteInput,
      h("button", { type: "submit", class: "weui-btn weui-btn_mini weui-btn_primary", "data-testid": "scan-paste-submit" }, "确认")));

  replace(ctx.root, h("div", { class: "pj-page pj-scan" },
    pageHeader({ title: "扫码授权" }),
    h("div", { class: "pj-page__body" },
      viewfinder,
      retryButton,
      h("p", { class: "pj-scan__hint" }, "请扫描报销单位出示的票据授权二维码。确认前会显示经平台核验的单位信息，请核对后再授权。"),
      h("div", { class: "pj-scan__alternatives" },
        fileInput,
        h("label", { class: "pj-alt-button", for: fileId }, icon("image"), h("span", {}, "从相册选择二维码图片")),
        pasteForm))));

  let scanner = null;

  function accept(text, source) {
    const normalized = normalizeQrText(text);
    if (!normalized) {
      if (source === "camera") {
        status.textContent = "这不是票夹授权二维码，请扫描报销单位出示的二维码";
        setTimeout(() => ctx.active && startCamera(), 1500);
      } else {
        toast("无法识别的授权二维码或链接", { type: "error" });
      }
      return;
    }
    stopCamera();
    navigate("scan", { query: { qr: normalized } });
  }

  async function startCamera() {
    stopCamera();
    retryButton.hidden = true;
    viewfinder.dataset.state = "starting";
    status.textContent = "正在启动相机…";
    scanner = new CameraScanner(video, {
      onResult: (text) => accept(text, "camera"),
      onState: (s) => {
        viewfinder.dataset.state = s;
        if (s === "scanning") status.textContent = "将二维码放入框内，即可自动识别";
      },
    });
    const mine = scanner;
    try {
      await mine.start();
    } catch (error) {
      if (!ctx.active || mine !== scanner) return;
      mine.stop();
      viewfinder.dataset.state = "error";
      status.textContent = error.message || "相机启动失败，请选择图片或粘贴链接";
      retryButton.hidden = error.kind === "unsupported";
    }
  }

  function stopCamera() {
    if (scanner) scanner.stop();
    scanner = null;
  }

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    status.textContent = "正在识别图片…";
    try {
      const text = await decodeImageFile(file);
      if (!ctx.active) return;
      if (text) accept(text, "image");
      else {
        toast("图片中没有找到二维码", { type: "error" });
        status.textContent = viewfinder.dataset.state === "scanning" ? "将二维码放入框内，即可自动识别" : status.textContent;
      }
    } catch {
      if (ctx.active) toast("图片读取失败，请换一张图片", { type: "error" });
    }
  });

  pasteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = pasteInput.value.trim();
    if (!text) {
      toast("请先粘贴授权链接", { type: "error" });
      pasteInput.focus();
      return;
    }
    accept(text, "paste");
  });

  const onVisibility = () => {
    if (document.hidden) stopCamera();
    else if (ctx.active && !scanner) startCamera();
  };
  document.addEventListener("visibilitychange", onVisibility);
  ctx.cleanup(() => document.removeEventListener("visibilitychange", onVisibility));
  ctx.cleanup(stopCamera);
  startCamera();
}

// --- confirmation ----------------------------------------------------------------------

function renderConfirm(ctx, qrText) {
  const body = h("div", { class: "pj-page__body" });
  replace(ctx.root, h("div", { class: "pj-page pj-confirm" }, pageHeader({ title: "确认授权", back: "scan" }), body));

  async function load() {
    replace(body, loadingState("正在核验二维码"));
    try {
      const scan = await api.scan(qrText);
      if (!ctx.active) return;
      showConfirm(ctx, body, scan);
    } catch (error) {
      if (!ctx.active) return;
      replace(body, errorState(error, null),
        h("div", { class: "weui-btn-area" },
          h("a", { class: "weui-btn weui-btn_primary", href: "#/scan", "data-testid": "scan-again" }, "重新扫码"),
          h("a", { class: "weui-btn weui-btn_default", href: "#/wallet" }, "返回票夹")));
    }
  }
  load();
}

function showConfirm(ctx, body, scan) {
  const unit = scan.unit || {};
  const eligible = Array.isArray(scan.eligible_receipts) ? scan.eligible_receipts : [];
  let deciding = false;
  let expired = false;

  const expiry = h("p", { class: "pj-expiry", "data-testid": "scan-expiry", role: "timer", "aria-live": "off" });
  const selection = h("p", { class: "pj-selection", "aria-live": "polite", "data-testid": "selection-summary" });
  const approveButton = h("button", { type: "button", class: "weui-btn weui-btn_primary", "data-testid": "approve-button", disabled: true }, "同意授权");
  const declineButton = h("button", { type: "button", class: "weui-btn weui-btn_default", "data-testid": "decline-button" }, "拒绝");
  const checkboxes = [];

  const unitCard = h("section", { class: "pj-card pj-unit", "data-testid": "scan-confirm", "aria-labelledby": "unit-name" },
    h("p", { class: "pj-unit__verified" }, icon("shield", "pj-icon pj-icon--inline"), "平台已核验的报销单位"),
    h("h2", { class: "pj-unit__name", id: "unit-name", "data-testid": "unit-name" }, unit.name || "—"),
    h("dl", { class: "pj-kv" },
      h("div", { class: "pj-kv__row" }, h("dt", {}, "统一社会信用代码"), h("dd", { "data-testid": "unit-credit-code" }, unit.credit_code || "—")),
      h("div", { class: "pj-kv__row" }, h("dt", {}, "单位类型"), h("dd", { "data-testid": "unit-kind" }, unit.kind_label || unit.kind || "—")),
      h("div", { class: "pj-kv__row" }, h("dt", {}, "用途"), h("dd", { "data-testid": "scan-purpose" }, scan.purpose || "—")),
      scan.reference ? h("div", { class: "pj-kv__row" }, h("dt", {}, "单位业务号"), h("dd", { "data-testid": "scan-reference" }, scan.reference)) : null,
      scan.amount_cap ? h("div", { class: "pj-kv__row" }, h("dt", {}, "报销金额上限"), h("dd", { "data-testid": "scan-amount-cap" }, money(scan.amount_cap))) : null,
      h("div", { class: "pj-kv__row" }, h("dt", {}, "确认截止"), h("dd", {}, dateTime(scan.expires_at)))),
    expiry);

  const warning = h("div", { class: "pj-notice pj-notice--info", role: "note" },
    h("strong", {}, "请核对单位名称与您正在办理报销的单位一致"),
    h("p", {}, "授权后，该单位可以查验所选票据并锁定办理报销；未被锁定的票据可随时在“我的授权”中撤销。"));

  function updateSelection() {
    const picked = checkboxes.filter((c) => c.checked);
    let sum = 0n;
    for (const c of picked) sum += fen(c.dataset.remaining);
    selection.textContent = picked.length ? `已选 ${picked.length} 张，剩余可报销合计 ${money(fenToDecimal(sum))}` : "请至少选择一张票据";
    approveButton.disabled = deciding || expired || picked.length === 0;
    if (selectAll) {
      selectAll.checked = picked.length === checkboxes.length && checkboxes.length > 0;
      selectAll.indeterminate = picked.length > 0 && picked.length < checkboxes.length;
    }
  }

  let selectAll = null;
  let list;
  if (eligible.length) {
    const group = h("div", { class: "weui-cells weui-cells_checkbox pj-eligible", role: "group", "aria-labelledby": "eligible-title", "data-testid": "eligible-list" });
    for (const r of eligible) {
      const id = uid("elig");
      const checkbox = h("input", {
        type: "checkbox", id, class: "weui-check", name: "receipt", value: r.key,
        "data-key": r.key, "data-remaining": r.remaining_amount || r.total_amount || "0.00", "data-testid": "eligible-checkbox",
      });
      checkbox.addEventListener("change", updateSelection);
      checkboxes.push(checkbox);
      group.append(h("label", { class: "weui-cell weui-cell_active weui-check__label pj-eligible__item", for: id, "data-key": r.key, "data-testid": "eligible-receipt" },
        h("div", { class: "weui-cell__hd" }, checkbox, h("i", { class: "weui-icon-checked", "aria-hidden": "true" })),
        h("div", { class: "weui-cell__bd" },
          h("p", { class: "pj-eligible__issuer" }, r.issuer || "—"),
          h("p", { class: "pj-eligible__meta" }, `${date(r.issue_date)} · ${r.title || ""}`),
          h("p", { class: "pj-eligible__meta" }, `票据 ${r.key}`)),
        h("div", { class: "weui-cell__ft pj-eligible__side" },
          h("p", { class: "pj-eligible__amount" }, money(r.total_amount)),
          r.remaining_amount && r.remaining_amount !== r.total_amount ? h("p", { class: "pj-eligible__meta" }, `剩余 ${money(r.remaining_amount)}`) : null,
          statusTag(r.display_status))));
    }
    selectAll = h("input", { type: "checkbox", id: "select-all", class: "pj-select-all__input", "data-testid": "select-all" });
    selectAll.addEventListener("change", () => {
      for (const c of checkboxes) c.checked = selectAll.checked;
      updateSelection();
    });
    list = h("div", {},
      h("div", { class: "pj-eligible__head" },
        h("h2", { class: "weui-cells__title pj-section-title", id: "eligible-title" }, `选择要授权的票据（可选 ${eligible.length} 张）`),
        h("label", { class: "pj-select-all", for: "select-all" }, selectAll, h("span", {}, "全选"))),
      group);
  } else {
    list = emptyState({ title: "没有可授权的票据", desc: "您的票据都已报销、已冲红或正在其他单位办理中。您可以拒绝此次授权请求。" });
  }

  async function decide(kind) {
    if (deciding) return;
    const keys = checkboxes.filter((c) => c.checked).map((c) => c.dataset.key);
    if (kind === "approve" && keys.length === 0) {
      toast("请至少选择一张票据", { type: "error" });
      return;
    }
    deciding = true;
    const button = kind === "approve" ? approveButton : declineButton;
    approveButton.disabled = true;
    declineButton.disabled = true;
    button.classList.add("weui-btn_loading");
    button.setAttribute("aria-busy", "true");
    try {
      const result = kind === "approve" ? await api.approve(scan.id, keys) : await api.decline(scan.id);
      lastResult = { kind, result, unit, count: keys.length, purpose: scan.purpose };
      if (!ctx.active) return;
      rewrite("scan/result"); // reloading must not replay the scan of a spent QR code
      replace(ctx.root, resultView(lastResult));
      window.scrollTo(0, 0);
    } catch (error) {
      if (!ctx.active) return;
      toastError(error);
      const bad = (error.extra && error.extra.receipt_keys) || [];
      for (const c of checkboxes) {
        const row = c.closest("label");
        if (row) row.classList.toggle("pj-eligible__item--error", bad.includes(c.dataset.key));
      }
      deciding = false;
      declineButton.disabled = false;
      button.classList.remove("weui-btn_loading");
      button.removeAttribute("aria-busy");
      updateSelection();
    }
  }

  approveButton.addEventListener("click", () => decide("approve"));
  declineButton.addEventListener("click", () => decide("decline"));

  function tick() {
    const left = secondsUntil(scan.expires_at);
    if (left <= 0) {
      expired = true;
      expiry.textContent = "授权请求已过期，请让报销单位重新生成二维码";
      expiry.classList.add("pj-expiry--over");
      updateSelection();
      return false;
    }
    expiry.textContent = `请在 ${countdown(left)} 内确认`;
    return true;
  }
  if (tick()) {
    const timer = setInterval(() => {
      if (!tick()) clearInterval(timer);
    }, 1000);
    ctx.cleanup(() => clearInterval(timer));
  }

  replace(body, unitCard, warning, list,
    h("div", { class: "pj-decision", role: "group", "aria-label": "授权决定" }, eligible.length ? selection : null,
      h("div", { class: "pj-decision__buttons" }, declineButton, eligible.length ? approveButton : null)));
  updateSelection();
}

// --- result ----------------------------------------------------------------------------

function resultView(outcome) {
  const unitName = (outcome.unit && outcome.unit.name) || "报销单位";
  if (outcome.kind === "approve") {
    const r = outcome.result || {};
    const keys = r.receipt_keys || [];
    return h("div", { class: "pj-page", "data-testid": "scan-result", "data-outcome": "approved" },
      pageHeader({ title: "授权结果" }),
      msgPage({
        type: "success", title: "授权成功", testid: "scan-result-msg",
        desc: `${unitName}现在可以查验并办理所选 ${keys.length} 张票据的报销。授权有效期至 ${dateTime(r.expires_at)}。`,
        children: h("ul", { class: "pj-result-keys" }, keys.map((k) => h("li", {}, h("a", { href: `#/receipt/${encodeURIComponent(k)}` }, `票据 ${k}`)))),
        actions: [
          h("a", { class: "weui-btn weui-btn_primary", href: "#/claims", "data-testid": "goto-claims" }, "查看报销进度"),
          h("a", { class: "weui-btn weui-btn_default", href: "#/authorizations", "data-testid": "goto-authorizations" }, "我的授权"),
          h("a", { class: "weui-btn weui-btn_default", href: "#/wallet" }, "返回票夹"),
        ],
      }));
  }
  return h("div", { class: "pj-page", "data-testid": "scan-result", "data-outcome": "declined" },
    pageHeader({ title: "授权结果" }),
    msgPage({
      type: "info", title: "已拒绝授权", testid: "scan-result-msg",
      desc: `${unitName}不能使用您的票据。如需报销，请让报销单位重新生成二维码。`,
      actions: [h("a", { class: "weui-btn weui-btn_default", href: "#/wallet" }, "返回票夹")],
    }));
}

function renderResult(ctx) {
  if (!lastResult) {
    navigate("wallet", { replace: true });
    return;
  }
  replace(ctx.root, resultView(lastResult));
}
