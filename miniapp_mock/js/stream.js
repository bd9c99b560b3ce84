// The live stream of the citizen's events (Server-Sent Events).
//
// EventSource cannot send an Authorization header, so each connection first asks for a
// single-use ticket (POST /me/stream-tickets, valid 60 s) and opens
// /me/stream?ticket=…&last_event_id=…. EventSource would reconnect by itself with the
// spent ticket, so on any error the source is closed and a new ticket is fetched, with
// backoff. Every event is emitted once on the bus as "notification" (deduplicated by its
// id). While the server has no ticket endpoint (404) the inbox is polled instead.

import { api, ApiError } from "./api.js";
import { emit } from "./bus.js";
import { apiUrl } from "./http.js";

const EVENT_TYPES = [
  "receipt.issued", "receipt.red_reversed", "receipt.paper_exchanged", "receipt.voided",
  "receipt.authorized", "receipt.locked", "receipt.unlocked", "receipt.lock_expired",
  "receipt.reimbursed", "receipt.reimbursement_rejected",
  "authorization.requested", "authorization.approved", "authorization.declined", "authorization.revoked",
];
const MIN_DELAY = 1_000;
const MAX_DELAY = 60_000;
const POLL_MS = 15_000;
const SEEN_LIMIT = 500;

let source = null;
let running = false;
let generation = 0;
let lastEventId = null;
let delay = MIN_DELAY;
let reconnectTimer = null;
let pollTimer = null;
let pollCursor = null; // highest notification_id seen while polling
const seen = new Set();

function remember(id) {
  seen.add(id);
  if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value);
}

function deliver(payload, eventId) {
  const id = eventId || (payload && payload.id);
  if (!payload || typeof payload !== "object") return;
  if (id) {
    if (seen.has(id)) return;
    remember(id);
    lastEventId = id;
  }
  if (typeof payload.notification_id === "number" && (pollCursor === null || payload.notification_id > pollCursor)) {
    pollCursor = payload.notification_id;
  }
  emit("notification", payload);
}

function onEvent(event) {
  let payload;
  try {
    payload = JSON.parse(event.data);
  } catch {
    return;
  }
  if (!payload.type && event.type !== "message") payload.type = event.type;
  deliver(payload, event.lastEventId);
}

function setState(state) {
  emit("stream:state", state);
}

function closeSource() {
  if (source) {
    source.close();
    source = null;
  }
}

function scheduleReconnect(gen) {
  clearTimeout(reconnectTimer);
  const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
  delay = Math.min(delay * 2, MAX_DELAY);
  reconnectTimer = setTimeout(() => {
    if (running && gen === generation) connect(gen);
  }, wait);
}

async function connect(gen) {
  closeSource();
  let ticket;
  try {
    ticket = await api.streamTicket();
  } catch (error) {
    if (!running || gen !== generation) return;
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
      startPolling(gen); // the server has no ticket endpoint: keep the badge live by polling
      return;
    }
    if (error instanceof ApiError && error.status === 401) {
      setState("closed"); // signed out: app.js stops the stream
      return;
    }
    setState("reconnecting");
    scheduleReconnect(gen);
    return;
  }
  if (!running || gen !== generation) return;
  const url = apiUrl("me/stream", { ticket: ticket && ticket.ticket, last_event_id: lastEventId });
  const es = new EventSource(url);
  source = es;
  es.addEventListener("open", () => {
    delay = MIN_DELAY;
    setState("open");
  });
  es.addEventListener("message", onEvent);
  for (const type of EVENT_TYPES) es.addEventListener(type, onEvent);
  es.addEventListener("error", () => {
    if (source !== es) return;
    closeSource(); // the ticket is spent: never let EventSource retry with it
    if (!running || gen !== generation) return;
    setState("reconnecting");
    scheduleReconnect(gen);
  });
}

async function pollOnce(gen) {
  try {
    const page = await api.notifications({ limit: 20 });
    if (!running || gen !== generation) return;
    const items = (page && page.items) || [];
    if (pollCursor === null) {
      pollCursor = items.reduce((max, n) => Math.max(max, n.notification_id || 0), 0);
      for (const n of items) if (n.id) remember(n.id);
    } else {
      const fresh = items.filter((n) => (n.notification_id || 0) > pollCursor).reverse();
      for (const n of fresh) deliver(n, n.id);
    }
    if (typeof page.unread_count === "number") emit("unread", page.unread_count);
  } catch {
    /* try again at the next tick */
  }
}

function startPolling(gen) {
  setState("polling");
  clearInterval(pollTimer);
  pollOnce(gen);
  pollTimer = setInterval(() => pollOnce(gen), POLL_MS);
}

/**
 * Starts the stream. `since`: the newest event id the app already knows (the inbox's
 * first item), so events between the inbox load and the connection are not lost.
 * `sinceNotificationId`: the same for the polling fallback.
 */
export function startStream({ since, sinceNotificationId } = {}) {
  stopStream();
  running = true;
  generation += 1;
  delay = MIN_DELAY;
  if (since) {
    lastEventId = since;
    remember(since);
  }
  if (typeof sinceNotificationId === "number") pollCursor = sinceNotificationId;
  connect(generation);
}

export function stopStream() {
  running = false;
  generation += 1;
  clearTimeout(reconnectTimer);
  clearInterval(pollTimer);
  closeSource();
  lastEventId = null;
  pollCursor = null;
  seen.clear();
}

/** Event types that concern one receipt: the key(s) it names. */
export function receiptKeysOf(notification) {
  const keys = new Set();
  if (!notification) return keys;
  if (notification.receipt_key) keys.add(notification.receipt_key);
  const data = notification.data || {};
  if (data.receipt_key) keys.add(data.receipt_key);
  if (Array.isArray(data.receipt_keys)) for (const k of data.receipt_keys) keys.add(k);
  return keys;
}
