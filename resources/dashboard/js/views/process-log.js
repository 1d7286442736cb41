// A process's live output: stdout, stderr and system lines told apart, ANSI colours, follow / pause,
// stream filters and search with highlighted matches.

import { h, replace, debounce, uniqueId, isolate } from "../dom.js";
import { ansiToNodes, stripAnsi } from "../ansi.js";
import { timeOfDay } from "../format.js";
import { errorText } from "../ui.js";

const INITIAL_LINES = 2000;
const MAX_LINES = 5000; // lines kept on the page; the whole output stays on disk
const STREAM_LABELS = { stdout: "out", stderr: "err", system: "sys" };

export class LogPanel {
  constructor(rpc, process) {
    this.rpc = rpc;
    this.processId = process.id;
    this.loading = true;
    this.early = []; // events that arrived while the first lines were being fetched
    this.pending = []; // lines that arrived while paused
    this.paused = false;
    this.query = "";
    this.matches = [];
    this.current = -1;
    this.lineCount = 0;

    const ids = { follow: uniqueId("follow"), only: uniqueId("only"), search: uniqueId("search") };
    this.follow = h("input", { type: "checkbox", id: ids.follow, checked: true });
    this.pauseButton = h("button", { type: "button", class: "small", "aria-pressed": "false" }, "Pause");
    this.search = h("input", {
      type: "search", id: ids.search, placeholder: "Search the log", "aria-label": "Search the log",
      autocomplete: "off", spellcheck: "false",
    });
    this.matchInfo = h("span", { class: "match-info", "aria-live": "polite" });
    this.onlyMatches = h("input", { type: "checkbox", id: ids.only });
    this.streamBoxes = Object.keys(STREAM_LABELS).map((stream) => {
      const id = uniqueId(stream);
      const box = h("input", { type: "checkbox", id, checked: true, dataset: { stream } });
      box.addEventListener("change", () => this.log.classList.toggle(`hide-${stream}`, !box.checked));
      return h("label", { for: id, class: `stream-toggle stream-${stream}` }, box, ` ${stream}`);
    });
    this.log = h("div", {
      class: "log", role: "log", tabindex: "0", "aria-label": `Output of ${isolate(process.title)}`, "aria-live": "off",
      dataset: { processId: process.id },
    });
    this.status = h("p", { class: "log-status muted" }, "Loading output…");
    this.element = h("section", { class: "log-panel", "aria-label": "Output" },
      h("div", { class: "log-toolbar" },
        h("div", { class: "log-streams", role: "group", "aria-label": "Streams shown" }, this.streamBoxes),
        h("div", { class: "log-search" },
          this.search,
          h("button", { type: "button", class: "small icon", "aria-label": "Previous match", onclick: () => this.step(-1) }, "↑"),
          h("button", { type: "button", class: "small icon", "aria-label": "Next match", onclick: () => this.step(1) }, "↓"),
          this.matchInfo,
          h("label", { for: ids.only, class: "inline" }, this.onlyMatches, " only matches")),
        h("div", { class: "log-follow" },
          h("label", { for: ids.follow, class: "inline" }, this.follow, " Follow"),
          this.pauseButton)),
      this.log,
      this.status);

    this.pauseButton.addEventListener("click", () => this.setPaused(!this.paused));
    this.follow.addEventListener("change", () => this.follow.checked && this.scrollToEnd());
    this.log.addEventListener("scroll", () => {
      // Scrolling up stops following; scrolling back to the end follows again.
      const atEnd = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 8;
      if (this._autoScrolling) return;
      this.follow.checked = atEnd;
    });
    const research = debounce(() => this.runSearch(), 120);
    this.search.addEventListener("input", research);
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.step(event.shiftKey ? -1 : 1);
      } else if (event.key === "Escape" && this.search.value) {
        event.stopPropagation();
        this.search.value = "";
        this.runSearch();
      }
    });
    this.onlyMatches.addEventListener("change", () => this.log.classList.toggle("only-matches", this.onlyMatches.checked));
  }

  async load() {
    try {
      const answer = await this.rpc.call("get_process_logs", { process_id: this.processId, lines: INITIAL_LINES });
      this.loading = false;
      replace(this.log);
      this.lineCount = 0;
      this.cut = answer.cut || "";
      this.appendLines(answer.lines);
      this.lastLoaded = answer.lines.length ? answer.lines[answer.lines.length - 1] : null;
      for (const event of this.early.splice(0)) this.onOutput(event, answer.lines);
      this.updateStatus();
    } catch (error) {
      this.loading = false;
      this.status.textContent = `Could not load the output: ${errorText(error)}`;
    }
  }

  /** A `process_output` event for this process. `loaded` (first call only) drops lines already fetched. */
  onOutput(event, loaded = null) {
    if (this.loading) {
      this.early.push(event);
      return;
    }
    let lines = event.lines || [];
    if (loaded && loaded.length) {
      // Lines are numbered: what the first fetch already showed is skipped exactly.
      const last = loaded[loaded.length - 1].n;
      lines = lines.filter((l) => l.n > last);
    }
    if (event.skipped) {
      lines = [...lines, {
        time: lines.length ? lines[lines.length - 1].time : new Date().toISOString(),
        stream: "system",
        text: `… ${event.skipped} line${event.skipped === 1 ? "" : "s"} came too fast to show live; the log file keeps them all.`,
        note: true,
      }];
    }
    if (!lines.length) return;
    if (this.paused) {
      this.pending.push(...lines);
      this.pauseButton.textContent = `Resume (${this.pending.length} new)`;
      return;
    }
    this.appendLines(lines);
    this.updateStatus();
  }

  setPaused(paused) {
    this.paused = paused;
    this.pauseButton.setAttribute("aria-pressed", String(paused));
    this.pauseButton.textContent = paused ? "Resume" : "Pause";
    this.element.classList.toggle("paused", paused);
    if (!paused && this.pending.length) {
      this.appendLines(this.pending.splice(0));
      this.updateStatus();
    }
  }

  appendLines(lines) {
    if (!lines.length) return;
    const fragment = document.createDocumentFragment();
    const query = this.query.toLowerCase();
    for (const line of lines) {
      const el = h("div", { class: `line${line.note ? " note" : ""}`, dataset: { stream: line.stream } },
        h("time", { datetime: line.time, title: line.time }, timeOfDay(line.time)),
        h("span", { class: "stream-label", title: line.stream }, STREAM_LABELS[line.stream] || line.stream),
        h("span", { class: "text" }, ansiToNodes(line.text)));
      el._raw = line.text;
      el._plain = stripAnsi(line.text).toLowerCase();
      if (query && el._plain.includes(query)) {
        this.highlight(el, query);
        this.matches.push(el);
      }
      fragment.append(el);
    }
    this.log.append(fragment);
    this.lineCount += lines.length;
    while (this.lineCount > MAX_LINES) {
      const first = this.log.firstElementChild;
      if (!first) break;
      if (first.classList.contains("match")) this.matches = this.matches.filter((m) => m !== first);
      first.remove();
      this.lineCount -= 1;
      this.trimmed = true;
    }
    if (query) this.showMatchInfo();
    if (this.follow.checked) this.scrollToEnd();
  }

  scrollToEnd() {
    this._autoScrolling = true;
    this.log.scrollTop = this.log.scrollHeight;
    requestAnimationFrame(() => {
      this._autoScrolling = false;
    });
  }

  updateStatus() {
    const count = this.lineCount;
    const shown = count
      ? `${count} line${count === 1 ? "" : "s"} shown${this.trimmed ? ` (the last ${MAX_LINES}; the log file keeps the rest)` : ""}`
      : "No output yet.";
    this.status.textContent = this.cut ? `${shown} ${this.cut}` : shown;
  }

  runSearch() {
    this.query = this.search.value.trim();
    const query = this.query.toLowerCase();
    for (const el of this.matches) {
      el.classList.remove("match", "current");
      replace(el.querySelector(".text"), ansiToNodes(el._raw));
    }
    this.matches = [];
    this.current = -1;
    if (query) {
      for (const el of this.log.children) {
        if (el._plain && el._plain.includes(query)) {
          this.highlight(el, query);
          this.matches.push(el);
        }
      }
    }
    this.log.classList.toggle("searching", !!query);
    this.showMatchInfo();
    if (this.matches.length) this.step(1);
  }

  highlight(el, query) {
    el.classList.add("match");
    const walker = document.createTreeWalker(el.querySelector(".text"), NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const node of nodes) {
      const text = node.data;
      const lower = text.toLowerCase();
      let at = lower.indexOf(query);
      if (at === -1) continue;
      const parts = document.createDocumentFragment();
      let from = 0;
      while (at !== -1) {
        if (at > from) parts.append(text.slice(from, at));
        parts.append(h("mark", {}, text.slice(at, at + query.length)));
        from = at + query.length;
        at = lower.indexOf(query, from);
      }
      if (from < text.length) parts.append(text.slice(from));
      node.replaceWith(parts);
    }
  }

  step(direction) {
    if (!this.matches.length) return;
    this.matches[this.current]?.classList.remove("current");
    this.current = (this.current + direction + this.matches.length) % this.matches.length;
    const el = this.matches[this.current];
    el.classList.add("current");
    this.follow.checked = false;
    el.scrollIntoView({ block: "center" });
    this.showMatchInfo();
  }

  showMatchInfo() {
    if (!this.query) {
      this.matchInfo.textContent = "";
      return;
    }
    const total = this.matches.length;
    this.matchInfo.textContent = total ? `${this.current + 1 || 0} of ${total}` : "no match";
  }
}
