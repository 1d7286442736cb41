// Building DOM nodes from data. Text always goes in through text nodes, never through HTML parsing.

/**
 * Create an element: h("button", {class: "primary", onclick: fn, disabled: true}, "Save").
 * Attributes: `class`, `dataset` (object), `on<event>` (listeners), booleans as properties, the rest via
 * setAttribute. Children: nodes, strings (as text), numbers, arrays, null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/**
 * Text a person or an agent wrote (a title, a name), shown so that it cannot reorder what is around it: a
 * right-to-left override (U+202E) or any other bidi control inside stays inside. `userText` is an element
 * (<bdi>, isolated with its own direction); `isolate` is the same for text inside a sentence or an attribute,
 * between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE.
 */
export function userText(text, attrs = {}) {
  return h("bdi", attrs, text);
}

export function isolate(text) {
  return `\u2068${text}\u2069`;
}

/** Append children (nodes, strings, arrays, falsy values skipped) to `el`. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace every child of `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A labelled form control: <label>Text <input …></label> kept as label + control for styling. */
export function field(labelText, control, hint) {
  const id = control.id || uniqueId("f");
  control.id = id;
  const parts = [h("label", { for: id }, labelText), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "hint" }, hint));
  }
  return h("div", { class: "field" }, parts);
}

/** A <select> of `options` ([value, label] pairs or plain values), with `selected` chosen. */
export function select(options, selected, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map((option) => {
      const [value, label] = Array.isArray(option) ? option : [option, option];
      return h("option", { value, selected: value === selected }, label);
    }),
  );
}

let counter = 0;
/** An id no other element of the page has. */
export function uniqueId(prefix = "id") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** Call `fn` once `ms` have passed without another call. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/**
 * Run `render` (which rebuilds part of `container`) and put the focus back where it was: on the element
 * of the same item (`data-id`, `data-stat`) and the same role (`data-action`, or its tag). Live updates
 * must not throw a keyboard user's focus away.
 */
export function keepFocus(container, render) {
  const active = document.activeElement;
  if (!active || active === document.body || !container.contains(active)) {
    render();
    return;
  }
  const holder = active.closest("[data-id], [data-stat]");
  const key = holder
    ? holder.dataset.id !== undefined
      ? `[data-id="${CSS.escape(holder.dataset.id)}"]`
      : `[data-stat="${CSS.escape(holder.dataset.stat)}"]`
    : null;
  const role = active.dataset.action ? `[data-action="${CSS.escape(active.dataset.action)}"]` : active.tagName.toLowerCase();
  render();
  if (!key || container.contains(document.activeElement)) return;
  const item = container.querySelector(key);
  const target = item && (item.matches(role) ? item : item.querySelector(role));
  target?.focus({ preventScroll: true });
}
