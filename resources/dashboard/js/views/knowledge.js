// Knowledge: fragments by type, full-text search with the matches highlighted, and one fragment at a
// time with its links.

import { h, replace, debounce, userText } from "../dom.js";
import { href } from "../router.js";
import { tagList, errorText, notify } from "../ui.js";
import { ago } from "../format.js";
import { FragmentDetail, TYPES } from "./fragment-detail.js";
import { fillList } from "../lists.js";
import { View } from "./view.js";

const PAGE = 50;

const WORD = /[\p{L}\p{N}_]+/gu;
const MARKED = /\*\*([\p{L}\p{N}_]+)\*\*/gu;

function fold(word) {
  return word.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/**
 * A snippet from search_fragments as DOM: the words it marks **like this** become <mark> elements.
 * The marker is ambiguous (a body may hold `**bold**` of its own), so only a marked single word that
 * matches a word of the query (or starts with it: the last word may be a prefix) counts as a match;
 * every other `**` is the body's own markdown, left out of the preview like its other markers.
 */
export function snippetNodes(snippet, query) {
  const words = (String(query || "").match(WORD) || []).map(fold);
  const fragment = document.createDocumentFragment();
  // A snippet is a preview: the body's own markdown markers (headings, bold, code) would only be noise.
  const text = String(snippet || "").replace(/(^|\n)[ \t]{0,3}#{1,6}[ \t]+/g, "$1");
  const plain = (part) => document.createTextNode(part.replace(/\*\*|__|`/g, ""));
  let from = 0;
  for (const match of text.matchAll(MARKED)) {
    const word = fold(match[1]);
    if (!words.some((w) => word === w || word.startsWith(w))) continue;
    if (match.index > from) fragment.append(plain(text.slice(from, match.index)));
    const mark = document.createElement("mark");
    mark.textContent = match[1];
    fragment.append(mark);
    from = match.index + match[0].length;
  }
  if (from < text.length) fragment.append(plain(text.slice(from)));
  return fragment;
}

export class KnowledgeView extends View {
  mount(container) {
    this.type = "";
    this.items = [];
    this.total = 0;
    this.search = h("input", {
      type: "search", placeholder: "Full-text search", "aria-label": "Search knowledge (full text)", autocomplete: "off",
    });
    this.typeBar = h("div", { class: "type-bar", role: "group", "aria-label": "Fragment type" });
    this.list = h("ul", { class: "fragment-list", "aria-label": "Fragments" });
    this.more = h("button", { type: "button", class: "more", hidden: true, onclick: () => this.load(true) }, "Show more");
    this.summary = h("p", { class: "muted list-summary", "aria-live": "polite" });
    this.pane = h("section", { class: "detail fragment-detail", "aria-label": "Fragment" });
    this.detail = new FragmentDetail(this.rpc, this.pane);
    replace(
      container,
      h("section", { class: "page split-page knowledge-page", "aria-labelledby": "knowledge-title" },
        h("div", { class: "toolbar" },
          h("h1", { id: "knowledge-title" }, "Knowledge"),
          h("button", { type: "button", class: "primary", onclick: () => this.detail.renderForm(true, { type: this.type }) }, "New fragment"),
          this.search),
        this.typeBar,
        h("div", { class: "split" },
          h("div", { class: "list-pane" }, this.summary, this.list, this.more),
          this.pane)),
    );
    this.renderTypes({});
    this.search.addEventListener("input", debounce(() => this.load(), 200));
    const reload = debounce(() => {
      this.loadCounts();
      this.load();
    }, 250);
    this.listen("fragment", (event) => {
      this.detail.onEvent(event);
      reload();
    });
    this.listen("fragment_link", (event) => this.detail.onEvent(event));
    this.loadCounts();
    this.load();
  }

  route(route) {
    if (route.id !== this.detail.id || !this.detail.fragment) this.detail.show(route.id);
    this.markSelected(route.id);
  }

  refresh() {
    this.loadCounts();
    this.load();
    if (this.detail.id && !this.detail.editing) this.detail.show(this.detail.id);
  }

  renderTypes(counts) {
    const chip = (type, label) => {
      const count = type ? counts[type] : counts.all;
      const button = h("button", {
        type: "button", class: "chip", "aria-pressed": String(this.type === type), dataset: { type: type || "all" },
      }, label, count === undefined ? null : h("span", { class: "chip-count" }, String(count)));
      button.addEventListener("click", () => {
        this.type = type;
        this.renderTypes(this.counts || {});
        this.load();
      });
      return button;
    };
    const focused = this.typeBar.contains(document.activeElement) ? document.activeElement.dataset.type : null;
    replace(this.typeBar, chip("", "All"), TYPES.map((t) => chip(t, t)));
    if (focused) this.typeBar.querySelector(`[data-type="${focused}"]`)?.focus();
  }

  async loadCounts() {
    try {
      const answers = await Promise.all([null, ...TYPES].map((type) =>
        this.rpc.call("list_fragments", { limit: 1, ...(type ? { type } : {}) })));
      if (this.destroyed) return;
      this.counts = { all: answers[0].total };
      TYPES.forEach((t, i) => (this.counts[t] = answers[i + 1].total));
      this.renderTypes(this.counts);
    } catch {
      // the chips keep their last counts
    }
  }

  async load(more = false) {
    const query = this.search.value.trim();
    const token = (this.loadToken = (this.loadToken || 0) + 1);
    const typeFilter = this.type ? { type: this.type } : {};
    try {
      if (query && /\w/.test(query)) {
        const answer = await this.rpc.call("search_fragments", { query, limit: 50, ...typeFilter });
        if (this.destroyed || token !== this.loadToken) return;
        this.items = answer.results.map((r) => ({ fragment: r.fragment, snippet: r.snippet, query }));
        this.total = this.items.length;
        this.summary.textContent = `${this.items.length} match${this.items.length === 1 ? "" : "es"} for “${query}”, best first`;
      } else {
        const offset = more ? this.items.length : 0;
        const answer = await this.rpc.call("list_fragments", { limit: PAGE, offset, ...typeFilter });
        if (this.destroyed || token !== this.loadToken) return;
        const items = answer.fragments.map((f) => ({ fragment: f, snippet: null }));
        this.items = more ? [...this.items, ...items] : items;
        this.total = answer.total;
        this.summary.textContent = `${answer.total} fragment${answer.total === 1 ? "" : "s"}${this.type ? ` of type ${this.type}` : ""}, recently updated first`;
      }
      this.renderList();
    } catch (error) {
      notify(`Could not load the knowledge: ${errorText(error)}`, "error");
    }
  }

  renderList() {
    fillList(this.list, this.items, (item) => this.row(item),
      this.search.value.trim() ? "Nothing matches." : "No fragment recorded yet.");
    this.more.hidden = this.search.value.trim() !== "" || this.items.length >= this.total;
    this.more.textContent = `Show more (${this.total - this.items.length} more)`;
    this.markSelected(this.detail.id);
  }

  row({ fragment, snippet, query }) {
    const preview = snippet !== null
      ? h("p", { class: "snippet" }, snippetNodes(snippet, query))
      : h("p", { class: "snippet muted" }, firstLine(fragment.body));
    return h("li", { dataset: { id: fragment.id } },
      h("a", { href: href("knowledge", fragment.id), class: "fragment-row" },
        h("span", { class: "row-title" }, userText(fragment.title)),
        h("span", { class: `badge type-${fragment.type}` }, fragment.type),
        preview,
        h("span", { class: "row-time muted" }, `updated ${ago(fragment.updated_at)}`),
        tagList(fragment.tags)));
  }

  markSelected(id) {
    for (const li of this.list.children) {
      const on = !!id && li.dataset.id === id;
      li.classList.toggle("selected", on);
      const link = li.querySelector("a");
      if (on) link?.setAttribute("aria-current", "true");
      else link?.removeAttribute("aria-current");
    }
  }
}

function firstLine(body) {
  const line = String(body || "").split("\n").find((l) => l.trim()) || "";
  return line.replace(/^[#>*\-\s]+/, "").slice(0, 160);
}
