// Sign-in with a 海易办 identity assertion, rotating refresh tokens, sign-out.
//
// Only the tokens (and when the access token expires) are kept, in sessionStorage: one
// tab, one login. Refresh tokens are single use, so two tabs sharing one would revoke the
// whole login family; a per-tab store cannot race like that.

import { emit } from "./bus.js";
import { ApiError, request } from "./http.js";

const STORAGE_KEY = "piaojia.tokens";
const REFRESH_AHEAD_MS = 60_000; // refresh a minute before the access token expires

let tokens = load();
let refreshing = null;
let timer = null;

function load() {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    const data = raw ? JSON.parse(raw) : null;
    if (data && typeof data.access_token === "string" && typeof data.refresh_token === "string") return data;
  } catch {
    /* storage unavailable or corrupted: signed out */
  }
  return null;
}

function save(pair) {
  tokens = {
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_at: Date.now() + Math.max(Number(pair.expires_in) || 900, 30) * 1000,
  };
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
  } catch {
    /* private mode without storage: the login lasts as long as the page */
  }
  schedule();
}

function forget() {
  tokens = null;
  clearTimeout(timer);
  timer = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* nothing stored */
  }
}

function schedule() {
  clearTimeout(timer);
  if (!tokens) return;
  const wait = Math.max(tokens.expires_at - Date.now() - REFRESH_AHEAD_MS, 5_000);
  timer = setTimeout(() => {
    refresh().catch(() => {
      /* refresh() already signed out on a refused token; a network failure retries on the next call */
    });
  }, wait);
}

export function isSignedIn() {
  return tokens !== null;
}

export async function signInWithAssertion(assertion) {
  const pair = await request("auth/citizen", { method: "POST", body: { assertion } });
  save(pair);
  emit("auth:signed-in");
}

/** Demo identity provider (embedded default only): null when it is not there (404). */
export async function listDemoCitizens() {
  try {
    const data = await request("demo/citizens");
    return Array.isArray(data && data.items) ? data.items : [];
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
    throw error;
  }
}

export async function signInAsDemoCitizen(handle) {
  const { assertion } = await request("demo/assertion", { method: "POST", body: { citizen: handle } });
  await signInWithAssertion(assertion);
}

/** Rotates the pair. Single flight: concurrent callers share one request. */
export function refresh() {
  if (!tokens) return Promise.reject(new ApiError({ status: 401, title: "登录已失效，请重新登录" }));
  if (refreshing) return refreshing;
  const spent = tokens.refresh_token;
  refreshing = request("auth/refresh", { method: "POST", body: { refresh_token: spent } })
    .then((pair) => {
      save(pair);
      return tokens.access_token;
    })
    .catch((error) => {
      // 401: unknown, expired, signed out, or reused (the server has revoked the family).
      if (error instanceof ApiError && (error.status === 401 || error.status === 422)) {
        if (tokens && tokens.refresh_token === spent) signOutLocally(error.title);
      }
      throw error;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** A valid access token, refreshed first when it is about to expire. */
export async function accessToken() {
  if (!tokens) throw new ApiError({ status: 401, title: "请先登录", code: "not_signed_in" });
  if (tokens.expires_at - Date.now() < 30_000) return refresh();
  return tokens.access_token;
}

function signOutLocally(reason) {
  if (!tokens) return;
  forget();
  emit("auth:signed-out", { reason });
}

/** Signs out on the server (every session of this login) and here. */
export async function signOut() {
  const refreshToken = tokens && tokens.refresh_token;
  try {
    if (refreshToken) await request("auth/logout", { method: "POST", body: { refresh_token: refreshToken } });
  } finally {
    signOutLocally(null);
  }
}

/**
 * Signs out everywhere: every sign-in of this citizen and every bound chat account (their
 * tokens end at once). Unlike signOut(), a failed request keeps this session (the other
 * devices would still be signed in) and throws, so the caller can say so.
 */
export async function signOutEverywhere() {
  if (refreshing) await refreshing.catch(() => {}); // send the current refresh token, not one being spent
  if (!tokens) return;
  await request("auth/logout", { method: "POST", body: { refresh_token: tokens.refresh_token, everywhere: true } });
  signOutLocally(null);
}

/** The session ended on the server's word (a 401 the refresh could not cure). */
export function expireSession(reason) {
  signOutLocally(reason || "登录已失效，请重新登录");
}

if (tokens) schedule();
