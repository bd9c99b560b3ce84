// A tiny application-wide event bus: auth changes, live notifications, unread count.
const target = new EventTarget();

export function emit(type, detail) {
  target.dispatchEvent(new CustomEvent(type, { detail }));
}

/** Subscribes; returns the function that unsubscribes (views call it when they close). */
export function on(type, handler) {
  const listener = (event) => handler(event.detail);
  target.addEventListener(type, listener);
  return () => target.removeEventListener(type, listener);
}
