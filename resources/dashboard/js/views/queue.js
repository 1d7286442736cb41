// Queue: what runs, what waits (and for what: room, or a retry's backoff), pause / resume, cancel,
// and the queue's settings, which apply at once.

import { h, replace, debounce, field, uniqueId, userText, isolate } from "../dom.js";
import { fillList } from "../lists.js";
import { href } from "../router.js";
import { stateBadge, errorText, notify, busy, showFieldError } from "../ui.js";
import { ago, duration, timeElement } from "../format.js";
import { shellQuote } from "./process-start.js";
import { View } from "./view.js";

// The settings as set_queue_config names them (and as `queue` events carry them).
const SETTINGS = [
  { name: "max_concurrent", label: "Run at most", unit: "processes at once", min: 1, max: 50,
    hint: "Counts running processes." },
  { name: "max_queue_size", label: "Queue at most", unit: "waiting processes", min: 1, max: 10000 },
  { name: "max_retries", label: "Retry up to", unit: "times", min: 0, max: 10 },
  { name: "retry_delay_ms", label: "First retry after", unit: "ms", min: 100, max: 300000 },
  { name: "retry_factor", label: "Each retry waits", unit: "× longer", min: 1, max: 10, step: "0.1" },
  { name: "retry_max_delay_ms", label: "Never wait more than", unit: "ms", min: 100, max: 3600000 },
];
const ACTIVE_STATES = ["starting", "running", "stopping"];

export class QueueView extends View {
  mount(container) {
    this.status = h("div", { class: "queue-status" });
    this.counts = h("dl", { class: "count-chips", "aria-label": "Processes by state" });
    this.running = h("ul", { class: "entry-list", "aria-label": "Running" });
    this.ready = h("ul", { class: "entry-list", "aria-label": "Waiting to start" });
    this.retrying = h("ul", { class: "entry-list", "aria-label": "Waiting to retry" });
    this.configForm = this.buildConfigForm();
    replace(
      container,
      h("section", { class: "page queue-page", "aria-labelledby": "queue-title" },
        h("div", { class: "toolbar" }, h("h1", { id: "queue-title" }, "Queue"), this.status),
        this.counts,
        h("div", { class: "queue-grid" },
          h("div", { class: "queue-lists" },
            section("Running", this.running),
            section("Waiting to start", this.ready, "Highest priority first, then first come."),
            section("Waiting to retry", this.retrying, "Failed attempts wait with a growing delay.")),
          h("section", { class: "card config-card", "aria-labelledby": "config-title" },
            h("h2", { id: "config-title" }, "Settings"),
            this.configForm))),
    );
    const reload = debounce(() => this.load(), 120);
    this.listen("process", reload);
    this.listen("queue", (event) => {
      if (event.config) this.showConfig(event.config, true);
      reload();
    });
    this.every(1000, () => this.tickTimes());
    this.load();
  }

  refresh() {
    this.load();
  }

  async load() {
    const token = (this.loadToken = (this.loadToken || 0) + 1);
    try {
      const [queue, ...active] = await Promise.all([
        this.rpc.call("get_queue_status", { include_entries: true, limit: 500 }),
        ...ACTIVE_STATES.map((status) => this.rpc.call("list_processes", { status, limit: 100 })),
      ]);
      if (this.destroyed || token !== this.loadToken) return;
      this.queue = queue;
      this.showStatus(queue);
      this.showCounts(queue.counts);
      const now = Date.now();
      const waitingRetry = (p) => p.next_attempt_at && Date.parse(p.next_attempt_at) > now;
      fillList(this.running, active.flatMap((a) => a.processes), (p) => this.entry(p, false),
        "Nothing runs right now.");
      fillList(this.ready, queue.entries.filter((p) => !waitingRetry(p)), (p) => this.entry(p, true),
        queue.paused ? "Nothing waits. The queue is paused: new processes will wait here." : "Nothing waits to start.");
      fillList(this.retrying, queue.entries.filter(waitingRetry), (p) => this.entry(p, true), "No retry is pending.");
      this.showConfig(queue.config, false);
    } catch (error) {
      notify(`Could not read the queue: ${errorText(error)}`, "error");
    }
  }

  showStatus(queue) {
    const button = h("button", { type: "button", class: queue.paused ? "primary" : "", "data-action": queue.paused ? "resume" : "pause" },
      queue.paused ? "Resume queue" : "Pause queue");
    button.addEventListener("click", async () => {
      try {
        const answer = await busy(button, this.rpc.call(queue.paused ? "resume_queue" : "pause_queue"));
        this.showStatus(answer);
      } catch (error) {
        notify(errorText(error), "error");
      }
    });
    const hadFocus = this.status.contains(document.activeElement);
    replace(this.status,
      h("span", { class: `queue-state ${queue.paused ? "paused" : "running"}`, "data-testid": "queue-state" },
        queue.paused ? "Paused — nothing queued starts" : "Running"),
      button);
    if (hadFocus) button.focus();
  }

  showCounts(counts) {
    const order = ["queued", "running", "starting", "stopping", "stopped", "failed", "interrupted", "cancelled"];
    replace(this.counts, order.map((state) =>
      h("div", { class: `count-chip state-${state}` }, h("dt", {}, state), h("dd", {}, String(counts[state] ?? 0)))),
    counts.waiting_retry ? h("div", { class: "count-chip" }, h("dt", {}, "retry pending"), h("dd", {}, String(counts.waiting_retry))) : null);
  }

  entry(p, cancellable) {
    const cancel = cancellable
      ? h("button", { type: "button", class: "small danger", "data-action": "cancel", "aria-label": `Cancel ${p.title}` }, "Cancel")
      : null;
    cancel?.addEventListener("click", async () => {
      try {
        await busy(cancel, this.rpc.call("cancel_queued_process", { queue_id: p.id }));
        notify(`Cancelled “${isolate(p.title)}”.`);
      } catch (error) {
        notify(errorText(error), "error");
      }
    });
    const retry = p.next_attempt_at
      ? h("span", { class: "retry-info" },
          `attempt ${p.attempts + 1} of ${(this.queue?.config.max_retries ?? 0) + 1} · next `,
          h("time", { class: "countdown", datetime: p.next_attempt_at, title: p.next_attempt_at }, ago(p.next_attempt_at)))
      : null;
    return h("li", { class: "entry", dataset: { id: p.id, state: p.state } },
      h("div", { class: "entry-main" },
        h("a", { href: href("processes", p.id), class: "entry-title", "data-action": "open" }, userText(p.title)),
        stateBadge(p.state),
        h("span", { class: "badge priority-n", title: "priority" }, `P${p.priority}`)),
      h("div", { class: "entry-meta muted" },
        h("code", { class: "mono" }, p.command.map(shellQuote).join(" ")),
        " · ",
        p.state === "queued" || !p.started_at ? ["queued ", timeElement(p.queued_at)] : `running ${duration(p.started_at)}`,
        retry ? [" · ", retry] : null,
        p.error ? [" · ", h("span", { class: "entry-error" }, p.error)] : null),
      cancel ? h("div", { class: "entry-actions" }, cancel) : null);
  }

  tickTimes() {
    for (const time of document.querySelectorAll(".queue-page time.countdown")) {
      time.textContent = ago(time.dateTime);
    }
  }

  buildConfigForm() {
    this.inputs = {};
    const rows = SETTINGS.map((s) => {
      const input = h("input", {
        type: "number", name: s.name, min: String(s.min), max: String(s.max), step: s.step || "1", required: true,
        class: "num",
      });
      input.addEventListener("input", () => input.classList.add("dirty"));
      this.inputs[s.name] = input;
      const wrapper = field(s.label, input, s.hint);
      wrapper.append(h("span", { class: "unit" }, s.unit));
      return wrapper;
    });
    const onExitId = uniqueId("on-exit");
    this.inputs.retry_on_exit = h("input", { type: "checkbox", id: onExitId, name: "retry_on_exit" });
    this.inputs.retry_on_exit.addEventListener("change", () => this.inputs.retry_on_exit.classList.add("dirty"));
    const save = h("button", { type: "submit", class: "primary" }, "Save settings");
    const reset = h("button", { type: "button", onclick: () => this.queue && this.showConfig(this.queue.config, true) }, "Undo changes");
    // Disabled until the instance's settings are shown, so nothing is saved against unknown values.
    this.configFields = h("fieldset", { disabled: true },
      rows,
      h("div", { class: "field check" },
        h("label", { for: onExitId }, this.inputs.retry_on_exit, " Also retry processes that exit with an error")),
      h("div", { class: "actions" }, reset, save));
    const form = h("form", { class: "config-form", novalidate: true }, this.configFields);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const changes = {};
      for (const s of SETTINGS) {
        const input = this.inputs[s.name];
        const value = Number(input.value);
        if (input.value === "" || !Number.isFinite(value) || value < s.min || value > s.max) {
          showFieldError(form, { message: `${s.label} must be between ${s.min} and ${s.max}.`, data: { field: s.name } });
          return;
        }
        if (value !== this.current[s.name]) changes[s.name] = value;
      }
      if (this.inputs.retry_on_exit.checked !== this.current.retry_on_exit) {
        changes.retry_on_exit = this.inputs.retry_on_exit.checked;
      }
      if (!Object.keys(changes).length) {
        notify("Nothing changed.");
        return;
      }
      try {
        const answer = await busy(save, this.rpc.call("set_queue_config", changes));
        for (const input of Object.values(this.inputs)) input.classList.remove("dirty");
        this.showConfig(answer.config, true);
        notify("Queue settings saved; they apply now.");
      } catch (error) {
        showFieldError(form, error);
      }
    });
    return form;
  }

  /** Show settings (from an operation's answer or a `queue` event: the same names); `force` overwrites edits. */
  showConfig(config, force) {
    this.configFields.disabled = false;
    this.current = {};
    for (const s of SETTINGS) this.current[s.name] = config[s.name];
    this.current.retry_on_exit = config.retry_on_exit;
    for (const [name, input] of Object.entries(this.inputs)) {
      if (!force && input.classList.contains("dirty")) continue; // a person is editing it
      if (input.type === "checkbox") input.checked = !!this.current[name];
      else input.value = String(this.current[name]);
      if (force) input.classList.remove("dirty");
    }
  }
}

function section(title, list, hint = null) {
  const id = uniqueId("queue-section");
  return h("section", { class: "card entries", "aria-labelledby": id },
    h("h2", { id }, title, hint ? h("small", { class: "muted heading-hint" }, hint) : null),
    list);
}
