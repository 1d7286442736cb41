// One fragment in the knowledge view's detail pane: read it, its links (add, remove), edit, delete;
// or write a new one.

import { h, replace, field, select, uniqueId, debounce, userText, isolate } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { href, go } from "../router.js";
import { priorityBadge, tagList, errorText, notify, busy, showFieldError, confirmAction, emptyState } from "../ui.js";
import { timeElement } from "../format.js";
import { parseTags } from "./issue-editor.js";
import { markdownField } from "./markdown-field.js";

export const TYPES = ["question", "answer", "note", "documentation", "issue", "solution", "reference"];
const LINK_TYPES = ["answers", "references", "related", "supersedes"];
// How an incoming link reads from this fragment's side.
const INVERSE = { answers: "answered by", references: "referenced by", related: "related", supersedes: "superseded by" };
const STATUSES = ["active", "draft", "archived"];
const PRIORITIES = ["low", "medium", "high"];

export class FragmentDetail {
  constructor(rpc, pane) {
    this.rpc = rpc;
    this.pane = pane;
    this.fragment = null;
    this.id = null;
    this.editing = false;
    this.titles = new Map(); // id → title of linked fragments
  }

  /** Show fragment `id` (null: nothing chosen). */
  async show(id) {
    this.id = id;
    this.editing = false;
    if (!id) {
      this.fragment = null;
      replace(this.pane, h("div", { class: "placeholder" },
        h("p", {}, "Choose a fragment to read it and its links."),
        h("p", { class: "muted" }, "Agents record knowledge with record_fragment and find it with list_fragments.")));
      return;
    }
    replace(this.pane, h("p", { class: "muted placeholder" }, "Loading…"));
    try {
      const fragment = await this.rpc.call("get_fragment", { id });
      if (this.id !== id) return;
      this.fragment = fragment;
      this.renderView();
    } catch (error) {
      if (this.id !== id) return;
      this.fragment = null;
      replace(this.pane, h("div", { class: "placeholder" },
        h("h2", {}, "Fragment not found"), h("p", {}, errorText(error)),
        h("a", { href: "#/knowledge" }, "Back to all fragments")));
    }
  }

  /** A `fragment` or `fragment_link` event. */
  onEvent(event) {
    if (!this.fragment) return;
    if (event.topic === "fragment" && event.id === this.id) {
      if (event.action === "deleted") {
        if (!this.deleting) notify("This fragment was deleted elsewhere.");
        go("knowledge");
        return;
      }
      this.fragment = event.fragment;
      if (!this.editing) this.renderView();
    } else if (event.topic === "fragment_link" && event.link &&
               (event.link.source_id === this.id || event.link.target_id === this.id)) {
      if (!this.editing) this.loadLinks();
    } else if (event.topic === "fragment" && this.titles.has(event.id) && !this.editing) {
      this.loadLinks();
    }
  }

  renderView() {
    const f = this.fragment;
    this.editing = false;
    this.links = h("ul", { class: "link-list", "aria-label": "Links" }, h("li", { class: "muted" }, "Loading links…"));
    const remove = h("button", { type: "button", class: "danger", onclick: () => this.remove(remove) }, "Delete");
    const metadata = Object.entries(f.metadata || {});
    replace(this.pane,
      h("article", { class: "fragment", dataset: { id: f.id } },
        h("header", { class: "detail-title" },
          h("h2", {}, userText(f.title)),
          h("div", { class: "actions" },
            h("button", { type: "button", class: "primary", onclick: () => this.renderForm() }, "Edit"), remove)),
        h("div", { class: "fragment-meta" },
          h("span", { class: `badge type-${f.type}` }, f.type), priorityBadge(f.priority),
          h("span", { class: `badge status-${f.status}` }, f.status), tagList(f.tags)),
        h("p", { class: "muted small fragment-byline" }, "Created ", timeElement(f.created_at),
          f.author ? [" by ", userText(f.author, { class: "who" })] : null,
          " · updated ", timeElement(f.updated_at),
          f.updated_by && f.updated_by !== f.author ? [" by ", userText(f.updated_by, { class: "who" })] : null,
          " · ", h("code", {}, f.id)),
        h("div", { class: "markdown fragment-body" }, renderMarkdown(f.body)),
        metadata.length
          ? h("details", { class: "metadata" }, h("summary", {}, "Metadata"),
              h("dl", { class: "facts compact" }, metadata.map(([k, v]) =>
                [h("dt", {}, k), h("dd", {}, h("code", {}, typeof v === "string" ? v : JSON.stringify(v)))])))
          : null),
      h("section", { class: "links", "aria-labelledby": "links-title" },
        h("h3", { id: "links-title" }, "Links"),
        this.links,
        this.linkForm()));
    this.loadLinks();
  }

  async loadLinks() {
    const id = this.id;
    try {
      const answer = await this.rpc.call("get_fragment_links", { fragment_id: id, limit: 100 });
      const others = [...new Set(answer.links.map((l) => (l.direction === "outgoing" ? l.target_id : l.source_id)))];
      await Promise.all(others.filter((o) => !this.titles.has(o)).map(async (other) => {
        try {
          this.titles.set(other, (await this.rpc.call("get_fragment", { id: other })).title);
        } catch {
          this.titles.set(other, other);
        }
      }));
      if (this.id !== id || this.editing || !this.links) return;
      replace(this.links, answer.links.length ? answer.links.map((link) => this.linkRow(link))
        : h("li", {}, emptyState("No links yet.")));
    } catch (error) {
      if (this.links) replace(this.links, h("li", {}, emptyState(errorText(error))));
    }
  }

  linkRow(link) {
    const outgoing = link.direction === "outgoing";
    const other = outgoing ? link.target_id : link.source_id;
    const remove = h("button", { type: "button", class: "small icon", "aria-label": `Remove the ${link.link_type} link` }, "×");
    remove.addEventListener("click", async () => {
      try {
        await busy(remove, this.rpc.call("delete_fragment_link", { link_id: link.id }));
      } catch (error) {
        notify(errorText(error), "error");
      }
    });
    return h("li", { class: `link-row ${link.direction}` },
      h("span", { class: "link-dir", "aria-label": outgoing ? "outgoing" : "incoming" }, outgoing ? "→" : "←"),
      h("span", { class: "badge" }, outgoing ? link.link_type : INVERSE[link.link_type] || link.link_type),
      h("a", { href: href("knowledge", other) }, userText(this.titles.get(other) || other)),
      remove);
  }

  linkForm() {
    const filterId = uniqueId("link-filter");
    const targetId = uniqueId("link-target");
    const filter = h("input", { type: "search", id: filterId, placeholder: "Find a fragment", autocomplete: "off" });
    const target = h("select", { id: targetId, name: "target_id", required: true });
    const type = select(LINK_TYPES, "related", { "aria-label": "Link type", name: "link_type" });
    const add = h("button", { type: "submit" }, "Add link");
    const form = h("form", { class: "link-form" },
      h("label", { for: filterId, class: "visually-hidden" }, "Find a fragment to link to"), filter,
      h("label", { for: targetId, class: "visually-hidden" }, "Fragment to link to"), target,
      type, add);
    const fill = async () => {
      try {
        const query = filter.value.trim();
        const answer = await this.rpc.call("list_fragments", { limit: 100, ...(query ? { search: query } : {}) });
        const options = answer.fragments.filter((f) => f.id !== this.id);
        replace(target, options.length ? options.map((f) => h("option", { value: f.id }, `${f.title} (${f.type})`))
          : h("option", { value: "" }, "No other fragment matches"));
      } catch (error) {
        replace(target, h("option", { value: "" }, errorText(error)));
      }
    };
    filter.addEventListener("input", debounce(fill, 200));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!target.value) return;
      try {
        await busy(add, this.rpc.call("create_fragment_link", { source_id: this.id, target_id: target.value, link_type: type.value }));
      } catch (error) {
        showFieldError(form, error);
      }
    });
    fill();
    return h("details", { class: "add-link" }, h("summary", {}, "Link to another fragment"), form);
  }

  /** The edit form for the shown fragment, or for a new one when `fresh`. */
  renderForm(fresh = false, defaults = {}) {
    const f = fresh ? null : this.fragment;
    this.editing = true;
    const title = h("input", { name: "title", type: "text", required: true, maxlength: "200" });
    title.value = f ? f.title : "";
    const type = select(TYPES, f ? f.type : defaults.type || "note", { name: "type" });
    const body = markdownField("Body (markdown)", "body", f ? f.body : "", { rows: 12 });
    const tags = h("input", { name: "tags", type: "text", spellcheck: "false" });
    tags.value = f ? f.tags.join(", ") : "";
    const priority = select(PRIORITIES, f ? f.priority : "medium", { name: "priority" });
    const status = select(STATUSES, f ? f.status : "active", { name: "status" });
    const save = h("button", { type: "submit", class: "primary" }, f ? "Save" : "Create fragment");
    const form = h("form", { class: "stack fragment-form", novalidate: true },
      h("h2", {}, f ? "Edit fragment" : "New fragment"),
      field("Title", title),
      h("div", { class: "field-row" }, field("Type", type), field("Priority", priority), field("Status", status)),
      body.element,
      field("Tags", tags, "Letters, digits, - and _; separate with commas."),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => (f ? this.renderView() : this.show(this.id)) }, "Cancel"),
        save));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = {
        title: title.value.trim(),
        type: type.value,
        body: body.textarea.value,
        tags: parseTags(tags.value),
        priority: priority.value,
        status: status.value,
      };
      if (!values.title) {
        showFieldError(form, { message: "Give the fragment a title.", data: { field: "title" } });
        return;
      }
      if (!values.body.trim()) {
        showFieldError(form, { message: "Write something in the body.", data: { field: "body" } });
        return;
      }
      try {
        if (f) {
          const changes = { id: f.id };
          for (const [key, value] of Object.entries(values)) {
            if (JSON.stringify(value) !== JSON.stringify(f[key])) changes[key] = value;
          }
          this.fragment = await busy(save, this.rpc.call("update_fragment", changes));
          this.renderView();
        } else {
          const created = await busy(save, this.rpc.call("record_fragment", values));
          notify(`Recorded “${isolate(created.title)}”.`);
          go("knowledge", created.id);
        }
      } catch (error) {
        showFieldError(form, error);
      }
    });
    replace(this.pane, form);
    title.focus();
  }

  async remove(button) {
    const f = this.fragment;
    if (!(await confirmAction(`Delete “${isolate(f.title)}” and its links for good?`, "Delete", { danger: true }))) return;
    this.deleting = true;
    try {
      await busy(button, this.rpc.call("delete_fragment", { id: f.id }));
      notify(`Deleted “${isolate(f.title)}”.`);
      go("knowledge");
    } catch (error) {
      this.deleting = false;
      notify(errorText(error), "error");
    }
  }
}
