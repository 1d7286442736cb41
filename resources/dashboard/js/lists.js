// The shape every live list shares: its items, or one line saying there are none, drawn again in place
// without losing the keyboard's place in it. The line for "none" is a list item inside a list (a list holds
// only items, and screen readers count them) and a paragraph anywhere else.

import { h, keepFocus, replace } from "./dom.js";
import { emptyState } from "./ui.js";

/** Fill the list `list` (ul or ol) with one `renderItem(item)` per item, or a row saying `emptyText`. */
export function fillList(list, items, renderItem, emptyText) {
  const empty = () => h("li", { class: "empty-row" }, emptyState(emptyText));
  keepFocus(list, () => replace(list, items.length ? items.map(renderItem) : empty()));
}

/** Fill `panel` with `renderAll(items)` (a table, a list), or a paragraph saying `emptyText` when there are none. */
export function fillPanel(panel, items, renderAll, emptyText) {
  keepFocus(panel, () => replace(panel, items.length ? renderAll(items) : emptyState(emptyText)));
}
