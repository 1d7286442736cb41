"""The dashboard's pure modules, run in the browser: markdown, ANSI colours, shell splitting, snippets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard.conftest import Dashboard


@pytest.fixture(scope="module")
def page(shared_dashboard: tuple[Dashboard, Any]) -> Any:
    """One signed-in page for the whole module: these tests only import modules into it."""
    return shared_dashboard[1]


MARKDOWN = """async (source) => {
  const { renderMarkdown } = await import("/assets/js/markdown.js");
  const box = document.createElement("div");
  box.append(renderMarkdown(source));
  const shape = (node) => node.nodeType === 3 ? node.data
    : [node.tagName.toLowerCase(), ...(node.getAttribute("href") ? [{ href: node.getAttribute("href") }] : []),
       ...[...node.childNodes].map(shape)];
  return [...box.childNodes].map(shape);
}"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("# Title\n\ntext", [["h2", "Title"], ["p", "text"]]),
        (
            "**bold** and *it* and `co*de*`",
            [["p", ["strong", "bold"], " and ", ["em", "it"], " and ", ["code", "co*de*"]]],
        ),
        ("snake_case_name stays", [["p", "snake_case_name stays"]]),
        ("- a\n- b\n  - c", [["ul", ["li", "a"], ["li", "b", ["ul", ["li", "c"]]]]]),
        ("3. three\n4. four", [["ol", ["li", "three"], ["li", "four"]]]),
        ("- [x] done\n- [ ] todo", [["ul", ["li", ["span", "☑ "], "done"], ["li", ["span", "☐ "], "todo"]]]),
        ("```js\nlet a = '<b>';\n```", [["pre", ["code", "let a = '<b>';"]]]),
        ("> quoted **text**", [["blockquote", ["p", "quoted ", ["strong", "text"]]]]),
        ("[site](https://example.com/a?b=1)", [["p", ["a", {"href": "https://example.com/a?b=1"}, "site"]]]),
        ("[mail](mailto:a@example.com)", [["p", ["a", {"href": "mailto:a@example.com"}, "mail"]]]),
        (
            "see https://example.com/x.",
            [["p", "see ", ["a", {"href": "https://example.com/x"}, "https://example.com/x"], "."]],
        ),
        ("[x](javascript:alert(1))", [["p", "[x](javascript:alert(1))"]]),
        ("[x](JAVASCRIPT:alert(1))", [["p", "[x](JAVASCRIPT:alert(1))"]]),
        ("[x](data:text/html,hi)", [["p", "[x](data:text/html,hi)"]]),
        ("[x](/relative)", [["p", "[x](/relative)"]]),
        ("![alt](javascript:alert(1))", [["p", "![alt](javascript:alert(1))"]]),
        ("<script>alert(1)</script>", [["p", "<script>alert(1)</script>"]]),
        ("<img src=x onerror=alert(1)>", [["p", "<img src=x onerror=alert(1)>"]]),
        ("[**b**](https://e.com)", [["p", ["a", {"href": "https://e.com/"}, ["strong", "b"]]]]),
        ("\\*not em\\*", [["p", "*not em*"]]),
        ("---", [["hr"]]),
    ],
)
def test_markdown_builds_only_safe_nodes(page: Any, source: str, expected: list[Any]) -> None:
    assert page.evaluate(MARKDOWN, source) == expected


ANSI = """async (text) => {
  const { ansiToNodes } = await import("/assets/js/ansi.js");
  const box = document.createElement("div");
  box.append(ansiToNodes(text));
  return [...box.childNodes].map((n) => n.nodeType === 3 ? n.data
    : [n.className, n.textContent, n.style.color || null]);
}"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", ["plain"]),
        ("\x1b[31mred\x1b[0m rest", [["ansi-fg-1", "red", None], " rest"]),
        ("\x1b[1;92mbright\x1b[22m", [["ansi-fg-10 ansi-bold", "bright", None]]),
        ("\x1b[38;5;196mx", [["", "x", "rgb(255, 0, 0)"]]),
        ("\x1b[38;2;1;2;3mx", [["", "x", "rgb(1, 2, 3)"]]),
        ("\x1b[44;37mbox\x1b[49m", [["ansi-fg-7 ansi-bg-4", "box", None]]),
        ("\x1b[2K\x1b[1Gcleared", ["cleared"]),
        ("10%\r50%\r100%", ["100%"]),
        ("\x1b]0;title\x07after", ["after"]),
        ("bell\x07 and\x00 nul", ["bell and nul"]),
        ("\x1b[4munder\x1b[24m \x1b[7minv", [["ansi-underline", "under", None], " ", ["ansi-inverse", "inv", None]]),
    ],
)
def test_ansi_codes_become_classes(page: Any, text: str, expected: list[Any]) -> None:
    assert page.evaluate(ANSI, text) == expected


SPLIT = """async (line) => {
  const { shellSplit } = await import("/assets/js/shell.js");
  try { return shellSplit(line); } catch (error) { return error.message; }
}"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ls -l", ["ls", "-l"]),
        ("  spaced   out  ", ["spaced", "out"]),
        ("echo 'a b' \"c d\"", ["echo", "a b", "c d"]),
        ("echo a\\ b", ["echo", "a b"]),
        ("echo \"say \\\"hi\\\"\" 'it'\\''s'", ["echo", 'say "hi"', "it's"]),
        ("echo ''", ["echo", ""]),
        ("echo $HOME *.py | wc", ["echo", "$HOME", "*.py", "|", "wc"]),
        ("echo 'open", "A single quote is not closed."),
        ('echo "open', "A double quote is not closed."),
    ],
)
def test_commands_split_like_a_shell(page: Any, line: str, expected: Any) -> None:
    assert page.evaluate(SPLIT, line) == expected


SNIPPET = """async ([snippet, query]) => {
  const { snippetNodes } = await import("/assets/js/views/knowledge.js");
  const box = document.createElement("p");
  box.append(snippetNodes(snippet, query));
  return [...box.childNodes].map((n) => n.nodeType === 3 ? n.data : ["mark", n.textContent]);
}"""


@pytest.mark.parametrize(
    ("snippet", "query", "expected"),
    [
        ("a **port** b", "port", ["a ", ["mark", "port"], " b"]),
        ("**Ports** and **portable**", "port", [["mark", "Ports"], " and ", ["mark", "portable"]]),
        ("**bold** text **port**", "port", ["bold text ", ["mark", "port"]]),
        ("**<b>x</b>** **café**", "cafe", ["<b>x</b> ", ["mark", "café"]]),
        ("## How the ****runtime** file**", "runtime", ["How the ", ["mark", "runtime"], " file"]),
    ],
)
def test_search_snippets_mark_only_query_words(page: Any, snippet: str, query: str, expected: list[Any]) -> None:
    assert page.evaluate(SNIPPET, [snippet, query]) == expected


HOSTILE_SIZES = """async () => {
  const { renderMarkdown } = await import("/assets/js/markdown.js");
  const { ansiToNodes } = await import("/assets/js/ansi.js");
  const n = 100000;
  const inputs = {
    brackets: "[".repeat(n),
    links: "[a](".repeat(n / 4),
    stars: "*a".repeat(n / 2),
    underscores: "_a ".repeat(n / 3),
    backticks: "` a ``".repeat(n / 6),
    tildes: "~~a".repeat(n / 3),
    quotes: "> ".repeat(n / 2),
    lists: "- ".repeat(n / 2),
    nested: Array.from({ length: 2000 }, (_, i) => " ".repeat(i % 40) + "- item").join("\\n"),
    urls: "http://a.b/ ".repeat(n / 12),
    escapes: "\\\\".repeat(n),
    ansi: "\\u001b[".repeat(n / 2),
  };
  const times = {};
  for (const [name, text] of Object.entries(inputs)) {
    const start = performance.now();
    const box = document.createElement("div");
    box.append(name === "ansi" ? ansiToNodes(text) : renderMarkdown(text));
    times[name] = performance.now() - start;
  }
  return times;
}"""


def test_hostile_sizes_render_in_bounded_time(page: Any) -> None:
    times = page.evaluate(HOSTILE_SIZES)
    slow = {name: round(ms) for name, ms in times.items() if ms > 1000}
    assert not slow, f"100,000 characters took too long (ms): {slow}"


LISTS = """async () => {
  const { fillList, fillPanel } = await import("/assets/js/lists.js");
  const { h } = await import("/assets/js/dom.js");
  const shape = (node) => [node.tagName.toLowerCase() + (node.className ? "." + node.className : ""),
    ...[...node.children].map(shape)];
  const list = h("ul");
  const panel = h("div");
  document.body.append(list, panel);
  const row = (n) => h("li", { dataset: { id: String(n) } }, h("button", { dataset: { action: "open" } }, `item ${n}`));
  fillList(list, [], row, "Nothing yet.");
  fillPanel(panel, [], (all) => h("table", {}, all.map(() => h("tr"))), "None here.");
  const empty = [shape(list), list.textContent, shape(panel), panel.textContent];
  fillList(list, [1, 2], row, "Nothing yet.");
  list.querySelector("[data-id='2'] button").focus();
  fillList(list, [0, 1, 2], row, "Nothing yet.");  // drawn again, the focused row now third
  const focused = document.activeElement.textContent;
  fillPanel(panel, [1, 2], (all) => h("table", {}, all.map(() => h("tr"))), "None here.");
  const full = [shape(list), shape(panel), focused];
  list.remove();
  panel.remove();
  return { empty, full };
}"""


def test_a_list_with_nothing_in_it_says_so_in_an_item_and_a_redraw_keeps_the_focus(page: Any) -> None:
    result = page.evaluate(LISTS)
    empty_list, empty_panel = ["ul", ["li.empty-row", ["p.empty"]]], ["div", ["p.empty"]]
    assert result["empty"] == [empty_list, "Nothing yet.", empty_panel, "None here."]
    assert result["full"] == [
        ["ul", ["li", ["button"]], ["li", ["button"]], ["li", ["button"]]],
        ["div", ["table", ["tr"], ["tr"]]],
        "item 2",
    ]
