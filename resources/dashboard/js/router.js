// Hash routes: #/ (the overview), #/<view> and #/<view>/<item id>, for the views js/views/registry.js lists.
// The operations' web_url values link to exactly these. The router knows no view by name but the overview:
// it is told which views exist, so the view modules (which use href and go) never import their own registry.

/** The route a hash names among `views` (names): {view, id}; an unknown view is {view: "missing"}. */
export function parse(hash, views) {
  const path = (hash || "").replace(/^#\/?/, "");
  const [first, ...rest] = path.split("/");
  const view = first ? first : "overview";
  if (!views.includes(view)) return { view: "missing", id: null, path };
  let id = rest.length ? rest.join("/") : null;
  if (id !== null) {
    try {
      id = decodeURIComponent(id);
    } catch {
      // a malformed escape stays as it was written
    }
  }
  return { view, id: id || null };
}

/** The hash of a view and optional item. */
export function href(view, id = null) {
  if (view === "overview") return "#/";
  return id ? `#/${view}/${encodeURIComponent(id)}` : `#/${view}`;
}

/** Go to a view/item; `replace` avoids a new history entry (closing a dialog, say). */
export function go(view, id = null, { replace = false } = {}) {
  const target = href(view, id);
  if (location.hash === target) return;
  if (replace) history.replaceState(null, "", target);
  else location.hash = target;
  if (replace) window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** Call `handler(route)` now and on every hash change, routes among `views`; returns a function that stops it. */
export function watch(views, handler) {
  const listener = () => handler(parse(location.hash, views));
  window.addEventListener("hashchange", listener);
  listener();
  return () => window.removeEventListener("hashchange", listener);
}
