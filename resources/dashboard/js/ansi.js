// ANSI escape sequences in process output → text with colour classes.
//
// SGR codes (colours, bold, dim, italic, underline, strike, inverse; 16, 256 and 24-bit colours) become
// spans with `ansi-*` classes (the 16 palette colours follow the theme); other escape sequences (cursor
// moves, titles, hyperlinks) are dropped, and a carriage return starts the line over, as a terminal would.

const ESCAPE = "\u001b";

function freshStyle() {
  return { bold: false, dim: false, italic: false, underline: false, strike: false, inverse: false, fg: null, bg: null };
}

/** Update `style` with the SGR parameter list `params` (a string like "1;31" or "38;5;208"). */
function applySgr(style, params) {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : parseInt(p, 10)));
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (code === 0) Object.assign(style, freshStyle());
    else if (code === 1) style.bold = true;
    else if (code === 2) style.dim = true;
    else if (code === 3) style.italic = true;
    else if (code === 4) style.underline = true;
    else if (code === 7) style.inverse = true;
    else if (code === 9) style.strike = true;
    else if (code === 22) style.bold = style.dim = false;
    else if (code === 23) style.italic = false;
    else if (code === 24) style.underline = false;
    else if (code === 27) style.inverse = false;
    else if (code === 29) style.strike = false;
    else if (code >= 30 && code <= 37) style.fg = code - 30;
    else if (code >= 90 && code <= 97) style.fg = code - 90 + 8;
    else if (code === 39) style.fg = null;
    else if (code >= 40 && code <= 47) style.bg = code - 40;
    else if (code >= 100 && code <= 107) style.bg = code - 100 + 8;
    else if (code === 49) style.bg = null;
    else if (code === 38 || code === 48) {
      const key = code === 38 ? "fg" : "bg";
      if (codes[i + 1] === 5 && codes.length > i + 2) {
        style[key] = clampByte(codes[i + 2]);
        i += 2;
      } else if (codes[i + 1] === 2 && codes.length > i + 4) {
        style[key] = `rgb(${clampByte(codes[i + 2])}, ${clampByte(codes[i + 3])}, ${clampByte(codes[i + 4])})`;
        i += 4;
      }
    }
  }
}

function clampByte(value) {
  return Math.max(0, Math.min(255, Number.isFinite(value) ? value : 0));
}

/** The colour of xterm's 256-colour palette entry `n` (16–255) as CSS. */
function xterm256(n) {
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return `rgb(${level}, ${level}, ${level})`;
  }
  const index = n - 16;
  const steps = [0, 95, 135, 175, 215, 255];
  return `rgb(${steps[Math.floor(index / 36)]}, ${steps[Math.floor(index / 6) % 6]}, ${steps[index % 6]})`;
}

function isPlain(style) {
  return !style.bold && !style.dim && !style.italic && !style.underline && !style.strike && !style.inverse &&
    style.fg === null && style.bg === null;
}

/** Split `text` into [{text, style}] segments, dropping non-SGR escapes. */
export function parseAnsi(text) {
  const segments = [];
  let style = freshStyle();
  let buffer = "";
  const flush = () => {
    if (buffer) segments.push({ text: buffer, style: { ...style } });
    buffer = "";
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === ESCAPE) {
      const next = text[i + 1];
      if (next === "[") {
        let j = i + 2;
        while (j < text.length && !/[@-~]/.test(text[j])) j += 1;
        if (j < text.length && text[j] === "m") {
          flush();
          const params = text.slice(i + 2, j);
          if (/^[\d;:]*$/.test(params)) {
            style = { ...style };
            applySgr(style, params);
          }
        }
        i = j;
        continue;
      }
      if (next === "]") {
        // OSC: up to BEL or ESC \ (a title, a hyperlink's address); the visible text stays.
        let j = i + 2;
        while (j < text.length && text[j] !== "\u0007" && !(text[j] === ESCAPE && text[j + 1] === "\\")) j += 1;
        i = text[j] === ESCAPE ? j + 1 : j;
        continue;
      }
      i += 1; // a two-character escape
      continue;
    }
    if (c === "\r") {
      if (i === text.length - 1) continue;
      // A carriage return starts the line over: what was printed so far is overwritten.
      buffer = "";
      segments.length = 0;
      continue;
    }
    if (c === "\t" || (c >= " " && c !== "\u007f")) buffer += c;
  }
  flush();
  return segments;
}

/** The classes and CSSOM colours of one segment's style. */
function decorate(span, style) {
  let fg = style.fg;
  let bg = style.bg;
  if (style.inverse) {
    [fg, bg] = [bg, fg];
    span.classList.add("ansi-inverse");
  }
  const paint = (value, kind) => {
    if (value === null) return;
    if (typeof value === "number" && value < 16) span.classList.add(`ansi-${kind}-${value}`);
    else {
      // 256-colour and 24-bit colours have no class; the CSSOM sets them (allowed under the CSP).
      const css = typeof value === "number" ? xterm256(value) : value;
      if (kind === "fg") span.style.color = css;
      else span.style.backgroundColor = css;
    }
  };
  paint(fg, "fg");
  paint(bg, "bg");
  for (const flag of ["bold", "dim", "italic", "underline", "strike"]) {
    if (style[flag]) span.classList.add(`ansi-${flag}`);
  }
}

/** A DocumentFragment of `text` with its ANSI colours as spans. */
export function ansiToNodes(text) {
  const fragment = document.createDocumentFragment();
  for (const segment of parseAnsi(text)) {
    if (isPlain(segment.style)) {
      fragment.append(document.createTextNode(segment.text));
      continue;
    }
    const span = document.createElement("span");
    decorate(span, segment.style);
    span.textContent = segment.text;
    fragment.append(span);
  }
  return fragment;
}

/** `text` without any escape sequences (for searching and copying). */
export function stripAnsi(text) {
  return parseAnsi(text)
    .map((s) => s.text)
    .join("");
}
