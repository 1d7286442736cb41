// Splitting a command line into argv the way a POSIX shell would — quotes and backslashes only.
// Nothing is expanded: no variables, globs, pipes or redirections (run `sh -c '…'` for those).

export class SplitError extends Error {}

/** The argv of `line`: "ls -l 'My Files'" → ["ls", "-l", "My Files"]; SplitError on an open quote. */
export function shellSplit(line) {
  const words = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw new SplitError("A single quote is not closed.");
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i += 1;
      let closed = false;
      while (i < line.length) {
        const d = line[i];
        if (d === '"') {
          closed = true;
          i += 1;
          break;
        }
        if (d === "\\" && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1])) {
          if (line[i + 1] !== "\n") word += line[i + 1];
          i += 2;
          continue;
        }
        word += d;
        i += 1;
      }
      if (!closed) throw new SplitError("A double quote is not closed.");
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 < line.length) {
        if (line[i + 1] !== "\n") {
          word += line[i + 1];
          inWord = true;
        }
        i += 2;
      } else {
        throw new SplitError("The line ends with a lone backslash.");
      }
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i += 1;
    } else {
      word += c;
      inWord = true;
      i += 1;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The argv of one-argument-per-line text: every line is one argument, as written (blank lines skipped). */
export function linesSplit(text) {
  return text
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .filter((line) => line.trim() !== "");
}
