// Hash routing: "#/wallet", "#/receipt/<key>", "#/scan?qr=<urlencoded text>" …

/** The current route: path segments and query of the part after "#". */
export function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart = ""] = raw.split("?");
  const segments = pathPart.split("/").filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { name: segments[0] || "", segments, query: new URLSearchParams(queryPart), hash: `#/${raw}` };
}

export function href(path, query) {
  const qs = query ? new URLSearchParams(query).toString() : "";
  return `#/${path.replace(/^\/+/, "")}${qs ? `?${qs}` : ""}`;
}

/** Goes to a route; `replace` keeps the current entry out of the history (no way back to it). */
export function navigate(path, { replace = false, query } = {}) {
  const target = path.startsWith("#") ? path : href(path, query);
  if (target === location.hash) {
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    return;
  }
  if (replace) {
    history.replaceState(history.state, "", target);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = target;
  }
}

/** Changes the address without rendering again (a finished flow that must not be replayed). */
export function rewrite(path) {
  history.replaceState(history.state, "", href(path));
}

export function startRouter(render) {
  window.addEventListener("hashchange", () => render(currentRoute()));
  render(currentRoute());
}
