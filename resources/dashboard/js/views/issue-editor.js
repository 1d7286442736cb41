// One issue in a modal dialog: read it (markdown rendered safely), change its column, edit or delete it;
// or write a new one.

import { h, replace, field, select, uniqueId, userText, isolate } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { markdownField } from "./markdown-field.js";
import { priorityBadge, tagList, errorText, notify, busy, showFieldError, confirmAction } from "../ui.js";
import { timeElement } from "../format.js";

export const STATUSES = [
  ["open", "Open"],
  ["in-progress", "In progress"],
  ["completed", "Completed"],
  ["archived", "Archived"],
];
const PRIORITIES = ["low", "medium", "high"];

/** Tags typed as "a, b c" → ["a", "b", "c"]. */
export function parseTags(text) {
  return [...new Set(text.split(/[\s,]+/).map((t) => t.trim()).filter(Boolean))];
}

export class IssueDialog {
  /** `issueId` null means a new issue. `onClose()` runs when the dialog closes, however it closes. */
  constructor(rpc, issueId, onClose, defaults = {}) {
    this.rpc = rpc;
    this.issueId = issueId;
    this.issue = null;
    this.editing = !issueId;
    this.defaults = defaults;
    this.onClose = onClose;
    this.headingId = uniqueId("issue-heading");
    this.body = h("div", { class: "sheet-body" });
    this.dialog = h("dialog", { class: "sheet issue-dialog", "aria-labelledby": this.headingId, dataset: { issueId: issueId || "new" } },
      this.body);
    this.dialog.addEventListener("close", () => {
      this.dialog.remove();
      this.closed = true;
      this.onClose();
    });
    document.body.append(this.dialog);
    this.dialog.showModal();
    if (issueId) this.load();
    else this.renderForm();
  }

  close() {
    if (!this.closed) this.dialog.close();
  }

  async load() {
    replace(this.body, this.header("Loading…"), h("p", { class: "muted" }, "Loading the issue…"));
    try {
      this.issue = await this.rpc.call("get_issue", { issue_id: this.issueId });
      if (!this.closed) this.editing ? this.renderForm() : this.renderView();
    } catch (error) {
      replace(this.body, this.header("Issue not found"), h("p", {}, errorText(error)),
        h("div", { class: "actions" }, h("button", { type: "button", onclick: () => this.close() }, "Close")));
    }
  }

  /** An `issue` event for this issue (a change by an agent, the CLI or another tab). */
  onEvent(event) {
    if (event.action === "deleted") {
      if (!this.deleting) notify(`${this.issueId} was deleted elsewhere.`);
      this.close();
      return;
    }
    if (!event.issue) return;
    this.issue = event.issue;
    if (!this.editing) this.renderView();
    else if (this.form) {
      this.changedElsewhere ??= h("p", { class: "notice", role: "status" },
        "This issue was changed elsewhere while you edit it; saving overwrites the fields you changed.");
      this.form.prepend(this.changedElsewhere);
    }
  }

  header(title) {
    return h("header", { class: "sheet-header" },
      h("h2", { id: this.headingId }, title),
      h("button", { type: "button", class: "icon", name: "dismiss", "aria-label": "Close", onclick: () => this.close() }, "×"));
  }

  renderView() {
    const issue = this.issue;
    const hadFocus = this.body.contains(document.activeElement);
    const focusedName = hadFocus ? document.activeElement.getAttribute("name") : null;
    const first = !this.viewShown;
    this.viewShown = true;
    this.editing = false;
    this.form = null;
    const status = select(STATUSES, issue.status, { name: "status" });
    status.addEventListener("change", async () => {
      try {
        this.issue = await busy(status, this.rpc.call("update_issue", { issue_id: issue.id, status: status.value }));
      } catch (error) {
        status.value = issue.status;
        notify(errorText(error), "error");
      }
    });
    const edit = h("button", { type: "button", class: "primary", name: "edit", onclick: () => this.renderForm() }, "Edit");
    const remove = h("button", { type: "button", class: "danger", name: "delete", onclick: () => this.remove(remove) }, "Delete");
    const statusId = uniqueId("status");
    status.id = statusId;
    replace(this.body,
      this.header(userText(issue.title)),
      h("div", { class: "issue-meta" },
        h("code", { class: "issue-id" }, issue.id),
        priorityBadge(issue.priority),
        h("label", { for: statusId, class: "inline" }, "Column "), status,
        tagList(issue.tags)),
      h("dl", { class: "facts compact" },
        [h("dt", {}, "Created"), h("dd", {}, timeElement(issue.created_at), byline(issue.created_by))],
        [h("dt", {}, "Updated"), h("dd", {}, timeElement(issue.updated_at), byline(issue.updated_by))],
        issue.assignee
          ? [h("dt", {}, "Assignee"), h("dd", { class: "assignee" }, userText(issue.assignee),
              issue.assignee_connected === false ? h("span", { class: "muted" }, " (not connected: free to claim)") : null,
              issue.assigned_at ? [" since ", timeElement(issue.assigned_at)] : null)]
          : null,
        issue.blocked_by && issue.blocked_by.length
          ? [h("dt", {}, "Waits on"), h("dd", { class: "blocked-by" }, issue.blocked_by.map((id, i) => [i ? ", " : "",
              h("a", { href: `#/issues/${encodeURIComponent(id)}`, class: issue.waiting_on.includes(id) ? "open-blocker" : "done-blocker" }, id)]))]
          : null,
        issue.due_date ? [h("dt", {}, "Due"), h("dd", {}, issue.due_date)] : null,
        issue.related_ids && issue.related_ids.length
          ? [h("dt", {}, "Related"), h("dd", {}, issue.related_ids.map((id, i) => [i ? ", " : "", h("a", { href: `#/issues/${encodeURIComponent(id)}` }, id)]))]
          : null),
      h("article", { class: "markdown issue-content" },
        issue.content ? renderMarkdown(issue.content) : h("p", { class: "muted" }, "No description.")),
      h("div", { class: "actions" }, remove, h("span", { class: "spacer" }),
        h("button", { type: "button", name: "close", onclick: () => this.close() }, "Close"), edit));
    // A change made elsewhere re-renders the view: the focus stays where it was, not on Edit.
    const same = focusedName ? this.body.querySelector(`[name="${focusedName}"]`) : null;
    if (same) same.focus();
    else if (first || hadFocus) edit.focus();
  }

  renderForm() {
    const issue = this.issue;
    this.editing = true;
    this.changedElsewhere = null;
    const title = h("input", { name: "title", type: "text", required: true, maxlength: "200" });
    title.value = issue ? issue.title : "";
    const description = markdownField("Description (markdown)", "content", issue ? issue.content : "");
    const content = description.textarea;
    const status = select(STATUSES, issue ? issue.status : this.defaults.status || "open", { name: "status" });
    const priority = select(PRIORITIES, issue ? issue.priority : "medium", { name: "priority" });
    const tags = h("input", { name: "tags", type: "text", spellcheck: "false", placeholder: "bug, ui" });
    tags.value = issue ? issue.tags.join(", ") : "";
    const assignee = h("input", { name: "assignee", type: "text", maxlength: "200" });
    assignee.value = issue?.assignee || "";
    const due = h("input", { name: "due_date", type: "date" });
    due.value = issue?.due_date || "";
    const save = h("button", { type: "submit", class: "primary" }, issue ? "Save" : "Create issue");
    this.form = h("form", { class: "stack issue-form", novalidate: true },
      field("Title", title),
      description.element,
      h("div", { class: "field-row" },
        field("Column", status), field("Priority", priority), field("Tags", tags, "Letters, digits, - and _; separate with commas.")),
      h("div", { class: "field-row" }, field("Assignee", assignee), field("Due date", due)),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => (issue ? this.renderView() : this.close()) }, "Cancel"),
        save));
    this.form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = {
        title: title.value.trim(),
        content: content.value,
        status: status.value,
        priority: priority.value,
        tags: parseTags(tags.value),
      };
      if (!values.title) {
        showFieldError(this.form, { message: "Give the issue a title.", data: { field: "title" } });
        return;
      }
      try {
        if (issue) {
          const changes = { issue_id: issue.id };
          for (const [key, value] of Object.entries(values)) {
            if (JSON.stringify(value) !== JSON.stringify(issue[key])) changes[key] = value;
          }
          if ((assignee.value.trim() || null) !== (issue.assignee || null)) changes.assignee = assignee.value.trim() || null;
          if ((due.value || null) !== (issue.due_date || null)) changes.due_date = due.value || null;
          this.issue = await busy(save, this.rpc.call("update_issue", changes));
          this.renderView();
        } else {
          const params = { ...values };
          const created = await busy(save, this.rpc.call("record_issue", params));
          const extra = {};
          if (assignee.value.trim()) extra.assignee = assignee.value.trim();
          if (due.value) extra.due_date = due.value;
          if (Object.keys(extra).length) await this.rpc.call("update_issue", { issue_id: created.id, ...extra });
          notify(`Created ${created.id}.`);
          this.created = created;
          this.close();
        }
      } catch (error) {
        showFieldError(this.form, error);
      }
    });
    replace(this.body, this.header(issue ? `Edit ${issue.id}` : "New issue"), this.form);
    title.focus();
  }

  async remove(button) {
    const issue = this.issue;
    if (!(await confirmAction(`Delete ${issue.id} “${isolate(issue.title)}” for good?`, "Delete", { danger: true }))) return;
    this.deleting = true;
    try {
      await busy(button, this.rpc.call("delete_issue", { issue_id: issue.id }));
      notify(`Deleted ${issue.id}.`);
      this.close();
    } catch (error) {
      this.deleting = false;
      notify(errorText(error), "error");
    }
  }
}

/** " by NAME" after a time, when the instance knows who made the change. */
function byline(name) {
  return name ? [" by ", userText(name, { class: "who" })] : null;
}
