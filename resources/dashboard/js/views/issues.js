// Issues: a kanban of four columns. Cards move by drag and drop, or from the keyboard with Alt+→ / Alt+←
// on a focused card (or the Column menu of an opened card). Filters: text, priority and tags.

import { h, replace, debounce, select, uniqueId, userText, isolate } from "../dom.js";
import { go, href } from "../router.js";
import { priorityBadge, tagList, errorText, notify } from "../ui.js";
import { ago, when } from "../format.js";
import { IssueDialog, STATUSES, parseTags } from "./issue-editor.js";
import { View } from "./view.js";

const FIRST_PAGE = 100; // cards per column on the first paint: a screenful and then some, painted fast
const PAGE = 200; // cards per column loaded by "Show more" (or by scrolling to it)
const LABELS = Object.fromEntries(STATUSES);
const ORDER = STATUSES.map(([status]) => status);

function issueNumber(id) {
  return Number(String(id).replace(/^ISSUE_/, "")) || 0;
}

export class IssuesView extends View {
  mount(container) {
    this.columns = {};
    this.dialog = null;
    this.routeId = null;
    this.hintId = uniqueId("move-hint");
    this.search = h("input", { type: "search", placeholder: "Search text", "aria-label": "Search issues" });
    this.priority = select([["", "Any priority"], ["high", "High"], ["medium", "Medium"], ["low", "Low"]], "", {
      "aria-label": "Priority",
    });
    this.tags = h("input", { type: "text", placeholder: "Tags", "aria-label": "Tags (all must match)", list: "known-tags", spellcheck: "false" });
    this.tagOptions = h("datalist", { id: "known-tags" });
    this.clear = h("button", { type: "button", class: "small", hidden: true, onclick: () => this.clearFilters() }, "Clear filters");
    this.announcer = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    const board = h("div", { class: "board" }, ORDER.map((status) => this.buildColumn(status)));
    replace(
      container,
      h("section", { class: "page issues-page", "aria-labelledby": "issues-title" },
        h("div", { class: "toolbar" },
          h("h1", { id: "issues-title" }, "Issues"),
          h("button", { type: "button", class: "primary", onclick: () => this.openNew() }, "New issue"),
          this.search, this.priority, this.tags, this.tagOptions, this.clear,
          h("small", { id: this.hintId, class: "hint toolbar-hint" }, "Drag a card, or focus it and press Alt+→ / Alt+← to move it.")),
        board,
        this.announcer),
    );
    const reload = debounce(() => this.load(), 200);
    this.search.addEventListener("input", reload);
    this.tags.addEventListener("input", reload);
    this.priority.addEventListener("change", () => this.load());
    this.recount = debounce(() => this.loadCounts(), 250);
    this.listen("issue", (event) => this.onIssue(event));
    // Who is connected, to tell a card held by a live agent from one whose holder left.
    this.present = new Map();
    this.listen("agent", (event) => this.onAgent(event));
    this.every(30000, () => this.refreshTimes());
    this.onDestroy(() => {
      this.dialog?.close();
      this.moreObserver?.disconnect();
    });
    this.load();
  }

  route(route) {
    this.routeId = route.id;
    if (route.id && (!this.dialog || this.dialog.issueId !== route.id)) {
      this.dialog?.close();
      this.openDialog(route.id);
    } else if (!route.id && this.dialog) {
      this.dialog.close();
    }
  }

  refresh() {
    this.load();
    if (this.dialog && this.dialog.issueId && !this.dialog.editing) this.dialog.load();
  }

  openDialog(id) {
    const dialog = new IssueDialog(this.rpc, id, () => {
      if (this.dialog === dialog) this.dialog = null;
      if (!this.destroyed && this.routeId === id) go("issues");
      // Back on the board, focus returns to the card that was open.
      if (!this.destroyed) this.cardLink(id)?.focus();
    });
    this.dialog = dialog;
  }

  openNew(status = "open") {
    this.dialog?.close();
    const dialog = new IssueDialog(this.rpc, null, () => {
      if (this.dialog === dialog) this.dialog = null;
      if (dialog.created && !this.destroyed) {
        this.placeCard(dialog.created);
        this.cardLink(dialog.created.id)?.focus();
      }
    }, { status });
    this.dialog = dialog;
  }

  clearFilters() {
    this.search.value = "";
    this.priority.value = "";
    this.tags.value = "";
    this.load();
  }

  filters() {
    const params = {};
    const text = this.search.value.trim();
    if (text) params.text = text;
    if (this.priority.value) params.priority = this.priority.value;
    const tags = parseTags(this.tags.value).filter((t) => /^[A-Za-z0-9_-]{1,50}$/.test(t));
    if (tags.length) params.tags = tags;
    return params;
  }

  matches(issue) {
    const f = this.filters();
    if (f.priority && issue.priority !== f.priority) return false;
    if (f.tags && !f.tags.every((t) => issue.tags.includes(t))) return false;
    if (f.text) {
      const needle = f.text.toLowerCase();
      if (!issue.title.toLowerCase().includes(needle) && !(issue.content || "").toLowerCase().includes(needle)) return false;
    }
    return true;
  }

  buildColumn(status) {
    const headingId = uniqueId("col");
    const count = h("span", { class: "column-count", "aria-label": "issues" }, "…");
    const list = h("ol", { class: "cards", "aria-labelledby": headingId });
    const more = h("button", { type: "button", class: "more small", onclick: () => this.loadMore(status) }, "Show more");
    // Inside the scrolling list, at its end: it comes into view only when the loaded cards are scrolled past.
    const moreItem = h("li", { class: "more-item", hidden: true }, more);
    const add = h("button", {
      type: "button", class: "icon small add", "aria-label": `New issue in ${LABELS[status]}`, title: `New issue in ${LABELS[status]}`,
      onclick: () => this.openNew(status),
    }, "+");
    const element = h("section", { class: `column column-${status}`, dataset: { status }, "aria-labelledby": headingId },
      h("header", { class: "column-header" }, h("h2", { id: headingId }, LABELS[status]), count, add),
      list);
    list.append(moreItem);
    element.addEventListener("dragover", (event) => {
      if (!this.dragging) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      element.classList.add("drop-target");
    });
    element.addEventListener("dragleave", (event) => {
      if (!element.contains(event.relatedTarget)) element.classList.remove("drop-target");
    });
    element.addEventListener("drop", (event) => {
      event.preventDefault();
      element.classList.remove("drop-target");
      const id = event.dataTransfer.getData("application/x-murmuration-issue") || this.dragging;
      if (id) this.move(id, status);
    });
    this.columns[status] = { element, list, count, more, moreItem, issues: new Map(), total: 0 };
    // Scrolling to the end of a column loads its next cards, as if "Show more" were pressed.
    this.moreObserver ??= new IntersectionObserver((entries) => {
      for (const entry of entries) if (entry.isIntersecting) this.loadMore(entry.target.closest(".column").dataset.status);
    });
    this.moreObserver.observe(more);
    return element;
  }

  async loadAgents() {
    try {
      const listing = await this.rpc.call("list_agents");
      if (this.destroyed) return;
      this.present = new Map(listing.agents.map((agent) => [agent.session, agent.name]));
      this.presentKnown = true;
      this.markHolders();
    } catch {
      // holders show as connected until the next change says otherwise
    }
  }

  onAgent(event) {
    if (event.action === "call") return;
    if (event.action === "left") this.present.delete(event.agent.session);
    else this.present.set(event.agent.session, event.agent.name);
    this.markHolders();
  }

  holderBadge(assignee) {
    const badge = h("span", { class: "card-holder", dataset: { assignee } });
    this.markHolder(badge, new Set(this.present.values()));
    return badge;
  }

  /** A card's holder: connected, or gone (its claim is free for the next agent). Before the list of who is
   * connected has arrived, every holder shows as connected. */
  markHolder(badge, names) {
    const assignee = badge.dataset.assignee;
    const gone = this.presentKnown === true && !names.has(assignee);
    badge.classList.toggle("left", gone);
    badge.replaceChildren(userText(assignee), gone ? " (left)" : "");
    badge.title = gone ? "Held by an agent that left: the next claim takes it." : `Held by ${isolate(assignee)}`;
  }

  markHolders() {
    const names = new Set(this.present.values());
    for (const badge of document.querySelectorAll(".issues-page .card-holder")) this.markHolder(badge, names);
  }

  async load() {
    this.loadAgents();
    const filters = this.filters();
    this.clear.hidden = !Object.keys(filters).length;
    const token = (this.loadToken = (this.loadToken || 0) + 1);
    try {
      const answers = await Promise.all(
        ORDER.map((status) => this.rpc.call("list_issues", { ...filters, status, limit: FIRST_PAGE })),
      );
      if (this.destroyed || token !== this.loadToken) return;
      performance.mark("murmuration:issues-loaded");
      ORDER.forEach((status, i) => {
        const column = this.columns[status];
        column.issues = new Map(answers[i].issues.map((issue) => [issue.id, issue]));
        column.total = answers[i].total;
        this.renderColumn(status);
      });
      this.updateTagOptions();
      performance.mark("murmuration:board-rendered");
      document.body.dataset.board = "ready";
    } catch (error) {
      notify(`Could not load the issues: ${errorText(error)}`, "error");
    }
  }

  async loadMore(status) {
    const column = this.columns[status];
    if (column.loadingMore) return;
    column.loadingMore = true;
    try {
      const answer = await this.rpc.call("list_issues", { ...this.filters(), status, limit: PAGE, offset: column.issues.size });
      if (this.destroyed) return;
      const fresh = answer.issues.filter((issue) => !column.issues.has(issue.id));
      for (const issue of fresh) column.issues.set(issue.id, issue);
      column.moreItem.before(...fresh.map((issue) => this.card(issue)));
      column.total = answer.total;
      this.renderCount(status);
    } catch (error) {
      notify(errorText(error), "error");
    } finally {
      column.loadingMore = false;
    }
  }

  async loadCounts() {
    const filters = this.filters();
    try {
      const answers = await Promise.all(ORDER.map((status) => this.rpc.call("list_issues", { ...filters, status, limit: 1 })));
      if (this.destroyed) return;
      ORDER.forEach((status, i) => {
        this.columns[status].total = answers[i].total;
        this.renderCount(status);
      });
    } catch {
      // counts catch up on the next change
    }
  }

  renderColumn(status) {
    const column = this.columns[status];
    const cards = [...column.issues.values()].map((issue) => this.card(issue));
    replace(column.list, cards, column.moreItem);
    this.renderCount(status);
  }

  renderCount(status) {
    const column = this.columns[status];
    const shown = column.issues.size;
    column.count.textContent = String(column.total);
    column.moreItem.hidden = shown >= column.total;
    column.more.textContent = `Show more (${column.total - shown} more)`;
    column.list.classList.toggle("is-empty", shown === 0);
  }

  card(issue) {
    const link = h("a", {
      href: href("issues", issue.id), class: "card-link", draggable: "false", "aria-describedby": this.hintId,
    }, userText(issue.title));
    link.addEventListener("keydown", (event) => this.onCardKey(event, issue.id));
    const waiting = issue.waiting_on || [];
    const item = h("li", {
      class: `issue-card${waiting.length ? " is-blocked" : ""}`, draggable: "true",
      dataset: { id: issue.id, priority: issue.priority },
    },
      h("div", { class: "card-top" }, h("span", { class: "issue-id" }, issue.id), priorityBadge(issue.priority)),
      link,
      tagList(issue.tags),
      waiting.length
        ? h("p", { class: "card-blocked", title: `Waits on ${waiting.join(", ")} to be completed` },
            "Blocked by ", waiting.map((id, i) => [i ? ", " : "", h("a", { href: href("issues", id) }, id)]))
        : null,
      issue.assignee ? this.holderBadge(issue.assignee) : null,
      h("time", { class: "card-time", datetime: issue.updated_at, title: when(issue.updated_at) }, ago(issue.updated_at)));
    item.addEventListener("dragstart", (event) => {
      this.dragging = issue.id;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("application/x-murmuration-issue", issue.id);
      event.dataTransfer.setData("text/plain", issue.id);
      item.classList.add("dragging");
      document.body.classList.add("is-dragging");
    });
    item.addEventListener("dragend", () => {
      this.dragging = null;
      item.classList.remove("dragging");
      document.body.classList.remove("is-dragging");
      for (const column of Object.values(this.columns)) column.element.classList.remove("drop-target");
    });
    return item;
  }

  cardLink(id) {
    return this.findCard(id)?.querySelector(".card-link") || null;
  }

  findCard(id) {
    for (const column of Object.values(this.columns)) {
      const card = column.list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
      if (card) return card;
    }
    return null;
  }

  statusOf(id) {
    return ORDER.find((status) => this.columns[status].issues.has(id)) || null;
  }

  onCardKey(event, id) {
    if (!event.altKey || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    event.preventDefault();
    const from = this.statusOf(id);
    const index = ORDER.indexOf(from) + (event.key === "ArrowRight" ? 1 : -1);
    if (from === null || index < 0 || index >= ORDER.length) return;
    this.move(id, ORDER[index], { focus: true });
  }

  /** Move a card to `status` now, then tell the instance; put it back if the instance refuses. */
  async move(id, status, { focus = false } = {}) {
    const from = this.statusOf(id);
    if (!from || from === status) return;
    const issue = this.columns[from].issues.get(id);
    const moved = { ...issue, status };
    this.removeCard(id);
    this.columns[from].total -= 1;
    this.columns[status].total += 1;
    this.placeCard(moved, { count: false });
    this.renderCount(from);
    this.renderCount(status);
    if (focus) this.cardLink(id)?.focus();
    this.announcer.textContent = `${id} moved to ${LABELS[status]}.`;
    try {
      const updated = await this.rpc.call("update_issue", { issue_id: id, status });
      this.placeCard(updated, { count: false });
    } catch (error) {
      notify(`Could not move ${id}: ${errorText(error)}`, "error");
      this.removeCard(id);
      this.columns[from].total += 1;
      this.columns[status].total -= 1;
      this.placeCard(issue, { count: false });
      this.renderCount(from);
      this.renderCount(status);
    }
  }

  removeCard(id) {
    for (const status of ORDER) {
      const column = this.columns[status];
      if (column.issues.delete(id)) {
        column.list.querySelector(`li[data-id="${CSS.escape(id)}"]`)?.remove();
        column.list.classList.toggle("is-empty", column.issues.size === 0);
      }
    }
  }

  /** Show `issue` in its column at its place (newest first), replacing any older copy of it. */
  placeCard(issue, { count = true, flash = false } = {}) {
    const hadFocus = document.activeElement && this.findCard(issue.id)?.contains(document.activeElement);
    this.removeCard(issue.id);
    const column = this.columns[issue.status];
    if (!column) return;
    const number = issueNumber(issue.id);
    const entries = [...column.issues.entries()];
    let index = entries.findIndex(([id]) => issueNumber(id) < number);
    if (index === -1) index = entries.length;
    entries.splice(index, 0, [issue.id, issue]);
    column.issues = new Map(entries);
    const card = this.card(issue);
    if (flash) card.classList.add("flash");
    column.list.insertBefore(card, column.list.children[index] || column.moreItem);
    column.list.classList.toggle("is-empty", false);
    if (hadFocus) card.querySelector(".card-link").focus();
    if (count) this.renderCount(issue.status);
  }

  onIssue(event) {
    if (this.dialog && this.dialog.issueId === event.id) this.dialog.onEvent(event);
    if (event.action === "deleted") {
      this.removeCard(event.id);
    } else if (event.issue) {
      if (this.matches(event.issue)) this.placeCard(event.issue, { count: false, flash: true });
      else this.removeCard(event.issue.id);
      this.updateTagOptions(event.issue.tags);
      this.updateWaiting(event.issue);
    }
    if (event.action === "deleted" || event.action === "imported") this.load();
    this.markHolders();
    this.recount();
  }

  /** Cards waiting on `blocker` are blocked while it is unfinished and free once it is completed or archived. */
  updateWaiting(blocker) {
    const done = blocker.status === "completed" || blocker.status === "archived";
    for (const column of Object.values(this.columns)) {
      for (const issue of [...column.issues.values()]) {
        if (!(issue.blocked_by || []).includes(blocker.id)) continue;
        const others = (issue.waiting_on || []).filter((id) => id !== blocker.id);
        const waiting_on = done ? others : [...others, blocker.id].sort((a, b) => issueNumber(a) - issueNumber(b));
        if (waiting_on.join() !== (issue.waiting_on || []).join()) this.placeCard({ ...issue, waiting_on }, { count: false });
      }
    }
  }

  updateTagOptions(extra = []) {
    const known = new Set([...this.tagOptions.children].map((o) => o.value));
    const add = new Set(extra);
    if (!extra.length) {
      for (const column of Object.values(this.columns)) for (const issue of column.issues.values()) issue.tags.forEach((t) => add.add(t));
    }
    for (const tag of add) if (!known.has(tag)) this.tagOptions.append(h("option", { value: tag }));
  }

  refreshTimes() {
    for (const time of document.querySelectorAll(".issues-page .card-time")) time.textContent = ago(time.dateTime);
  }
}
