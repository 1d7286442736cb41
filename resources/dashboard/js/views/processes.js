// Processes: every process with its state; start one; open one to read its live output and stop it.

import { h, replace, debounce, select, uniqueId, keepFocus, userText, isolate } from "../dom.js";
import { go, href } from "../router.js";
import { stateBadge, errorText, notify, busy, confirmAction } from "../ui.js";
import { ago, duration, timeElement, when } from "../format.js";
import { openStartDialog, commandText } from "./process-start.js";
import { LogPanel } from "./process-log.js";
import { fillList } from "../lists.js";
import { View } from "./view.js";

const PAGE = 100;
const STATES = ["queued", "starting", "running", "stopping", "stopped", "failed", "interrupted", "cancelled"];
const ACTIVE = new Set(["starting", "running", "stopping"]);

export class ProcessesView extends View {
  mount(container) {
    this.processes = new Map(); // id → record, in list order
    this.total = 0;
    this.selectedId = null;
    this.selected = null;
    this.logPanel = null;

    this.stateFilter = select([["", "All states"], ...STATES.map((s) => [s, s])], "", {
      "aria-label": "Show processes in state",
    });
    this.nameFilter = h("input", {
      type: "search", placeholder: "Filter by name or title", "aria-label": "Filter by name or title",
    });
    this.list = h("ul", { class: "process-list", "aria-label": "Processes" });
    this.more = h("button", { type: "button", class: "more", hidden: true, onclick: () => this.load(true) }, "Show more");
    this.count = h("span", { class: "muted count" });
    this.detail = h("section", { class: "detail process-detail", "aria-label": "Process" });

    const startButton = h("button", { type: "button", class: "primary", onclick: () => this.openStart() }, "Start process…");
    replace(
      container,
      h("section", { class: "page split-page processes-page", "aria-labelledby": "processes-title" },
        h("div", { class: "toolbar" },
          h("h1", { id: "processes-title" }, "Processes"),
          startButton,
          this.stateFilter,
          this.nameFilter,
          this.count),
        h("div", { class: "split" },
          h("div", { class: "list-pane" }, this.list, this.more),
          this.detail)),
    );
    this.stateFilter.addEventListener("change", () => this.load());
    this.nameFilter.addEventListener("input", debounce(() => this.load(), 200));
    this.listen("process", (event) => this.onProcess(event));
    this.listen("process_output", (event) => {
      if (this.logPanel && event.id === this.selectedId) this.logPanel.onOutput(event);
    });
    // Running times and "… ago" stay current.
    this.every(5000, () => this.tick());
    this.showEmptyDetail();
    this.load();
  }

  route(route) {
    if (route.id !== this.selectedId) this.select(route.id);
  }

  refresh() {
    this.load();
    if (this.selectedId) this.select(this.selectedId, true);
  }

  destroy() {
    super.destroy();
    this.logPanel = null;
  }

  openStart(initial = {}) {
    openStartDialog(this.rpc, (process) => go("processes", process.id), initial, this.app.info?.python ?? null);
  }

  filters() {
    const params = {};
    if (this.stateFilter.value) params.status = this.stateFilter.value;
    if (this.nameFilter.value.trim()) params.name = this.nameFilter.value.trim();
    return params;
  }

  matches(process) {
    const f = this.filters();
    if (f.status && process.state !== f.status) return false;
    if (f.name) {
      const needle = f.name.toLowerCase();
      if (!process.name.toLowerCase().includes(needle) && !process.title.toLowerCase().includes(needle)) return false;
    }
    return true;
  }

  async load(more = false) {
    const offset = more ? this.processes.size : 0;
    const token = (this.loadToken = (this.loadToken || 0) + 1);
    try {
      const answer = await this.rpc.call("list_processes", { ...this.filters(), limit: PAGE, offset });
      if (this.destroyed || token !== this.loadToken) return;
      if (!more) this.processes.clear();
      for (const process of answer.processes) this.processes.set(process.id, process);
      this.total = answer.total;
      this.renderList();
    } catch (error) {
      notify(`Could not list the processes: ${errorText(error)}`, "error");
    }
  }

  renderList() {
    fillList(this.list, [...this.processes.values()], (p) => this.row(p),
      Object.keys(this.filters()).length ? "No process matches these filters." : "No process has run yet. Start one.");
    this.more.hidden = this.processes.size >= this.total;
    this.more.textContent = `Show more (${this.total - this.processes.size} left)`;
    this.count.textContent = `${this.total} process${this.total === 1 ? "" : "es"}`;
  }

  row(process) {
    const current = process.id === this.selectedId;
    return h("li", { dataset: { id: process.id }, class: current ? "selected" : "" },
      h("a", { href: href("processes", process.id), class: "process-row", "aria-current": current ? "true" : null },
        h("span", { class: "row-title" }, userText(process.title)),
        stateBadge(process.state),
        h("span", { class: "row-command mono" }, commandText(process.command)),
        h("span", { class: "row-time muted" }, rowTime(process))));
  }

  onProcess(event) {
    const process = event.process;
    if (!process) return;
    const known = this.processes.has(process.id);
    if (known) {
      if (this.matches(process)) this.processes.set(process.id, process);
      else {
        this.processes.delete(process.id);
        this.total -= 1;
      }
    } else if (this.matches(process)) {
      // A new process is the newest: it goes to the top.
      this.processes = new Map([[process.id, process], ...this.processes]);
      this.total += 1;
    }
    if (known || this.matches(process)) this.renderListSoon();
    if (process.id === this.selectedId) {
      this.selected = process;
      this.renderDetailHeader();
    }
  }

  renderListSoon() {
    if (this._listFrame) return;
    this._listFrame = requestAnimationFrame(() => {
      this._listFrame = null;
      if (!this.destroyed) this.renderList();
    });
  }

  tick() {
    if (this.destroyed) return;
    for (const li of this.list.children) {
      const process = this.processes.get(li.dataset.id);
      const time = li.querySelector(".row-time");
      if (process && time) time.textContent = rowTime(process);
    }
    if (this.selected && ACTIVE.has(this.selected.state)) this.renderDetailHeader();
  }

  showEmptyDetail() {
    replace(this.detail, h("div", { class: "placeholder" },
      h("p", {}, "Choose a process to see its output."),
      h("p", { class: "muted" }, "Agents start processes with start_process; you can start one here too.")));
  }

  async select(id, keepLog = false) {
    this.selectedId = id;
    for (const li of this.list.children) {
      const on = li.dataset.id === id;
      li.classList.toggle("selected", on);
      const link = li.querySelector("a");
      if (on) link?.setAttribute("aria-current", "true");
      else link?.removeAttribute("aria-current");
    }
    if (!id) {
      this.selected = null;
      this.logPanel = null;
      this.showEmptyDetail();
      return;
    }
    try {
      const process = await this.rpc.call("get_process_status", { process_id: id });
      if (this.destroyed || this.selectedId !== id) return;
      this.selected = process;
      this.header = h("div", { class: "detail-header", dataset: { id: process.id } });
      this.logPanel = new LogPanel(this.rpc, process);
      replace(this.detail, this.header, this.logPanel.element);
      this.renderDetailHeader();
      await this.logPanel.load();
    } catch (error) {
      if (this.selectedId !== id) return;
      this.selected = null;
      this.logPanel = null;
      replace(this.detail, h("div", { class: "placeholder" },
        h("h2", {}, "Process not found"), h("p", {}, errorText(error)),
        h("a", { href: "#/processes" }, "Back to all processes")));
    }
  }

  renderDetailHeader() {
    const p = this.selected;
    if (!p || !this.header) return;
    const active = ACTIVE.has(p.state);
    const forceId = uniqueId("force");
    const force = h("input", { type: "checkbox", id: forceId, "data-action": "force" });
    const actions = [];
    if (active) {
      const stop = h("button", { type: "button", class: "danger", "data-action": "stop" }, "Stop");
      stop.addEventListener("click", () => this.stop(stop, force.checked));
      actions.push(stop, h("label", { for: forceId, class: "inline", title: "KILL at once instead of TERM, then KILL after 5 s" },
        force, " force"));
    } else if (p.state === "queued") {
      const cancel = h("button", { type: "button", class: "danger", "data-action": "cancel" }, "Cancel");
      cancel.addEventListener("click", () => this.cancel(cancel));
      actions.push(cancel);
    } else {
      actions.push(h("button", {
        type: "button",
        "data-action": "again",
        onclick: () => this.openStart({
          command: commandText(p.command), shell: typeof p.command === "string", title: p.title, cwd: p.cwd, priority: p.priority,
        }),
      }, "Run again…"));
    }
    const outcome = p.exit_code !== null && p.exit_code !== undefined
      ? `exit code ${p.exit_code}`
      : p.signal ? `signal ${p.signal}` : null;
    keepFocus(this.header, () => replace(this.header,
      h("div", { class: "detail-title" },
        h("h2", {}, userText(p.title)),
        stateBadge(p.state),
        h("div", { class: "actions" }, actions)),
      h("dl", { class: "facts inline" },
        fact("Command", h("code", { class: "mono" }, commandText(p.command))),
        fact("Folder", h("code", { class: "mono" }, p.cwd)),
        fact("Id", h("code", {}, p.id)),
        p.pid ? fact("Pid", String(p.pid)) : null,
        fact("Priority", String(p.priority)),
        p.attempts > 1 || p.next_attempt_at ? fact("Attempts", String(p.attempts)) : null,
        p.next_attempt_at ? fact("Next attempt", timeElement(p.next_attempt_at)) : null,
        fact(p.started_at ? "Started" : "Queued", timeElement(p.started_at || p.queued_at)),
        p.started_by ? fact("Started by", userText(p.started_by)) : null,
        p.started_at ? fact(p.ended_at ? "Ran for" : "Running for", duration(p.started_at, p.ended_at)) : null,
        p.ended_at ? fact("Ended", h("span", { title: when(p.ended_at) }, ago(p.ended_at))) : null,
        outcome ? fact("Outcome", outcome) : null,
        p.urls && p.urls.length ? fact("Listening", h("span", { class: "urls" },
          p.urls.map((url) => h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "mono" }, url)))) : null,
        p.port ? fact("Port", String(p.port)) : null,
        p.restart && p.restart !== "no" ? fact("Restart", `${p.restart} (${p.restarts} of ${p.max_restarts} in a row)`) : null,
        p.interrupted ? fact("Interrupted", p.interrupted) : null,
        p.error && p.error !== p.interrupted ? fact("Error", p.error) : null,
        p.env_vars && p.env_vars.length ? fact("Environment", p.env_vars.join(", ")) : null)));
  }

  async stop(button, force) {
    try {
      const process = await busy(button, this.rpc.call("stop_process", { process_id: this.selectedId, force }));
      notify(`“${isolate(process.title)}” is ${process.state}.`);
    } catch (error) {
      notify(`Could not stop it: ${errorText(error)}`, "error");
    }
  }

  async cancel(button) {
    if (!(await confirmAction("Cancel this queued process?", "Cancel it", { danger: true }))) return;
    try {
      await busy(button, this.rpc.call("cancel_queued_process", { queue_id: this.selectedId }));
    } catch (error) {
      notify(`Could not cancel it: ${errorText(error)}`, "error");
    }
  }
}

function rowTime(p) {
  if (ACTIVE.has(p.state) && p.started_at) return `running ${duration(p.started_at)}`;
  if (p.ended_at) return `ended ${ago(p.ended_at)}`;
  if (p.state === "queued" && p.next_attempt_at) return `retry ${ago(p.next_attempt_at)}`;
  return `queued ${ago(p.queued_at)}`;
}

function fact(label, value) {
  return h("div", { class: `fact fact-${label.toLowerCase().replace(/\W+/g, "-")}` }, h("dt", {}, label), h("dd", {}, value));
}
