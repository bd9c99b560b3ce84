// The API client of the console: the Bearer token lives in this module's memory only
// (never localStorage/sessionStorage/cookies), so a reload means signing in again.
// Errors are RFC 9457 problem details; ApiError carries their Chinese `title`.

const API_BASE = new URL("../../api/v1/", import.meta.url);

let session = null; // {token, expiresAt (ms), clientId}
let unauthorizedHandler = null;
let clockSkewMs = 0; // server clock − local clock, from the Date header (only when clearly off)

export class ApiError extends Error {
  constructor({ status = 0, code = "error", title = "请求失败", detail = "", problem = null } = {}) {
    super(title);
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.problem = problem;
  }
}

const FALLBACK_TITLES = {
  400: "请求有误", 401: "身份验证失败", 403: "无权执行此操作", 404: "未找到", 409: "与当前状态冲突",
  410: "已失效", 413: "提交的内容过大", 415: "不支持的内容类型", 422: "提交的数据不符合要求",
  429: "请求过于频繁，请稍后再试", 500: "系统内部错误", 502: "服务暂不可用，请稍后重试",
  503: "服务暂不可用，请稍后重试", 504: "服务响应超时，请稍后重试",
};

export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function hasSession() {
  return session !== null && Date.now() < session.expiresAt;
}

export function sessionInfo() {
  return session ? { clientId: session.clientId, expiresAt: session.expiresAt } : null;
}

export function dropSession() {
  session = null;
}

/** Now, on the server's clock (for countdowns to server-given expiry times). */
export function serverNow() {
  return Date.now() + clockSkewMs;
}

/** A random UUID v4; crypto.randomUUID needs a secure context, a tablet on plain http has none. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) {
    try {
      return crypto.randomUUID();
    } catch {
      // fall through
    }
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An API path ("unit/me") or an absolute URL given by the API, made same-origin. */
export function apiUrl(pathOrUrl) {
  if (/^https?:\/\//i.test(pathOrUrl)) {
    // The API builds qr_*_url from its own host name; behind a proxy that may differ from
    // the page's origin, which connect-src 'self' refuses: keep only path and query.
    const url = new URL(pathOrUrl);
    return url.origin === location.origin ? url : new URL(url.pathname + url.search, location.origin);
  }
  return new URL(pathOrUrl.replace(/^\/+/, ""), API_BASE);
}

function noteServerDate(response) {
  const header = response.headers.get("Date");
  if (!header) return;
  const server = Date.parse(header);
  if (Number.isNaN(server)) return;
  const skew = server + 500 - Date.now(); // the header is truncated to the second
  clockSkewMs = Math.abs(skew) > 2000 ? skew : 0;
}

async function problemFrom(response) {
  let body = null;
  try {
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) body = await response.json();
  } catch {
    body = null;
  }
  const status = response.status;
  return new ApiError({
    status,
    code: (body && body.code) || `http_${status}`,
    title: (body && body.title) || FALLBACK_TITLES[status] || `请求失败（${status}）`,
    detail: (body && body.detail) || "",
    problem: body,
  });
}

/**
 * One API call.
 * options: {method, json, form, idempotencyKey, as: "json" | "blob", auth (default true)}
 */
export async function call(path, { method = "GET", json, form, idempotencyKey, as = "json", auth = true } = {}) {
  const headers = { Accept: as === "json" ? "application/json, application/problem+json" : "*/*" };
  if (auth) {
    if (!hasSession()) {
      const error = new ApiError({ status: 401, code: "token_expired", title: "登录已过期，请重新登录" });
      if (session && unauthorizedHandler) unauthorizedHandler(error);
      throw error;
    }
    headers.Authorization = `Bearer ${session.token}`;
  }
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;

  let response;
  try {
    response = await fetch(apiUrl(path), { method, headers, body, cache: "no-store", credentials: "same-origin" });
  } catch {
    throw new ApiError({ status: 0, code: "network_error", title: "网络连接失败，请检查网络后重试" });
  }
  noteServerDate(response);
  if (!response.ok) {
    const error = await problemFrom(response);
    if (auth && response.status === 401 && unauthorizedHandler) unauthorizedHandler(error);
    throw error;
  }
  if (as === "blob") return response.blob();
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    throw new ApiError({ status: response.status, code: "bad_response", title: "服务器返回了无法识别的内容" });
  }
}

/** Client credentials → Bearer token, kept in memory. */
export async function signIn(clientId, clientSecret) {
  const answer = await call("oauth/token", {
    method: "POST",
    auth: false,
    form: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
  });
  if (!answer || !answer.access_token) {
    throw new ApiError({ status: 0, code: "bad_response", title: "登录失败：未取得访问令牌" });
  }
  const lifetime = Number(answer.expires_in) > 0 ? Number(answer.expires_in) : 3600;
  // A little margin so a request is not sent with a token that dies on the way.
  session = { token: answer.access_token, expiresAt: Date.now() + lifetime * 1000 - 5000, clientId };
  return sessionInfo();
}

// --- the unit API ---------------------------------------------------------------------

export const unitApi = {
  me: () => call("unit/me"),
  createRequest: (data) => call("unit/authorization-requests", { method: "POST", json: data }),
  getRequest: (id) => call(`unit/authorization-requests/${encodeURIComponent(id)}`),
  qrImage: (url) => call(url, { as: "blob" }),
  listReceipts: ({ status = "all", cursor, limit = 20 } = {}) => {
    const query = new URLSearchParams({ status, limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    return call(`unit/receipts?${query}`);
  },
  getReceipt: (key) => call(`unit/receipts/${encodeURIComponent(key)}`),
  lock: (key, idempotencyKey) =>
    call(`unit/receipts/${encodeURIComponent(key)}/lock`, { method: "POST", json: {}, idempotencyKey }),
  unlock: (key, body, idempotencyKey) =>
    call(`unit/receipts/${encodeURIComponent(key)}/unlock`, { method: "POST", json: body, idempotencyKey }),
  renew: (key, body, idempotencyKey) =>
    call(`unit/receipts/${encodeURIComponent(key)}/renew`, { method: "POST", json: body, idempotencyKey }),
  feedback: (key, body, idempotencyKey) =>
    call(`unit/receipts/${encodeURIComponent(key)}/feedback`, { method: "POST", json: body, idempotencyKey }),
  book: (key, body, idempotencyKey) =>
    call(`unit/receipts/${encodeURIComponent(key)}/booking`, { method: "POST", json: body, idempotencyKey }),
  layoutFile: (key) => call(`unit/receipts/${encodeURIComponent(key)}/layout.pdf`, { as: "blob" }),
  dataFile: (key) => call(`unit/receipts/${encodeURIComponent(key)}/data-file`, { as: "blob" }),
  verify: (items) => call("unit/receipts/verify", { method: "POST", json: { items } }),
};
