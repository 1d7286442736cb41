// Small pieces every view uses: state badges, notices, confirmation, empty and error states.

import { h } from "./dom.js";

const STATE_LABELS = {
  queued: "queued",
  starting: "starting",
  running: "running",
  stopping: "stopping",
  stopped: "stopped",
  failed: "failed",
  interrupted: "interrupted",
  cancelled: "cancelled",
  "waiting-retry": "retry pending",
};

/** A badge for a process state (the word is always shown; colour only adds to it). */
export function stateBadge(state, extra = "") {
  return h("span", { class: `badge state-${state}`, dataset: { state } }, STATE_LABELS[state] || state, extra);
}

/** A badge for an issue or fragment priority. */
export function priorityBadge(priority) {
  return h("span", { class: `badge priority-${priority}`, title: `${priority} priority` }, priority);
}

/** Tag chips. */
export function tagList(tags) {
  if (!tags || !tags.length) return null;
  return h(
    "ul",
    { class: "tags", "aria-label": "Tags" },
    tags.map((tag) => h("li", { class: "tag" }, tag)),
  );
}

/** Show a short notice; errors stay until dismissed or replaced, others fade after a few seconds. */
export function notify(message, kind = "info") {
  const region = document.getElementById("toasts");
  const toast = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, message),
    h("button", { type: "button", class: "icon", "aria-label": "Dismiss", onclick: () => toast.remove() }, "×"),
  );
  region.append(toast);
  while (region.children.length > 4) region.firstElementChild.remove();
  setTimeout(() => toast.remove(), kind === "error" ? 12000 : 4000);
}

/** The message of an RPC failure, for a person. */
export function errorText(error) {
  return error && error.message ? error.message : String(error);
}

/** Ask a yes/no question in a modal dialog; resolves true when confirmed. */
export function confirmAction(question, confirmLabel = "Confirm", { danger = false } = {}) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-label": question },
      h("form", { method: "dialog" },
        h("p", {}, question),
        h("div", { class: "actions" },
          h("button", { value: "cancel", type: "submit" }, "Cancel"),
          h("button", { value: "ok", type: "submit", class: danger ? "danger" : "primary" }, confirmLabel),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A placeholder for a list with nothing in it. */
export function emptyState(text) {
  return h("p", { class: "empty" }, text);
}

/** Disable `button` while `promise` runs; returns the promise. */
export async function busy(button, promise) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await promise;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** Show a field's error next to it, from an RpcError whose data names the field. */
export function showFieldError(form, error) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const bad of form.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
  const name = error && error.data && error.data.field;
  const control = name ? form.querySelector(`[name="${CSS.escape(String(name).split(".")[0])}"]`) : null;
  const message = h("p", { class: "field-error", role: "alert" }, errorText(error));
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.closest(".field")?.append(message);
    control.focus();
  } else {
    form.prepend(message);
  }
}
