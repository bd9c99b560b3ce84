// The lowest layer of the API client: one JSON request, problem details turned into an
// ApiError whose message is the problem's Chinese `title` (what the citizen sees).

// The mini-app is served at /app/; the API lives beside it at /api/v1/, and the chat bot
// (the 助手 tab's web chat) at /bot/ on the same origin.
export const API_BASE = new URL("../api/v1/", document.baseURI).pathname;
export const BOT_BASE = new URL("../bot/", document.baseURI).pathname;

export class ApiError extends Error {
  constructor({ status = 0, title, detail, code, extra } = {}) {
    super(title || "请求失败，请稍后重试");
    this.name = "ApiError";
    this.status = status;
    this.title = this.message;
    this.detail = detail || "";
    this.code = code || (status ? `http_${status}` : "network_error");
    this.extra = extra || {};
  }
}

const FALLBACK_TITLES = {
  400: "请求有误", 401: "登录已失效，请重新登录", 403: "无权执行此操作", 404: "未找到", 409: "与当前状态冲突",
  410: "内容已失效", 413: "提交的内容过大", 422: "提交的数据不符合要求", 429: "操作太频繁，请稍后再试",
  500: "服务出错了，请稍后重试", 502: "服务暂不可用，请稍后重试", 503: "服务暂不可用，请稍后重试", 504: "服务响应超时，请稍后重试",
};

export function apiUrl(path, query, base = API_BASE) {
  const url = new URL(base + path.replace(/^\//, ""), location.origin);
  if (query) {
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
  }
  return url.pathname + url.search;
}

/** `base`: API_BASE unless given (BOT_BASE for the chat bot, which answers the same way). */
export async function request(path, { method = "GET", body, query, token, signal, base = API_BASE, blob = false } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(apiUrl(path, query, base), {
      method, headers, signal, credentials: "same-origin", cache: "no-store",
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError({ title: "网络连接失败，请检查网络后重试", detail: String(error && error.message || error) });
  }
  if (response.status === 204) return null;
  if (blob && response.ok) return response.blob();
  const type = response.headers.get("Content-Type") || "";
  let data = null;
  if (type.includes("json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : {};
    const { title, detail, code, status, type: _t, instance: _i, ...extra } = problem;
    throw new ApiError({
      status: response.status,
      title: title || FALLBACK_TITLES[response.status] || `请求失败（${response.status}）`,
      detail, code, extra,
    });
  }
  return data;
}
