// The citizen API: Bearer requests that refresh the token once on a 401, and one small
// function per endpoint the mini-app uses.

import { accessToken, expireSession, refresh } from "./auth.js";
import { ApiError, BOT_BASE, request } from "./http.js";

export { ApiError };

async function authed(path, options = {}) {
  const token = await accessToken();
  try {
    return await request(path, { ...options, token });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    let fresh;
    try {
      fresh = await refresh();
    } catch (refreshError) {
      throw refreshError instanceof ApiError ? refreshError : error;
    }
    try {
      return await request(path, { ...options, token: fresh });
    } catch (retryError) {
      if (retryError instanceof ApiError && retryError.status === 401) expireSession(retryError.title);
      throw retryError;
    }
  }
}

const enc = encodeURIComponent;

export const api = {
  me: (signal) => authed("me", { signal }),

  receipts: (query, signal) => authed("me/receipts", { query, signal }),
  receipt: (key, signal) => authed(`me/receipts/${enc(key)}`, { signal }),
  accessLog: (key, signal) => authed(`me/receipts/${enc(key)}/access-log`, { signal }),
  layoutFile: (key) => authed(`me/receipts/${enc(key)}/layout.pdf`, { blob: true }),
  dataFile: (key) => authed(`me/receipts/${enc(key)}/data-file`, { blob: true }),

  scan: (qrText) => authed("me/scans", { method: "POST", body: { qr_text: qrText } }),
  approve: (requestId, receiptKeys) =>
    authed(`me/authorization-requests/${enc(requestId)}/approve`, { method: "POST", body: { receipt_keys: receiptKeys } }),
  decline: (requestId) => authed(`me/authorization-requests/${enc(requestId)}/decline`, { method: "POST" }),

  authorizations: (signal) => authed("me/authorizations", { signal }),
  revoke: (authorizationId) => authed(`me/authorizations/${enc(authorizationId)}`, { method: "DELETE" }),
  claims: (signal) => authed("me/claims", { signal }),

  notifications: (query, signal) => authed("me/notifications", { query, signal }),
  markRead: (ids) => authed("me/notifications/read", { method: "POST", body: ids === "all" ? { all: true } : { ids } }),
  streamTicket: () => authed("me/stream-tickets", { method: "POST" }),

  sessions: (signal) => authed("me/sessions", { signal }),
  endSession: (sessionId) => authed(`me/sessions/${enc(sessionId)}`, { method: "DELETE" }),

  chatBindingCode: () => authed("me/chat-binding-codes", { method: "POST" }),
  chatBindings: (signal) => authed("me/chat-bindings", { signal }),
  unbindChat: (bindingId) => authed(`me/chat-bindings/${enc(bindingId)}`, { method: "DELETE" }),

  // The chat bot's web chat (/bot/chat): the citizen's own token, the same 401 → refresh → retry.
  chat: (message) => authed("chat", { method: "POST", body: { message }, base: BOT_BASE }),
};
