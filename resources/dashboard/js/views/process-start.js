// The "Start a process" dialog: command (split like a shell, or one argument per line), title, folder,
// priority, environment, and whether it waits in the queue or starts at once.

import { h, field, uniqueId, replace, isolate } from "../dom.js";
import { shellSplit, linesSplit, SplitError } from "../shell.js";
import { busy, showFieldError, notify } from "../ui.js";

/** Open the dialog; `onStarted(process)` runs after the instance accepted it. `python` is the name Python runs
 * by on the instance's PATH (from get_instance_info), for the example; null when it has none. */
export function openStartDialog(rpc, onStarted, initial = {}, python = null) {
  const modeShell = uniqueId("mode");
  const modeLines = uniqueId("mode");
  const modeSh = uniqueId("mode");
  const whenQueue = uniqueId("when");
  const whenNow = uniqueId("when");
  const commandInput = h("textarea", {
    name: "command",
    rows: "2",
    required: true,
    spellcheck: "false",
    autocapitalize: "off",
    class: "mono",
    placeholder: python ? `${python} -m http.server 8000` : "npm run dev",
  });
  commandInput.value = initial.command || "";
  const preview = h("ol", { class: "argv-preview", "aria-label": "Arguments the command will get" });
  const previewNote = h("p", { class: "hint", "aria-live": "polite" });
  const title = h("input", { name: "title", type: "text", maxlength: "200", placeholder: "defaults to the command" });
  title.value = initial.title || "";
  const cwd = h("input", {
    name: "cwd", type: "text", spellcheck: "false", class: "mono", placeholder: "the instance's folder",
  });
  cwd.value = initial.cwd || "";
  const priority = h("input", { name: "priority", type: "number", min: "1", max: "10", step: "1", value: "5" });
  if (initial.priority) priority.value = String(initial.priority);
  const port = h("input", { type: "checkbox", name: "port" });
  const restart = h("select", { name: "restart" },
    h("option", { value: "no" }, "Never"),
    h("option", { value: "on-failure" }, "When it fails"),
    h("option", { value: "always" }, "Always"));
  const env = h("textarea", {
    name: "env_vars", rows: "3", spellcheck: "false", class: "mono", placeholder: "NAME=value, one per line",
  });

  const mode = () => {
    if (form.querySelector(`#${modeSh}`).checked) return "sh";
    return form.querySelector(`#${modeLines}`).checked ? "lines" : "shell";
  };
  const argv = () => {
    if (mode() === "sh") return commandInput.value.trim() ? ["/bin/sh", "-c", commandInput.value.trim()] : [];
    return mode() === "lines" ? linesSplit(commandInput.value) : shellSplit(commandInput.value.trim());
  };
  const updatePreview = () => {
    try {
      const words = argv();
      replace(preview, words.map((word) => h("li", {}, h("code", {}, word))));
      replace(previewNote, words.length ? `${words.length} argument${words.length === 1 ? "" : "s"}` : "");
      commandInput.setCustomValidity("");
    } catch (error) {
      replace(preview);
      replace(previewNote, error instanceof SplitError ? error.message : String(error));
      commandInput.setCustomValidity(error.message);
    }
  };

  const submit = h("button", { type: "submit", class: "primary" }, "Start");
  const form = h("form", { class: "stack", novalidate: true },
    h("fieldset", { class: "command-field field" },
      h("legend", {}, "Command"),
      h("div", { class: "radio-row", role: "radiogroup", "aria-label": "How the command is split into arguments" },
        h("label", { for: modeShell }, h("input", { type: "radio", name: "split", id: modeShell, checked: !initial.shell }),
          " Split like a shell"),
        h("label", { for: modeLines }, h("input", { type: "radio", name: "split", id: modeLines }),
          " One argument per line"),
        h("label", { for: modeSh }, h("input", { type: "radio", name: "split", id: modeSh, checked: !!initial.shell }),
          " Run in the shell (pipes, variables, {port})")),
      commandInput,
      h("small", { class: "hint" },
        "Like a shell: spaces separate arguments; quotes and backslashes keep them together. Nothing is " +
        "expanded — no pipes, variables or globs; run sh -c '…' for those."),
      preview,
      previewNote),
    field("Title", title),
    h("div", { class: "field-row" },
      field("Working folder", cwd),
      field("Priority (1–10)", priority, "Higher starts first.")),
    h("div", { class: "field-row" },
      h("label", { class: "inline" }, port, " Lease a free port (PORT=N, {port} in a shell command)"),
      field("Restart", restart, "Start it again when it ends; a stop never restarts it.")),
    h("details", {}, h("summary", {}, "Environment variables"), field("Extra variables", env)),
    h("fieldset", { class: "field" },
      h("legend", {}, "When"),
      h("div", { class: "radio-row" },
        h("label", { for: whenQueue }, h("input", { type: "radio", name: "when", id: whenQueue, checked: !initial.immediate }),
          " Queue it (starts when there is room)"),
        h("label", { for: whenNow }, h("input", { type: "radio", name: "when", id: whenNow, checked: !!initial.immediate }),
          " Start now (skips the queue)"))),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
      submit),
  );
  commandInput.addEventListener("input", updatePreview);
  for (const radio of form.querySelectorAll("input[name=split]")) {
    radio.addEventListener("change", () => {
      // Switching keeps the arguments: each becomes a line, or the lines are quoted back into one.
      if (mode() === "sh") {
        updatePreview();
        return;
      }
      try {
        const words = mode() === "lines" ? shellSplit(commandInput.value.trim()) : linesSplit(commandInput.value);
        commandInput.value = mode() === "lines" ? words.join("\n") : words.map(shellQuote).join(" ");
        commandInput.rows = mode() === "lines" ? Math.min(8, Math.max(3, words.length)) : 2;
      } catch {
        // an unfinished quote: leave the text as it is
      }
      updatePreview();
    });
  }
  commandInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && mode() === "shell") {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let words;
    try {
      words = argv();
    } catch (error) {
      showFieldError(form, { message: error.message, data: { field: "command" } });
      return;
    }
    if (!words.length) {
      showFieldError(form, { message: "Give the program to run.", data: { field: "command" } });
      return;
    }
    const params = {
      command: mode() === "sh" ? commandInput.value.trim() : words,
      priority: Number(priority.value || 5),
      immediate: form.querySelector(`#${whenNow}`).checked,
    };
    if (port.checked) params.port = true;
    if (restart.value !== "no") params.restart = restart.value;
    if (title.value.trim()) params.title = title.value.trim();
    if (cwd.value.trim()) params.cwd = cwd.value.trim();
    const envVars = {};
    for (const line of linesSplit(env.value)) {
      const at = line.indexOf("=");
      if (at < 1) {
        showFieldError(form, { message: `"${line}" is not NAME=value.`, data: { field: "env_vars" } });
        return;
      }
      envVars[line.slice(0, at).trim()] = line.slice(at + 1);
    }
    if (Object.keys(envVars).length) params.env_vars = envVars;
    try {
      const process = await busy(submit, rpc.call("start_process", params));
      dialog.close();
      notify(params.immediate ? `Started “${isolate(process.title)}”.` : `Queued “${isolate(process.title)}”.`);
      onStarted(process);
    } catch (error) {
      showFieldError(form, error);
    }
  });

  const headingId = uniqueId("start");
  const dialog = h("dialog", { class: "sheet", "aria-labelledby": headingId },
    h("header", { class: "sheet-header" },
      h("h2", { id: headingId }, "Start a process"),
      h("button", { type: "button", class: "icon", "aria-label": "Close", onclick: () => dialog.close() }, "×")),
    form);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  updatePreview();
  commandInput.focus();
  return dialog;
}

/** A process's command as one line: a shell string as given, an argv list quoted word by word. */
export function commandText(command) {
  return typeof command === "string" ? command : command.map(shellQuote).join(" ");
}

/** `word` quoted for a POSIX shell when it needs it. */
export function shellQuote(word) {
  if (word !== "" && /^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, "'\\''")}'`;
}
