// A markdown text field with Write / Preview tabs; the preview is rendered safely (see markdown.js).

import { h, replace, uniqueId } from "../dom.js";
import { renderMarkdown } from "../markdown.js";

/** {element, textarea}: a labelled field whose textarea is named `name`. */
export function markdownField(label, name, value = "", { rows = 10, required = false } = {}) {
  const id = uniqueId(name);
  const textarea = h("textarea", { id, name, rows: String(rows), class: "content-input", required });
  textarea.value = value;
  const preview = h("div", { class: "markdown preview", hidden: true, tabindex: "0", "aria-label": `${label} preview` });
  const writeTab = h("button", { type: "button", class: "tab", "aria-pressed": "true" }, "Write");
  const previewTab = h("button", { type: "button", class: "tab", "aria-pressed": "false" }, "Preview");
  const show = (previewing) => {
    if (previewing) {
      replace(preview, textarea.value.trim() ? renderMarkdown(textarea.value) : h("p", { class: "muted" }, "Nothing to preview."));
    }
    preview.hidden = !previewing;
    textarea.hidden = previewing;
    writeTab.setAttribute("aria-pressed", String(!previewing));
    previewTab.setAttribute("aria-pressed", String(previewing));
  };
  writeTab.addEventListener("click", () => {
    show(false);
    textarea.focus();
  });
  previewTab.addEventListener("click", () => show(true));
  const element = h("div", { class: "field markdown-field" },
    h("div", { class: "label-row" },
      h("label", { for: id }, label),
      h("div", { class: "tabs-mini", role: "group", "aria-label": `${label} mode` }, writeTab, previewTab)),
    textarea,
    preview);
  return { element, textarea };
}
