// A small markdown renderer that builds DOM nodes and nothing else.
//
// Headings, paragraphs, lists (nested, task boxes), block quotes, rules, fenced and indented code,
// inline code, bold, italic, strike-through and links. Every piece of content becomes a text node:
// HTML in the source is shown as the characters it is, never parsed. Links are made only for http,
// https and mailto addresses; any other link (javascript:, data:, relative…) stays plain text.
// Images are never loaded (they would fetch from other hosts): they become links to the picture.

const MAX_DEPTH = 8;
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

/** The address to link to, or null when `raw` is not a plain http(s) or mailto URL. */
export function safeUrl(raw) {
  const text = String(raw || "").trim();
  if (!/^(https?:\/\/|mailto:)/i.test(text)) return null;
  try {
    const url = new URL(text);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/** A DocumentFragment holding `source` rendered. */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  const lines = String(source ?? "")
    .replace(/\r\n?/g, "\n")
    .split("\n");
  for (const node of blocks(lines, 0)) fragment.append(node);
  return fragment;
}

// ---- blocks ------------------------------------------------------------------------------------

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])(\s+|$)(.*)$/;
const INDENTED = /^( {4}|\t)(.*)$/;

function isBlank(line) {
  return /^\s*$/.test(line);
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

function blocks(lines, depth) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i += 1;
      continue;
    }
    let match;
    if (depth >= MAX_DEPTH) {
      // Deeper nesting than any real text needs: the rest is shown as it is.
      out.push(el("p", lines.slice(i).join("\n")));
      break;
    }
    if ((match = FENCE.exec(line))) {
      const fence = match[1];
      const body = [];
      i += 1;
      while (i < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[i])) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1; // the closing fence (or the end)
      out.push(codeBlock(body.join("\n"), match[2]));
      continue;
    }
    if (INDENTED.test(line)) {
      const body = [];
      while (i < lines.length && (INDENTED.test(lines[i]) || isBlank(lines[i]))) {
        body.push(lines[i].replace(/^( {4}|\t)/, ""));
        i += 1;
      }
      while (body.length && isBlank(body[body.length - 1])) body.pop();
      out.push(codeBlock(body.join("\n"), ""));
      continue;
    }
    if ((match = HEADING.exec(line))) {
      const heading = document.createElement(`h${Math.min(6, match[1].length + 1)}`);
      heading.append(inline(match[2] || ""));
      heading.className = "md-heading";
      out.push(heading);
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      out.push(document.createElement("hr"));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && !isBlank(lines[i]) && (QUOTE.test(lines[i]) || !startsBlock(lines[i]))) {
        const quoted = QUOTE.exec(lines[i]);
        body.push(quoted ? quoted[1] : lines[i]);
        i += 1;
      }
      const quote = document.createElement("blockquote");
      quote.append(...blocks(body, depth + 1));
      out.push(quote);
      continue;
    }
    if (ITEM.test(line)) {
      i = list(lines, i, depth, out);
      continue;
    }
    const body = [];
    while (i < lines.length && !isBlank(lines[i]) && !(body.length && startsBlock(lines[i]))) {
      body.push(lines[i]);
      i += 1;
    }
    const paragraph = document.createElement("p");
    paragraph.append(inline(body.join("\n")));
    out.push(paragraph);
  }
  return out;
}

function codeBlock(text, language) {
  const pre = document.createElement("pre");
  const code = document.createElement("code");
  if (language) code.dataset.language = language.slice(0, 30);
  code.textContent = text;
  pre.append(code);
  return pre;
}

function list(lines, start, depth, out) {
  const first = ITEM.exec(lines[start]);
  const ordered = /\d/.test(first[2]);
  const listEl = document.createElement(ordered ? "ol" : "ul");
  if (ordered) {
    const number = parseInt(first[2], 10);
    if (number !== 1) listEl.start = number;
  }
  let i = start;
  let loose = false;
  while (i < lines.length) {
    const match = ITEM.exec(lines[i]);
    if (!match || /\d/.test(match[2]) !== ordered) break;
    const indent = match[1].length + match[2].length + Math.max(1, Math.min(4, match[3].length));
    const body = [match[4]];
    i += 1;
    let sawBlank = false;
    while (i < lines.length) {
      const next = lines[i];
      if (isBlank(next)) {
        sawBlank = true;
        body.push("");
        i += 1;
        continue;
      }
      const leading = next.match(/^\s*/)[0].replace(/\t/g, "    ").length;
      if (leading >= indent || (leading >= 2 && ITEM.test(next.trimStart()))) {
        body.push(next.replace(/^\s+/, (space) => " ".repeat(Math.max(0, space.replace(/\t/g, "    ").length - indent))));
        sawBlank = false;
        i += 1;
        continue;
      }
      if (!sawBlank && !startsBlock(next)) {
        body.push(next); // a lazy continuation of the item's paragraph
        i += 1;
        continue;
      }
      break;
    }
    while (body.length && isBlank(body[body.length - 1])) {
      body.pop();
      if (i < lines.length && ITEM.test(lines[i])) loose = true;
    }
    listEl.append(listItem(body, depth));
  }
  if (!loose) {
    // A tight list shows its items' text without paragraph spacing.
    for (const item of listEl.children) {
      const paragraph = item.querySelector(":scope > p");
      if (paragraph && item.querySelectorAll(":scope > p").length === 1) paragraph.replaceWith(...paragraph.childNodes);
    }
  }
  out.push(listEl);
  return i;
}

function listItem(body, depth) {
  const item = document.createElement("li");
  const task = /^\[([ xX])\]\s+/.exec(body[0]);
  if (task) {
    body[0] = body[0].slice(task[0].length);
    const box = document.createElement("span");
    box.className = "md-task";
    box.textContent = task[1] === " " ? "☐ " : "☑ ";
    box.setAttribute("aria-label", task[1] === " " ? "to do" : "done");
    item.append(box);
  }
  item.append(...blocks(body, depth + 1));
  return item;
}

function el(tag, text) {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

// ---- inline ------------------------------------------------------------------------------------

const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;
const BARE_URL = /https?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]}]/iy;
const AUTOLINK = /<([a-z][a-z0-9+.-]{1,31}:[^\s<>]*)>/iy;
// Scans for a closing bracket, parenthesis or marker look this far ahead at most: hostile text (a
// hundred thousand `[` or `_`) then costs linear time, and no real link or emphasis is longer.
const MAX_LABEL = 500;
const MAX_URL = 2048;
const MAX_SPAN = 1000;

/** A DocumentFragment of the inline markdown in `text`. */
export function inline(text, allowLinks = true) {
  const fragment = document.createDocumentFragment();
  const scan = { brackets: null, parens: null, closers: new Map() }; // shared by this text's links and emphasis
  let plain = "";
  const flush = () => {
    if (plain) fragment.append(document.createTextNode(plain));
    plain = "";
  };
  const emit = (node) => {
    flush();
    fragment.append(node);
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      if (text[i + 1] === "\n") {
        emit(document.createElement("br"));
        i += 2;
        continue;
      }
      if (PUNCTUATION.test(text[i + 1])) {
        plain += text[i + 1];
        i += 2;
        continue;
      }
    }
    if (c === "\n") {
      if (/ {2,}$/.test(plain)) {
        plain = plain.replace(/ +$/, "");
        emit(document.createElement("br"));
      } else {
        plain += "\n";
      }
      i += 1;
      continue;
    }
    if (c === "`") {
      let length = 1;
      while (text[i + length] === "`") length += 1;
      const run = "`".repeat(length);
      const end = text.indexOf(run, i + length);
      if (end !== -1 && end - i < MAX_SPAN * 10 && text[end + length] !== "`") {
        let code = text.slice(i + length, end).replace(/\n/g, " ");
        if (/^ .* $/.test(code)) code = code.slice(1, -1);
        emit(el("code", code));
        i = end + length;
        continue;
      }
      plain += run;
      i += length;
      continue;
    }
    if (c === "!" && text[i + 1] === "[") {
      const link = parseLink(text, i + 1, scan);
      if (link) {
        const url = allowLinks ? safeUrl(link.url) : null;
        if (url) emit(anchor(url, document.createTextNode(link.label ? `🖼 ${link.label}` : url), link.title));
        else plain += text.slice(i, link.end);
        i = link.end;
        continue;
      }
    }
    if (c === "[") {
      const link = parseLink(text, i, scan);
      if (link) {
        const url = allowLinks ? safeUrl(link.url) : null;
        if (url) emit(anchor(url, inline(link.label, false), link.title));
        else plain += text.slice(i, link.end); // not a safe link: the reader sees exactly what was written
        i = link.end;
        continue;
      }
    }
    if (c === "<" && allowLinks) {
      AUTOLINK.lastIndex = i;
      const auto = AUTOLINK.exec(text);
      if (auto && safeUrl(auto[1])) {
        emit(anchor(safeUrl(auto[1]), document.createTextNode(auto[1])));
        i += auto[0].length;
        continue;
      }
    }
    if (allowLinks && (c === "h" || c === "H") && (i === 0 || /[\s(]/.test(text[i - 1]))) {
      BARE_URL.lastIndex = i;
      const bare = BARE_URL.exec(text);
      if (bare && safeUrl(bare[0])) {
        emit(anchor(safeUrl(bare[0]), document.createTextNode(bare[0])));
        i += bare[0].length;
        continue;
      }
    }
    if (c === "*" || c === "_" || c === "~") {
      const span = parseEmphasis(text, i, scan);
      if (span) {
        const node = document.createElement(span.tag);
        node.append(inline(span.inner, allowLinks));
        emit(node);
        i = span.end;
        continue;
      }
    }
    plain += c;
    i += 1;
  }
  flush();
  return fragment;
}

function anchor(url, content, title) {
  const a = document.createElement("a");
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  if (title) a.title = title;
  a.append(content);
  return a;
}

/** For every `open` character of `text`, the index of its matching `close` (a stack; escapes skipped). */
function matchPairs(text, open, close) {
  const matches = new Map();
  const stack = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i += 1;
    else if (c === open) stack.push(i);
    else if (c === close && stack.length) matches.set(stack.pop(), i);
  }
  return matches;
}

/** `[label](url "title")` starting at `start`: {label, url, title, end}, or null. */
function parseLink(text, start, scan) {
  scan.brackets ??= matchPairs(text, "[", "]");
  const i = scan.brackets.get(start);
  if (i === undefined || i - start > MAX_LABEL || text[i + 1] !== "(") return null;
  scan.parens ??= matchPairs(text, "(", ")");
  const j = scan.parens.get(i + 1);
  if (j === undefined || j - i > MAX_URL) return null;
  const label = text.slice(start + 1, i);
  if (text.slice(i + 2, j).includes("\n\n")) return null;
  const inside = text.slice(i + 2, j).trim();
  const titled = /^(\S+)\s+"([^"]*)"$/.exec(inside);
  const url = (titled ? titled[1] : inside).replace(/^<(.*)>$/, "$1");
  return { label, url, title: titled ? titled[2] : null, end: j + 1 };
}

/** Bold, italic or strike-through starting at `start`: {tag, inner, end}, or null. */
function parseEmphasis(text, start, scan) {
  const c = text[start];
  const double = text[start + 1] === c;
  if (c === "~" && !double) return null;
  const marker = double ? c + c : c;
  const after = text[start + marker.length];
  if (!after || /\s/.test(after) || after === c) return null;
  // `_` inside a word (snake_case) is not emphasis.
  if (c === "_" && start > 0 && /[\p{L}\p{N}]/u.test(text[start - 1])) return null;
  const end = closer(text, marker, start + marker.length + 1, start + MAX_SPAN, scan);
  if (end === -1) return null;
  const inner = text.slice(start + marker.length, end);
  if (inner.includes("\n\n")) return null;
  const tag = c === "~" ? "del" : double ? "strong" : "em";
  return { tag, inner, end: end + marker.length };
}

/**
 * The first position at or after `from` (and before `limit`) where `marker` can close emphasis, or -1.
 * Whether a marker can close depends only on its own neighbours, so what one search learned holds for
 * the next: hostile text (thousands of openers, no closer) costs linear time, not quadratic.
 */
function closer(text, marker, from, limit, scan) {
  const c = marker[0];
  const double = marker.length === 2;
  const memo = scan.closers.get(marker);
  let i = from;
  if (memo && memo.from <= from) {
    if (memo.found >= from) return memo.found < limit ? memo.found : -1;
    if (memo.found === -1) i = Math.max(i, memo.scanned);
  }
  const stop = Math.min(limit, text.length);
  while (i < stop) {
    const end = text.indexOf(marker, i);
    if (end === -1 || end >= stop) break;
    const following = text[end + marker.length];
    const sameRun = following === c || (!double && text[end - 1] === c);
    const wordAfter = c === "_" && following && /[\p{L}\p{N}]/u.test(following);
    if (!/\s/.test(text[end - 1]) && !sameRun && !wordAfter) {
      scan.closers.set(marker, { from, found: end, scanned: end });
      return end;
    }
    i = end + 1;
  }
  scan.closers.set(marker, { from: memo && memo.from <= from && memo.found === -1 ? memo.from : from, found: -1, scanned: stop });
  return -1;
}
