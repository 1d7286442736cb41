// Overview: what runs, what waits, what failed; where the issues stand; the milestone; this instance.

import { h, replace, debounce, keepFocus, userText } from "../dom.js";
import { href } from "../router.js";
import { renderMarkdown } from "../markdown.js";
import { stateBadge, errorText, emptyState } from "../ui.js";
import { ago, timeElement, when } from "../format.js";
import { fillList } from "../lists.js";
import { View } from "./view.js";

export class OverviewView extends View {
  mount(container) {
    this.counts = {};
    this.els = {
      processCounts: h("dl", { class: "stat-grid" }),
      issueCounts: h("dl", { class: "stat-grid" }),
      milestone: h("div", { class: "milestone-body" }),
      instance: h("dl", { class: "facts" }),
      recent: h("ul", { class: "recent-list" }),
    };
    replace(
      container,
      h("section", { class: "page overview", "aria-labelledby": "overview-title" },
        h("h1", { id: "overview-title", class: "visually-hidden" }, "Overview"),
        h("div", { class: "overview-grid" },
          card("Processes", "#/processes", this.els.processCounts),
          card("Issues", "#/issues", this.els.issueCounts),
          card("Milestone", null, this.els.milestone, "milestone-card"),
          card("This instance", null, this.els.instance, "instance-card"),
          card("Recent processes", "#/processes", this.els.recent, "recent-card"),
        ),
      ),
    );
    const reloadProcesses = debounce(() => this.loadProcesses(), 150);
    const reloadIssues = debounce(() => this.loadIssues(), 150);
    this.listen("process", reloadProcesses);
    this.listen("queue", reloadProcesses);
    this.listen("issue", reloadIssues);
    this.listen("milestone", (event) => this.showMilestone(event.milestone));
    this.every(15000, () => this.showInstance());
    this.refresh();
  }

  refresh() {
    this.loadProcesses();
    this.loadIssues();
    this.loadMilestone();
    this.showInstance();
  }

  onInfo() {
    this.showInstance();
  }

  onConnection() {
    this.showInstance();
  }

  async loadProcesses() {
    try {
      const [queue, recent] = await Promise.all([
        this.rpc.call("get_queue_status", { include_entries: false }),
        this.rpc.call("list_processes", { limit: 6 }),
      ]);
      if (this.destroyed) return;
      const counts = queue.counts;
      keepFocus(this.els.processCounts, () => replace(
        this.els.processCounts,
        stat("Running", queue.running, "running", "#/processes"),
        stat("Queued", counts.queued, "queued", "#/queue", queue.paused ? "queue paused" : null),
        stat("Failed", counts.failed, "failed", "#/processes"),
      ));
      fillList(this.els.recent, recent.processes, (p) =>
        h("li", { dataset: { id: p.id } },
          h("a", { href: href("processes", p.id) }, userText(p.title)),
          " ", stateBadge(p.state), " ",
          h("span", { class: "muted" }, ago(p.started_at || p.queued_at))),
      "No process has run yet.");
    } catch (error) {
      replace(this.els.processCounts, emptyState(errorText(error)));
    }
  }

  async loadIssues() {
    try {
      const [open, progress, completed] = await Promise.all(
        ["open", "in-progress", "completed"].map((status) => this.rpc.call("list_issues", { status, limit: 1 })),
      );
      if (this.destroyed) return;
      keepFocus(this.els.issueCounts, () => replace(
        this.els.issueCounts,
        stat("Open", open.total, "open", "#/issues"),
        stat("In progress", progress.total, "in-progress", "#/issues"),
        stat("Completed", completed.total, "completed", "#/issues"),
      ));
    } catch (error) {
      replace(this.els.issueCounts, emptyState(errorText(error)));
    }
  }

  async loadMilestone() {
    try {
      const answer = await this.rpc.call("get_milestone");
      if (!this.destroyed) this.showMilestone(answer.milestone);
    } catch (error) {
      replace(this.els.milestone, emptyState(errorText(error)));
    }
  }

  showMilestone(milestone) {
    if (!milestone) {
      replace(this.els.milestone, emptyState("No milestone is set. Agents set one with set_milestone."));
      return;
    }
    const progress = Math.max(0, Math.min(100, milestone.progress || 0));
    replace(
      this.els.milestone,
      h("h3", { class: "milestone-title" }, userText(milestone.title)),
      h("div", { class: "progress-row" },
        h("progress", { max: "100", value: String(progress), "aria-label": "Milestone progress" }),
        h("span", { class: "progress-value" }, `${progress}%`)),
      h("p", { class: "muted" },
        milestone.target_date ? `Target date: ${milestone.target_date}` : "No target date",
        " · updated ", timeElement(milestone.updated_at)),
      milestone.description ? h("div", { class: "markdown" }, renderMarkdown(milestone.description)) : null,
      milestone.related_issues && milestone.related_issues.length
        ? h("p", {}, "Related: ",
            milestone.related_issues.map((id, i) => [i ? ", " : "", h("a", { href: href("issues", id) }, id)]))
        : null,
    );
  }

  showInstance() {
    const info = this.app.info;
    const state = this.rpc.state;
    const connection = { open: "connected", connecting: "connecting…", reconnecting: "reconnecting…" }[state];
    replace(
      this.els.instance,
      fact("Name", info ? userText(info.name) : "…"),
      fact("Address", info ? h("a", { href: info.url }, info.url) : "…"),
      fact("Project folder", info ? h("code", { "data-testid": "overview-cwd" }, info.cwd) : "…"),
      fact("Connection", h("span", { class: `conn conn-${state}`, "data-testid": "overview-connection" }, connection)),
      fact("Version", info ? info.version : "…"),
      fact("Started", info ? h("span", { title: when(info.started_at) }, ago(info.started_at)) : "…"),
      fact("Instance id", info ? h("code", {}, info.id) : "…"),
    );
  }
}

function card(title, link, body, extraClass = "") {
  return h("section", { class: `card ${extraClass}` },
    h("h2", {}, link ? h("a", { href: link }, title) : title),
    body);
}

function stat(label, value, kind, link, note = null) {
  return h("div", { class: `stat stat-${kind}`, dataset: { stat: kind } },
    h("dt", {}, label),
    h("dd", {}, h("a", { href: link, "aria-label": `${value} ${label.toLowerCase()}` }, String(value ?? 0)),
      note ? h("small", { class: "stat-note" }, note) : null));
}

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}
